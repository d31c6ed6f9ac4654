/* game_requests: the inbox message handlers (create, join, watch, resume, leave, actions, a gone
 * connection, drain, admin listing) behind game_handle. */
#include "shards/game_int.h"

#include <string.h>

#include "util/log.h"
#include "util/clock.h"

static int seat_of_key(const struct game_battle *sb, const uint8_t *key);
static void answer_repeat(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat,
                          bool has_rid, uint32_t rid);

static void on_create(struct game *g, const struct shard_in *m)
{
    const struct shard_create *c = &m->u.create;
    int nconn = c->mode == SHARD_CREATE_MATCHED ? 2 : 1;
    proto_error err = PROTO_E_OK;
    const char *why = NULL;
    int ship[2] = {-1, -1};
    struct game_battle *sb = NULL;

    if (c->mode < SHARD_CREATE_MATCHED || c->mode > SHARD_CREATE_SOLO || c->band >= PROTO_BAND_COUNT) {
        err = PROTO_E_INTERNAL;
        why = "bad create message";
    } else if (g->draining) {
        err = PROTO_E_SERVER_DRAINING;
        why = "the server is shutting down: no new battles";
    } else if (g->refuse_new) {
        err = PROTO_E_SERVER_BUSY;
        why = "the battle journal cannot be written: no new battles for now";
    } else if (m->battle_id == 0 || (sb = game_lookup(g, m->battle_id))) {
        /* A keyed create lands on its battle again: the same answer, not a second battle. */
        int seat = sb && c->mode != SHARD_CREATE_MATCHED ? seat_of_key(sb, c->key[0]) : -1;
        if (seat >= 0) {
            answer_repeat(g, sb, c->conn[0], (uint8_t)seat, c->has_rid[0], c->rid[0]);
            return;
        }
        sb = NULL;
        err = PROTO_E_INTERNAL;
        why = "battle id collision";
    } else if ((ship[0] = game_find_ship(g, c->ship[0])) < 0 ||
               (c->mode != SHARD_CREATE_PRIVATE &&
                (ship[1] = c->mode == SHARD_CREATE_SOLO && !c->ship[1][0]
                               ? game_ai_ship_for(g, ship[0])
                               : game_find_ship(g, c->ship[1])) < 0)) {
        err = PROTO_E_NO_SUCH_SHIP;
        why = "no ship with that key";
    }
    if (err == PROTO_E_OK && !(sb = game_pool_alloc(g))) {
        err = PROTO_E_SERVER_BUSY;
        why = "too many battles on this shard";
    }
    if (sb && btable_put(&g->ids, m->battle_id, sb->idx) != 0) {
        game_pool_release(g, sb);
        sb = NULL;
        err = PROTO_E_SERVER_BUSY;
        why = "out of memory";
    }
    if (err == PROTO_E_OK) {
        sb->id = m->battle_id;
        sb->band = c->band;
        sb->created_ms = sb->last_action_ms = g->now;
        sb->phase = GAME_WAITING;
        for (int s = 0; s < 2; s++) {
            struct game_seat *gs = &sb->seat[s];
            if (s == 1 && c->mode == SHARD_CREATE_PRIVATE)
                continue;
            gs->taken = true;
            gs->ship = (uint8_t)ship[s];
            gs->ai = s == 1 && c->mode == SHARD_CREATE_SOLO;
            gs->conn = gs->ai ? 0 : c->conn[s];
            gs->has_key = !gs->ai && proto_key_present(c->key[s]);
            memcpy(gs->key, c->key[s], PROTO_TOKEN_LEN);
            if (!gs->ai && srand_token(&g->rnd, gs->token, SHARD_TOKEN_BYTES) != 0) {
                err = PROTO_E_INTERNAL;
                why = "no randomness for tokens";
            }
        }
        if (err == PROTO_E_OK && c->mode == SHARD_CREATE_PRIVATE) {
            g->nwaiting++;
            game_update_live(g);
            game_send_seat(g, c->conn[0], sb->id, SHARD_ROLE_SEAT0, +1);
            proto_event pe;
            memset(&pe, 0, sizeof pe);
            pe.type = PROTO_T_CREATED;
            pe.bid = sb->id;
            pe.has_rid = c->has_rid[0];
            pe.rid = c->rid[0];
            pe.u.created.seat = 0;
            pe.u.created.band = sb->band;
            memcpy(pe.u.created.token, sb->seat[0].token, SHARD_TOKEN_BYTES);
            game_journal_created(g, sb, NULL);
            game_send_event(g, c->conn[0], &pe);
            game_schedule(g, sb);
            return;
        }
        if (err == PROTO_E_OK && game_start_battle(g, sb, 3u, c->has_rid, c->rid)) {
            game_settle(g, sb);
            return;
        }
        if (err == PROTO_E_OK) {
            err = PROTO_E_INTERNAL;
            why = "the engine refused the battle setup";
        }
        game_pool_release(g, sb);
    }
    for (int s = 0; s < nconn; s++)
        game_send_error(g, c->conn[s], err, why, c->has_rid[s], c->rid[s], m->battle_id);
}

static void on_join(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    /* A join (or a queue whose match was made) repeated with its key: the seat it took. */
    int kseat = seat_of_key(sb, r->key);
    if (kseat >= 0 && sb->phase != GAME_WAITING) {
        answer_repeat(g, sb, conn, (uint8_t)kseat, r->has_rid, r->rid);
        return;
    }
    if (game_seat_of(sb, conn) >= 0 || game_spect_has(g, sb, conn)) {
        game_send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you are already in this battle",
                        r->has_rid, r->rid, sb->id);
        return;
    }
    if (sb->phase != GAME_WAITING) {
        game_send_error(g, conn, PROTO_E_BATTLE_FULL, "both seats are taken", r->has_rid, r->rid,
                        sb->id);
        return;
    }
    if (g->draining) {
        game_send_error(g, conn, PROTO_E_SERVER_DRAINING,
                        "the server is shutting down: no new battles", r->has_rid, r->rid, sb->id);
        return;
    }
    if (g->refuse_new) {
        game_send_error(g, conn, PROTO_E_SERVER_BUSY,
                        "the battle journal cannot be written: no new battles for now", r->has_rid,
                        r->rid, sb->id);
        return;
    }
    int ship = game_find_ship(g, r->u.join.ship);
    if (ship < 0) {
        game_send_error(g, conn, PROTO_E_NO_SUCH_SHIP, "no ship with that key", r->has_rid, r->rid,
                        sb->id);
        return;
    }
    struct game_seat *gs = &sb->seat[1];
    if (srand_token(&g->rnd, gs->token, SHARD_TOKEN_BYTES) != 0) {
        game_send_error(g, conn, PROTO_E_INTERNAL, "no randomness for tokens", r->has_rid, r->rid,
                        sb->id);
        return;
    }
    gs->taken = true;
    gs->ai = false;
    gs->ship = (uint8_t)ship;
    gs->conn = conn;
    gs->has_key = proto_key_present(r->key);
    memcpy(gs->key, r->key, PROTO_TOKEN_LEN);
    g->nwaiting--;
    bool hr[2] = {false, r->has_rid};
    uint32_t rid[2] = {0, r->rid};
    if (!game_start_battle(g, sb, 2u, hr, rid)) {
        game_send_error(g, conn, PROTO_E_INTERNAL, "the engine refused the battle setup",
                        r->has_rid, r->rid, sb->id);
        gs->taken = gs->has_key = false;
        gs->conn = 0;
        g->nwaiting++;
        return;
    }
    if (sb->seat[0].away) /* the creator dropped while waiting: the engine must know */
        game_act(g, sb, BATTLE_ACT_SEAT_AWAY, 0, 0, 0, false, 0);
    game_settle(g, sb);
}

static void on_watch(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    if (game_seat_of(sb, conn) >= 0 || game_spect_has(g, sb, conn)) {
        game_send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you are already in this battle",
                        r->has_rid, r->rid, sb->id);
        return;
    }
    if (sb->phase == GAME_WAITING) {
        game_send_error(g, conn, PROTO_E_NOT_STARTED, "the battle has not started", r->has_rid,
                        r->rid, sb->id);
        return;
    }
    if (sb->phase == GAME_ENDED) { /* kept for results: a look, not a place */
        game_send_state(g, sb, conn, PROTO_SEAT_SPECTATOR, r->has_rid, r->rid);
        return;
    }
    if (sb->nspect >= g->cfg.max_spectators) {
        game_send_error(g, conn, PROTO_E_SPECTATORS_FULL,
                        "this battle has all the spectators it takes", r->has_rid, r->rid, sb->id);
        return;
    }
    if (!game_spect_add(g, sb, conn)) {
        game_send_error(g, conn, PROTO_E_SERVER_BUSY, "out of memory", r->has_rid, r->rid, sb->id);
        return;
    }
    game_send_seat(g, conn, sb->id, SHARD_ROLE_SPECTATOR, +1);
    game_send_state(g, sb, conn, PROTO_SEAT_SPECTATOR, r->has_rid, r->rid);
}

/* Whether a resume's `last` (a wire seq) cannot be a number this battle gave: ahead of its latest
 * event, or inside the gap a recovery left (the client saw events the journal lost). */
static bool seq_gone(const struct game_battle *sb, uint32_t last)
{
    uint32_t latest = battle_last_seq(&sb->b);
    if (last > game_wire_seq(sb, latest))
        return true;
    return sb->seq_off && last > game_wire_seq(sb, sb->seq_split) &&
           last < game_wire_seq(sb, sb->seq_split + 1);
}

/* What a resuming seat missed after `last`: the events themselves while the history holds them,
 * else (or when there are none, as the acknowledgement) a full state. A `last` from before the
 * latest recovery gets the state too: the numbers jumped there, and a state says so at once. */
static void send_missed(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat,
                        uint32_t last, bool has_rid, uint32_t rid)
{
    int n = -1;
    if (!sb->seq_off)
        n = battle_history_since(&sb->b, last, g->hist, BATTLE_HISTORY + 1);
    else if (last >= game_wire_seq(sb, sb->seq_split + 1))
        n = battle_history_since(&sb->b, last - sb->seq_off, g->hist, BATTLE_HISTORY + 1);
    if (n <= 0) {
        game_send_state(g, sb, conn, seat, has_rid, rid);
        return;
    }
    proto_event pe;
    for (size_t i = 0; i < (size_t)n; i++) {
        if (!events_xlate(&sb->b, sb->id, &g->hist[i], &pe))
            continue;
        pe.seq = game_wire_seq(sb, pe.seq);
        if (pe.type == PROTO_T_STARTED) {
            pe.u.started.seat = seat;
            memcpy(pe.u.started.token, sb->seat[seat].token, SHARD_TOKEN_BYTES);
        }
        pe.has_rid = has_rid;
        pe.rid = rid;
        has_rid = false;
        game_send_event(g, conn, &pe);
    }
}

/* Gives seat (of a waiting or running battle) to conn, as a resume does: from a spectator place,
 * from a stale connection (which is told `left`), or back from away (the engine is told, and of the
 * other seat's silent absence after a restart too). Nothing when conn holds it already. */
static void take_seat(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat)
{
    struct game_seat *gs = &sb->seat[seat];
    if (game_spect_has(g, sb, conn)) {
        game_spect_remove(g, sb, conn);
        game_send_seat(g, conn, sb->id, SHARD_ROLE_SPECTATOR, -1);
    }
    conn_id old = gs->conn;
    if (old && old != conn) {
        /* A new connection with the token wins over one that never closed: the stale one is told
         * and loses the seat; its later CONN_GONE finds nothing to do. */
        game_send_left(g, old, sb->id, false, 0);
        game_send_seat(g, old, sb->id, seat, -1);
        game_stat_add(&g->stats->takeovers, 1);
    }
    if (old != conn) {
        gs->conn = 0; /* the resumer gets "back" with the rest of what it missed, not twice */
        if (gs->away && sb->phase == GAME_RUNNING && !gs->silent)
            game_act(g, sb, BATTLE_ACT_SEAT_BACK, seat, 0, 0, false, 0);
        gs->away = gs->silent = false;
        /* After a restart the other seat may still be away without the engine knowing: tell it
         * now, so the resumer learns it from the events it missed, as after a disconnect. */
        struct game_seat *other = &sb->seat[1 - seat];
        if (other->silent && sb->phase == GAME_RUNNING) {
            other->silent = false;
            game_act(g, sb, BATTLE_ACT_SEAT_AWAY, (uint8_t)(1 - seat), 0, 0, false, 0);
        }
        gs->conn = conn;
        game_send_seat(g, conn, sb->id, seat, +1);
        game_stat_add(&g->stats->resumes, 1);
    }
}

/* The seat of sb that was taken with idempotency key `key`, or -1 (also for no key). */
static int seat_of_key(const struct game_battle *sb, const uint8_t *key)
{
    if (!proto_key_present(key))
        return -1;
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].has_key && game_token_eq(sb->seat[s].key, key))
            return s;
    return -1;
}

/* The `started` of sb as seat saw it: from the history while it holds seq 1, else rebuilt the same
 * way (the opening line-up at full hull; ammunition as it is now). */
static void send_started_again(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat,
                               bool has_rid, uint32_t rid)
{
    battle_event e;
    if (battle_history_since(&sb->b, 0, g->hist, 1) == 1 && g->hist[0].kind == BATTLE_EV_STARTED) {
        e = g->hist[0];
    } else {
        memset(&e, 0, sizeof e);
        e.kind = BATTLE_EV_STARTED;
        e.seq = 1;
        e.seat = 0;
        e.u.started.band = sb->band;
        e.u.started.round_limit = sb->b.s.round_limit;
        for (int s = 0; s < 2; s++)
            e.u.started.hull[s] = sb->b.s.ship[s].stats.hull;
    }
    proto_event pe;
    if (!events_xlate(&sb->b, sb->id, &e, &pe))
        return;
    pe.seq = game_wire_seq(sb, pe.seq);
    pe.u.started.seat = seat;
    memcpy(pe.u.started.token, sb->seat[seat].token, SHARD_TOKEN_BYTES);
    pe.has_rid = has_rid;
    pe.rid = rid;
    game_send_event(g, conn, &pe);
}

/* A create, join or queue repeated with the key that took `seat`: the same answer again, to conn.
 * Waiting: `created` (conn takes seat 0). Started: `started` (seat, token), then conn holds the seat
 * and gets what a resume from that `started` would (the events since, or a state); a connection
 * that holds the seat already gets the `started` alone. Ended: the `started` and what followed, as
 * a result: no seat. */
static void answer_repeat(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat,
                          bool has_rid, uint32_t rid)
{
    game_stat_add(&g->stats->repeats, 1);
    if (sb->phase == GAME_WAITING) {
        take_seat(g, sb, conn, seat);
        proto_event pe;
        memset(&pe, 0, sizeof pe);
        pe.type = PROTO_T_CREATED;
        pe.bid = sb->id;
        pe.has_rid = has_rid;
        pe.rid = rid;
        pe.u.created.seat = 0;
        pe.u.created.band = sb->band;
        memcpy(pe.u.created.token, sb->seat[0].token, SHARD_TOKEN_BYTES);
        game_send_event(g, conn, &pe);
        game_settle(g, sb);
        return;
    }
    if (sb->phase == GAME_RUNNING && game_seat_of(sb, conn) == 1 - seat) {
        game_send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you hold the other seat", has_rid, rid,
                        sb->id);
        return;
    }
    bool held = sb->phase == GAME_RUNNING && game_seat_of(sb, conn) == seat;
    send_started_again(g, sb, conn, seat, has_rid, rid);
    if (held) /* it already gets every event since: the `started` alone, no duplicates */
        return;
    if (sb->phase == GAME_RUNNING)
        take_seat(g, sb, conn, seat);
    send_missed(g, sb, conn, seat, game_wire_seq(sb, 1), false, 0);
    if (sb->phase == GAME_RUNNING)
        game_settle(g, sb);
}

static void on_resume(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    const struct proto_resume *rs = &r->u.resume;
    uint8_t seat = rs->seat;
    struct game_seat *gs = seat < 2 ? &sb->seat[seat] : NULL;
    if (!gs || !gs->taken || gs->ai || !game_token_eq(gs->token, rs->token)) {
        game_send_error(g, conn, PROTO_E_BAD_TOKEN, "no such seat with that token", r->has_rid,
                        r->rid, sb->id);
        return;
    }
    int held = game_seat_of(sb, conn);
    if (held >= 0 && held != seat) { /* one connection, both seats: every event would come twice */
        game_send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you hold the other seat", r->has_rid,
                        r->rid, sb->id);
        return;
    }
    if (held == (int)seat) { /* it already gets every event: replaying would send duplicates */
        game_send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you already hold this seat", r->has_rid,
                        r->rid, sb->id);
        return;
    }
    if (sb->phase != GAME_WAITING && seq_gone(sb, rs->last)) {
        game_send_error(g, conn, PROTO_E_SEQ_GONE, "last is ahead of the battle", r->has_rid,
                        r->rid, sb->id);
        return;
    }
    if (sb->phase == GAME_ENDED) { /* results only: the seat is not given back */
        send_missed(g, sb, conn, seat, rs->last, r->has_rid, r->rid);
        return;
    }
    take_seat(g, sb, conn, seat);
    if (sb->phase == GAME_WAITING) {
        proto_event pe;
        memset(&pe, 0, sizeof pe);
        pe.type = PROTO_T_CREATED;
        pe.bid = sb->id;
        pe.has_rid = r->has_rid;
        pe.rid = r->rid;
        pe.u.created.seat = 0;
        pe.u.created.band = sb->band;
        memcpy(pe.u.created.token, gs->token, SHARD_TOKEN_BYTES);
        game_send_event(g, conn, &pe);
    } else {
        send_missed(g, sb, conn, seat, rs->last, r->has_rid, r->rid);
    }
    game_settle(g, sb);
}

static void on_leave(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    uint64_t bid = sb->id;
    if (sb->phase == GAME_ENDED) { /* one rule with the actions: everyone left at the end */
        game_send_error(g, conn, PROTO_E_BATTLE_OVER, "the battle is over", r->has_rid, r->rid, bid);
        return;
    }
    if (game_spect_remove(g, sb, conn)) {
        game_send_seat(g, conn, bid, SHARD_ROLE_SPECTATOR, -1);
        game_send_left(g, conn, bid, r->has_rid, r->rid);
        return;
    }
    int s = game_seat_of(sb, conn);
    if (s < 0) {
        game_send_error(g, conn, PROTO_E_NOT_IN_BATTLE, "you are not in this battle", r->has_rid,
                        r->rid, bid);
        return;
    }
    if (sb->phase == GAME_WAITING) {
        sb->seat[0].conn = 0; /* leaving is not being told it ended */
        game_send_seat(g, conn, bid, SHARD_ROLE_SEAT0, -1);
        game_dispose_waiting(g, sb, PROTO_END_ABANDONED, SHARD_END_ABANDONED);
    } else {
        /* Leaving a running battle gives it up; the forfeit's events reach the leaver too. */
        game_act(g, sb, BATTLE_ACT_FORFEIT, (uint8_t)s, 0, 0, false, 0);
        game_settle(g, sb);
    }
    game_send_left(g, conn, bid, r->has_rid, r->rid);
}

static void record_latency(struct game *g, uint64_t ns)
{
    uint64_t us = ns / 1000; /* bucket i: below 2^i us */
    unsigned b = 0;
    while (b + 1 < SHARD_LATENCY_BUCKETS && us >= (1ull << b))
        b++;
    game_stat_add(&g->stats->action_latency[b], 1);
    game_stat_add(&g->stats->action_latency_sum_ns, ns);
}

static void on_action(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    int s = game_seat_of(sb, conn);
    if (sb->phase == GAME_ENDED) { /* seats are released at the end: say why, not "not yours" */
        game_send_error(g, conn, PROTO_E_BATTLE_OVER, "the battle is over", r->has_rid, r->rid,
                        sb->id);
        return;
    }
    if (s < 0) {
        game_send_error(g, conn, PROTO_E_NOT_IN_BATTLE, "you hold no seat in this battle",
                        r->has_rid, r->rid, sb->id);
        return;
    }
    if (sb->phase == GAME_WAITING) {
        game_send_error(g, conn, PROTO_E_NOT_STARTED, "the battle has not started", r->has_rid,
                        r->rid, sb->id);
        return;
    }
    uint8_t kind;
    uint16_t arg = 0;
    switch (r->type) {
    case PROTO_T_FIRE: kind = BATTLE_ACT_FIRE; arg = r->u.fire.weapon; break;
    case PROTO_T_MISSILE: kind = BATTLE_ACT_LAUNCH; break;
    case PROTO_T_PD:
        if (r->u.pd.missile > UINT16_MAX) {
            game_send_error(g, conn, PROTO_E_NO_SUCH_MISSILE, "no such missile in flight",
                            r->has_rid, r->rid, sb->id);
            return;
        }
        kind = BATTLE_ACT_POINT_DEFENSE;
        arg = (uint16_t)r->u.pd.missile;
        break;
    case PROTO_T_SAND: kind = BATTLE_ACT_SANDCASTER; break;
    case PROTO_T_END: kind = BATTLE_ACT_END_TURN; break;
    default: kind = BATTLE_ACT_FORFEIT; break;
    }
    uint64_t t0 = clock_mono_ns();
    battle_err e = game_act(g, sb, kind, (uint8_t)s, arg, conn, r->has_rid, r->rid);
    if (e != BATTLE_OK) {
        game_send_error(g, conn, events_err(e), events_err_text(e), r->has_rid, r->rid, sb->id);
        return;
    }
    sb->last_action_ms = g->now;
    game_settle(g, sb);
    record_latency(g, clock_mono_ns() - t0);
}

static void on_request(struct game *g, const struct shard_in *m)
{
    const proto_request *r = &m->u.req;
    conn_id conn = m->conn;
    game_stat_add(&g->stats->actions[r->type <= PROTO_T_REQ_LAST ? r->type : 0], 1);
    if (!proto_type_battle_scoped(r->type)) {
        game_send_error(g, conn, PROTO_E_UNKNOWN_TYPE, "not a battle request", r->has_rid, r->rid,
                        0);
        return;
    }
    struct game_battle *sb = game_lookup(g, m->battle_id);
    if (!sb) {
        game_send_error(g, conn, PROTO_E_NO_SUCH_BATTLE, "no battle with that id", r->has_rid,
                        r->rid, m->battle_id);
        return;
    }
    switch (r->type) {
    case PROTO_T_JOIN: on_join(g, sb, conn, r); break;
    case PROTO_T_WATCH: on_watch(g, sb, conn, r); break;
    case PROTO_T_RESUME: on_resume(g, sb, conn, r); break;
    case PROTO_T_LEAVE: on_leave(g, sb, conn, r); break;
    case PROTO_T_FIRE:
    case PROTO_T_MISSILE:
    case PROTO_T_PD:
    case PROTO_T_SAND:
    case PROTO_T_END:
    case PROTO_T_FORFEIT: on_action(g, sb, conn, r); break;
    default:
        game_send_error(g, conn, PROTO_E_UNKNOWN_TYPE, "not a battle request", r->has_rid, r->rid,
                        sb->id);
        break;
    }
}

static void on_conn_gone(struct game *g, const struct shard_in *m)
{
    struct game_battle *sb = game_lookup(g, m->battle_id);
    if (!sb || !m->conn)
        return;
    if (game_spect_remove(g, sb, m->conn))
        return;
    int s = game_seat_of(sb, m->conn);
    if (s < 0)
        return;
    struct game_seat *gs = &sb->seat[s];
    gs->conn = 0;
    if (sb->phase == GAME_ENDED)
        return;
    gs->away = true;
    gs->resume_deadline = g->now + g->cfg.resume_window_ms;
    if (sb->phase == GAME_RUNNING)
        game_act(g, sb, BATTLE_ACT_SEAT_AWAY, (uint8_t)s, 0, 0, false, 0);
    game_settle(g, sb);
}

/* Visits every battle in the pool; fn may release the battle it is given. */
void game_for_each_battle(struct game *g, void (*fn)(struct game *, struct game_battle *, void *),
                          void *arg)
{
    for (uint32_t c = 0; c < g->nchunks; c++)
        for (uint32_t i = 0; i < GAME_POOL_CHUNK; i++)
            if (g->chunks[c][i].phase != GAME_FREE)
                fn(g, &g->chunks[c][i], arg);
}

static void drain_waiting(struct game *g, struct game_battle *sb, void *arg)
{
    if (sb->phase == GAME_WAITING)
        game_dispose_waiting(g, sb, PROTO_END_SHUTDOWN, SHARD_END_SHUTDOWN);
}

void game_shutdown_running(struct game *g, struct game_battle *sb, void *arg)
{
    if (sb->phase == GAME_RUNNING) {
        game_act(g, sb, BATTLE_ACT_SHUTDOWN, 0, 0, 0, false, 0);
        game_schedule(g, sb);
    }
}

/* Restart: every battle stays exactly as it is. From here on nothing reaches a battle (no action,
 * no timer, no departure: the connections are about to close because the process ends, not
 * because players left), so nothing more is journaled and the next start replays the same state.
 * SHARD_OUT_STOPPED goes out through this pass's held outbox slots, i.e. after the pass's journal
 * write; journal_close syncs at stop. */
static void on_suspend(struct game *g)
{
    if (g->suspended)
        return;
    g->suspended = g->draining = true;
    log_info("shard suspended for restart", "running", LOG_U64(g->nrunning), "waiting",
             LOG_U64(g->nwaiting));
    struct shard_out m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_OUT_STOPPED;
    if (outbox_put(g->out, &m))
        g->stopped_sent = true;
}

static void on_drain(struct game *g, const struct shard_in *m)
{
    if (m->u.drain.suspend || g->suspended) {
        on_suspend(g);
        return;
    }
    uint64_t deadline = g->now + m->u.drain.grace_ms;
    if (g->draining) {
        g->drain_deadline = game_min64(g->drain_deadline, deadline);
        return;
    }
    g->draining = true;
    g->drain_deadline = deadline;
    log_info("shard draining", "running", LOG_U64(g->nrunning), "waiting", LOG_U64(g->nwaiting),
             "grace_ms", LOG_U64(m->u.drain.grace_ms));
    game_for_each_battle(g, drain_waiting, NULL);
    game_check_stopped(g);
}

struct list_ctx {
    uint64_t token;
    uint32_t limit, rows;
};

static void list_one(struct game *g, struct game_battle *sb, void *arg)
{
    struct list_ctx *lc = arg;
    if (lc->rows >= lc->limit)
        return;
    struct shard_out m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_OUT_LIST_ROW;
    m.battle_id = sb->id;
    struct shard_battle_row *row = &m.u.row;
    row->battle_id = sb->id;
    row->age_ms = g->now - sb->created_ms;
    row->round = sb->phase == GAME_WAITING ? 0 : battle_round(&sb->b);
    row->spectators = sb->nspect;
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].conn || sb->seat[s].ai)
            row->seats_present |= (uint8_t)(1u << s);
    row->state = sb->phase == GAME_WAITING ? 0 : (sb->phase == GAME_RUNNING ? 1 : 2);
    if (outbox_put(g->out, &m))
        lc->rows++;
}

static void on_list(struct game *g, const struct shard_in *m)
{
    struct list_ctx lc = {.token = m->u.list.token,
                          .limit = m->u.list.limit < SHARD_LIST_MAX ? m->u.list.limit : SHARD_LIST_MAX};
    game_for_each_battle(g, list_one, &lc);
    struct shard_out out;
    memset(&out, 0, sizeof out);
    out.kind = SHARD_OUT_LIST_END;
    out.u.list_end.token = lc.token;
    out.u.list_end.rows = lc.rows;
    out.u.list_end.total = g->nrunning + g->nwaiting + g->nended;
    outbox_put(g->out, &out);
}

void game_handle(struct game *g, const struct shard_in *m, uint64_t now)
{
    g->now = now;
    if (g->suspended && m->kind == SHARD_IN_REQUEST) {
        const proto_request *r = &m->u.req;
        game_send_error(g, m->conn, PROTO_E_SERVER_DRAINING,
                        "the server is restarting: resume after it is back", r->has_rid, r->rid,
                        m->battle_id);
        return;
    }
    if (g->suspended && m->kind == SHARD_IN_CONN_GONE)
        return; /* the seat stays as it was: the next start makes it away with a fresh window */
    switch (m->kind) {
    case SHARD_IN_REQUEST: on_request(g, m); break;
    case SHARD_IN_CREATE: on_create(g, m); break;
    case SHARD_IN_CONN_GONE: on_conn_gone(g, m); break;
    case SHARD_IN_DRAIN: on_drain(g, m); break;
    case SHARD_IN_HEARTBEAT: {
        struct shard_out out;
        memset(&out, 0, sizeof out);
        out.kind = SHARD_OUT_HEARTBEAT;
        out.u.token = m->u.token;
        outbox_put(g->out, &out);
        break;
    }
    case SHARD_IN_LIST: on_list(g, m); break;
    default: log_warn("unknown inbox message", "kind", LOG_U64(m->kind)); break;
    }
}
