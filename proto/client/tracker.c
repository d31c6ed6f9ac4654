/* proto/client/tracker: a battle followed from its events; see tracker.h. */
#include "proto/client/tracker.h"

#include <string.h>

void pct_init(pct_battle *t)
{
    memset(t, 0, sizeof *t);
    t->seat = PCT_NO_SEAT;
}

bool pct_numbered(const proto_event *ev)
{
    switch (ev->type) {
    case PROTO_T_TURN: case PROTO_T_ROUND: case PROTO_T_ATTACK: case PROTO_T_MLAUNCH:
    case PROTO_T_MMOVE: case PROTO_T_MHIT: case PROTO_T_PD_RESULT: case PROTO_T_SAND_RESULT:
    case PROTO_T_ENDED: case PROTO_T_AWAY: case PROTO_T_BACK: case PROTO_T_CRIT: case PROTO_T_TIMEOUT:
        return ev->seq != 0;
    default:
        return false;
    }
}

static void set_hull(pct_battle *t, int seat, uint16_t hull)
{
    if (seat >= 0 && seat < PROTO_SEATS)
        t->ships[seat].hull = hull;
}

static struct proto_missile *missile_find(pct_battle *t, uint32_t id)
{
    for (int i = 0; i < t->nmissiles; i++)
        if (t->missiles[i].id == id)
            return &t->missiles[i];
    return NULL;
}

static void missile_drop(pct_battle *t, uint32_t id)
{
    for (int i = 0; i < t->nmissiles; i++)
        if (t->missiles[i].id == id) {
            t->missiles[i] = t->missiles[--t->nmissiles];
            return;
        }
}

static void missile_add(pct_battle *t, uint32_t id, uint8_t owner, uint8_t band)
{
    struct proto_missile *m = missile_find(t, id);
    if (!m) {
        if (t->nmissiles >= PROTO_MAX_MISSILES)
            return; /* the server never has more in flight */
        m = &t->missiles[t->nmissiles++];
    }
    m->id = id;
    m->owner = owner;
    m->band = band;
    m->pd_tried = false;
}

void pct_pd_tried(pct_battle *t, uint32_t id)
{
    struct proto_missile *m = missile_find(t, id);
    if (m)
        m->pd_tried = true;
}

/* Ammunition of the first weapon of a kind (rack, sandcaster) after the server's count, which is
 * what the ship has left of that kind. */
static void set_ammo(pct_battle *t, int seat, uint8_t kind, int left)
{
    struct proto_ship *s = &t->ships[seat & 1];
    for (int w = 0; w < s->nweapons; w++)
        if (s->weapons[w].kind == kind) {
            s->weapons[w].ammo = (int16_t)left;
            return;
        }
}

/* Ships as the event gave them, with no more weapons than the arrays hold. */
static void take_ships(pct_battle *t, const struct proto_ship ships[PROTO_SEATS])
{
    memcpy(t->ships, ships, sizeof t->ships);
    for (int i = 0; i < PROTO_SEATS; i++)
        if (t->ships[i].nweapons > PROTO_MAX_WEAPONS)
            t->ships[i].nweapons = PROTO_MAX_WEAPONS;
}

static void on_started(pct_battle *t, const proto_event *ev)
{
    const struct proto_started *st = &ev->u.started;
    pct_init(t);
    t->bid = ev->bid;
    t->seat = (int8_t)(st->seat & 1);
    memcpy(t->token, st->token, PROTO_TOKEN_LEN);
    t->band = st->band;
    t->round = 1;
    t->round_limit = st->round_limit;
    t->active = st->first & 1;
    t->have_ships = true;
    take_ships(t, st->ships);
    t->last_seq = ev->seq;
}

static void on_state(pct_battle *t, const proto_event *ev)
{
    const struct proto_state *st = &ev->u.state;
    /* A state carries no token: a seat answered with one (a resume) keeps the token it has. */
    uint8_t token[PROTO_TOKEN_LEN];
    bool keep = t->bid == ev->bid && t->seat >= 0 && st->seat == t->seat;
    memcpy(token, t->token, sizeof token);
    pct_init(t);
    t->bid = ev->bid;
    if (st->seat < PROTO_SEATS) {
        t->seat = (int8_t)st->seat;
        if (keep)
            memcpy(t->token, token, sizeof token);
    }
    t->band = st->band;
    t->round = st->round;
    t->round_limit = st->round_limit;
    t->active = st->active & 1;
    t->ended = st->phase == PROTO_PHASE_ENDED;
    t->have_ships = true;
    take_ships(t, st->ships);
    t->nmissiles = st->nmissiles <= PROTO_MAX_MISSILES ? st->nmissiles : PROTO_MAX_MISSILES;
    memcpy(t->missiles, st->missiles, t->nmissiles * sizeof t->missiles[0]);
    t->last_seq = ev->seq;
}

pct_result pct_apply(pct_battle *t, const proto_event *ev)
{
    bool ours = ev->bid != 0 && ev->bid == t->bid;
    if (ev->type == PROTO_T_STARTED) {
        if (ours && t->have_ships && ev->seq && ev->seq <= t->last_seq)
            return PCT_REPLAY; /* replayed after a resume */
        on_started(t, ev);
        return PCT_APPLIED;
    }
    if (ev->type == PROTO_T_STATE) {
        on_state(t, ev);
        return PCT_APPLIED;
    }
    if (!ours || ev->type == PROTO_T_MOVED) /* moved: the request went nowhere; nothing happened */
        return PCT_OTHER;
    if (pct_numbered(ev)) {
        if (ev->seq <= t->last_seq)
            return PCT_REPLAY;
        t->last_seq = ev->seq;
    }
    switch (ev->type) {
    case PROTO_T_TURN:
        t->round = ev->u.turn.round;
        t->active = ev->u.turn.active & 1;
        break;
    case PROTO_T_ROUND: {
        const struct proto_round *r = &ev->u.round;
        t->round = r->round;
        t->active = r->active & 1;
        set_hull(t, 0, r->hull[0]);
        set_hull(t, 1, r->hull[1]);
        for (int i = 0; i < t->nmissiles; i++)
            t->missiles[i].pd_tried = false; /* one point-defense try per missile per round */
        break;
    }
    case PROTO_T_ATTACK: {
        const struct proto_attack *a = &ev->u.attack;
        int s = a->seat & 1;
        if (t->have_ships && a->weapon < t->ships[s].nweapons && t->ships[s].weapons[a->weapon].ammo > 0)
            t->ships[s].weapons[a->weapon].ammo--;
        set_hull(t, 1 - s, a->hull); /* the target's hull after it, hit or miss */
        break;
    }
    case PROTO_T_CRIT: {
        const struct proto_crit *c = &ev->u.crit;
        int s = c->seat & 1;
        if (c->loc < PROTO_LOC_COUNT && t->ships[s].crits[c->loc] < UINT8_MAX)
            t->ships[s].crits[c->loc]++;
        set_hull(t, s, c->hull);
        break;
    }
    case PROTO_T_MLAUNCH: {
        const struct proto_mlaunch *m = &ev->u.mlaunch;
        missile_add(t, m->missile, (uint8_t)(m->seat & 1), m->band);
        set_ammo(t, m->seat & 1, PROTO_WK_RACK, m->left);
        break;
    }
    case PROTO_T_MMOVE:
        missile_add(t, ev->u.mmove.missile, ev->u.mmove.seat & 1, ev->u.mmove.band);
        break;
    case PROTO_T_MHIT:
        missile_drop(t, ev->u.mhit.missile);
        set_hull(t, ev->u.mhit.seat & 1, ev->u.mhit.hull);
        break;
    case PROTO_T_PD_RESULT:
        pct_pd_tried(t, ev->u.pd_result.missile);
        if (ev->u.pd_result.ok)
            missile_drop(t, ev->u.pd_result.missile);
        break;
    case PROTO_T_SAND_RESULT:
        set_ammo(t, ev->u.sand_result.seat & 1, PROTO_WK_SAND, ev->u.sand_result.left);
        break;
    case PROTO_T_ENDED:
        t->end = ev->u.ended;
        t->ended = true;
        t->nmissiles = 0;
        set_hull(t, 0, ev->u.ended.hull[0]);
        set_hull(t, 1, ev->u.ended.hull[1]);
        break;
    default:
        break; /* away, back, timeout, left, errors: nothing the tracker holds */
    }
    return PCT_APPLIED;
}
