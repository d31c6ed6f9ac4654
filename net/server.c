/* server: startup, the network thread's loop callbacks, the shard wiring and the graceful drain.
 *
 * One loop pass of the network thread: I/O callbacks read frames and push requests into shard
 * inboxes (marking those shards dirty) and queue replies; the outbox wakeup drains every shard's
 * outbox into connection output queues; then the uv_prepare callback, just before the loop polls
 * again, pushes any parked control messages, resumes connections paused on a full inbox, writes
 * every connection with new output once (one writev each), and wakes each dirty shard once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "net/admin.h"
#include "net/net_int.h"
#include "proto/codec.h"
#include "util/log.h"

#define NET_OUTBOX_BUDGET 8192 /* messages taken from one shard per wakeup before yielding */

static const char *const close_names[NET_CLOSE_REASONS] = {
    "peer", "idle", "hello", "bad_stream", "protocol", "abuse", "output_cap", "shard", "drain", "error",
    "tls", "websocket", "address_cap", "http",
};

const char *net_close_reason_name(int reason)
{
    return reason >= 0 && reason < NET_CLOSE_REASONS ? close_names[reason] : "?";
}

bool server_draining(const server *s)
{
    return s->drain_phase > 0;
}

void server_mark_pushed(server *s, unsigned k)
{
    s->kdirty[k] = 1;
}

uint64_t server_new_battle_id(server *s)
{
    /* Battle ids double as invitations to private battles, so they come from the kernel's CSPRNG,
     * fetched in batches to keep it to one syscall per NET_ID_BATCH battles. */
    for (;;) {
        if (s->nids == 0) {
            ssize_t n = getrandom(s->ids, sizeof s->ids, 0);
            if (n != (ssize_t)sizeof s->ids) {
                /* Never expected on Linux >= 3.17 for 256 bytes; fall back to a time-mixed value. */
                uint64_t t = uv_hrtime() ^ ((uint64_t)(uintptr_t)s << 17);
                for (unsigned i = 0; i < NET_ID_BATCH; i++) {
                    t += 0x9e3779b97f4a7c15ULL;
                    uint64_t z = t;
                    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
                    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
                    s->ids[i] = z ^ (z >> 31);
                }
            }
            s->nids = NET_ID_BATCH;
        }
        /* The wire bounds battle ids to 1..INT64_MAX (proto/codec.c), so clients whose integers are
         * signed 64-bit can hold them: 63 random bits. */
        uint64_t id = s->ids[--s->nids] & (uint64_t)INT64_MAX;
        if (id)
            return id;
    }
}

/* ---- control queue: messages that must reach a shard even when its inbox is full ---------- */

static bool ctl_append(ctl_queue *q, const struct shard_in *m)
{
    if (q->count == q->cap) {
        uint32_t ncap = q->cap ? q->cap * 2 : 64;
        struct shard_in *n = malloc((size_t)ncap * sizeof *n);
        if (!n)
            return false;
        for (uint32_t i = 0; i < q->count; i++)
            n[i] = q->q[(q->head + i) % q->cap];
        free(q->q);
        q->q = n;
        q->head = 0;
        q->cap = ncap;
    }
    q->q[(q->head + q->count) % q->cap] = *m;
    q->count++;
    return true;
}

void server_push_ctl(server *s, unsigned k, const struct shard_in *msg)
{
    ctl_queue *q = &s->ctl[k];
    if (q->count == 0 && s->shards && shards_push(s->shards, k, msg)) {
        server_mark_pushed(s, k);
        return;
    }
    NET_STAT_ADD(&s->stats, ctl_parked, 1);
    if (!ctl_append(q, msg))
        log_error("control message lost: out of memory", "shard", LOG_U64(k));
}

static void ctl_flush(server *s)
{
    for (unsigned k = 0; k < s->nshards; k++) {
        ctl_queue *q = &s->ctl[k];
        while (q->count && shards_push(s->shards, k, &q->q[q->head])) {
            server_mark_pushed(s, k);
            q->head = (q->head + 1) % q->cap;
            q->count--;
        }
    }
}

/* ---- outbox --------------------------------------------------------------------------------- */

static void begin_flush_phase(server *s);

static void handle_out(server *s, unsigned k, struct shard_out *o)
{
    conn *c;
    switch (o->kind) {
    case SHARD_OUT_SEND:
    case SHARD_OUT_SEND_HEAP: {
        const uint8_t *p = o->kind == SHARD_OUT_SEND ? o->u.bytes : o->u.heap.ptr;
        size_t len = o->kind == SHARD_OUT_SEND ? o->len : o->u.heap.len;
        c = conntab_get(&s->conns, o->conn);
        if (c)
            conn_send(c, p, len);
        else
            NET_STAT_ADD(&s->stats, output_dropped_gone, 1);
        if (o->kind == SHARD_OUT_SEND_HEAP)
            free(o->u.heap.ptr);
        break;
    }
    case SHARD_OUT_SEAT:
        c = conntab_get(&s->conns, o->conn);
        if (c) {
            conn_seat_change(c, o->battle_id, o->delta);
        } else if (o->delta > 0) {
            /* The connection left before it heard of this seat: its CONN_GONE could not name the
             * battle, so send one now or the seat would wait for a ghost. */
            struct shard_in m = {.kind = SHARD_IN_CONN_GONE, .conn = o->conn,
                                 .battle_id = o->battle_id};
            server_push_ctl(s, shard_of(o->battle_id, s->nshards), &m);
        }
        break;
    case SHARD_OUT_CLOSE:
        c = conntab_get(&s->conns, o->conn);
        if (c)
            conn_close(c, NET_CLOSE_SHARD, false);
        break;
    case SHARD_OUT_STOPPED:
        s->stopped++;
        if (s->drain_phase == 1 && s->stopped >= s->nshards)
            begin_flush_phase(s);
        break;
    case SHARD_OUT_HEARTBEAT:
    case SHARD_OUT_LIST_ROW:
    case SHARD_OUT_LIST_END:
        if (s->reply_fn)
            s->reply_fn(s->reply_arg, k, o);
        break;
    default:
        break;
    }
}

static void on_wake(uv_async_t *h)
{
    server *s = h->data;
    NET_STAT_ADD(&s->stats, outbox_wakeups, 1);
    if (!s->shards)
        return;
    bool more = false;
    struct shard_out o;
    for (unsigned k = 0; k < s->nshards && s->shards; k++) {
        unsigned n = 0;
        while (n < NET_OUTBOX_BUDGET && shards_pop(s->shards, k, &o)) {
            handle_out(s, k, &o);
            n++;
        }
        if (n == NET_OUTBOX_BUDGET)
            more = true;
    }
    /* Stopped on a budget: libuv cleared the pending flag before calling us, so re-signal. */
    if (more)
        uv_async_send(&s->wake);
}

static void wake_net(void *arg)
{
    server *s = arg;
    uv_async_send(&s->wake);
}

/* ---- once per loop pass ---------------------------------------------------------------------- */

static void begin_stop_phase(server *s);

static void on_hs_idle(uv_idle_t *h)
{
    (void)h; /* only keeps the loop from blocking while deferred handshakes wait for a pass */
}

static void on_prepare(uv_prepare_t *h)
{
    server *s = h->data;
    if (!s->shards)
        return;
    ctl_flush(s);
    if (s->tls) {
        conn_tls_pass(s);
        if (!s->hs_head && uv_is_active((uv_handle_t *)&s->hs_idle))
            uv_idle_stop(&s->hs_idle);
        else if (s->hs_head && !uv_is_active((uv_handle_t *)&s->hs_idle))
            uv_idle_start(&s->hs_idle, on_hs_idle);
    }
    if (s->npaused)
        conn_resume_paused(s);
    conn_flush_dirty(s);
    unsigned woke = 0;
    for (unsigned k = 0; k < s->nshards; k++) {
        woke += s->kdirty[k];
        s->kdirty[k] = 0;
    }
    if (woke) {
        NET_STAT_ADD(&s->stats, wakeups_sent, woke);
        shards_flush(s->shards);
    }
    if (s->drain_phase == 2 && s->conn_objs == 0)
        begin_stop_phase(s);
}

static void on_sweep(uv_timer_t *t)
{
    conn_sweep(t->data);
}

static void on_lag(uv_timer_t *t)
{
    server *s = t->data;
    uint64_t now = uv_hrtime();
    uint64_t lag_us = now > s->lag_expect_ns ? (now - s->lag_expect_ns) / 1000 : 0;
    s->lag_expect_ns = now + (uint64_t)NET_LAG_PERIOD_MS * 1000000u;
    NET_STAT_SET(&s->stats, loop_lag_last_us, lag_us);
    if (lag_us > NET_STAT_GET(&s->stats, loop_lag_max_us))
        NET_STAT_SET(&s->stats, loop_lag_max_us, lag_us);
    static const uint64_t edges_ms[NET_LAG_BUCKETS - 1] = {1, 2, 5, 10, 50, 100, 500};
    unsigned b = 0;
    while (b < NET_LAG_BUCKETS - 1 && lag_us >= edges_ms[b] * 1000)
        b++;
    NET_STAT_ADD(&s->stats, loop_lag_hist[b], 1);
}

/* ---- drain ---------------------------------------------------------------------------------- */

static void on_drain_timer(uv_timer_t *t);

static void each_conn(server *s, void (*fn)(conn *c, void *arg), void *arg)
{
    for (uint32_t slot = 0; slot < s->conns.used; slot++) {
        conn *c = s->conns.ptr[slot];
        if (c)
            fn(c, arg);
    }
}

static void tell_going_away(conn *c, void *arg)
{
    const char *msg = arg;
    route_error(c, PROTO_E_SERVER_DRAINING, msg, false, 0, 0);
}

static void close_for_drain(conn *c, void *arg)
{
    (void)arg;
    conn_close(c, NET_CLOSE_DRAIN, true);
}

static void begin_drain(server *s)
{
    s->drain_phase = 1;
    NET_STAT_SET(&s->stats, draining, 1);
    log_info("draining", "grace_ms", LOG_I64(s->cfg.server.drain_timeout_ms), "connections",
             LOG_U64(s->conns.live));
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
    }
    if (s->tls_listening) {
        uv_close((uv_handle_t *)&s->tls_listener, NULL);
        s->tls_listening = false;
    }
    ws_server_stop_listening(s);
    /* Queue entries will never be matched now. */
    for (int b = 0; b < LOBBY_BANDS; b++) {
        while (s->lobby.q_head[b]) {
            lobby_entry *e = s->lobby.q_head[b];
            conn *c = conntab_get(&s->conns, e->conn);
            if (c) {
                route_error(c, PROTO_E_SERVER_DRAINING, "server shutting down: queue closed",
                            e->has_rid, e->rid, 0);
                c->nqueued--;
            }
            lobby_remove(&s->lobby, e);
            NET_STAT_ADD(&s->stats, lobby_waiting, (uint64_t)-1);
        }
    }
    char msg[96];
    snprintf(msg, sizeof msg, "server going away: running battles end within %lld ms",
             (long long)s->cfg.server.drain_timeout_ms);
    each_conn(s, tell_going_away, msg);
    for (unsigned k = 0; k < s->nshards; k++) {
        struct shard_in m = {.kind = SHARD_IN_DRAIN};
        m.u.drain.grace_ms = (uint64_t)s->cfg.server.drain_timeout_ms;
        server_push_ctl(s, k, &m);
    }
    uv_timer_start(&s->drain_timer, on_drain_timer,
                   (uint64_t)s->cfg.server.drain_timeout_ms + SERVER_DRAIN_MARGIN_MS, 0);
}

static void begin_flush_phase(server *s)
{
    if (s->drain_phase >= 2)
        return;
    if (s->stopped < s->nshards)
        log_warn("drain: shards did not all report in time; closing anyway",
                 "stopped", LOG_U64(s->stopped), "shards", LOG_U64(s->nshards));
    s->drain_phase = 2;
    each_conn(s, close_for_drain, NULL);
    uv_timer_start(&s->drain_timer, on_drain_timer, SERVER_FLUSH_MS, 0);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_now(conn *c, void *arg)
{
    (void)arg;
    conn_close(c, NET_CLOSE_DRAIN, false);
}

/* Closes every handle on the loop: connections first, through conn_close (they own memory), found
 * in the table or on the closing list, then whatever else is open (our listeners, timers and
 * asyncs, and any listener another module put on this loop) with no callback. Walking the loop for
 * connections instead would have to guess which TCP handles are ours. */
static void close_all(server *s)
{
    admin_close(s->admin); /* first, so its connections are closed with their callbacks */
    s->admin = NULL;
    each_conn(s, close_now, NULL);
    while (s->lhead[LIST_CLOSING])
        conn_close(s->lhead[LIST_CLOSING], NET_CLOSE_DRAIN, false);
    uv_walk(&s->loop, close_handle, s);
}

static void begin_stop_phase(server *s)
{
    if (s->drain_phase >= 3)
        return;
    s->drain_phase = 3;
    /* Stop the shards while our async handle is still open: they may wake us until they exit. */
    if (s->shards) {
        shards_stop(s->shards);
        s->shards = NULL;
    }
    close_all(s);
    const net_stats *st = &s->stats;
    log_info("stopped", "connections_total", LOG_U64(NET_STAT_GET(st, conns_total)), "refused",
             LOG_U64(NET_STAT_GET(st, conns_refused)), "frames_in", LOG_U64(NET_STAT_GET(st, frames_in)),
             "frames_out", LOG_U64(NET_STAT_GET(st, frames_out)), "rate_limited",
             LOG_U64(NET_STAT_GET(st, ratelimit_refusals)), "output_cap_cuts",
             LOG_U64(NET_STAT_GET(st, output_cap_cuts)), "inbox_full",
             LOG_U64(NET_STAT_GET(st, inbox_full)), "dropped_gone",
             LOG_U64(NET_STAT_GET(st, output_dropped_gone)), "loop_lag_max_us",
             LOG_U64(NET_STAT_GET(st, loop_lag_max_us)));
}

static void on_drain_timer(uv_timer_t *t)
{
    server *s = t->data;
    if (s->drain_phase == 1)
        begin_flush_phase(s);
    else if (s->drain_phase == 2)
        begin_stop_phase(s);
}

static void on_drain_async(uv_async_t *h)
{
    server *s = h->data;
    int n = atomic_load(&s->drain_requests);
    if (n <= 0)
        return;
    if (s->drain_phase == 0) {
        begin_drain(s);
        if (n == 1)
            return;
    }
    /* Asked again: hurry. Battles end as shutdown now rather than at the deadline. */
    if (s->drain_phase == 1) {
        log_info("drain: hurrying");
        for (unsigned k = 0; k < s->nshards; k++) {
            struct shard_in m = {.kind = SHARD_IN_DRAIN};
            m.u.drain.grace_ms = 0;
            server_push_ctl(s, k, &m);
        }
        uv_timer_start(&s->drain_timer, on_drain_timer, SERVER_DRAIN_MARGIN_MS, 0);
    } else if (s->drain_phase == 2) {
        begin_stop_phase(s);
    }
}

void server_drain(server *s)
{
    atomic_fetch_add(&s->drain_requests, 1);
    uv_async_send(&s->drain_async);
}

/* ---- startup -------------------------------------------------------------------------------- */

static void on_connection(uv_stream_t *l, int status)
{
    server *s = l->data;
    if (status < 0) {
        log_warn("accept failed", "error", uv_strerror(status));
        return;
    }
    if (!ws_server_accept(s, l))
        conn_accept(s, l == (uv_stream_t *)&s->tls_listener);
}

static int parse_listen(const char *hostport, struct sockaddr_storage *ss)
{
    char host[CONFIG_STRING_MAX + 1];
    const char *colon = strrchr(hostport, ':');
    if (!colon)
        return -1;
    size_t hlen = (size_t)(colon - hostport);
    if (hlen >= sizeof host)
        return -1;
    memcpy(host, hostport, hlen);
    host[hlen] = 0;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!*(colon + 1) || *end || port < 0 || port > 65535)
        return -1;
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        host[hlen - 1] = 0;
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss);
    }
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

int server_listen(server *s, uv_tcp_t *t, const char *hostport, uint16_t *port)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    int r = parse_listen(hostport, &addr);
    if (r != 0)
        return r;
    r = uv_tcp_init(&s->loop, t);
    if (r != 0)
        return r;
    t->data = s;
    r = uv_tcp_bind(t, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)t, NET_LISTEN_BACKLOG, on_connection);
    if (r != 0)
        return r;
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(t, (struct sockaddr *)&bound, &blen);
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

int server_write_port_file(const char *path, uint16_t port, uint16_t tls_port)
{
    char tmp[CONFIG_STRING_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%u\n", (unsigned)port);
    if (tls_port)
        fprintf(f, "%u\n", (unsigned)tls_port);
    if (fclose(f) != 0)
        return -1;
    /* Rename, so whoever polls for the file never reads half of it. */
    return rename(tmp, path);
}

static int load_ships(server *s)
{
    const char *path = s->cfg.game.ships_file;
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_error("cannot open ship table", "file", path, "error", strerror(errno));
        return -1;
    }
    char *text = malloc(SHIPS_TEXT_MAX + 1);
    size_t n = text ? fread(text, 1, SHIPS_TEXT_MAX + 1, f) : 0;
    fclose(f);
    if (!text || n > SHIPS_TEXT_MAX) {
        log_error("ship table too large or no memory", "file", path);
        free(text);
        return -1;
    }
    s->ships = malloc(sizeof *s->ships);
    char err[256];
    if (!s->ships || ships_load_toml(text, n, s->ships, err, sizeof err) != 0) {
        log_error("bad ship table", "file", path, "error", s->ships ? err : "no memory");
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

static void net_thread(void *arg)
{
    server *s = arg;
    log_set_thread_name("net");
    /* The OS name too, so top -H and the allocation test can tell this thread apart. */
    pthread_setname_np(pthread_self(), "battled-net");
    uv_run(&s->loop, UV_RUN_DEFAULT);
    atomic_store(&s->finished, 1);
}

static void server_free(server *s)
{
    ws_server_free(s);
    addrcap_destroy(&s->addrs);
    tls_ctx_free(s->tls);
    if (s->shards)
        shards_stop(s->shards);
    if (s->ctl)
        for (unsigned k = 0; k < s->nshards; k++)
            free(s->ctl[k].q);
    free(s->ctl);
    free(s->paused);
    free(s->kdirty);
    free(s->ships);
    lobby_destroy(&s->lobby);
    outq_pool_destroy(&s->pool);
    conntab_destroy(&s->conns);
    free(s);
}

server *server_start(const battled_config *cfg)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        log_error("server: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->exit_code = 0;
    if (s->cfg.server.max_frame < PROTO_FRAME_MIN_MAX) {
        /* Every request must fit a frame; proto's floor wins over a smaller setting. */
        log_warn("server.max_frame raised to the protocol's minimum", "max_frame",
                 LOG_I64(s->cfg.server.max_frame), "minimum", LOG_U64(PROTO_FRAME_MIN_MAX));
        s->cfg.server.max_frame = PROTO_FRAME_MIN_MAX;
    }
    s->rl.per_sec = (uint32_t)cfg->ratelimit.actions_per_sec;
    s->rl.burst = (uint32_t)cfg->ratelimit.burst;
    s->rl.abuse_refusals = (uint32_t)cfg->ratelimit.abuse_refusals;
    s->timeout_ms[LIST_HELLO] = (uint64_t)cfg->server.hello_timeout_ms;
    s->timeout_ms[LIST_IDLE] = (uint64_t)cfg->server.idle_timeout_ms;
    s->timeout_ms[LIST_CLOSING] = NET_CLOSE_LINGER_MS;
    s->timeout_ms[LIST_WS] = (uint64_t)cfg->ws.handshake_timeout_ms;
    lobby_init(&s->lobby);
    outq_pool_init(&s->pool, NET_OUT_SPARE);
    if (conntab_init(&s->conns, (uint32_t)cfg->server.max_connections) != 0 || load_ships(s) != 0) {
        server_free(s);
        return NULL;
    }
    if (uv_loop_init(&s->loop) != 0) {
        server_free(s);
        return NULL;
    }
    int r = server_listen(s, &s->listener, cfg->server.listen, &s->port);
    if (r != 0) {
        log_error("cannot listen", "listen", cfg->server.listen, "error", uv_strerror(r));
        goto fail_loop;
    }
    s->listening = true;
    if (cfg->tls.listen[0] || cfg->ws.tls_listen[0]) {
        char err[TLS_ERR_MAX];
        s->tls = tls_ctx_new(cfg->tls.cert, cfg->tls.key, err, sizeof err);
        if (!s->tls) {
            log_error("cannot set up TLS", "cert", cfg->tls.cert, "key", cfg->tls.key, "error", err);
            goto fail_loop;
        }
        if (cfg->tls.listen[0]) {
            r = server_listen(s, &s->tls_listener, cfg->tls.listen, &s->tls_port);
            if (r != 0) {
                log_error("cannot listen", "listen", cfg->tls.listen, "error", uv_strerror(r));
                goto fail_loop;
            }
            s->tls_listening = true;
        }
        s->timeout_ms[LIST_TLS] = (uint64_t)cfg->tls.handshake_timeout_ms;
        uv_idle_init(&s->loop, &s->hs_idle);
        s->hs_idle.data = s;
    }
    if (ws_server_start(s) != 0)
        goto fail_loop;

    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    uv_async_init(&s->loop, &s->drain_async, on_drain_async);
    s->drain_async.data = s;
    uv_prepare_init(&s->loop, &s->prepare);
    s->prepare.data = s;
    uv_prepare_start(&s->prepare, on_prepare);
    uv_timer_init(&s->loop, &s->sweep);
    s->sweep.data = s;
    uint64_t period = (uint64_t)(cfg->server.hello_timeout_ms < cfg->server.idle_timeout_ms
                                     ? cfg->server.hello_timeout_ms
                                     : cfg->server.idle_timeout_ms) / 10;
    if (s->ws && (uint64_t)cfg->ws.handshake_timeout_ms / 10 < period)
        period = (uint64_t)cfg->ws.handshake_timeout_ms / 10;
    if (period < 20)
        period = 20;
    if (period > 1000)
        period = 1000;
    uv_timer_start(&s->sweep, on_sweep, period, period);
    uv_timer_init(&s->loop, &s->lag);
    s->lag.data = s;
    s->lag_expect_ns = uv_hrtime() + (uint64_t)NET_LAG_PERIOD_MS * 1000000u;
    uv_timer_start(&s->lag, on_lag, NET_LAG_PERIOD_MS, NET_LAG_PERIOD_MS);
    uv_timer_init(&s->loop, &s->drain_timer);
    s->drain_timer.data = s;

    const battled_config *c = &s->cfg;
    int fs = c->persistence.fsync;
    struct shards_opts so = {
        .shards = c->server.shards,
        .ring_slots = c->server.ring_slots,
        .game = {.round_limit = c->game.round_limit,
                 .turn_timer_ms = c->game.turn_timer_ms,
                 .resume_window_ms = c->game.resume_window_ms,
                 .idle_battle_ms = c->game.idle_battle_ms,
                 .finished_keep_ms = c->game.finished_keep_ms,
                 .max_spectators = c->game.max_spectators,
                 .ai_think_ms = c->game.ai_think_ms},
        .persistence = {.enabled = c->persistence.enabled,
                        .backend = "file",
                        .dir = c->persistence.dir,
                        .fsync = fs == CONFIG_FSYNC_ALWAYS ? JOURNAL_SYNC_ALWAYS
                                 : fs == CONFIG_FSYNC_NO   ? JOURNAL_SYNC_NO
                                                           : JOURNAL_SYNC_EVERYSEC,
                        .compact_bytes = c->persistence.compact_bytes,
                        .skip_damaged = c->persistence.skip_damaged},
        .ships = s->ships,
        .wake_net = wake_net,
        .wake_arg = s};
    s->shards = shards_start(&so);
    if (!s->shards)
        goto fail_loop;
    s->nshards = shards_count(s->shards);
    s->paused = calloc(s->nshards, sizeof *s->paused);
    s->ctl = calloc(s->nshards, sizeof *s->ctl);
    s->kdirty = calloc(s->nshards, 1);
    if (!s->paused || !s->ctl || !s->kdirty)
        goto fail_loop;

    /* Before the game port file: whoever waits for that file finds the admin port file too. */
    if (admin_start(s, &s->cfg, &s->admin) != 0)
        goto fail_loop;
    if (cfg->ws.port_file[0] &&
        server_write_port_file(cfg->ws.port_file, ws_server_port(s), ws_server_tls_port(s)) != 0) {
        log_error("cannot write port file", "file", cfg->ws.port_file, "error", strerror(errno));
        goto fail_loop;
    }
    if (cfg->server.port_file[0] && server_write_port_file(cfg->server.port_file, s->port, s->tls_port) != 0) {
        log_error("cannot write port file", "file", cfg->server.port_file, "error",
                  strerror(errno));
        goto fail_loop;
    }
    if (uv_thread_create(&s->thread, net_thread, s) != 0) {
        log_error("cannot start the network thread");
        goto fail_loop;
    }
    log_info("listening", "listen", cfg->server.listen, "port", LOG_U64(s->port), "tls_port",
             LOG_U64(s->tls_port), "ws_port", LOG_U64(ws_server_port(s)), "wss_port",
             LOG_U64(ws_server_tls_port(s)), "shards", LOG_U64(s->nshards));
    return s;

fail_loop:
    if (s->shards) {
        shards_stop(s->shards);
        s->shards = NULL;
    }
    close_all(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    server_free(s);
    return NULL;
}

int server_wait(server *s)
{
    uv_thread_join(&s->thread);
    /* Anything still open (it should not be) is closed here so the loop can be freed. */
    close_all(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    conn_flush_dirty(s); /* frees connections closed while on the flush list */
    int rc = uv_loop_close(&s->loop) == 0 ? s->exit_code : 1;
    server_free(s);
    return rc;
}

uint16_t server_port(const server *s)
{
    return s->port;
}

uint16_t server_tls_port(const server *s)
{
    return s->tls_port;
}

const net_stats *server_stats(const server *s)
{
    return &s->stats;
}

uv_loop_t *server_loop(server *s)
{
    return &s->loop;
}

unsigned server_shard_count(const server *s)
{
    return s->nshards;
}

const struct shard_stats *server_shard_stats(const server *s, unsigned k)
{
    return s->shards && k < s->nshards ? shards_stats(s->shards, k) : NULL;
}

void server_set_reply_hook(server *s, server_reply_fn fn, void *arg)
{
    s->reply_fn = fn;
    s->reply_arg = arg;
}

void server_ask_shard(server *s, unsigned k, const struct shard_in *msg)
{
    if (k < s->nshards)
        server_push_ctl(s, k, msg);
}

int server_run(const battled_config *cfg, const sigset_t *signals)
{
    server *s = server_start(cfg);
    if (!s)
        return 1;
    int sig = 0;
    while (sigwait(signals, &sig) != 0) {
    }
    log_info("shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_drain(s);
    /* A second signal hurries the drain; poll for it until the network thread is done. */
    while (!atomic_load(&s->finished)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        if (sigtimedwait(signals, NULL, &ts) > 0) {
            log_info("second signal: hurrying the drain");
            server_drain(s);
        }
    }
    return server_wait(s);
}
