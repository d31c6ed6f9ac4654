/* WebSocket listener of the real battled (issue 13): what a browser relies on and what every
 * hostile client gets. Runs with --ws (ws://) and --ws --tls (wss://, where the HTTP-level cases,
 * which need a raw clear-text socket, are skipped: TLS changes nothing above it).
 * - each hostile frame closes its own connection with the RFC's code, counted on /metrics, while a
 *   battle on another connection goes on to its end;
 * - a bad or missing key or version, a refused origin, an oversized or slow request get their HTTP
 *   status (400, 426, 403, 431, 408); extensions are not negotiated;
 * - the page's files are served with their types, nothing outside the root;
 * - per-address caps on connections and handshakes, on the ws listener and the native port;
 * - a flood of messages into a full shard inbox pauses the connection and loses nothing;
 * - the close handshake, and 1001 when the server drains. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "tests/integration/itest.h"
#include "tests/unit/test_ws_frame.h"

#define BATTLE_MS 60000

static char g_web[128];   /* a web root with known files */
static char g_vendor[160];

/* ---- raw clear-text helpers ----------------------------------------------------------------- */

static int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Reads until the server closes or ms pass; returns the bytes read (NUL-terminated). */
static size_t read_until_close(int fd, char *out, size_t cap, int ms)
{
    size_t n = 0;
    uint64_t end = itest_now_ms() + (uint64_t)ms;
    while (n + 1 < cap) {
        int64_t left = (int64_t)(end - itest_now_ms());
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t k = recv(fd, out + n, cap - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    out[n] = 0;
    return n;
}

/* Sends req on a new clear-text connection and returns the response's status (0: none), the
 * response in resp. */
static int http_exchange(uint16_t port, const char *req, size_t len, char *resp, size_t cap)
{
    int fd = tcp_connect(port);
    size_t off = 0;
    while (off < len) {
        ssize_t k = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    read_until_close(fd, resp, cap, ITEST_WAIT_MS);
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
        status = 0;
    return status;
}

#define UPGRADE(extra)                                                                              \
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" extra   \
    "\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define V13 "Sec-WebSocket-Version: 13\r\n"

static int http_status(uint16_t port, const char *req, char *resp, size_t cap)
{
    return http_exchange(port, req, strlen(req), resp, cap);
}


/* Waits for the server's close frame on c and returns its code. */
static int wait_close_code(pc_conn *c)
{
    proto_event ev;
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    while (itest_now_ms() < end) {
        int r = pc_recv(c, &ev, 200);
        if (r < 0)
            return pc_ws_close_code(c);
    }
    fail_msg("no close frame in time");
    return -1;
}

/* The value of a metrics line (name with labels, exactly), or -1. */
static long metric(const itest_server *s, const char *line)
{
    (void)s;
    char path[200];
    snprintf(path, sizeof path, "%s/adminport", s->dir);
    FILE *f = fopen(path, "r");
    unsigned port = 0;
    if (!f || fscanf(f, "%u", &port) != 1)
        fail_msg("no admin port file");
    fclose(f);
    static char resp[1 << 18];
    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(http_status((uint16_t)port, req, resp, sizeof resp), 200);
    size_t ll = strlen(line);
    for (const char *p = resp; (p = strstr(p, line)) != NULL; p += ll) {
        if ((p == resp || p[-1] == '\n') && p[ll] == ' ')
            return atol(p + ll + 1);
    }
    return -1;
}

static void start(itest_server *s, const char *const *extra)
{
    static char set_web[200], set_vendor[220], set_admin_port[220];
    snprintf(set_web, sizeof set_web, "ws.web_root=%s", g_web);
    snprintf(set_vendor, sizeof set_vendor, "ws.msgpack_dir=%s", g_vendor);
    const char *sets[ITEST_MAX_SETS + 1];
    int n = 0;
    sets[n++] = set_web;
    sets[n++] = set_vendor;
    sets[n++] = "game.ai_think_ms=0";
    sets[n++] = "admin.listen=127.0.0.1:0";
    sets[n++] = set_admin_port; /* filled below, once the directory is known: see start_in */
    for (int i = 0; extra && extra[i] && n < ITEST_MAX_SETS; i++)
        sets[n++] = extra[i];
    sets[n] = NULL;
    /* The admin port file goes to a fixed place per process; itest's directory is made inside
     * itest_start, so use /tmp with the pid. */
    snprintf(set_admin_port, sizeof set_admin_port, "admin.port_file=/tmp/battled-it-ws-%d.admin",
             (int)getpid());
    assert_true(itest_start(s, sets));
    /* Move the admin port file under the test's directory for metric(). */
    char from[64], to[200];
    snprintf(from, sizeof from, "/tmp/battled-it-ws-%d.admin", (int)getpid());
    snprintf(to, sizeof to, "%s/adminport", s->dir);
    assert_int_equal(rename(from, to), 0);
}

/* A solo battle against the AI on its own connection, started and left waiting. */
static void start_solo(const itest_server *s, itest_player *p)
{
    proto_event ev;
    itest_player_init(p, itest_client(s, "bystander"));
    assert_true(pc_create(p->c, "free_trader", PROTO_BAND_CLOSE, PROTO_VS_AI, "scout") > 0);
    itest_expect(p->c, PROTO_T_STARTED, &ev);
    itest_take_started(p, &ev);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_hostile_frames_close_with_their_code(void **state)
{
    (void)state;
    itest_server srv;
    start(&srv, NULL);
    itest_player bystander;
    start_solo(&srv, &bystander);
    static const uint8_t p[300];
    struct {
        const char *name, *metric;
        int fin, rsv, op, masked;
        size_t n;
        uint64_t declared;
        int code;
    } cases[] = {
        {"unmasked", "battled_ws_closes_total{reason=\"unmasked\"}", 1, 0, 2, 0, 4, 4, 1002},
        {"text", "battled_ws_closes_total{reason=\"text\"}", 1, 0, 1, 1, 2, 2, 1003},
        {"reserved bits", "battled_ws_closes_total{reason=\"rsv\"}", 1, 4, 2, 1, 4, 4, 1002},
        {"reserved opcode", "battled_ws_closes_total{reason=\"opcode\"}", 1, 0, 3, 1, 4, 4, 1002},
        {"control over 125", "battled_ws_closes_total{reason=\"control\"}", 1, 0, 9, 1, 126, 126, 1002},
        {"fragmented control", NULL, 0, 0, 9, 1, 1, 1, 1002},
        {"over max_frame", "battled_ws_closes_total{reason=\"too_big\"}", 1, 0, 2, 1, 8, 4097, 1009},
        {"continuation first", "battled_ws_closes_total{reason=\"continuation\"}", 1, 0, 0, 1, 2, 2,
         1002},
        {"bad close", "battled_ws_closes_total{reason=\"bad_close\"}", 1, 0, 8, 1, 1, 1, 1002},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pc_conn *c = itest_client(&srv, "hostile");
        uint8_t b[400];
        size_t n = test_ws_frame(b, cases[i].fin, cases[i].rsv, cases[i].op, cases[i].masked, p,
                           cases[i].n, cases[i].declared);
        assert_int_equal(pc_send_raw(c, b, n), 0);
        int code = wait_close_code(c);
        if (code != cases[i].code)
            fail_msg("%s: close code %d, expected %d", cases[i].name, code, cases[i].code);
        pc_close(c);
    }
    /* Fragmentation abuse: endless empty continuations. */
    pc_conn *c = itest_client(&srv, "fragments");
    uint8_t b[1024];
    size_t o = test_ws_frame(b, 0, 0, 2, 1, NULL, 0, 0);
    for (int i = 0; i < 80; i++)
        o += test_ws_frame(b + o, 0, 0, 0, 1, NULL, 0, 0);
    assert_int_equal(pc_send_raw(c, b, o), 0);
    assert_int_equal(wait_close_code(c), 1008);
    pc_close(c);
    /* Before hello too (nothing to route yet): the same close. */
    c = itest_connect(&srv);
    o = test_ws_frame(b, 1, 0, 1, 1, (const uint8_t *)"hi", 2, 2);
    assert_int_equal(pc_send_raw(c, b, o), 0);
    assert_int_equal(wait_close_code(c), 1003);
    pc_close(c);

    /* Every close was counted, once per case. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!cases[i].metric)
            continue;
        long want = strcmp(cases[i].name, "control over 125") == 0 ? 2 : 1; /* + fragmented */
        if (strcmp(cases[i].name, "text") == 0)
            want = 2; /* + the one before hello */
        long v = metric(&srv, cases[i].metric);
        if (v != want)
            fail_msg("%s = %ld, expected %ld", cases[i].metric, v, want);
    }
    assert_int_equal(metric(&srv, "battled_ws_closes_total{reason=\"fragments\"}"), 1);
    assert_int_equal(metric(&srv, "battled_connections_closed_total{reason=\"websocket\"}"), 11);

    /* The battle on the other connection was never disturbed: it plays to its end. */
    itest_play(&bystander, NULL, BATTLE_MS);
    assert_true(bystander.t.ended);
    pc_close(bystander.c);
    assert_int_equal(itest_finish(&srv, 5000), 0);
}

static void test_close_handshake_and_drain(void **state)
{
    (void)state;
    itest_server srv;
    start(&srv, NULL);
    pc_conn *c = itest_client(&srv, "polite");
    assert_int_equal(pc_ws_send_close(c, 1000), 0);
    assert_int_equal(wait_close_code(c), 1000);
    pc_close(c);
    assert_int_equal(metric(&srv, "battled_ws_closes_total{reason=\"peer_close\"}"), 1);
    /* A drain says "going away". */
    c = itest_client(&srv, "stays");
    kill(srv.pid, SIGTERM);
    assert_int_equal(wait_close_code(c), 1001);
    pc_close(c);
    assert_int_equal(itest_finish(&srv, 5000), 0);
}

static void test_handshake_errors(void **state)
{
    (void)state;
    if (itest_tls())
        skip(); /* raw HTTP needs clear text; the code above TLS is the same */
    itest_server srv;
    static const char *const sets[] = {"ws.handshake_timeout_ms=300", NULL};
    start(&srv, sets);
    itest_player bystander;
    start_solo(&srv, &bystander);
    uint16_t port = srv.ws_port;
    static char resp[1 << 16];
    assert_int_equal(http_status(port, UPGRADE(KEY V13), resp, sizeof resp), 101);
    assert_non_null(strstr(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_int_equal(http_status(port, UPGRADE(V13), resp, sizeof resp), 400);
    assert_int_equal(http_status(port, UPGRADE("Sec-WebSocket-Key: short\r\n" V13), resp, sizeof resp),
                     400);
    assert_int_equal(http_status(port, UPGRADE(KEY), resp, sizeof resp), 426);
    assert_non_null(strstr(resp, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_int_equal(http_status(port, UPGRADE(KEY "Sec-WebSocket-Version: 12\r\n"), resp, sizeof resp),
                     426);
    /* Extensions are declined by not answering them. */
    assert_int_equal(http_status(port, UPGRADE(KEY V13 "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
                                 resp, sizeof resp),
                     101);
    assert_null(strstr(resp, "Extensions"));
    /* Origins: the page's own (Host 127.0.0.1) is allowed, another site is not. */
    assert_int_equal(http_status(port, UPGRADE(KEY V13 "Origin: http://127.0.0.1\r\n"), resp, sizeof resp),
                     101);
    assert_int_equal(http_status(port, UPGRADE(KEY V13 "Origin: https://evil.example\r\n"), resp,
                                 sizeof resp),
                     403);
    /* Upgrades only on /ws. */
    assert_int_equal(http_status(port,
                                 "GET /other HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n" KEY V13 "\r\n",
                                 resp, sizeof resp),
                     404);
    /* Frames before the 101 arrived. */
    assert_int_equal(http_status(port, UPGRADE(KEY V13) "\x82\x80xxxx", resp, sizeof resp), 400);
    /* Over the header limits. */
    static char big[12000];
    int n = snprintf(big, sizeof big, "GET /ws HTTP/1.1\r\nHost: a\r\nX-Pad: ");
    memset(big + n, 'a', 9000);
    memcpy(big + n + 9000, "\r\n\r\n", 5);
    assert_int_equal(http_status(port, big, resp, sizeof resp), 431);
    assert_int_equal(http_status(port, "POST / HTTP/1.1\r\nHost: a\r\n\r\n", resp, sizeof resp), 405);
    /* A slow request: 408 after ws.handshake_timeout_ms. */
    uint64_t t0 = itest_now_ms();
    int fd = tcp_connect(port);
    assert_int_equal(send(fd, "GET /ws HTTP/1.1\r\n", 18, 0), 18);
    read_until_close(fd, resp, sizeof resp, ITEST_WAIT_MS);
    close(fd);
    assert_non_null(strstr(resp, "HTTP/1.1 408 "));
    assert_true(itest_now_ms() - t0 >= 250);

    assert_int_equal(metric(&srv, "battled_ws_upgrades_refused_total{reason=\"bad_key\"}"), 2);
    assert_int_equal(metric(&srv, "battled_ws_upgrades_refused_total{reason=\"bad_version\"}"), 2);
    assert_int_equal(metric(&srv, "battled_ws_upgrades_refused_total{reason=\"origin\"}"), 1);
    assert_int_equal(metric(&srv, "battled_ws_http_too_large_total"), 1);
    assert_int_equal(metric(&srv, "battled_ws_handshake_timeouts_total"), 1);
    assert_int_equal(metric(&srv, "battled_ws_upgrades_total"), 4); /* 3 here, the bystander */

    itest_play(&bystander, NULL, BATTLE_MS);
    assert_true(bystander.t.ended);
    pc_close(bystander.c);
    assert_int_equal(itest_finish(&srv, 5000), 0);
}

static void test_page_files(void **state)
{
    (void)state;
    if (itest_tls())
        skip();
    itest_server srv;
    start(&srv, NULL);
    uint16_t port = srv.ws_port;
    static char resp[1 << 16];
    assert_int_equal(http_status(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", resp, sizeof resp), 200);
    assert_non_null(strstr(resp, "Content-Type: text/html; charset=utf-8\r\n"));
    assert_non_null(strstr(resp, "\r\n\r\n<!doctype html><title>battled</title>"));
    assert_int_equal(http_status(port, "GET /js/app.js?v=1 HTTP/1.1\r\nHost: a\r\n\r\n", resp, sizeof resp),
                     200);
    assert_non_null(strstr(resp, "Content-Type: text/javascript; charset=utf-8\r\n"));
    assert_int_equal(http_status(port, "GET /vendor/msgpack/index.mjs HTTP/1.1\r\nHost: a\r\n\r\n", resp,
                                 sizeof resp),
                     200);
    assert_non_null(strstr(resp, "export const encode"));
    assert_int_equal(http_status(port, "HEAD /style.css HTTP/1.1\r\nHost: a\r\n\r\n", resp, sizeof resp),
                     200);
    assert_non_null(strstr(resp, "Content-Type: text/css; charset=utf-8\r\n"));
    assert_null(strstr(resp, "body{")); /* HEAD: no body */
    const char *const missing[] = {
        "GET /nope.html HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /../config.toml HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /js/../../config.toml HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /%2e%2e/config.toml HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /secret.key HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /.env.js HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        if (http_status(port, missing[i], resp, sizeof resp) != 404)
            fail_msg("not a 404: %s", missing[i]);
    assert_int_equal(metric(&srv, "battled_ws_files_served_total"), 4);
    assert_int_equal(metric(&srv, "battled_ws_files_not_found_total"), 6);
    assert_int_equal(itest_finish(&srv, 5000), 0);
}

/* A client on the native port (clear text) or the wss port (TLS mode) that said hello, or NULL
 * when the server refused it. */
static pc_conn *try_client(const itest_server *s)
{
    pc_conn *t;
    if (itest_tls()) {
        pc_tls_opts o = {.ca_pem = itest_tls_ca_pem(), .server_name = "localhost"};
        t = pc_connect_tls("127.0.0.1", s->port, ITEST_WAIT_MS, 0, &o);
        if (t && pc_ws_upgrade(t, "127.0.0.1", "/ws", NULL, ITEST_WAIT_MS) != 101) {
            pc_close(t);
            t = NULL;
        }
    } else {
        t = pc_connect("127.0.0.1", s->plain_port, ITEST_WAIT_MS, 0);
    }
    if (!t)
        return NULL;
    proto_event ev;
    if (pc_hello(t, "retry") > 0 && pc_recv(t, &ev, ITEST_WAIT_MS) == 1 &&
        ev.type == PROTO_T_WELCOME)
        return t;
    pc_close(t);
    return NULL;
}

static void test_per_address_caps(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"server.max_conns_per_addr=4",
                                       "server.max_handshakes_per_addr=2", NULL};
    start(&srv, sets);
    /* Handshakes: two connections that never say hello hold both places. */
    pc_conn *h1 = itest_connect(&srv);
    pc_conn *h2 = itest_connect(&srv);
    if (!itest_tls()) {
        static char resp[4096];
        assert_int_equal(http_status(srv.ws_port, UPGRADE(KEY V13), resp, sizeof resp), 503);
        /* The native port shares the count: the refusal is a server_busy error frame. */
        pc_conn *n = pc_connect("127.0.0.1", srv.plain_port, ITEST_WAIT_MS, 0);
        assert_non_null(n);
        proto_event ev;
        itest_expect_error(n, PROTO_E_SERVER_BUSY, &ev);
        assert_non_null(strstr(ev.u.error.msg, "handshakes from your address"));
        pc_close(n);
    } else {
        /* Over TLS the refusal is a close before the handshake. */
        pc_tls_opts o = {.ca_pem = itest_tls_ca_pem(), .server_name = "localhost"};
        assert_null(pc_connect_tls("127.0.0.1", srv.port, ITEST_WAIT_MS, 0, &o));
    }
    /* Hello ends a handshake: places free up. */
    proto_event ev;
    assert_true(pc_hello(h1, "h1") > 0);
    itest_expect(h1, PROTO_T_WELCOME, &ev);
    assert_true(pc_hello(h2, "h2") > 0);
    itest_expect(h2, PROTO_T_WELCOME, &ev);
    pc_conn *c3 = itest_client(&srv, "c3");
    pc_conn *c4 = itest_client(&srv, "c4");
    /* Connections: four is the cap. */
    if (!itest_tls()) {
        pc_conn *n = pc_connect("127.0.0.1", srv.plain_port, ITEST_WAIT_MS, 0);
        assert_non_null(n);
        itest_expect_error(n, PROTO_E_SERVER_BUSY, &ev);
        assert_non_null(strstr(ev.u.error.msg, "connections from your address"));
        pc_close(n);
    }
    assert_true(metric(&srv, "battled_handshakes_refused_by_address_total") >= 1);
    assert_int_equal(metric(&srv, "battled_source_addresses"), 1);
    /* One leaves: a new one may come, once the server saw it go. */
    pc_close(c4);
    pc_conn *c5 = NULL;
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    while (!c5 && itest_now_ms() < end)
        c5 = try_client(&srv);
    assert_non_null(c5);
    if (!itest_tls())
        assert_true(metric(&srv, "battled_connections_refused_by_address_total") >= 1);
    pc_close(h1);
    pc_close(h2);
    pc_close(c3);
    pc_close(c5);
    assert_int_equal(itest_finish(&srv, 5000), 0);
}

/* Many requests in one write into a 64-slot shard inbox: the WebSocket connection pauses and
 * resumes, and every request gets its reply in order. */
static void test_flood_pauses_without_loss(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"server.ring_slots=64", "server.output_cap=67108864", NULL};
    start(&srv, sets);
    pc_conn *c = itest_client(&srv, "flood");
    enum { N = 20000 };
    size_t total = 0;
    uint8_t *frames = itest_encode_fires(N, 0x4242, &total);
    /* Each native frame's body becomes one masked binary message. */
    uint8_t *buf = malloc(total * 2);
    assert_non_null(buf);
    size_t off = 0;
    for (size_t at = 0; at + 4 <= total;) {
        size_t len = (size_t)frames[at] << 24 | (size_t)frames[at + 1] << 16 |
                     (size_t)frames[at + 2] << 8 | frames[at + 3];
        off += test_ws_frame(buf + off, 1, 0, 2, 1, frames + at + 4, len, len);
        at += 4 + len;
    }
    free(frames);
    assert_int_equal(pc_send_raw(c, buf, off), 0);
    free(buf);
    proto_event ev;
    for (uint32_t i = 1; i <= N; i++) {
        itest_expect_error(c, PROTO_E_NO_SUCH_BATTLE, &ev);
        if (ev.rid != i)
            fail_msg("reply %u carries rid %u", i, ev.rid);
    }
    assert_true(metric(&srv, "battled_net_reads_paused_total") >= 1);
    pc_close(c);
    assert_int_equal(itest_finish(&srv, 5000), 0);
}

/* ---- fixture -------------------------------------------------------------------------------- */

static void put(const char *dir, const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_web, sizeof g_web, "/tmp/battled-it-ws-web-XXXXXX");
    if (!mkdtemp(g_web))
        return -1;
    char js[160];
    snprintf(js, sizeof js, "%s/js", g_web);
    snprintf(g_vendor, sizeof g_vendor, "%s/vendor", g_web);
    /* The vendor folder sits inside the web root here, but is served only at /vendor/msgpack/. */
    if (mkdir(js, 0755) != 0 || mkdir(g_vendor, 0755) != 0)
        return -1;
    put(g_web, "index.html", "<!doctype html><title>battled</title>");
    put(g_web, "style.css", "body{margin:0}");
    put(g_web, "secret.key", "not served");
    put(g_web, ".env.js", "not served");
    put(js, "app.js", "export {};");
    put(g_vendor, "index.mjs", "export const encode = 1;");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_web);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    if (!itest_ws()) {
        fprintf(stderr, "test_it_ws runs with --ws\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_frames_close_with_their_code),
        cmocka_unit_test(test_close_handshake_and_drain),
        cmocka_unit_test(test_handshake_errors),
        cmocka_unit_test(test_page_files),
        cmocka_unit_test(test_per_address_caps),
        cmocka_unit_test(test_flood_pauses_without_loss),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
