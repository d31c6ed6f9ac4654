/* proto/client/pcuv: the libuv client API, for many connections on one loop (load generator, bots,
 * gateways). Same codec as the blocking API (pc.h).
 *
 * Each pcuv_conn owns a uv_tcp_t, a frame reader and two output buffers (one being written, one
 * filling); they grow to the largest burst seen, up to out_cap, and are reused, so the steady state
 * allocates nothing per message. Reads go through one 64 KiB buffer per thread (libuv calls alloc and
 * read back to back), so idle connections cost only their handle and reader. Callbacks run on the
 * loop's thread; every function must be called from that thread.
 *
 * TLS (battled's TLS port: `tls.listen`, the port file's second line). Build one pc_tls_config per
 * loop thread (pctls.h) and put it in pcuv_opts.tls; everything else is the same as clear text:
 *
 *     pc_tls_opts to = {.ca_file = "var/tls/cert.pem", .server_name = "localhost"};
 *     // or {.insecure = true} for a quick test against a self-signed server (no verification)
 *     char why[PC_TLS_ERR_MAX];
 *     pc_tls_config *tls = pc_tls_config_new(&to, why, sizeof why);   // NULL: why says why
 *     pcuv_opts o = {.max_frame = 0, .out_cap = 0, .tls = tls};
 *     pcuv_conn *c = pcuv_connect(loop, (struct sockaddr *)&addr, &cb, user, &o, &err);
 *     ...                       // after every connection's on_close:
 *     pc_tls_config_free(tls);
 *
 * - on_connect(c, 0) comes after the TCP connect AND the TLS handshake; requests sent before are
 *   queued and go out encrypted right after it. on_connect(c, status < 0) reports a failure of
 *   either: UV_EACCES when the server's certificate is not trusted (or not for server_name),
 *   UV_EPROTO for any other TLS failure, UV_EOF/UV_ECONNRESET when the server hung up during the
 *   handshake (e.g. over its connection cap, which a TLS client is not told in a frame);
 *   pcuv_tls_error(c) says why in one line. on_close follows.
 * - There is no handshake deadline here: the server closes a handshake after its
 *   tls.handshake_timeout_ms, or the caller runs its own timer and calls pcuv_close.
 * - on_close(c, UV_EPROTO) reports a TLS failure after the handshake (bad record, fatal alert);
 *   UV_EOF also covers the server's close_notify. pcuv_close sends no close_notify (it closes at once
 *   like the clear-text path; the server treats that as the end of the stream).
 * - Cost: the handshake is one ECDHE key exchange and a certificate check (a few ms of CPU on the
 *   loop's thread; open many connections in waves, not all in one loop pass); mbedTLS keeps two
 *   16 KiB record buffers per connection, so about 40 KiB each. Requests queued while a write is in
 *   flight are encrypted together when the next write starts (few records, not one per request).
 * - pcuv_stats' bytes_in/bytes_out count bytes on the wire (ciphertext); frames count events and
 *   requests.
 *
 * Source address (pcuv_opts.local): a client making tens of thousands of connections to one server
 * address runs short of ephemeral ports per source address (the kernel's port search also gets slow
 * as the range fills). Giving each connection one of several local addresses (127.0.0.1, 127.0.0.2,
 * ... on loopback, where Linux routes all of 127.0.0.0/8) multiplies the 4-tuples available. pcuv
 * binds the address with port 0 and, where the kernel has IP_BIND_ADDRESS_NO_PORT, lets connect()
 * choose the port, so ports are unique per 4-tuple rather than per local address.
 *
 * Clusters (docs/PROTOCOL.md section 8, "Clusters: `moved`"): a request answered with `moved`
 * (on_event, type PROTO_T_MOVED, with the request's rid and bid) was not executed. pcuv keeps no
 * copy of what was sent, so the caller keeps its outstanding request, splits moved's addr (or ws
 * for a WebSocket connection) with pc_split_addr (pc.h), opens a connection there with the same
 * pcuv_opts (pcuv_connect), says hello, and sends the request again after welcome, at most
 * PC_FOLLOW_MAX times per request. battle-bench (bench/bb_conn.c) does this per seat. */
#ifndef BATTLED_PROTO_CLIENT_PCUV_H
#define BATTLED_PROTO_CLIENT_PCUV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/client/pctls.h"
#include "proto/msg.h"

typedef struct pcuv_conn pcuv_conn;

typedef struct pcuv_callbacks {
    /* Connected (with TLS: handshake done too): status 0, or a libuv error (the connection then
     * closes by itself). */
    void (*on_connect)(pcuv_conn *c, int status);
    /* One decoded event; ev is valid only during the call. Unknown event types are skipped. */
    void (*on_event)(pcuv_conn *c, const proto_event *ev);
    /* The connection is gone and c is freed when this returns. why: 0 after pcuv_close, UV_EOF when
     * the server closed, another negative libuv error, or a positive proto_error when the server sent
     * a bad frame or message. */
    void (*on_close)(pcuv_conn *c, int why);
} pcuv_callbacks;

typedef struct pcuv_opts {
    uint32_t max_frame;   /* largest frame accepted from the server; 0 = PROTO_FRAME_HARD_MAX */
    size_t out_cap;       /* unsent bytes allowed per connection; 0 = 64 KiB */
    const pc_tls_config *tls; /* NULL: clear text; else TLS with these settings (see above); the
                                 config must outlive the connection and belong to this loop's thread */
    const struct sockaddr *local; /* NULL: the kernel picks the source address; else bind to this
                                     address (same family as the target; port 0 = any) before the
                                     connect; copied, need not outlive the call */
    const char *ws_host;  /* NULL: the native framing; else WebSocket (battled's ws.listen, or
                             ws.tls_listen with tls): the upgrade on /ws with this Host header
                             ("host:port"), on_connect after the 101, requests as masked binary
                             messages; pcuv_send refuses (UV_ENOTCONN) until on_connect. Copied. */
} pcuv_opts;

typedef struct pcuv_stats {
    uint64_t frames_in, frames_out, bytes_in, bytes_out, skipped_unknown;
} pcuv_stats;

/* Starts connecting to addr (from opts->local when set). Requests sent before the connection is
 * up are queued. Returns NULL (out of memory or a libuv error, *err set when err is non-NULL;
 * UV_EINVAL for a TLS config that mbedTLS refuses; UV_EADDRNOTAVAIL and the like when opts->local
 * cannot be bound) or a connection that lives until
 * on_close. cb is copied; user is returned by pcuv_user. */
pcuv_conn *pcuv_connect(uv_loop_t *loop, const struct sockaddr *addr, const pcuv_callbacks *cb,
                        void *user, const pcuv_opts *opts, int *err);

/* Encodes r and queues it for writing. If r->has_rid is false the next request id of this
 * connection (1, 2, ...) is assigned. Returns the request id used (>= 0) or a negative libuv error:
 * UV_EINVAL (r is not a valid request), UV_ENOBUFS (unsent output would pass out_cap; nothing
 * queued), UV_ENOTCONN (closing). */
int64_t pcuv_send(pcuv_conn *c, const proto_request *r);

/* Closes the connection; on_close(c, 0) follows from the loop. Idempotent. */
void pcuv_close(pcuv_conn *c);

/* The user pointer given to pcuv_connect (not owned). */
void *pcuv_user(const pcuv_conn *c);
const pcuv_stats *pcuv_get_stats(const pcuv_conn *c);

/* True when c speaks TLS. */
bool pcuv_is_tls(const pcuv_conn *c);
/* Why c's TLS failed (handshake or later), one line, "" if it did not; a thread-local buffer valid
 * until the next call. Useful inside on_connect and on_close. */
const char *pcuv_tls_error(const pcuv_conn *c);

#endif
