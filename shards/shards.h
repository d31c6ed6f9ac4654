/* shards: the shard runtime's API (the messages, limits and counters it carries are in shard.h):
 * start shard threads from plain options, push requests to a shard, pop its output, stop. */
#ifndef BATTLED_SHARDS_SHARDS_H
#define BATTLED_SHARDS_SHARDS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ships.h"
#include "journal/journal.h"
#include "shards/shard.h"

/* ---- the runtime ----------------------------------------------------------------------------- */

struct shards;

/* Game rules and timers (config.toml [game]); out-of-range values are clamped at start. */
struct shards_game_opts {
    int64_t round_limit;      /* 0..BATTLE_MAX_ROUND_LIMIT */
    int64_t turn_timer_ms;    /* 0 = off */
    int64_t resume_window_ms;
    int64_t idle_battle_ms;   /* 0 = never abandoned */
    int64_t finished_keep_ms;
    int64_t max_spectators;
    int64_t ai_think_ms;
};

/* Persistence (config.toml [persistence]; docs/ARCHITECTURE.md, "Persistence"). The strings are
 * read during shards_start only. */
struct shards_persist_opts {
    bool enabled;
    const char *backend;        /* store backend by name (journal/store.h): "file"; NULL = "file" */
    const char *dir;            /* the backend's location: a directory for "file" */
    journal_sync_policy fsync;  /* persistence.fsync */
    int64_t compact_bytes;      /* persistence.compact_bytes; 0 = JOURNAL_COMPACT_DEFAULT */
    bool skip_damaged;          /* skip a battle the journal cannot rebuild instead of failing */
};

/* Everything the shards read from the application's configuration, as plain values: shards_start
 * copies the struct (the ship table is shared, not copied). */
struct shards_opts {
    int64_t shards;     /* server.shards: 0 = shards_count_for(0, cores); capped at SHARD_MAX_SHARDS */
    int64_t ring_slots; /* server.ring_slots: inbox and outbox slots per shard, a power of two */
    int64_t inline_max; /* server.inline_max: messages per shards_run_inline call; 0 = never */
    struct shards_game_opts game;
    struct shards_persist_opts persistence;
    /* The ship table, shared read-only by every shard; it must outlive shards_stop. Required:
     * shards_start fails when it is NULL or empty. */
    const ships_table *ships;
    /* Called from a shard thread after it committed to its outbox and fenced; must be thread-safe
     * (uv_async_send on the net loop is). At most once per shard loop pass. */
    void (*wake_net)(void *arg);
    void *wake_arg;
};

/* The one shard-count policy: requested (server.shards) when it is above 0, else ncpu - 1 (at
 * least 1; ncpu as sysconf(_SC_NPROCESSORS_ONLN) gives it, <= 0 when unknown); capped at
 * SHARD_MAX_SHARDS either way. shards_start runs exactly this many shards. */
unsigned shards_count_for(int64_t requested, long ncpu);

/* Creates the rings and starts the shard threads. Returns NULL on failure (logged): bad ring size,
 * no ship table, an unknown persistence backend, no memory or no thread.
 * With persistence.enabled it first recovers (docs/ARCHITECTURE.md, "Persistence"): it creates
 * persistence.dir if missing (one level), locks it (a second battled on the same directory fails
 * to start), ignores SIGXFSZ for the process (a file-size limit then fails the write with EFBIG,
 * which the journal handles, instead of killing the server), reads every journal there, rebuilds
 * each unfinished battle on the shard that owns it under the current shard count, writes them
 * again as each shard's first snapshot and deletes the old files. Damage in the middle of a file
 * fails the start (logged with file and offset) unless persistence.skip_damaged. Every shard then
 * journals its battles, writing each loop pass's records before that pass's output is published.
 * The caller owns the result and ends it with shards_stop (which closes the journals: flush,
 * sync). */
struct shards *shards_start(const struct shards_opts *opts);

/* Number of shards running. */
unsigned shards_count(const struct shards *s);

/* Copies msg into shard's inbox and marks the shard dirty. false when the inbox is full (counted:
 * inbox_full), the message is not queued and the caller keeps it (see Overload). */
bool shards_push(struct shards *s, unsigned shard, const struct shard_in *msg);

/* Free inbox slots of a shard right now, and whether that is enough to resume reading. */
unsigned shards_inbox_free(const struct shards *s, unsigned shard);
bool shards_inbox_ready(const struct shards *s, unsigned shard);

/* Wakes every shard pushed to since the last flush, once each (fence, then uv_async_send).
 * Returns how many it woke. */
unsigned shards_flush(struct shards *s);

/* Network thread, before shards_flush: when the shards pushed to since the last flush hold at
 * most opts.inline_max messages in all, runs each of them whose thread is not running on the
 * calling thread (game_handle under the shard's lock; never for a shard that journals), so the
 * shard thread need not be woken. Their output is then in their outboxes: the caller drains them
 * with shards_pop in the same pass. A shard whose loop still has work (a timer to re-arm earlier,
 * parked output, a stop) stays marked and shards_flush wakes it. Returns the number of shards run.
 * now_ms: the caller's loop clock (same clock as the shards' loops). */
unsigned shards_run_inline(struct shards *s, uint64_t now_ms);

/* Takes the oldest outbound message of a shard into *out. false when there is none. For
 * SEND_HEAP the caller now owns out->u.heap.ptr. The caller should drain each shard until false on
 * every wake (or re-signal its own async if it stops on a budget). */
bool shards_pop(struct shards *s, unsigned shard, struct shard_out *out);

/* Sends SHARD_IN_STOP to every shard (retrying while an inbox is full), joins the threads, frees
 * everything left in the rings (heap frames included) and s. Battles still running are dropped
 * without events: drain first for a graceful end. opts.wake_net may be called until this returns,
 * so keep what it signals (the net loop's uv_async_t) open until then. */
void shards_stop(struct shards *s);

/* True while some shard's journal fails (a full disk, a failing write or sync): those shards refuse
 * new battles with server_busy and readiness should report not ready. Any thread. */
bool shards_degraded(const struct shards *s);

/* A seat that was taken with an idempotency key ("key" of queue, create or join), in a battle the
 * start's recovery brought back: the network thread seeds its queue-key table with these, so a
 * queue repeated after a restart finds the battle its match made. */
struct shards_key {
    uint8_t key[PROTO_TOKEN_LEN];
    uint64_t battle_id;
    uint8_t seat;
};

/* The keyed seats recovery found (n set to their count; NULL when none). Owned by s, valid until
 * shards_stop; read them before serving. */
const struct shards_key *shards_recovered_keys(const struct shards *s, size_t *n);

/* ---- adoption (cluster failover) ------------------------------------------------------------- */

/* What shards_adopt did with a set's battles. */
struct shards_adopt_result {
    uint64_t adopted;    /* unfinished battles put on a shard (counter battles_adopted) */
    uint64_t ended_kept; /* ended within game.finished_keep_ms: kept for resume and watch */
    uint64_t duplicates; /* the battle id is on its shard already: left alone */
    uint64_t over;       /* found over on replay: dropped */
    uint64_t failed;     /* cannot be rebuilt (logged): left out */
};

/* Puts every unfinished battle of set (a failed node's journal, journal_load'ed with keep_ended,
 * and ended ones still within game.finished_keep_ms, as recovery does) onto these running shards
 * (shard_of(id, n)), as start-up recovery does: every player seat away with a fresh resume window
 * from now, turn timer restarted, sequence numbers renumbered past the battle's earlier lives (a
 * MARK, persist.h), and each adopted battle written into the adopting shard's own journal
 * (CREATED, its actions and the MARK; the renumbered CREATED of a waiting battle; ENDED for an
 * ended one) so that a crash of this process afterwards recovers it. A battle whose id is on its
 * shard already is skipped (duplicates), as is one that cannot be rebuilt (failed, logged).
 * The seats keep their idempotency keys, so a keyed create or join repeated after the failover
 * gets its answer again; but they are not given to the network thread's queue-key table (unlike
 * shards_recovered_keys at start), so a queue repeated with its key makes a new lobby entry instead
 * of finding the adopted battle.
 *
 * Threads: any thread but the shard threads and the network thread (it blocks); one call at a
 * time (a second waits for the first); not during or after shards_stop. It hands each shard the
 * job through a mutex-guarded slot and wakes the shard's loop (it never touches the inboxes, whose
 * only producer is the network thread); each shard does its part at the end of its next loop pass.
 * Blocks until every shard has done its part and the records it wrote are durable
 * (journal_durable_pos: written for local files under everysec/no, synced under always, or
 * acknowledged by the store, Redis), or timeout_ms passed.
 *
 * Returns 0 and fills res; -ETIMEDOUT (res holds what the shards that finished did; a shard that
 * had begun keeps the battles it took, whose records may not be durable yet; one that had not begun
 * takes none); -EIO when a shard's journal dropped the records (the battles run, not persisted);
 * -ESHUTDOWN when this process drains or is suspended for a restart (its shards take nothing on:
 * another node should adopt); -EINVAL for a NULL argument. set stays the caller's and is read only until the call returns. */
int shards_adopt(struct shards *s, const journal_set *set, unsigned timeout_ms,
                 struct shards_adopt_result *res);

/* A shard's counters; valid until shards_stop. */
const struct shard_stats *shards_stats(const struct shards *s, unsigned shard);

#endif
