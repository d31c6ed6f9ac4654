/* bb_policy: the scripted player; see bb_policy.h. */
#include "bench/bb_policy.h"

#include <string.h>

void bb_view_start(bb_view *v, const proto_event *ev)
{
    memset(v, 0, sizeof *v);
    pct_init(&v->t);
    pct_apply(&v->t, ev);
}

/* Our ship, NULL before the start. */
static const struct proto_ship *me(const bb_view *v)
{
    return v->t.seat >= 0 ? &v->t.ships[v->t.seat] : NULL;
}

/* First weapon of kind k with ammunition, or -1. */
static int first_with_ammo(const bb_view *v, uint8_t kind)
{
    const struct proto_ship *s = me(v);
    for (unsigned i = 0; s && i < s->nweapons; i++)
        if (s->weapons[i].kind == kind && s->weapons[i].ammo != 0)
            return (int)i;
    return -1;
}

void bb_view_apply(bb_view *v, const proto_event *ev)
{
    if (pct_apply(&v->t, ev) == PCT_APPLIED && ev->type == PROTO_T_SAND_RESULT &&
        ev->u.sand_result.seat == v->t.seat)
        v->sand_round = v->t.round;
}

void bb_view_weapon_empty(bb_view *v, unsigned w)
{
    if (v->t.seat >= 0 && w < v->t.ships[v->t.seat].nweapons)
        v->t.ships[v->t.seat].weapons[w].ammo = 0;
}

void bb_view_pd_tried(bb_view *v, uint32_t missile)
{
    pct_pd_tried(&v->t, missile);
}

void bb_view_sand_tried(bb_view *v)
{
    v->sand_round = v->t.round;
}

static bool fires(uint8_t kind)
{
    return kind == PROTO_WK_LASER || kind == PROTO_WK_MISSILE || kind == PROTO_WK_GUN;
}

bb_act_class bb_policy_next(const bb_view *v, uint64_t bid, proto_request *r)
{
    memset(r, 0, sizeof *r);
    r->bid = bid;
    const struct proto_ship *s = me(v);
    if (v->t.ended || !s)
        return BB_ACT_NONE;
    /* reactions: they only help while the threat is there */
    for (unsigned i = 0; i < v->t.nmissiles; i++) {
        const struct proto_missile *m = &v->t.missiles[i];
        if (m->owner != v->t.seat && !m->pd_tried) {
            r->type = PROTO_T_PD;
            r->u.pd.missile = m->id;
            return BB_ACT_REACTION;
        }
    }
    if (v->t.band <= PROTO_BAND_CLOSE && v->sand_round != v->t.round &&
        s->hull * 4u < s->hull_max * 3u && first_with_ammo(v, PROTO_WK_SAND) >= 0) {
        r->type = PROTO_T_SAND;
        return BB_ACT_REACTION;
    }
    if (v->t.active != v->t.seat || v->acted_round == v->t.round)
        return BB_ACT_NONE;
    if (v->t.band >= PROTO_BAND_LONG && first_with_ammo(v, PROTO_WK_RACK) >= 0) {
        r->type = PROTO_T_MISSILE;
        return BB_ACT_TURN;
    }
    int best = -1;
    for (unsigned i = 0; i < s->nweapons; i++)
        if (fires(s->weapons[i].kind) && s->weapons[i].ammo != 0 &&
            (best < 0 || s->weapons[i].dice > s->weapons[best].dice))
            best = (int)i;
    if (best >= 0) {
        r->type = PROTO_T_FIRE;
        r->u.fire.weapon = (uint8_t)best;
    } else {
        r->type = PROTO_T_END;
    }
    return BB_ACT_TURN;
}
