/* proto/client/pcuv: the libuv client API, for many connections on one loop (load generator, bots,
 * gateways). Same codec as the blocking API (pc.h).
 *
 * Each pcuv_conn owns a uv_tcp_t, a frame reader and two output buffers (one being written, one
 * filling); they grow to the largest burst seen, up to out_cap, and are reused, so the steady state
 * allocates nothing per message. Reads go through one 64 KiB buffer per thread (libuv calls alloc and
 * read back to back), so idle connections cost only their handle and reader. Callbacks run on the
 * loop's thread; every function must be called from that thread. */
#ifndef BATTLED_PROTO_CLIENT_PCUV_H
#define BATTLED_PROTO_CLIENT_PCUV_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/msg.h"

typedef struct pcuv_conn pcuv_conn;

typedef struct pcuv_callbacks {
    /* TCP connect finished: status 0, or a libuv error (the connection then closes by itself). */
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
} pcuv_opts;

typedef struct pcuv_stats {
    uint64_t frames_in, frames_out, bytes_in, bytes_out, skipped_unknown;
} pcuv_stats;

/* Starts connecting to addr. Requests sent before the connection is up are queued. Returns NULL
 * (out of memory or a libuv error, *err set when err is non-NULL) or a connection that lives until
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

void *pcuv_user(const pcuv_conn *c);
void pcuv_set_user(pcuv_conn *c, void *user);
const pcuv_stats *pcuv_get_stats(const pcuv_conn *c);

#endif
