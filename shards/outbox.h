/* outbox: a shard's side of its outbound ring, with the bounded backlog that absorbs a full ring.
 *
 * Policy (shard.h, Overload): messages go straight into the ring while it has room and nothing is
 * parked; otherwise they are parked in a FIFO backlog (so per-connection order holds) that outbox_flush
 * moves into the ring as room appears. The backlog holds at most SHARD_BACKLOG_MAX frames; a frame
 * that would pass it is dropped and its connection is marked for closing (counter outbox_overflow):
 * once the ring has room a SHARD_OUT_CLOSE goes out for it ahead of the backlog, and frames to it
 * are dropped until then. Control messages (seat changes, heartbeats, listings, stopped) may use a
 * reserve of SHARD_BACKLOG_RESERVE more entries because the net thread's bookkeeping depends on them.
 *
 * Single-threaded: only the owning shard calls these. The ring type is private to shards.c, so the
 * outbox reaches it through two callbacks. */
#ifndef BATTLED_SHARDS_OUTBOX_H
#define BATTLED_SHARDS_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shards/shard.h"
#include "util/fifo.h"

#define SHARD_BACKLOG_RESERVE 4096 /* extra backlog entries for control messages */
#define OUTBOX_CLOSE_MAX 1024      /* connections awaiting a CLOSE at once */

struct outbox {
    /* ring access (shards.c): reserve the next free slot or NULL, publish it */
    struct shard_out *(*reserve)(void *ring);
    void (*commit)(void *ring);
    void *ring;
    struct shard_stats *stats;

    fifo backlog; /* of struct shard_out; grows by doubling up to the limit */

    conn_id closing[OUTBOX_CLOSE_MAX]; /* overflowed connections still to be told to close */
    uint32_t nclosing;

    bool committed; /* something was committed since outbox_take_committed() */
};

void outbox_init(struct outbox *o, struct shard_out *(*reserve)(void *), void (*commit)(void *),
                 void *ring, struct shard_stats *stats);
/* Frees the backlog, heap frames in it included. */
void outbox_free(struct outbox *o);

/* Queues one complete frame (length prefix included) for conn, copying it: inline when it fits a
 * slot, else a malloc'd SHARD_OUT_SEND_HEAP. false when dropped (overflow policy, or no memory). */
bool outbox_send(struct outbox *o, conn_id conn, const uint8_t *frame, size_t len);

/* Queues a control message (anything but SEND/SEND_HEAP), copied. false when dropped. */
bool outbox_put(struct outbox *o, const struct shard_out *m);

/* Moves parked messages (closes first) into the ring while it has room. Returns true when nothing
 * is left parked. */
bool outbox_flush(struct outbox *o);

/* Whether anything is parked. */
static inline bool outbox_pending(const struct outbox *o)
{
    return fifo_count(&o->backlog) > 0 || o->nclosing > 0;
}

/* Returns whether something was committed since the last call, and clears the flag. */
static inline bool outbox_take_committed(struct outbox *o)
{
    bool c = o->committed;
    o->committed = false;
    return c;
}

#endif
