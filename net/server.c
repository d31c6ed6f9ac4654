/* server: the network thread's start-up and end, its once-per-loop-pass callbacks and the small
 * accessors of server.h. The shard rings' traffic is in dispatch.c, the graceful drain in drain.c,
 * connections in conn.c and conn_tls.c, frame routing in route.c.
 *
 * One loop pass of the network thread: I/O callbacks read frames and push requests into shard
 * inboxes (marking those shards dirty) and queue replies; the outbox wakeup drains every shard's
 * outbox into connection output queues; then the uv_prepare callback, just before the loop polls
 * again, pushes any parked control messages, resumes connections paused on a full inbox, writes
 * every connection with new output once (one writev each), then runs the few messages of sleeping
 * shards itself and writes their replies, and wakes every other dirty shard once (dispatch.c). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "net/admin.h"
#include "net/idtag.h"
#include "net/net_int.h"
#include "proto/codec.h"
#include "util/log.h"
#include "util/mix.h"

static const char *const close_names[NET_CLOSE_REASONS] = {
    "peer", "idle", "hello", "bad_stream", "protocol", "abuse", "output_cap", "shard", "drain", "error",
    "tls", "websocket", "address_cap", "http",
};

const char *net_close_reason_name(int reason)
{
    return reason >= 0 && reason < NET_CLOSE_REASONS ? close_names[reason] : "?";
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
                for (unsigned i = 0; i < NET_ID_BATCH; i++)
                    s->ids[i] = mix64_next(&t);
            }
            s->nids = NET_ID_BATCH;
        }
        /* The wire bounds battle ids to 1..INT64_MAX (proto/codec.c), so clients whose integers are
         * signed 64-bit can hold them: 63 random bits, or in a cluster 47 random bits under the
         * node incarnation's tag (net/idtag.h). */
        uint64_t id = idtag_apply(s->ids[--s->nids], s->opts.id_tag);
        if (id)
            return id;
    }
}

/* ---- once per loop pass ---------------------------------------------------------------------- */

static void on_hs_idle(uv_idle_t *h)
{
    (void)h; /* only keeps the loop from blocking while deferred handshakes wait for a pass */
}

static void on_prepare(uv_prepare_t *h)
{
    server *s = h->data;
    if (!s->shards)
        return;
    dispatch_ctl_flush(s);
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
    dispatch_to_shards(s);
    drain_pass(s);
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

void server_each_conn(server *s, void (*fn)(conn *c, void *arg), void *arg)
{
    for (uint32_t slot = 0; slot < s->conns.used; slot++) {
        conn *c = s->conns.ptr[slot];
        if (c)
            fn(c, arg);
    }
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
void server_close_all(server *s)
{
    lobby_remote_close(s); /* before redir_async closes: no thread may signal it after */
    admin_close(s->admin); /* first, so its connections are closed with their callbacks */
    s->admin = NULL;
    server_each_conn(s, close_now, NULL);
    while (s->lhead[LIST_CLOSING])
        conn_close(s->lhead[LIST_CLOSING], NET_CLOSE_DRAIN, false);
    uv_walk(&s->loop, close_handle, s);
}

/* ---- start-up and the end -------------------------------------------------------------------- */

static void on_connection(uv_stream_t *l, int status)
{
    server *s = l->data;
    if (status < 0) {
        fdlimit_accept_failed(&s->fdl, FDLIMIT_L_GAME, status, uv_now(&s->loop));
        return;
    }
    if (!ws_server_accept(s, l))
        conn_accept(s, l == (uv_stream_t *)&s->tls_listener);
}

static int parse_listen(const char *hostport, struct sockaddr_storage *ss)
{
    char host[SERVER_STRING_MAX + 1];
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
    char tmp[SERVER_STRING_MAX + 16];
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
            fifo_free(&s->ctl[k]);
    free(s->ctl);
    free(s->paused);
    free(s->kdirty);
    free(s->ships);
    lobby_destroy(&s->lobby);
    pthread_mutex_destroy(&s->redir_mu);
    outq_pool_destroy(&s->pool);
    conntab_destroy(&s->conns);
    free(s);
}

server *server_start(const struct server_opts *opts)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        log_error("server: out of memory");
        free(opts->ships);
        return NULL;
    }
    s->opts = *opts;
    pthread_mutex_init(&s->redir_mu, NULL);
    s->ships = opts->ships;
    s->exit_code = 0;
    if (s->opts.max_frame < PROTO_FRAME_MIN_MAX) {
        /* Every request must fit a frame; proto's floor wins over a smaller setting. */
        log_warn("server.max_frame raised to the protocol's minimum", "max_frame",
                 LOG_I64(s->opts.max_frame), "minimum", LOG_U64(PROTO_FRAME_MIN_MAX));
        s->opts.max_frame = PROTO_FRAME_MIN_MAX;
    }
    s->rl.per_sec = (uint32_t)opts->ratelimit.actions_per_sec;
    s->rl.burst = (uint32_t)opts->ratelimit.burst;
    s->rl.abuse_refusals = (uint32_t)opts->ratelimit.abuse_refusals;
    s->timeout_ms[LIST_HELLO] = (uint64_t)opts->hello_timeout_ms;
    s->timeout_ms[LIST_IDLE] = (uint64_t)opts->idle_timeout_ms;
    s->timeout_ms[LIST_CLOSING] = NET_CLOSE_LINGER_MS;
    s->timeout_ms[LIST_WS] = (uint64_t)opts->ws.handshake_timeout_ms;
    lobby_init(&s->lobby);
    outq_pool_init(&s->pool, NET_OUT_SPARE);
    /* The cap must fit the open-file limit, or the kernel, not the cap, refuses connections. */
    int64_t cap = fdlimit_apply(&s->fdl, opts->max_connections,
                                shards_count_for(opts->shards.shards, sysconf(_SC_NPROCESSORS_ONLN)));
    if (cap < 0) {
        server_free(s);
        return NULL;
    }
    s->opts.max_connections = cap;
    if (conntab_init(&s->conns, (uint32_t)cap) != 0) {
        server_free(s);
        return NULL;
    }
    if (uv_loop_init(&s->loop) != 0) {
        server_free(s);
        return NULL;
    }
    int r = server_listen(s, &s->listener, opts->listen, &s->port);
    if (r != 0) {
        log_error("cannot listen", "listen", opts->listen, "error", uv_strerror(r));
        goto fail_loop;
    }
    s->listening = true;
    if (opts->tls.listen[0] || opts->ws.tls_listen[0]) {
        char err[TLS_ERR_MAX];
        s->tls = tls_ctx_new(opts->tls.cert, opts->tls.key, err, sizeof err);
        if (!s->tls) {
            log_error("cannot set up TLS", "cert", opts->tls.cert, "key", opts->tls.key, "error", err);
            goto fail_loop;
        }
        if (opts->tls.listen[0]) {
            r = server_listen(s, &s->tls_listener, opts->tls.listen, &s->tls_port);
            if (r != 0) {
                log_error("cannot listen", "listen", opts->tls.listen, "error", uv_strerror(r));
                goto fail_loop;
            }
            s->tls_listening = true;
        }
        s->timeout_ms[LIST_TLS] = (uint64_t)opts->tls.handshake_timeout_ms;
        uv_idle_init(&s->loop, &s->hs_idle);
        s->hs_idle.data = s;
    }
    if (ws_server_start(s) != 0)
        goto fail_loop;

    uv_async_init(&s->loop, &s->wake, dispatch_on_wake);
    s->wake.data = s;
    uv_async_init(&s->loop, &s->drain_async, drain_on_async);
    s->drain_async.data = s;
    uv_async_init(&s->loop, &s->reload_async, reload_on_async);
    s->reload_async.data = s;
    uv_async_init(&s->loop, &s->redir_async, lobby_remote_on_async);
    s->redir_async.data = s;
    pthread_mutex_lock(&s->redir_mu);
    s->redir_open = true;
    pthread_mutex_unlock(&s->redir_mu);
    uv_prepare_init(&s->loop, &s->prepare);
    s->prepare.data = s;
    uv_prepare_start(&s->prepare, on_prepare);
    uv_timer_init(&s->loop, &s->sweep);
    s->sweep.data = s;
    uint64_t period = (uint64_t)(opts->hello_timeout_ms < opts->idle_timeout_ms
                                     ? opts->hello_timeout_ms
                                     : opts->idle_timeout_ms) / 10;
    if (s->ws && (uint64_t)opts->ws.handshake_timeout_ms / 10 < period)
        period = (uint64_t)opts->ws.handshake_timeout_ms / 10;
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

    struct shards_opts so = opts->shards;
    so.ships = s->ships;
    so.wake_net = dispatch_wake_net;
    so.wake_arg = s;
    s->shards = shards_start(&so);
    if (!s->shards)
        goto fail_loop;
    s->nshards = shards_count(s->shards);
    size_t nkeys = 0; /* queue keys of recovered battles: a queue repeated after the restart */
    const struct shards_key *keys = shards_recovered_keys(s->shards, &nkeys);
    for (size_t i = 0; i < nkeys; i++)
        lobby_key_remember(&s->lobby, keys[i].key, keys[i].battle_id, keys[i].seat,
                           uv_now(&s->loop));
    s->paused = calloc(s->nshards, sizeof *s->paused);
    s->ctl = calloc(s->nshards, sizeof *s->ctl);
    s->kdirty = calloc(s->nshards, 1);
    if (!s->paused || !s->ctl || !s->kdirty)
        goto fail_loop;
    for (unsigned k = 0; k < s->nshards; k++)
        fifo_init(&s->ctl[k], sizeof(struct shard_in), NET_CTL_FIRST_CAP);

    /* Before the game port file: whoever waits for that file finds the admin port file too. */
    if (admin_start(s, &s->opts, &s->admin) != 0)
        goto fail_loop;
    if (opts->ws.port_file[0] &&
        server_write_port_file(opts->ws.port_file, ws_server_port(s), ws_server_tls_port(s)) != 0) {
        log_error("cannot write port file", "file", opts->ws.port_file, "error", strerror(errno));
        goto fail_loop;
    }
    if (opts->port_file[0] && server_write_port_file(opts->port_file, s->port, s->tls_port) != 0) {
        log_error("cannot write port file", "file", opts->port_file, "error",
                  strerror(errno));
        goto fail_loop;
    }
    if (uv_thread_create(&s->thread, net_thread, s) != 0) {
        log_error("cannot start the network thread");
        goto fail_loop;
    }
    log_info("listening", "listen", opts->listen, "port", LOG_U64(s->port), "tls_port",
             LOG_U64(s->tls_port), "ws_port", LOG_U64(ws_server_port(s)), "wss_port",
             LOG_U64(ws_server_tls_port(s)), "shards", LOG_U64(s->nshards));
    return s;

fail_loop:
    if (s->shards) {
        shards_stop(s->shards);
        s->shards = NULL;
    }
    server_close_all(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    server_free(s);
    return NULL;
}

int server_wait(server *s)
{
    uv_thread_join(&s->thread);
    /* Anything still open (it should not be) is closed here so the loop can be freed. */
    server_close_all(s);
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

struct fdlimit *server_fdlimit(server *s)
{
    return &s->fdl;
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

bool server_listeners_up(const server *s)
{
    return s->listening && (!s->opts.tls.listen[0] || s->tls_listening) && ws_server_listening(s);
}

struct shards *server_shards(const server *s)
{
    return s->shards;
}

bool server_finished(const server *s)
{
    return atomic_load(&s->finished) != 0;
}
