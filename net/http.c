/* http: strict bounded request-head parser and response writer (see http.h). Grammar
 * from RFC 9112 (message syntax) and RFC 9110 (semantics), minus everything an admin
 * endpoint does not need: no bodies, no absolute-form, no line folding, no leniency. */
#include "net/http.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Longest request line we wait for: method, SP, target, SP, "HTTP/1.1". Anything longer
 * is refused before the line ends (414 when the target is what grew). */
#define HTTP_MAX_LINE (HTTP_MAX_METHOD + 1 + HTTP_MAX_TARGET + 1 + 8)

static int fail(struct http_request *req, int status, const char *reason)
{
    req->status = status;
    req->reason = reason;
    return HTTP_ERROR;
}

/* tchar from RFC 9110 5.6.2: the characters of a token (method, header name). */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* pchar / "/" / "?" of origin-form (RFC 3986), '%' checked separately. */
static bool is_target_char(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch != 0 && strchr("-._~!$&'()*+,;=:@/?%", ch) != NULL;
}

/* field-value characters: VCHAR, SP, HTAB and obs-text; no other control characters. */
static bool is_value_char(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

void http_parser_init(http_parser *p)
{
    memset(p, 0, sizeof *p);
}

/* Checks the start of a request line that has not ended yet, so a hostile client cannot
 * make us wait for a line we will refuse anyway. */
static int check_partial_line(const char *buf, size_t n, struct http_request *req)
{
    size_t i = 0;
    while (i < n && buf[i] != ' ') {
        if (!is_tchar((unsigned char)buf[i]))
            return fail(req, 400, "bad method");
        if (++i > HTTP_MAX_METHOD)
            return fail(req, 400, "method too long");
    }
    if (i < n) {
        size_t t = 0;
        for (i++; i < n && buf[i] != ' ' && buf[i] != '\r'; i++)
            if (++t > HTTP_MAX_TARGET)
                return fail(req, 414, "request target too long");
    }
    if (n > HTTP_MAX_LINE)
        return fail(req, 400, "request line too long");
    return HTTP_NEED_MORE;
}

static int check_target(const char *t, size_t n, struct http_request *req)
{
    if (t[0] != '/')
        return fail(req, 400, "request target must start with '/'");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (!is_target_char(ch))
            return fail(req, 400, "bad character in request target");
        if (ch == '%' && (i + 2 >= n || !is_hex((unsigned char)t[i + 1]) ||
                          !is_hex((unsigned char)t[i + 2])))
            return fail(req, 400, "bad percent-escape in request target");
    }
    return HTTP_COMPLETE;
}

/* Parses "METHOD SP target SP HTTP/d.d" (line without its CRLF) into req. */
static int parse_request_line(const char *line, size_t n, struct http_request *req)
{
    const char *sp1 = memchr(line, ' ', n);
    if (!sp1 || sp1 == line)
        return fail(req, 400, "malformed request line");
    size_t mlen = (size_t)(sp1 - line);
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)line[i]))
            return fail(req, 400, "bad method");
    if (mlen > HTTP_MAX_METHOD)
        return fail(req, 400, "method too long");

    const char *target = sp1 + 1;
    const char *end = line + n;
    const char *sp2 = memchr(target, ' ', (size_t)(end - target));
    if (!sp2 || sp2 == target)
        return fail(req, 400, "malformed request line");
    size_t tlen = (size_t)(sp2 - target);
    if (tlen > HTTP_MAX_TARGET)
        return fail(req, 414, "request target too long");

    const char *v = sp2 + 1;
    size_t vlen = (size_t)(end - v);
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return fail(req, 400, "malformed HTTP version");
    if (v[5] != '1')
        return fail(req, 505, "only HTTP/1.x is supported");
    req->version_minor = v[7] == '0' ? 0 : 1;

    if (mlen == 3 && memcmp(line, "GET", 3) == 0)
        req->method = HTTP_GET;
    else if (mlen == 4 && memcmp(line, "HEAD", 4) == 0)
        req->method = HTTP_HEAD;
    else
        return fail(req, 405, "only GET and HEAD are allowed");

    if (check_target(target, tlen, req) != HTTP_COMPLETE)
        return HTTP_ERROR;
    const char *q = memchr(target, '?', tlen);
    req->path = target;
    req->path_len = q ? (size_t)(q - target) : tlen;
    req->query = q ? q + 1 : NULL;
    req->query_len = q ? tlen - req->path_len - 1 : 0;
    return HTTP_COMPLETE;
}

/* Splits one header line (without CRLF, not empty) into h. */
static int parse_header_line(const char *line, size_t n, struct http_header *h,
                             struct http_request *req)
{
    if (line[0] == ' ' || line[0] == '\t')
        return fail(req, 400, "obsolete header line folding");
    size_t i = 0;
    while (i < n && line[i] != ':') {
        if (!is_tchar((unsigned char)line[i]))
            return fail(req, 400, "bad character in header name");
        i++;
    }
    if (i == n || i == 0)
        return fail(req, 400, "malformed header line");
    h->name = line;
    h->name_len = i;
    size_t vs = i + 1, ve = n;
    while (vs < ve && (line[vs] == ' ' || line[vs] == '\t'))
        vs++;
    while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
        ve--;
    for (size_t k = vs; k < ve; k++)
        if (!is_value_char((unsigned char)line[k]))
            return fail(req, 400, "bad character in header value");
    h->value = line + vs;
    h->value_len = ve - vs;
    return HTTP_COMPLETE;
}

/* Finds the next complete line at or after `from` within buf[0..lim). Returns its length
 * including CRLF (0 when no line ends yet) or -1 for a bare LF or CR (req->status set). */
static long next_line(const char *buf, size_t from, size_t lim, size_t *scan,
                      struct http_request *req)
{
    for (size_t i = *scan; i < lim; i++) {
        if (buf[i] == '\n') {
            if (i == from || buf[i - 1] != '\r')
                return fail(req, 400, "bare LF");
            *scan = i + 1;
            return (long)(i + 1 - from);
        }
        if (buf[i] == '\r' && i + 1 < lim && buf[i + 1] != '\n')
            return fail(req, 400, "bare CR");
    }
    /* A CR at the very end is looked at again once the byte after it has arrived. */
    *scan = lim > from && buf[lim - 1] == '\r' ? lim - 1 : lim;
    return 0;
}

/* Decides keep-alive from the version and the Connection header's token list. */
static bool wants_keep_alive(const struct http_request *req)
{
    bool keep = req->version_minor >= 1;
    for (size_t k = 0; k < req->nheaders; k++) {
        const struct http_header *h = &req->headers[k];
        if (!ieq(h->name, h->name_len, "connection"))
            continue;
        size_t i = 0;
        while (i < h->value_len) {
            while (i < h->value_len && (h->value[i] == ' ' || h->value[i] == '\t' ||
                                        h->value[i] == ','))
                i++;
            size_t s = i;
            while (i < h->value_len && h->value[i] != ',' && h->value[i] != ' ' &&
                   h->value[i] != '\t')
                i++;
            if (ieq(h->value + s, i - s, "close"))
                return false;
            if (ieq(h->value + s, i - s, "keep-alive"))
                keep = true;
        }
    }
    return keep;
}

/* Rules that need the whole head: Host, bodies. */
static int check_semantics(struct http_request *req)
{
    int hosts = 0, lengths = 0;
    for (size_t k = 0; k < req->nheaders; k++) {
        const struct http_header *h = &req->headers[k];
        if (ieq(h->name, h->name_len, "host")) {
            hosts++;
        } else if (ieq(h->name, h->name_len, "transfer-encoding")) {
            return fail(req, 400, "request bodies are not accepted (Transfer-Encoding)");
        } else if (ieq(h->name, h->name_len, "content-length")) {
            if (++lengths > 1)
                return fail(req, 400, "more than one Content-Length");
            if (h->value_len == 0 || h->value_len > 19)
                return fail(req, 400, "bad Content-Length");
            bool zero = true;
            for (size_t i = 0; i < h->value_len; i++) {
                if (h->value[i] < '0' || h->value[i] > '9')
                    return fail(req, 400, "bad Content-Length");
                zero = zero && h->value[i] == '0';
            }
            if (!zero)
                return fail(req, 413, "request bodies are not accepted");
        }
    }
    if (hosts > 1 || (hosts == 0 && req->version_minor >= 1))
        return fail(req, 400, "HTTP/1.1 needs exactly one Host header");
    req->keep_alive = wants_keep_alive(req);
    return HTTP_COMPLETE;
}

int http_parse(http_parser *p, const char *buf, size_t len, struct http_request *req)
{
    req->status = 0;
    req->reason = NULL;
    size_t lim = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;

    if (p->line_end == 0) {
        long n = next_line(buf, 0, lim, &p->scan, req);
        if (n < 0)
            return HTTP_ERROR;
        if (n == 0) {
            if (check_partial_line(buf, lim, req) == HTTP_ERROR)
                return HTTP_ERROR;
            return HTTP_NEED_MORE;
        }
        if (n == 2)
            return fail(req, 400, "empty request line");
        if (parse_request_line(buf, (size_t)n - 2, req) != HTTP_COMPLETE)
            return HTTP_ERROR;
        p->line_end = p->at = (size_t)n;
    }

    /* Header lines are validated as each one completes; the head ends at an empty line. */
    struct http_header scratch;
    for (;;) {
        long n = next_line(buf, p->at, lim, &p->scan, req);
        if (n < 0)
            return HTTP_ERROR;
        if (n == 0) {
            if (len >= HTTP_MAX_HEAD)
                return fail(req, 431, "request head too large");
            return HTTP_NEED_MORE;
        }
        if (n == 2)
            break;
        if (p->nheaders == HTTP_MAX_HEADERS)
            return fail(req, 431, "too many header fields");
        if (parse_header_line(buf + p->at, (size_t)n - 2, &scratch, req) != HTTP_COMPLETE)
            return HTTP_ERROR;
        p->nheaders++;
        p->at += (size_t)n;
    }

    /* Complete. req may be a fresh struct on every call, so it is filled now, from lines
     * already validated (these calls cannot fail). */
    if (parse_request_line(buf, p->line_end - 2, req) != HTTP_COMPLETE)
        return HTTP_ERROR;
    size_t at = p->line_end;
    req->nheaders = 0;
    while (req->nheaders < p->nheaders) {
        const char *eol = memchr(buf + at, '\n', p->at - at);
        size_t n = (size_t)(eol - (buf + at)) + 1;
        if (parse_header_line(buf + at, n - 2, &req->headers[req->nheaders], req) !=
            HTTP_COMPLETE)
            return HTTP_ERROR;
        req->nheaders++;
        at += n;
    }
    req->head_len = p->at + 2;
    return check_semantics(req);
}

const struct http_header *http_find_header(const struct http_request *req, const char *name)
{
    for (size_t k = 0; k < req->nheaders; k++)
        if (ieq(req->headers[k].name, req->headers[k].name_len, name))
            return &req->headers[k];
    return NULL;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

long http_write_head(char *out, size_t cap, int status, const char *content_type,
                     size_t body_len, bool keep_alive)
{
    if (status < 100 || status > 999)
        return -1;
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "%s%s%s"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s%s\r\n",
                     status, http_status_text(status),
                     content_type ? "Content-Type: " : "", content_type ? content_type : "",
                     content_type ? "\r\n" : "", body_len,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     keep_alive ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

long http_write_response(char *out, size_t cap, int status, const char *content_type,
                         const void *body, size_t body_len, bool keep_alive, bool head_only)
{
    long h = http_write_head(out, cap, status, content_type, body_len, keep_alive);
    if (h < 0)
        return -1;
    if (head_only)
        return h;
    if (body_len > cap - (size_t)h)
        return -1;
    if (body_len)
        memcpy(out + h, body, body_len);
    return h + (long)body_len;
}

long http_write_error(char *out, size_t cap, int status, const char *reason)
{
    char body[160];
    int n = snprintf(body, sizeof body, "%d %s%s%s\n", status, http_status_text(status),
                     reason ? ": " : "", reason ? reason : "");
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof body)
        n = (int)sizeof body - 1;
    return http_write_response(out, cap, status, "text/plain; charset=utf-8", body, (size_t)n,
                               false, false);
}
