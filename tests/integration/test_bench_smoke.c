/* Smoke test of battle-bench against the real battled: each way of playing (lobby, create/join with
 * several battles per connection, solo against the server's opponent), over TLS (verifying the
 * server's certificate) and from two source addresses, plays real battles to their end for a couple
 * of seconds, without a failed battle, and the JSON report says so. Every server gets a TLS listener
 * too (itest's TLS mode); the clear-text runs use the port file's first line.
 * Usage (from ctest): test_bench_smoke BATTLED_BINARY --bench BATTLE_BENCH_BINARY [--shards N]. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "proto/frame.h"
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

/* ---- clusters: a node in front of the server that holds only the battles made through it ---- */

#define MOVER_PAIRS 16
#define MOVER_BIDS 64

/* Each client connection is relayed frame by frame to the real server, except a battle-scoped
 * request for a battle this connection did not see created or started: that one is answered with
 * `moved` naming the real server, as a cluster node answers for a battle another node holds. */
typedef struct {
    int lfd, ctl[2];
    uint16_t port, target;
    pthread_t th;
    _Atomic unsigned moved; /* moved replies sent */
} mover;

typedef struct {
    int cfd, sfd;
    frame_reader from_c, from_s;
    uint64_t bids[MOVER_BIDS];
    unsigned nbids;
} mover_pair;

static void send_frame(int fd, const uint8_t *body, uint32_t len)
{
    uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    (void)!send(fd, h, 4, MSG_NOSIGNAL | MSG_MORE);
    (void)!send(fd, body, len, MSG_NOSIGNAL);
}

static bool pair_holds(const mover_pair *p, uint64_t bid)
{
    for (unsigned i = 0; i < p->nbids && i < MOVER_BIDS; i++)
        if (p->bids[i] == bid)
            return true;
    return false;
}

/* Relays what arrived on fd of pair p; false when either side closed. */
static bool mover_relay(mover *m, mover_pair *p, bool from_client)
{
    uint8_t buf[16384];
    int fd = from_client ? p->cfd : p->sfd;
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got <= 0)
        return false;
    const uint8_t *q = buf;
    size_t left = (size_t)got;
    while (left > 0) {
        size_t used;
        const uint8_t *body;
        uint32_t blen;
        proto_error err;
        frame_status st = frame_reader_feed(from_client ? &p->from_c : &p->from_s, q, left, &used,
                                            &body, &blen, &err);
        q += used;
        left -= used;
        if (st == FRAME_ERROR)
            return false;
        if (st != FRAME_READY)
            break;
        if (!from_client) {
            static proto_event ev;
            if (proto_decode_event(body, blen, &ev, NULL) == PROTO_E_OK &&
                (ev.type == PROTO_T_CREATED || ev.type == PROTO_T_STARTED) && !pair_holds(p, ev.bid))
                p->bids[p->nbids++ % MOVER_BIDS] = ev.bid;
            send_frame(p->cfd, body, blen);
            continue;
        }
        proto_request r;
        if (proto_decode_request(body, blen, &r, NULL) == PROTO_E_OK &&
            proto_type_battle_scoped(r.type) && !pair_holds(p, r.bid)) {
            proto_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = PROTO_T_MOVED;
            ev.has_rid = r.has_rid;
            ev.rid = r.rid;
            ev.bid = r.bid;
            snprintf(ev.u.moved.addr, sizeof ev.u.moved.addr, "127.0.0.1:%u", (unsigned)m->target);
            uint8_t out[256];
            size_t len;
            assert_int_equal(proto_encode_event(out, sizeof out, &ev, &len), PROTO_E_OK);
            (void)!send(p->cfd, out, len, MSG_NOSIGNAL);
            atomic_fetch_add(&m->moved, 1);
            continue;
        }
        send_frame(p->sfd, body, blen);
    }
    return true;
}

static void pair_close(mover_pair *p)
{
    close(p->cfd);
    close(p->sfd);
    frame_reader_free(&p->from_c);
    frame_reader_free(&p->from_s);
    p->cfd = p->sfd = -1;
}

static void *mover_main(void *arg)
{
    mover *m = arg;
    static mover_pair pairs[MOVER_PAIRS];
    for (int i = 0; i < MOVER_PAIRS; i++)
        pairs[i].cfd = pairs[i].sfd = -1;
    for (;;) {
        struct pollfd pf[2 + 2 * MOVER_PAIRS];
        pf[0] = (struct pollfd){.fd = m->ctl[0], .events = POLLIN};
        pf[1] = (struct pollfd){.fd = m->lfd, .events = POLLIN};
        for (int i = 0; i < MOVER_PAIRS; i++) {
            pf[2 + 2 * i] = (struct pollfd){.fd = pairs[i].cfd, .events = POLLIN};
            pf[3 + 2 * i] = (struct pollfd){.fd = pairs[i].sfd, .events = POLLIN};
        }
        if (poll(pf, 2 + 2 * MOVER_PAIRS, 1000) < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            break;
        if (pf[1].revents) {
            int cfd = accept(m->lfd, NULL, NULL);
            int slot = -1;
            for (int i = 0; i < MOVER_PAIRS && slot < 0; i++)
                if (pairs[i].cfd < 0)
                    slot = i;
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(m->target)};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int sfd = socket(AF_INET, SOCK_STREAM, 0);
            if (cfd < 0 || slot < 0 || sfd < 0 || connect(sfd, (struct sockaddr *)&sa, sizeof sa) != 0) {
                if (cfd >= 0)
                    close(cfd);
                if (sfd >= 0)
                    close(sfd);
            } else {
                mover_pair *p = &pairs[slot];
                memset(p, 0, sizeof *p);
                p->cfd = cfd;
                p->sfd = sfd;
                frame_reader_init(&p->from_c, PROTO_FRAME_HARD_MAX);
                frame_reader_init(&p->from_s, PROTO_FRAME_HARD_MAX);
            }
        }
        for (int i = 0; i < MOVER_PAIRS; i++) {
            mover_pair *p = &pairs[i];
            if (p->cfd < 0)
                continue;
            if ((pf[2 + 2 * i].revents && !mover_relay(m, p, true)) ||
                (pf[3 + 2 * i].revents && !mover_relay(m, p, false)))
                pair_close(p);
        }
    }
    for (int i = 0; i < MOVER_PAIRS; i++)
        if (pairs[i].cfd >= 0)
            pair_close(&pairs[i]);
    return NULL;
}

/* Pointed at one node of a "cluster" that does not hold the joiners' battles, the bench follows
 * every `moved` to the holder, plays every battle to its end there, and counts the moves. */
static void bench_follows_moved(void **state)
{
    (void)state;
    itest_server s;
    const char *sets[] = {"log.level=warn", NULL};
    assert_true(itest_start(&s, sets));
    static mover m;
    memset(&m, 0, sizeof m);
    m.target = s.plain_port;
    m.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(m.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(m.lfd, 16), 0);
    assert_int_equal(getsockname(m.lfd, (struct sockaddr *)&sa, &sl), 0);
    m.port = ntohs(sa.sin_port);
    assert_int_equal(pipe(m.ctl), 0);
    assert_int_equal(pthread_create(&m.th, NULL, mover_main, &m), 0);

    itest_server front = s; /* the bench dials the mover */
    front.plain_port = m.port;
    char json_path[200];
    snprintf(json_path, sizeof json_path, "%s/bench-moved.json", s.dir);
    const char *extra[] = {"--mode", "create", "--battles", "8", "--per-conn", "4", "--think", "5",
                           "--duration", "2", "--grace", "10", "--band", "close", NULL};
    int rc = run_bench(&front, false, json_path, extra);
    assert_int_equal(write(m.ctl[1], "q", 1), 1);
    pthread_join(m.th, NULL);
    close(m.lfd);
    close(m.ctl[0]);
    close(m.ctl[1]);
    const char *json = slurp(json_path);
    if (rc != 0 || !json) {
        itest_dump_log(&s);
        itest_cleanup(&s);
        fail_msg("battle-bench exited with %d", rc);
    }
    double finished = num(json, "battles_finished"), failed = num(json, "battles_failed");
    double moved = num(json, "moved"), moved_failed = num(json, "moved_failed");
    printf("# finished %.0f failed %.0f moved %.0f (mover sent %u)\n", finished, failed, moved,
           atomic_load(&m.moved));
    if (finished < 1 || failed != 0 || moved < 1 || moved_failed != 0)
        fputs(json, stderr);
    assert_true(finished >= 1);
    assert_true(failed == 0);
    assert_true(moved >= finished); /* every battle's join was moved */
    assert_true(moved == (double)atomic_load(&m.moved));
    assert_true(moved_failed == 0);
    assert_int_equal(itest_stop(&s, SIGTERM, 10000), 0);
    itest_cleanup(&s);
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
        cmocka_unit_test(bench_follows_moved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
