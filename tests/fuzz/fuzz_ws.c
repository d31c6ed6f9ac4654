/* libFuzzer target for the WebSocket integration (net/ws_*.c over wslay): what a ws:// listener
 * does with bytes from anyone. The first byte picks the path and the shape of the delivery:
 * - bit 0 set: the bytes are an HTTP request head for net/http.c, then ws_handshake (with the
 *   allow-list chosen by bits 1-2); a response must fit its buffer and start with a status line,
 *   101 only with a valid key, version 13 and an allowed origin;
 * - bit 0 clear: the bytes are client frames fed to a session in pieces of 1..64 bytes (sizes from
 *   the data), whose message callback stops the feed every few messages as a paused connection
 *   does, and echoes messages back. Checked: no crash, every message within the limit, a session
 *   that ended writes nothing more and takes no more bytes, and the whole and piecewise deliveries
 *   agree on the messages and the ending. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MESSAGE 1024u

static void check(int cond)
{
    if (!cond)
        abort();
}

typedef struct {
    ws_sess *w;
    unsigned msgs, stop_every;
    uint64_t digest; /* of every message, in order */
    size_t written;
    bool ended;
} sink;

static bool on_msg(void *user, const uint8_t *m, size_t n)
{
    sink *k = user;
    check(n <= FUZZ_MAX_MESSAGE);
    k->msgs++;
    for (size_t i = 0; i < n; i++)
        k->digest = (k->digest ^ m[i]) * 0x100000001b3ULL;
    k->digest = (k->digest ^ n) * 0x100000001b3ULL;
    ws_send_binary(k->w, m, n);
    return k->stop_every == 0 || k->msgs % k->stop_every != 0;
}

static void on_write(void *user, const uint8_t *h, size_t hl, const uint8_t *p, size_t pl)
{
    sink *k = user;
    check(!k->ended);
    check(hl >= 2 && hl <= 14);
    check(pl == 0 || p != NULL);
    k->written += hl + pl;
}

/* Feeds everything, in pieces when piece is not 0, re-feeding after each stop. */
static ws_feed_status run(sink *k, const uint8_t *d, size_t n, const uint8_t *sizes, size_t nsizes)
{
    ws_feed_status st = WS_FEED_DONE;
    size_t off = 0, si = 0;
    while (off < n) {
        size_t piece = nsizes ? 1 + (sizes[si++ % nsizes] & 63u) : n - off;
        if (piece > n - off)
            piece = n - off;
        size_t at = off;
        off += piece;
        while (at < off) {
            size_t used = 0;
            st = ws_feed(k->w, d + at, off - at, &used);
            check(used <= off - at);
            at += used;
            if (st == WS_FEED_CLOSED)
                return st;
            if (st == WS_FEED_STOPPED) {
                /* Resumed: first what the session buffered, then the rest. */
                st = ws_feed(k->w, NULL, 0, &used);
                check(used == 0);
                if (st == WS_FEED_CLOSED)
                    return st;
                continue;
            }
            check(at == off);
        }
    }
    /* Bytes still buffered after the last stop. */
    size_t used = 0;
    while ((st = ws_feed(k->w, NULL, 0, &used)) == WS_FEED_STOPPED) {
    }
    return st;
}

static void frames(const uint8_t *d, size_t n, uint8_t mode)
{
    sink a = {.stop_every = mode >> 4};
    sink b = {.stop_every = 0};
    a.w = ws_sess_new(FUZZ_MAX_MESSAGE, on_msg, on_write, &a);
    b.w = ws_sess_new(FUZZ_MAX_MESSAGE, on_msg, on_write, &b);
    if (!a.w || !b.w)
        abort();
    ws_feed_status sa = run(&a, d, n, d, n < 16 ? n : 16);
    ws_feed_status sb = run(&b, d, n, NULL, 0);
    check(sa == sb);
    check(a.msgs == b.msgs && a.digest == b.digest);
    check(ws_sess_end(a.w) == ws_sess_end(b.w));
    check(ws_sess_close_code(a.w) == ws_sess_close_code(b.w));
    if (sa == WS_FEED_CLOSED) {
        check(ws_sess_close_code(a.w) != 0);
        a.ended = true;
        size_t used = 1;
        check(ws_feed(a.w, d, n, &used) == WS_FEED_CLOSED && used == 0);
        ws_send_binary(a.w, d, n < 10 ? n : 10); /* after a close frame: nothing written */
        check(!ws_send_close(a.w, WS_CLOSE_NORMAL, NULL));
    }
    ws_sess_free(a.w);
    ws_sess_free(b.w);
}

static void handshake(const uint8_t *d, size_t n, uint8_t mode)
{
    static const char *const allow[] = {"self", "*", "", "http://a.example, self"};
    http_parser p;
    http_parser_init(&p);
    struct http_request req;
    if (http_parse(&p, (const char *)d, n, &req) != HTTP_COMPLETE)
        return;
    (void)ws_is_upgrade(&req);
    char out[WS_RESPONSE_MAX];
    size_t olen = 0;
    ws_hs_result r = ws_handshake(&req, allow[(mode >> 1) & 3], out, sizeof out, &olen);
    check(olen > 12 && olen < sizeof out && memcmp(out, "HTTP/1.1 ", 9) == 0);
    check((r == WS_HS_OK) == (memcmp(out + 9, "101", 3) == 0));
    check(r >= WS_HS_OK && r < WS_HS_REFUSALS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        handshake(data + 1, size - 1, data[0]);
    else
        frames(data + 1, size - 1, data[0]);
    return 0;
}
