/* The admin listener against simulated shards: readiness when a shard stops answering its
 * heartbeats, /battles when a shard is stuck (503 after ADMIN_SHARD_REPLY_MS, then 503 at once
 * until it catches up, then whole listings again), a client that leaves mid-listing, and the row
 * limit across shards. Real shards always answer within microseconds, so these paths cannot be
 * reached through the real binary (test_it_admin covers that); here the admin runs on a bare
 * server struct whose shard messages park in the control queues (no shards are started), the test
 * plays the shards by answering from those queues through the reply hook, and the loop is pumped
 * in this thread around a plain blocking HTTP client. */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/admin.h"
#include "net/net_int.h"

#define NSHARDS 2
#define MAX_ROWS 4

static server *g_s;
static uint16_t g_port;
static bool g_alive[NSHARDS];
static struct shard_battle_row g_rows[NSHARDS][MAX_ROWS];
static unsigned g_nrows[NSHARDS];

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the simulated shards ------------------------------------------------------------------ */

static bool take(unsigned k, struct shard_in *m)
{
    fifo *q = &g_s->ctl[k];
    if (!fifo_count(q))
        return false;
    *m = *(struct shard_in *)fifo_at(q, 0);
    fifo_pop(q);
    return true;
}

static void reply(unsigned k, struct shard_out *o)
{
    assert_non_null(g_s->reply_fn);
    g_s->reply_fn(g_s->reply_arg, k, o);
}

/* Each live shard answers everything parked for it, in order, as shards/game.c does. */
static void shards_step(void)
{
    for (unsigned k = 0; k < NSHARDS; k++) {
        struct shard_in m;
        while (g_alive[k] && take(k, &m)) {
            struct shard_out o;
            memset(&o, 0, sizeof o);
            if (m.kind == SHARD_IN_HEARTBEAT) {
                o.kind = SHARD_OUT_HEARTBEAT;
                o.u.token = m.u.token;
                reply(k, &o);
            } else if (m.kind == SHARD_IN_LIST) {
                unsigned n = 0;
                for (; n < g_nrows[k] && n < m.u.list.limit; n++) {
                    o.kind = SHARD_OUT_LIST_ROW;
                    o.u.row = g_rows[k][n];
                    reply(k, &o);
                }
                memset(&o, 0, sizeof o);
                o.kind = SHARD_OUT_LIST_END;
                o.u.list_end.token = m.u.list.token;
                o.u.list_end.rows = n;
                o.u.list_end.total = g_nrows[k];
                reply(k, &o);
            } else {
                fail_msg("unexpected message kind %d for shard %u", m.kind, k);
            }
        }
    }
}

static void pump_once(void)
{
    uv_run(&g_s->loop, UV_RUN_NOWAIT);
    shards_step();
}

static void pump(int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end) {
        pump_once();
        usleep(1000);
    }
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static int open_conn(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The kernel completes the handshake from the listen backlog: no loop pass needed. */
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_get(int fd, const char *path)
{
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     path);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

/* Pumps the loop until the server closes fd; returns the status, body in out. */
static int read_answer(int fd, char *out, size_t cap, uint64_t *took_ms)
{
    uint64_t t0 = now_ms(), end = t0 + 10000;
    size_t len = 0;
    for (;;) {
        pump_once();
        ssize_t r = recv(fd, out + len, cap - 1 - len, MSG_DONTWAIT);
        if (r == 0)
            break;
        if (r > 0) {
            len += (size_t)r;
            assert_true(len < cap - 1);
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            fail_msg("recv: %s", strerror(errno));
        if (now_ms() > end)
            fail_msg("no answer within 10 s");
        usleep(1000);
    }
    close(fd);
    out[len] = 0;
    if (took_ms)
        *took_ms = now_ms() - t0;
    char *b = strstr(out, "\r\n\r\n");
    int status = strncmp(out, "HTTP/1.1 ", 9) == 0 ? atoi(out + 9) : -1;
    if (b)
        memmove(out, b + 4, strlen(b + 4) + 1);
    return status;
}

static int get(const char *path, char *out, size_t cap, uint64_t *took_ms)
{
    int fd = open_conn();
    send_get(fd, path);
    return read_answer(fd, out, cap, took_ms);
}

/* ---- fixture --------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    g_s = calloc(1, sizeof *g_s);
    assert_non_null(g_s);
    g_s->opts.ring_slots = 16384; /* server.ring_slots' default */
    snprintf(g_s->opts.admin.listen, sizeof g_s->opts.admin.listen, "127.0.0.1:0");
    assert_int_equal(uv_loop_init(&g_s->loop), 0);
    g_s->nshards = NSHARDS;
    g_s->ctl = calloc(NSHARDS, sizeof *g_s->ctl);
    for (unsigned k = 0; k < NSHARDS; k++)
        fifo_init(&g_s->ctl[k], sizeof(struct shard_in), NET_CTL_FIRST_CAP);
    g_s->listening = true;
    assert_int_equal(admin_start(g_s, &g_s->opts, &g_s->admin), 0);
    assert_non_null(g_s->admin);
    g_port = admin_port(g_s->admin);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    admin_close(g_s->admin);
    g_s->admin = NULL;
    uv_run(&g_s->loop, UV_RUN_DEFAULT); /* until the admin's handles are closed and it is freed */
    assert_int_equal(uv_loop_close(&g_s->loop), 0);
    for (unsigned k = 0; k < NSHARDS; k++)
        fifo_free(&g_s->ctl[k]);
    free(g_s->ctl);
    free(g_s);
    return 0;
}

static void all_alive(void)
{
    for (unsigned k = 0; k < NSHARDS; k++)
        g_alive[k] = true;
}

static void wait_ready(void)
{
    static char body[4096];
    uint64_t end = now_ms() + 2000;
    while (get("/readyz", body, sizeof body, NULL) != 200)
        if (now_ms() > end)
            fail_msg("not ready: %s", body);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_ready_needs_a_recent_heartbeat_from_every_shard(void **state)
{
    (void)state;
    static char body[4096];
    g_alive[0] = true;
    g_alive[1] = false;
    pump(3 * ADMIN_TICK_MS);
    assert_int_equal(get("/readyz", body, sizeof body, NULL), 503);
    assert_non_null(strstr(body, "\"failed\":[\"shards\"]"));
    assert_non_null(strstr(body, "\"stale_shard\":1"));
    /* One heartbeat in flight per shard: a stuck shard does not pile them up. */
    assert_int_equal(fifo_count(&g_s->ctl[1]), 1);

    g_alive[1] = true;
    wait_ready();

    /* Shard 0 stops answering: not ready once its last answer is older than the limit. */
    g_alive[0] = false;
    pump(ADMIN_TICK_MS);
    uint64_t t0 = now_ms();
    while (get("/readyz", body, sizeof body, NULL) == 200) {
        if (now_ms() - t0 > ADMIN_READY_HEARTBEAT_MS + 1000)
            fail_msg("still ready with shard 0 silent");
        pump(20);
    }
    assert_true(now_ms() - t0 >= ADMIN_READY_HEARTBEAT_MS - 2 * ADMIN_TICK_MS);
    assert_non_null(strstr(body, "\"stale_shard\":0"));
    assert_non_null(strstr(body, "\"shards\":false"));
    all_alive();
    wait_ready();
}

static void test_readyz_names_draining_and_listeners(void **state)
{
    (void)state;
    static char body[4096];
    all_alive();
    wait_ready();
    g_s->drain_phase = SERVER_DRAINING;
    assert_int_equal(get("/readyz", body, sizeof body, NULL), 503);
    assert_non_null(strstr(body, "\"failed\":[\"draining\"]"));
    assert_non_null(strstr(body, "\"not_draining\":false"));
    g_s->drain_phase = SERVER_RUNNING;
    g_s->listening = false;
    assert_int_equal(get("/readyz", body, sizeof body, NULL), 503);
    assert_non_null(strstr(body, "\"failed\":[\"listeners\"]"));
    g_s->listening = true;
    assert_int_equal(get("/readyz", body, sizeof body, NULL), 200);
    /* /healthz does not care. */
    g_s->drain_phase = SERVER_DRAINING;
    assert_int_equal(get("/healthz", body, sizeof body, NULL), 200);
    g_s->drain_phase = SERVER_RUNNING;
}

static void set_rows(unsigned k, unsigned n, uint64_t first_id)
{
    g_nrows[k] = n;
    for (unsigned i = 0; i < n; i++) {
        struct shard_battle_row *r = &g_rows[k][i];
        memset(r, 0, sizeof *r);
        r->battle_id = first_id + i;
        r->round = 3;
        r->state = 1;
        r->seats_present = 1;
        r->spectators = 2;
        r->age_ms = 1500;
    }
}

static void test_battles_with_a_stuck_shard(void **state)
{
    (void)state;
    static char body[16384];
    all_alive();
    set_rows(0, 1, 11);
    set_rows(1, 1, 22);
    assert_int_equal(get("/battles", body, sizeof body, NULL), 200);
    assert_non_null(strstr(body, "{\"id\":\"11\",\"shard\":0,\"state\":\"running\",\"round\":3,"
                                 "\"seats\":[{\"seat\":0,\"present\":true},{\"seat\":1,"
                                 "\"present\":false}],\"spectators\":2,\"age_ms\":1500}"));
    assert_non_null(strstr(body, "{\"id\":\"22\",\"shard\":1,"));
    assert_non_null(strstr(body, "\"count\":2,\"total\":2,\"limit\":100,\"truncated\":false"));

    /* Shard 1 hangs: the listing gives up after ADMIN_SHARD_REPLY_MS. */
    g_alive[1] = false;
    uint64_t took = 0;
    assert_int_equal(get("/battles", body, sizeof body, &took), 503);
    assert_non_null(strstr(body, "did not answer"));
    assert_true(took >= ADMIN_SHARD_REPLY_MS - 10);
    assert_true(took < ADMIN_SHARD_REPLY_MS + 2000);
    /* While it still owes that listing, at once 503, and nothing more is queued for it. */
    unsigned parked = fifo_count(&g_s->ctl[1]);
    assert_int_equal(get("/battles", body, sizeof body, &took), 503);
    assert_non_null(strstr(body, "shard 1 has not answered an earlier listing"));
    assert_true(took < 1000);
    assert_true(fifo_count(&g_s->ctl[1]) <= parked);

    /* It catches up (its late answer to the old listing is ignored), then lists normally. */
    set_rows(1, 2, 33);
    g_alive[1] = true;
    pump(50);
    assert_int_equal(get("/battles", body, sizeof body, NULL), 200);
    assert_null(strstr(body, "\"id\":\"22\""));
    assert_non_null(strstr(body, "{\"id\":\"33\",\"shard\":1,"));
    assert_non_null(strstr(body, "{\"id\":\"34\",\"shard\":1,"));
    assert_non_null(strstr(body, "\"count\":3,\"total\":3,"));
}

static void test_client_leaving_mid_listing(void **state)
{
    (void)state;
    static char body[16384];
    all_alive();
    set_rows(0, 1, 11);
    set_rows(1, 1, 22);
    g_alive[1] = false;
    int fd = open_conn();
    send_get(fd, "/battles");
    pump(100);
    close(fd); /* gone while the listing waits for shard 1 */
    pump(100);
    g_alive[1] = true; /* the listing completes with nobody to tell */
    pump(100);
    assert_int_equal(get("/battles", body, sizeof body, NULL), 200);
    assert_non_null(strstr(body, "\"count\":2,"));
    /* Two requests in line behind one listing: both answered. */
    g_alive[1] = false;
    int f1 = open_conn(), f2 = open_conn();
    send_get(f1, "/battles?limit=1");
    send_get(f2, "/battles?limit=2");
    pump(100);
    g_alive[1] = true;
    assert_int_equal(read_answer(f1, body, sizeof body, NULL), 200);
    assert_non_null(strstr(body, "\"count\":1,\"total\":2,\"limit\":1,\"truncated\":true"));
    assert_int_equal(read_answer(f2, body, sizeof body, NULL), 200);
    assert_non_null(strstr(body, "\"count\":2,\"total\":2,\"limit\":2,\"truncated\":false"));
}

static void test_limit_across_shards(void **state)
{
    (void)state;
    static char body[16384];
    all_alive();
    set_rows(0, 3, 100);
    set_rows(1, 3, 200);
    assert_int_equal(get("/battles?limit=4", body, sizeof body, NULL), 200);
    assert_non_null(strstr(body, "\"count\":4,\"total\":6,\"limit\":4,\"truncated\":true"));
    unsigned listed = 0;
    for (const char *p = body; (p = strstr(p, "{\"id\":")); p++)
        listed++;
    assert_int_equal(listed, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_needs_a_recent_heartbeat_from_every_shard),
        cmocka_unit_test(test_readyz_names_draining_and_listeners),
        cmocka_unit_test(test_battles_with_a_stuck_shard),
        cmocka_unit_test(test_client_leaving_mid_listing),
        cmocka_unit_test(test_limit_across_shards),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
