/* Unit tests for net/http: what the admin listener relies on. Every malformed request
 * class gets the status it must, both when the request arrives whole and when it
 * arrives one byte at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/http.h"

static int parse_whole(const char *buf, size_t len, struct http_request *req)
{
    http_parser p;
    http_parser_init(&p);
    return http_parse(&p, buf, len, req);
}

/* Delivers buf one byte at a time, as a slow client would; returns the first result that
 * is not NEED_MORE (or NEED_MORE when the bytes ran out). */
static int parse_bytewise(const char *buf, size_t len, struct http_request *req)
{
    http_parser p;
    http_parser_init(&p);
    int r = HTTP_NEED_MORE;
    for (size_t n = 1; n <= len && r == HTTP_NEED_MORE; n++)
        r = http_parse(&p, buf, n, req);
    return r;
}

#define S(lit) lit, sizeof(lit) - 1

static bool span_eq(const char *p, size_t n, const char *lit)
{
    return p && n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static void test_simple_get(void **state)
{
    static const char r[] = "GET /metrics?x=1&y=%20 HTTP/1.1\r\n"
                            "Host: localhost:9100\r\n"
                            "User-Agent: Prometheus/2.42\r\n"
                            "Accept:text/plain;version=0.0.4 \t\r\n"
                            "\r\n";
    struct http_request req;
    assert_int_equal(parse_whole(S(r), &req), HTTP_COMPLETE);
    assert_int_equal(req.method, HTTP_GET);
    assert_true(span_eq(req.path, req.path_len, "/metrics"));
    assert_true(span_eq(req.query, req.query_len, "x=1&y=%20"));
    assert_int_equal(req.version_minor, 1);
    assert_true(req.keep_alive);
    assert_int_equal(req.head_len, sizeof r - 1);
    assert_int_equal(req.nheaders, 3);
    const struct http_header *h = http_find_header(&req, "accept");
    assert_non_null(h);
    assert_true(span_eq(h->value, h->value_len, "text/plain;version=0.0.4"));
    h = http_find_header(&req, "HOST");
    assert_true(span_eq(h->value, h->value_len, "localhost:9100"));
    assert_null(http_find_header(&req, "cookie"));
}

static void test_head_and_no_query(void **state)
{
    static const char r[] = "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    struct http_request req;
    assert_int_equal(parse_whole(S(r), &req), HTTP_COMPLETE);
    assert_int_equal(req.method, HTTP_HEAD);
    assert_true(span_eq(req.path, req.path_len, "/healthz"));
    assert_null(req.query);
    assert_int_equal(req.query_len, 0);
    /* "?" with nothing after is an empty query, not no query. */
    static const char r2[] = "GET /x? HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_whole(S(r2), &req), HTTP_COMPLETE);
    assert_non_null(req.query);
    assert_int_equal(req.query_len, 0);
}

static void test_keep_alive_rules(void **state)
{
    struct http_request req;
    assert_int_equal(parse_whole(S("GET / HTTP/1.0\r\n\r\n"), &req), HTTP_COMPLETE);
    assert_int_equal(req.version_minor, 0);
    assert_false(req.keep_alive); /* 1.0 closes by default, Host optional */
    assert_int_equal(parse_whole(S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), &req),
                     HTTP_COMPLETE);
    assert_true(req.keep_alive);
    assert_int_equal(parse_whole(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
                                 &req), HTTP_COMPLETE);
    assert_false(req.keep_alive);
    assert_int_equal(parse_whole(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n"),
                                 &req), HTTP_COMPLETE);
    assert_false(req.keep_alive);
    assert_int_equal(parse_whole(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n"),
                                 &req), HTTP_COMPLETE);
    assert_true(req.keep_alive); /* a token that merely starts with "close" */
    /* HTTP/1.x with x > 1 is answered as 1.1. */
    assert_int_equal(parse_whole(S("GET / HTTP/1.9\r\nHost: a\r\n\r\n"), &req), HTTP_COMPLETE);
    assert_int_equal(req.version_minor, 1);
    assert_int_equal(parse_whole(S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n"),
                                 &req), HTTP_COMPLETE);
}

static void test_incremental_equals_whole(void **state)
{
    static const char r[] = "GET /a/b%2Fc HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Y: 1\r\n\r\n";
    struct http_request whole, slow;
    assert_int_equal(parse_whole(S(r), &whole), HTTP_COMPLETE);
    http_parser p;
    http_parser_init(&p);
    for (size_t n = 1; n < sizeof r - 1; n++)
        assert_int_equal(http_parse(&p, r, n, &slow), HTTP_NEED_MORE);
    assert_int_equal(http_parse(&p, r, sizeof r - 1, &slow), HTTP_COMPLETE);
    assert_int_equal(slow.head_len, whole.head_len);
    assert_int_equal(slow.nheaders, 3);
    assert_true(span_eq(slow.path, slow.path_len, "/a/b%2Fc"));
    const struct http_header *h = http_find_header(&slow, "x-empty");
    assert_non_null(h);
    assert_int_equal(h->value_len, 0);
}

static void test_pipelined_requests(void **state)
{
    static const char r[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                            "HEAD /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                            "GET /thr";
    struct http_request req;
    http_parser p;
    http_parser_init(&p);
    const char *at = r;
    size_t left = sizeof r - 1;
    assert_int_equal(http_parse(&p, at, left, &req), HTTP_COMPLETE);
    assert_true(span_eq(req.path, req.path_len, "/one"));
    at += req.head_len;
    left -= req.head_len;
    http_parser_init(&p);
    assert_int_equal(http_parse(&p, at, left, &req), HTTP_COMPLETE);
    assert_true(span_eq(req.path, req.path_len, "/two"));
    assert_false(req.keep_alive);
    at += req.head_len;
    left -= req.head_len;
    http_parser_init(&p);
    assert_int_equal(http_parse(&p, at, left, &req), HTTP_NEED_MORE);
}

struct bad_case {
    const char *name;
    const char *text;
    int status;
};

static const struct bad_case bad_cases[] = {
    {"POST is not served", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 405},
    {"DELETE is not served", "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", 405},
    {"lower-case get is another method", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 405},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
    {"bare LF ending lines", "GET / HTTP/1.1\nHost: a\n\n", 400},
    {"bare LF in headers", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
    {"bare CR in header", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
    {"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"empty request line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {"missing version", "GET /\r\nHost: a\r\n\r\n", 400},
    {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"absolute-form target", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"asterisk target", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"bad percent escape", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"short percent escape", "GET /%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"bad method character", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"method too long", "ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"bad version text", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400},
    {"version with two digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
    {"no Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
    {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"obsolete folding", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400},
    {"empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400},
    {"header without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
    {"control byte in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 400},
    {"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n", 400},
    {"body by Content-Length", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 413},
    {"negative Content-Length", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
    {"Content-Length list", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 0\r\n\r\n", 400},
    {"two Content-Lengths", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400},
    {"Transfer-Encoding", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
};

static void test_malformed_requests(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct http_request req;
        int r = parse_whole(c->text, strlen(c->text), &req);
        if (r != HTTP_ERROR || req.status != c->status)
            fail_msg("%s: whole: result %d status %d, want status %d", c->name, r, req.status,
                     c->status);
        assert_non_null(req.reason);
        r = parse_bytewise(c->text, strlen(c->text), &req);
        if (r != HTTP_ERROR || req.status != c->status)
            fail_msg("%s: bytewise: result %d status %d, want status %d", c->name, r,
                     req.status, c->status);
    }
}

static void test_NUL_byte(void **state)
{
    static const char r[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    struct http_request req;
    assert_int_equal(parse_whole(r, sizeof r - 1, &req), HTTP_ERROR);
    assert_int_equal(req.status, 400);
    static const char h[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    assert_int_equal(parse_whole(h, sizeof h - 1, &req), HTTP_ERROR);
    assert_int_equal(req.status, 400);
}

/* A target longer than HTTP_MAX_TARGET is refused with 414 before its line ends. */
static void test_target_too_long(void **state)
{
    static char r[HTTP_MAX_TARGET + 64];
    memcpy(r, "GET /", 5);
    memset(r + 5, 'a', HTTP_MAX_TARGET - 1); /* exactly HTTP_MAX_TARGET: accepted */
    size_t n = 4 + HTTP_MAX_TARGET;
    memcpy(r + n, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
    struct http_request req;
    assert_int_equal(parse_whole(r, n + 22, &req), HTTP_COMPLETE);
    assert_int_equal(req.path_len, HTTP_MAX_TARGET);

    r[n] = 'a'; /* one more character, and no line end yet */
    assert_int_equal(parse_whole(r, n + 1, &req), HTTP_ERROR);
    assert_int_equal(req.status, 414);
    assert_int_equal(parse_whole(r, n, &req), HTTP_NEED_MORE);
}

static void test_too_many_headers(void **state)
{
    static char r[HTTP_MAX_HEAD];
    size_t n = (size_t)sprintf(r, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < HTTP_MAX_HEADERS; i++)
        n += (size_t)sprintf(r + n, "X-%d: v\r\n", i);
    size_t at_limit = n;
    n += (size_t)sprintf(r + n, "\r\n");
    struct http_request req;
    assert_int_equal(parse_whole(r, n, &req), HTTP_COMPLETE);
    assert_int_equal(req.nheaders, HTTP_MAX_HEADERS);
    n = at_limit + (size_t)sprintf(r + at_limit, "X-last: v\r\n\r\n");
    assert_int_equal(parse_whole(r, n, &req), HTTP_ERROR);
    assert_int_equal(req.status, 431);
}

static void test_head_too_large(void **state)
{
    static char r[HTTP_MAX_HEAD + 100];
    size_t n = (size_t)sprintf(r, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(r + n, 'v', sizeof r - n);
    struct http_request req;
    assert_int_equal(parse_whole(r, HTTP_MAX_HEAD - 1, &req), HTTP_NEED_MORE);
    assert_int_equal(parse_whole(r, HTTP_MAX_HEAD, &req), HTTP_ERROR);
    assert_int_equal(req.status, 431);
    assert_int_equal(parse_whole(r, sizeof r, &req), HTTP_ERROR);
    assert_int_equal(req.status, 431);
    /* A head that ends exactly at the limit is fine. */
    n = (size_t)sprintf(r, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(r + n, 'v', HTTP_MAX_HEAD - n - 4);
    memcpy(r + HTTP_MAX_HEAD - 4, "\r\n\r\n", 4);
    assert_int_equal(parse_whole(r, HTTP_MAX_HEAD, &req), HTTP_COMPLETE);
    assert_int_equal(req.head_len, HTTP_MAX_HEAD);
}

static void test_partial_garbage_fails_early(void **state)
{
    struct http_request req;
    assert_int_equal(parse_whole(S("\x16\x03\x01"), &req), HTTP_ERROR); /* a TLS hello */
    assert_int_equal(req.status, 400);
    assert_int_equal(parse_whole(S("GET / HTTP/1.1\r\nHost: a\r\n\r"), &req), HTTP_NEED_MORE);
}

static void test_response_writer(void **state)
{
    char out[512];
    long n = http_write_response(out, sizeof out, 200, "text/plain", "ok\n", 3, true, false);
    static const char want[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 3\r\n"
                               "Cache-Control: no-store\r\n"
                               "\r\n"
                               "ok\n";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, sizeof want - 1);

    /* HEAD: same head, same Content-Length, no body. */
    n = http_write_response(out, sizeof out, 200, "text/plain", "ok\n", 3, true, true);
    assert_int_equal(n, sizeof want - 1 - 3);
    assert_memory_equal(out, want, (size_t)n);

    n = http_write_head(out, sizeof out, 405, NULL, 0, false);
    static const char want405[] = "HTTP/1.1 405 Method Not Allowed\r\n"
                                  "Content-Length: 0\r\n"
                                  "Cache-Control: no-store\r\n"
                                  "Allow: GET, HEAD\r\n"
                                  "Connection: close\r\n"
                                  "\r\n";
    assert_int_equal(n, sizeof want405 - 1);
    assert_memory_equal(out, want405, sizeof want405 - 1);

    n = http_write_error(out, sizeof out, 431, "too many header fields");
    assert_true(n > 0);
    out[n] = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    assert_non_null(strstr(out, "Connection: close\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n431 Request Header Fields Too Large: too many header fields\n"));

    /* Too small a buffer is an error, never a truncated response. */
    assert_int_equal(http_write_response(out, 40, 200, "text/plain", "ok\n", 3, true, false), -1);
    assert_int_equal(http_write_response(out, sizeof want - 2, 200, "text/plain", "ok\n", 3,
                                         true, false), -1);
    assert_string_equal(http_status_text(404), "Not Found");
    assert_string_equal(http_status_text(999), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_head_and_no_query),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_incremental_equals_whole),
        cmocka_unit_test(test_pipelined_requests),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_NUL_byte),
        cmocka_unit_test(test_target_too_long),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_head_too_large),
        cmocka_unit_test(test_partial_garbage_fails_early),
        cmocka_unit_test(test_response_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
