/* proto/client/tracker: a battle as one client follows it from the server's events.
 *
 * pct_apply folds each event into a pct_battle: the seat we hold (or none), the resume token, both
 * ships (hull, ammunition, criticals), the missiles in flight, the band, the round and whose turn
 * it is, the last sequence number applied and how the battle ended. Pure data: no I/O, no clock,
 * no allocation. battle-cli (cli/view), battle-bench (bench/bb_policy) and the integration tests
 * (tests/integration/itest) all follow their battles with it, so they read the events alike.
 *
 * Rules (docs/PROTOCOL.md): `started` and `state` take the tracker over, whatever battle it
 * followed. Every other event counts only for the battle followed (same bid). A numbered event
 * (turn, round, attack, crit, mlaunch, mmove, mhit, pd_result, sand_result, ended, away, back,
 * timeout with a seq) whose seq is not above the last applied is a replay (after a resume) and
 * changes nothing. `moved` (cluster) is never applied: it says where to send a request, not what
 * happened in the battle. */
#ifndef BATTLED_PROTO_CLIENT_TRACKER_H
#define BATTLED_PROTO_CLIENT_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"

#define PCT_NO_SEAT (-1) /* pct_battle.seat of a spectator, or before any battle */

typedef struct pct_battle {
    uint64_t bid;                 /* battle followed; 0 = none */
    int8_t seat;                  /* our seat, 0 or 1, or PCT_NO_SEAT */
    uint8_t token[PROTO_TOKEN_LEN]; /* our seat's resume token (from started; kept by a state) */
    uint8_t band;                 /* proto_band */
    uint8_t active;               /* seat allowed to take the turn action now */
    uint16_t round;               /* 1.. once started; 0 before */
    uint16_t round_limit;
    uint32_t last_seq;            /* highest battle sequence number applied */
    bool have_ships;              /* ships[] came with a started or a state */
    bool ended;                   /* an `ended` came, or a state in phase ended */
    struct proto_ended end;       /* the `ended` event's body (zero after a state in phase ended) */
    struct proto_ship ships[PROTO_SEATS];
    uint8_t nmissiles;
    struct proto_missile missiles[PROTO_MAX_MISSILES]; /* in flight, both sides' */
} pct_battle;

typedef enum pct_result {
    PCT_OTHER = 0, /* not an event of the battle followed (or not a battle event): t unchanged */
    PCT_REPLAY,    /* a numbered event already applied: t unchanged */
    PCT_APPLIED,   /* folded into t */
} pct_result;

/* Empties t: no battle, no seat. */
void pct_init(pct_battle *t);

/* Folds ev into t; see the rules above. Returns what it did with it. */
pct_result pct_apply(pct_battle *t, const proto_event *ev);

/* True for the events of a battle's numbered stream (those a replay repeats), when seq is set. */
bool pct_numbered(const proto_event *ev);

/* Marks missile id as tried by point defense this round (the mark clears with the next round). */
void pct_pd_tried(pct_battle *t, uint32_t id);

#endif
