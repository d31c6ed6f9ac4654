/* bb_worker: connections, seats and the battle state machine of one event loop; see bb_worker.h. */
#include "bench/bb_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/bb_policy.h"
#include "proto/client/pcuv.h"

/* Request ids: the low bits name the seat on its connection, the rest count, so a reply finds its
 * seat without a search. CONN_SLOT marks requests of the connection itself (hello, ping). */
#define RID_SLOT_BITS 10
#define RID_SLOT_MASK ((1u << RID_SLOT_BITS) - 1u)
#define CONN_SLOT RID_SLOT_MASK
_Static_assert(BB_MAX_PER_CONN < CONN_SLOT, "seat index must fit below CONN_SLOT");

#define NO_SHIP 0xff

typedef enum seat_state {
    SEAT_OFF = 0,   /* not activated yet, or stopped */
    SEAT_READY,     /* activated; starts a battle when its connection is open and its timer fires */
    SEAT_STARTING,  /* queue / create / join sent, waiting for "started" (or "created") */
    SEAT_WAITJOIN,  /* create mode, creator: "created" came, waiting for the partner's join */
    SEAT_PLAYING,   /* in a running battle */
    SEAT_LEAVING,   /* leave sent after a failure; waiting for "left" */
} seat_state;

typedef enum conn_state { CONN_DOWN = 0, CONN_CONNECTING, CONN_HELLO, CONN_OPEN } conn_state;

typedef struct bb_conn bb_conn;

typedef struct bb_seat {
    uv_timer_t timer;        /* think time and restart delay */
    bb_conn *conn;
    struct bb_seat *partner; /* create mode: the creator's and the joiner's seats point at each other */
    uint64_t bid;
    uint64_t pending_join;   /* create mode, joiner: battle to join once our connection is open */
    uint64_t out_ns;         /* send time of the outstanding request */
    uint64_t start_ns;       /* queue/create/join sent */
    uint64_t started_ns;     /* "started" arrived */
    uint32_t out_rid;        /* outstanding request id; 0 = none */
    uint32_t rseq;
    uint16_t idx;            /* index on its connection */
    uint8_t state;           /* seat_state */
    uint8_t out_type;        /* proto_type of the outstanding request */
    uint8_t out_class;       /* bb_act_class of an outstanding action */
    uint8_t ship[PROTO_SEATS]; /* indices into stats.ships, NO_SHIP if the table is full */
    bool leader;             /* counts start failures of its battle slot */
    bool activated;
    bool timer_on;
    bool counted;            /* seat 0 of a battle counted in battles_running */
    bool queued;             /* match mode: "queued" came, the seat waits in the lobby */
    bb_view view;
} bb_seat;

struct bb_conn {
    bb_worker *w;
    pcuv_conn *pc;
    bb_seat *seats;
    uint32_t nseats;
    uint32_t target;
    uint8_t state;           /* conn_state */
    bool wanted;             /* some seat is activated: keep it connected */
    uint32_t rseq;
    uint64_t retry_at;       /* uv_now ms before which no reconnect is tried */
    uint64_t ping_at;
};

struct bb_worker {
    const bb_opts *o;
    int id;
    uint32_t battles;        /* this worker's share */
    uint32_t activated;      /* battle slots activated by the ramp so far */
    bool two_player;
    pc_tls_config *tls;      /* --tls: this loop's own config (not thread-safe); NULL: clear text */
    uv_loop_t loop;
    uv_timer_t tick;
    bb_conn *conns;
    uint32_t nconns;
    bb_seat *seats;
    uint32_t nseats;
    uint64_t t0;             /* uv_now at start */
    uint64_t steady_ns;      /* uv_hrtime from which latencies count as steady state */
    uint64_t last_publish, last_scan;
    uint64_t rng;
    int phase_seen;
    bool closing;
    _Atomic int phase;
    pthread_t th;
    pthread_mutex_t mu;
    bb_stats pub;            /* published copy, under mu */
    bb_stats st;             /* live, loop thread only */
};

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

static int phase(bb_worker *w)
{
    return atomic_load_explicit(&w->phase, memory_order_acquire);
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

static void count_error(bb_worker *w, int code)
{
    w->st.errors[code > 0 && code < BB_ERR_CODES ? code : 0]++;
}

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
static bool send_req(bb_conn *c, bb_seat *s, proto_request *r)
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

static void seat_timer(bb_seat *s, uint64_t ms);
static void seat_poke(bb_seat *s);

/* ---- battle lifecycle ------------------------------------------------------------------------- */

/* The seat is done with its battle (ended, failed, or cut off): start the next one or stop. */
static void seat_next(bb_seat *s)
{
    bb_worker *w = s->conn->w;
    s->bid = 0;
    s->out_rid = 0;
    s->counted = false;
    s->queued = false;
    s->state = phase(w) == BB_PHASE_RUN ? SEAT_READY : SEAT_OFF;
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
        if (send_req(s->conn, s, &r)) {
            s->state = SEAT_LEAVING;
            s->start_ns = uv_hrtime();
            return;
        }
    }
    seat_next(s);
}

/* Sends the request that starts a battle for this seat. */
static void seat_begin(bb_seat *s)
{
    bb_worker *w = s->conn->w;
    const bb_opts *o = w->o;
    proto_request r;
    memset(&r, 0, sizeof r);
    if (s->conn->state != CONN_OPEN || phase(w) != BB_PHASE_RUN)
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
    if (!send_req(s->conn, s, &r)) {
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
    if (!send_req(s->conn, s, &r)) {
        seat_timer(s, BB_RETRY_MS);
        return;
    }
    s->out_class = (uint8_t)k;
    if (k == BB_ACT_TURN)
        s->view.acted_round = s->view.round;
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
        seat_begin(s);
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
    if (s->state == SEAT_PLAYING) {
        if (req_class == BB_ACT_REACTION && stale_code(code)) {
            w->st.stale++;
            seat_poke(s);
            return;
        }
        if (req_type == PROTO_T_FIRE && (code == PROTO_E_OUT_OF_AMMO || code == PROTO_E_NO_SUCH_WEAPON)) {
            /* our ammunition count was wrong: note it and choose again */
            for (unsigned i = 0; i < s->view.nweapons; i++)
                if (s->view.wammo[i] != 0) {
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

static void seat_started(bb_seat *s, const proto_event *ev)
{
    bb_worker *w = s->conn->w;
    uint64_t now = uv_hrtime();
    s->bid = ev->bid;
    s->state = SEAT_PLAYING;
    s->started_ns = now;
    if (s->start_ns)
        bb_hist_add(&w->st.lat_match, now - s->start_ns);
    bb_view_start(&s->view, ev);
    for (int k = 0; k < PROTO_SEATS; k++)
        s->ship[k] = ship_index(&w->st, ev->u.started.ships[k].type);
    if (s->view.seat == 0) {
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

static bb_seat *seat_by_bid(bb_conn *c, uint64_t bid)
{
    if (!bid)
        return NULL;
    for (uint32_t i = 0; i < c->nseats; i++)
        if (c->seats[i].bid == bid)
            return &c->seats[i];
    return NULL;
}

static void conn_open(bb_conn *c);

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
                count_error(w, ev->u.error.code); /* not_queued: our cancel raced a match */
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
    } else {
        s = seat_by_bid(c, ev->bid);
    }
    if (ev->type == PROTO_T_ERROR) {
        count_error(w, ev->u.error.code);
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
        s->bid = ev->bid;
        if (s->state == SEAT_STARTING && phase(w) != BB_PHASE_RUN) {
            s->state = SEAT_WAITJOIN;
            seat_abandon(s, -1); /* the run is ending: nobody will join */
        } else if (s->state == SEAT_STARTING && s->partner) {
            s->state = SEAT_WAITJOIN;
            bb_seat *p = s->partner;
            p->pending_join = ev->bid;
            if (p->state == SEAT_READY || p->state == SEAT_OFF) {
                p->state = SEAT_READY;
                if (!p->timer_on)
                    seat_begin(p);
            }
        }
        break;
    case PROTO_T_STARTED:
        s->queued = false;
        if (s->state == SEAT_STARTING || s->state == SEAT_WAITJOIN)
            seat_started(s, ev);
        break;
    case PROTO_T_ENDED:
        if (s->state == SEAT_PLAYING) {
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
        if (s->state == SEAT_PLAYING && ev->u.timeout.seat == s->view.seat)
            w->st.turn_timeouts++;
        bb_view_apply(&s->view, ev);
        seat_poke(s);
        break;
    default:
        if (s->state == SEAT_PLAYING) {
            bb_view_apply(&s->view, ev);
            seat_poke(s);
        }
        break;
    }
}

/* ---- connections ------------------------------------------------------------------------------ */

/* Welcome arrived: start the seats that wait for this connection. */
static void conn_open(bb_conn *c)
{
    bb_worker *w = c->w;
    c->state = CONN_OPEN;
    w->st.connects++;
    w->st.conns_open++;
    c->ping_at = uv_now(&w->loop) + BB_PING_MS;
    for (uint32_t i = 0; i < c->nseats; i++) {
        bb_seat *s = &c->seats[i];
        if (s->state == SEAT_READY && !s->timer_on)
            seat_begin(s);
    }
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
    if (!send_req(c, NULL, &r))
        pcuv_close(pc);
}

static void on_close(pcuv_conn *pc, int why)
{
    bb_conn *c = pcuv_user(pc);
    bb_worker *w = c->w;
    bool was_open = c->state == CONN_OPEN, was_up = c->state >= CONN_HELLO;
    c->pc = NULL;
    c->state = CONN_DOWN;
    c->retry_at = uv_now(&w->loop) + BB_RECONNECT_MS;
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
    for (uint32_t i = 0; i < c->nseats; i++) {
        bb_seat *s = &c->seats[i];
        s->out_rid = 0;
        if (s->state == SEAT_PLAYING)
            battle_done(s, BB_FAIL_DISCONNECT);
        else if (s->state == SEAT_STARTING || s->state == SEAT_WAITJOIN)
            start_fail(s);
        if (s->state != SEAT_OFF) {
            s->state = SEAT_READY;
            s->bid = 0;
        }
    }
}

static void conn_connect(bb_conn *c)
{
    bb_worker *w = c->w;
    static const pcuv_callbacks cb = {on_connect, on_event, on_close};
    const bb_opts *o = w->o;
    const struct sockaddr_in *a = &o->target[c->target % (uint32_t)o->ntargets];
    pcuv_opts po = {.tls = w->tls};
    if (o->nsources) /* round-robin: consecutive connections of all threads take the next source */
        po.local = (const struct sockaddr *)&o->source[c->target % (uint32_t)o->nsources];
    int err = 0;
    c->pc = pcuv_connect(&w->loop, (const struct sockaddr *)a, &cb, c, &po, &err);
    if (!c->pc) {
        w->st.connect_errors++;
        w->st.last_connect_error = (uint64_t)-err;
        c->retry_at = uv_now(&w->loop) + BB_RECONNECT_MS;
        return;
    }
    c->state = CONN_CONNECTING;
}

/* ---- the tick: ramp, reconnects, timeouts, pings, phases, publishing ---------------------------- */

static void activate_seat(bb_seat *s)
{
    s->activated = true;
    s->state = SEAT_READY;
    s->conn->wanted = true;
    if (s->conn->state == CONN_OPEN)
        seat_begin(s);
}

static void activate(bb_worker *w, uint32_t b)
{
    const bb_opts *o = w->o;
    if (o->mode == BB_MODE_IDLE) {
        w->conns[b].wanted = true;
        return;
    }
    if (!w->two_player) {
        activate_seat(&w->seats[b]);
        return;
    }
    uint32_t pair = b / o->per_conn, j = b % o->per_conn;
    bb_seat *a = &w->conns[2 * pair].seats[j], *bb = &w->conns[2 * pair + 1].seats[j];
    activate_seat(a);
    bb->activated = true;
    bb->conn->wanted = true;
    if (o->mode == BB_MODE_MATCH)
        activate_seat(bb);
    else if (bb->state == SEAT_OFF)
        bb->state = SEAT_READY; /* waits for its creator's "created" */
}

static void scan_timeouts(bb_worker *w, uint64_t now_ns)
{
    uint64_t limit = (uint64_t)w->o->battle_timeout_s * 1000000000ull;
    for (uint32_t i = 0; i < w->nseats; i++) {
        bb_seat *s = &w->seats[i];
        if (s->state == SEAT_PLAYING && now_ns - s->started_ns > limit) {
            seat_abandon(s, BB_FAIL_TIMEOUT);
        } else if ((s->state == SEAT_STARTING || s->state == SEAT_WAITJOIN || s->state == SEAT_LEAVING) &&
                   now_ns - s->start_ns > limit) {
            if (s->state != SEAT_LEAVING)
                start_fail(s);
            s->out_rid = 0;
            s->state = SEAT_OFF; /* stuck: retire the slot rather than guess */
        }
    }
}

/* STOP: seats between battles stay off, battles nobody will join are left, and lobby entries are
 * cancelled, so the run ends as soon as the running battles have. */
static void stop_starting(bb_worker *w)
{
    for (uint32_t i = 0; i < w->nseats; i++) {
        bb_seat *s = &w->seats[i];
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
            send_req(c, NULL, &r);
        }
    }
}

static void close_all(bb_worker *w);

static void on_tick(uv_timer_t *t)
{
    bb_worker *w = t->data;
    const bb_opts *o = w->o;
    uint64_t now = uv_now(&w->loop);
    int ph = phase(w);
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
        if (c->state == CONN_DOWN && c->wanted && ph == BB_PHASE_RUN && now >= c->retry_at)
            conn_connect(c);
        else if (c->state == CONN_OPEN && o->mode == BB_MODE_IDLE && now >= c->ping_at) {
            proto_request r;
            memset(&r, 0, sizeof r);
            r.type = PROTO_T_PING;
            send_req(c, NULL, &r);
            c->ping_at = now + BB_PING_MS;
        }
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
        for (uint32_t j = 0; j < k; j++) {
            bb_seat *s = &c->seats[j];
            s->conn = c;
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
    free(w->conns);
    free(w->seats);
    free(w);
}
