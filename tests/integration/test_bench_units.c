/* Unit tests of battle-bench's pure parts: the latency histogram (its percentiles are the numbers
 * people compare servers by) and the scripted player (every action it proposes must be legal); its
 * command line for source addresses and TLS; and pcuv's source address (pcuv_opts.local), which a
 * listener on the same loop sees as the peer address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "bench/bb_hist.h"
#include "bench/bb_opts.h"
#include "bench/bb_policy.h"
#include "bench/bb_stats.h"
#include "proto/client/pcuv.h"

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
        sh->weapons[0] = (struct proto_weapon){"Pulse Laser", PROTO_WK_LASER, 2, -1, 0};
        sh->weapons[1] = (struct proto_weapon){"Missiles", PROTO_WK_MISSILE, 4, 1, 2};
        sh->weapons[2] = (struct proto_weapon){"Missile Rack", PROTO_WK_RACK, 0, 1, 0};
        sh->weapons[3] = (struct proto_weapon){"Sandcaster", PROTO_WK_SAND, 0, 1, 0};
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
    t.bid = 42;
    t.u.turn.round = 1;
    t.u.turn.active = 1;
    bb_view_apply(&v, &t);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_TURN);
    /* the weapon with the most dice that still has ammunition: Missiles (4D6, 1 round) */
    assert_int_equal(r.type, PROTO_T_FIRE);
    assert_int_equal(r.u.fire.weapon, 1);
    assert_int_equal(r.bid, 42);
    v.acted_round = v.t.round;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE);
    /* its shot spends the round: next time the laser */
    proto_event a;
    memset(&a, 0, sizeof a);
    a.type = PROTO_T_ATTACK;
    a.bid = 42;
    a.u.attack.seat = 1;
    a.u.attack.weapon = 1;
    bb_view_apply(&v, &a);
    assert_int_equal(v.t.ships[1].weapons[1].ammo, 0);
    proto_event rd;
    memset(&rd, 0, sizeof rd);
    rd.type = PROTO_T_ROUND;
    rd.bid = 42;
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
    m.bid = 42;
    m.u.mlaunch.seat = 0;
    m.u.mlaunch.missile = 1;
    m.u.mlaunch.left = 0;
    bb_view_apply(&v, &m);
    assert_int_equal(v.t.ships[0].weapons[2].ammo, 0);
    /* an incoming missile: point defense once this round, as a reaction, even when not our turn */
    v.acted_round = v.t.round;
    m.u.mlaunch.seat = 1;
    m.u.mlaunch.missile = 7;
    bb_view_apply(&v, &m);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_REACTION);
    assert_int_equal(r.type, PROTO_T_PD);
    assert_int_equal(r.u.pd.missile, 7);
    bb_view_pd_tried(&v, 7);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE);
    /* a new round allows another try; a destroyed missile is forgotten */
    proto_event rd;
    memset(&rd, 0, sizeof rd);
    rd.type = PROTO_T_ROUND;
    rd.bid = 42;
    rd.u.round.round = 2;
    rd.u.round.hull[0] = rd.u.round.hull[1] = 40;
    bb_view_apply(&v, &rd);
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_REACTION);
    proto_event pd;
    memset(&pd, 0, sizeof pd);
    pd.type = PROTO_T_PD_RESULT;
    pd.bid = 42;
    pd.u.pd_result.seat = 0;
    pd.u.pd_result.missile = 7;
    pd.u.pd_result.ok = true;
    bb_view_apply(&v, &pd);
    assert_int_equal(v.t.nmissiles, 1); /* ours is still in flight */
    assert_int_equal(v.t.missiles[0].id, 1);
}

static void policy_uses_sand_only_when_hurt_and_close(void **state)
{
    (void)state;
    bb_view v;
    proto_event ev = started(0, 1, PROTO_BAND_CLOSE);
    bb_view_start(&v, &ev);
    proto_request r;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE); /* unhurt, not our turn */
    v.t.ships[0].hull = 20;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_REACTION);
    assert_int_equal(r.type, PROTO_T_SAND);
    proto_event s;
    memset(&s, 0, sizeof s);
    s.type = PROTO_T_SAND_RESULT;
    s.bid = 42;
    s.u.sand_result.seat = 0;
    s.u.sand_result.left = 0;
    bb_view_apply(&v, &s);
    assert_int_equal(v.t.ships[0].weapons[3].ammo, 0);
    v.t.round++;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE); /* no canisters left */
    /* out of band: no sand even when hurt */
    ev = started(0, 1, PROTO_BAND_SHORT);
    bb_view_start(&v, &ev);
    v.t.ships[0].hull = 5;
    assert_int_equal(bb_policy_next(&v, 42, &r), BB_ACT_NONE);
    proto_event e;
    memset(&e, 0, sizeof e);
    e.type = PROTO_T_ENDED;
    e.bid = 42;
    bb_view_apply(&v, &e);
    v.t.active = 0;
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

static int parse(bb_opts *o, const char *const *args)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)"battle-bench";
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    return bb_opts_parse(o, n, argv);
}

static bb_opts opts;

static void opts_spread_sources_and_read_the_tls_port(void **state)
{
    (void)state;
    const char *a1[] = {"--sources", "3", NULL};
    assert_int_equal(parse(&opts, a1), 0);
    assert_int_equal(opts.nsources, 3);
    assert_int_equal(ntohl(opts.source[0].sin_addr.s_addr), 0x7f000001u);
    assert_int_equal(ntohl(opts.source[2].sin_addr.s_addr), 0x7f000003u);
    const char *a2[] = {"--source", "127.0.0.5,127.1.2.3", NULL};
    assert_int_equal(parse(&opts, a2), 0);
    assert_int_equal(opts.nsources, 2);
    assert_int_equal(ntohl(opts.source[1].sin_addr.s_addr), 0x7f010203u);
    const char *bad1[] = {"--source", "10.0.0.1", NULL};
    assert_int_equal(parse(&opts, bad1), -1);
    const char *bad2[] = {"--sources", "65", NULL};
    assert_int_equal(parse(&opts, bad2), -1);

    /* TLS: verification unless asked otherwise; the port file's second line is the TLS port */
    char pf[] = "/tmp/bb-units-port-XXXXXX";
    int fd = mkstemp(pf);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "1111\n2222\n", 10), 10);
    close(fd);
    const char *t0[] = {"--tls", "--port-file", pf, NULL};
    assert_int_equal(parse(&opts, t0), -1); /* neither --tls-ca nor --tls-insecure */
    const char *t1[] = {"--tls", "--tls-insecure", "--port-file", pf, NULL};
    assert_int_equal(parse(&opts, t1), 0);
    assert_true(opts.tls && opts.tls_insecure);
    assert_int_equal(ntohs(opts.target[0].sin_port), 2222);
    const char *t2[] = {"--port-file", pf, NULL};
    assert_int_equal(parse(&opts, t2), 0);
    assert_false(opts.tls);
    assert_int_equal(ntohs(opts.target[0].sin_port), 1111);
    const char *t3[] = {"--tls-insecure", NULL};
    assert_int_equal(parse(&opts, t3), -1); /* TLS settings without --tls */
    const char *t4[] = {"--tls", "--tls-ca", "/nonexistent/ca.pem", NULL};
    assert_int_equal(parse(&opts, t4), -1);
    unlink(pf);
}

/* pcuv_opts.local: a listener on 127.0.0.1 sees each connection come from the address asked for. */
#define SRC_CONNS 6
typedef struct {
    uv_loop_t loop;
    uv_tcp_t server;
    uv_tcp_t accepted[SRC_CONNS];
    uv_timer_t deadline;
    int naccepted, nconnected, nclosed;
    uint32_t peers[SRC_CONNS]; /* host order */
} src_test;

static void src_on_accept(uv_stream_t *server, int status)
{
    src_test *t = server->data;
    assert_int_equal(status, 0);
    assert_true(t->naccepted < SRC_CONNS);
    uv_tcp_t *a = &t->accepted[t->naccepted];
    uv_tcp_init(&t->loop, a);
    assert_int_equal(uv_accept(server, (uv_stream_t *)a), 0);
    struct sockaddr_in peer;
    int len = sizeof peer;
    assert_int_equal(uv_tcp_getpeername(a, (struct sockaddr *)&peer, &len), 0);
    t->peers[t->naccepted++] = ntohl(peer.sin_addr.s_addr);
}

static void src_on_connect(pcuv_conn *c, int status)
{
    src_test *t = pcuv_user(c);
    assert_int_equal(status, 0);
    t->nconnected++;
    pcuv_close(c);
}

static void src_on_close(pcuv_conn *c, int why)
{
    (void)why;
    src_test *t = pcuv_user(c);
    if (++t->nclosed == SRC_CONNS)
        uv_stop(&t->loop);
}

static void src_on_deadline(uv_timer_t *tm)
{
    uv_stop(tm->loop); /* the assertions below then say what is missing */
}

static void pcuv_connects_from_the_given_source_address(void **state)
{
    (void)state;
    static src_test t;
    memset(&t, 0, sizeof t);
    assert_int_equal(uv_loop_init(&t.loop), 0);
    struct sockaddr_in any, bound, src;
    uv_ip4_addr("127.0.0.1", 0, &any);
    uv_tcp_init(&t.loop, &t.server);
    t.server.data = &t;
    assert_int_equal(uv_tcp_bind(&t.server, (struct sockaddr *)&any, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&t.server, 16, src_on_accept), 0);
    int len = sizeof bound;
    assert_int_equal(uv_tcp_getsockname(&t.server, (struct sockaddr *)&bound, &len), 0);
    uv_timer_init(&t.loop, &t.deadline);
    uv_timer_start(&t.deadline, src_on_deadline, 5000, 0);

    static const pcuv_callbacks cb = {src_on_connect, NULL, src_on_close};
    for (int i = 0; i < SRC_CONNS; i++) {
        /* 127.0.0.2 and 127.0.0.3 alternately: Linux routes all of 127/8 to lo */
        uv_ip4_addr(i % 2 ? "127.0.0.3" : "127.0.0.2", 0, &src);
        pcuv_opts o = {.local = (const struct sockaddr *)&src};
        int err = 0;
        assert_non_null(pcuv_connect(&t.loop, (struct sockaddr *)&bound, &cb, &t, &o, &err));
    }
    uv_run(&t.loop, UV_RUN_DEFAULT);
    assert_int_equal(t.nconnected, SRC_CONNS);
    assert_int_equal(t.nclosed, SRC_CONNS);
    assert_int_equal(t.naccepted, SRC_CONNS);
    int from2 = 0, from3 = 0;
    for (int i = 0; i < SRC_CONNS; i++) {
        from2 += t.peers[i] == 0x7f000002u;
        from3 += t.peers[i] == 0x7f000003u;
    }
    assert_int_equal(from2, SRC_CONNS / 2);
    assert_int_equal(from3, SRC_CONNS / 2);

    /* an address this host does not have is refused at once, with no on_close */
    uv_ip4_addr("192.0.2.1", 0, &src);
    pcuv_opts o = {.local = (const struct sockaddr *)&src};
    int err = 0;
    pcuv_conn *c = pcuv_connect(&t.loop, (struct sockaddr *)&bound, &cb, &t, &o, &err);
    if (c) /* libuv may defer the bind error to the connect: then on_connect reports it */
        fail_msg("pcuv_connect from 192.0.2.1 succeeded");
    assert_int_equal(err, UV_EADDRNOTAVAIL);

    for (int i = 0; i < t.naccepted; i++)
        uv_close((uv_handle_t *)&t.accepted[i], NULL);
    uv_close((uv_handle_t *)&t.server, NULL);
    uv_close((uv_handle_t *)&t.deadline, NULL);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&t.loop), 0);
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
        cmocka_unit_test(opts_spread_sources_and_read_the_tls_port),
        cmocka_unit_test(pcuv_connects_from_the_given_source_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
