/* outbox: ring first, then a bounded FIFO backlog, then drop-and-close (see outbox.h). */
#include "shards/outbox.h"

#include <stdlib.h>
#include <string.h>

void outbox_init(struct outbox *o, struct shard_out *(*reserve)(void *), void (*commit)(void *),
                 void *ring, struct shard_stats *stats)
{
    memset(o, 0, sizeof *o);
    o->reserve = reserve;
    o->commit = commit;
    o->ring = ring;
    o->stats = stats;
    fifo_init(&o->backlog, sizeof(struct shard_out), 256);
}

void outbox_free(struct outbox *o)
{
    for (uint32_t i = 0; i < fifo_count(&o->backlog); i++) {
        struct shard_out *m = fifo_at(&o->backlog, i);
        if (m->kind == SHARD_OUT_SEND_HEAP)
            free(m->u.heap.ptr);
    }
    fifo_free(&o->backlog);
    atomic_store_explicit(&o->stats->outbox_backlog, 0, memory_order_relaxed);
}

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static bool is_closing(const struct outbox *o, conn_id conn)
{
    for (uint32_t i = 0; i < o->nclosing; i++)
        if (o->closing[i] == conn)
            return true;
    return false;
}

/* A slot to fill for the next message: the ring's when nothing is parked, else a backlog entry.
 * *parked tells which. NULL when the backlog is at its limit. */
static struct shard_out *slot_for(struct outbox *o, uint32_t limit, bool *parked)
{
    if (fifo_count(&o->backlog) == 0 && o->nclosing == 0) {
        struct shard_out *s = o->reserve(o->ring);
        if (s) {
            *parked = false;
            return s;
        }
    }
    if (fifo_count(&o->backlog) >= limit)
        return NULL;
    *parked = true;
    return fifo_reserve(&o->backlog);
}

static void done(struct outbox *o, bool parked)
{
    if (parked) {
        fifo_commit(&o->backlog);
        stat_add(&o->stats->outbox_backlog_msgs, 1);
        atomic_store_explicit(&o->stats->outbox_backlog, fifo_count(&o->backlog),
                              memory_order_relaxed);
    } else {
        o->commit(o->ring);
        o->committed = true;
        stat_add(&o->stats->outbox_msgs, 1);
    }
}

static void overflow(struct outbox *o, conn_id conn)
{
    if (is_closing(o, conn))
        return;
    stat_add(&o->stats->outbox_overflow, 1);
    if (o->nclosing < OUTBOX_CLOSE_MAX)
        o->closing[o->nclosing++] = conn;
    else /* the frame is lost without a close; the client notices the gap by sequence number */
        stat_add(&o->stats->outbox_close_lost, 1);
}

bool outbox_send(struct outbox *o, conn_id conn, const uint8_t *frame, size_t len)
{
    if (conn == 0 || len == 0)
        return false;
    if (o->nclosing && is_closing(o, conn))
        return false;
    bool parked;
    struct shard_out *s = slot_for(o, SHARD_BACKLOG_MAX, &parked);
    if (!s) {
        overflow(o, conn);
        return false;
    }
    s->conn = conn;
    s->delta = 0;
    s->role = 0;
    if (len <= SHARD_OUT_INLINE) {
        s->kind = SHARD_OUT_SEND;
        s->len = (uint16_t)len;
        memcpy(s->u.bytes, frame, len);
    } else {
        uint8_t *p = malloc(len);
        if (!p) {
            stat_add(&o->stats->outbox_nomem, 1);
            return false; /* the reserved slot is simply not committed */
        }
        memcpy(p, frame, len);
        s->kind = SHARD_OUT_SEND_HEAP;
        s->len = 0;
        s->u.heap.ptr = p;
        s->u.heap.len = len;
    }
    done(o, parked);
    return true;
}

bool outbox_put(struct outbox *o, const struct shard_out *m)
{
    bool parked;
    struct shard_out *s = slot_for(o, SHARD_BACKLOG_MAX + SHARD_BACKLOG_RESERVE, &parked);
    if (!s) {
        stat_add(&o->stats->outbox_overflow, 1);
        return false;
    }
    *s = *m;
    done(o, parked);
    return true;
}

bool outbox_flush(struct outbox *o)
{
    while (o->nclosing > 0) {
        struct shard_out *s = o->reserve(o->ring);
        if (!s)
            return false;
        memset(s, 0, offsetof(struct shard_out, u));
        s->kind = SHARD_OUT_CLOSE;
        s->conn = o->closing[--o->nclosing];
        s->u.close_reason = SHARD_CLOSE_OUTPUT_OVERFLOW;
        o->commit(o->ring);
        o->committed = true;
        stat_add(&o->stats->outbox_msgs, 1);
    }
    while (fifo_count(&o->backlog) > 0) {
        struct shard_out *s = o->reserve(o->ring);
        if (!s)
            break;
        *s = *(struct shard_out *)fifo_at(&o->backlog, 0);
        fifo_pop(&o->backlog);
        o->commit(o->ring);
        o->committed = true;
        stat_add(&o->stats->outbox_msgs, 1);
    }
    atomic_store_explicit(&o->stats->outbox_backlog, fifo_count(&o->backlog), memory_order_relaxed);
    return fifo_count(&o->backlog) == 0;
}
