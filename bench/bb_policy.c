/* bb_policy: the scripted player; see bb_policy.h. */
#include "bench/bb_policy.h"

#include <string.h>

void bb_view_start(bb_view *v, const proto_event *ev)
{
    const struct proto_started *s = &ev->u.started;
    memset(v, 0, sizeof *v);
    v->seat = s->seat;
    v->band = s->band;
    v->active = s->first;
    v->round = 1;
    const struct proto_ship *me = &s->ships[s->seat < PROTO_SEATS ? s->seat : 0];
    v->hull = me->hull;
    v->hull_max = me->hull_max;
    v->nweapons = me->nweapons <= PROTO_MAX_WEAPONS ? me->nweapons : PROTO_MAX_WEAPONS;
    for (unsigned i = 0; i < v->nweapons; i++) {
        v->wkind[i] = me->weapons[i].kind;
        v->wdice[i] = me->weapons[i].dice;
        v->wammo[i] = me->weapons[i].ammo;
    }
}

static int find_in(const bb_view *v, uint32_t id)
{
    for (unsigned i = 0; i < v->nin; i++)
        if (v->in[i].id == id)
            return (int)i;
    return -1;
}

static void drop_in(bb_view *v, uint32_t id)
{
    int i = find_in(v, id);
    if (i >= 0)
        v->in[i] = v->in[--v->nin];
}

/* First weapon of kind k with ammunition, or -1. */
static int first_with_ammo(const bb_view *v, uint8_t kind)
{
    for (unsigned i = 0; i < v->nweapons; i++)
        if (v->wkind[i] == kind && v->wammo[i] != 0)
            return (int)i;
    return -1;
}

void bb_view_apply(bb_view *v, const proto_event *ev)
{
    switch (ev->type) {
    case PROTO_T_TURN:
        v->round = ev->u.turn.round;
        v->active = ev->u.turn.active;
        break;
    case PROTO_T_ROUND:
        v->round = ev->u.round.round;
        v->active = ev->u.round.active;
        if (v->seat < PROTO_SEATS)
            v->hull = ev->u.round.hull[v->seat];
        break;
    case PROTO_T_ATTACK: {
        const struct proto_attack *a = &ev->u.attack;
        if (a->seat == v->seat) {
            if (a->weapon < v->nweapons && v->wammo[a->weapon] > 0)
                v->wammo[a->weapon]--;
        } else {
            v->hull = a->hull;
        }
        break;
    }
    case PROTO_T_CRIT:
        if (ev->u.crit.seat == v->seat)
            v->hull = ev->u.crit.hull;
        break;
    case PROTO_T_MLAUNCH: {
        const struct proto_mlaunch *m = &ev->u.mlaunch;
        if (m->seat == v->seat) {
            int r = first_with_ammo(v, PROTO_WK_RACK);
            if (r >= 0)
                v->wammo[r] = m->left;
        } else if (v->nin < BB_VIEW_MISSILES && find_in(v, m->missile) < 0) {
            v->in[v->nin].id = m->missile;
            v->in[v->nin].pd_round = 0;
            v->nin++;
        }
        break;
    }
    case PROTO_T_MHIT:
        drop_in(v, ev->u.mhit.missile);
        if (ev->u.mhit.seat == v->seat)
            v->hull = ev->u.mhit.hull;
        break;
    case PROTO_T_PD_RESULT:
        if (ev->u.pd_result.ok)
            drop_in(v, ev->u.pd_result.missile);
        else
            bb_view_pd_tried(v, ev->u.pd_result.missile);
        break;
    case PROTO_T_SAND_RESULT:
        if (ev->u.sand_result.seat == v->seat) {
            int s = first_with_ammo(v, PROTO_WK_SAND);
            if (s >= 0)
                v->wammo[s] = ev->u.sand_result.left;
            v->sand_round = v->round;
        }
        break;
    case PROTO_T_ENDED:
        v->ended = true;
        break;
    default:
        break;
    }
}

void bb_view_weapon_empty(bb_view *v, unsigned w)
{
    if (w < v->nweapons)
        v->wammo[w] = 0;
}

void bb_view_pd_tried(bb_view *v, uint32_t missile)
{
    int i = find_in(v, missile);
    if (i >= 0)
        v->in[i].pd_round = v->round;
}

void bb_view_sand_tried(bb_view *v)
{
    v->sand_round = v->round;
}

static bool fires(uint8_t kind)
{
    return kind == PROTO_WK_LASER || kind == PROTO_WK_MISSILE || kind == PROTO_WK_GUN;
}

bb_act_class bb_policy_next(const bb_view *v, uint64_t bid, proto_request *r)
{
    memset(r, 0, sizeof *r);
    r->bid = bid;
    if (v->ended)
        return BB_ACT_NONE;
    /* reactions: they only help while the threat is there */
    for (unsigned i = 0; i < v->nin; i++)
        if (v->in[i].pd_round != v->round) {
            r->type = PROTO_T_PD;
            r->u.pd.missile = v->in[i].id;
            return BB_ACT_REACTION;
        }
    if (v->band <= PROTO_BAND_CLOSE && v->sand_round != v->round && v->hull * 4u < v->hull_max * 3u &&
        first_with_ammo(v, PROTO_WK_SAND) >= 0) {
        r->type = PROTO_T_SAND;
        return BB_ACT_REACTION;
    }
    if (v->active != v->seat || v->acted_round == v->round)
        return BB_ACT_NONE;
    if (v->band >= PROTO_BAND_LONG && first_with_ammo(v, PROTO_WK_RACK) >= 0) {
        r->type = PROTO_T_MISSILE;
        return BB_ACT_TURN;
    }
    int best = -1;
    for (unsigned i = 0; i < v->nweapons; i++)
        if (fires(v->wkind[i]) && v->wammo[i] != 0 && (best < 0 || v->wdice[i] > v->wdice[best]))
            best = (int)i;
    if (best >= 0) {
        r->type = PROTO_T_FIRE;
        r->u.fire.weapon = (uint8_t)best;
    } else {
        r->type = PROTO_T_END;
    }
    return BB_ACT_TURN;
}
