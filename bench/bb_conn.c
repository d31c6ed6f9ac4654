/* bb_conn: the connections of a battle-bench worker (see bb_worker_int.h): connect and hello,
 * request ids that name their seat, each event routed to its seat with the request's latency
 * counted, and the statistics of a lost connection. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "bench/bb_worker_int.h"

/* ---- sending ---------------------------------------------------------------------------------- */

static uint32_t next_rid(uint32_t *seq, uint32_t slot)
{
    uint32_t rid;
    do {
        *seq = (*seq + 1u) & (UINT32_MAX >> RID_SLOT_BITS);
        rid = (*seq << RID_SLOT_BITS) | slot;
    } while (rid == 0 || *seq == 0);
    return rid;
}

/* Sends r for seat s (or for the connection when s is NULL). Returns false if it could not be
 * queued (the connection is closing or over its output cap). */
bool bb_conn_send(bb_conn *c, bb_seat *s, proto_request *r)
{
    if (!c->pc || c->state < CONN_HELLO)
        return false;
    r->has_rid = true;
    r->rid = s ? next_rid(&s->rseq, s->idx) : next_rid(&c->rseq, CONN_SLOT);
    if (pcuv_send(c->pc, r) < 0)
        return false;
    c->w->st.frames_out++;
    if (s) {
        s->out_rid = r->rid;
        s->out_type = r->type;
        s->out_ns = uv_hrtime();
    }
    return true;
}

/* ---- events ----------------------------------------------------------------------------------- */

static bb_seat *seat_by_bid(bb_conn *c, uint64_t bid)
{
    if (!bid)
        return NULL;
    for (uint32_t i = 0; i < c->nseats; i++)
        if (c->seats[i].bid == bid)
            return &c->seats[i];
    return NULL;
}

/* Welcome arrived: start the seats that wait for this connection. */
static void conn_open(bb_conn *c)
{
    bb_worker *w = c->w;
    c->state = CONN_OPEN;
    w->st.connects++;
    w->st.conns_open++;
    c->ping_at = uv_now(&w->loop) + BB_PING_MS;
    c->restarting = false;
    pcb_success(&c->backoff);
    for (uint32_t i = 0; i < c->nseats; i++) {
        bb_seat *s = &c->seats[i];
        if (s->state == SEAT_RESUMING)
            bb_seat_reconnected(s);
        else if (s->state == SEAT_READY && !s->timer_on)
            bb_seat_begin(s);
    }
}

static void on_event(pcuv_conn *pc, const proto_event *ev)
{
    bb_conn *c = pcuv_user(pc);
    bb_worker *w = c->w;
    w->st.frames_in++;
    bb_seat *s = NULL;
    uint8_t req_type = 0, req_class = 0;
    if (ev->has_rid) {
        uint32_t slot = ev->rid & RID_SLOT_MASK;
        if (slot == CONN_SLOT) {
            if (ev->type == PROTO_T_WELCOME) {
                w->st.other_requests++;
                const struct proto_welcome *wl = &ev->u.welcome;
                w->st.srv_welcomed = 1;
                w->st.srv_rate = wl->rate;
                w->st.srv_burst = wl->burst;
                w->st.srv_max_seats = wl->max_seats;
                conn_open(c);
            } else if (ev->type == PROTO_T_PONG) {
                w->st.other_requests++;
            } else if (ev->type == PROTO_T_UNQUEUED) {
                w->st.other_requests++;
                for (uint32_t i = 0; i < c->nseats; i++)
                    if (c->seats[i].state == SEAT_STARTING && c->seats[i].queued) {
                        c->seats[i].queued = false;
                        c->seats[i].out_rid = 0;
                        c->seats[i].state = SEAT_OFF;
                    }
            } else if (ev->type == PROTO_T_ERROR && ev->u.error.code != PROTO_E_NOT_QUEUED) {
                bb_count_error(w, ev->u.error.code); /* not_queued: our cancel raced a match */
            }
            return;
        }
        if (slot < c->nseats) {
            s = &c->seats[slot];
            if (s->out_rid == ev->rid) {
                uint64_t lat = uv_hrtime() - s->out_ns;
                req_type = s->out_type;
                req_class = s->out_class;
                if (req_class != BB_ACT_NONE) {
                    bb_hist_add(&w->st.lat_action, lat);
                    if (s->out_ns >= w->steady_ns)
                        bb_hist_add(&w->st.lat_steady, lat);
                    w->st.actions++;
                    if (req_class == BB_ACT_TURN)
                        w->st.turn_actions++;
                    else
                        w->st.reactions++;
                } else {
                    bb_hist_add(&w->st.lat_other, lat);
                    w->st.other_requests++;
                }
                s->out_rid = 0;
                s->out_class = BB_ACT_NONE;
            }
            if (ev->bid && s->bid && s->bid != ev->bid && ev->type != PROTO_T_STARTED &&
                ev->type != PROTO_T_CREATED)
                s = seat_by_bid(c, ev->bid);
        }
    } else if (ev->type == PROTO_T_RESTARTING) {
        /* The server restarts and keeps our battles: reconnect after about retry_ms. */
        w->st.restart_notices++;
        c->restarting = true;
        pcb_restarting(&c->backoff, ev->u.restarting.retry_ms);
        return;
    } else {
        s = seat_by_bid(c, ev->bid);
    }
    bb_seat_on_event(w, s, ev, req_type, req_class);
}

/* ---- connecting and losing -------------------------------------------------------------------- */

void bb_conn_schedule_retry(bb_conn *c)
{
    bb_worker *w = c->w;
    uint64_t now = uv_now(&w->loop);
    int64_t d = pcb_next(&c->backoff, now);
    /* Unbounded here (the seats bound their resume by --resume): a spent budget keeps the longest
     * wait. */
    c->retry_at = now + (d < 0 ? w->o->reconnect_max_ms : (uint64_t)d);
}

static void on_connect(pcuv_conn *pc, int status)
{
    bb_conn *c = pcuv_user(pc);
    bb_worker *w = c->w;
    if (status < 0) {
        w->st.connect_errors++;
        w->st.last_connect_error = (uint64_t)-status;
        return; /* on_close follows */
    }
    c->state = CONN_HELLO;
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_HELLO;
    r.u.hello.version = PROTO_VERSION;
    snprintf(r.u.hello.name, sizeof r.u.hello.name, "battle-bench");
    if (!bb_conn_send(c, NULL, &r))
        pcuv_close(pc);
}

static void on_close(pcuv_conn *pc, int why)
{
    bb_conn *c = pcuv_user(pc);
    bb_worker *w = c->w;
    bool was_open = c->state == CONN_OPEN, was_up = c->state >= CONN_HELLO;
    c->pc = NULL;
    c->state = CONN_DOWN;
    bb_conn_schedule_retry(c);
    if (was_open)
        w->st.conns_open--;
    if (w->closing)
        return;
    if (was_up) { /* a refused connect is a connect error, not a lost connection */
        w->st.disconnects++;
        if (why == UV_EOF)
            w->st.disc_eof++; /* the server closed it (output cap, idle, abuse, drain) */
        else if (why == UV_ECONNRESET || why == UV_EPIPE)
            w->st.disc_reset++;
        else if (why > 0)
            w->st.disc_protocol++; /* the server sent something we could not decode */
        else
            w->st.disc_other++;
    }
    for (uint32_t i = 0; i < c->nseats; i++)
        bb_seat_conn_lost(&c->seats[i]);
}

void bb_conn_connect(bb_conn *c)
{
    bb_worker *w = c->w;
    static const pcuv_callbacks cb = {on_connect, on_event, on_close};
    const bb_opts *o = w->o;
    const struct sockaddr_in *a = &o->target[c->target % (uint32_t)o->ntargets];
    pcuv_opts po = {.tls = w->tls};
    char host[32];
    if (o->ws) { /* the Host header of the upgrade: the target as dialled */
        snprintf(host, sizeof host, "%s:%u", inet_ntoa(a->sin_addr), (unsigned)ntohs(a->sin_port));
        po.ws_host = host;
    }
    if (o->nsources) /* round-robin: consecutive connections of all threads take the next source */
        po.local = (const struct sockaddr *)&o->source[c->target % (uint32_t)o->nsources];
    int err = 0;
    c->pc = pcuv_connect(&w->loop, (const struct sockaddr *)a, &cb, c, &po, &err);
    if (!c->pc) {
        w->st.connect_errors++;
        w->st.last_connect_error = (uint64_t)-err;
        bb_conn_schedule_retry(c);
        return;
    }
    c->state = CONN_CONNECTING;
}
