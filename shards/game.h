/* game: what one shard does with its battles: create, join, watch, resume, actions, timers, drain.
 *
 * The work is split by job (game_int.h lists the files); recovery rebuilds battles in recover.c.
 *
 * Everything here runs on the shard's own thread and touches only this shard's state: the battle
 * pool and id table, the timer heap, the spectator lists and the outbox. shards.c feeds it inbox
 * messages and timer ticks with the loop's clock; it answers through the outbox only.
 *
 * Memory: battles come from a pool grown in chunks of GAME_POOL_CHUNK (never freed until the shard
 * stops, reused through a free list), spectators from chunked lists, frames are encoded into one
 * per-shard scratch buffer and copied into outbox slots, so the steady state allocates nothing. */
#ifndef BATTLED_SHARDS_GAME_H
#define BATTLED_SHARDS_GAME_H

#include <stdbool.h>
#include <stdint.h>

#include "core/battle.h"
#include "core/ships.h"
#include "shards/btable.h"
#include "journal/journal.h"
#include "shards/outbox.h"
#include "shards/persist.h"
#include "shards/shard.h"
#include "shards/srand.h"
#include "shards/theap.h"

#define GAME_POOL_CHUNK 256       /* battles per pool chunk */
#define GAME_SPEC_PER_CHUNK 6     /* spectators per list chunk */
#define GAME_SCRATCH (16u << 10)  /* encode buffer: bigger than any frame we send */
#define GAME_AI_STEPS_MAX 32      /* AI actions applied back to back before yielding to the loop */
#define GAME_NO_DEADLINE UINT64_MAX

struct game_cfg {
    uint32_t turn_timer_ms;    /* 0 = off */
    uint32_t resume_window_ms;
    uint32_t idle_battle_ms;   /* 0 = off */
    uint32_t finished_keep_ms;
    uint32_t ai_think_ms;      /* 0 = the AI acts at once */
    uint32_t max_spectators;
    uint16_t round_limit;      /* 0 = core's default */
    const ships_table *ships;  /* shared, read-only */
};

enum game_phase { GAME_FREE = 0, GAME_WAITING, GAME_RUNNING, GAME_ENDED };

struct game_seat {
    conn_id conn;       /* 0 when nobody holds it (away, AI, open) */
    uint64_t resume_deadline; /* when away: the seat forfeits at this time */
    uint8_t token[SHARD_TOKEN_BYTES];
    bool ai;            /* played by the server's opponent */
    bool away;          /* a player held it and its connection went */
    bool silent;        /* away since a restart and the engine not told yet (recover.c) */
    bool taken;         /* someone (player or AI) has this seat */
    bool has_key;       /* the create, join or queue that took the seat carried a "key" */
    uint8_t ship;       /* index into the ship table */
    uint8_t key[PROTO_TOKEN_LEN]; /* that key: a repeat with it gets this seat again */
};

struct game_battle {
    uint64_t id;
    uint8_t phase;               /* enum game_phase */
    uint8_t band;
    uint8_t turn_key_active;     /* active seat when the turn timer was last armed */
    uint16_t turn_key_round;     /* round when the turn timer was last armed */
    uint16_t nspect;
    uint32_t idx;                /* own index in the pool */
    uint32_t heap_pos;           /* THEAP_NONE when no deadline is queued */
    uint32_t next_free;          /* pool free list */
    uint32_t spect_head;         /* first spectator chunk, UINT32_MAX = none */
    uint64_t created_ms;
    uint64_t last_action_ms;     /* idle disposal counts from here */
    uint64_t turn_deadline;      /* GAME_NO_DEADLINE = none */
    uint64_t ai_deadline;
    uint64_t keep_deadline;
    uint64_t jseq;               /* actions journaled since the battle's CREATED record */
    /* Wire numbering after recoveries (persist.h, MARK): an engine event with seq s goes out as
     * s + seq_off when s > seq_split, else s + seq_off_before (exact for the events since the
     * previous recovery, which are all a resume ever replays). All 0 for a battle never
     * recovered: wire seq = engine seq. */
    uint32_t seq_split, seq_off, seq_off_before;
    struct game_seat seat[2];
    battle b;                    /* engine state (valid from RUNNING on) */
};

struct game_spec_chunk {
    conn_id c[GAME_SPEC_PER_CHUNK];
    uint32_t n;
    uint32_t next;
};

struct game {
    struct game_cfg cfg;
    struct outbox *out;
    struct shard_stats *stats;
    struct srand rnd;
    uint64_t now; /* ms, the loop's clock, set by every entry point */

    struct btable ids;
    struct game_battle **chunks; /* pool: chunk i holds battles i*GAME_POOL_CHUNK.. */
    uint32_t nchunks, free_head, nbattles;
    uint32_t nrunning, nwaiting, nended;

    struct game_spec_chunk *spec; /* spectator chunk pool */
    uint32_t nspec, spec_cap, spec_free;

    struct theap heap;

    bool draining;
    bool suspended; /* restart: battles frozen as they are; only admin messages are answered */
    bool stopped_sent;
    uint64_t drain_deadline;

    journal *jn;     /* this shard's journal (persistence.enabled), NULL when off */
    bool refuse_new; /* the journal is failing: no new battles (set by shards.c every pass) */

    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    battle_event hist[BATTLE_HISTORY + 1];
    uint8_t scratch[GAME_SCRATCH];
    uint8_t jbuf[PERSIST_CREATED_MAX];
};

/* Initialises g (big: allocate it). 0, or -1 when out of memory or no randomness. */
int game_init(struct game *g, const struct game_cfg *cfg, struct outbox *out,
              struct shard_stats *stats);
/* Frees everything; battles are dropped without events. */
void game_free(struct game *g);

/* Handles one inbox message other than STOP at time now (ms). */
void game_handle(struct game *g, const struct shard_in *m, uint64_t now);

/* Runs every deadline that is due at now. */
void game_tick(struct game *g, uint64_t now);

/* The earliest pending deadline, or GAME_NO_DEADLINE. */
uint64_t game_next_deadline(const struct game *g);

#endif
