/* libFuzzer target for net/http: the admin listener's request parser sees raw bytes from
 * anyone who can reach the port. Checks, beyond "no crash, no out-of-bounds read":
 * - the same bytes give the same verdict whole and delivered in pieces;
 * - a complete request lies inside the buffer and within HTTP_MAX_HEAD, its path starts
 *   with '/', and an error carries one of the documented status codes;
 * - pipelined requests after the first one parse the same way;
 * - the response writers never overrun and never truncate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

/* Feeds buf in pieces whose sizes come from the data itself (1..16 bytes). */
static int parse_pieces(const char *buf, size_t len, struct http_request *req)
{
    http_parser p;
    http_parser_init(&p);
    int r = HTTP_NEED_MORE;
    size_t n = 0;
    while (n < len && r == HTTP_NEED_MORE) {
        n += 1 + ((unsigned char)buf[n] & 15u);
        if (n > len)
            n = len;
        r = http_parse(&p, buf, n, req);
    }
    return r;
}

static void check_request(const char *buf, size_t len, int r, const struct http_request *req)
{
    if (r == HTTP_COMPLETE) {
        check(req->head_len >= 18 && req->head_len <= len && req->head_len <= HTTP_MAX_HEAD);
        check(req->path >= buf && req->path + req->path_len <= buf + req->head_len);
        check(req->path_len >= 1 && req->path[0] == '/');
        check(req->method == HTTP_GET || req->method == HTTP_HEAD);
        check(req->nheaders <= HTTP_MAX_HEADERS);
        check(memcmp(buf + req->head_len - 4, "\r\n\r\n", 4) == 0);
        for (size_t k = 0; k < req->nheaders; k++) {
            const struct http_header *h = &req->headers[k];
            check(h->name > buf && h->value + h->value_len <= buf + req->head_len);
            check(h->name_len > 0);
        }
    } else if (r == HTTP_ERROR) {
        int s = req->status;
        check(s == 400 || s == 405 || s == 413 || s == 414 || s == 431 || s == 505);
        check(req->reason != NULL);
    } else {
        check(r == HTTP_NEED_MORE);
        check(len < HTTP_MAX_HEAD);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t len = size;
    for (int round = 0; round < 4 && len > 0; round++) {
        static struct http_request whole, pieces;
        http_parser p;
        http_parser_init(&p);
        int r = http_parse(&p, buf, len, &whole);
        check_request(buf, len, r, &whole);
        int r2 = parse_pieces(buf, len, &pieces);
        check(r2 == r);
        if (r == HTTP_COMPLETE)
            check(pieces.head_len == whole.head_len && pieces.nheaders == whole.nheaders);

        char out[HTTP_MAX_RESPONSE_HEAD + 64];
        if (r == HTTP_ERROR) {
            long n = http_write_error(out, sizeof out, whole.status, whole.reason);
            check(n > 0 && (size_t)n < sizeof out);
        }
        if (r != HTTP_COMPLETE)
            break;
        long n = http_write_response(out, sizeof out, 200, "text/plain; version=0.0.4", "x", 1,
                                     whole.keep_alive, whole.method == HTTP_HEAD);
        check(n > 0 && (size_t)n < sizeof out);
        buf += whole.head_len;
        len -= whole.head_len;
    }
    return 0;
}
