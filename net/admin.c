/* admin: listener, connections, request dispatch, heartbeats and readiness (see admin.h).
 *
 * A connection reads into its fixed HTTP_MAX_HEAD buffer and handles one request at a time: reads
 * stop while an answer is being written (or a listing is awaited), and resume after it, so pipelined
 * requests are answered in order and a client can never make us buffer more than one head. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/admin_int.h"
#include "net/fdlimit.h"
#include "util/log.h"

const int admin_codes[ADMIN_CODES] = {200, 400, 404, 405, 413, 414, 431, 500, 503, 505};

static void aconn_closed_cb(uv_handle_t *h);
static void aconn_read_on(admin_conn *c);
static void aconn_process(admin_conn *c);

static void handle_closed(admin *a)
{
    if (--a->handles == 0 && a->closing) {
        admin_battles_free(a);
        free(a->hb_token);
        free(a->hb_sent_ns);
        free(a->hb_last_ms);
        free(a->hb_out);
        free(a->hb_rtt);
        free(a->owed);
        prom_out_free(&a->page);
        free(a);
    }
}

static void count_status(admin *a, int status)
{
    for (unsigned i = 0; i < ADMIN_CODES; i++) {
        if (admin_codes[i] == status) {
            a->requests[i]++;
            return;
        }
    }
    a->requests[ADMIN_CODES]++;
}

/* ---- connections ---------------------------------------------------------------------------- */

static void aconn_close(admin_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    admin_battles_forget(c);
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    uv_close((uv_handle_t *)&c->tcp, aconn_closed_cb);
}

static void aconn_closed_cb(uv_handle_t *h)
{
    admin_conn *c = h->data;
    admin *a = c->a;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->nconns--;
    free(c->wbuf);
    free(c);
    handle_closed(a);
}

static void on_write(uv_write_t *w, int status)
{
    admin_conn *c = w->data;
    free(c->wbuf);
    c->wbuf = NULL;
    c->writing = false;
    if (c->closing)
        return;
    if (status < 0 || c->close_after) {
        aconn_close(c);
        return;
    }
    /* Keep-alive: the next request gets a fresh allowance. After a half-close, requests already
     * in the buffer are still answered (aconn_process closes once none is left). */
    c->deadline_ms = uv_now(c->tcp.loop) + ADMIN_TIMEOUT_MS;
    aconn_process(c);
}

static void send_bytes(admin_conn *c, char *buf, size_t len)
{
    c->wbuf = buf;
    c->writing = true;
    c->wreq.data = c;
    uv_buf_t b = uv_buf_init(buf, (unsigned)len);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(c->wbuf);
        c->wbuf = NULL;
        c->writing = false;
        aconn_close(c);
    }
}

void admin_respond(admin_conn *c, int status, const char *ctype, const char *body, size_t len)
{
    count_status(c->a, status);
    if (c->closing)
        return;
    size_t cap = HTTP_MAX_RESPONSE_HEAD + len;
    char *buf = malloc(cap);
    long n = buf ? http_write_response(buf, cap, status, ctype, body, len, c->keep_alive,
                                       c->head_only)
                 : -1;
    if (n < 0) {
        free(buf);
        aconn_close(c);
        return;
    }
    if (!c->keep_alive)
        c->close_after = true;
    send_bytes(c, buf, (size_t)n);
}

static void respond_error(admin_conn *c, int status, const char *reason)
{
    count_status(c->a, status);
    char *buf = malloc(HTTP_MAX_RESPONSE_HEAD + 128);
    long n = buf ? http_write_error(buf, HTTP_MAX_RESPONSE_HEAD + 128, status, reason) : -1;
    if (n < 0) {
        free(buf);
        aconn_close(c);
        return;
    }
    c->close_after = true;
    send_bytes(c, buf, (size_t)n);
}

/* ---- handlers ------------------------------------------------------------------------------- */

static bool path_is(const struct http_request *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && memcmp(r->path, p, n) == 0;
}

static void handle_readyz(admin_conn *c)
{
    admin *a = c->a;
    server *s = a->srv;
    uint64_t now = uv_now(server_loop(s));
    bool listeners = server_listeners_up(s) && a->listening;
    int stale = -1; /* first shard without a recent heartbeat */
    uint64_t stale_ms = 0;
    for (unsigned k = 0; k < a->nshards && stale < 0; k++) {
        uint64_t last = a->hb_last_ms[k];
        if (last == 0 || now - last > ADMIN_READY_HEARTBEAT_MS) {
            stale = (int)k;
            stale_ms = last ? now - last : 0;
        }
    }
    bool shards_ok = stale < 0;
    bool draining = server_draining(s);
    bool degraded = server_shards(s) && shards_degraded(server_shards(s));
    bool ready = listeners && shards_ok && !draining && !degraded;

    char body[512];
    char failed[96] = "";
    size_t fl = 0;
    const char *names[4] = {"listeners", "shards", "draining", "journal"};
    bool bad[4] = {!listeners, !shards_ok, draining, degraded};
    for (int i = 0; i < 4; i++)
        if (bad[i])
            fl += (size_t)snprintf(failed + fl, sizeof failed - fl, "%s\"%s\"", fl ? "," : "",
                                   names[i]);
    char shard_note[96] = "";
    if (stale >= 0)
        snprintf(shard_note, sizeof shard_note, ",\"stale_shard\":%d,\"stale_ms\":%llu", stale,
                 (unsigned long long)stale_ms);
    int n = snprintf(body, sizeof body,
                     "{\"ready\":%s,\"failed\":[%s],\"checks\":{\"listeners\":%s,\"shards\":%s,"
                     "\"not_draining\":%s,\"journal\":%s}%s}\n",
                     ready ? "true" : "false", failed, listeners ? "true" : "false",
                     shards_ok ? "true" : "false", draining ? "false" : "true",
                     degraded ? "false" : "true", shard_note);
    admin_respond(c, ready ? 200 : 503, "application/json", body, (size_t)n);
}

static void handle_metrics(admin_conn *c)
{
    admin *a = c->a;
    if (!admin_render_metrics(a)) {
        static const char msg[] = "metrics page over its size cap\n";
        admin_respond(c, 500, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    admin_respond(c, 200, PROM_CONTENT_TYPE, a->page.buf, a->page.len);
}

/* ?limit=N among the query's parameters; false when malformed or out of range. */
static bool parse_limit(const struct http_request *r, uint32_t *limit)
{
    *limit = ADMIN_BATTLES_DEFAULT;
    if (!r->query)
        return true;
    const char *q = r->query, *end = r->query + r->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        if (pe - q > 6 && memcmp(q, "limit=", 6) == 0) {
            uint64_t v = 0;
            const char *d = q + 6;
            if (pe - d > 7)
                return false;
            for (; d < pe; d++) {
                if (*d < '0' || *d > '9')
                    return false;
                v = v * 10 + (uint64_t)(*d - '0');
            }
            if (v < 1 || v > ADMIN_BATTLES_MAX)
                return false;
            *limit = (uint32_t)v;
        } else if (pe - q >= 5 && memcmp(q, "limit", 5) == 0) {
            return false;
        }
        q = pe + 1;
    }
    return true;
}

/* GET /cluster: the cluster layer's cached view of the nodes (app/ passes the hook). */
static void handle_cluster(admin_conn *c)
{
    if (!c->a->cluster_view) {
        static const char off[] = "no cluster: cluster.enabled is false\n";
        admin_respond(c, 404, "text/plain; charset=utf-8", off, sizeof off - 1);
        return;
    }
    char *buf = malloc(ADMIN_CLUSTER_MAX);
    if (!buf) {
        static const char oom[] = "out of memory\n";
        admin_respond(c, 503, "text/plain; charset=utf-8", oom, sizeof oom - 1);
        return;
    }
    size_t n = c->a->cluster_view(c->a->cluster_arg, buf, ADMIN_CLUSTER_MAX);
    admin_respond(c, 200, "application/json", buf, n);
    free(buf);
}

static void dispatch(admin_conn *c, const struct http_request *r)
{
    c->head_only = r->method == HTTP_HEAD;
    c->keep_alive = r->keep_alive;
    if (path_is(r, "/healthz")) {
        static const char ok[] = "ok\n";
        admin_respond(c, 200, "text/plain; charset=utf-8", ok, sizeof ok - 1);
    } else if (path_is(r, "/readyz")) {
        handle_readyz(c);
    } else if (path_is(r, "/metrics")) {
        handle_metrics(c);
    } else if (path_is(r, "/cluster")) {
        handle_cluster(c);
    } else if (path_is(r, "/battles")) {
        if (!parse_limit(r, &c->limit)) {
            char msg[96];
            int n = snprintf(msg, sizeof msg, "limit must be an integer in 1..%d\n",
                             ADMIN_BATTLES_MAX);
            admin_respond(c, 400, "text/plain; charset=utf-8", msg, (size_t)n);
            return;
        }
        admin_battles_request(c);
    } else {
        static const char nf[] =
            "not found: try /healthz, /readyz, /metrics, /battles or /cluster\n";
        admin_respond(c, 404, "text/plain; charset=utf-8", nf, sizeof nf - 1);
    }
}

/* Answers the next complete request in c's buffer, if any, else reads on. */
static void aconn_process(admin_conn *c)
{
    if (c->closing || c->writing || c->busy)
        return;
    struct http_request req;
    int r = c->in_len ? http_parse(&c->p, c->in, c->in_len, &req) : HTTP_NEED_MORE;
    if (r == HTTP_COMPLETE) {
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
        dispatch(c, &req);
        /* The answer (or the listing) no longer points into the buffer: drop this head. */
        memmove(c->in, c->in + req.head_len, c->in_len - req.head_len);
        c->in_len -= req.head_len;
        http_parser_init(&c->p);
        return;
    }
    if (r == HTTP_ERROR) {
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
        respond_error(c, req.status, req.reason);
        return;
    }
    if (c->in_len == sizeof c->in) {
        respond_error(c, 431, "request head too large");
        return;
    }
    if (c->peer_eof) {
        aconn_close(c);
        return;
    }
    aconn_read_on(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    admin_conn *c = h->data;
    buf->base = c->in + c->in_len;
    buf->len = sizeof c->in - c->in_len;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    admin_conn *c = st->data;
    if (nread == UV_EOF) {
        c->peer_eof = true;
        uv_read_stop(st);
        c->reading = false;
        aconn_process(c);
        return;
    }
    if (nread < 0) {
        aconn_close(c);
        return;
    }
    c->in_len += (size_t)nread;
    aconn_process(c);
}

static void aconn_read_on(admin_conn *c)
{
    if (c->reading || c->closing || c->in_len == sizeof c->in)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        aconn_close(c);
        return;
    }
    c->reading = true;
}

static void on_connection(uv_stream_t *l, int status)
{
    admin *a = l->data;
    if (status < 0) {
        fdlimit_accept_failed(server_fdlimit(a->srv), FDLIMIT_L_ADMIN, status, uv_now(l->loop));
        return;
    }
    if (a->closing)
        return;
    admin_conn *c = calloc(1, sizeof *c);
    if (!c) {
        log_warn("admin: out of memory for a connection");
        return;
    }
    c->a = a;
    c->tcp.data = c;
    if (uv_tcp_init(l->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    a->handles++;
    a->nconns++;
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    http_parser_init(&c->p);
    c->deadline_ms = uv_now(l->loop) + ADMIN_TIMEOUT_MS;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        aconn_close(c);
        return;
    }
    /* Past the cap, one 503 and a close; far past it (a flood), just the close. */
    if (a->nconns > ADMIN_MAX_CONNS) {
        a->conns_refused++;
        c->refused = true;
        if (a->nconns > 2 * ADMIN_MAX_CONNS) {
            aconn_close(c);
            return;
        }
        char msg[64];
        snprintf(msg, sizeof msg, "more than %d admin connections", ADMIN_MAX_CONNS);
        respond_error(c, 503, msg);
        return;
    }
    a->conns_total++;
    aconn_read_on(c);
}

/* ---- heartbeats, timeouts, loop lag ----------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    admin *a = t->data;
    server *s = a->srv;
    uint64_t now_ns = uv_hrtime();
    if (a->tick_expect_ns)
        hist_observe(&a->lag, now_ns > a->tick_expect_ns ? (now_ns - a->tick_expect_ns) / 1000 : 0);
    a->tick_expect_ns = now_ns + (uint64_t)ADMIN_TICK_MS * 1000000u;

    if (server_drain_phase(s) < SERVER_STOPPING) { /* in phase 3 the shards are stopped (and we are closing) */
        for (unsigned k = 0; k < a->nshards; k++) {
            if (a->hb_out[k])
                continue; /* one in flight per shard: a stuck shard does not pile them up */
            struct shard_in m = {.kind = SHARD_IN_HEARTBEAT};
            m.u.token = ++a->hb_seq;
            a->hb_token[k] = m.u.token;
            a->hb_sent_ns[k] = now_ns;
            a->hb_out[k] = 1;
            server_ask_shard(s, k, &m);
        }
    }
    uint64_t now = uv_now(t->loop);
    for (admin_conn *c = a->conns, *next; c; c = next) {
        next = c->next;
        if (!c->closing && !c->busy && now >= c->deadline_ms) {
            a->timeouts++;
            aconn_close(c);
        }
    }
    admin_battles_tick(a);
}

static void on_reply(void *arg, unsigned k, const struct shard_out *m)
{
    admin *a = arg;
    if (k >= a->nshards)
        return;
    if (m->kind == SHARD_OUT_HEARTBEAT) {
        if (a->hb_out[k] && m->u.token == a->hb_token[k]) {
            uint64_t now_ns = uv_hrtime();
            hist_observe(&a->hb_rtt[k], (now_ns - a->hb_sent_ns[k]) / 1000);
            a->hb_out[k] = 0;
            a->hb_last_ms[k] = uv_now(server_loop(a->srv));
            if (a->hb_last_ms[k] == 0)
                a->hb_last_ms[k] = 1;
        }
        return;
    }
    admin_battles_reply(a, k, m);
}

/* ---- lifetime -------------------------------------------------------------------------------- */

static void listener_closed_cb(uv_handle_t *h)
{
    handle_closed(h->data);
}

static int parse_hostport(const char *hostport, struct sockaddr_storage *ss)
{
    char host[SERVER_STRING_MAX + 1];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return UV_EINVAL;
    size_t hlen = (size_t)(colon - hostport);
    memcpy(host, hostport, hlen);
    host[hlen] = 0;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        return UV_EINVAL;
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = 0;
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss);
    }
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

int admin_start(server *s, const struct server_opts *opts, admin **out)
{
    *out = NULL;
    if (!opts->admin.listen[0])
        return 0;
    admin *a = calloc(1, sizeof *a);
    if (!a) {
        log_error("admin: out of memory");
        return -1;
    }
    a->srv = s;
    a->cluster_view = opts->cluster_view;
    a->cluster_arg = opts->cluster_arg;
    a->cluster_metrics = opts->cluster_metrics;
    a->cluster_metrics_arg = opts->cluster_metrics_arg;
    a->match_counters = opts->match_counters;
    a->match_arg = opts->match_arg;
    a->nshards = server_shard_count(s);
    a->ring_capacity = (uint64_t)opts->ring_slots - 1;
    unsigned n = a->nshards ? a->nshards : 1;
    a->hb_token = calloc(n, sizeof *a->hb_token);
    a->hb_sent_ns = calloc(n, sizeof *a->hb_sent_ns);
    a->hb_last_ms = calloc(n, sizeof *a->hb_last_ms);
    a->hb_out = calloc(n, 1);
    a->hb_rtt = calloc(n, sizeof *a->hb_rtt);
    a->owed = calloc(n, sizeof *a->owed);
    a->ls.done = calloc(n, 1);
    prom_out_init(&a->page, 0);
    hist_init(&a->lag, hist_latency_bounds_us, hist_latency_nbounds);
    if (!a->hb_token || !a->hb_sent_ns || !a->hb_last_ms || !a->hb_out || !a->hb_rtt || !a->owed ||
        !a->ls.done) {
        log_error("admin: out of memory");
        a->closing = true;
        a->handles = 1;
        handle_closed(a);
        return -1;
    }
    for (unsigned k = 0; k < a->nshards; k++)
        hist_init(&a->hb_rtt[k], hist_latency_bounds_us, hist_latency_nbounds);

    uv_loop_t *loop = server_loop(s);
    uv_tcp_init(loop, &a->listener);
    a->listener.data = a;
    uv_timer_init(loop, &a->tick);
    a->tick.data = a;
    a->handles = 2;

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    int r = parse_hostport(opts->admin.listen, &addr);
    if (r == 0)
        r = uv_tcp_bind(&a->listener, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&a->listener, ADMIN_MAX_CONNS, on_connection);
    if (r != 0) {
        log_error("admin: cannot listen", "listen", opts->admin.listen, "error", uv_strerror(r));
        admin_close(a);
        return -1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&a->listener, (struct sockaddr *)&bound, &blen);
    a->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    a->listening = true;
    if (opts->admin.port_file[0] && server_write_port_file(opts->admin.port_file, a->port, 0) != 0) {
        log_error("admin: cannot write port file", "file", opts->admin.port_file);
        admin_close(a);
        return -1;
    }
    /* First tick at once, so readiness needs only one heartbeat round trip after start. */
    uv_timer_start(&a->tick, on_tick, 0, ADMIN_TICK_MS);
    server_set_reply_hook(s, on_reply, a);
    log_info("admin listening", "listen", opts->admin.listen, "port", LOG_U64(a->port));
    *out = a;
    return 0;
}

uint16_t admin_port(const admin *a)
{
    return a->port;
}

void admin_close(admin *a)
{
    if (!a || a->closing)
        return;
    a->closing = true;
    a->listening = false;
    server_set_reply_hook(a->srv, NULL, NULL);
    for (admin_conn *c = a->conns; c; c = c->next)
        aconn_close(c);
    uv_close((uv_handle_t *)&a->tick, listener_closed_cb);
    uv_close((uv_handle_t *)&a->listener, listener_closed_cb);
}
