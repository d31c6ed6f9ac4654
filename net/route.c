/* route: what the network thread does with one frame: decode it, answer connection-scoped requests
 * (hello, ping, queue, cancel, create) itself, apply the rate limit and the seat cap, and push
 * battle-scoped requests to the shard that owns the battle. */
#include <stdio.h>
#include <string.h>

#include "net/idtag.h"
#include "net/net_int.h"
#include "proto/codec.h"
#include "util/log.h"

void route_event(conn *c, const proto_event *ev)
{
    uint8_t buf[NET_REPLY_MAX];
    size_t len = 0;
    proto_error e = proto_encode_event(buf, sizeof buf, ev, &len);
    if (e != PROTO_E_OK) {
        log_error("encode failed", "type", proto_type_name(ev->type), "err", proto_error_name(e));
        return;
    }
    conn_send(c, buf, len);
}

void route_error(conn *c, proto_error code, const char *msg, bool has_rid, uint32_t rid, uint64_t bid)
{
    uint8_t buf[NET_REPLY_MAX];
    size_t len = 0;
    if ((unsigned)code < NET_ERROR_CODES)
        NET_STAT_ADD(&c->srv->stats, errors[code], 1);
    if (proto_encode_error(buf, sizeof buf, code, msg, has_rid, rid, bid, &len) == PROTO_E_OK)
        conn_send(c, buf, len);
}

/* Pushes msg to shard k for c; on a full inbox parks it on c and pauses c. false when parked. */
static bool route_push(conn *c, unsigned k, const struct shard_in *msg)
{
    server *s = c->srv;
    if (shards_push(s->shards, k, msg)) {
        server_mark_pushed(s, k);
        if (msg->kind == SHARD_IN_REQUEST)
            NET_STAT_ADD(&s->stats, requests_routed, 1);
        return true;
    }
    NET_STAT_ADD(&s->stats, inbox_full, 1);
    conn_pause(c, k, msg);
    return false;
}

static void reply_simple(conn *c, const proto_request *r, uint8_t type, proto_event *ev)
{
    ev->type = type;
    ev->has_rid = r->has_rid;
    ev->rid = r->rid;
    route_event(c, ev);
}

static void on_hello(conn *c, const proto_request *r)
{
    server *s = c->srv;
    if (c->state != CONN_HELLO) {
        route_error(c, PROTO_E_ALREADY_HELLO, "hello already done", r->has_rid, r->rid, 0);
        return;
    }
    if (r->u.hello.version != PROTO_VERSION) {
        char msg[64];
        snprintf(msg, sizeof msg, "this server speaks protocol version %d", PROTO_VERSION);
        route_error(c, PROTO_E_VERSION_MISMATCH, msg, r->has_rid, r->rid, 0);
        conn_close(c, NET_CLOSE_PROTOCOL, true);
        return;
    }
    c->state = CONN_OPEN;
    conn_established(c);
    conn_set_list(c, LIST_IDLE);
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    struct proto_welcome *w = &ev.u.welcome;
    w->version = PROTO_VERSION;
    snprintf(w->server, sizeof w->server, "battled");
    w->max_frame = (uint32_t)s->opts.max_frame;
    w->max_out_frame = PROTO_EVENT_MAX; /* what we send is bounded by the protocol, not the setting */
    int64_t seats = s->opts.max_seats_per_conn;
    w->max_seats = (uint16_t)(seats > UINT16_MAX ? UINT16_MAX : seats);
    w->max_watch = w->max_seats;
    /* The wire has no "off": an unlimited bucket is announced as the largest rate it can carry. */
    uint32_t rate = s->rl.per_sec ? s->rl.per_sec : UINT16_MAX;
    uint32_t burst = s->rl.per_sec ? s->rl.burst : UINT16_MAX;
    w->rate = (uint16_t)(rate > UINT16_MAX ? UINT16_MAX : rate);
    w->burst = (uint16_t)(burst > UINT16_MAX ? UINT16_MAX : burst < 1 ? 1 : burst);
    w->turn_ms = (uint32_t)s->opts.turn_timer_ms;
    w->resume_ms = (uint32_t)s->opts.resume_window_ms;
    w->idle_ms = (uint32_t)s->opts.idle_timeout_ms;
    reply_simple(c, r, PROTO_T_WELCOME, &ev);
}

/* Seats, spectator places and queue entries together are capped per connection. Requests still in
 * flight to a shard are not counted, so a burst can pass the cap by at most the requests in flight. */
static bool seat_room(conn *c, const proto_request *r)
{
    if ((int64_t)(c->nplaces + c->nqueued) < c->srv->opts.max_seats_per_conn)
        return true;
    route_error(c, PROTO_E_TOO_MANY_SEATS, "seat limit per connection reached", r->has_rid, r->rid,
                r->bid);
    return false;
}

static bool ship_known(conn *c, const proto_request *r, const char *ship)
{
    if (!c->srv->ships || ships_find(c->srv->ships, ship))
        return true;
    route_error(c, PROTO_E_NO_SUCH_SHIP, "unknown ship type", r->has_rid, r->rid, 0);
    return false;
}

/* Whether a request for a new battle (queue, create, join) must be refused now, and the refusal
 * sent: while draining (server_draining; a join is left to its shard, which knows whether its
 * battle is still there), and while any shard's journal cannot be written (server_busy): a new
 * battle could land on that shard or be matched with one, and /readyz says 503 for the same
 * reason, so every new battle is refused at the request, whichever shard it would go to; running
 * battles go on (docs/PROTOCOL.md section 9, docs/OPERATIONS.md). */
static bool refuse_new_battle(conn *c, const proto_request *r)
{
    server *s = c->srv;
    if (r->type != PROTO_T_JOIN && server_draining(s)) {
        route_error(c, PROTO_E_SERVER_DRAINING, "server shutting down", r->has_rid, r->rid, r->bid);
        return true;
    }
    if (s->shards && shards_degraded(s->shards)) {
        route_error(c, PROTO_E_SERVER_BUSY,
                    "the battle journal cannot be written: no new battles for now", r->has_rid,
                    r->rid, r->bid);
        return true;
    }
    return false;
}

/* `queued`, echoing what was queued. */
static void reply_queued(conn *c, const proto_request *r)
{
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    memcpy(ev.u.queued.ship, r->u.queue.ship, sizeof ev.u.queued.ship);
    ev.u.queued.band = r->u.queue.band;
    reply_simple(c, r, PROTO_T_QUEUED, &ev);
}

static bool on_queue(conn *c, const proto_request *r)
{
    server *s = c->srv;
    if (refuse_new_battle(c, r))
        return true;
    if (!seat_room(c, r) || !ship_known(c, r, r->u.queue.ship))
        return true;
    uint64_t now = uv_now(&s->loop);
    uint64_t kbid;
    uint8_t kseat;
    if (lobby_find_queued(c->lobby, r->key)) { /* repeated while it waits: queued, once */
        reply_queued(c, r);
        return true;
    }
    if (lobby_key_find(&s->lobby, r->key, now, &kbid, &kseat)) {
        /* Repeated after its match was made: the shard gives the seat again to this connection
         * (a join with the key that took it). */
        struct shard_in m;
        memset(&m, 0, sizeof m);
        m.kind = SHARD_IN_REQUEST;
        m.conn = c->id;
        m.battle_id = kbid;
        m.u.req = *r;
        m.u.req.type = PROTO_T_JOIN;
        m.u.req.bid = kbid;
        snprintf(m.u.req.u.join.ship, sizeof m.u.req.u.join.ship, "%s", r->u.queue.ship);
        return route_push(c, shard_of(kbid, s->nshards), &m);
    }
    lobby_player a, b;
    lobby_result lr = lobby_queue_keyed(&s->lobby, c->id, &c->lobby, r->u.queue.band,
                                        r->u.queue.ship, r->has_rid, r->rid, r->key, now, &a, &b);
    if (lr == LOBBY_QUEUED) {
        c->nqueued++;
        NET_STAT_ADD(&s->stats, lobby_waiting, 1);
        reply_queued(c, r);
        lobby_remote_waiting(s, c->lobby); /* the new entry heads its connection's list */
        return true;
    }
    if (lr != LOBBY_MATCHED) {
        route_error(c, lr == LOBBY_ENOMEM ? PROTO_E_SERVER_BUSY : PROTO_E_BAD_FIELD,
                    "cannot queue", r->has_rid, r->rid, 0);
        return true;
    }
    NET_STAT_ADD(&s->stats, lobby_waiting, (uint64_t)-1);
    NET_STAT_ADD(&s->stats, lobby_matches, 1);
    lobby_remote_gone(s, a.band, a.ticket);
    conn *first = conntab_get(&s->conns, a.conn);
    if (first)
        first->nqueued--;
    struct shard_in m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_IN_CREATE;
    m.battle_id = server_new_battle_id(s);
    m.u.create.mode = SHARD_CREATE_MATCHED;
    m.u.create.band = r->u.queue.band;
    m.u.create.conn[0] = a.conn;
    m.u.create.conn[1] = c->id;
    m.u.create.has_rid[0] = a.has_rid;
    m.u.create.rid[0] = a.rid;
    m.u.create.has_rid[1] = r->has_rid;
    m.u.create.rid[1] = r->rid;
    snprintf(m.u.create.ship[0], sizeof m.u.create.ship[0], "%s", a.ship);
    snprintf(m.u.create.ship[1], sizeof m.u.create.ship[1], "%s", b.ship);
    memcpy(m.u.create.key[0], a.key, PROTO_TOKEN_LEN);
    memcpy(m.u.create.key[1], b.key, PROTO_TOKEN_LEN);
    lobby_key_remember(&s->lobby, a.key, m.battle_id, 0, now);
    lobby_key_remember(&s->lobby, b.key, m.battle_id, 1, now);
    NET_STAT_ADD(&s->stats, battles_created, 1);
    return route_push(c, shard_of(m.battle_id, s->nshards), &m);
}

static bool on_create(conn *c, const proto_request *r)
{
    server *s = c->srv;
    if (refuse_new_battle(c, r))
        return true;
    if (!seat_room(c, r) || !ship_known(c, r, r->u.create.ship))
        return true;
    if (r->u.create.vs == PROTO_VS_AI && r->u.create.oship[0] && !ship_known(c, r, r->u.create.oship))
        return true;
    struct shard_in m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_IN_CREATE;
    /* A keyed create's id comes from its key, so a repeat finds the battle it made; in a cluster
     * it carries this node's tag like any new battle's (net/idtag.h). */
    m.battle_id = proto_key_present(r->key) ? idtag_apply(shard_key_battle_id(r->key), s->opts.id_tag)
                                            : server_new_battle_id(s);
    memcpy(m.u.create.key[0], r->key, PROTO_TOKEN_LEN);
    m.u.create.mode = r->u.create.vs == PROTO_VS_AI ? SHARD_CREATE_SOLO : SHARD_CREATE_PRIVATE;
    m.u.create.band = r->u.create.band;
    m.u.create.conn[0] = c->id;
    m.u.create.has_rid[0] = r->has_rid;
    m.u.create.rid[0] = r->rid;
    snprintf(m.u.create.ship[0], sizeof m.u.create.ship[0], "%s", r->u.create.ship);
    if (m.u.create.mode == SHARD_CREATE_SOLO)
        snprintf(m.u.create.ship[1], sizeof m.u.create.ship[1], "%s", r->u.create.oship);
    NET_STAT_ADD(&s->stats, battles_created, 1);
    return route_push(c, shard_of(m.battle_id, s->nshards), &m);
}

static bool is_action(uint8_t type)
{
    return type == PROTO_T_FIRE || type == PROTO_T_MISSILE || type == PROTO_T_PD ||
           type == PROTO_T_SAND || type == PROTO_T_END;
}

bool route_frame(conn *c, const uint8_t *body, uint32_t len)
{
    server *s = c->srv;
    proto_request r;
    proto_derr de;
    memset(&de, 0, sizeof de);
    proto_error e = proto_decode_request(body, len, &r, &de);
    /* The order of checks (docs/PROTOCOL.md section 2): framing, msgpack, counts, depth, map and
     * type come first and answer for themselves; then, before the fields are judged, a request
     * other than hello on a connection that has not said hello is not_hello_first. de.type is set
     * exactly when decoding got past the type. */
    if (c->state == CONN_HELLO && e != PROTO_E_OK && de.type != PROTO_T_NONE && de.type != PROTO_T_HELLO)
        e = PROTO_E_NOT_HELLO_FIRST;
    if (e == PROTO_E_NOT_HELLO_FIRST) {
        route_error(c, e, "send hello first", de.has_rid, de.rid, de.bid);
        return true;
    }
    if (e != PROTO_E_OK) {
        /* The frame was whole, so the stream is still in step: reply and carry on. */
        char msg[64];
        if (de.field[0])
            snprintf(msg, sizeof msg, "field \"%s\"", de.field);
        else
            snprintf(msg, sizeof msg, "bad request");
        route_error(c, e, msg, de.has_rid, de.rid, de.bid);
        return true;
    }
    if (r.type == PROTO_T_HELLO) {
        on_hello(c, &r);
        return c->state <= CONN_OPEN;
    }
    if (c->state == CONN_HELLO) {
        route_error(c, PROTO_E_NOT_HELLO_FIRST, "send hello first", r.has_rid, r.rid, r.bid);
        return true;
    }
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    switch (r.type) {
    case PROTO_T_PING:
        ev.u.pong.ts = r.u.ping.ts;
        reply_simple(c, &r, PROTO_T_PONG, &ev);
        return true;
    case PROTO_T_QUEUE:
        return on_queue(c, &r);
    case PROTO_T_CANCEL: {
        lobby_remote_gone_all(s, c->lobby);
        size_t n = lobby_cancel(&s->lobby, &c->lobby);
        if (!n) {
            route_error(c, PROTO_E_NOT_QUEUED, "nothing queued", r.has_rid, r.rid, 0);
            return true;
        }
        c->nqueued = 0;
        NET_STAT_ADD(&s->stats, lobby_waiting, (uint64_t)-(int64_t)n);
        reply_simple(c, &r, PROTO_T_UNQUEUED, &ev);
        return true;
    }
    case PROTO_T_CREATE:
        return on_create(c, &r);
    default:
        break;
    }
    if (!proto_type_battle_scoped(r.type) || r.bid == 0) {
        route_error(c, PROTO_E_UNKNOWN_TYPE, "not a request", r.has_rid, r.rid, r.bid);
        return true;
    }
    if (is_action(r.type)) {
        ratelimit_verdict v = ratelimit_take(&c->rl, &s->rl, uv_now(&s->loop));
        if (v != RATELIMIT_OK) {
            NET_STAT_ADD(&s->stats, ratelimit_refusals, 1);
            route_error(c, PROTO_E_RATE_LIMITED, "too many actions; slow down", r.has_rid, r.rid,
                        r.bid);
            if (v == RATELIMIT_DISCONNECT) {
                conn_close(c, NET_CLOSE_ABUSE, true);
                return false;
            }
            return true;
        }
    }
    /* Cluster: a battle another node holds is not ours to touch; the client is sent there. After
     * the rate limit (a refused action costs nothing either way), before the seat cap and the
     * refusals for new battles, which are the holder's to apply. */
    if (!idtag_route_here(s->opts.locate, s->opts.locate_arg, c->tls != NULL, &r, &ev)) {
        NET_STAT_ADD(&s->stats, moved_replies, 1);
        route_event(c, &ev);
        return true;
    }
    if ((r.type == PROTO_T_JOIN || r.type == PROTO_T_WATCH || r.type == PROTO_T_RESUME) &&
        !seat_room(c, &r))
        return true;
    if (r.type == PROTO_T_JOIN && refuse_new_battle(c, &r))
        return true;
    struct shard_in m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_IN_REQUEST;
    m.conn = c->id;
    m.battle_id = r.bid;
    m.u.req = r;
    return route_push(c, shard_of(r.bid, s->nshards), &m);
}
