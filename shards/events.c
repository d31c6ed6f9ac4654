/* events: engine events -> protocol events (see events.h). */
#include "shards/events.h"

#include <stdio.h>
#include <string.h>

static void fill_ship(const ships_ship *st, uint16_t hull, const uint8_t *crits,
                      struct proto_ship *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "%s", st->key);
    snprintf(out->name, sizeof out->name, "%s", st->name);
    out->hull = hull;
    out->hull_max = st->hull;
    out->armour = st->armour;
    out->pilot = st->pilot;
    out->thrust = st->thrust;
    for (unsigned w = 0; w < st->nweapons && w < PROTO_MAX_WEAPONS; w++) {
        const ships_weapon *sw = &st->weapons[w];
        struct proto_weapon *pw = &out->weapons[out->nweapons++];
        snprintf(pw->name, sizeof pw->name, "%s", sw->name);
        pw->kind = sw->kind; /* core's weapon kinds and the protocol's have the same numbering */
        pw->dice = sw->dice;
        pw->ammo = sw->ammo;
        pw->long_dm = sw->long_range_dm;
    }
    if (crits)
        for (unsigned l = 0; l < BATTLE_CRIT_LOCATIONS && l < PROTO_LOC_COUNT; l++)
            out->crits[l] = crits[l];
}

static void view_ship(const battle_ship *bs, struct proto_ship *out)
{
    fill_ship(&bs->stats, bs->hull, bs->crits, out);
}

uint8_t events_reason(unsigned r)
{
    switch (r) {
    case BATTLE_END_DESTROYED: return PROTO_END_DESTROYED;
    case BATTLE_END_FORFEIT: return PROTO_END_FORFEIT;
    case BATTLE_END_TIMEOUTS: return PROTO_END_TIMEOUT;
    case BATTLE_END_DISCONNECTED: return PROTO_END_DISCONNECT;
    case BATTLE_END_DRAW: return PROTO_END_DRAW;
    case BATTLE_END_ABANDONED: return PROTO_END_ABANDONED;
    default: return PROTO_END_SHUTDOWN;
    }
}

bool events_xlate(const battle *b, uint64_t bid, const battle_event *e, proto_event *pe)
{
    memset(pe, 0, sizeof *pe);
    pe->bid = bid;
    pe->seq = e->seq;
    switch (e->kind) {
    case BATTLE_EV_STARTED: {
        battle_view v;
        battle_view_fill(b, &v);
        pe->type = PROTO_T_STARTED;
        pe->u.started.band = e->u.started.band;
        pe->u.started.first = e->seat;
        pe->u.started.round_limit = e->u.started.round_limit;
        for (int s = 0; s < 2; s++) {
            view_ship(&v.ship[s], &pe->u.started.ships[s]);
            /* the opening line-up: full hulls, no damage, whatever happened since */
            pe->u.started.ships[s].hull = e->u.started.hull[s];
            memset(pe->u.started.ships[s].crits, 0, sizeof pe->u.started.ships[s].crits);
        }
        return true;
    }
    case BATTLE_EV_TURN:
        pe->type = PROTO_T_TURN;
        pe->u.turn.round = e->u.turn.round;
        pe->u.turn.active = e->seat;
        return true;
    case BATTLE_EV_ROUND:
        pe->type = PROTO_T_ROUND;
        pe->u.round.round = e->u.round.round;
        pe->u.round.active = e->seat;
        pe->u.round.hull[0] = e->u.round.hull[0];
        pe->u.round.hull[1] = e->u.round.hull[1];
        return true;
    case BATTLE_EV_ATTACK: {
        struct proto_attack *a = &pe->u.attack;
        pe->type = PROTO_T_ATTACK;
        a->seat = e->seat;
        a->weapon = e->u.attack.weapon;
        a->dice[0] = e->u.attack.dice[0];
        a->dice[1] = e->u.attack.dice[1];
        a->total = e->u.attack.total;
        a->effect = e->u.attack.effect;
        a->hit = (e->u.attack.flags & BATTLE_ATTACK_HIT) != 0;
        a->sand = (e->u.attack.flags & BATTLE_ATTACK_SAND_USED) != 0;
        a->damage = e->u.attack.damage;
        a->hull = e->u.attack.target_hull;
        return true;
    }
    case BATTLE_EV_CRITICAL:
        pe->type = PROTO_T_CRIT;
        pe->u.crit.seat = e->seat;
        pe->u.crit.loc = e->u.critical.location;
        pe->u.crit.sev = e->u.critical.severity;
        pe->u.crit.crew = e->u.critical.crew_injured != 0;
        pe->u.crit.extra = e->u.critical.extra_damage;
        pe->u.crit.hull = e->u.critical.target_hull;
        return true;
    case BATTLE_EV_MISSILE_LAUNCHED:
        pe->type = PROTO_T_MLAUNCH;
        pe->u.mlaunch.seat = e->seat;
        pe->u.mlaunch.missile = e->u.launched.id;
        pe->u.mlaunch.band = e->u.launched.band;
        pe->u.mlaunch.left = e->u.launched.ammo_left;
        return true;
    case BATTLE_EV_MISSILE_MOVED:
        pe->type = PROTO_T_MMOVE;
        pe->u.mmove.seat = e->seat;
        pe->u.mmove.missile = e->u.moved.id;
        pe->u.mmove.band = e->u.moved.new_band;
        return true;
    case BATTLE_EV_MISSILE_STRUCK:
        pe->type = PROTO_T_MHIT;
        pe->u.mhit.seat = e->seat;
        pe->u.mhit.missile = e->u.struck.id;
        memcpy(pe->u.mhit.dice, e->u.struck.dice, sizeof pe->u.mhit.dice);
        pe->u.mhit.damage = e->u.struck.damage;
        pe->u.mhit.hull = e->u.struck.target_hull;
        return true;
    case BATTLE_EV_POINT_DEFENSE:
        pe->type = PROTO_T_PD_RESULT;
        pe->u.pd_result.seat = e->seat;
        pe->u.pd_result.missile = e->u.pd.id;
        pe->u.pd_result.dice[0] = e->u.pd.dice[0];
        pe->u.pd_result.dice[1] = e->u.pd.dice[1];
        pe->u.pd_result.total = e->u.pd.total;
        pe->u.pd_result.ok = e->u.pd.destroyed != 0;
        return true;
    case BATTLE_EV_SANDCASTER:
        pe->type = PROTO_T_SAND_RESULT;
        pe->u.sand_result.seat = e->seat;
        pe->u.sand_result.dice[0] = e->u.sand.dice[0];
        pe->u.sand_result.dice[1] = e->u.sand.dice[1];
        pe->u.sand_result.total = e->u.sand.total;
        pe->u.sand_result.ok = e->u.sand.success != 0;
        pe->u.sand_result.bonus = e->u.sand.armour_bonus;
        pe->u.sand_result.left = e->u.sand.ammo_left;
        return true;
    case BATTLE_EV_TIMEOUT:
        pe->type = PROTO_T_TIMEOUT;
        pe->u.timeout.seat = e->seat;
        pe->u.timeout.count = e->u.timeout.consecutive;
        return true;
    case BATTLE_EV_SEAT_AWAY:
        pe->type = PROTO_T_AWAY;
        pe->u.away.seat = e->seat;
        return true;
    case BATTLE_EV_SEAT_BACK:
        pe->type = PROTO_T_BACK;
        pe->u.back.seat = e->seat;
        return true;
    case BATTLE_EV_ENDED:
        pe->type = PROTO_T_ENDED;
        pe->u.ended.winner = e->u.ended.winner == BATTLE_NO_SEAT ? -1 : (int8_t)e->u.ended.winner;
        pe->u.ended.reason = events_reason(e->u.ended.reason);
        pe->u.ended.hull[0] = e->u.ended.hull[0];
        pe->u.ended.hull[1] = e->u.ended.hull[1];
        pe->u.ended.rounds = e->u.ended.rounds;
        return true;
    default:
        pe->type = PROTO_T_NONE;
        return false;
    }
}

void events_state(const battle *b, uint64_t bid, uint8_t seat, uint32_t turn_ms, proto_event *pe)
{
    battle_view v;
    battle_view_fill(b, &v);
    memset(pe, 0, sizeof *pe);
    pe->type = PROTO_T_STATE;
    pe->bid = bid;
    pe->seq = v.last_seq;
    struct proto_state *st = &pe->u.state;
    st->seat = seat;
    st->phase = v.status == BATTLE_OVER ? PROTO_PHASE_ENDED : PROTO_PHASE_RUNNING;
    st->band = v.band;
    st->round = v.round;
    st->active = v.active;
    st->round_limit = v.round_limit;
    st->acted = (uint8_t)((v.acted[0] ? 1 : 0) | (v.acted[1] ? 2 : 0));
    st->sand_used = (uint8_t)((v.sand_used[0] ? 1 : 0) | (v.sand_used[1] ? 2 : 0));
    st->away = (uint8_t)((v.away[0] ? 1 : 0) | (v.away[1] ? 2 : 0));
    for (int s = 0; s < 2; s++) {
        st->sand_bonus[s] = v.sand_bonus[s];
        st->timeouts[s] = v.timeouts[s];
        view_ship(&v.ship[s], &st->ships[s]);
    }
    st->turn_ms = v.status == BATTLE_OVER ? 0 : turn_ms;
    for (unsigned m = 0; m < v.nmissiles && m < PROTO_MAX_MISSILES; m++) {
        st->missiles[st->nmissiles++] = (struct proto_missile){
            .id = v.missiles[m].id,
            .owner = (uint8_t)(v.missiles[m].flags & 1u),
            .band = v.missiles[m].band,
            .pd_tried = (v.missiles[m].flags & 2u) != 0,
        };
    }
}

proto_error events_err(battle_err e)
{
    switch (e) {
    case BATTLE_ERR_NOT_YOUR_TURN: return PROTO_E_NOT_YOUR_TURN;
    case BATTLE_ERR_ALREADY_ACTED: return PROTO_E_ALREADY_ACTED;
    case BATTLE_ERR_NO_SUCH_WEAPON:
    case BATTLE_ERR_WEAPON_CANNOT_FIRE: return PROTO_E_NO_SUCH_WEAPON;
    case BATTLE_ERR_OUT_OF_AMMO: return PROTO_E_OUT_OF_AMMO;
    case BATTLE_ERR_TOO_MANY_MISSILES: return PROTO_E_TOO_MANY_MISSILES;
    case BATTLE_ERR_NO_MISSILE_RACK:
    case BATTLE_ERR_NO_SANDCASTER: return PROTO_E_NOT_EQUIPPED;
    case BATTLE_ERR_SAND_OUT_OF_BAND: return PROTO_E_OUT_OF_BAND;
    case BATTLE_ERR_NO_SUCH_MISSILE:
    case BATTLE_ERR_MISSILE_NOT_INCOMING: return PROTO_E_NO_SUCH_MISSILE;
    case BATTLE_ERR_REACTION_USED: return PROTO_E_REACTION_USED;
    case BATTLE_ERR_BATTLE_OVER: return PROTO_E_BATTLE_OVER;
    default: return PROTO_E_INTERNAL;
    }
}

const char *events_err_text(battle_err e)
{
    switch (e) {
    case BATTLE_ERR_NOT_YOUR_TURN: return "it is the other seat's turn";
    case BATTLE_ERR_ALREADY_ACTED: return "you already took your turn action this round";
    case BATTLE_ERR_NO_SUCH_WEAPON: return "your ship has no weapon with that index";
    case BATTLE_ERR_WEAPON_CANNOT_FIRE: return "that weapon does not fire: use missile or sand";
    case BATTLE_ERR_OUT_OF_AMMO: return "that weapon is out of ammunition";
    case BATTLE_ERR_TOO_MANY_MISSILES: return "too many missiles in flight";
    case BATTLE_ERR_NO_MISSILE_RACK: return "your ship has no missile rack";
    case BATTLE_ERR_NO_SANDCASTER: return "your ship has no sandcaster";
    case BATTLE_ERR_SAND_OUT_OF_BAND: return "sandcasters only work at Adjacent or Close";
    case BATTLE_ERR_NO_SUCH_MISSILE: return "no such missile in flight";
    case BATTLE_ERR_MISSILE_NOT_INCOMING: return "that missile is not aimed at you";
    case BATTLE_ERR_REACTION_USED: return "that reaction was already used this round";
    case BATTLE_ERR_BATTLE_OVER: return "the battle is over";
    default: return "internal error";
    }
}
