/* proto/client/tracker: a battle followed from its events. Feeds event sequences as the server
 * sends them and checks the state every client (cli, bench, integration tests) relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/client/tracker.h"

#define BID 4242u

static proto_event ev_of(int type, uint32_t seq)
{
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (uint8_t)type;
    ev.bid = BID;
    ev.seq = seq;
    return ev;
}

/* A scout (laser, missile launcher with 6 shots, rack of 12, sandcaster of 20) against a free
 * trader (one laser), we in seat `seat`, seat 0 first. */
static proto_event started(uint8_t seat, uint32_t seq)
{
    proto_event ev = ev_of(PROTO_T_STARTED, seq);
    struct proto_started *st = &ev.u.started;
    st->seat = seat;
    st->first = 0;
    st->band = PROTO_BAND_LONG;
    st->round_limit = 20;
    for (int i = 0; i < PROTO_TOKEN_LEN; i++)
        st->token[i] = (uint8_t)(0xA0 + i);
    struct proto_ship *a = &st->ships[0], *b = &st->ships[1];
    snprintf(a->type, sizeof a->type, "scout");
    a->hull = a->hull_max = 40;
    a->nweapons = 4;
    a->weapons[0] = (struct proto_weapon){"Pulse Laser", PROTO_WK_LASER, 2, -1, 0};
    a->weapons[1] = (struct proto_weapon){"Missiles", PROTO_WK_MISSILE, 4, 6, 2};
    a->weapons[2] = (struct proto_weapon){"Missile Rack", PROTO_WK_RACK, 0, 12, 0};
    a->weapons[3] = (struct proto_weapon){"Sandcaster", PROTO_WK_SAND, 0, 20, 0};
    snprintf(b->type, sizeof b->type, "free_trader");
    b->hull = b->hull_max = 80;
    b->nweapons = 1;
    b->weapons[0] = (struct proto_weapon){"Beam Laser", PROTO_WK_LASER, 3, -1, 0};
    return ev;
}

static void starts_from_started(void **state)
{
    (void)state;
    pct_battle t;
    pct_init(&t);
    assert_int_equal(t.bid, 0);
    assert_int_equal(t.seat, PCT_NO_SEAT);
    proto_event ev = started(0, 1);
    assert_int_equal(pct_apply(&t, &ev), PCT_APPLIED);
    assert_int_equal(t.bid, BID);
    assert_int_equal(t.seat, 0);
    assert_memory_equal(t.token, ev.u.started.token, PROTO_TOKEN_LEN);
    assert_int_equal(t.band, PROTO_BAND_LONG);
    assert_int_equal(t.round, 1);
    assert_int_equal(t.round_limit, 20);
    assert_int_equal(t.active, 0);
    assert_int_equal(t.last_seq, 1);
    assert_true(t.have_ships);
    assert_false(t.ended);
    assert_int_equal(t.ships[0].hull, 40);
    assert_int_equal(t.ships[1].hull_max, 80);
    assert_int_equal(t.ships[0].weapons[2].ammo, 12);
    assert_int_equal(t.nmissiles, 0);
}

/* moved (cluster) says where to send a request; it is not something that happened in the battle. */
static void ignores_moved(void **state)
{
    (void)state;
    pct_battle t;
    pct_init(&t);
    proto_event ev = started(0, 1);
    pct_apply(&t, &ev);
    pct_battle before = t;
    proto_event m;
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_MOVED;
    m.bid = BID;
    snprintf(m.u.moved.addr, sizeof m.u.moved.addr, "10.0.0.2:7400");
    assert_int_equal(pct_apply(&t, &m), PCT_OTHER);
    assert_memory_equal(&t, &before, sizeof t);
}

static void follows_turns_hulls_and_ammunition(void **state)
{
    (void)state;
    pct_battle t;
    pct_init(&t);
    proto_event ev = started(0, 1);
    pct_apply(&t, &ev);

    /* we fire the launcher (6 -> 5) and hit: the trader's hull */
    ev = ev_of(PROTO_T_ATTACK, 2);
    ev.u.attack.seat = 0;
    ev.u.attack.weapon = 1;
    ev.u.attack.hit = true;
    ev.u.attack.hull = 71;
    assert_int_equal(pct_apply(&t, &ev), PCT_APPLIED);
    assert_int_equal(t.ships[0].weapons[1].ammo, 5);
    assert_int_equal(t.ships[1].hull, 71);
    /* an unlimited weapon stays unlimited; a miss still says the target's hull */
    ev = ev_of(PROTO_T_ATTACK, 3);
    ev.u.attack.seat = 1;
    ev.u.attack.weapon = 0;
    ev.u.attack.hull = 39;
    assert_int_equal(pct_apply(&t, &ev), PCT_APPLIED);
    assert_int_equal(t.ships[1].weapons[0].ammo, -1);
    assert_int_equal(t.ships[0].hull, 39);

    ev = ev_of(PROTO_T_TURN, 4);
    ev.u.turn.round = 1;
    ev.u.turn.active = 1;
    pct_apply(&t, &ev);
    assert_int_equal(t.active, 1);

    ev = ev_of(PROTO_T_CRIT, 5);
    ev.u.crit.seat = 0;
    ev.u.crit.loc = PROTO_LOC_HULL;
    ev.u.crit.hull = 33;
    pct_apply(&t, &ev);
    assert_int_equal(t.ships[0].crits[PROTO_LOC_HULL], 1);
    assert_int_equal(t.ships[0].hull, 33);

    ev = ev_of(PROTO_T_SAND_RESULT, 6);
    ev.u.sand_result.seat = 0;
    ev.u.sand_result.left = 19;
    pct_apply(&t, &ev);
    assert_int_equal(t.ships[0].weapons[3].ammo, 19);

    ev = ev_of(PROTO_T_ROUND, 7);
    ev.u.round.round = 2;
    ev.u.round.active = 0;
    ev.u.round.hull[0] = 30;
    ev.u.round.hull[1] = 70;
    pct_apply(&t, &ev);
    assert_int_equal(t.round, 2);
    assert_int_equal(t.active, 0);
    assert_int_equal(t.ships[0].hull, 30);
    assert_int_equal(t.ships[1].hull, 70);
    assert_int_equal(t.last_seq, 7);
}

static void follows_missiles_and_point_defense(void **state)
{
    (void)state;
    pct_battle t;
    pct_init(&t);
    proto_event ev = started(1, 1);
    pct_apply(&t, &ev);

    /* seat 0 launches two, its rack says 10 left */
    for (uint32_t id = 1; id <= 2; id++) {
        ev = ev_of(PROTO_T_MLAUNCH, 1 + id);
        ev.u.mlaunch.seat = 0;
        ev.u.mlaunch.missile = id;
        ev.u.mlaunch.band = PROTO_BAND_LONG;
        ev.u.mlaunch.left = (uint8_t)(12 - id);
        pct_apply(&t, &ev);
    }
    assert_int_equal(t.nmissiles, 2);
    assert_int_equal(t.ships[0].weapons[2].ammo, 10);
    assert_int_equal(t.missiles[0].owner, 0);

    /* a missed point defense marks it tried; a hit forgets it */
    ev = ev_of(PROTO_T_PD_RESULT, 4);
    ev.u.pd_result.seat = 1;
    ev.u.pd_result.missile = 1;
    pct_apply(&t, &ev);
    assert_int_equal(t.nmissiles, 2);
    assert_true(t.missiles[0].pd_tried);
    ev = ev_of(PROTO_T_PD_RESULT, 5);
    ev.u.pd_result.seat = 1;
    ev.u.pd_result.missile = 2;
    ev.u.pd_result.ok = true;
    pct_apply(&t, &ev);
    assert_int_equal(t.nmissiles, 1);
    assert_int_equal(t.missiles[0].id, 1);

    /* it closes in; the next round clears the mark */
    ev = ev_of(PROTO_T_MMOVE, 6);
    ev.u.mmove.seat = 0;
    ev.u.mmove.missile = 1;
    ev.u.mmove.band = PROTO_BAND_MEDIUM;
    pct_apply(&t, &ev);
    assert_int_equal(t.missiles[0].band, PROTO_BAND_MEDIUM);
    pct_pd_tried(&t, 1);
    assert_true(t.missiles[0].pd_tried);
    ev = ev_of(PROTO_T_ROUND, 7);
    ev.u.round.round = 2;
    ev.u.round.hull[0] = 40;
    ev.u.round.hull[1] = 80;
    pct_apply(&t, &ev);
    assert_false(t.missiles[0].pd_tried);

    /* it strikes us */
    ev = ev_of(PROTO_T_MHIT, 8);
    ev.u.mhit.seat = 1;
    ev.u.mhit.missile = 1;
    ev.u.mhit.hull = 62;
    pct_apply(&t, &ev);
    assert_int_equal(t.nmissiles, 0);
    assert_int_equal(t.ships[1].hull, 62);
}

static void drops_replays_and_other_battles(void **state)
{
    (void)state;
    pct_battle t;
    pct_init(&t);
    proto_event ev = started(0, 1);
    pct_apply(&t, &ev);
    ev = ev_of(PROTO_T_TURN, 2);
    ev.u.turn.round = 1;
    ev.u.turn.active = 1;
    assert_int_equal(pct_apply(&t, &ev), PCT_APPLIED);

    /* the same numbered event again (a resume's replay) changes nothing */
    ev.u.turn.active = 0;
    assert_int_equal(pct_apply(&t, &ev), PCT_REPLAY);
    assert_int_equal(t.active, 1);
    assert_int_equal(t.last_seq, 2);
    /* so does the started event of the same battle */
    ev = started(0, 1);
    assert_int_equal(pct_apply(&t, &ev), PCT_REPLAY);
    assert_int_equal(t.last_seq, 2);

    /* another battle's events are not ours */
    ev = ev_of(PROTO_T_TURN, 9);
    ev.bid = BID + 1;
    ev.u.turn.active = 0;
    assert_int_equal(pct_apply(&t, &ev), PCT_OTHER);
    assert_int_equal(t.active, 1);
    assert_int_equal(t.last_seq, 2);

    assert_true(pct_numbered(&(proto_event){.type = PROTO_T_ATTACK, .seq = 3}));
    assert_false(pct_numbered(&(proto_event){.type = PROTO_T_ATTACK, .seq = 0}));
    assert_false(pct_numbered(&(proto_event){.type = PROTO_T_STARTED, .seq = 1}));
}

static void ends_and_takes_a_state(void **state)
{
    (void)state;
    pct_battle t;
    pct_init(&t);
    proto_event ev = started(1, 1);
    pct_apply(&t, &ev);
    uint8_t token[PROTO_TOKEN_LEN];
    memcpy(token, t.token, sizeof token);

    /* a resume answered with a full state: the seat keeps its token, the state's picture wins */
    ev = ev_of(PROTO_T_STATE, 12);
    struct proto_state *st = &ev.u.state;
    st->seat = 1;
    st->phase = PROTO_PHASE_RUNNING;
    st->band = PROTO_BAND_SHORT;
    st->round = 4;
    st->round_limit = 20;
    st->active = 1;
    st->ships[0] = started(1, 1).u.started.ships[0];
    st->ships[1] = started(1, 1).u.started.ships[1];
    st->ships[1].hull = 50;
    st->nmissiles = 1;
    st->missiles[0] = (struct proto_missile){9, 0, PROTO_BAND_SHORT, false};
    assert_int_equal(pct_apply(&t, &ev), PCT_APPLIED);
    assert_int_equal(t.seat, 1);
    assert_memory_equal(t.token, token, sizeof token);
    assert_int_equal(t.round, 4);
    assert_int_equal(t.band, PROTO_BAND_SHORT);
    assert_int_equal(t.ships[1].hull, 50);
    assert_int_equal(t.nmissiles, 1);
    assert_int_equal(t.missiles[0].id, 9);
    assert_int_equal(t.last_seq, 12);
    assert_false(t.ended);

    ev = ev_of(PROTO_T_ENDED, 13);
    ev.u.ended.reason = PROTO_END_DESTROYED;
    ev.u.ended.winner = 0;
    ev.u.ended.rounds = 4;
    ev.u.ended.hull[0] = 12;
    ev.u.ended.hull[1] = 0;
    assert_int_equal(pct_apply(&t, &ev), PCT_APPLIED);
    assert_true(t.ended);
    assert_int_equal(t.end.reason, PROTO_END_DESTROYED);
    assert_int_equal(t.end.winner, 0);
    assert_int_equal(t.end.rounds, 4);
    assert_int_equal(t.nmissiles, 0);
    assert_int_equal(t.ships[0].hull, 12);
    assert_int_equal(t.ships[1].hull, 0);

    /* a spectator's state: no seat, no token; a state in phase ended is an end */
    ev = ev_of(PROTO_T_STATE, 13);
    ev.u.state.seat = 2;
    ev.u.state.phase = PROTO_PHASE_ENDED;
    pct_apply(&t, &ev);
    assert_int_equal(t.seat, PCT_NO_SEAT);
    assert_true(t.ended);
    uint8_t zero[PROTO_TOKEN_LEN] = {0};
    assert_memory_equal(t.token, zero, sizeof zero);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_from_started),
        cmocka_unit_test(ignores_moved),
        cmocka_unit_test(follows_turns_hulls_and_ammunition),
        cmocka_unit_test(follows_missiles_and_point_defense),
        cmocka_unit_test(drops_replays_and_other_battles),
        cmocka_unit_test(ends_and_takes_a_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
