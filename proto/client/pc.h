/* proto/client/pc: a blocking battled client for scripts, tests and simple bots.
 *
 * One pc_conn is one TCP connection, in clear text (pc_connect) or TLS (pc_connect_tls, see
 * pctls.h); everything else is the same for both. Requests are proto_request structs
 * (proto/msg.h) or the typed helpers below; every helper picks the next request id (1, 2, ...) and
 * returns it so the caller can match the reply's "rid". Replies and battle events come back one at
 * a time from pc_recv as decoded proto_event structs. Event types this library does not know (sent
 * by a newer server) are skipped, as docs/PROTOCOL.md asks clients to do. Not thread-safe: one
 * thread per connection. */
#ifndef BATTLED_PROTO_CLIENT_PC_H
#define BATTLED_PROTO_CLIENT_PC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/client/pctls.h"
#include "proto/msg.h"

typedef struct pc_conn pc_conn;

/* Connects to host:port (name or address, IPv4 or IPv6) within timeout_ms. Returns a connection
 * that the caller frees with pc_close, or NULL with errno set. Frames from the server up to max_frame
 * bytes are accepted (0 = PROTO_FRAME_HARD_MAX: the client trusts the server's sizes more). */
pc_conn *pc_connect(const char *host, uint16_t port, int timeout_ms, uint32_t max_frame);

/* Connects like pc_connect, then completes a TLS handshake, all within timeout_ms, verifying the
 * server's certificate as opts says (pctls.h; opts->server_name NULL means host). Returns a
 * connection (freed with pc_close, which sends close_notify) or NULL with errno set: EINVAL (bad
 * options, unreadable CA), a connect error, ETIMEDOUT, EACCES (certificate not trusted or not for
 * that name), ECONNRESET (the server closed during the handshake), EPROTO (any other TLS failure).
 * pc_tls_error() then says why in one line. opts is not kept. Costs about 40 KiB per connection
 * (mbedTLS's record buffers) and one CA parse per connection. */
pc_conn *pc_connect_tls(const char *host, uint16_t port, int timeout_ms, uint32_t max_frame,
                        const pc_tls_opts *opts);

/* Why the last pc_connect_tls of this thread failed, one line ("" after a success). */
const char *pc_tls_error(void);

/* True when c speaks TLS. */
bool pc_is_tls(const pc_conn *c);

/* Wraps an already connected socket (e.g. one end of a socketpair); takes ownership of fd. */
pc_conn *pc_from_fd(int fd, uint32_t max_frame);

/* Closes the socket and frees the connection (with TLS, after a close_notify if the socket takes it
 * without waiting). NULL is allowed. */
void pc_close(pc_conn *c);

/* The socket, for callers that poll several connections: call pc_recv(c, ev, 0) until it returns 0
 * before polling, since already-received bytes (a TLS record holds several events) are not seen by
 * poll. Writing to it or shutting it down directly bypasses TLS. */
int pc_fd(const pc_conn *c);

/* Encodes and writes one request (blocking until written). Returns 0, or -1 with errno set
 * (EINVAL: the struct is not a valid request; see pc_last_error). */
int pc_send(pc_conn *c, const proto_request *r);

/* Writes raw bytes as they are (tests use it to send hostile frames); with TLS they are the
 * plaintext stream, encrypted as usual. Returns 0 or -1 with errno. */
int pc_send_raw(pc_conn *c, const void *data, size_t len);

/* Waits up to timeout_ms (-1 = forever) for the next event. Returns 1 and fills *ev; 0 on timeout;
 * -1 when the connection closed (errno = ECONNRESET or 0 for an orderly close) or the server sent
 * something that is not a valid frame or event (errno = EPROTO, the code in pc_last_error; with TLS
 * also a TLS failure, pc_last_error then PROTO_E_OK); a TLS close_notify or end of stream is an
 * orderly close (errno 0). After -1 the connection is unusable. */
int pc_recv(pc_conn *c, proto_event *ev, int timeout_ms);

/* Waits like pc_recv for an event of the given type (others are dropped), or an error event, which
 * is also returned. Returns as pc_recv. */
int pc_recv_type(pc_conn *c, int type, proto_event *ev, int timeout_ms);

/* The last codec error seen on this connection (PROTO_E_OK if none). */
proto_error pc_last_error(const pc_conn *c);

/* Frame trace, for tools that show the wire (proto_capture) and for debugging. Which side sent a
 * traced frame. */
typedef enum pc_trace_dir {
    PC_TRACE_SENT = 0, /* client to server */
    PC_TRACE_RECV = 1, /* server to client */
} pc_trace_dir;

/* Called with one whole frame's body: the msgpack map, without the 4-byte big-endian length prefix
 * (which is len). The bytes belong to the library and are valid only during the call; the callback
 * must not call back into c. */
typedef void (*pc_trace_fn)(void *ud, pc_trace_dir dir, const uint8_t *body, size_t len);

/* Sets (fn non-NULL) or clears (NULL) c's trace callback; ud is passed back untouched. Traced: every
 * request that pc_send (so every typed helper) writes, after it was written; every frame received,
 * before it is decoded, including frames pc_recv then skips (unknown types) or refuses (bad
 * events). Not traced: pc_send_raw's bytes, which need not be frames. Off by default; tracing
 * changes nothing else. */
void pc_set_trace(pc_conn *c, pc_trace_fn fn, void *ud);

/* WebSocket (docs/PROTOCOL.md, "WebSocket transport"): on a fresh connection to a ws:// or wss://
 * listener (pc_connect or pc_connect_tls), sends the upgrade request for path with the given Host
 * and Origin (NULL: no Origin header) and reads the response within timeout_ms. Returns 101 when
 * upgraded (the accept key checked): from then on pc_send sends each request as one masked binary
 * message and pc_recv reads one event per message, answering pings; a close frame from the server
 * makes pc_recv return -1 with errno 0 and pc_ws_close_code tell its code. Any other HTTP status is
 * returned as is (the connection is then of no further use); -1 with errno on failure. pc_send_raw
 * still writes raw bytes (tests send hand-made frames with it). */
int pc_ws_upgrade(pc_conn *c, const char *host, const char *path, const char *origin,
                  int timeout_ms);
/* The close code of the server's close frame (1005 when it had none), or -1 before one came. */
int pc_ws_close_code(const pc_conn *c);
/* Sends a close frame with code (0: no code). 0 or -1 with errno. */
int pc_ws_send_close(pc_conn *c, uint16_t code);

/* ---- clusters: following `moved` (docs/PROTOCOL.md section 8, "Clusters: `moved`") ------------ */

/* How many `moved` replies a client follows for one request before it gives up. */
#define PC_FOLLOW_MAX 5

/* Splits the "host:port" of a `moved` reply (addr or ws): host is a DNS name, an IPv4 address or
 * "[IPv6]" (the brackets are removed in host), port 1..65535. Returns 0 with host NUL-terminated,
 * or -1 with errno EINVAL (empty, over PROTO_ADDR_MAX bytes, no or bad port, empty host, an IPv6
 * address without brackets). Pure; no name lookup. */
int pc_split_addr(const char *addr, char host[PROTO_ADDR_MAX + 1], uint16_t *port);

/* Follows a `moved` reply that arrived on c: opens a new connection to the battle's holder the
 * way c was opened (clear text or TLS with the same trust settings and server_name, the same
 * max_frame, trace callback; a WebSocket c goes to moved's ws, upgraded on c's path and Origin),
 * says hello with the name c's last hello had, waits for welcome (copied to *welcome when it is not
 * NULL: the holder's limits), and sends the request that moved
 * answers once more, unchanged (same rid, bid, fields and key). The request is found among the
 * last 8 battle-scoped and queue requests c sent (by pc_send or a typed helper) by moved's rid
 * and bid (none for a queue). All within timeout_ms (-1: no limit). Returns the new connection, owned by the caller (pc_close),
 * whose later request ids go on from c's; the request's reply and the battle's events then come
 * from it. c is left open and unchanged: it may hold other battles; close it when it holds none.
 * NULL with errno: EINVAL (moved is not a `moved` with a rid, its address does not split, or c is
 * a WebSocket connection and ws is "" or c's path/Origin were over 127 bytes), ENOENT (no
 * request of c matches it), a connect or TLS error (pc_connect, pc_connect_tls), ETIMEDOUT,
 * EPROTO (the holder refused the upgrade or hello). The caller counts: at most PC_FOLLOW_MAX
 * follows per request (a reply on the new connection may be `moved` again). */
pc_conn *pc_follow(pc_conn *c, const proto_event *moved, int timeout_ms, proto_event *welcome);

/* Typed requests. Each returns the request id it used (>= 1), or -1 with errno set. pc_queue,
 * pc_create and pc_join send a fresh idempotency key ("key", docs/PROTOCOL.md section 5) each call;
 * a client that may retry one logical request (its reply lost to a dropped connection or a server
 * restart) makes the key once with pc_new_key and passes it to every try of the *_key form: the
 * retry then gets the same battle, seat and token, never a second battle. */
int pc_new_key(uint8_t key[PROTO_TOKEN_LEN]); /* 16 random bytes (getrandom); 0, or -1 */
int64_t pc_queue_key(pc_conn *c, const char *ship, proto_band band,
                     const uint8_t key[PROTO_TOKEN_LEN]);
int64_t pc_create_key(pc_conn *c, const char *ship, proto_band band, proto_vs vs, const char *oship,
                      const uint8_t key[PROTO_TOKEN_LEN]);
int64_t pc_join_key(pc_conn *c, uint64_t bid, const char *ship, const uint8_t key[PROTO_TOKEN_LEN]);
int64_t pc_hello(pc_conn *c, const char *name);
int64_t pc_ping(pc_conn *c, uint64_t ts);
int64_t pc_queue(pc_conn *c, const char *ship, proto_band band);
int64_t pc_cancel(pc_conn *c);
int64_t pc_create(pc_conn *c, const char *ship, proto_band band, proto_vs vs, const char *oship);
int64_t pc_join(pc_conn *c, uint64_t bid, const char *ship);
int64_t pc_watch(pc_conn *c, uint64_t bid);
int64_t pc_resume(pc_conn *c, uint64_t bid, uint8_t seat, const uint8_t token[PROTO_TOKEN_LEN], uint32_t last);
int64_t pc_fire(pc_conn *c, uint64_t bid, uint8_t weapon);
int64_t pc_missile(pc_conn *c, uint64_t bid);
int64_t pc_pd(pc_conn *c, uint64_t bid, uint32_t missile);
int64_t pc_sand(pc_conn *c, uint64_t bid);
int64_t pc_end(pc_conn *c, uint64_t bid);
int64_t pc_forfeit(pc_conn *c, uint64_t bid);
int64_t pc_leave(pc_conn *c, uint64_t bid);

#endif
