/* shard: the contract between the network thread and the shard threads.
 *
 * Shape (docs/ARCHITECTURE.md): one network thread, N shard threads. Each shard has one SPSC ring in
 * (net -> shard) and one out (shard -> net), each message stored inline in a fixed-size slot
 * (shards/ring.h). A battle lives on shard_of(battle_id) for its whole life; nothing else touches it
 * except under that shard's run lock (shards_run_inline: the network thread runs a sleeping shard's
 * few messages itself, so one thread at a time still owns every battle).
 * Shards never see a socket: they address connections by conn_id (slot | generation << 32), and the
 * network thread drops output for a generation that is gone.
 *
 * Threads: every shards_* function below is for the network thread only (the single producer of the
 * inboxes and single consumer of the outboxes), except shards_stats, which any thread may read.
 * During shards_run_inline the network thread is also, under the shard's lock, the consumer of that
 * inbox and the producer of that outbox; the lock orders it against the shard thread.
 *
 * Wakeups: the producer commits to the ring, issues a seq_cst fence, then uv_async_send on the
 * consumer's loop. The network thread marks shards dirty in shards_push and wakes each dirty shard
 * once from shards_flush (call it from a uv_prepare_t, i.e. once per loop pass), after
 * shards_run_inline has taken the shards it could run itself (those need no wake). A shard wakes the net
 * thread through opts.wake_net once per batch of work (an inbox drain, a timer tick, a backlog
 * retry) that committed anything, after its last commit of the batch.
 * Each consumer drains until empty, or re-signals itself when it stops on a budget (libuv coalesces
 * sends and clears the pending flag before the callback runs, so a budget stop without a re-signal
 * would strand messages).
 *
 * Overload:
 * - Inbox full: shards_push returns false (counter inbox_full). The network thread stops reading the
 *   connections whose frames go there (uv_read_stop, keeping the pending frame) and resumes them when
 *   shards_inbox_ready() (free slots >= capacity / SHARD_INBOX_LOW_FREE_DIV); a shard that drains an
 *   inbox that was found full wakes the net thread once it is that far down, so the resume never
 *   waits on other traffic.
 * - Outbox full: the shard keeps the rest of its output in a bounded per-shard backlog (FIFO, message
 *   order per connection preserved) and retries on every pass (counter outbox_backlog_msgs). While
 *   anything is parked the shard takes nothing more from its inbox (counter inbox_pauses): the inbox
 *   fills, the network thread stops reading the connections headed there, and the overload reaches
 *   the clients as TCP backpressure instead of growing the backlog. Only timers (turn timers, the AI,
 *   resume windows) still add output then, bounded by the battles a shard holds. Past
 *   SHARD_BACKLOG_MAX frames it drops further frames for that connection and sends SHARD_OUT_CLOSE
 *   for it as soon as there is room (counter outbox_overflow); the client resumes with its seat token
 *   and gets what it missed. Control messages (SEAT, HEARTBEAT, LIST_*, STOPPED) have a reserve of
 *   SHARD_BACKLOG_RESERVE more entries (shards/outbox.h), since the net thread's books rely on them.
 * - Per battle: spectators capped by game.max_spectators (error spectators_full); battles (live and
 *   kept) per shard capped by SHARD_MAX_BATTLES (error server_busy).
 *
 * Seats (SHARD_OUT_SEAT): +1 when a connection gets a seat or a spectator place, -1 when it loses it
 * (leave, takeover by a resuming connection, and for everyone at once when the battle ends: the seats
 * of a finished battle are released immediately, though the battle is kept game.finished_keep_ms so a
 * seat's token can still fetch how it ended). No -1 is sent for a connection the net thread reported
 * gone. The net thread sends one SHARD_IN_CONN_GONE per (connection, battle) it holds a +1 for.
 *
 * Replies (each echoes the request's rid on the requester's first copy; a refusal is an "error" with
 * the request's rid and the battle id):
 *   create  PRIVATE: "created" (seat 0, token). MATCHED, SOLO: "started" to each seat (own seat and
 *           token). draining: server_draining; unknown ship: no_such_ship; id in use: internal.
 *   join    "started" to both seats; battle_full, already_in_battle, no_such_ship, server_draining.
 *   watch   "state" (seat 2) and a spectator place; not_started for a battle still waiting; a battle
 *           kept after its end gets the "state" but no place.
 *   resume  the events after "last" from the battle's history, else (nothing missed, or history cut)
 *           a "state"; a waiting battle answers "created" again; a finished one answers without
 *           giving the seat back. A connection still holding the seat gets "left" and loses it.
 *   fire, missile, pd, sand, end, forfeit: the resulting events to everyone, or the engine's refusal.
 *   leave   "left"; leaving a running battle forfeits it first, leaving a waiting one disposes it.
 * Every event of a battle carries the engine's sequence number 1:1 (shards/events.h).
 *
 * Admin listing: SHARD_IN_LIST is answered through the outbox (up to SHARD_LIST_MAX rows, then an
 * END with the total). Chosen over a shared seqlock'd summary because it needs no shared memory and
 * reads a consistent view on the owning thread; the admin endpoint is rare and may wait a pass.
 *
 * Big frames: events are encoded once per broadcast into the shard's scratch buffer and copied into
 * each recipient's slot. Frames over SHARD_OUT_INLINE bytes ("started" and "state", about 450-600
 * bytes with two ships, sent once per seat per battle, on watch and on some resumes) are malloc'ed as
 * SHARD_OUT_SEND_HEAP and freed by the net thread; every in-battle event fits a slot (under 100 B).
 *
 * Requests travel decoded: the net thread decodes each frame with proto/ and copies the plain decoded
 * struct into the slot, so a shard never parses bytes from the network. */
#ifndef BATTLED_SHARDS_SHARD_H
#define BATTLED_SHARDS_SHARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"
#include "util/mix.h"

typedef uint64_t conn_id; /* low 32 bits: slot in the net's table; high 32: generation. 0 = none. */

/* Which shard owns a battle. A fixed mixing function (splitmix64 finaliser) so ids chosen by the
 * server's random generator spread evenly and the mapping survives restarts for a given count. */
/* The battle id a keyed create gets: a function of the client's idempotency key alone, so a
 * repeat (another connection, after a restart too) reaches the same battle on the same shard. In
 * 1..2^63-1, as every battle id. The key stays secret: the id does not give it away. */
static inline uint64_t shard_key_battle_id(const uint8_t key[PROTO_TOKEN_LEN])
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < PROTO_TOKEN_LEN; i++)
        h = (h ^ key[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h &= INT64_MAX;
    return h ? h : 1;
}

static inline unsigned shard_of(uint64_t battle_id, unsigned nshards)
{
    return (unsigned)(mix64(battle_id) % nshards);
}

/* ---- limits ---------------------------------------------------------------------------------- */

#define SHARD_MAX_SHARDS 256         /* matches server.shards' range */
#define SHARD_OUT_INLINE 256         /* frame bytes carried inline in an outbox slot */
#define SHARD_TOKEN_BYTES PROTO_TOKEN_LEN /* a seat's resume token */
#define SHARD_MAX_BATTLES (1u << 20) /* live + kept battles per shard: the battle pool's size cap */
#define SHARD_BACKLOG_MAX 65536      /* outbound messages parked per shard while the outbox is full */
#define SHARD_INBOX_LOW_FREE_DIV 4   /* resume reading once free slots >= capacity / this */
#define SHARD_LIST_MAX 1000          /* rows one SHARD_IN_LIST may ask for */

/* ---- net -> shard ---------------------------------------------------------------------------- */

enum shard_in_kind {
    SHARD_IN_REQUEST = 1, /* a decoded battle-scoped request (join, watch, resume, fire, ...) */
    SHARD_IN_CREATE,      /* lobby matched a pair, or a private/solo create: make battle_id */
    SHARD_IN_CONN_GONE,   /* conn closed: its place in battle_id goes (a seat: away, resume window) */
    SHARD_IN_DRAIN,       /* refuse new battles; end the rest as "server shutdown" at the deadline,
                           * or (drain.suspend) keep every battle as it is for the next start */
    SHARD_IN_HEARTBEAT,   /* readiness probe: answer SHARD_OUT_HEARTBEAT with the same token */
    SHARD_IN_LIST,        /* admin: list live battles (SHARD_OUT_LIST_ROW..., SHARD_OUT_LIST_END) */
    SHARD_IN_STOP,        /* leave the loop after flushing what fits (shards_stop sends it) */
};

enum shard_create_mode {
    SHARD_CREATE_MATCHED = 1, /* lobby pair: conn[0] gets seat 0, conn[1] seat 1; both told "started" */
    SHARD_CREATE_PRIVATE,     /* conn[0] gets seat 0; seat 1 stays open until someone joins by id */
    SHARD_CREATE_SOLO,        /* conn[0] gets seat 0; seat 1 is the server's opponent (core's AI) */
};

struct shard_create {
    uint8_t mode;                       /* enum shard_create_mode */
    uint8_t band;                       /* proto_band, fixed for the whole battle */
    bool has_rid[2];                    /* whether the seat's request carried a "rid" to echo */
    uint32_t rid[2];
    conn_id conn[2];                    /* seat holders; conn[1] = 0 unless MATCHED */
    char ship[2][PROTO_SHIP_MAX + 1];   /* ship keys; SOLO: ship[1] is the AI's, "" = server picks */
    /* The seat's idempotency key ("key" of its create or queue; all zero = none). With a key the
     * battle id is shard_key_battle_id(key[0]) for create, so a repeat lands on this battle. */
    uint8_t key[2][PROTO_TOKEN_LEN];
};

struct shard_in {
    uint8_t kind;       /* enum shard_in_kind */
    conn_id conn;       /* REQUEST, CONN_GONE: the connection concerned */
    uint64_t battle_id; /* REQUEST, CREATE, CONN_GONE: the battle (routing key) */
    union {
        /* REQUEST: proto's decoded request, copied by value; it holds no pointers into the
         * connection's buffer. Its type is battle-scoped (JOIN..LEAVE) and req.bid == battle_id. */
        proto_request req;
        struct shard_create create;
        struct {
            uint64_t grace_ms; /* running battles may go on this long, then end as shutdown */
            bool suspend;      /* restart: freeze every battle (nothing ends, nothing more is
                                * journaled) and report SHARD_OUT_STOPPED at once */
        } drain;
        uint64_t token; /* HEARTBEAT, LIST: echoed in the answer */
        struct {
            uint64_t token;
            uint32_t limit; /* at most this many rows (clamped to SHARD_LIST_MAX) */
        } list;
    } u;
};

/* ---- shard -> net ---------------------------------------------------------------------------- */

enum shard_out_kind {
    SHARD_OUT_SEND = 1,  /* u.bytes[0..len) = one or more complete frames (length prefix included) */
    SHARD_OUT_SEND_HEAP, /* a frame too big for a slot (full state): u.heap, net frees it with free() */
    SHARD_OUT_SEAT,      /* conn gained (+1) or lost (-1) a seat or spectator place in battle_id */
    SHARD_OUT_CLOSE,     /* close conn (u.close_reason); the policy of a full outbox fired */
    SHARD_OUT_HEARTBEAT, /* answer to SHARD_IN_HEARTBEAT (u.token) */
    SHARD_OUT_LIST_ROW,  /* one live battle (u.row) for SHARD_IN_LIST */
    SHARD_OUT_LIST_END,  /* end of a listing (u.list_end) */
    SHARD_OUT_STOPPED,   /* after SHARD_IN_DRAIN: no running or waiting battle is left (or,
                          * after a suspend, every battle is frozen and its records are written) */
};

enum shard_seat_role {
    SHARD_ROLE_SEAT0 = 0,
    SHARD_ROLE_SEAT1 = 1,
    SHARD_ROLE_SPECTATOR = 2,
};

enum shard_close_reason {
    SHARD_CLOSE_OUTPUT_OVERFLOW = 1, /* the shard's backlog passed SHARD_BACKLOG_MAX for this conn */
};

struct shard_battle_row {
    uint64_t battle_id;
    uint64_t age_ms;
    uint32_t round;
    uint16_t spectators;
    uint8_t seats_present; /* bit 0: seat 0 connected (or AI), bit 1: seat 1 */
    uint8_t state;         /* 0 waiting for seat 1, 1 running, 2 finished (kept for results) */
};

struct shard_out {
    uint8_t kind;  /* enum shard_out_kind */
    int8_t delta;  /* SEAT: +1 or -1 */
    uint8_t role;  /* SEAT: enum shard_seat_role */
    uint16_t len;  /* SEND: bytes used in u.bytes */
    conn_id conn;  /* SEND, SEND_HEAP, SEAT, CLOSE */
    uint64_t battle_id; /* SEAT */
    union {
        uint8_t bytes[SHARD_OUT_INLINE];
        struct {
            uint8_t *ptr; /* malloc'd; the net thread owns it after popping and frees it */
            size_t len;
        } heap;
        uint8_t close_reason; /* enum shard_close_reason */
        uint64_t token;       /* HEARTBEAT */
        struct shard_battle_row row;
        struct {
            uint64_t token;
            uint32_t rows;  /* rows sent */
            uint32_t total; /* live battles on the shard */
        } list_end;
    } u;
};

/* ---- counters -------------------------------------------------------------------------------- */

/* Battle end reasons counted per shard (index into battles_ended). */
enum shard_end_reason {
    SHARD_END_DESTROYED = 0,
    SHARD_END_FORFEIT,
    SHARD_END_DISCONNECT, /* resume window passed */
    SHARD_END_TIMEOUTS,   /* three turn timers in a row */
    SHARD_END_DRAW,       /* round limit */
    SHARD_END_ABANDONED,  /* idle past game.idle_battle_ms */
    SHARD_END_SHUTDOWN,   /* drain deadline */
    SHARD_END_REASONS
};

#define SHARD_ACTION_KINDS (PROTO_T_REQ_LAST + 1) /* requests by proto_type */
#define SHARD_ERROR_CODES 100 /* error replies by proto_error code (codes are below 100) */
#define SHARD_LATENCY_BUCKETS 16   /* action latency: bucket i counts < 2^i us; last: the rest */

/* Read by any thread with relaxed loads; written only by the owning shard (net writes inbox_full). */
struct shard_stats {
    _Atomic uint64_t battles_live;
    _Atomic uint64_t battles_started;
    _Atomic uint64_t battles_ended[SHARD_END_REASONS];
    _Atomic uint64_t actions[SHARD_ACTION_KINDS];
    _Atomic uint64_t errors[SHARD_ERROR_CODES];
    _Atomic uint64_t inbox_full;          /* shards_push found the inbox full */
    _Atomic uint64_t inbox_msgs;          /* messages taken from the inbox */
    _Atomic uint64_t inbox_pauses;        /* inbox left unread because output was parked */
    _Atomic uint64_t outbox_msgs;         /* messages committed to the outbox */
    _Atomic uint64_t outbox_backlog;      /* messages parked right now */
    _Atomic uint64_t outbox_backlog_msgs; /* messages ever parked */
    _Atomic uint64_t outbox_overflow;     /* connections closed because the backlog was full */
    _Atomic uint64_t outbox_close_lost;   /* overflows whose close found the close list full: the
                                             frame was lost and the connection stays open */
    _Atomic uint64_t outbox_nomem;        /* big frames dropped because malloc failed */
    _Atomic uint64_t wakeups;             /* inbox async callbacks run */
    _Atomic uint64_t net_wakes;           /* wake_net calls made */
    _Atomic uint64_t inline_runs;         /* times the network thread ran this shard's inbox */
    _Atomic uint64_t inline_msgs;         /* messages it handled so (also in inbox_msgs) */
    _Atomic uint64_t inline_busy;         /* it could not: the shard thread was running */
    _Atomic uint64_t inline_wakes;        /* it ran, then woke the shard (timer, parked output) */
    _Atomic uint64_t loop_lag_us_max;     /* worst timer lateness seen (us) */
    _Atomic uint64_t timers_fired;
    _Atomic uint64_t spectators;          /* spectators attached right now */
    _Atomic uint64_t resumes;             /* seats taken back by token */
    _Atomic uint64_t takeovers;           /* resumes that displaced a still-open connection */
    _Atomic uint64_t repeats;             /* create/join/queue repeated with their key: same answer */
    _Atomic uint64_t action_latency[SHARD_LATENCY_BUCKETS];
    _Atomic uint64_t action_latency_sum_ns; /* exact total of the latencies counted above */
    /* persistence (journal/journal.h; all 0 when persistence.enabled is off) */
    _Atomic uint64_t battles_recovered;   /* battles put back from the journal at start */
    _Atomic uint64_t battles_adopted;     /* another node's battles taken over (shards_adopt) */
    _Atomic uint64_t journal_degraded;    /* 1 while the journal fails: new battles are refused */
    _Atomic uint64_t journal_records;     /* records appended */
    _Atomic uint64_t journal_bytes;       /* bytes written */
    _Atomic uint64_t journal_syncs;       /* fdatasyncs done */
    _Atomic uint64_t journal_write_errors;
    _Atomic uint64_t journal_sync_errors;
    _Atomic uint64_t journal_records_dropped; /* lost while degraded (the journal then stops) */
    _Atomic uint64_t journal_compactions;
    _Atomic uint64_t journal_compaction_errors; /* failed compactions (retried after 10 s) */
    _Atomic uint64_t journal_buffer_full_writes; /* early writes: the group-commit buffer was full */
    /* What the start's recovery met, for the whole journal: kept in shard 0's stats only. */
    _Atomic uint64_t journal_torn_tails;      /* log segment tails cut (a crash mid-write) */
    _Atomic uint64_t journal_damaged_regions; /* bad records with good ones after (skip_damaged) */
    _Atomic uint64_t journal_battles_skipped; /* battles left out as damaged (skip_damaged) */
    _Atomic uint64_t journal_queued_bytes; /* buffered or unacknowledged by the backend (bounded) */
};

#endif
