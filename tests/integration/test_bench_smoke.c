/* Smoke test of battle-bench against the real battled: each way of playing (lobby, create/join with
 * several battles per connection, solo against the server's opponent), over TLS (verifying the
 * server's certificate) and from two source addresses, plays real battles to their end for a couple
 * of seconds, without a failed battle, and the JSON report says so. Every server gets a TLS listener
 * too (itest's TLS mode); the clear-text runs use the port file's first line.
 * Usage (from ctest): test_bench_smoke BATTLED_BINARY --bench BATTLE_BENCH_BINARY [--shards N]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/itest.h"

#define SMOKE_DEADLINE_S 60 /* one bench run, server start included, must end within this */

static const char *g_bench = "battle-bench";

/* Reads a whole small file into a static buffer. */
static const char *slurp(const char *path)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* The first number after "key": in json (the first run's figure). */
static double num(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    assert_non_null(p);
    return strtod(p + strlen(pat), NULL);
}

/* Runs the bench with extra args against s (its TLS port, trusting its certificate, when tls);
 * returns its exit status, JSON in json_path. */
static int run_bench(const itest_server *s, bool tls, const char *json_path, const char *const *extra)
{
    char port[16], pid[16], ca[200];
    snprintf(port, sizeof port, "127.0.0.1:%u", tls ? s->tls_port : s->plain_port);
    snprintf(ca, sizeof ca, "%s/cert.pem", s->dir); /* itest's TLS mode wrote it there */
    snprintf(pid, sizeof pid, "%d", (int)s->pid);
    const char *argv[40];
    int n = 0;
    argv[n++] = g_bench;
    argv[n++] = "--server";
    argv[n++] = port;
    argv[n++] = "--server-pid";
    argv[n++] = pid;
    argv[n++] = "--json";
    argv[n++] = json_path;
    argv[n++] = "--quiet";
    if (tls) {
        argv[n++] = "--tls";
        argv[n++] = "--tls-ca";
        argv[n++] = ca;
        argv[n++] = "--tls-name";
        argv[n++] = "localhost";
    }
    for (int i = 0; extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        alarm(SMOKE_DEADLINE_S); /* a hung bench dies rather than hang ctest */
        execv(g_bench, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Plays with the bench's extra args against a fresh server; returns nothing, asserts success. With
 * ws the bench speaks WebSocket to the server's ws port (wss with tls). */
static void play_ws(const char *const *extra, bool ais, bool tls, bool ws)
{
    itest_server s;
    char set_wsport[200], wsport[160];
    snprintf(wsport, sizeof wsport, "/tmp/battled-bench-ws-%d", (int)getpid());
    snprintf(set_wsport, sizeof set_wsport, "ws.port_file=%s", wsport);
    const char *sets[] = {"log.level=warn", "ws.listen=127.0.0.1:0", "ws.tls_listen=127.0.0.1:0",
                          set_wsport, ais ? "game.ai_think_ms=0" : NULL, NULL};
    if (!ws)
        sets[1] = NULL;
    assert_true(itest_start(&s, sets));
    if (ws) {
        /* The bench dials the ws (or wss) port in place of the game port. */
        FILE *f = fopen(wsport, "r");
        unsigned wp = 0, wsp = 0;
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%u %u", &wp, &wsp), 2);
        fclose(f);
        unlink(wsport);
        s.plain_port = (uint16_t)wp;
        s.tls_port = (uint16_t)wsp;
    }
    char json_path[200];
    snprintf(json_path, sizeof json_path, "%s/bench.json", s.dir);
    assert_true(s.tls_port != 0);
    int rc = run_bench(&s, tls, json_path, extra);
    const char *json = slurp(json_path);
    if (rc != 0 || !json) {
        itest_dump_log(&s);
        itest_cleanup(&s);
        fail_msg("battle-bench exited with %d", rc);
    }
    double finished = num(json, "battles_finished"), failed = num(json, "battles_failed");
    double actions = num(json, "actions"), p99 = num(json, "p99_ms");
    double rss = num(json, "rss_end");
    printf("# finished %.0f failed %.0f actions %.0f p99 %.3f ms server rss %.0f\n", finished, failed,
           actions, p99, rss);
    if (finished < 1 || failed != 0)
        fputs(json, stderr);
    assert_true(finished >= 1);
    assert_true(failed == 0);
    assert_true(actions >= finished);
    assert_true(p99 > 0);
    assert_true(rss > 0); /* --server-pid was read */
    assert_non_null(strstr(json, "\"timeline\": ["));
    assert_non_null(strstr(json, tls ? "\"tls\": true" : "\"tls\": false"));
    assert_non_null(strstr(json, ws ? "\"ws\": true" : "\"ws\": false"));
    assert_int_equal(itest_stop(&s, SIGTERM, 10000), 0);
    itest_cleanup(&s);
}

static void play_on(const char *const *extra, bool ais, bool tls)
{
    play_ws(extra, ais, tls, false);
}

static void play(const char *const *extra, bool ais)
{
    play_on(extra, ais, false);
}

static void bench_plays_matched_battles(void **state)
{
    (void)state;
    const char *extra[] = {"--mode", "match", "--battles", "20", "--think", "0", "--duration", "2",
                           "--grace", "10", "--band", "long", NULL};
    play(extra, false);
}

static void bench_plays_created_battles_multiplexed(void **state)
{
    (void)state;
    const char *extra[] = {"--mode", "create", "--battles", "16", "--per-conn", "4", "--think", "5",
                           "--duration", "2", "--grace", "10", "--band", "close", "--threads", "2", NULL};
    play(extra, false);
}

static void bench_plays_solo_battles(void **state)
{
    (void)state;
    const char *extra[] = {"--mode", "solo", "--battles", "10", "--per-conn", "5", "--think", "0",
                           "--duration", "2", "--grace", "10", NULL};
    play(extra, true);
}

static void bench_plays_over_tls_verifying_the_server(void **state)
{
    (void)state;
    const char *extra[] = {"--mode", "match", "--battles", "10", "--think", "0", "--duration", "2",
                           "--grace", "10", "--band", "long", "--threads", "2", NULL};
    play_on(extra, false, true);
}

static void bench_plays_over_websocket(void **state)
{
    (void)state;
    const char *extra[] = {"--ws", "--mode", "match", "--battles", "10", "--think", "0", "--duration",
                           "2", "--grace", "10", "--band", "long", NULL};
    play_ws(extra, false, false, true);
    const char *solo[] = {"--ws", "--mode", "solo", "--battles", "6", "--per-conn", "3", "--think",
                          "0", "--duration", "2", "--grace", "10", NULL};
    play_ws(solo, true, true, true); /* wss, multiplexed */
}

static void bench_plays_from_two_source_addresses(void **state)
{
    (void)state;
    /* 127.0.0.1 and 127.0.0.2 in turn (the unit test checks the server sees both addresses) */
    const char *extra[] = {"--mode", "match", "--battles", "10", "--think", "0", "--duration", "2",
                           "--grace", "10", "--band", "long", "--sources", "2", NULL};
    play(extra, false);
}

static void bench_refuses_bad_options_clearly(void **state)
{
    (void)state;
    const char *cases[][4] = {
        {"--battles", "0", NULL, NULL},
        {"--server", "10.1.2.3:7070", NULL, NULL},
        {"--mode", "chess", NULL, NULL},
        {"--tls", NULL, NULL, NULL}, /* neither --tls-ca nor --tls-insecure */
        {"--sources", "0", NULL, NULL},
        {"--source", "10.0.0.2", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            const char *argv[6] = {g_bench, cases[i][0], cases[i][1], NULL};
            execv(g_bench, (char *const *)argv);
            _exit(127);
        }
        int st = 0;
        assert_int_equal(waitpid(child, &st, 0), child);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 2);
    }
}

int main(int argc, char **argv)
{
    /* take --bench PATH out before itest sees the rest; every server gets a TLS listener too */
    char *rest[17];
    int n = 0;
    for (int i = 0; i < argc && n < 15; i++) {
        if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc)
            g_bench = argv[++i];
        else
            rest[n++] = argv[i];
    }
    rest[n++] = (char *)"--tls";
    rest[n] = NULL;
    itest_init(n, rest);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bench_refuses_bad_options_clearly),
        cmocka_unit_test(bench_plays_matched_battles),
        cmocka_unit_test(bench_plays_created_battles_multiplexed),
        cmocka_unit_test(bench_plays_solo_battles),
        cmocka_unit_test(bench_plays_over_tls_verifying_the_server),
        cmocka_unit_test(bench_plays_over_websocket),
        cmocka_unit_test(bench_plays_from_two_source_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
