/* bb_worker: one battle-bench worker's thread and loop (see bb_worker.h): the tick ramps the
 * battles up, reconnects, pings, retires stuck seats, follows the phase and publishes statistics.
 * The connections are bb_conn.c, the seats bb_seat.c. */
#include "bench/bb_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/bb_worker_int.h"

/* ---- the tick: ramp, reconnects, timeouts, pings, phases, publishing ---------------------------- */

static void activate(bb_worker *w, uint32_t b)
{
    const bb_opts *o = w->o;
    if (o->mode == BB_MODE_IDLE) {
        w->conns[b].wanted = true;
        return;
    }
    if (!w->two_player) {
        bb_seat_activate(&w->seats[b]);
        return;
    }
    uint32_t pair = b / o->per_conn, j = b % o->per_conn;
    bb_seat *a = &w->conns[2 * pair].seats[j], *bb = &w->conns[2 * pair + 1].seats[j];
    bb_seat_activate(a);
    bb->activated = true;
    bb->conn->wanted = true;
    if (o->mode == BB_MODE_MATCH)
        bb_seat_activate(bb);
    else if (bb->state == SEAT_OFF)
        bb->state = SEAT_READY; /* waits for its creator's "created" */
}

/* Whether a seat of c waits for it to resume its battle (reconnect even after the run). */
static bool conn_resuming(const bb_conn *c)
{
    for (uint32_t i = 0; i < c->nseats; i++)
        if (c->seats[i].conn == c && (c->seats[i].state == SEAT_RESUMING || c->seats[i].resend))
            return true;
    return false;
}

static void scan_timeouts(bb_worker *w, uint64_t now_ns)
{
    uint64_t limit = (uint64_t)w->o->battle_timeout_s * 1000000000ull;
    for (uint32_t i = 0; i < w->nseats; i++)
        bb_seat_check_timeout(&w->seats[i], now_ns, limit);
}

/* STOP: seats between battles stay off, battles nobody will join are left, and lobby entries are
 * cancelled, so the run ends as soon as the running battles have. */
static void stop_starting(bb_worker *w)
{
    for (uint32_t i = 0; i < w->nseats; i++)
        bb_seat_stop(&w->seats[i]);
    if (w->o->mode != BB_MODE_MATCH)
        return;
    for (uint32_t i = 0; i < w->nconns; i++) {
        bb_conn *c = &w->conns[i];
        bool waiting = false;
        for (uint32_t j = 0; j < c->nseats; j++)
            waiting |= c->seats[j].state == SEAT_STARTING;
        if (waiting && c->state == CONN_OPEN) {
            proto_request r;
            memset(&r, 0, sizeof r);
            r.type = PROTO_T_CANCEL;
            bb_conn_send(c, NULL, &r);
        }
    }
}

static void close_all(bb_worker *w);

static void on_tick(uv_timer_t *t)
{
    bb_worker *w = t->data;
    const bb_opts *o = w->o;
    uint64_t now = uv_now(&w->loop);
    int ph = bb_worker_phase(w);
    if (ph == BB_PHASE_CLOSE) {
        close_all(w);
        return;
    }
    if (ph != w->phase_seen) {
        w->phase_seen = ph;
        stop_starting(w);
    }
    if (ph == BB_PHASE_RUN) {
        uint32_t want = w->battles;
        if (o->ramp > 0) {
            double per_worker = o->ramp / o->threads;
            double n = per_worker * (double)(now - w->t0) / 1000.0 + 1.0;
            if (n < want)
                want = (uint32_t)n;
        }
        while (w->activated < want)
            activate(w, w->activated++);
    }
    for (uint32_t i = 0; i < w->nconns; i++) {
        bb_conn *c = &w->conns[i];
        if (c->state == CONN_DOWN && c->wanted && now >= c->retry_at &&
            (ph == BB_PHASE_RUN || conn_resuming(c)))
            bb_conn_connect(c);
        else if (c->state == CONN_OPEN && o->mode == BB_MODE_IDLE && now >= c->ping_at) {
            proto_request r;
            memset(&r, 0, sizeof r);
            r.type = PROTO_T_PING;
            bb_conn_send(c, NULL, &r);
            c->ping_at = now + BB_PING_MS;
        }
    }
    /* Seats' connections to the nodes `moved` named (rare: scanned only when there are some). */
    for (uint32_t i = 0; w->naway && i < w->nseats; i++) {
        bb_conn *a = w->seats[i].away;
        if (a && a->state == CONN_DOWN && a->wanted && now >= a->retry_at &&
            (ph == BB_PHASE_RUN || conn_resuming(a)))
            bb_conn_connect(a);
    }
    if (now - w->last_scan >= 1000) {
        w->last_scan = now;
        scan_timeouts(w, uv_hrtime());
    }
    if (now - w->last_publish >= BB_PUBLISH_MS) {
        w->last_publish = now;
        uint64_t waiting = 0;
        for (uint32_t i = 0; i < w->nseats; i++)
            waiting += w->seats[i].state == SEAT_STARTING || w->seats[i].state == SEAT_WAITJOIN;
        w->st.seats_waiting = waiting;
        pthread_mutex_lock(&w->mu);
        w->pub = w->st;
        pthread_mutex_unlock(&w->mu);
    }
}

static void close_all(bb_worker *w)
{
    if (w->closing)
        return;
    w->closing = true;
    /* Battles still running now are cut off by the end of the run, not failed. */
    for (uint32_t i = 0; i < w->nconns; i++)
        if (w->conns[i].pc)
            pcuv_close(w->conns[i].pc);
    for (uint32_t i = 0; w->naway && i < w->nseats; i++)
        if (w->seats[i].away && w->seats[i].away->pc)
            pcuv_close(w->seats[i].away->pc);
    for (uint32_t i = 0; i < w->nseats; i++)
        uv_close((uv_handle_t *)&w->seats[i].timer, NULL);
    uv_close((uv_handle_t *)&w->tick, NULL);
}

static void *worker_main(void *arg)
{
    bb_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* final statistics: gauges as they stood when the run was cut */
    pthread_mutex_lock(&w->mu);
    uint64_t open = w->pub.conns_open;
    w->pub = w->st;
    w->pub.conns_open = open;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- public ----------------------------------------------------------------------------------- */

bb_worker *bb_worker_new(const bb_opts *o, int id, uint32_t battles)
{
    bb_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->o = o;
    w->id = id;
    w->battles = battles;
    w->two_player = o->mode == BB_MODE_MATCH || o->mode == BB_MODE_CREATE;
    w->rng = o->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(id + 1));
    if (!w->rng)
        w->rng = 1;
    uint32_t k = o->per_conn;
    if (o->mode == BB_MODE_IDLE) {
        w->nconns = battles;
        k = 0;
    } else if (w->two_player) {
        w->nconns = 2 * ((battles + k - 1) / k);
    } else {
        w->nconns = (battles + k - 1) / k;
    }
    w->nseats = w->nconns * k;
    w->conns = calloc(w->nconns ? w->nconns : 1, sizeof *w->conns);
    w->seats = calloc(w->nseats ? w->nseats : 1, sizeof *w->seats);
    if (o->tls) { /* bb_opts_parse built one already, so only memory can fail here */
        pc_tls_opts to;
        bb_opts_tls(o, &to);
        w->tls = pc_tls_config_new(&to, NULL, 0);
    }
    if (!w->conns || !w->seats || (o->tls && !w->tls) || uv_loop_init(&w->loop) != 0) {
        pc_tls_config_free(w->tls);
        free(w->conns);
        free(w->seats);
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    bb_stats_reset(&w->st);
    bb_stats_reset(&w->pub);
    for (uint32_t i = 0; i < w->nconns; i++) {
        bb_conn *c = &w->conns[i];
        c->w = w;
        c->target = (uint32_t)id + i * (uint32_t)o->threads; /* spread over the targets */
        c->seats = k ? &w->seats[i * k] : NULL;
        c->nseats = k;
        pcb_init(&c->backoff, BB_BACKOFF_FIRST_MS, o->reconnect_max_ms, 0, 0,
                 w->rng ^ (0x9E3779B97F4A7C15ull * (i + 1)));
        for (uint32_t j = 0; j < k; j++) {
            bb_seat *s = &c->seats[j];
            s->conn = s->home = c;
            s->idx = (uint16_t)j;
            s->leader = !w->two_player || i % 2 == 0;
            uv_timer_init(&w->loop, &s->timer);
            s->timer.data = s;
        }
    }
    if (o->mode == BB_MODE_CREATE)
        for (uint32_t i = 0; i + 1 < w->nconns; i += 2)
            for (uint32_t j = 0; j < k; j++) {
                w->conns[i].seats[j].partner = &w->conns[i + 1].seats[j];
                w->conns[i + 1].seats[j].partner = &w->conns[i].seats[j];
            }
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    return w;
}

int bb_worker_start(bb_worker *w)
{
    uv_update_time(&w->loop);
    w->t0 = uv_now(&w->loop);
    double ramp_s = w->o->ramp > 0 ? (double)w->o->battles / w->o->ramp : 0;
    w->steady_ns = uv_hrtime() + (uint64_t)((ramp_s + w->o->warmup_s) * 1e9);
    w->last_publish = w->last_scan = w->t0;
    uv_timer_start(&w->tick, on_tick, 0, BB_TICK_MS);
    return pthread_create(&w->th, NULL, worker_main, w);
}

void bb_worker_set_phase(bb_worker *w, bb_phase p)
{
    int cur = atomic_load(&w->phase);
    while ((int)p > cur && !atomic_compare_exchange_weak(&w->phase, &cur, (int)p)) {
    }
}

void bb_worker_snapshot(bb_worker *w, bb_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->pub;
    pthread_mutex_unlock(&w->mu);
}

void bb_worker_join(bb_worker *w, bb_stats *total)
{
    pthread_join(w->th, NULL);
    if (total)
        bb_stats_merge(total, &w->pub);
    uv_loop_close(&w->loop);
    pc_tls_config_free(w->tls); /* the loop ran dry: every connection's on_close has come */
    pthread_mutex_destroy(&w->mu);
    for (uint32_t i = 0; w->naway && i < w->nseats; i++)
        free(w->seats[i].away);
    free(w->conns);
    free(w->seats);
    free(w);
}
