/* ws_handshake: the server's side of the WebSocket opening handshake (RFC 6455 4.2), on a request
 * head already parsed by net/http.c, and the Origin allow-list that guards against cross-site
 * WebSocket hijacking (a page on another site opening a socket with the player's browser). */
#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static const char *const hs_names[WS_HS_REFUSALS] = {
    "ok", "not_upgrade", "bad_key", "bad_version", "origin",
};

const char *ws_hs_name(int r)
{
    return r >= 0 && r < WS_HS_REFUSALS ? hs_names[r] : "?";
}

int ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1])
{
    unsigned char buf[64 + sizeof WS_GUID];
    if (key_len > 64)
        return -1;
    memcpy(buf, key, key_len);
    memcpy(buf + key_len, WS_GUID, sizeof WS_GUID - 1);
    unsigned char digest[20];
    if (mbedtls_sha1_ret(buf, key_len + sizeof WS_GUID - 1, digest) != 0)
        return -1;
    size_t olen = 0;
    if (mbedtls_base64_encode((unsigned char *)out, WS_ACCEPT_LEN + 1, &olen, digest,
                              sizeof digest) != 0 ||
        olen != WS_ACCEPT_LEN)
        return -1;
    out[WS_ACCEPT_LEN] = 0;
    return 0;
}

/* True when the comma-separated header value v contains token t (ASCII case-insensitive). */
static bool has_token(const char *v, size_t n, const char *t)
{
    size_t tl = strlen(t);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, t, tl) == 0)
            return true;
    }
    return false;
}

static size_t count_headers(const struct http_request *req, const char *name)
{
    size_t n = 0, nl = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name_len == nl && strncasecmp(req->headers[i].name, name, nl) == 0)
            n++;
    return n;
}

bool ws_is_upgrade(const struct http_request *req)
{
    const struct http_header *u = http_find_header(req, "Upgrade");
    return u && has_token(u->value, u->value_len, "websocket");
}

/* The key must be base64 of exactly 16 bytes (RFC 6455 4.1, item 7). */
static bool key_ok(const struct http_header *k)
{
    if (!k || k->value_len != WS_KEY_B64_LEN)
        return false;
    unsigned char raw[32];
    size_t olen = 0;
    if (mbedtls_base64_decode(raw, sizeof raw, &olen, (const unsigned char *)k->value,
                              k->value_len) != 0)
        return false;
    return olen == 16;
}

bool ws_origin_allowed(const char *allow, const char *origin, size_t origin_len, const char *host,
                       size_t host_len)
{
    const char *p = allow;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && e[-1] == ' ')
            e--;
        size_t n = (size_t)(e - s);
        if (n == 0)
            continue;
        if (n == 1 && *s == '*')
            return true;
        if (n == 4 && strncasecmp(s, "self", 4) == 0) {
            /* The origin's host[:port] is the Host the browser sent: a page this listener (or the
             * proxy in front of it) served. The scheme is not compared, so a TLS-terminating proxy
             * in front of the clear-text listener still matches. */
            const char *sep = origin_len >= 3 ? memmem(origin, origin_len, "://", 3) : NULL;
            if (sep && host_len) {
                const char *oh = sep + 3;
                size_t ol = origin_len - (size_t)(oh - origin);
                if (ol == host_len && strncasecmp(oh, host, host_len) == 0)
                    return true;
            }
            continue;
        }
        if (n == origin_len && strncasecmp(s, origin, n) == 0)
            return true;
    }
    return false;
}

static long write_426(char *out, size_t cap)
{
    static const char body[] = "426 Upgrade Required: Sec-WebSocket-Version 13 only\n";
    int n = snprintf(out, cap,
                     "HTTP/1.1 426 Upgrade Required\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n"
                     "\r\n%s",
                     sizeof body - 1, body);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static ws_hs_result refuse(ws_hs_result why, int status, const char *reason, char *out, size_t cap,
                           size_t *out_len)
{
    long n = status == 426 ? write_426(out, cap) : http_write_error(out, cap, status, reason);
    *out_len = n > 0 ? (size_t)n : 0;
    return why;
}

ws_hs_result ws_handshake(const struct http_request *req, const char *allow, char *out,
                          size_t cap, size_t *out_len)
{
    *out_len = 0;
    const struct http_header *conn = http_find_header(req, "Connection");
    if (req->method != HTTP_GET || req->version_minor < 1 || !ws_is_upgrade(req) || !conn ||
        !has_token(conn->value, conn->value_len, "upgrade"))
        return refuse(WS_HS_NOT_UPGRADE, 400, "not a WebSocket upgrade", out, cap, out_len);
    /* net/http.c already refuses an HTTP/1.1 request without exactly one Host. */
    const struct http_header *host = http_find_header(req, "Host");
    if (!host)
        return refuse(WS_HS_NOT_UPGRADE, 400, "no Host header", out, cap, out_len);
    const struct http_header *ver = http_find_header(req, "Sec-WebSocket-Version");
    if (!ver || count_headers(req, "Sec-WebSocket-Version") != 1 || ver->value_len != 2 ||
        memcmp(ver->value, "13", 2) != 0)
        return refuse(WS_HS_BAD_VERSION, 426, NULL, out, cap, out_len);
    const struct http_header *key = http_find_header(req, "Sec-WebSocket-Key");
    if (count_headers(req, "Sec-WebSocket-Key") != 1 || !key_ok(key))
        return refuse(WS_HS_BAD_KEY, 400, "bad Sec-WebSocket-Key", out, cap, out_len);
    size_t norigin = count_headers(req, "Origin");
    if (norigin > 1)
        return refuse(WS_HS_ORIGIN, 403, "origin not allowed", out, cap, out_len);
    if (norigin == 1) {
        const struct http_header *o = http_find_header(req, "Origin");
        if (!ws_origin_allowed(allow, o->value, o->value_len, host->value, host->value_len))
            return refuse(WS_HS_ORIGIN, 403, "origin not allowed", out, cap, out_len);
    }
    char accept[WS_ACCEPT_LEN + 1];
    if (ws_accept_key(key->value, key->value_len, accept) != 0)
        return refuse(WS_HS_BAD_KEY, 400, "bad Sec-WebSocket-Key", out, cap, out_len);
    /* Sec-WebSocket-Extensions (permessage-deflate) and Sec-WebSocket-Protocol are not answered:
     * the RFC's way of declining them, after which the client must not use them. */
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "\r\n",
                     accept);
    if (n <= 0 || (size_t)n >= cap)
        return refuse(WS_HS_NOT_UPGRADE, 500, NULL, out, cap, out_len);
    *out_len = (size_t)n;
    return WS_HS_OK;
}
