/* ws_conn: the WebSocket listeners (ws.listen, ws.tls_listen) on the network thread, and what a
 * connection accepted there does before and after its upgrade.
 *
 * A connection on these listeners is an ordinary conn (same table, limits, timeout lists, output
 * queue, TLS and pauses) whose input goes here instead of to the length-prefix frame reader:
 * - Before the upgrade its bytes collect in a request buffer of HTTP_MAX_HEAD bytes, parsed by
 *   net/http.c (431 past the limits). GET /ws with the upgrade headers gets 101 (net/ws_handshake.c)
 *   and the connection becomes a WebSocket; any other GET or HEAD is a page file from the cache
 *   (net/ws_static.c) or 404, then the connection closes. The whole request must arrive within
 *   ws.handshake_timeout_ms (LIST_WS), else 408.
 * - After it, net/ws_frame.c turns frames into messages, and each message goes to route_frame()
 *   exactly as the body of a native frame does; conn_send's frames leave as one binary message each.
 *   A protocol violation is a close frame with its code, counted by reason (ws_closes).
 * Bytes sent after the request head but before the 101 arrived are refused (400): the RFC tells
 * clients to wait, and accepting them would mean buffering for clients that do not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"
#include "net/ws.h"
#include "util/log.h"

#define WS_VENDOR_MSGPACK "/vendor/msgpack/"

struct ws_conn {
    ws_sess *sess;       /* NULL until the upgrade */
    char *head;          /* request bytes before it (HTTP_MAX_HEAD), freed after */
    uint32_t head_len;
    http_parser hp;
};

struct ws_server {
    uv_tcp_t listener, tls_listener;
    bool listening, tls_listening;
    uint16_t port, tls_port;
    ws_static *files;
    /* One frame's header and payload together for a single TLS record. */
    uint8_t scratch[NET_TLS_PLAIN];
};

/* ---- listeners ------------------------------------------------------------------------------ */

int ws_server_start(server *s)
{
    const struct server_opts *cfg = &s->opts;
    if (!cfg->ws.listen[0] && !cfg->ws.tls_listen[0])
        return 0;
    struct ws_server *w = calloc(1, sizeof *w);
    if (!w || !(w->files = ws_static_new())) {
        free(w);
        log_error("ws: out of memory");
        return -1;
    }
    s->ws = w;
    if (ws_static_add_dir(w->files, cfg->ws.web_root, "/") < 0)
        log_warn("ws: web_root not found: the page will not be served", "web_root",
                 cfg->ws.web_root);
    if (ws_static_add_dir(w->files, cfg->ws.msgpack_dir, WS_VENDOR_MSGPACK) < 0)
        log_warn("ws: msgpack_dir not found (run npm ci at the repository root): the page cannot "
                 "load its msgpack module", "msgpack_dir", cfg->ws.msgpack_dir);
    log_info("ws: page files cached", "files", LOG_U64(ws_static_count(w->files)), "bytes",
             LOG_U64(ws_static_bytes(w->files)));
    if (cfg->ws.listen[0]) {
        int r = server_listen(s, &w->listener, cfg->ws.listen, &w->port);
        if (r != 0) {
            log_error("cannot listen", "listen", cfg->ws.listen, "error", uv_strerror(r));
            return -1;
        }
        w->listening = true;
        /* The line a player looks for: where to point the browser. */
        const char *colon = strrchr(cfg->ws.listen, ':');
        int hl = colon ? (int)(colon - cfg->ws.listen) : 0;
        bool any = (hl == 7 && memcmp(cfg->ws.listen, "0.0.0.0", 7) == 0) ||
                   (hl == 4 && memcmp(cfg->ws.listen, "[::]", 4) == 0);
        char url[SERVER_STRING_MAX + 32];
        snprintf(url, sizeof url, "http://%.*s:%u/", any ? 9 : hl, any ? "127.0.0.1" : cfg->ws.listen,
                 (unsigned)w->port);
        log_info("ws: web page", "url", url);
    }
    if (cfg->ws.tls_listen[0]) {
        int r = server_listen(s, &w->tls_listener, cfg->ws.tls_listen, &w->tls_port);
        if (r != 0) {
            log_error("cannot listen", "listen", cfg->ws.tls_listen, "error", uv_strerror(r));
            return -1;
        }
        w->tls_listening = true;
    }
    return 0;
}

void ws_server_stop_listening(server *s)
{
    struct ws_server *w = s->ws;
    if (!w)
        return;
    if (w->listening)
        uv_close((uv_handle_t *)&w->listener, NULL);
    if (w->tls_listening)
        uv_close((uv_handle_t *)&w->tls_listener, NULL);
    w->listening = w->tls_listening = false;
}

bool ws_server_listening(const server *s)
{
    const struct ws_server *w = s->ws;
    return !w || ((!s->opts.ws.listen[0] || w->listening) &&
                  (!s->opts.ws.tls_listen[0] || w->tls_listening));
}

void ws_server_free(server *s)
{
    if (!s->ws)
        return;
    ws_static_free(s->ws->files);
    free(s->ws);
    s->ws = NULL;
}

uint16_t ws_server_port(const server *s)
{
    return s->ws ? s->ws->port : 0;
}

uint16_t ws_server_tls_port(const server *s)
{
    return s->ws ? s->ws->tls_port : 0;
}

uint16_t server_ws_port(const server *s)
{
    return ws_server_port(s);
}

uint16_t server_wss_port(const server *s)
{
    return ws_server_tls_port(s);
}

bool ws_server_accept(server *s, uv_stream_t *l)
{
    struct ws_server *w = s->ws;
    if (!w || (l != (uv_stream_t *)&w->listener && l != (uv_stream_t *)&w->tls_listener))
        return false;
    conn_accept_on(s, l, l == (uv_stream_t *)&w->tls_listener, true);
    return true;
}

/* ---- connection state ----------------------------------------------------------------------- */

bool ws_conn_new(conn *c)
{
    struct ws_conn *wc = calloc(1, sizeof *wc);
    if (!wc)
        return false;
    http_parser_init(&wc->hp);
    c->ws = wc;
    return true;
}

void ws_conn_free(conn *c)
{
    struct ws_conn *wc = c->ws;
    if (!wc)
        return;
    ws_sess_free(wc->sess);
    free(wc->head);
    free(wc);
    c->ws = NULL;
}

enum conn_list_id ws_conn_after_tls(const conn *c)
{
    return c->ws && !c->ws->sess ? LIST_WS : LIST_HELLO;
}

/* Raw bytes to c's socket (through TLS on wss). */
static void put(conn *c, const void *bytes, size_t len)
{
    if (c->tls)
        conn_tls_send(c, bytes, len);
    else
        conn_out_append(c, bytes, len);
}

/* An HTTP answer that ends the connection: a refusal (why NET_CLOSE_WS) or a page file's answer
 * (NET_CLOSE_HTTP). */
static void http_answer(conn *c, const char *resp, size_t len, net_close_reason why)
{
    if (len)
        put(c, resp, len);
    if (c->state < CONN_CLOSING)
        conn_close(c, why, true);
}

static void http_end(conn *c, const char *resp, size_t len)
{
    http_answer(c, resp, len, NET_CLOSE_WS);
}

void ws_conn_refuse(conn *c, const char *why)
{
    char out[HTTP_MAX_RESPONSE_HEAD + 128];
    long n = http_write_error(out, sizeof out, 503, why);
    if (n > 0)
        conn_out_append(c, out, (size_t)n);
}

void ws_conn_timeout(conn *c)
{
    NET_STAT_ADD(&c->srv->stats, ws_handshake_timeouts, 1);
    char out[HTTP_MAX_RESPONSE_HEAD + 128];
    long n = http_write_error(out, sizeof out, 408, "request not received in time");
    /* Before the TLS handshake finished there is no way to answer: just close. */
    if (c->tls && !tls_conn_handshake_done(c->tls))
        n = 0;
    http_end(c, out, n > 0 ? (size_t)n : 0);
}

/* ---- after the upgrade ---------------------------------------------------------------------- */

static bool on_message(void *user, const uint8_t *msg, size_t len)
{
    conn *c = user;
    if (c->state != CONN_HELLO && c->state != CONN_OPEN)
        return false;
    NET_STAT_ADD(&c->srv->stats, frames_in, 1);
    conn_touch(c);
    /* max_frame bounds len (ws_sess_new), so it fits the native frame's 32-bit length. */
    return route_frame(c, msg, (uint32_t)len) && (c->state == CONN_HELLO || c->state == CONN_OPEN);
}

static void on_write(void *user, const uint8_t *hdr, size_t hlen, const uint8_t *payload,
                     size_t plen)
{
    conn *c = user;
    if (c->tls && hlen + plen <= sizeof c->srv->ws->scratch) {
        /* One TLS record for the frame rather than one for its header and one for its payload. */
        uint8_t *b = c->srv->ws->scratch;
        memcpy(b, hdr, hlen);
        if (plen)
            memcpy(b + hlen, payload, plen);
        conn_tls_send(c, b, hlen + plen);
        return;
    }
    put(c, hdr, hlen);
    if (plen && c->state < CONN_CLOSED)
        put(c, payload, plen);
}

static void feed(conn *c, const uint8_t *data, size_t len)
{
    size_t used = 0;
    ws_feed_status st = ws_feed(c->ws->sess, data, len, &used);
    if (st == WS_FEED_STOPPED) {
        if (c->paused) /* data is NULL when going on after a pause: nothing of it is left */
            conn_stash_rest(c, data ? data + used : NULL, data ? len - used : 0);
        return;
    }
    if (st == WS_FEED_CLOSED && c->state < CONN_CLOSING) {
        ws_end why = ws_sess_end(c->ws->sess);
        NET_STAT_ADD(&c->srv->stats, ws_closes[why], 1);
        log_debug("ws: closing", "conn", LOG_U64(c->id), "reason", ws_end_name(why), "code",
                  LOG_U64(ws_sess_close_code(c->ws->sess)));
        conn_close(c, why == WS_END_PEER_CLOSE ? NET_CLOSE_PEER : NET_CLOSE_WS, true);
    }
}

void ws_conn_send(conn *c, const uint8_t *frames, size_t len)
{
    struct ws_conn *wc = c->ws;
    if (!wc->sess)
        return; /* nothing is sent as a message before the upgrade */
    /* The frames were encoded by this server, so their prefixes are trusted; a shard message may
     * carry several. */
    while (len >= 4 && c->state < CONN_CLOSED) {
        uint32_t n = (uint32_t)frames[0] << 24 | (uint32_t)frames[1] << 16 |
                     (uint32_t)frames[2] << 8 | frames[3];
        if (n > len - 4)
            break;
        ws_send_binary(wc->sess, frames + 4, n);
        frames += 4 + (size_t)n;
        len -= 4 + (size_t)n;
    }
}

void ws_conn_closing(conn *c, net_close_reason why)
{
    struct ws_conn *wc = c->ws;
    if (!wc || !wc->sess)
        return;
    uint16_t code;
    const char *text;
    switch (why) {
    case NET_CLOSE_DRAIN: code = WS_CLOSE_GOING_AWAY; text = "server shutting down"; break;
    case NET_CLOSE_SHARD:
    case NET_CLOSE_PEER: code = WS_CLOSE_NORMAL; text = NULL; break;
    case NET_CLOSE_HELLO: code = WS_CLOSE_POLICY; text = "no hello in time"; break;
    case NET_CLOSE_IDLE: code = WS_CLOSE_POLICY; text = "idle"; break;
    case NET_CLOSE_ABUSE: code = WS_CLOSE_POLICY; text = "rate limit abuse"; break;
    case NET_CLOSE_PROTOCOL: code = WS_CLOSE_POLICY; text = "protocol version"; break;
    default: code = WS_CLOSE_INTERNAL; text = NULL; break;
    }
    ws_send_close(wc->sess, code, text); /* does nothing when a close was already sent */
}

/* ---- before the upgrade --------------------------------------------------------------------- */

static void serve_file(conn *c, const struct http_request *req)
{
    server *s = c->srv;
    const uint8_t *body = NULL;
    size_t blen = 0;
    const char *type = NULL;
    if (!ws_static_find(s->ws->files, req->path, req->path_len, &body, &blen, &type)) {
        NET_STAT_ADD(&s->stats, ws_files_not_found, 1);
        char out[HTTP_MAX_RESPONSE_HEAD + 128];
        long n = http_write_error(out, sizeof out, 404, "no such file");
        http_answer(c, out, n > 0 ? (size_t)n : 0, NET_CLOSE_HTTP);
        return;
    }
    char head[HTTP_MAX_RESPONSE_HEAD];
    long n = http_write_head(head, sizeof head, 200, type, blen, false);
    size_t total = (size_t)(n > 0 ? n : 0) + (req->method == HTTP_HEAD ? 0 : blen);
    if (n <= 0 || c->out.bytes + total > (uint64_t)s->opts.output_cap) {
        /* The whole response must fit the output queue: a page file larger than server.output_cap
         * is a deployment mistake, said in the log rather than sent cut short. */
        log_warn("ws: page file larger than server.output_cap", "bytes", LOG_U64(blen));
        char out[HTTP_MAX_RESPONSE_HEAD + 128];
        long e = http_write_error(out, sizeof out, 500, "file larger than the output cap");
        http_end(c, out, e > 0 ? (size_t)e : 0);
        return;
    }
    NET_STAT_ADD(&s->stats, ws_files_served, 1);
    put(c, head, (size_t)n);
    if (req->method != HTTP_HEAD && blen && c->state < CONN_CLOSING)
        put(c, body, blen);
    http_answer(c, NULL, 0, NET_CLOSE_HTTP);
}

static void upgrade(conn *c, const struct http_request *req)
{
    server *s = c->srv;
    struct ws_conn *wc = c->ws;
    char out[WS_RESPONSE_MAX];
    size_t n = 0;
    ws_hs_result r = ws_handshake(req, s->opts.ws.allowed_origins, out, sizeof out, &n);
    if (r != WS_HS_OK) {
        NET_STAT_ADD(&s->stats, ws_refused[r], 1);
        log_debug("ws: upgrade refused", "conn", LOG_U64(c->id), "reason", ws_hs_name(r));
        http_end(c, out, n);
        return;
    }
    wc->sess = ws_sess_new((uint32_t)s->opts.max_frame, on_message, on_write, c);
    if (!wc->sess) {
        http_end(c, NULL, 0);
        return;
    }
    put(c, out, n);
    free(wc->head);
    wc->head = NULL;
    wc->head_len = 0;
    NET_STAT_ADD(&s->stats, ws_upgrades, 1);
    /* Now the native rules: hello within server.hello_timeout_ms. */
    c->last_ms = uv_now(&s->loop);
    conn_set_list(c, LIST_HELLO);
}

static void http_input(conn *c, const uint8_t *data, size_t len)
{
    server *s = c->srv;
    struct ws_conn *wc = c->ws;
    if (!wc->head && !(wc->head = malloc(HTTP_MAX_HEAD))) {
        conn_close(c, NET_CLOSE_ERROR, false);
        return;
    }
    size_t room = HTTP_MAX_HEAD - wc->head_len;
    size_t take = len < room ? len : room;
    memcpy(wc->head + wc->head_len, data, take);
    wc->head_len += (uint32_t)take;
    struct http_request req;
    int r = http_parse(&wc->hp, wc->head, wc->head_len, &req);
    char out[HTTP_MAX_RESPONSE_HEAD + 128];
    if (r == HTTP_NEED_MORE && wc->head_len < HTTP_MAX_HEAD)
        return;
    if (r != HTTP_COMPLETE) {
        int status = r == HTTP_ERROR ? req.status : 431;
        if (status == 431 || status == 414)
            NET_STAT_ADD(&s->stats, ws_http_too_large, 1);
        else
            NET_STAT_ADD(&s->stats, ws_http_errors, 1);
        long n = http_write_error(out, sizeof out, status,
                                  r == HTTP_ERROR ? req.reason : "request head too large");
        http_end(c, out, n > 0 ? (size_t)n : 0);
        return;
    }
    if (req.head_len != wc->head_len || take != len) {
        NET_STAT_ADD(&s->stats, ws_http_errors, 1);
        long n = http_write_error(out, sizeof out, 400, "data before the response");
        http_end(c, out, n > 0 ? (size_t)n : 0);
        return;
    }
    bool ws_path = req.path_len == sizeof WS_PATH - 1 && memcmp(req.path, WS_PATH, req.path_len) == 0;
    if (ws_path || ws_is_upgrade(&req)) {
        if (!ws_path) {
            NET_STAT_ADD(&s->stats, ws_files_not_found, 1);
            long n = http_write_error(out, sizeof out, 404, "WebSocket upgrades are on /ws");
            http_end(c, out, n > 0 ? (size_t)n : 0);
            return;
        }
        upgrade(c, &req);
        return;
    }
    serve_file(c, &req);
}

void ws_conn_input(conn *c, const uint8_t *data, size_t len)
{
    if (c->state != CONN_HELLO && c->state != CONN_OPEN)
        return;
    if (c->ws->sess)
        feed(c, data, len);
    else if (len)
        http_input(c, data, len);
}
