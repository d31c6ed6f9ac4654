/* The network thread's counters (net/netstats.h), which the admin endpoint renders: the server runs
 * in this process and a blocking client drives it; every counter checked here is one an operator
 * reads to see a policy fire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "net/server.h"
#include "proto/codec.h"
#include "tests/integration/itest.h"
#include "app/launch.h"
#include "util/log.h"

static server *g_s;
static itest_server g_fake; /* only its port, for itest's client helpers */

static const net_stats *st(void)
{
    return server_stats(g_s);
}

/* Counters are written by the network thread; wait until one reaches `want`. */
static void wait_stat(_Atomic uint64_t *field, uint64_t want, const char *name)
{
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    while (atomic_load_explicit(field, memory_order_relaxed) < want) {
        if (itest_now_ms() > end)
            fail_msg("%s stayed at %llu, wanted %llu", name,
                     (unsigned long long)atomic_load(field), (unsigned long long)want);
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
#define WAIT_STAT(f, want) wait_stat((_Atomic uint64_t *)&st()->f, (want), #f)

static int setup(void **state)
{
    (void)state;
    static battled_config cfg;
    config_defaults(&cfg);
    char err[256], ships[512];
    const char *src = getenv("BATTLED_SOURCE_DIR");
    snprintf(ships, sizeof ships, "game.ships_file=%s/data/ships.toml", src ? src : ".");
    const char *sets[] = {"server.listen=127.0.0.1:0", "server.shards=2", "admin.listen=", "ws.listen=",
                          "ratelimit.actions_per_sec=1", "ratelimit.burst=1",
                          "ratelimit.abuse_refusals=0", "server.max_connections=4",
                          "server.drain_timeout_ms=100", "persistence.enabled=false", ships};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (config_set(&cfg, sets[i], err, sizeof err) != 0)
            return -1;
    log_init(LOG_LEVEL_WARN);
    g_s = launch_server(&cfg);
    if (!g_s)
        return -1;
    g_fake.port = server_port(g_s);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    server_drain(g_s);
    return server_wait(g_s) == 0 ? 0 : -1;
}

static void test_connections_frames_and_errors(void **state)
{
    (void)state;
    proto_event ev;
    uint64_t total0 = NET_STAT_GET(st(), conns_total);
    uint64_t in0 = NET_STAT_GET(st(), frames_in);
    pc_conn *c = itest_client(&g_fake, "stats");
    WAIT_STAT(conns_total, total0 + 1);
    assert_int_equal(NET_STAT_GET(st(), conns_current), 1);
    assert_true(pc_ping(c, 1) > 0);
    itest_expect(c, PROTO_T_PONG, &ev);
    WAIT_STAT(frames_in, in0 + 2);
    assert_true(NET_STAT_GET(st(), frames_out) >= 2);
    assert_true(NET_STAT_GET(st(), bytes_in) > 0 && NET_STAT_GET(st(), bytes_out) > 0);
    /* An error reply is counted under its code. */
    uint64_t e0 = NET_STAT_GET(st(), errors[PROTO_E_BAD_MSGPACK]);
    static const uint8_t bad[] = {0, 0, 0, 1, 0xc1};
    assert_int_equal(pc_send_raw(c, bad, sizeof bad), 0);
    itest_expect_error(c, PROTO_E_BAD_MSGPACK, &ev);
    WAIT_STAT(errors[PROTO_E_BAD_MSGPACK], e0 + 1);
    /* Closing by the peer is counted as such and the gauge comes back down. */
    uint64_t peer0 = NET_STAT_GET(st(), conns_closed[NET_CLOSE_PEER]);
    pc_close(c);
    WAIT_STAT(conns_closed[NET_CLOSE_PEER], peer0 + 1);
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    while (NET_STAT_GET(st(), conns_current) != 0 && itest_now_ms() < end) {
    }
    assert_int_equal(NET_STAT_GET(st(), conns_current), 0);
}

static void test_policy_counters(void **state)
{
    (void)state;
    proto_event ev;
    pc_conn *c = itest_client(&g_fake, "policies");
    /* Rate limit: burst 1, so the second action at once is refused and counted. */
    uint64_t rl0 = NET_STAT_GET(st(), ratelimit_refusals);
    uint64_t routed0 = NET_STAT_GET(st(), requests_routed);
    assert_true(pc_fire(c, 99, 0) > 0);
    assert_true(pc_fire(c, 99, 0) > 0);
    /* The refusal comes from the network thread, the other reply from a shard: any order. */
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        itest_expect(c, PROTO_T_ERROR, &ev);
        if (ev.u.error.code == PROTO_E_NO_SUCH_BATTLE)
            seen |= 1;
        else if (ev.u.error.code == PROTO_E_RATE_LIMITED)
            seen |= 2;
        else
            seen |= 4;
    }
    assert_int_equal(seen, 3);
    WAIT_STAT(ratelimit_refusals, rl0 + 1);
    assert_int_equal(NET_STAT_GET(st(), requests_routed), routed0 + 1);
    /* Lobby gauges and matches. */
    pc_conn *d = itest_client(&g_fake, "opponent");
    uint64_t m0 = NET_STAT_GET(st(), lobby_matches), b0 = NET_STAT_GET(st(), battles_created);
    assert_true(pc_queue(c, "scout", PROTO_BAND_SHORT) > 0);
    itest_expect(c, PROTO_T_QUEUED, &ev);
    assert_int_equal(NET_STAT_GET(st(), lobby_waiting), 1);
    assert_true(pc_queue(d, "scout", PROTO_BAND_SHORT) > 0);
    itest_expect(d, PROTO_T_STARTED, &ev);
    assert_int_equal(NET_STAT_GET(st(), lobby_waiting), 0);
    assert_int_equal(NET_STAT_GET(st(), lobby_matches), m0 + 1);
    assert_int_equal(NET_STAT_GET(st(), battles_created), b0 + 1);
    /* Oversized frame: the stream is closed as untrustworthy. */
    uint64_t bs0 = NET_STAT_GET(st(), conns_closed[NET_CLOSE_BAD_STREAM]);
    static const uint8_t big[] = {0x7f, 0, 0, 0};
    assert_int_equal(pc_send_raw(d, big, sizeof big), 0);
    itest_expect_error(d, PROTO_E_FRAME_TOO_LARGE, &ev);
    WAIT_STAT(conns_closed[NET_CLOSE_BAD_STREAM], bs0 + 1);
    pc_close(d);
    /* The connection cap (4): refusals are counted. */
    uint64_t ref0 = NET_STAT_GET(st(), conns_refused);
    pc_conn *x[4];
    int n = 0;
    while (n < 4 && NET_STAT_GET(st(), conns_refused) == ref0) {
        x[n++] = itest_connect(&g_fake);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    WAIT_STAT(conns_refused, ref0 + 1);
    for (int i = 0; i < n; i++)
        pc_close(x[i]);
    /* Replies for a connection that has gone are dropped and counted: a client that fires a
     * burst of requests and hangs up at once cannot receive the answers still in the shards. */
    uint64_t gone0 = NET_STAT_GET(st(), output_dropped_gone);
    uint64_t wake0 = NET_STAT_GET(st(), wakeups_sent), routed1 = NET_STAT_GET(st(), requests_routed);
    pc_conn *q = itest_client(&g_fake, "hangup");
    enum { N = 5000 };
    static uint8_t burst[N * 32];
    size_t off = 0;
    for (uint32_t i = 0; i < N; i++) {
        proto_request r;
        memset(&r, 0, sizeof r);
        r.type = PROTO_T_WATCH; /* not rate limited: every one reaches a shard */
        r.bid = 0x77 + i;
        size_t len = 0;
        assert_int_equal(proto_encode_request(burst + off, sizeof burst - off, &r, &len), PROTO_E_OK);
        off += len;
    }
    assert_int_equal(pc_send_raw(q, burst, off), 0);
    pc_close(q);
    WAIT_STAT(output_dropped_gone, gone0 + 1);
    /* No wakeup storm: the shards were woken once per loop pass, not once per request. */
    WAIT_STAT(requests_routed, routed1 + N);
    uint64_t wakes = NET_STAT_GET(st(), wakeups_sent) - wake0;
    print_message("%d requests routed with %llu shard wakeups\n", N, (unsigned long long)wakes);
    assert_true(wakes * 10 < N);
    /* The loop-lag probe runs. */
    WAIT_STAT(loop_lag_hist[0], 1);
    pc_close(c);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connections_frames_and_errors),
        cmocka_unit_test(test_policy_counters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
