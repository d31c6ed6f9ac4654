/* Stress (label "stress"; .ci/run runs it under ThreadSanitizer): many battles at once across four
 * shards through the real binary. Gateway-style connections hold several solo battles each, and
 * pairs from the matchmaking queue play against each other; every battle must end by destruction or
 * draw with a gap-free event sequence, and the server must then drain and exit 0. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/itest.h"

#define GATEWAYS 16
#define SOLO_PER_GATEWAY 16
#define PAIRS 32
#define NCONN (GATEWAYS + 2 * PAIRS)
#define NBATTLE_SEATS (GATEWAYS * SOLO_PER_GATEWAY + 2 * PAIRS)
#define STRESS_MS 90000

static itest_player g_p[NBATTLE_SEATS];
static int g_np;

static itest_player *find(pc_conn *c, uint64_t bid)
{
    for (int i = 0; i < g_np; i++)
        if (g_p[i].c == c && g_p[i].t.bid == bid)
            return &g_p[i];
    return NULL;
}

static void on_event(pc_conn *c, const proto_event *ev)
{
    itest_player *p = find(c, ev->bid);
    if (ev->type == PROTO_T_STARTED && !p) {
        assert_true(g_np < NBATTLE_SEATS);
        p = &g_p[g_np++];
        itest_player_init(p, c);
        p->t.bid = ev->bid; /* itest_track below takes the rest from the started event */
    }
    if (ev->type == PROTO_T_ERROR)
        fail_msg("error %s (%s) for battle %llu", proto_error_name(ev->u.error.code), ev->u.error.msg,
                 (unsigned long long)ev->bid);
    if (!p)
        return; /* queued, welcome, ... */
    itest_track(p, ev);
    itest_act(p);
}

static void test_many_battles(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"game.ai_think_ms=0", "server.max_seats_per_conn=32", NULL};
    assert_true(itest_start(&srv, sets));
    pc_conn *c[NCONN];
    for (int i = 0; i < NCONN; i++)
        c[i] = itest_client(&srv, "stress");
    for (int g = 0; g < GATEWAYS; g++)
        for (int k = 0; k < SOLO_PER_GATEWAY; k++)
            assert_true(pc_create(c[g], k % 2 ? "scout" : "free_trader", (proto_band)(k % 3),
                                  PROTO_VS_AI, k % 2 ? "free_trader" : "scout") > 0);
    for (int i = GATEWAYS; i < NCONN; i++)
        assert_true(pc_queue(c[i], i % 2 ? "scout" : "free_trader", PROTO_BAND_ADJACENT) > 0);

    uint64_t end = itest_now_ms() + STRESS_MS;
    for (;;) {
        int ended = 0;
        for (int i = 0; i < g_np; i++)
            ended += g_p[i].t.ended;
        if (g_np == NBATTLE_SEATS && ended == g_np)
            break;
        if (itest_now_ms() >= end)
            fail_msg("%d of %d seats saw their battle end in time", ended, g_np);
        struct pollfd pfd[NCONN];
        for (int i = 0; i < NCONN; i++) {
            proto_event ev;
            int r;
            while ((r = pc_recv(c[i], &ev, 0)) == 1)
                on_event(c[i], &ev);
            if (r < 0)
                fail_msg("connection %d closed", i);
            pfd[i].fd = pc_fd(c[i]);
            pfd[i].events = POLLIN;
        }
        poll(pfd, NCONN, 20);
    }
    uint32_t actions = 0, events = 0;
    for (int i = 0; i < g_np; i++) {
        itest_player *p = &g_p[i];
        actions += p->actions;
        events += p->nseq;
        assert_true(p->t.end.reason == PROTO_END_DESTROYED ||
                    p->t.end.reason == PROTO_END_DRAW);
        assert_int_equal(p->seqs[0], 1);
        for (uint32_t k = 1; k < p->nseq; k++)
            assert_int_equal(p->seqs[k], p->seqs[k - 1] + 1);
    }
    /* Every seat took turns: a battle that ended without play would show here. */
    assert_true(actions >= (uint32_t)g_np);
    print_message("%d seats, %u turn actions, %u events\n", g_np, actions, events);
    for (int i = 0; i < NCONN; i++)
        pc_close(c[i]);
    assert_int_equal(itest_finish(&srv, 20000), 0);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_battles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
