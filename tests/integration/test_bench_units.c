/* Unit tests of battle-bench's pure parts: the latency histogram (its percentiles are the numbers
 * people compare servers by) and the scripted player (every action it proposes must be legal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bench/bb_hist.h"
#include "bench/bb_policy.h"
#include "bench/bb_stats.h"

static bb_hist h, h2, d;

static void hist_buckets_are_contiguous_and_tight(void **state)
{
    (void)state;
    for (unsigned i = 0; i + 1 < BB_HIST_BUCKETS; i++) {
        assert_true(bb_hist_low(i) <= bb_hist_high(i));
        assert_int_equal(bb_hist_high(i) + 1, bb_hist_low(i + 1));
        /* relative width at most 1/64 above the exact range */
        if (bb_hist_low(i) >= 128)
            assert_true((bb_hist_high(i) - bb_hist_low(i) + 1) * 64 <= bb_hist_low(i));
    }
    assert_int_equal(bb_hist_high(BB_HIST_BUCKETS - 1), BB_HIST_MAX);
    uint64_t probes[] = {0, 1, 127, 128, 129, 255, 256, 1000, 123456789, BB_HIST_MAX};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        unsigned b = bb_hist_index(probes[i]);
        assert_true(b < BB_HIST_BUCKETS);
        assert_true(bb_hist_low(b) <= probes[i] && probes[i] <= bb_hist_high(b));
    }
}

static void hist_percentiles_match_the_data(void **state)
{
    (void)state;
    bb_hist_reset(&h);
    assert_int_equal(bb_hist_quantile(&h, 0.99), 0);
    /* 1..10000 us in ns: p50 = 5000 us, p99 = 9900 us, within the 1/64 bucket width, never below */
    for (uint64_t v = 1; v <= 10000; v++)
        bb_hist_add(&h, v * 1000);
    uint64_t p50 = bb_hist_quantile(&h, 0.5), p99 = bb_hist_quantile(&h, 0.99);
    assert_true(p50 >= 5000000 && p50 <= 5000000 + 5000000 / 64);
    assert_true(p99 >= 9900000 && p99 <= 9900000 + 9900000 / 64);
    assert_int_equal(bb_hist_quantile(&h, 1.0), 10000000);
    assert_int_equal(bb_hist_quantile(&h, 0.0), 1000);
    assert_true(bb_hist_quantile(&h, 0.999) <= h.max);
    assert_int_equal(h.count, 10000);
    assert_true(bb_hist_mean(&h) > 5000000 - 1 && bb_hist_mean(&h) < 5001000);
    /* one slow outlier among many fast: p99.9 must see it when it is 1 in 1000 */
    bb_hist_reset(&h);
    for (int i = 0; i < 999; i++)
        bb_hist_add(&h, 100000);
    bb_hist_add(&h, 50000000);
    assert_true(bb_hist_quantile(&h, 0.99) < 200000);
    assert_true(bb_hist_quantile(&h, 1.0) == 50000000);
    bb_hist_add(&h, BB_HIST_MAX + 5);
    assert_int_equal(h.clamped, 1);
}

static void hist_merge_and_diff_give_the_interval(void **state)
{
    (void)state;
    bb_hist_reset(&h);
    for (int i = 0; i < 100; i++)
        bb_hist_add(&h, 1000);
    h2 = h; /* snapshot */
    for (int i = 0; i < 100; i++)
        bb_hist_add(&h, 9000000);
    bb_hist_diff(&d, &h, &h2);
    assert_int_equal(d.count, 100);
    assert_true(bb_hist_quantile(&d, 0.5) >= 9000000);
    assert_true(d.min >= 8800000);
    bb_hist_reset(&h2);
    bb_hist_add(&h2, 7);
    bb_hist_merge(&h2, &h);
    assert_int_equal(h2.count, 201);
    assert_int_equal(h2.min, 7);
    assert_int_equal(h2.max, 9000000);
}

/* ---- the scripted player ---- */

static proto_event started(uint8_t seat, uint8_t first, uint8_t band)
{
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PROTO_T_STARTED;
    ev.bid = 42;
    ev.u.started.seat = seat;
    ev.u.started.first = first;
    ev.u.started.band = band;
    for (int s = 0; s < 2; s++) {
        struct proto_ship *sh = &ev.u.started.ships[s];
        snprintf(sh->type, sizeof sh->type, "scout");
        sh->hull = sh->hull_max = 40;
        sh->nweapons = 4;
        sh->weapons[0] = (struct proto_weapon){"Pulse Laser", PROTO_WK_LASER, 2, -1};
        sh->weapons[1] = (struct proto_weapon){"Missiles", PROTO_WK_MISSILE, 4, 1};
        sh->weapons[2] = (struct proto_weapon){"Missile Rack", PROTO_WK_RACK, 0, 1};
        sh->weapons[3] = (struct proto_weapon){"Sandcaster", PROTO_WK_SAND, 0, 1};
    }
    return ev;
}

static void policy_waits_for_its_turn_and_acts_once_per_round(void **state)
{
    (void)state;
    bb_view v;
    proto_event ev = started(1, 0, PROTO_BAND_SHORT);
    bb_view_start(&v, &ev);
    proto_request r;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE); /* seat 0 acts first */
    proto_event t;
    memset(&t, 0, sizeof t);
    t.type = PROTO_T_TURN;
    t.u.turn.round = 1;
    t.u.turn.active = 1;
    bb_view_apply(&v, &t);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_TURN);
    /* the weapon with the most dice that still has ammunition: Missiles (4D6, 1 round) */
    assert_int_equal(r.type, PROTO_T_FIRE);
    assert_int_equal(r.u.fire.weapon, 1);
    assert_int_equal(r.bid, 42);
    v.acted_round = v.round;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE);
    /* its shot spends the round: next time the laser */
    proto_event a;
    memset(&a, 0, sizeof a);
    a.type = PROTO_T_ATTACK;
    a.u.attack.seat = 1;
    a.u.attack.weapon = 1;
    bb_view_apply(&v, &a);
    assert_int_equal(v.wammo[1], 0);
    proto_event rd;
    memset(&rd, 0, sizeof rd);
    rd.type = PROTO_T_ROUND;
    rd.u.round.round = 2;
    rd.u.round.active = 1;
    rd.u.round.hull[0] = rd.u.round.hull[1] = 40;
    bb_view_apply(&v, &rd);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_TURN);
    assert_int_equal(r.type, PROTO_T_FIRE);
    assert_int_equal(r.u.fire.weapon, 0);
    /* nothing left to fire: end the turn */
    bb_view_weapon_empty(&v, 0);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_TURN);
    assert_int_equal(r.type, PROTO_T_END);
}

static void policy_launches_at_long_range_and_defends(void **state)
{
    (void)state;
    bb_view v;
    proto_event ev = started(0, 0, PROTO_BAND_LONG);
    bb_view_start(&v, &ev);
    proto_request r;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_TURN);
    assert_int_equal(r.type, PROTO_T_MISSILE);
    /* our launch empties the rack (1 missile): no second launch */
    proto_event m;
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_MLAUNCH;
    m.u.mlaunch.seat = 0;
    m.u.mlaunch.missile = 1;
    m.u.mlaunch.left = 0;
    bb_view_apply(&v, &m);
    assert_int_equal(v.wammo[2], 0);
    /* an incoming missile: point defense once this round, as a reaction, even when not our turn */
    v.acted_round = v.round;
    m.u.mlaunch.seat = 1;
    m.u.mlaunch.missile = 7;
    bb_view_apply(&v, &m);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_REACTION);
    assert_int_equal(r.type, PROTO_T_PD);
    assert_int_equal(r.u.pd.missile, 7);
    bb_view_pd_tried(&v, 7);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE);
    /* a new round allows another try; a destroyed missile is forgotten */
    v.round++;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_REACTION);
    proto_event pd;
    memset(&pd, 0, sizeof pd);
    pd.type = PROTO_T_PD_RESULT;
    pd.u.pd_result.seat = 0;
    pd.u.pd_result.missile = 7;
    pd.u.pd_result.ok = true;
    bb_view_apply(&v, &pd);
    assert_int_equal(v.nin, 0);
}

static void policy_uses_sand_only_when_hurt_and_close(void **state)
{
    (void)state;
    bb_view v;
    proto_event ev = started(0, 1, PROTO_BAND_CLOSE);
    bb_view_start(&v, &ev);
    proto_request r;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE); /* unhurt, not our turn */
    v.hull = 20;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_REACTION);
    assert_int_equal(r.type, PROTO_T_SAND);
    proto_event s;
    memset(&s, 0, sizeof s);
    s.type = PROTO_T_SAND_RESULT;
    s.u.sand_result.seat = 0;
    s.u.sand_result.left = 0;
    bb_view_apply(&v, &s);
    assert_int_equal(v.wammo[3], 0);
    v.round++;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE); /* no canisters left */
    /* out of band: no sand even when hurt */
    ev = started(0, 1, PROTO_BAND_SHORT);
    bb_view_start(&v, &ev);
    v.hull = 5;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE);
    proto_event e;
    memset(&e, 0, sizeof e);
    e.type = PROTO_T_ENDED;
    bb_view_apply(&v, &e);
    v.active = 0;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE);
}

static bb_stats sa, sb;

static void stats_merge_adds_counters_and_ships(void **state)
{
    (void)state;
    bb_stats_reset(&sa);
    bb_stats_reset(&sb);
    sa.finished = 3;
    sb.finished = 4;
    sb.failed = 1;
    sb.fail[BB_FAIL_TIMEOUT] = 1;
    bb_stats_ship(&sa, "scout", 1);
    bb_stats_ship(&sb, "free_trader", 0);
    bb_stats_ship(&sb, "scout", 0);
    bb_hist_add(&sb.lat_action, 5);
    bb_stats_merge(&sa, &sb);
    assert_int_equal(sa.finished, 7);
    assert_int_equal(sa.fail[BB_FAIL_TIMEOUT], 1);
    assert_string_equal(sa.ships[0].name, "scout");
    assert_int_equal(sa.ships[0].battles, 2);
    assert_int_equal(sa.ships[0].wins, 1);
    assert_string_equal(sa.ships[1].name, "free_trader");
    assert_int_equal(sa.lat_action.count, 1);
    assert_string_equal(bb_fail_name(BB_FAIL_DISCONNECT), "disconnect");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hist_buckets_are_contiguous_and_tight),
        cmocka_unit_test(hist_percentiles_match_the_data),
        cmocka_unit_test(hist_merge_and_diff_give_the_interval),
        cmocka_unit_test(policy_waits_for_its_turn_and_acts_once_per_round),
        cmocka_unit_test(policy_launches_at_long_range_and_defends),
        cmocka_unit_test(policy_uses_sand_only_when_hurt_and_close),
        cmocka_unit_test(stats_merge_adds_counters_and_ships),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
