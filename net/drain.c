/* drain: the graceful shutdown's state machine (server.h, server_phase), for a drain and a restart.
 *
 * RUNNING -> DRAINING on the first server_drain: listeners close, queue entries are refused, every
 * client hears "server going away", every shard gets SHARD_IN_DRAIN with drain_timeout_ms of grace.
 * DRAINING -> FLUSHING when every shard reported SHARD_OUT_STOPPED, or after the grace plus
 * SERVER_DRAIN_MARGIN_MS: connections close after their output leaves.
 * FLUSHING -> STOPPING when no connection is left, or after SERVER_FLUSH_MS: the shards are stopped
 * and every handle is closed, so the loop ends. A second server_drain hurries whichever wait is on.
 * A restart (server_restart) walks the same phases, but RUNNING -> DRAINING tells every client
 * "restarting" and sends SHARD_IN_DRAIN with suspend: each shard freezes its battles and reports
 * SHARD_OUT_STOPPED at once, so the whole stop takes about one flush of the output. Nothing is
 * ended; the shards' journals are synced when shards_stop closes them.
 * Only this file changes the phase; others read it through server_drain_phase. */
#include <stdio.h>
#include <string.h>

#include "net/net_int.h"
#include "util/log.h"

static void on_drain_timer(uv_timer_t *t);

server_phase server_drain_phase(const server *s)
{
    return s->drain_phase;
}

bool server_draining(const server *s)
{
    return s->drain_phase > SERVER_RUNNING;
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

static void tell_restarting(conn *c, void *arg)
{
    const server *s = arg;
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PROTO_T_RESTARTING;
    int64_t r = s->opts.restart_retry_ms;
    ev.u.restarting.retry_ms = r < 0 ? 0 : (r > UINT32_MAX ? UINT32_MAX : (uint32_t)r);
    route_event(c, &ev);
}

/* Closes the listeners and answers every matchmaking entry: no new work from here on. */
static void stop_taking_work(server *s, const char *queue_msg)
{
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
                route_error(c, PROTO_E_SERVER_DRAINING, queue_msg, e->has_rid, e->rid, 0);
                c->nqueued--;
            }
            lobby_remote_gone(s, e->band, e->ticket);
            lobby_remove(&s->lobby, e);
            NET_STAT_ADD(&s->stats, lobby_waiting, (uint64_t)-1);
        }
    }
}

static void begin_drain(server *s)
{
    s->drain_phase = SERVER_DRAINING;
    NET_STAT_SET(&s->stats, draining, 1);
    log_info("draining", "grace_ms", LOG_I64(s->opts.drain_timeout_ms), "connections",
             LOG_U64(s->conns.live));
    stop_taking_work(s, "server shutting down: queue closed");
    char msg[96];
    snprintf(msg, sizeof msg, "server going away: running battles end within %lld ms",
             (long long)s->opts.drain_timeout_ms);
    server_each_conn(s, tell_going_away, msg);
    for (unsigned k = 0; k < s->nshards; k++) {
        struct shard_in m = {.kind = SHARD_IN_DRAIN};
        m.u.drain.grace_ms = (uint64_t)s->opts.drain_timeout_ms;
        server_push_ctl(s, k, &m);
    }
    uv_timer_start(&s->drain_timer, on_drain_timer,
                   (uint64_t)s->opts.drain_timeout_ms + SERVER_DRAIN_MARGIN_MS, 0);
}

static void begin_restart(server *s)
{
    s->drain_phase = SERVER_DRAINING;
    s->restarting = true;
    NET_STAT_SET(&s->stats, draining, 1);
    NET_STAT_SET(&s->stats, restarting, 1);
    log_info("restarting: battles are kept", "retry_ms", LOG_I64(s->opts.restart_retry_ms),
             "connections", LOG_U64(s->conns.live));
    stop_taking_work(s, "server restarting: queue closed, queue again after it is back");
    server_each_conn(s, tell_restarting, s);
    for (unsigned k = 0; k < s->nshards; k++) {
        struct shard_in m = {.kind = SHARD_IN_DRAIN};
        m.u.drain.suspend = true;
        server_push_ctl(s, k, &m);
    }
    /* Suspending is immediate; the margin only covers a shard that is stuck. */
    uv_timer_start(&s->drain_timer, on_drain_timer, SERVER_DRAIN_MARGIN_MS, 0);
}

static void begin_flush_phase(server *s)
{
    if (s->drain_phase >= SERVER_FLUSHING)
        return;
    if (s->stopped < s->nshards)
        log_warn("drain: shards did not all report in time; closing anyway",
                 "stopped", LOG_U64(s->stopped), "shards", LOG_U64(s->nshards));
    s->drain_phase = SERVER_FLUSHING;
    server_each_conn(s, close_for_drain, NULL);
    uv_timer_start(&s->drain_timer, on_drain_timer, SERVER_FLUSH_MS, 0);
}

static void begin_stop_phase(server *s)
{
    if (s->drain_phase >= SERVER_STOPPING)
        return;
    s->drain_phase = SERVER_STOPPING;
    /* Stop the shards while our async handle is still open: they may wake us until they exit. */
    if (s->shards) {
        shards_stop(s->shards);
        s->shards = NULL;
    }
    server_close_all(s);
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
    if (s->drain_phase == SERVER_DRAINING)
        begin_flush_phase(s);
    else if (s->drain_phase == SERVER_FLUSHING)
        begin_stop_phase(s);
}

void drain_on_async(uv_async_t *h)
{
    server *s = h->data;
    int n = atomic_load(&s->drain_requests);
    if (n <= 0)
        return;
    if (s->drain_phase == SERVER_RUNNING) {
        if (atomic_load(&s->want_restart))
            begin_restart(s);
        else
            begin_drain(s);
        if (n == 1)
            return;
    }
    /* Asked again: hurry. A restart stops waiting for the shards' reports (their journals are
     * still closed and synced by shards_stop); a drain ends battles as shutdown now. */
    if (s->drain_phase == SERVER_DRAINING && s->restarting) {
        log_info("restart: hurrying");
        begin_flush_phase(s);
    } else if (s->drain_phase == SERVER_DRAINING) {
        log_info("drain: hurrying");
        for (unsigned k = 0; k < s->nshards; k++) {
            struct shard_in m = {.kind = SHARD_IN_DRAIN};
            m.u.drain.grace_ms = 0;
            server_push_ctl(s, k, &m);
        }
        uv_timer_start(&s->drain_timer, on_drain_timer, SERVER_DRAIN_MARGIN_MS, 0);
    } else if (s->drain_phase == SERVER_FLUSHING) {
        begin_stop_phase(s);
    }
}

void server_drain(server *s)
{
    atomic_fetch_add(&s->drain_requests, 1);
    uv_async_send(&s->drain_async);
}

void server_restart(server *s)
{
    atomic_store(&s->want_restart, true);
    server_drain(s);
}

bool server_restarting(const server *s)
{
    return s->restarting;
}

void drain_shard_stopped(server *s)
{
    s->stopped++;
    if (s->drain_phase == SERVER_DRAINING && s->stopped >= s->nshards)
        begin_flush_phase(s);
}

void drain_pass(server *s)
{
    if (s->drain_phase == SERVER_FLUSHING && s->conn_objs == 0)
        begin_stop_phase(s);
}
