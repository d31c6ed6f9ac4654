/* Unit tests for net/ws (handshake, framing over wslay, static files) and net/addrcap: what a
 * browser relies on (the RFC's accept key, messages whole and in order, ping answered, the close
 * handshake) and what every hostile input gets (the close code or HTTP status the RFC asks for). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "net/addrcap.h"
#include "net/ws.h"
#include "tests/unit/test_ws_frame.h"
#include "util/log.h"

/* ---- a session with recording callbacks ------------------------------------------------------ */

typedef struct {
    ws_sess *w;
    int msgs;
    uint8_t last[70000];
    size_t last_len;
    bool stop_after; /* on_message returns false */
    uint8_t out[4096];
    size_t out_len;
} rec;

static bool on_msg(void *user, const uint8_t *m, size_t n)
{
    rec *r = user;
    r->msgs++;
    assert_true(n <= sizeof r->last);
    memcpy(r->last, m, n);
    r->last_len = n;
    return !r->stop_after;
}

static void on_write(void *user, const uint8_t *h, size_t hl, const uint8_t *p, size_t pl)
{
    rec *r = user;
    assert_true(r->out_len + hl + pl <= sizeof r->out);
    memcpy(r->out + r->out_len, h, hl);
    r->out_len += hl;
    if (pl)
        memcpy(r->out + r->out_len, p, pl);
    r->out_len += pl;
}

static rec *rec_new(uint32_t max)
{
    rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->w = ws_sess_new(max, on_msg, on_write, r);
    assert_non_null(r->w);
    return r;
}

static void rec_free(rec *r)
{
    ws_sess_free(r->w);
    free(r);
}


static ws_feed_status feed_all(rec *r, const uint8_t *b, size_t n)
{
    size_t used = 0;
    ws_feed_status st = ws_feed(r->w, b, n, &used);
    if (st == WS_FEED_DONE)
        assert_int_equal(used, n);
    return st;
}

/* The close frame the server wrote last: its code. */
static int sent_close_code(const rec *r)
{
    /* Server frames are unmasked with short payloads here: find the last 0x88 header. */
    for (size_t i = 0; i + 1 < r->out_len; i++) {
        if (r->out[i] == 0x88) {
            size_t n = r->out[i + 1];
            if (n >= 2 && i + 2 + n <= r->out_len)
                return r->out[i + 2] << 8 | r->out[i + 3];
            if (n == 0)
                return 1005;
        }
    }
    return -1;
}

static void expect_close(uint32_t max, const uint8_t *b, size_t n, ws_end why, int code)
{
    rec *r = rec_new(max);
    assert_int_equal(feed_all(r, b, n), WS_FEED_CLOSED);
    assert_int_equal(ws_sess_end(r->w), why);
    assert_int_equal(ws_sess_close_code(r->w), code);
    assert_int_equal(sent_close_code(r), code);
    assert_int_equal(r->msgs, 0);
    /* After the end nothing more is read. */
    size_t used = 9;
    assert_int_equal(ws_feed(r->w, b, n, &used), WS_FEED_CLOSED);
    assert_int_equal(used, 0);
    rec_free(r);
}

static void test_message_whole_split_and_fragmented(void **state)
{
    (void)state;
    uint8_t b[80000];
    const uint8_t msg[] = {0x82, 0xa1, 't', 0xa5, 'h', 'e', 'l', 'l', 'o'};
    size_t n = test_ws_frame(b, 1, 0, 2, 1, msg, sizeof msg, sizeof msg);
    rec *r = rec_new(4096);
    assert_int_equal(feed_all(r, b, n), WS_FEED_DONE);
    assert_int_equal(r->msgs, 1);
    assert_memory_equal(r->last, msg, sizeof msg);
    /* Byte at a time. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(feed_all(r, b + i, 1), WS_FEED_DONE);
    assert_int_equal(r->msgs, 2);
    assert_int_equal(r->last_len, sizeof msg);
    assert_memory_equal(r->last, msg, sizeof msg);
    /* Three fragments, with a ping between them (control frames may interleave). */
    size_t o = test_ws_frame(b, 0, 0, 2, 1, msg, 3, 3);
    o += test_ws_frame(b + o, 1, 0, 9, 1, (const uint8_t *)"hi", 2, 2);
    o += test_ws_frame(b + o, 0, 0, 0, 1, msg + 3, 3, 3);
    o += test_ws_frame(b + o, 1, 0, 0, 1, msg + 6, 3, 3);
    r->out_len = 0;
    assert_int_equal(feed_all(r, b, o), WS_FEED_DONE);
    assert_int_equal(r->msgs, 3);
    assert_memory_equal(r->last, msg, sizeof msg);
    /* The pong echoes the ping's payload, unmasked. */
    assert_int_equal(r->out_len, 4);
    assert_int_equal(r->out[0], 0x8a);
    assert_int_equal(r->out[1], 2);
    assert_memory_equal(r->out + 2, "hi", 2);
    /* A message of 60000 bytes (64-bit... 16-bit length form) crosses wslay's buffer. */
    static uint8_t big[60000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    rec *r2 = rec_new(65536);
    n = test_ws_frame(b, 1, 0, 2, 1, big, sizeof big, sizeof big);
    assert_int_equal(feed_all(r2, b, n), WS_FEED_DONE);
    assert_int_equal(r2->msgs, 1);
    assert_int_equal(r2->last_len, sizeof big);
    assert_memory_equal(r2->last, big, sizeof big);
    rec_free(r2);
    rec_free(r);
}

static void test_send_binary_and_close(void **state)
{
    (void)state;
    rec *r = rec_new(4096);
    ws_send_binary(r->w, (const uint8_t *)"abc", 3);
    assert_int_equal(r->out_len, 5);
    assert_memory_equal(r->out, "\x82\x03" "abc", 5);
    static uint8_t mid[300];
    r->out_len = 0;
    ws_send_binary(r->w, mid, sizeof mid);
    assert_int_equal(r->out_len, 4 + sizeof mid);
    assert_int_equal(r->out[1], 126);
    assert_int_equal(r->out[2] << 8 | r->out[3], 300);
    r->out_len = 0;
    assert_true(ws_send_close(r->w, WS_CLOSE_GOING_AWAY, "bye"));
    assert_false(ws_send_close(r->w, WS_CLOSE_NORMAL, NULL));
    assert_int_equal(sent_close_code(r), 1001);
    /* Nothing follows a close frame. */
    size_t before = r->out_len;
    ws_send_binary(r->w, (const uint8_t *)"x", 1);
    assert_int_equal(r->out_len, before);
    rec_free(r);
}

static void test_stop_keeps_the_rest(void **state)
{
    (void)state;
    uint8_t b[256];
    size_t o = test_ws_frame(b, 1, 0, 2, 1, (const uint8_t *)"one", 3, 3);
    o += test_ws_frame(b + o, 1, 0, 2, 1, (const uint8_t *)"two", 3, 3);
    rec *r = rec_new(4096);
    r->stop_after = true;
    size_t used = 0;
    assert_int_equal(ws_feed(r->w, b, o, &used), WS_FEED_STOPPED);
    assert_int_equal(r->msgs, 1);
    assert_memory_equal(r->last, "one", 3);
    /* What wslay already buffered comes with a NULL feed, then the rest of the input. */
    r->stop_after = false;
    size_t u2 = 0;
    assert_int_equal(ws_feed(r->w, NULL, 0, &u2), WS_FEED_DONE);
    assert_int_equal(ws_feed(r->w, b + used, o - used, &u2), WS_FEED_DONE);
    assert_int_equal(r->msgs, 2);
    assert_memory_equal(r->last, "two", 3);
    rec_free(r);
}

static void test_hostile_frames(void **state)
{
    (void)state;
    uint8_t b[300];
    static const uint8_t p[200];
    expect_close(4096, b, test_ws_frame(b, 1, 0, 2, 0, p, 4, 4), WS_END_UNMASKED, 1002);
    expect_close(4096, b, test_ws_frame(b, 1, 0, 1, 1, (const uint8_t *)"hi", 2, 2), WS_END_TEXT, 1003);
    expect_close(4096, b, test_ws_frame(b, 1, 4, 2, 1, p, 4, 4), WS_END_RSV, 1002);
    expect_close(4096, b, test_ws_frame(b, 1, 1, 9, 1, p, 0, 0), WS_END_RSV, 1002);
    expect_close(4096, b, test_ws_frame(b, 1, 0, 3, 1, p, 4, 4), WS_END_OPCODE, 1002);
    expect_close(4096, b, test_ws_frame(b, 1, 0, 0xb, 1, p, 0, 0), WS_END_OPCODE, 1002);
    /* Control frames: over 125 bytes, or fragmented. */
    expect_close(4096, b, test_ws_frame(b, 1, 0, 9, 1, p, 126, 126), WS_END_CONTROL, 1002);
    expect_close(4096, b, test_ws_frame(b, 0, 0, 9, 1, p, 1, 1), WS_END_CONTROL, 1002);
    /* Over the message limit: decided from the declared length on the first payload bytes, before
     * any is buffered. */
    expect_close(4096, b, test_ws_frame(b, 1, 0, 2, 1, p, 8, 4097), WS_END_TOO_BIG, 1009);
    expect_close(4096, b, test_ws_frame(b, 1, 0, 2, 1, p, 8, 1ull << 40), WS_END_TOO_BIG, 1009);
    /* A length not in its shortest form. */
    b[0] = 0x82;
    b[1] = 0x80 | 126;
    b[2] = 0;
    b[3] = 5;
    expect_close(4096, b, 4, WS_END_CONTROL, 1002);
    /* Continuation rules. */
    expect_close(4096, b, test_ws_frame(b, 1, 0, 0, 1, p, 2, 2), WS_END_CONTINUATION, 1002);
    size_t o = test_ws_frame(b, 0, 0, 2, 1, p, 2, 2);
    o += test_ws_frame(b + o, 1, 0, 2, 1, p, 2, 2);
    expect_close(4096, b, o, WS_END_CONTINUATION, 1002);
    /* Fragments add up past the limit. */
    o = test_ws_frame(b, 0, 0, 2, 1, p, 100, 100);
    o += test_ws_frame(b + o, 1, 0, 0, 1, p, 10, 200);
    expect_close(256, b, o, WS_END_TOO_BIG, 1009);
}

static void test_fragment_flood(void **state)
{
    (void)state;
    uint8_t b[2048];
    size_t o = test_ws_frame(b, 0, 0, 2, 1, NULL, 0, 0);
    for (int i = 0; i < WS_MAX_FRAGMENTS; i++)
        o += test_ws_frame(b + o, 0, 0, 0, 1, NULL, 0, 0);
    expect_close(4096, b, o, WS_END_FRAGMENTS, 1008);
    /* Exactly WS_MAX_FRAGMENTS is a message. */
    rec *r = rec_new(4096);
    o = test_ws_frame(b, 0, 0, 2, 1, (const uint8_t *)"a", 1, 1);
    for (int i = 1; i < WS_MAX_FRAGMENTS - 1; i++)
        o += test_ws_frame(b + o, 0, 0, 0, 1, NULL, 0, 0);
    o += test_ws_frame(b + o, 1, 0, 0, 1, (const uint8_t *)"b", 1, 1);
    assert_int_equal(feed_all(r, b, o), WS_FEED_DONE);
    assert_int_equal(r->msgs, 1);
    assert_memory_equal(r->last, "ab", 2);
    rec_free(r);
}

static void test_close_handshake(void **state)
{
    (void)state;
    uint8_t b[200];
    rec *r = rec_new(4096);
    const uint8_t c1000[] = {0x03, 0xe8, 'o', 'k'};
    assert_int_equal(feed_all(r, b, test_ws_frame(b, 1, 0, 8, 1, c1000, 4, 4)), WS_FEED_CLOSED);
    assert_int_equal(ws_sess_end(r->w), WS_END_PEER_CLOSE);
    assert_int_equal(sent_close_code(r), 1000);
    rec_free(r);
    /* No code: answered with 1000. */
    r = rec_new(4096);
    assert_int_equal(feed_all(r, b, test_ws_frame(b, 1, 0, 8, 1, NULL, 0, 0)), WS_FEED_CLOSED);
    assert_int_equal(sent_close_code(r), 1000);
    rec_free(r);
    /* An application code is echoed. */
    r = rec_new(4096);
    const uint8_t c4000[] = {0x0f, 0xa0};
    assert_int_equal(feed_all(r, b, test_ws_frame(b, 1, 0, 8, 1, c4000, 2, 2)), WS_FEED_CLOSED);
    assert_int_equal(sent_close_code(r), 4000);
    rec_free(r);
    const uint8_t one[] = {0x03};
    expect_close(4096, b, test_ws_frame(b, 1, 0, 8, 1, one, 1, 1), WS_END_BAD_CLOSE, 1002);
    const uint8_t c1005[] = {0x03, 0xed};
    expect_close(4096, b, test_ws_frame(b, 1, 0, 8, 1, c1005, 2, 2), WS_END_BAD_CLOSE, 1002);
    const uint8_t badutf[] = {0x03, 0xe8, 0xc0, 0xaf};
    expect_close(4096, b, test_ws_frame(b, 1, 0, 8, 1, badutf, 4, 4), WS_END_BAD_CLOSE, 1007);
}

/* ---- handshake ------------------------------------------------------------------------------ */

static void test_accept_key_rfc_example(void **state)
{
    (void)state;
    char out[WS_ACCEPT_LEN + 1];
    /* RFC 6455 section 1.3. */
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static ws_hs_result hs(const char *text, const char *allow, char *out, size_t cap, size_t *olen)
{
    http_parser p;
    http_parser_init(&p);
    static struct http_request req;
    if (http_parse(&p, text, strlen(text), &req) != HTTP_COMPLETE)
        fail_msg("not parsed (%d %s): %s", req.status, req.reason, text);
    return ws_handshake(&req, allow, out, cap, olen);
}

#define REQ(extra)                                                                                 \
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"                           \
    "Connection: keep-alive, Upgrade\r\n" extra "\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define V13 "Sec-WebSocket-Version: 13\r\n"

static void test_handshake(void **state)
{
    (void)state;
    char out[WS_RESPONSE_MAX];
    size_t n = 0;
    assert_int_equal(hs(REQ(KEY V13 "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                            "Origin: http://127.0.0.1:8080\r\n"),
                        "self", out, sizeof out, &n),
                     WS_HS_OK);
    out[n] = 0;
    assert_non_null(strstr(out, "HTTP/1.1 101 Switching Protocols\r\n"));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    /* The extension is declined by not naming it. */
    assert_null(strstr(out, "Extensions"));
    assert_int_equal(hs(REQ(V13), "self", out, sizeof out, &n), WS_HS_BAD_KEY);
    out[n] = 0;
    assert_non_null(strstr(out, "HTTP/1.1 400 "));
    assert_int_equal(hs(REQ("Sec-WebSocket-Key: c2hvcnQ=\r\n" V13), "self", out, sizeof out, &n),
                     WS_HS_BAD_KEY);
    assert_int_equal(hs(REQ(KEY KEY V13), "self", out, sizeof out, &n), WS_HS_BAD_KEY);
    assert_int_equal(hs(REQ(KEY), "self", out, sizeof out, &n), WS_HS_BAD_VERSION);
    out[n] = 0;
    assert_non_null(strstr(out, "HTTP/1.1 426 "));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_int_equal(hs(REQ(KEY "Sec-WebSocket-Version: 8\r\n"), "self", out, sizeof out, &n),
                     WS_HS_BAD_VERSION);
    assert_int_equal(hs("GET /ws HTTP/1.1\r\nHost: a\r\n" KEY V13 "\r\n", "self", out, sizeof out, &n),
                     WS_HS_NOT_UPGRADE);
    assert_int_equal(hs("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n" KEY V13 "\r\n", "self",
                        out, sizeof out, &n),
                     WS_HS_NOT_UPGRADE);
    assert_int_equal(hs("GET /ws HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                        KEY V13 "\r\n", "self", out, sizeof out, &n),
                     WS_HS_NOT_UPGRADE);
    /* Origins. */
    assert_int_equal(hs(REQ(KEY V13 "Origin: http://evil.example\r\n"), "self", out, sizeof out, &n),
                     WS_HS_ORIGIN);
    out[n] = 0;
    assert_non_null(strstr(out, "HTTP/1.1 403 "));
    assert_int_equal(hs(REQ(KEY V13 "Origin: http://evil.example\r\n"), "*", out, sizeof out, &n),
                     WS_HS_OK);
    assert_int_equal(hs(REQ(KEY V13 "Origin: http://evil.example\r\n"), "", out, sizeof out, &n),
                     WS_HS_ORIGIN);
    assert_int_equal(hs(REQ(KEY V13), "", out, sizeof out, &n), WS_HS_OK); /* not a browser */
    assert_int_equal(hs(REQ(KEY V13 "Origin: http://a\r\nOrigin: http://127.0.0.1:8080\r\n"), "*", out,
                        sizeof out, &n),
                     WS_HS_ORIGIN);
}

static void test_origin_list(void **state)
{
    (void)state;
    const char *h = "play.example.com";
#define OK(allow, o) assert_true(ws_origin_allowed(allow, o, strlen(o), h, strlen(h)))
#define NO(allow, o) assert_false(ws_origin_allowed(allow, o, strlen(o), h, strlen(h)))
    OK("self", "https://play.example.com");
    OK("self", "http://PLAY.example.com");
    NO("self", "https://play.example.com.evil.net");
    NO("self", "https://play.example.com:444");
    NO("self", "null");
    OK("https://a.example, self", "https://play.example.com");
    OK("https://a.example, https://b.example", "https://b.example");
    NO("https://a.example, https://b.example", "https://b.example.evil");
    NO("https://a.example", "http://a.example");
    OK("*", "null");
    NO("", "https://play.example.com");
    NO(" , ,", "https://play.example.com");
#undef OK
#undef NO
}

/* ---- static files --------------------------------------------------------------------------- */

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_static_files(void **state)
{
    (void)state;
    char root[] = "/tmp/battled-wsst-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[256];
    snprintf(p, sizeof p, "%s/index.html", root);
    put_file(p, "<!doctype html>");
    snprintf(p, sizeof p, "%s/js", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/js/app.mjs", root);
    put_file(p, "export {}");
    snprintf(p, sizeof p, "%s/secret.key", root);
    put_file(p, "no");
    snprintf(p, sizeof p, "%s/.hidden.js", root);
    put_file(p, "no");
    ws_static *st = ws_static_new();
    assert_non_null(st);
    assert_int_equal(ws_static_add_dir(st, root, "/"), 2);
    assert_int_equal(ws_static_add_dir(st, "/nonexistent-battled", "/x/"), -1);
    const uint8_t *body;
    size_t len;
    const char *type;
#define FIND(path) ws_static_find(st, path, strlen(path), &body, &len, &type)
    assert_true(FIND("/"));
    assert_int_equal(len, 15);
    assert_string_equal(type, "text/html; charset=utf-8");
    assert_true(FIND("/index.html"));
    assert_true(FIND("/js/app.mjs"));
    assert_string_equal(type, "text/javascript; charset=utf-8");
    assert_false(FIND("/secret.key"));
    assert_false(FIND("/.hidden.js"));
    assert_false(FIND("/js/../index.html"));
    assert_false(FIND("/../index.html"));
    assert_false(FIND("//index.html"));
    assert_false(FIND("/%2e%2e/index.html"));
    assert_false(FIND("/js\\app.mjs"));
    assert_false(FIND("index.html"));
    assert_false(FIND("/nope.html"));
#undef FIND
    assert_string_equal(ws_content_type("a.svg", 5), "image/svg+xml");
    assert_string_equal(ws_content_type("a.PNG", 5), "image/png");
    assert_string_equal(ws_content_type("a.json", 6), "application/json");
    assert_string_equal(ws_content_type("favicon.ico", 11), "image/x-icon");
    assert_string_equal(ws_content_type("s.css", 5), "text/css; charset=utf-8");
    assert_null(ws_content_type("x.exe", 5));
    assert_null(ws_content_type(".js", 3));
    ws_static_free(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

/* ---- per-address caps ----------------------------------------------------------------------- */

static addrcap_key v4(uint32_t a)
{
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(a);
    return addrcap_key_of((const struct sockaddr *)&in);
}

static void test_addrcap(void **state)
{
    (void)state;
    addrcap t;
    memset(&t, 0, sizeof t);
    addrcap_key a = v4(0x7f000001), b = v4(0x7f000002);
    /* Handshakes: 2 at once from a. */
    assert_int_equal(addrcap_acquire(&t, &a, 3, 2), ADDRCAP_OK);
    assert_int_equal(addrcap_acquire(&t, &a, 3, 2), ADDRCAP_OK);
    assert_int_equal(addrcap_acquire(&t, &a, 3, 2), ADDRCAP_HANDSHAKES);
    assert_int_equal(addrcap_acquire(&t, &b, 3, 2), ADDRCAP_OK);
    addrcap_handshake_done(&t, &a);
    assert_int_equal(addrcap_acquire(&t, &a, 3, 2), ADDRCAP_OK);
    addrcap_handshake_done(&t, &a);
    /* Connections: 3 from a. */
    assert_int_equal(addrcap_acquire(&t, &a, 3, 2), ADDRCAP_CONNS);
    assert_int_equal(addrcap_addresses(&t), 2);
    addrcap_release(&t, &a, false); /* 2 left, 1 of them handshaking */
    assert_int_equal(addrcap_acquire(&t, &a, 3, 2), ADDRCAP_OK);
    addrcap_release(&t, &a, true);
    addrcap_release(&t, &a, true);
    addrcap_release(&t, &a, false);
    addrcap_release(&t, &b, true);
    assert_int_equal(addrcap_addresses(&t), 0);
    /* 0 = no limit; many addresses grow the table and deletions keep every other entry. */
    for (uint32_t i = 0; i < 5000; i++) {
        addrcap_key k = v4(0x0a000000 + i);
        assert_int_equal(addrcap_acquire(&t, &k, 0, 0), ADDRCAP_OK);
    }
    for (uint32_t i = 0; i < 5000; i += 2) {
        addrcap_key k = v4(0x0a000000 + i);
        addrcap_release(&t, &k, true);
    }
    assert_int_equal(addrcap_addresses(&t), 2500);
    for (uint32_t i = 1; i < 5000; i += 2) {
        addrcap_key k = v4(0x0a000000 + i);
        assert_int_equal(addrcap_acquire(&t, &k, 2, 0), ADDRCAP_OK); /* found: second conn */
        assert_int_equal(addrcap_acquire(&t, &k, 2, 0), ADDRCAP_CONNS);
    }
    assert_int_equal(addrcap_addresses(&t), 2500);
    addrcap_destroy(&t);
}

int main(void)
{
    log_init(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_whole_split_and_fragmented),
        cmocka_unit_test(test_send_binary_and_close),
        cmocka_unit_test(test_stop_keeps_the_rest),
        cmocka_unit_test(test_hostile_frames),
        cmocka_unit_test(test_fragment_flood),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_accept_key_rfc_example),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_origin_list),
        cmocka_unit_test(test_static_files),
        cmocka_unit_test(test_addrcap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
