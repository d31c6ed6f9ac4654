/* bb_policy: what a scripted battle-bench player knows about its battle and which legal action it
 * takes next. Pure (no I/O, no clock): bb_view_apply folds the server's events into the view, and
 * bb_policy_next proposes one request from it.
 *
 * The script plays like a careful human: reactions first (point defense once per round against each
 * missile flying at it, the sandcaster once per round in Adjacent/Close when hurt), then its turn
 * action when it is the active seat and has not acted this round: a missile launch at Long or
 * farther while its rack has missiles, otherwise the fireable weapon with the most damage dice and
 * ammunition left, otherwise end turn. Ammunition is tracked from the events, so every request it
 * makes is legal unless the battle moved on while the request was in flight (a missile struck or a
 * round ended: the server then answers no_such_missile / reaction_used, which the bench counts as a
 * stale reaction, not a failure). */
#ifndef BATTLED_BENCH_BB_POLICY_H
#define BATTLED_BENCH_BB_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/client/tracker.h"
#include "proto/msg.h"

/* The battle as the events tell it (proto/client/tracker: our seat, both ships with their
 * ammunition, missiles in flight with their point-defense marks, band, round, whose turn), plus
 * what only the script keeps: the rounds it last acted and cast sand in. */
typedef struct bb_view {
    pct_battle t;
    uint16_t acted_round;  /* last round we took our turn action in */
    uint16_t sand_round;   /* last round we used the sandcaster in */
} bb_view;

/* Resets v from a "started" event (our seat, ship, band, first seat). */
void bb_view_start(bb_view *v, const proto_event *ev);

/* Folds one event of this battle into v (pct_apply, and our sand_result marks the sandcaster
 * used this round). */
void bb_view_apply(bb_view *v, const proto_event *ev);

/* Marks weapon w as empty (after an out_of_ammo refusal, so the script does not repeat it). */
void bb_view_weapon_empty(bb_view *v, unsigned w);

/* Marks the incoming missile as tried this round (after a stale-reaction refusal). */
void bb_view_pd_tried(bb_view *v, uint32_t missile);

/* Marks the sandcaster as used this round. */
void bb_view_sand_tried(bb_view *v);

typedef enum bb_act_class { BB_ACT_NONE = 0, BB_ACT_TURN, BB_ACT_REACTION } bb_act_class;

/* Proposes the next request for battle bid: fills *r (type, bid and body; no rid) and returns
 * BB_ACT_TURN or BB_ACT_REACTION, or BB_ACT_NONE when there is nothing to do now. */
bb_act_class bb_policy_next(const bb_view *v, uint64_t bid, proto_request *r);

#endif
