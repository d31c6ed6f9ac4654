/* Integration: the admin HTTP endpoint (net/admin.h) of the real battled binary: /healthz,
 * /readyz (and its 503 during a drain), /metrics checked by promtool and moving after a battle,
 * /battles listing a running battle with its shard, round, seats and spectators, malformed and
 * oversized requests, a slowloris client, the connection cap, and a burst of admin requests
 * during a battle. Run with --shards 1 and --shards 4. The admin port comes from admin.port_file. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/admin.h"
#include "net/http.h"
#include "shards/shard.h"
#include "tests/integration/itest.h"
#include "tests/unit/test_promtool.h"

#define BATTLE_MS 20000
#define RESP_MAX (512 * 1024) /* largest response read (a /metrics page with 4 shards: ~30 KiB) */

static itest_server g_srv;
static uint16_t g_admin;
static char g_admin_file[128];

/* ---- server with the admin listener on port 0 ---------------------------------------------- */

static bool start_with_admin(itest_server *s, uint16_t *admin_port, const char *const *extra)
{
    static int seq;
    snprintf(g_admin_file, sizeof g_admin_file, "/tmp/battled-it-admin-%d-%d.port", (int)getpid(),
             ++seq);
    unlink(g_admin_file);
    char set_file[200];
    snprintf(set_file, sizeof set_file, "admin.port_file=%s", g_admin_file);
    const char *sets[ITEST_MAX_SETS + 1];
    int n = 0;
    sets[n++] = "admin.listen=127.0.0.1:0";
    sets[n++] = set_file;
    sets[n++] = "game.ai_think_ms=0";
    sets[n++] = "game.turn_timer_ms=10000";
    for (int i = 0; extra && extra[i] && n < ITEST_MAX_SETS; i++)
        sets[n++] = extra[i];
    sets[n] = NULL;
    if (!itest_start(s, sets))
        return false;
    /* The admin port file is written before the game port file, which itest_start waited for. */
    FILE *f = fopen(g_admin_file, "r");
    unsigned p = 0;
    bool ok = f && fscanf(f, "%u", &p) == 1 && p > 0 && p < 65536;
    if (f)
        fclose(f);
    unlink(g_admin_file);
    *admin_port = (uint16_t)p;
    if (!ok) {
        fprintf(stderr, "no admin port file\n");
        itest_dump_log(s);
    }
    return ok;
}

static int setup(void **state)
{
    (void)state;
    return start_with_admin(&g_srv, &g_admin, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_finish(&g_srv, 10000);
    return rc == 0 ? 0 : -1;
}

/* ---- a tiny HTTP client ------------------------------------------------------------------ */

static int tcp_open(uint16_t port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server may already have answered and closed */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until the server closes (true) or the receive timeout passes (false). */
static bool read_to_close(int fd, char *out, size_t cap, size_t *len)
{
    *len = 0;
    for (;;) {
        ssize_t r = recv(fd, out + *len, cap - 1 - *len, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            out[*len] = 0;
            return true;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            out[*len] = 0;
            return false;
        }
        *len += (size_t)r;
        if (*len >= cap - 1)
            fail_msg("response over %zu bytes", cap);
    }
}

typedef struct {
    int status;
    bool closed;
    char *body; /* into buf */
    size_t len;
    char buf[RESP_MAX];
} resp;

/* Sends raw bytes as one request and reads the answer until the server closes. */
static void http_raw(uint16_t port, const char *req, size_t n, resp *r)
{
    int fd = tcp_open(port, 10000);
    send_all(fd, req, n);
    r->closed = read_to_close(fd, r->buf, sizeof r->buf, &r->len);
    close(fd);
    r->status = strncmp(r->buf, "HTTP/1.1 ", 9) == 0 ? atoi(r->buf + 9) : -1;
    char *b = strstr(r->buf, "\r\n\r\n");
    r->body = b ? b + 4 : r->buf + r->len;
}

static void http_req(const char *method, const char *path, resp *r)
{
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                     method, path);
    http_raw(g_admin, req, (size_t)n, r);
}

static resp *get(const char *path)
{
    static resp r;
    http_req("GET", path, &r);
    return &r;
}

/* The value of the sample whose name and labels are exactly `series` ("name" or
 * "name{a=\"b\"}"), or -1 when the page has no such line. */
static double sample(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = page; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

/* Sum of every sample of a family whose labels contain `label` (NULL: all of them). */
static double family_sum(const char *page, const char *name, const char *label)
{
    double sum = 0;
    size_t n = strlen(name);
    for (const char *p = page; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) != 0 || (p[n] != '{' && p[n] != ' '))
            continue;
        const char *sp = strchr(p, ' ');
        const char *nl = strchr(p, '\n');
        if (!sp || (nl && sp > nl))
            continue;
        if (label) {
            const char *l = strstr(p, label);
            if (!l || l > sp)
                continue;
        }
        sum += strtod(sp + 1, NULL);
    }
    return sum;
}

static void wait_ready(void)
{
    uint64_t end = itest_now_ms() + 3000;
    while (get("/readyz")->status != 200) {
        if (itest_now_ms() > end)
            fail_msg("/readyz not 200 within 3 s: %s", get("/readyz")->body);
        usleep(20000);
    }
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_healthz_readyz_and_unknown_paths(void **state)
{
    (void)state;
    resp *r = get("/healthz");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok\n");
    assert_true(r->closed); /* Connection: close was honoured */

    wait_ready();
    r = get("/readyz");
    assert_non_null(strstr(r->body, "\"ready\":true"));
    assert_non_null(strstr(r->body, "\"failed\":[]"));
    assert_non_null(strstr(r->body, "\"shards\":true"));
    assert_non_null(strstr(r->buf, "Content-Type: application/json"));

    r = get("/nope");
    assert_int_equal(r->status, 404);
    r = get("/healthz/");
    assert_int_equal(r->status, 404);

    /* HEAD: the GET's Content-Length, no body. */
    static resp h;
    http_req("HEAD", "/healthz", &h);
    assert_int_equal(h.status, 200);
    assert_non_null(strstr(h.buf, "Content-Length: 3\r\n"));
    assert_int_equal(h.len, (size_t)(h.body - h.buf));

    /* Keep-alive with two pipelined requests: both answered, in order, on one connection. */
    static const char two[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    static resp p;
    http_raw(g_admin, two, sizeof two - 1, &p);
    assert_int_equal(p.status, 200);
    char *second = strstr(p.body, "HTTP/1.1 ");
    assert_non_null(second);
    assert_int_equal(atoi(second + 9), 404);
    assert_true(p.closed);
}

static void test_metrics_pass_promtool(void **state)
{
    (void)state;
    resp *r = get("/metrics");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->buf, "Content-Type: text/plain; version=0.0.4"));
    const char *page = r->body;
    static const char *const families[] = {
        "battled_build_info{version=", "battled_connections_current ",
        "battled_connections_accepted_total ", "battled_connections_closed_total{reason=\"idle\"}",
        "battled_battles_live ", "battled_battles_started_total ",
        "battled_battles_adopted_total ",
        "battled_battles_ended_total{reason=\"forfeit\"}", "battled_actions_total{type=\"fire\"}",
        "battled_errors_total{code=\"no_such_battle\"}", "battled_ratelimit_refusals_total ",
        "battled_moved_replies_total 0",
        "battled_shard_inbox_depth{shard=\"0\"}", "battled_shard_inbox_full_total{shard=\"0\"}",
        "battled_net_inbox_full_total ", "battled_shard_wakeups_total{shard=\"0\"}",
        "battled_net_wakeups_sent_total ", "battled_loop_lag_seconds_bucket{thread=\"net\",le=",
        "battled_shard_inline_runs_total{shard=\"0\"}",
        "battled_shard_inline_messages_total{shard=\"0\"}",
        "battled_shard_inline_busy_total{shard=\"0\"}",
        "battled_shard_inline_wakes_total{shard=\"0\"}",
        "battled_shard_heartbeat_seconds_bucket{shard=\"0\",le=",
        "battled_action_latency_seconds_bucket{le=", "battled_action_latency_seconds_sum ",
        "process_resident_memory_bytes ", "process_cpu_seconds_total ",
        "battled_journal_degraded_shards ", NULL};
    for (int i = 0; families[i]; i++)
        if (!strstr(page, families[i]))
            fail_msg("/metrics lacks %s", families[i]);
    char last[32];
    snprintf(last, sizeof last, "{shard=\"%d\"}", itest_shards() - 1);
    assert_non_null(strstr(page, last));
    assert_true(sample(page, "process_resident_memory_bytes") > 1e6);

    char promtool[512];
    if (!find_promtool(promtool, sizeof promtool)) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
            fail_msg("promtool not found and CI=true: install Debian's prometheus package "
                     "(scripts/bootstrap does)");
        print_message("promtool not found: install Debian's prometheus package "
                      "(apt-get install -y --no-install-recommends prometheus); skipping\n");
        skip();
    }
    char err[4096];
    /* The checker must be able to say no, or this test proves nothing. */
    assert_int_not_equal(promtool_check(promtool, "battled_x_total{a=\"b} 1\n", 24, err, sizeof err),
                         0);
    int rc = promtool_check(promtool, page, r->len - (size_t)(r->body - r->buf), err, sizeof err);
    if (rc != 0)
        fail_msg("promtool check metrics failed (%d): %s", rc, err);
}

static void test_counters_move_after_a_battle(void **state)
{
    (void)state;
    static char before[RESP_MAX];
    snprintf(before, sizeof before, "%s", get("/metrics")->body);

    /* A refused join (no such battle), then a solo battle against the AI to its end. */
    proto_event ev;
    itest_player a;
    itest_player_init(&a, itest_client(&g_srv, "counted"));
    assert_true(pc_join(a.c, 12345, "scout") > 0);
    itest_expect_error(a.c, PROTO_E_NO_SUCH_BATTLE, &ev);
    assert_true(pc_create(a.c, "free_trader", PROTO_BAND_ADJACENT, PROTO_VS_AI, "scout") > 0);
    itest_expect(a.c, PROTO_T_STARTED, &ev);
    itest_take_started(&a, &ev);
    itest_play(&a, NULL, BATTLE_MS);
    assert_true(a.actions >= 1);
    pc_close(a.c);

    /* Counters are read from the shards' relaxed atomics: poll until the page shows them. */
    uint64_t end = itest_now_ms() + 3000;
    const char *after;
    for (;;) {
        after = get("/metrics")->body;
        if (family_sum(after, "battled_battles_ended_total", NULL) >
                family_sum(before, "battled_battles_ended_total", NULL) &&
            sample(after, "battled_connections_closed_total{reason=\"peer\"}") >
                sample(before, "battled_connections_closed_total{reason=\"peer\"}"))
            break;
        if (itest_now_ms() > end)
            fail_msg("counters did not move:\n%s", after);
        usleep(20000);
    }
    assert_true(sample(after, "battled_battles_started_total") >=
                sample(before, "battled_battles_started_total") + 1);
    assert_true(sample(after, "battled_connections_accepted_total") >=
                sample(before, "battled_connections_accepted_total") + 1);
    assert_true(sample(after, "battled_actions_total{type=\"fire\"}") >=
                sample(before, "battled_actions_total{type=\"fire\"}") + a.actions);
    assert_true(sample(after, "battled_errors_total{code=\"no_such_battle\"}") >=
                sample(before, "battled_errors_total{code=\"no_such_battle\"}") + 1);
    assert_true(sample(after, "battled_action_latency_seconds_count") >=
                sample(before, "battled_action_latency_seconds_count") + a.actions);
    /* The shard ran the battle's messages: woken for them, or (server.inline_max) run by the
     * network thread while the shard slept; either way the inbox count moved by every action. */
    assert_true(family_sum(after, "battled_shard_wakeups_total", NULL) +
                    family_sum(after, "battled_shard_inline_runs_total", NULL) >
                family_sum(before, "battled_shard_wakeups_total", NULL) +
                    family_sum(before, "battled_shard_inline_runs_total", NULL));
    assert_true(family_sum(after, "battled_shard_inbox_messages_total", NULL) >=
                family_sum(before, "battled_shard_inbox_messages_total", NULL) + a.actions);
    assert_true(sample(after, "battled_shard_heartbeat_seconds_count{shard=\"0\"}") > 0);
    /* 2xx responses are counted too. */
    assert_true(sample(after, "battled_admin_requests_total{code=\"200\"}") >
                sample(before, "battled_admin_requests_total{code=\"200\"}"));
}

/* The JSON object of battle bid in a /battles body, copied into out ("" when absent). */
static void battle_row(const char *body, uint64_t bid, char *out, size_t cap)
{
    char key[48];
    snprintf(key, sizeof key, "{\"id\":\"%llu\"", (unsigned long long)bid);
    const char *p = strstr(body, key);
    out[0] = 0;
    if (!p)
        return;
    const char *e = strstr(p, "\"age_ms\":");
    assert_non_null(e);
    size_t n = (size_t)(e - p);
    snprintf(out, cap, "%.*s", (int)n, p);
}

static void test_battles_lists_a_running_battle(void **state)
{
    (void)state;
    itest_player a, b;
    itest_private_pair(&g_srv, &a, &b, PROTO_BAND_ADJACENT);
    pc_conn *s = itest_client(&g_srv, "spectator");
    proto_event ev;
    assert_true(pc_watch(s, a.t.bid) > 0);
    itest_expect(s, PROTO_T_STATE, &ev);

    resp *r = get("/battles");
    assert_int_equal(r->status, 200);
    char row[512], want[512];
    battle_row(r->body, a.t.bid, row, sizeof row);
    if (!row[0])
        fail_msg("battle %llu not listed: %s", (unsigned long long)a.t.bid, r->body);
    snprintf(want, sizeof want,
             "{\"id\":\"%llu\",\"shard\":%u,\"state\":\"running\",\"round\":%u,\"seats\":["
             "{\"seat\":0,\"present\":true},{\"seat\":1,\"present\":true}],\"spectators\":1,",
             (unsigned long long)a.t.bid, shard_of(a.t.bid, (unsigned)itest_shards()), a.t.round);
    assert_string_equal(row, want);
    assert_non_null(strstr(r->body, "\"truncated\":false"));

    /* Seat 1's player hangs up: the listing shows the seat as absent. */
    pc_close(b.c);
    uint64_t end = itest_now_ms() + 3000;
    for (;;) {
        battle_row(get("/battles")->body, a.t.bid, row, sizeof row);
        if (strstr(row, "{\"seat\":1,\"present\":false}"))
            break;
        if (itest_now_ms() > end)
            fail_msg("seat 1 still present: %s", row);
        usleep(20000);
    }
    assert_non_null(strstr(row, "{\"seat\":0,\"present\":true}"));
    pc_close(a.c);
    pc_close(s);
}

static void test_battles_limit_and_truncation(void **state)
{
    (void)state;
    /* Three battles waiting for a second seat. */
    pc_conn *c[3];
    proto_event ev;
    for (int i = 0; i < 3; i++) {
        c[i] = itest_client(&g_srv, "waiter");
        assert_true(pc_create(c[i], "scout", PROTO_BAND_LONG, PROTO_VS_PLAYER, "") > 0);
        itest_expect(c[i], PROTO_T_CREATED, &ev);
    }
    resp *r = get("/battles?limit=1");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"count\":1,"));
    assert_non_null(strstr(r->body, "\"limit\":1,"));
    assert_non_null(strstr(r->body, "\"truncated\":true"));
    const char *t = strstr(r->body, "\"total\":");
    assert_non_null(t);
    assert_true(atoi(t + 8) >= 3);
    r = get("/battles?limit=1000");
    assert_non_null(strstr(r->body, "\"truncated\":false"));
    assert_non_null(strstr(r->body, "\"state\":\"waiting\""));
    assert_int_equal(get("/battles?limit=0")->status, 400);
    assert_int_equal(get("/battles?limit=1001")->status, 400);
    assert_int_equal(get("/battles?limit=x")->status, 400);
    for (int i = 0; i < 3; i++)
        pc_close(c[i]);
}

static void expect_refused(const char *req, size_t n, int status)
{
    static resp r;
    http_raw(g_admin, req, n, &r);
    if (r.status != status)
        fail_msg("expected %d, got %d for %.40s", status, r.status, req);
    assert_true(r.closed);
    assert_non_null(strstr(r.buf, "Connection: close\r\n"));
}

static void test_malformed_and_oversized_requests(void **state)
{
    (void)state;
    static const char garbage[] = "HELLO THERE\r\n\r\n";
    expect_refused(garbage, sizeof garbage - 1, 400);
    static const char bare_lf[] = "GET /healthz HTTP/1.1\nHost: t\n\n";
    expect_refused(bare_lf, sizeof bare_lf - 1, 400);
    static const char post[] = "POST /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    expect_refused(post, sizeof post - 1, 405);
    static const char body[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
    expect_refused(body, sizeof body - 1, 413);
    static const char v2[] = "GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n";
    expect_refused(v2, sizeof v2 - 1, 505);
    static const char nohost[] = "GET /healthz HTTP/1.1\r\n\r\n";
    expect_refused(nohost, sizeof nohost - 1, 400);

    /* A head over HTTP_MAX_HEAD: 431. */
    static char big[HTTP_MAX_HEAD + 1024];
    int n = snprintf(big, sizeof big, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: ");
    memset(big + n, 'a', sizeof big - (size_t)n - 4);
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    expect_refused(big, sizeof big, 431);
    /* A target over HTTP_MAX_TARGET: 414. */
    n = snprintf(big, sizeof big, "GET /");
    memset(big + n, 'a', HTTP_MAX_TARGET + 10);
    n += HTTP_MAX_TARGET + 10;
    n += snprintf(big + n, sizeof big - (size_t)n, " HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_refused(big, (size_t)n, 414);
    /* Still serving. */
    assert_int_equal(get("/healthz")->status, 200);
}

static void test_slowloris_is_closed_after_the_timeout(void **state)
{
    (void)state;
    double before = sample(get("/metrics")->body, "battled_admin_timeouts_total");
    /* A client that dribbles a request byte every 300 ms never finishes it. */
    int fd = tcp_open(g_admin, 300);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
    uint64_t t0 = itest_now_ms(), closed_at = 0;
    for (size_t i = 0; i < sizeof req - 1 && !closed_at; i++) {
        send_all(fd, &req[i], 1);
        char buf[256];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            closed_at = itest_now_ms();
        else if (r > 0)
            fail_msg("answered an unfinished request: %.*s", (int)r, buf);
    }
    close(fd);
    if (!closed_at)
        fail_msg("the slow client was not closed within %llu ms",
                 (unsigned long long)(itest_now_ms() - t0));
    uint64_t took = closed_at - t0;
    if (took < ADMIN_TIMEOUT_MS - 100 || took > ADMIN_TIMEOUT_MS + 2 * ADMIN_TICK_MS + 1000)
        fail_msg("closed after %llu ms, expected about %d", (unsigned long long)took,
                 ADMIN_TIMEOUT_MS);
    assert_true(sample(get("/metrics")->body, "battled_admin_timeouts_total") >= before + 1);
}

static void test_connection_cap(void **state)
{
    (void)state;
    int fds[ADMIN_MAX_CONNS];
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        fds[i] = tcp_open(g_admin, 5000);
    /* Let the server accept them all before the next one comes. */
    uint64_t end = itest_now_ms() + 3000;
    for (;;) {
        static resp r;
        int fd = tcp_open(g_admin, 5000);
        send_all(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 35);
        r.closed = read_to_close(fd, r.buf, sizeof r.buf, &r.len);
        close(fd);
        if (strncmp(r.buf, "HTTP/1.1 503", 12) == 0) {
            assert_true(r.closed);
            break;
        }
        if (itest_now_ms() > end)
            fail_msg("connection %d was not refused: %s", ADMIN_MAX_CONNS + 1, r.buf);
    }
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        close(fds[i]);
    /* Room again once they are gone. */
    end = itest_now_ms() + 3000;
    while (get("/healthz")->status != 200) {
        if (itest_now_ms() > end)
            fail_msg("no room after the held connections closed");
        usleep(20000);
    }
    assert_true(sample(get("/metrics")->body, "battled_admin_connections_refused_total") >= 1);
}

static atomic_int g_hammer_stop;
static atomic_int g_hammer_done;

static void *hammer(void *arg)
{
    (void)arg;
    static const char *const paths[] = {"/metrics", "/battles?limit=1000", "/readyz", "/healthz"};
    resp *r = malloc(sizeof *r);
    for (unsigned i = 0; !atomic_load(&g_hammer_stop); i++) {
        char req[128];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                         paths[i % 4]);
        http_raw(g_admin, req, (size_t)n, r);
        if (r->status == 200)
            atomic_fetch_add(&g_hammer_done, 1);
    }
    free(r);
    return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void test_admin_burst_does_not_delay_a_battle(void **state)
{
    (void)state;
    atomic_store(&g_hammer_stop, 0);
    atomic_store(&g_hammer_done, 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);

    /* Solo battles against the AI, timing each of our actions to its first answer, until both
     * enough actions and enough admin requests have overlapped. */
    uint64_t lat[512];
    unsigned nlat = 0;
    uint64_t deadline = itest_now_ms() + BATTLE_MS;
    while ((nlat < 20 || atomic_load(&g_hammer_done) < 50) &&
           itest_now_ms() < deadline) {
        itest_player p;
        proto_event ev;
        itest_player_init(&p, itest_client(&g_srv, "timed"));
        assert_true(pc_create(p.c, "free_trader", PROTO_BAND_ADJACENT, PROTO_VS_AI, "scout") > 0);
        itest_expect(p.c, PROTO_T_STARTED, &ev);
        itest_take_started(&p, &ev);
        while (!p.t.ended && itest_now_ms() < deadline) {
            uint32_t acted = p.actions;
            uint64_t t0 = itest_now_ms();
            itest_act(&p);
            itest_next(p.c, &ev);
            if (p.actions != acted && nlat < 512)
                lat[nlat++] = itest_now_ms() - t0;
            itest_track(&p, &ev);
        }
        pc_close(p.c);
    }
    atomic_store(&g_hammer_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_true(nlat >= 20);
    qsort(lat, nlat, sizeof lat[0], cmp_u64);
    print_message("admin burst: %d admin requests answered; %u actions: p50 %llu ms, max %llu ms\n",
                  atomic_load(&g_hammer_done), nlat, (unsigned long long)lat[nlat / 2],
                  (unsigned long long)lat[nlat - 1]);
    /* The burst really happened, and no action waited on it. */
    assert_true(atomic_load(&g_hammer_done) >= 50);
    assert_true(lat[nlat / 2] < 100);
    assert_true(lat[nlat - 1] < 1000);
}

static void test_readyz_is_503_while_draining(void **state)
{
    (void)state;
    itest_server srv;
    uint16_t admin_p;
    static const char *const sets[] = {"server.drain_timeout_ms=3000", NULL};
    assert_true(start_with_admin(&srv, &admin_p, sets));
    uint16_t saved = g_admin;
    g_admin = admin_p;
    wait_ready();
    /* A running battle keeps the drain going for drain_timeout_ms. */
    itest_player a, b;
    itest_private_pair(&srv, &a, &b, PROTO_BAND_ADJACENT);
    kill(srv.pid, SIGUSR1); /* a drain (a restart would be over too soon to watch) */
    uint64_t end = itest_now_ms() + 2000;
    resp *r;
    for (;;) {
        r = get("/readyz");
        if (r->status == 503)
            break;
        if (itest_now_ms() > end)
            fail_msg("/readyz still %d during the drain: %s", r->status, r->body);
        usleep(20000);
    }
    assert_non_null(strstr(r->body, "\"ready\":false"));
    assert_non_null(strstr(r->body, "\"failed\":[\"listeners\",\"draining\"]"));
    assert_non_null(strstr(r->body, "\"not_draining\":false"));
    /* Still alive, and the metrics say so too. */
    assert_int_equal(get("/healthz")->status, 200);
    assert_true(sample(get("/metrics")->body, "battled_draining") == 1);
    g_admin = saved;
    int rc = itest_stop(&srv, 0, 15000);
    if (rc != 0)
        itest_dump_log(&srv);
    assert_int_equal(rc, 0);
    pc_close(a.c);
    pc_close(b.c);
    itest_cleanup(&srv);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz_readyz_and_unknown_paths),
        cmocka_unit_test(test_metrics_pass_promtool),
        cmocka_unit_test(test_counters_move_after_a_battle),
        cmocka_unit_test(test_battles_lists_a_running_battle),
        cmocka_unit_test(test_battles_limit_and_truncation),
        cmocka_unit_test(test_malformed_and_oversized_requests),
        cmocka_unit_test(test_slowloris_is_closed_after_the_timeout),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_admin_burst_does_not_delay_a_battle),
        cmocka_unit_test(test_readyz_is_503_while_draining),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
