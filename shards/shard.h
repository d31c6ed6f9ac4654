/* shard: the contract between the network thread and the shard threads.
 *
 * DRAFT written before proto/msg.h and core/battle.h landed: the shards engineer owns this file and
 * adjusts type names (proto's decoded request struct, core's types) as they land, keeping the shape.
 *
 * Shape (docs/ARCHITECTURE.md): one network thread, N shard threads. Each shard has one SPSC ring in
 * (net -> shard) and one out (shard -> net), each message stored inline in a fixed-size slot. A battle
 * lives on shard_of(battle_id) for its whole life; nothing else touches it. Shards never see a socket:
 * they address connections by conn_id (slot | generation << 32), and the network thread drops output for
 * a generation that is gone.
 *
 * Wakeups: the producer commits to the ring, issues a seq_cst fence, then uv_async_send on the
 * consumer's loop. The network thread marks shards dirty during a read pass and wakes each dirty shard
 * once from a uv_prepare_t. A consumer drains until empty or re-signals itself when it stops on a
 * budget (libuv coalesces sends).
 *
 * Overload: when a shard's inbox is full the network thread stops reading the connections whose frames
 * go there (uv_read_stop, keeping the pending frame) and resumes them below a low watermark; counter
 * shard_inbox_full. When a shard's outbox is full the shard keeps the rest of its output in a bounded
 * per-shard backlog and retries on the next pass; past that bound it closes the recipient
 * (counter shard_outbox_overflow). */
#ifndef BATTLED_SHARDS_SHARD_H
#define BATTLED_SHARDS_SHARD_H

#include <stdint.h>

typedef uint64_t conn_id; /* low 32 bits: slot in the net's table; high 32: generation. 0 = none. */

/* Which shard owns a battle. A fixed mixing function (splitmix64 finaliser) so ids chosen by the
 * server's random generator spread evenly and the mapping survives restarts for a given count. */
static inline unsigned shard_of(uint64_t battle_id, unsigned nshards)
{
    uint64_t x = battle_id;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (unsigned)(x % nshards);
}

enum shard_in_kind {
    SHARD_IN_REQUEST,   /* a decoded battle-scoped request (join, watch, resume, fire, ...) */
    SHARD_IN_CREATE,    /* lobby matched a pair, or a private/solo create: make battle_id */
    SHARD_IN_CONN_GONE, /* conn closed: its seats go away (resume window starts), spectators leave */
    SHARD_IN_DRAIN,     /* refuse new battles; end the rest as "server shutdown" at the deadline */
    SHARD_IN_HEARTBEAT, /* readiness probe: answer SHARD_OUT_HEARTBEAT with the same token */
    SHARD_IN_STOP,      /* leave the loop after flushing output */
};

enum shard_out_kind {
    SHARD_OUT_SEND,      /* bytes = one or more complete frames for conn */
    SHARD_OUT_SEND_HEAP, /* a frame too big for a slot (full state): heap buffer, net frees it */
    SHARD_OUT_SEAT,      /* conn gained (+1) or lost (-1) a seat or spectator place in battle_id */
    SHARD_OUT_CLOSE,     /* close conn; the stream can no longer be trusted or a policy fired */
    SHARD_OUT_HEARTBEAT, /* answer to SHARD_IN_HEARTBEAT */
    SHARD_OUT_STOPPED,   /* the shard has ended every battle and left its loop */
};

#endif
