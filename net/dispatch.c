/* dispatch: the network thread's side of the shard rings, besides the requests route.c pushes.
 *
 * The control queue: messages that must reach a shard even when its inbox is full (a connection
 * gone, the drain, the admin's heartbeats and listings) wait in a per-shard FIFO and are pushed
 * once per loop pass (dispatch_ctl_flush, from the uv_prepare callback), in order.
 * The outbox: on a shard's wakeup, every shard's outbox is drained (at most NET_OUTBOX_BUDGET
 * messages each per wakeup) into connection output queues, seat bookkeeping, closes, the drain's
 * "stopped" reports and the admin's reply hook.
 * The shards pushed to in a pass: once per pass (dispatch_to_shards, from the uv_prepare callback,
 * after the pass's writes) a sleeping shard's few messages are run on this thread
 * (shards_run_inline, server.inline_max), their replies drained and written at once; every other
 * shard pushed to is woken once. */
#include <stdlib.h>

#include "net/net_int.h"
#include "util/log.h"

#define NET_OUTBOX_BUDGET 8192 /* messages taken from one shard per wakeup before yielding */
#define NET_INLINE_ROUNDS 3    /* run-inline, drain, write rounds per pass; the last only wakes */

/* ---- control queue: messages that must reach a shard even when its inbox is full ---------- */

void server_mark_pushed(server *s, unsigned k)
{
    s->kdirty[k] = 1;
}

void server_push_ctl(server *s, unsigned k, const struct shard_in *msg)
{
    fifo *q = &s->ctl[k];
    if (fifo_count(q) == 0 && s->shards && shards_push(s->shards, k, msg)) {
        server_mark_pushed(s, k);
        return;
    }
    NET_STAT_ADD(&s->stats, ctl_parked, 1);
    if (!fifo_push(q, msg)) {
        NET_STAT_ADD(&s->stats, ctl_lost, 1);
        log_error("control message lost: out of memory", "shard", LOG_U64(k));
    }
}

void dispatch_ctl_flush(server *s)
{
    for (unsigned k = 0; k < s->nshards; k++) {
        fifo *q = &s->ctl[k];
        while (fifo_count(q) && shards_push(s->shards, k, fifo_at(q, 0))) {
            server_mark_pushed(s, k);
            fifo_pop(q);
        }
    }
}

/* ---- outbox: what the shards send back ---------------------------------------------------- */

static void handle_out(server *s, unsigned k, struct shard_out *o)
{
    conn *c;
    switch (o->kind) {
    case SHARD_OUT_SEND:
    case SHARD_OUT_SEND_HEAP: {
        const uint8_t *p = o->kind == SHARD_OUT_SEND ? o->u.bytes : o->u.heap.ptr;
        size_t len = o->kind == SHARD_OUT_SEND ? o->len : o->u.heap.len;
        c = conntab_get(&s->conns, o->conn);
        if (c)
            conn_send(c, p, len);
        else
            NET_STAT_ADD(&s->stats, output_dropped_gone, 1);
        if (o->kind == SHARD_OUT_SEND_HEAP)
            free(o->u.heap.ptr);
        break;
    }
    case SHARD_OUT_SEAT:
        c = conntab_get(&s->conns, o->conn);
        if (c) {
            conn_seat_change(c, o->battle_id, o->delta);
        } else if (o->delta > 0) {
            /* The connection left before it heard of this seat: its CONN_GONE could not name the
             * battle, so send one now or the seat would wait for a ghost. */
            struct shard_in m = {.kind = SHARD_IN_CONN_GONE, .conn = o->conn,
                                 .battle_id = o->battle_id};
            server_push_ctl(s, shard_of(o->battle_id, s->nshards), &m);
        }
        break;
    case SHARD_OUT_CLOSE:
        c = conntab_get(&s->conns, o->conn);
        if (c)
            conn_close(c, NET_CLOSE_SHARD, false);
        break;
    case SHARD_OUT_STOPPED:
        drain_shard_stopped(s);
        break;
    case SHARD_OUT_HEARTBEAT:
    case SHARD_OUT_LIST_ROW:
    case SHARD_OUT_LIST_END:
        if (s->reply_fn)
            s->reply_fn(s->reply_arg, k, o);
        break;
    default:
        break;
    }
}

void dispatch_drain_outboxes(server *s)
{
    bool more = false;
    struct shard_out o;
    for (unsigned k = 0; k < s->nshards && s->shards; k++) {
        unsigned n = 0;
        while (n < NET_OUTBOX_BUDGET && shards_pop(s->shards, k, &o)) {
            handle_out(s, k, &o);
            n++;
        }
        if (n == NET_OUTBOX_BUDGET)
            more = true;
    }
    /* Stopped on a budget: libuv cleared the pending flag before calling us, so re-signal. */
    if (more)
        uv_async_send(&s->wake);
}

void dispatch_on_wake(uv_async_t *h)
{
    server *s = h->data;
    NET_STAT_ADD(&s->stats, outbox_wakeups, 1);
    if (s->shards)
        dispatch_drain_outboxes(s);
}

void dispatch_to_shards(server *s)
{
    /* Shards whose threads sleep get their few messages run here (server.inline_max) and the
     * replies leave in this pass; the others are woken. Draining may queue control messages (a
     * seat for a gone connection), hence the bounded repeat; its last round only wakes. */
    for (unsigned round = 0; round < NET_INLINE_ROUNDS && s->shards; round++) {
        bool pushed = false;
        for (unsigned k = 0; k < s->nshards; k++) {
            pushed |= s->kdirty[k] != 0;
            s->kdirty[k] = 0;
        }
        if (!pushed)
            break;
        if (round + 1 < NET_INLINE_ROUNDS && shards_run_inline(s->shards, uv_now(&s->loop))) {
            dispatch_drain_outboxes(s);
            conn_flush_dirty(s);
        }
        if (s->shards)
            NET_STAT_ADD(&s->stats, wakeups_sent, shards_flush(s->shards));
    }
}

void dispatch_wake_net(void *arg)
{
    server *s = arg;
    uv_async_send(&s->wake);
}
