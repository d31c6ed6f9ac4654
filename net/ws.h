/* ws: WebSocket (RFC 6455) for the network thread: the upgrade handshake, the message framing over
 * wslay's frame layer, the Origin allow-list and the cache of the web page's static files.
 *
 * Pure: no sockets and no server state, so the unit tests and the fuzz target drive it with bytes.
 * net/ws_conn.c glues it to connections (net_int.h). One binary message carries exactly one frame
 * body of the native protocol (one msgpack map, no length prefix).
 *
 * Threads: a ws_sess and a ws_static belong to one thread; nothing here locks. */
/* Layer: net/ internal: ws_conn.c, netstats.h (counter sizes), their unit tests and fuzzer. */
#ifndef BATTLED_NET_WS_H
#define BATTLED_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

#define WS_KEY_B64_LEN 24     /* Sec-WebSocket-Key: base64 of 16 random bytes */
#define WS_ACCEPT_LEN 28      /* Sec-WebSocket-Accept: base64 of a SHA-1 digest */
#define WS_CONTROL_MAX 125    /* largest control frame payload (RFC 6455 5.5) */
#define WS_MAX_FRAGMENTS 64   /* frames one message may span; more is abuse (close 1008) */
#define WS_RESPONSE_MAX 512   /* longest handshake response head ws_handshake writes */
#define WS_PATH "/ws"         /* the only path that upgrades */
#define WS_BUF_KEEP 512u      /* reassembly buffer kept between messages; larger ones are freed */

/* Close codes the server sends (RFC 6455 7.4.1). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,      /* echo of the client's close without a code; server closing */
    WS_CLOSE_GOING_AWAY = 1001,  /* server shutting down */
    WS_CLOSE_PROTOCOL = 1002,    /* protocol error: unmasked, reserved bits/opcode, bad control */
    WS_CLOSE_UNSUPPORTED = 1003, /* a text message: only binary is spoken */
    WS_CLOSE_BAD_DATA = 1007,    /* a close reason that is not UTF-8 */
    WS_CLOSE_POLICY = 1008,      /* policy: too many fragments, idle, abuse, no hello in time */
    WS_CLOSE_TOO_BIG = 1009,     /* a message longer than server.max_frame */
    WS_CLOSE_INTERNAL = 1011,    /* the server cannot go on (output cap, memory) */
};

/* Why a session stopped reading; one counter each (ws_end_name gives metric labels). */
typedef enum {
    WS_END_NONE = 0,
    WS_END_PEER_CLOSE,   /* the client's close frame (answered with the same code) */
    WS_END_UNMASKED,     /* a client frame without a mask: 1002 */
    WS_END_TEXT,         /* a text frame: 1003 */
    WS_END_RSV,          /* reserved bits set (no extension is negotiated): 1002 */
    WS_END_OPCODE,       /* a reserved opcode: 1002 */
    WS_END_CONTROL,      /* a control frame over 125 bytes or fragmented: 1002 */
    WS_END_TOO_BIG,      /* a message over the limit: 1009 */
    WS_END_CONTINUATION, /* continuation without a start, or a new message inside one: 1002 */
    WS_END_FRAGMENTS,    /* over WS_MAX_FRAGMENTS frames in one message: 1008 */
    WS_END_BAD_CLOSE,    /* a malformed close frame: 1002 (bad code) or 1007 (bad UTF-8) */
    WS_END_INTERNAL,     /* out of memory: 1011 */
    WS_END_REASONS
} ws_end;

/* Static name of a ws_end ("peer_close", "unmasked", ...). */
const char *ws_end_name(int end);

/* ---- handshake ------------------------------------------------------------------------------ */

/* Writes the Sec-WebSocket-Accept value for a client key (base64(SHA-1(key + GUID))) into
 * out[WS_ACCEPT_LEN + 1], NUL-terminated. Returns 0, or -1 if the hash failed. */
int ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1]);

/* Why an upgrade request was refused (one counter each). */
typedef enum {
    WS_HS_OK = 0,
    WS_HS_NOT_UPGRADE,  /* no "Upgrade: websocket" / "Connection: upgrade", or not GET HTTP/1.1: 400 */
    WS_HS_BAD_KEY,      /* Sec-WebSocket-Key missing or not base64 of 16 bytes: 400 */
    WS_HS_BAD_VERSION,  /* Sec-WebSocket-Version missing or not 13: 426 */
    WS_HS_ORIGIN,       /* Origin not allowed: 403 */
    WS_HS_REFUSALS
} ws_hs_result;

const char *ws_hs_name(int r);

/* True when the request asks for an upgrade to WebSocket (an Upgrade header naming websocket). */
bool ws_is_upgrade(const struct http_request *req);

/* True when origin (the Origin header's value, not NUL-terminated) may open a WebSocket.
 * allow is the ws.allowed_origins setting: a comma-separated list of exact origins
 * ("https://play.example.com"), "self" (the origin's host[:port] equals the request's Host header,
 * any scheme: the page this listener serves) and "*" (any origin). Comparison ignores ASCII case. */
bool ws_origin_allowed(const char *allow, const char *origin, size_t origin_len, const char *host,
                       size_t host_len);

/* Checks an upgrade request (RFC 6455 4.2.1) and writes the response into out[cap]: the 101
 * Switching Protocols head on success, an HTTP error response otherwise (400, 403 or 426 with
 * Sec-WebSocket-Version: 13). Extensions and subprotocols the client offers are not negotiated
 * (the response names none). allow is ws.allowed_origins; a request without Origin (not a browser)
 * is allowed. Returns WS_HS_OK or why it refused; *out_len receives the response length. */
ws_hs_result ws_handshake(const struct http_request *req, const char *allow, char *out,
                          size_t cap, size_t *out_len);

/* ---- framing -------------------------------------------------------------------------------- */

typedef struct ws_sess ws_sess;

/* A complete binary message. Return false to stop feeding now (the connection paused or is
 * closing): ws_feed returns WS_FEED_STOPPED. msg is valid only during the call. */
typedef bool (*ws_message_fn)(void *user, const uint8_t *msg, size_t len);
/* Bytes of one frame to put on the wire: a header and a payload (plen may be 0), in that order. */
typedef void (*ws_write_fn)(void *user, const uint8_t *hdr, size_t hlen, const uint8_t *payload,
                            size_t plen);

typedef enum {
    WS_FEED_DONE = 0,    /* every byte was taken; wait for more */
    WS_FEED_STOPPED = 1, /* on_message returned false: feed the rest (data + *used) later */
    WS_FEED_CLOSED = -1, /* the session ended (ws_sess_end says why); a close frame was written */
} ws_feed_status;

/* A server-side session accepting messages of at most max_message bytes. Allocates the session
 * (wslay's frame context included); a message split over several frames or reads is copied into a
 * buffer that grows to its size (never past max_message), kept for the next one up to WS_BUF_KEEP
 * bytes. Returns NULL when out of memory. The caller frees it with ws_sess_free. */
ws_sess *ws_sess_new(uint32_t max_message, ws_message_fn on_message, ws_write_fn write, void *user);
void ws_sess_free(ws_sess *w);

/* Feeds bytes read from the connection (after TLS). Ping is answered with pong, pong ignored, a
 * close frame answered with a close frame; a protocol violation writes a close frame with its code.
 * data may be NULL with len 0 to go on with bytes already buffered (after a STOPPED). *used
 * receives the bytes of data taken. */
ws_feed_status ws_feed(ws_sess *w, const uint8_t *data, size_t len, size_t *used);

/* Writes one binary message (one frame). */
void ws_send_binary(ws_sess *w, const uint8_t *msg, size_t len);
/* Writes a close frame with code and a short reason (may be NULL), once: later calls and calls
 * after the session ended do nothing. Returns true if it wrote one. */
bool ws_send_close(ws_sess *w, uint16_t code, const char *reason);

ws_end ws_sess_end(const ws_sess *w);
/* The close code the session sent (0 while none). */
uint16_t ws_sess_close_code(const ws_sess *w);
/* Bytes the session holds (reassembly buffer), for memory accounting. */
size_t ws_sess_footprint(const ws_sess *w);

/* ---- static files --------------------------------------------------------------------------- */

#define WS_STATIC_MAX_FILES 256           /* files cached from the web root and the vendor folder */
#define WS_STATIC_MAX_FILE (4u << 20)     /* bytes in one file; bigger ones are skipped */
#define WS_STATIC_MAX_TOTAL (32u << 20)   /* bytes cached in all */
#define WS_STATIC_MAX_DEPTH 8             /* folder levels under a root */
#define WS_STATIC_PATH_MAX 256            /* longest URL path served */

typedef struct ws_static ws_static;

/* Content-Type for a file name by its extension (.html .js .mjs .css .svg .png .json .ico .txt
 * .map), or NULL for anything else (not served). */
const char *ws_content_type(const char *name, size_t len);

/* An empty cache, or NULL when out of memory. Freed with ws_static_free. */
ws_static *ws_static_new(void);
/* Reads every servable file under dir into memory, at URL prefix ("/" for the web root,
 * "/vendor/msgpack/"): bounded by the WS_STATIC_* limits (a file past them is logged and skipped).
 * Returns the number of files added, or -1 when dir is not a folder. Symbolic links are followed
 * only to files; names starting with '.' are skipped. */
int ws_static_add_dir(ws_static *st, const char *dir, const char *prefix);
void ws_static_free(ws_static *st);

/* Looks up a request path (percent-escapes undecoded, no query). "/" and a path ending in '/'
 * mean its index.html. Paths with "..", "//", '\\', a '%' escape, or control bytes are never
 * found. Returns true and points *body, *len, *type at the cached file (owned by st). */
bool ws_static_find(const ws_static *st, const char *path, size_t path_len, const uint8_t **body,
                    size_t *len, const char **type);
size_t ws_static_count(const ws_static *st);
size_t ws_static_bytes(const ws_static *st);

#endif
