/* bb_seat: the seat state machine of a battle-bench worker (see bb_worker_int.h): a seat starts
 * a battle (queue, create or join), plays it with bb_policy's script at the think time, and starts
 * the next one when it ends, fails or is cut off. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bench/bb_worker_int.h"
#include "proto/client/pc.h" /* pc_new_key */

/* ---- small helpers ---------------------------------------------------------------------------- */

static uint64_t rnd(bb_worker *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Think time with jitter, in ms. */
static uint64_t think_ms(bb_worker *w)
{
    const bb_opts *o = w->o;
    if (o->think_ms == 0)
        return 0;
    if (o->jitter_pct == 0)
        return o->think_ms;
    double span = (double)o->think_ms * o->jitter_pct / 100.0;
    double u = (double)(rnd(w) >> 11) / (double)(1ull << 53); /* [0, 1) */
    double d = (double)o->think_ms - span + 2.0 * span * u;
    return d < 0 ? 0 : (uint64_t)d;
}

static uint8_t ship_index(bb_stats *st, const char *name)
{
    for (unsigned i = 0; i < BB_SHIP_NAMES; i++) {
        if (!st->ships[i].name[0])
            snprintf(st->ships[i].name, sizeof st->ships[i].name, "%s", name);
        if (strcmp(st->ships[i].name, name) == 0)
            return (uint8_t)i;
    }
    return NO_SHIP;
}

static void seat_timer(bb_seat *s, uint64_t ms);
static void seat_poke(bb_seat *s);

/* ---- battle lifecycle ------------------------------------------------------------------------- */

/* The seat is done with its battle (ended, failed, or cut off): start the next one or stop. */
static void seat_next(bb_seat *s)
{
    bb_conn_seat_home(s); /* a battle followed to another node is over: back to its connection */
    bb_worker *w = s->conn->w;
    s->bid = 0;
    s->out_rid = 0;
    s->counted = false;
    s->queued = false;
    s->state = bb_worker_phase(w) == BB_PHASE_RUN ? SEAT_READY : SEAT_OFF;
    if (s->state == SEAT_READY)
        seat_timer(s, think_ms(w));
}

/* Seat 0 of a running battle stops counting it as running; failure reason f, or -1 for success. */
static void battle_done(bb_seat *s, int f)
{
    bb_worker *w = s->conn->w;
    if (!s->counted)
        return;
    s->counted = false;
    w->st.battles_running--;
    if (f < 0) {
        w->st.finished++;
    } else {
        w->st.failed++;
        w->st.fail[f]++;
    }
}

static void start_fail(bb_seat *s)
{
    bb_worker *w = s->conn->w;
    if (s->leader) {
        w->st.failed++;
        w->st.fail[BB_FAIL_START]++;
    }
}

/* Gives up the seat's battle after a failure: leave it, then carry on. */
static void seat_abandon(bb_seat *s, int f)
{
    battle_done(s, f);
    if (s->bid && s->conn->state == CONN_OPEN) {
        proto_request r;
        memset(&r, 0, sizeof r);
        r.type = PROTO_T_LEAVE;
        r.bid = s->bid;
        if (bb_conn_send(s->conn, s, &r)) {
            s->state = SEAT_LEAVING;
            s->start_ns = uv_hrtime();
            return;
        }
    }
    seat_next(s);
}

/* Sends the request that starts a battle for this seat. */
void bb_seat_begin(bb_seat *s)
{
    bb_worker *w = s->conn->w;
    const bb_opts *o = w->o;
    proto_request r;
    memset(&r, 0, sizeof r);
    if (s->conn->state != CONN_OPEN || bb_worker_phase(w) != BB_PHASE_RUN)
        return;
    switch (o->mode) {
    case BB_MODE_MATCH:
        r.type = PROTO_T_QUEUE;
        snprintf(r.u.queue.ship, sizeof r.u.queue.ship, "%s", o->ship);
        r.u.queue.band = o->band;
        break;
    case BB_MODE_SOLO:
    case BB_MODE_CREATE:
        if (!s->leader) {
            if (!s->pending_join)
                return; /* the creator tells us what to join */
            r.type = PROTO_T_JOIN;
            r.bid = s->pending_join;
            snprintf(r.u.join.ship, sizeof r.u.join.ship, "%s", o->ship);
            s->pending_join = 0;
            break;
        }
        r.type = PROTO_T_CREATE;
        snprintf(r.u.create.ship, sizeof r.u.create.ship, "%s", o->ship);
        r.u.create.band = o->band;
        r.u.create.vs = o->mode == BB_MODE_SOLO ? PROTO_VS_AI : PROTO_VS_PLAYER;
        snprintf(r.u.create.oship, sizeof r.u.create.oship, "%s", o->oship);
        break;
    case BB_MODE_IDLE:
        return;
    }
    /* One key per logical request: a retry (a failed send, a reconnect) reuses it, so the server
     * answers with the battle it may already have made instead of making a second one. */
    if (!s->key_live)
        s->key_live = pc_new_key(s->key) == 0;
    if (s->key_live)
        memcpy(r.key, s->key, PROTO_TOKEN_LEN);
    if (!bb_conn_send(s->conn, s, &r)) {
        seat_timer(s, BB_RETRY_MS);
        return;
    }
    s->state = SEAT_STARTING;
    s->start_ns = s->out_ns;
}

/* Takes the next action the script proposes, now or after the think time. */
static void seat_act(bb_seat *s)
{
    proto_request r;
    bb_act_class k = bb_policy_next(&s->view, s->bid, &r);
    if (k == BB_ACT_NONE)
        return;
    if (!bb_conn_send(s->conn, s, &r)) {
        seat_timer(s, BB_RETRY_MS);
        return;
    }
    s->out_class = (uint8_t)k;
    if (k == BB_ACT_TURN)
        s->view.acted_round = s->view.t.round;
    else if (r.type == PROTO_T_SAND)
        bb_view_sand_tried(&s->view);
    else if (r.type == PROTO_T_PD)
        bb_view_pd_tried(&s->view, r.u.pd.missile);
}

/* Something changed: act if the seat is free to (no request outstanding, not thinking). */
static void seat_poke(bb_seat *s)
{
    if (s->state != SEAT_PLAYING || s->out_rid || s->timer_on)
        return;
    proto_request r;
    if (bb_policy_next(&s->view, s->bid, &r) == BB_ACT_NONE)
        return;
    uint64_t t = think_ms(s->conn->w);
    if (t == 0)
        seat_act(s);
    else
        seat_timer(s, t);
}

static void on_seat_timer(uv_timer_t *t)
{
    bb_seat *s = t->data;
    s->timer_on = false;
    if (s->conn->w->closing)
        return;
    if (s->state == SEAT_READY)
        bb_seat_begin(s);
    else if (s->state == SEAT_PLAYING && !s->out_rid)
        seat_act(s);
}

static void seat_timer(bb_seat *s, uint64_t ms)
{
    if (s->conn->w->closing)
        return;
    s->timer_on = true;
    uv_timer_start(&s->timer, on_seat_timer, ms, 0);
}

/* ---- events ----------------------------------------------------------------------------------- */

static bool stale_code(int code)
{
    return code == PROTO_E_NO_SUCH_MISSILE || code == PROTO_E_REACTION_USED ||
           code == PROTO_E_OUT_OF_BAND || code == PROTO_E_BATTLE_OVER;
}

/* An error reply to the seat's outstanding request (out_type says which). */
static void seat_error(bb_seat *s, const proto_event *ev, uint8_t req_type, uint8_t req_class)
{
    bb_worker *w = s->conn->w;
    int code = ev->u.error.code;
    if (code == PROTO_E_RATE_LIMITED || code == PROTO_E_SERVER_BUSY) {
        /* refused, not failed: try again later. Under a rate limit every seat of the connection
         * shares the welcome's rate, so wait for this seat's share of it: retrying faster would
         * only collect refusals until the server disconnects us for abuse. */
        uint64_t delay = BB_RETRY_MS;
        if (code == PROTO_E_RATE_LIMITED && w->st.srv_rate) {
            uint64_t share = 1000u * (uint64_t)s->conn->nseats / w->st.srv_rate;
            if (share > delay)
                delay = share;
        }
        if (s->state == SEAT_PLAYING) {
            if (req_class == BB_ACT_TURN)
                s->view.acted_round = 0;
            seat_timer(s, delay);
        } else if (s->state == SEAT_STARTING) {
            s->state = SEAT_READY;
            seat_timer(s, delay);
        }
        return;
    }
    if (req_type == PROTO_T_RESUME && s->state == SEAT_PLAYING) {
        /* bad_token, no_such_battle, seq_gone: the battle cannot be picked up again */
        w->st.resume_failures++;
        battle_done(s, BB_FAIL_DISCONNECT);
        seat_next(s);
        return;
    }
    if (code == PROTO_E_SERVER_DRAINING && s->conn->restarting) {
        /* crossed the restart: not applied; the seat resumes (or starts) once reconnected */
        if (s->state == SEAT_PLAYING && req_class == BB_ACT_TURN)
            s->view.acted_round = 0;
        else if (s->state == SEAT_STARTING)
            s->state = SEAT_READY;
        return;
    }
    if (s->state == SEAT_PLAYING) {
        if (req_class == BB_ACT_REACTION && stale_code(code)) {
            w->st.stale++;
            seat_poke(s);
            return;
        }
        if (req_type == PROTO_T_FIRE && (code == PROTO_E_OUT_OF_AMMO || code == PROTO_E_NO_SUCH_WEAPON)) {
            /* our ammunition count was wrong: note it and choose again */
            const struct proto_ship *me = &s->view.t.ships[s->view.t.seat & 1];
            for (unsigned i = 0; i < me->nweapons; i++)
                if (me->weapons[i].ammo != 0) {
                    bb_view_weapon_empty(&s->view, i);
                    break;
                }
            s->view.acted_round = 0;
            seat_poke(s);
            return;
        }
        seat_abandon(s, BB_FAIL_ERROR);
        return;
    }
    if (s->state == SEAT_STARTING || s->state == SEAT_WAITJOIN) {
        start_fail(s);
        if (s->partner && !s->leader && s->partner->state == SEAT_WAITJOIN)
            seat_abandon(s->partner, -1); /* the creator leaves its battle and creates again */
        s->state = SEAT_READY;
        seat_timer(s, BB_RECONNECT_MS);
        return;
    }
    if (s->state == SEAT_LEAVING)
        seat_next(s);
}

/* Checks a battle event's place in the seat's numbered stream before it is applied (a gap: events
 * lost; a repeat: delivered twice; a `state` must not jump ahead of what we saw, since a restart
 * loses nothing) and notes the longest silence between two events of the battle. */
static void seat_follow(bb_seat *s, const proto_event *ev)
{
    bb_worker *w = s->conn->w;
    uint64_t now = uv_hrtime();
    if (s->last_ev_ns) {
        uint64_t gap_ms = (now - s->last_ev_ns) / 1000000u;
        if (gap_ms > w->st.max_event_gap_ms)
            w->st.max_event_gap_ms = gap_ms;
    }
    s->last_ev_ns = now;
    uint32_t last = s->view.t.last_seq;
    if (!ev->seq || !last || ev->bid != s->view.t.bid)
        return;
    if (ev->type == PROTO_T_STATE) {
        /* A restart's state carries the one documented jump (PROTOCOL.md section 8) plus whatever
         * the battle did after its recovery before this seat resumed (the away notices, the other
         * seat's back and actions): the state stands for all of it, so only a state that jumps
         * less than the restart's jump, which the event history should have covered, or more than
         * the history's length past it, means events were lost. */
        if (ev->seq > last && (ev->seq < last + BB_RESTART_SEQ_JUMP ||
                               ev->seq > last + BB_RESTART_SEQ_JUMP + BB_HISTORY_EVENTS))
            w->st.seq_gaps++;
    } else if (pct_numbered(ev)) {
        if (ev->seq > last + BB_RESTART_SEQ_JUMP && ev->seq <= last + BB_RESTART_SEQ_JUMP + 3)
            return; /* the first event after a restart's jump (and the recovery's away notices) */
        if (ev->seq <= last)
            w->st.seq_repeats++;
        else if (ev->seq > last + 1)
            w->st.seq_gaps++;
    }
}

static void seat_started(bb_seat *s, const proto_event *ev)
{
    bb_worker *w = s->conn->w;
    uint64_t now = uv_hrtime();
    s->bid = ev->bid;
    s->state = SEAT_PLAYING;
    s->started_ns = now;
    s->last_ev_ns = now;
    if (s->start_ns)
        bb_hist_add(&w->st.lat_match, now - s->start_ns);
    bb_view_start(&s->view, ev);
    for (int k = 0; k < PROTO_SEATS; k++)
        s->ship[k] = ship_index(&w->st, ev->u.started.ships[k].type);
    if (s->view.t.seat == 0) {
        s->counted = true;
        w->st.started++;
        w->st.battles_running++;
    }
    seat_poke(s);
}

static void seat_ended(bb_seat *s, const proto_event *ev)
{
    bb_worker *w = s->conn->w;
    const struct proto_ended *e = &ev->u.ended;
    if (s->counted) {
        if (e->reason < PROTO_END_COUNT)
            w->st.ended_reason[e->reason]++;
        bool ok = e->reason == PROTO_END_DESTROYED || e->reason == PROTO_END_DRAW;
        if (ok) {
            bb_hist_add(&w->st.duration_ms, (uv_hrtime() - s->started_ns) / 1000000u);
            bb_hist_add(&w->st.rounds, e->rounds);
            if (e->winner == 0 || e->winner == 1)
                w->st.wins_seat[e->winner]++;
            else
                w->st.draws++;
            for (int k = 0; k < PROTO_SEATS; k++)
                if (s->ship[k] != NO_SHIP) {
                    w->st.ships[s->ship[k]].battles++;
                    w->st.ships[s->ship[k]].wins += e->winner == k ? 1u : 0u;
                }
        }
        battle_done(s, ok ? -1 : BB_FAIL_ENDED_BADLY);
    }
    seat_next(s);
}

/* ---- entry points (bb_worker_int.h) ------------------------------------------------------------- */

void bb_seat_on_event(bb_worker *w, bb_seat *s, const proto_event *ev, uint8_t req_type,
                      uint8_t req_class)
{
    if (ev->type == PROTO_T_ERROR) {
        bb_count_error(w, ev->u.error.code);
        if (s && (req_type == PROTO_T_QUEUE || req_type == PROTO_T_CREATE ||
                  req_type == PROTO_T_JOIN))
            s->key_live = false; /* refused: the next try is a new request */
        if (s && req_type)
            seat_error(s, ev, req_type, req_class);
        else if (ev->u.error.code == PROTO_E_BATTLE_OVER)
            w->st.stale++; /* sent before we saw the end; the seat has moved on */
        return;
    }
    if (!s)
        return; /* e.g. events of a battle we already left */
    switch (ev->type) {
    case PROTO_T_QUEUED:
        s->queued = s->state == SEAT_STARTING;
        break;
    case PROTO_T_CREATED:
        s->key_live = false;
        s->bid = ev->bid;
        if (s->state == SEAT_STARTING && bb_worker_phase(w) != BB_PHASE_RUN) {
            s->state = SEAT_WAITJOIN;
            seat_abandon(s, -1); /* the run is ending: nobody will join */
        } else if (s->state == SEAT_STARTING && s->partner) {
            s->state = SEAT_WAITJOIN;
            bb_seat *p = s->partner;
            p->pending_join = ev->bid;
            if (p->state == SEAT_READY || p->state == SEAT_OFF) {
                p->state = SEAT_READY;
                if (!p->timer_on)
                    bb_seat_begin(p);
            }
        }
        break;
    case PROTO_T_STARTED:
        s->queued = false;
        s->key_live = false;
        if (s->state == SEAT_STARTING || s->state == SEAT_WAITJOIN)
            seat_started(s, ev);
        break;
    case PROTO_T_ENDED:
        if (s->state == SEAT_PLAYING) {
            seat_follow(s, ev);
            bb_view_apply(&s->view, ev);
            seat_ended(s, ev);
        } else if (s->state == SEAT_WAITJOIN) {
            start_fail(s);
            seat_next(s);
        }
        break;
    case PROTO_T_LEFT:
        if (s->state == SEAT_LEAVING)
            seat_next(s);
        break;
    case PROTO_T_TIMEOUT:
        if (s->state == SEAT_PLAYING && ev->u.timeout.seat == s->view.t.seat)
            w->st.turn_timeouts++;
        if (s->state == SEAT_PLAYING)
            seat_follow(s, ev);
        bb_view_apply(&s->view, ev);
        seat_poke(s);
        break;
    default:
        if (s->state == SEAT_PLAYING) {
            seat_follow(s, ev);
            bb_view_apply(&s->view, ev);
            seat_poke(s);
        }
        break;
    }
}

void bb_seat_conn_lost(bb_seat *s)
{
    s->out_rid = 0;
    if (s->state == SEAT_PLAYING && s->conn->w->o->resume_ms > 0) {
        s->state = SEAT_RESUMING; /* bid, token and view are kept for the resume */
        s->lost_ns = uv_hrtime();
        return;
    }
    if (s->state == SEAT_RESUMING)
        return; /* lost again before the resume went out: keep waiting */
    if (s->state == SEAT_WAITJOIN && s->partner && s->partner->pending_join == s->bid)
        s->partner->pending_join = 0; /* we create a new battle: the partner must not join this one */
    if (s->state == SEAT_PLAYING)
        battle_done(s, BB_FAIL_DISCONNECT);
    else if ((s->state == SEAT_STARTING || s->state == SEAT_WAITJOIN) && !s->conn->restarting)
        start_fail(s); /* during a restart a refused or cut start is not the server failing */
    if (s->state != SEAT_OFF) {
        s->state = SEAT_READY;
        s->bid = 0;
    }
}

void bb_seat_reconnected(bb_seat *s)
{
    bb_worker *w = s->conn->w;
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_RESUME;
    r.bid = s->bid;
    r.u.resume.seat = (uint8_t)(s->view.t.seat & 1);
    memcpy(r.u.resume.token, s->view.t.token, PROTO_TOKEN_LEN);
    r.u.resume.last = s->view.t.last_seq;
    if (!bb_conn_send(s->conn, s, &r))
        return; /* the connection went again: on_close keeps the seat resuming */
    w->st.resumes++;
    s->state = SEAT_PLAYING;
    s->view.acted_round = 0; /* the state or the replayed events say whether we acted */
}

void bb_seat_activate(bb_seat *s)
{
    s->activated = true;
    s->state = SEAT_READY;
    s->conn->wanted = true;
    if (s->conn->state == CONN_OPEN)
        bb_seat_begin(s);
}

void bb_seat_check_timeout(bb_seat *s, uint64_t now_ns, uint64_t limit)
{
    uint64_t resume_ns = (uint64_t)s->conn->w->o->resume_ms * 1000000u;
    if (s->state == SEAT_RESUMING && now_ns - s->lost_ns > resume_ns) {
        s->conn->w->st.resume_failures++;
        battle_done(s, BB_FAIL_DISCONNECT);
        seat_next(s);
    } else if (s->state == SEAT_PLAYING && now_ns - s->started_ns > limit) {
        seat_abandon(s, BB_FAIL_TIMEOUT);
    } else if ((s->state == SEAT_STARTING || s->state == SEAT_WAITJOIN || s->state == SEAT_LEAVING) &&
               now_ns - s->start_ns > limit) {
        if (s->state != SEAT_LEAVING)
            start_fail(s);
        s->out_rid = 0;
        s->state = SEAT_OFF; /* stuck: retire the slot rather than guess */
    }
}

void bb_seat_moved_failed(bb_seat *s, uint8_t req_type, uint8_t req_class)
{
    proto_event ev;
    memset(&ev, 0, offsetof(proto_event, u) + sizeof ev.u.error);
    ev.type = PROTO_T_ERROR;
    ev.bid = s->out_req.bid;
    ev.u.error.code = PROTO_E_NO_SUCH_BATTLE;
    if (s->state == SEAT_STARTING) {
        if (req_type == PROTO_T_JOIN)
            s->key_live = false;
        bb_conn_seat_home(s); /* a join that found no holder starts over at home */
    }
    seat_error(s, &ev, req_type, req_class);
}

void bb_seat_stop(bb_seat *s)
{
    if (s->state == SEAT_READY) {
        s->state = SEAT_OFF;
        s->pending_join = 0;
        if (s->timer_on) {
            uv_timer_stop(&s->timer);
            s->timer_on = false;
        }
    } else if (s->state == SEAT_WAITJOIN) {
        seat_abandon(s, -1);
    }
}
