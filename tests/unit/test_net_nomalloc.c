/* The network thread allocates nothing per message in the steady state (issue 5), and the shards
 * nothing beyond one heap frame per battle start.
 *
 * How it is checked: this binary links malloc/calloc/realloc through -Wl,--wrap (tests/unit/net.cmake),
 * which counts every allocation made by battled's own code (the static libraries: net, shards, core,
 * proto, util), separately for the network thread (named "battled-net"). The server runs in this
 * process; the client runs in a forked child so its own allocations never reach the counters. After a
 * warm-up (a whole solo battle, pings, refused actions) the child repeats the same kinds of traffic
 * many times over (with --ws, through the WebSocket listener): the network thread's count must not move, and the whole server's may grow by at
 * most one per battle started (the "started" frame carries both full ship descriptions, too big for
 * an inline outbox slot, so the shard sends it as a heap frame that the network thread frees). The
 * network thread's own count is checked with server.inline_max=0; with it on, the network thread
 * also runs sleeping shards' messages (shards_run_inline) and so makes that per-battle allocation
 * itself, and the second test checks the same bounds for the whole server on that path. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/server.h"
#include "shards/shard.h"
#include "tests/integration/itest.h"
#include "app/launch.h"
#include "util/log.h"

#define MEASURED_BATTLES 5

static _Atomic uint64_t g_allocs;     /* all threads */
static _Atomic uint64_t g_net_allocs; /* the network thread */

static void count(void)
{
    atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
    char name[16];
    if (pthread_getname_np(pthread_self(), name, sizeof name) == 0 && strcmp(name, "battled-net") == 0)
        atomic_fetch_add_explicit(&g_net_allocs, 1, memory_order_relaxed);
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    count();
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    count();
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    count();
    return __real_realloc(p, n);
}

/* One round of traffic: a solo battle to its end, then pings and actions on a missing battle. */
static void traffic(pc_conn *c, int pings)
{
    proto_event ev;
    itest_player p;
    itest_player_init(&p, c);
    assert_true(pc_create(c, "free_trader", PROTO_BAND_ADJACENT, PROTO_VS_AI, "scout") > 0);
    itest_expect(c, PROTO_T_STARTED, &ev);
    itest_take_started(&p, &ev);
    itest_play(&p, NULL, 20000);
    for (int i = 0; i < pings; i++) {
        assert_true(pc_ping(c, (uint64_t)i) > 0);
        assert_true(pc_fire(c, 0x77, 0) > 0);
        itest_expect(c, PROTO_T_PONG, &ev);
        itest_expect_error(c, PROTO_E_NO_SUCH_BATTLE, &ev);
    }
}

static void child(int port_fd, int mark_fd, int ack_fd)
{
    uint16_t port = 0;
    if (read(port_fd, &port, sizeof port) != sizeof port)
        _exit(2);
    itest_server srv;
    memset(&srv, 0, sizeof srv);
    srv.port = port;
    pc_conn *c = itest_client(&srv, "nomalloc");
    char m = 'w', ack;
    traffic(c, 200); /* warm-up: pools, chunks and tables reach their working size */
    if (write(mark_fd, &m, 1) != 1 || read(ack_fd, &ack, 1) != 1)
        _exit(3);
    for (int i = 0; i < MEASURED_BATTLES; i++)
        traffic(c, 1000);
    m = 'd';
    if (write(mark_fd, &m, 1) != 1 || read(ack_fd, &ack, 1) != 1)
        _exit(4);
    pc_close(c);
    _exit(0);
}

/* Runs the server with the extra setting `inline_set`, lets the child play its warm-up and then the
 * measured phase, and returns the allocations counted during that phase: in all, on the network
 * thread, and the messages the network thread ran for sleeping shards (server.inline_max). */
static void measure(const char *inline_set, uint64_t *all, uint64_t *net, uint64_t *inline_msgs)
{
    int port_p[2], mark_p[2], ack_p[2];
    assert_int_equal(pipe(port_p), 0);
    assert_int_equal(pipe(mark_p), 0);
    assert_int_equal(pipe(ack_p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child(port_p[0], mark_p[1], ack_p[0]);

    static battled_config cfg;
    config_defaults(&cfg);
    char err[256];
    const char *src = getenv("BATTLED_SOURCE_DIR");
    char ships[512];
    snprintf(ships, sizeof ships, "game.ships_file=%s/data/ships.toml", src ? src : ".");
    /* With --ws the client comes through the WebSocket listener (itest_client upgrades). */
    const char *sets[] = {"server.listen=127.0.0.1:0", "server.shards=1", "admin.listen=",
                          itest_ws() ? "ws.listen=127.0.0.1:0" : "ws.listen=",
                          "ratelimit.actions_per_sec=0", "game.ai_think_ms=0",
                          /* the network path alone: no journal (on by default) */
                          "persistence.enabled=false", ships, inline_set};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        assert_int_equal(config_set(&cfg, sets[i], err, sizeof err), 0);
    log_init(LOG_LEVEL_WARN);
    server *s = launch_server(&cfg);
    assert_non_null(s);
    uint16_t port = itest_ws() ? server_ws_port(s) : server_port(s);
    assert_int_equal(write(port_p[1], &port, sizeof port), (ssize_t)sizeof port);

    char m, ack = 'k';
    assert_int_equal(read(mark_p[0], &m, 1), 1);
    assert_int_equal(m, 'w');
    uint64_t before = atomic_load(&g_allocs), net_before = atomic_load(&g_net_allocs);
    assert_int_equal(write(ack_p[1], &ack, 1), 1);
    assert_int_equal(read(mark_p[0], &m, 1), 1);
    assert_int_equal(m, 'd');
    uint64_t after = atomic_load(&g_allocs), net_after = atomic_load(&g_net_allocs);
    assert_int_equal(write(ack_p[1], &ack, 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    const net_stats *st = server_stats(s);
    *inline_msgs = atomic_load(&server_shard_stats(s, 0)->inline_msgs);
    print_message("%s: measured phase: %llu allocations in all, %llu on the network thread, "
                  "%d battles, %llu frames in since start, %llu messages run inline\n", inline_set,
                  (unsigned long long)(after - before), (unsigned long long)(net_after - net_before),
                  MEASURED_BATTLES, (unsigned long long)NET_STAT_GET(st, frames_in),
                  (unsigned long long)*inline_msgs);
    /* The thread filter works: accepting the client allocated its connection on that thread. */
    assert_true(net_before > 0);
    *all = after - before;
    *net = net_after - net_before;
    server_drain(s);
    assert_int_equal(server_wait(s), 0);
}

/* Shard threads always woken: the network thread runs only its own code and allocates nothing. */
static void test_steady_state_allocates_nothing(void **state)
{
    (void)state;
    uint64_t all, net, inl;
    measure("server.inline_max=0", &all, &net, &inl);
    assert_int_equal(inl, 0);
    assert_int_equal(net, 0);
    assert_true(all <= MEASURED_BATTLES);
}

/* The default: a client alone on the server finds its shard asleep, so the network thread runs the
 * shard's messages itself; still nothing per message, only the shard's heap frame per battle start
 * (now allocated on the network thread). */
static void test_inline_allocates_only_battle_frames(void **state)
{
    (void)state;
    uint64_t all, net, inl;
    measure("server.inline_max=32", &all, &net, &inl);
    assert_true(inl > 1000); /* the inline path did run the measured traffic */
    assert_true(all <= MEASURED_BATTLES);
    assert_true(net <= MEASURED_BATTLES);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv); /* --ws */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_state_allocates_nothing),
        cmocka_unit_test(test_inline_allocates_only_battle_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
