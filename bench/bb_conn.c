/* bb_conn: the connections of a battle-bench worker (see bb_worker_int.h): connect and hello,
 * request ids that name their seat, each event routed to its seat with the request's latency
 * counted, the statistics of a lost connection, and in a cluster a seat's own connection to the
 * node that holds its battle (`moved`). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bb_worker_int.h"
#include "proto/client/pc.h" /* pc_split_addr, PC_FOLLOW_MAX */

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
        s->out_req = *r;
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
        if (c->seats[i].bid == bid && c->seats[i].conn == c)
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
        if (s->conn != c)
            continue; /* it plays over another connection (moved), or this is not its home */
        if (s->resend) { /* the request a `moved` sent here */
            s->resend = false;
            proto_request r = s->out_req;
            if (!bb_conn_send(c, s, &r))
                bb_seat_moved_failed(s, r.type, s->out_class);
        } else if (s->state == SEAT_RESUMING)
            bb_seat_reconnected(s);
        else if (s->state == SEAT_READY && !s->timer_on)
            bb_seat_begin(s);
    }
}

/* ---- clusters: following `moved` -------------------------------------------------------------- */

/* "host:port" to a socket address: numeric hosts at once; a name through the resolver (blocking,
 * but only once per `moved` naming it). */
static int resolve(const char *hostport, struct sockaddr_storage *out)
{
    char host[PROTO_ADDR_MAX + 1];
    uint16_t port;
    if (pc_split_addr(hostport, host, &port) != 0)
        return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        hints.ai_flags = 0;
        if (getaddrinfo(host, NULL, &hints, &res) != 0)
            return -1;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (out->ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons(port);
    else if (out->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)out)->sin6_port = htons(port);
    else
        return -1;
    return 0;
}

/* s's away connection, made on first use: shares its home's seat array, so request ids name s. */
static bb_conn *away_conn(bb_seat *s)
{
    if (s->away)
        return s->away;
    bb_conn *h = s->home, *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->w = h->w;
    a->seats = h->seats;
    a->nseats = h->nseats;
    a->target = h->target;
    a->away = true;
    pcb_init(&a->backoff, BB_BACKOFF_FIRST_MS, h->w->o->reconnect_max_ms, 0, 0,
             h->w->rng ^ (0x9E3779B97F4A7C15ull * (uint64_t)(s - h->w->seats + 1)));
    s->away = a;
    h->w->naway++;
    return a;
}

void bb_conn_seat_home(bb_seat *s)
{
    bb_conn *a = s->conn;
    s->moved_hops = 0;
    s->resend = false;
    if (a == s->home)
        return;
    s->conn = s->home;
    a->wanted = false;
    if (a->pc && !a->retiring) {
        a->retiring = true;
        pcuv_close(a->pc);
    }
}

/* A `moved` answered a seat's outstanding request: the seat moves to (its own connection to) the
 * holder and the request goes again there once it is open (PROTOCOL.md section 8). */
static void on_moved(bb_conn *c, const proto_event *ev)
{
    bb_worker *w = c->w;
    w->st.moved++;
    bb_seat *s = NULL;
    if (ev->has_rid && (ev->rid & RID_SLOT_MASK) < c->nseats) {
        s = &c->seats[ev->rid & RID_SLOT_MASK];
        if (s->conn != c || s->out_rid != ev->rid)
            s = NULL;
    }
    if (!s) {
        w->st.moved_failed++; /* nothing of ours waits for it */
        return;
    }
    uint8_t req_type = s->out_type, req_class = s->out_class;
    s->out_rid = 0;
    /* With --ws the holder's WebSocket port, else its game port (TLS as configured). */
    const char *target = w->o->ws ? ev->u.moved.ws : ev->u.moved.addr;
    struct sockaddr_storage sa;
    bb_conn *a = NULL;
    if (++s->moved_hops > PC_FOLLOW_MAX || resolve(target, &sa) != 0 || !(a = away_conn(s))) {
        w->st.moved_failed++;
        bb_seat_moved_failed(s, req_type, req_class);
        return;
    }
    bool same = a->has_addr && memcmp(&a->addr, &sa, sizeof sa) == 0;
    if (!same && a->pc && !a->retiring) { /* it talks to another node: start over */
        a->retiring = true;
        pcuv_close(a->pc);
    }
    a->addr = sa;
    a->has_addr = true;
    snprintf(a->ws_host, sizeof a->ws_host, "%s", target);
    a->wanted = true;
    s->conn = a;
    s->out_class = req_class;
    s->resend = true;
    if (a->state == CONN_OPEN && !a->retiring) {
        s->resend = false;
        proto_request r = s->out_req;
        if (!bb_conn_send(a, s, &r))
            bb_seat_moved_failed(s, req_type, req_class);
    } else if (a->state == CONN_DOWN) {
        bb_conn_connect(a); /* conn_open sends it; on_close of a retiring one leads here too */
    }
}

static void on_event(pcuv_conn *pc, const proto_event *ev)
{
    bb_conn *c = pcuv_user(pc);
    bb_worker *w = c->w;
    w->st.frames_in++;
    if (ev->type == PROTO_T_MOVED) {
        on_moved(c, ev);
        return;
    }
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
            if (s->conn != c)
                return; /* a late reply to a seat that now plays over another connection */
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
    if (c->retiring) { /* closed on purpose: nothing was lost; reconnect at once if a seat follows */
        c->retiring = false;
        c->retry_at = 0;
        if (c->wanted)
            bb_conn_connect(c);
        return;
    }
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
        if (s->conn != c)
            continue;
        bb_seat_conn_lost(s);
        if (c->away && s->state != SEAT_RESUMING) {
            /* only a battle to resume keeps a seat on the node it followed */
            bb_conn_seat_home(s);
            if (s->state == SEAT_READY && !s->timer_on)
                bb_seat_begin(s);
        }
    }
}

void bb_conn_connect(bb_conn *c)
{
    bb_worker *w = c->w;
    static const pcuv_callbacks cb = {on_connect, on_event, on_close};
    const bb_opts *o = w->o;
    const struct sockaddr_in *a = &o->target[c->target % (uint32_t)o->ntargets];
    const struct sockaddr *to = c->has_addr ? (const struct sockaddr *)&c->addr : (const struct sockaddr *)a;
    pcuv_opts po = {.tls = w->tls};
    char host[32];
    if (o->ws && c->has_addr) {
        po.ws_host = c->ws_host; /* the holder's ws address as `moved` named it */
    } else if (o->ws) { /* the Host header of the upgrade: the target as dialled */
        snprintf(host, sizeof host, "%s:%u", inet_ntoa(a->sin_addr), (unsigned)ntohs(a->sin_port));
        po.ws_host = host;
    }
    /* round-robin: consecutive connections of all threads take the next source (IPv4 only) */
    if (o->nsources && to->sa_family == AF_INET)
        po.local = (const struct sockaddr *)&o->source[c->target % (uint32_t)o->nsources];
    int err = 0;
    c->pc = pcuv_connect(&w->loop, to, &cb, c, &po, &err);
    if (!c->pc) {
        w->st.connect_errors++;
        w->st.last_connect_error = (uint64_t)-err;
        bb_conn_schedule_retry(c);
        return;
    }
    c->state = CONN_CONNECTING;
}
