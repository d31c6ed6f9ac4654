/* Integration: graceful drain. SIGTERM stops accepting, closes the queue, tells every client the
 * server is going away, lets running battles go on up to server.drain_timeout_ms, ends the rest as
 * "shutdown", flushes, and exits 0. Run with --shards 1 and --shards 4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/itest.h"

static void test_drain_ends_battles_as_shutdown(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"server.drain_timeout_ms=500", "game.ai_think_ms=0",
                                       "server.on_sigterm=drain", NULL};
    assert_true(itest_start(&srv, sets));
    proto_event ev;

    /* Two running battles (one private between players, one solo), one spectator, one queued
     * player, and one idle connection. */
    pc_conn *a = itest_client(&srv, "a"), *b = itest_client(&srv, "b");
    assert_true(pc_create(a, "scout", PROTO_BAND_LONG, PROTO_VS_PLAYER, "") > 0);
    itest_expect(a, PROTO_T_CREATED, &ev);
    uint64_t bid = ev.bid;
    assert_true(pc_join(b, bid, "free_trader") > 0);
    itest_expect(b, PROTO_T_STARTED, &ev);
    itest_expect(a, PROTO_T_STARTED, &ev);
    pc_conn *s = itest_client(&srv, "spectator");
    assert_true(pc_watch(s, bid) > 0);
    itest_expect(s, PROTO_T_STATE, &ev);
    pc_conn *solo = itest_client(&srv, "solo");
    assert_true(pc_create(solo, "scout", PROTO_BAND_DISTANT, PROTO_VS_AI, "") > 0);
    itest_expect(solo, PROTO_T_STARTED, &ev);
    uint64_t solo_bid = ev.bid;
    pc_conn *q = itest_client(&srv, "queued");
    int64_t qrid = pc_queue(q, "scout", PROTO_BAND_MEDIUM);
    itest_expect(q, PROTO_T_QUEUED, &ev);
    pc_conn *idle = itest_client(&srv, "idle");

    uint64_t t0 = itest_now_ms();
    kill(srv.pid, SIGTERM);

    /* Everyone hears that the server is going away; the queued player's entry is refused. */
    itest_expect_error(q, PROTO_E_SERVER_DRAINING, &ev);
    assert_true(ev.has_rid);
    assert_int_equal(ev.rid, (uint32_t)qrid);
    itest_expect_error(idle, PROTO_E_SERVER_DRAINING, &ev);
    /* No new battles while draining. */
    assert_true(pc_create(idle, "scout", PROTO_BAND_SHORT, PROTO_VS_AI, "") > 0);
    itest_expect_error(idle, PROTO_E_SERVER_DRAINING, &ev);
    /* Nobody acts, so after the grace period the battles end as shutdown, for every seat and the
     * spectator. */
    pc_conn *told[] = {a, b, s};
    for (int i = 0; i < 3; i++) {
        itest_expect_error(told[i], PROTO_E_SERVER_DRAINING, &ev);
        do
            itest_expect(told[i], PROTO_T_ENDED, &ev);
        while (ev.bid != bid);
        assert_int_equal(ev.u.ended.reason, PROTO_END_SHUTDOWN);
        assert_int_equal(ev.u.ended.winner, -1);
    }
    itest_expect_error(solo, PROTO_E_SERVER_DRAINING, &ev);
    do
        itest_expect(solo, PROTO_T_ENDED, &ev);
    while (ev.bid != solo_bid);
    assert_int_equal(ev.u.ended.reason, PROTO_END_SHUTDOWN);
    assert_true(itest_now_ms() - t0 >= 400);
    /* Then every connection is closed and the process exits 0. */
    pc_conn *all[] = {a, b, s, solo, q, idle};
    for (int i = 0; i < 6; i++) {
        assert_true(itest_wait_closed(all[i], ITEST_WAIT_MS));
        pc_close(all[i]);
    }
    int rc = itest_stop(&srv, 0, 10000);
    if (rc != 0)
        itest_dump_log(&srv);
    assert_int_equal(rc, 0);
    /* The port no longer accepts. */
    assert_null(pc_connect("127.0.0.1", srv.port, 500, 0));
    itest_cleanup(&srv);
}

static void test_running_battle_may_finish_during_drain(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"server.drain_timeout_ms=20000", NULL};
    assert_true(itest_start(&srv, sets));
    proto_event ev;
    itest_player a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.c = itest_client(&srv, "a");
    b.c = itest_client(&srv, "b");
    assert_true(pc_create(a.c, "scout", PROTO_BAND_ADJACENT, PROTO_VS_PLAYER, "") > 0);
    itest_expect(a.c, PROTO_T_CREATED, &ev);
    assert_true(pc_join(b.c, ev.bid, "free_trader") > 0);
    itest_expect(b.c, PROTO_T_STARTED, &ev);
    b.t.bid = ev.bid;
    b.t.seat = ev.u.started.seat;
    itest_track(&b, &ev);
    itest_expect(a.c, PROTO_T_STARTED, &ev);
    a.t.bid = ev.bid;
    a.t.seat = ev.u.started.seat;
    itest_track(&a, &ev);
    kill(srv.pid, SIGUSR1); /* drains whatever server.on_sigterm says */
    itest_expect_error(a.c, PROTO_E_SERVER_DRAINING, &ev);
    itest_expect_error(b.c, PROTO_E_SERVER_DRAINING, &ev);
    /* The battle is played out inside the grace period and ends on its own terms; once no battle
     * is left the server exits without waiting for the deadline. */
    itest_play(&a, &b, 15000);
    assert_int_equal(a.t.end.reason, PROTO_END_DESTROYED);
    assert_true(itest_wait_closed(a.c, ITEST_WAIT_MS));
    assert_true(itest_wait_closed(b.c, ITEST_WAIT_MS));
    int rc = itest_stop(&srv, 0, 10000);
    if (rc != 0)
        itest_dump_log(&srv);
    assert_int_equal(rc, 0);
    pc_close(a.c);
    pc_close(b.c);
    itest_cleanup(&srv);
}

/* A second signal hurries the drain: running battles end as shutdown at once, not at the deadline. */
static void test_second_signal_hurries(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"server.drain_timeout_ms=60000", "server.on_sigterm=drain",
                                       NULL};
    assert_true(itest_start(&srv, sets));
    proto_event ev;
    pc_conn *a = itest_client(&srv, "a");
    assert_true(pc_create(a, "scout", PROTO_BAND_SHORT, PROTO_VS_AI, "") > 0);
    itest_expect(a, PROTO_T_STARTED, &ev);
    uint64_t t0 = itest_now_ms();
    kill(srv.pid, SIGTERM);
    itest_expect_error(a, PROTO_E_SERVER_DRAINING, &ev);
    kill(srv.pid, SIGINT);
    itest_expect(a, PROTO_T_ENDED, &ev);
    assert_int_equal(ev.u.ended.reason, PROTO_END_SHUTDOWN);
    assert_true(itest_wait_closed(a, ITEST_WAIT_MS));
    int rc = itest_stop(&srv, 0, 10000);
    if (rc != 0)
        itest_dump_log(&srv);
    assert_int_equal(rc, 0);
    assert_true(itest_now_ms() - t0 < 10000);
    pc_close(a);
    itest_cleanup(&srv);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_ends_battles_as_shutdown),
        cmocka_unit_test(test_running_battle_may_finish_during_drain),
        cmocka_unit_test(test_second_signal_hurries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
