/* game_int: the glue between the files of one shard's game (game.c, game_pool.c, game_fanout.c,
 * game_journal.c, game_lifecycle.c, game_requests.c, game_timers.c) and recovery (recover.c).
 * Internal to shards/: nothing outside it includes this. Every function here runs on the owning
 * shard's thread (or before it starts, for recovery) and touches only that shard's struct game. */
#ifndef BATTLED_SHARDS_GAME_INT_H
#define BATTLED_SHARDS_GAME_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/codec.h"
#include "shards/events.h"
#include "shards/game.h"

#define GAME_NONE_IDX UINT32_MAX /* "no battle / no chunk" in pool and spectator links */

static inline void game_stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline void game_stat_sub(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t game_min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The wire seq of engine seq s of battle sb (see game_battle.seq_split). */
static inline uint32_t game_wire_seq(const struct game_battle *sb, uint32_t s)
{
    return s + (s > sb->seq_split ? sb->seq_off : sb->seq_off_before);
}

/* ---- game_pool.c ----------------------------------------------------------------------------- */
/* The battle in pool slot idx (idx < nchunks * GAME_POOL_CHUNK). */
struct game_battle *game_battle_at(const struct game *g, uint32_t idx);

/* theap callback: records where battle idx now sits in the deadline heap (ctx is the game). */
void game_heap_setpos(void *ctx, uint32_t idx, uint32_t pos);

/* Publishes the live battle count (running + waiting) to the shard stats. */
void game_update_live(struct game *g);

/* A zeroed battle from the free list, growing the pool by a chunk when empty; NULL when the
 * pool is at SHARD_MAX_BATTLES or out of memory. Not in the id table yet. */
struct game_battle *game_pool_alloc(struct game *g);

/* Returns a battle to the pool: off the heap, spectators cleared, id and tokens forgotten. */
void game_pool_release(struct game *g, struct game_battle *sb);

/* The battle with this id on this shard, or NULL. */
struct game_battle *game_lookup(struct game *g, uint64_t id);

/* Puts the battle's earliest deadline (or none) in the timer heap; call after any change to it. */
void game_schedule(struct game *g, struct game_battle *sb);

/* Adds c as a spectator of sb. false when no memory for another list chunk. */
bool game_spect_add(struct game *g, struct game_battle *sb, conn_id c);

/* Whether c watches sb. */
bool game_spect_has(const struct game *g, const struct game_battle *sb, conn_id c);

/* Removes c from sb's spectators, filling its hole with the last entry of the head chunk. false
 * when c was not watching. */
bool game_spect_remove(struct game *g, struct game_battle *sb, conn_id c);

/* Drops every spectator of sb (no notices are sent: callers send them first). */
void game_spect_clear(struct game *g, struct game_battle *sb);

/* ---- game_fanout.c --------------------------------------------------------------------------- */
/* Encodes pe once and queues it for conn. */
void game_send_event(struct game *g, conn_id conn, const proto_event *pe);

/* Counts the error code and, when conn is set, sends it an error reply. */
void game_send_error(struct game *g, conn_id conn, proto_error code, const char *msg, bool has_rid,
                     uint32_t rid, uint64_t bid);

/* Tells the net thread conn gained (+1) or lost (-1) a place (role) in battle bid; nothing for
 * conn 0. */
void game_send_seat(struct game *g, conn_id conn, uint64_t bid, uint8_t role, int8_t delta);

/* Sends conn a "left" event for battle bid. */
void game_send_left(struct game *g, conn_id conn, uint64_t bid, bool has_rid, uint32_t rid);

/* Who hears a battle's events: the seats' connections, then the spectators. */
void game_broadcast(struct game *g, struct game_battle *sb, proto_event *pe, conn_id requester,
                    bool has_rid, uint32_t rid);

/* Sends conn the battle's full state as seat sees it (seat 2: a spectator), with the turn time
 * left. */
void game_send_state(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat,
                     bool has_rid, uint32_t rid);

/* "started" differs per seat (its own seat number and token); spectators get a full state. */
void game_send_started(struct game *g, struct game_battle *sb, proto_event *pe,
                       const bool has_rid[2], const uint32_t rid[2]);

/* ---- game_journal.c -------------------------------------------------------------------------- */
/* A battle's setup as recovery needs it. setup NULL: a private battle still waiting for seat 1. A
 * record the journal cannot take is counted there (journal_stats) and logged by it. No-op without a
 * journal. */
void game_journal_created(struct game *g, struct game_battle *sb, const battle_setup *setup);

/* Journals one accepted action or timer input (seq: the battle's next). No-op without a journal. */
void game_journal_action(struct game *g, struct game_battle *sb, const battle_action *a);

/* Journals that the battle is over, so recovery never brings it back. No-op without a journal. */
void game_journal_ended(struct game *g, struct game_battle *sb);

/* ---- game_lifecycle.c ------------------------------------------------------------------------ */
/* While draining: sends SHARD_OUT_STOPPED once no running or waiting battle is left. */
void game_check_stopped(struct game *g);

/* A private battle that never started: its creator (and nobody else: spectators wait for a start)
 * is told it ended, then it is freed at once; there is no engine state to keep. */
void game_dispose_waiting(struct game *g, struct game_battle *sb, uint8_t wire_reason,
                          unsigned end_idx);

/* Arms the turn timer whenever the active seat or the round changed since it was last armed. */
void game_arm_turn(struct game *g, struct game_battle *sb);

/* Applies one action to a running battle and tells everyone. On refusal nothing changes. */
battle_err game_act(struct game *g, struct game_battle *sb, uint8_t kind, uint8_t seat,
                    uint16_t arg, conn_id requester, bool has_rid, uint32_t rid);

/* Lets the server's opponent act: at once when ai_think_ms is 0 (bounded per call), else by arming
 * its think deadline. Then queues the battle's next deadline. */
void game_settle(struct game *g, struct game_battle *sb);

/* The ship table entry at idx (an index this shard chose, so always in range). */
const ships_ship *game_ship_at(const struct game *g, uint8_t idx);

/* Index of the ship with key, or of the default (the table's first ship) for "". -1 if unknown. */
int game_find_ship(const struct game *g, const char *key);

/* The server's opponent when the client names none: the Free Trader against a Scout and the
 * Scout against anything else (the reference's pairing), falling back to the player's own ship. */
int game_ai_ship_for(const struct game *g, int player);

/* Creates the engine battle and tells both seats; the seats in the announce mask (bit per seat) are
 * new to the net thread's bookkeeping. false (nothing sent) on an engine refusal. */
bool game_start_battle(struct game *g, struct game_battle *sb, unsigned announce,
                       const bool has_rid[2], const uint32_t rid[2]);

/* The seat (0, 1) conn c holds in sb, or -1 (also for c 0). */
int game_seat_of(const struct game_battle *sb, conn_id c);

/* Comparison that takes the same time wherever the first difference is: tokens are secrets. */
bool game_token_eq(const uint8_t *a, const uint8_t *b);

/* ---- game_requests.c ------------------------------------------------------------------------- */
/* Visits every battle in the pool; fn may release the battle it is given. */
void game_for_each_battle(struct game *g, void (*fn)(struct game *, struct game_battle *, void *),
                          void *arg);

/* for_each_battle callback: ends a running battle as "server shutdown" (the drain deadline). */
void game_shutdown_running(struct game *g, struct game_battle *sb, void *arg);

#endif
