/* battle: the rules state machine. Every action is validated completely
 * before anything is touched, so a rejected action leaves the struct
 * bit-for-bit unchanged; after validation nothing can fail. */
#include "core/battle.h"

#include <string.h>

#include "util/mix.h"

_Static_assert(sizeof(battle) <= BATTLE_SIZE_MAX, "a battle must fit in 1 KiB");
_Static_assert(sizeof(battle_event) <= 32, "events are small and fixed-size");
_Static_assert(BATTLE_HISTORY >= 16, "the history must hold a few rounds");
_Static_assert(BATTLE_HISTORY <= 255, "hist_len and hist_head are uint8_t");

#define MISSILE_LAUNCHER 1u
#define MISSILE_PD_TRIED 2u
#define HIT_TARGET 8 /* 2D6 + DMs >= 8 hits (also point defense, sandcaster) */
#define CRIT_EFFECT 6
#define CRIT_MAX_SEVERITY 6
#define AI_STREAM 0x62617474ULL /* "batt": the dice stream id */

static const int8_t band_dm[BATTLE_BAND_COUNT] = {2, 1, 0, 0, -2, -4, -6};

/* One apply in progress: where dice come from and where events go. */
typedef struct {
    battle *b;
    const dice_source *src;
    battle_event *out;
    size_t n;
} run;

static unsigned roll(run *r)
{
    if (r->src) {
        unsigned v = r->src->d6(r->src->ctx);
        return v < 1 ? 1 : v > 6 ? 6 : v;
    }
    return dice_d6(&r->b->s.rng);
}

static battle_event *emit(run *r, battle_event_kind kind, unsigned seat)
{
    battle_event *ev = &r->out[r->n++];
    memset(ev, 0, sizeof *ev);
    ev->seq = ++r->b->s.seq;
    ev->kind = (uint8_t)kind;
    ev->seat = (uint8_t)seat;
    return ev;
}

static void history_push(battle *b, const battle_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned slot;
        if (b->s.hist_len < BATTLE_HISTORY) {
            slot = (b->s.hist_head + b->s.hist_len) % BATTLE_HISTORY;
            b->s.hist_len++;
        } else {
            slot = b->s.hist_head;
            b->s.hist_head = (uint8_t)((b->s.hist_head + 1) % BATTLE_HISTORY);
        }
        b->history[slot] = ev[i];
    }
}

static inline unsigned bit(unsigned seat) { return 1u << seat; }

/* ---- validation helpers (read only) ---------------------------------------- */

static int find_rack(const battle_ship *sh, bool *any)
{
    *any = false;
    for (unsigned i = 0; i < sh->stats.nweapons; i++) {
        const ships_weapon *w = &sh->stats.weapons[i];
        if (w->kind != SHIPS_WK_RACK)
            continue;
        *any = true;
        if (w->ammo != 0)
            return (int)i;
    }
    return -1;
}

static int find_sandcaster(const battle_ship *sh, bool *any)
{
    *any = false;
    for (unsigned i = 0; i < sh->stats.nweapons; i++) {
        const ships_weapon *w = &sh->stats.weapons[i];
        if (w->kind != SHIPS_WK_SANDCASTER)
            continue;
        *any = true;
        if (w->ammo != 0)
            return (int)i;
    }
    return -1;
}

static int find_missile(const battle *b, unsigned id)
{
    for (unsigned i = 0; i < b->s.nmissiles; i++)
        if (b->s.missiles[i].id == id)
            return (int)i;
    return -1;
}

static battle_err check_turn(const battle *b, unsigned seat)
{
    if (b->s.acted & bit(seat))
        return BATTLE_ERR_ALREADY_ACTED;
    if (b->s.active != seat)
        return BATTLE_ERR_NOT_YOUR_TURN;
    return BATTLE_OK;
}

static battle_err check_fire(const battle *b, unsigned seat, unsigned w)
{
    const battle_ship *sh = &b->s.ship[seat];
    if (w >= sh->stats.nweapons)
        return BATTLE_ERR_NO_SUCH_WEAPON;
    if (!ships_weapon_fires(sh->stats.weapons[w].kind))
        return BATTLE_ERR_WEAPON_CANNOT_FIRE;
    if (sh->stats.weapons[w].ammo == 0)
        return BATTLE_ERR_OUT_OF_AMMO;
    return BATTLE_OK;
}

static battle_err check_launch(const battle *b, unsigned seat)
{
    bool any;
    if (find_rack(&b->s.ship[seat], &any) < 0)
        return any ? BATTLE_ERR_OUT_OF_AMMO : BATTLE_ERR_NO_MISSILE_RACK;
    if (b->s.nmissiles >= BATTLE_MAX_MISSILES)
        return BATTLE_ERR_TOO_MANY_MISSILES;
    return BATTLE_OK;
}

static battle_err check_sand(const battle *b, unsigned seat)
{
    bool any;
    int idx = find_sandcaster(&b->s.ship[seat], &any);
    if (!any)
        return BATTLE_ERR_NO_SANDCASTER;
    if (b->s.band > BATTLE_BAND_CLOSE)
        return BATTLE_ERR_SAND_OUT_OF_BAND;
    if (b->s.sand_used & bit(seat))
        return BATTLE_ERR_REACTION_USED;
    if (idx < 0)
        return BATTLE_ERR_OUT_OF_AMMO;
    return BATTLE_OK;
}

static battle_err check_pd(const battle *b, unsigned seat, unsigned id)
{
    int i = find_missile(b, id);
    if (i < 0)
        return BATTLE_ERR_NO_SUCH_MISSILE;
    const battle_missile *m = &b->s.missiles[i];
    if ((m->flags & MISSILE_LAUNCHER) == seat)
        return BATTLE_ERR_MISSILE_NOT_INCOMING;
    if (m->flags & MISSILE_PD_TRIED)
        return BATTLE_ERR_REACTION_USED;
    return BATTLE_OK;
}

/* ---- effects (only after validation) --------------------------------------- */

static void end_battle(run *r, unsigned winner, battle_end_reason reason)
{
    battle *b = r->b;
    b->s.status = BATTLE_OVER;
    b->s.winner = (uint8_t)winner;
    b->s.reason = (uint8_t)reason;
    battle_event *ev = emit(r, BATTLE_EV_ENDED, winner);
    ev->u.ended.winner = (uint8_t)winner;
    ev->u.ended.reason = (uint8_t)reason;
    ev->u.ended.rounds = b->s.round;
    ev->u.ended.hull[0] = b->s.ship[0].hull;
    ev->u.ended.hull[1] = b->s.ship[1].hull;
}

/* Tenths of the maximum hull lost so far: 0..10. */
static unsigned tenths_lost(const battle_ship *sh, unsigned hull)
{
    return (unsigned)(((uint32_t)(sh->stats.hull - hull) * 10u) / sh->stats.hull);
}

/* Subtracts damage from a ship's hull (never below 0) and returns how many
 * further tenths of the maximum it lost: each one owes a sustained critical. */
static unsigned take_damage(battle_ship *sh, unsigned damage)
{
    unsigned before = tenths_lost(sh, sh->hull);
    sh->hull = (uint16_t)(damage >= sh->hull ? 0 : sh->hull - damage);
    return tenths_lost(sh, sh->hull) - before;
}

static unsigned roll_location(run *r)
{
    return roll(r) + roll(r) - 2; /* 2D6 2..12 -> 0..10 */
}

/* Applies one critical; returns the sustained criticals it owes in turn. */
static unsigned critical(run *r, unsigned target, unsigned loc, unsigned severity)
{
    battle_ship *sh = &r->b->s.ship[target];
    unsigned extra = 0, owed = 0, crew = 0;
    if (sh->crits[loc] < 255)
        sh->crits[loc]++;
    if (loc == BATTLE_LOC_HULL) {
        for (unsigned i = 0; i < severity; i++)
            extra += roll(r);
        owed = take_damage(sh, extra);
    } else if (loc == BATTLE_LOC_CREW) {
        if (sh->crew_injured < 255)
            sh->crew_injured++;
        crew = 1;
    }
    battle_event *ev = emit(r, BATTLE_EV_CRITICAL, target);
    ev->u.critical.location = (uint8_t)loc;
    ev->u.critical.severity = (uint8_t)severity;
    ev->u.critical.crew_injured = (uint8_t)crew;
    ev->u.critical.extra_damage = (uint16_t)extra;
    ev->u.critical.target_hull = sh->hull;
    return owed;
}

/* Severity-1 criticals for each tenth of hull lost, including tenths lost to
 * hull criticals caused here (at most 10 per ship over a whole battle). */
static void sustained(run *r, unsigned target, unsigned owed)
{
    while (owed > 0 && r->b->s.ship[target].hull > 0) {
        owed--;
        owed += critical(r, target, roll_location(r), 1);
    }
}

static void do_fire(run *r, unsigned seat, unsigned widx)
{
    battle *b = r->b;
    unsigned target = 1u - seat;
    ships_weapon *w = &b->s.ship[seat].stats.weapons[widx];
    battle_ship *def = &b->s.ship[target];

    unsigned d1 = roll(r), d2 = roll(r);
    int total = (int)(d1 + d2) + b->s.ship[seat].stats.pilot + band_dm[b->s.band];
    if (b->s.band >= BATTLE_BAND_LONG)
        total += w->long_range_dm;
    if (w->ammo > 0)
        w->ammo--;
    int effect = total - HIT_TARGET;
    unsigned flags = 0, damage = 0, owed = 0;
    if (total >= HIT_TARGET) {
        flags |= BATTLE_ATTACK_HIT;
        unsigned sum = 0, armour = def->stats.armour;
        for (unsigned i = 0; i < w->dice; i++)
            sum += roll(r);
        if (w->kind == SHIPS_WK_LASER && b->s.sand_bonus[target] > 0) {
            armour += b->s.sand_bonus[target];
            b->s.sand_bonus[target] = 0;
            flags |= BATTLE_ATTACK_SAND_USED;
        }
        damage = sum > armour ? sum - armour : 0;
        owed = take_damage(def, damage);
    }
    battle_event *ev = emit(r, BATTLE_EV_ATTACK, seat);
    ev->u.attack.weapon = (uint8_t)widx;
    ev->u.attack.dice[0] = (uint8_t)d1;
    ev->u.attack.dice[1] = (uint8_t)d2;
    ev->u.attack.total = (int8_t)total;
    ev->u.attack.effect = (int8_t)effect;
    ev->u.attack.flags = (uint8_t)flags;
    ev->u.attack.damage = (uint8_t)damage;
    ev->u.attack.target_hull = def->hull;

    if (effect >= CRIT_EFFECT && damage > 0 && def->hull > 0) {
        unsigned sev = (damage + 9) / 10;
        if (sev > CRIT_MAX_SEVERITY)
            sev = CRIT_MAX_SEVERITY;
        owed += critical(r, target, roll_location(r), sev);
    }
    sustained(r, target, owed);
    if (def->hull == 0)
        end_battle(r, seat, BATTLE_END_DESTROYED);
}

static void do_launch(run *r, unsigned seat)
{
    battle *b = r->b;
    bool any;
    ships_weapon *w = &b->s.ship[seat].stats.weapons[find_rack(&b->s.ship[seat], &any)];
    if (w->ammo > 0)
        w->ammo--;
    battle_missile *m = &b->s.missiles[b->s.nmissiles++];
    m->id = ++b->s.next_missile_id;
    m->band = b->s.band;
    m->flags = (uint8_t)seat;
    battle_event *ev = emit(r, BATTLE_EV_MISSILE_LAUNCHED, seat);
    ev->u.launched.id = m->id;
    ev->u.launched.band = m->band;
    ev->u.launched.ammo_left = (uint8_t)(w->ammo < 0 ? 255 : w->ammo);
}

static void do_pd(run *r, unsigned seat, unsigned id)
{
    battle *b = r->b;
    int i = find_missile(b, id);
    unsigned d1 = roll(r), d2 = roll(r), total = d1 + d2;
    bool destroyed = total >= HIT_TARGET;
    battle_event *ev = emit(r, BATTLE_EV_POINT_DEFENSE, seat);
    ev->u.pd.id = (uint16_t)id;
    ev->u.pd.dice[0] = (uint8_t)d1;
    ev->u.pd.dice[1] = (uint8_t)d2;
    ev->u.pd.total = (int8_t)total;
    ev->u.pd.destroyed = destroyed;
    if (destroyed) {
        memmove(&b->s.missiles[i], &b->s.missiles[i + 1],
                (size_t)(b->s.nmissiles - i - 1) * sizeof b->s.missiles[0]);
        b->s.nmissiles--;
        memset(&b->s.missiles[b->s.nmissiles], 0, sizeof b->s.missiles[0]);
    } else {
        b->s.missiles[i].flags |= MISSILE_PD_TRIED;
    }
}

static void do_sand(run *r, unsigned seat)
{
    battle *b = r->b;
    bool any;
    ships_weapon *w = &b->s.ship[seat].stats.weapons[find_sandcaster(&b->s.ship[seat], &any)];
    if (w->ammo > 0)
        w->ammo--;
    b->s.sand_used |= (uint8_t)bit(seat);
    unsigned d1 = roll(r), d2 = roll(r), total = d1 + d2, bonus = 0;
    bool ok = total >= HIT_TARGET;
    if (ok) {
        bonus = roll(r) + (total - HIT_TARGET);
        b->s.sand_bonus[seat] = (uint8_t)bonus;
    }
    battle_event *ev = emit(r, BATTLE_EV_SANDCASTER, seat);
    ev->u.sand.dice[0] = (uint8_t)d1;
    ev->u.sand.dice[1] = (uint8_t)d2;
    ev->u.sand.total = (int8_t)total;
    ev->u.sand.success = ok;
    ev->u.sand.armour_bonus = (uint8_t)bonus;
    ev->u.sand.ammo_left = (uint8_t)(w->ammo < 0 ? 255 : w->ammo);
}

/* End of round: missiles move and strike, then the draw check, then the next
 * round. Missiles are handled in launch order; the first strike that destroys
 * a ship ends the battle. */
static void round_end(run *r)
{
    battle *b = r->b;
    unsigned i = 0;
    while (i < b->s.nmissiles) {
        battle_missile *m = &b->s.missiles[i];
        unsigned launcher = m->flags & MISSILE_LAUNCHER;
        if (m->band > BATTLE_BAND_ADJACENT) {
            battle_event *ev = emit(r, BATTLE_EV_MISSILE_MOVED, launcher);
            ev->u.moved.id = m->id;
            ev->u.moved.old_band = m->band;
            ev->u.moved.new_band = (uint8_t)(m->band - 1);
            m->band--;
        }
        m->flags &= (uint8_t)~MISSILE_PD_TRIED;
        if (m->band > BATTLE_BAND_ADJACENT) {
            i++;
            continue;
        }
        unsigned target = 1u - launcher;
        uint16_t id = m->id;
        memmove(&b->s.missiles[i], &b->s.missiles[i + 1],
                (size_t)(b->s.nmissiles - i - 1) * sizeof b->s.missiles[0]);
        b->s.nmissiles--;
        memset(&b->s.missiles[b->s.nmissiles], 0, sizeof b->s.missiles[0]);

        battle_ship *def = &b->s.ship[target];
        battle_event *ev = emit(r, BATTLE_EV_MISSILE_STRUCK, target);
        unsigned sum = 0;
        for (unsigned k = 0; k < SHIPS_MISSILE_DICE; k++) {
            unsigned d = roll(r);
            ev->u.struck.dice[k] = (uint8_t)d;
            sum += d;
        }
        unsigned owed = take_damage(def, sum); /* armour ignored */
        ev->u.struck.id = id;
        ev->u.struck.damage = (uint8_t)sum;
        ev->u.struck.target_hull = def->hull;
        sustained(r, target, owed);
        if (def->hull == 0) {
            end_battle(r, launcher, BATTLE_END_DESTROYED);
            return;
        }
    }
    if (b->s.round >= b->s.round_limit) {
        end_battle(r, BATTLE_NO_SEAT, BATTLE_END_DRAW);
        return;
    }
    b->s.round++;
    b->s.acted = 0;
    b->s.sand_used = 0;
    b->s.sand_bonus[0] = b->s.sand_bonus[1] = 0;
    b->s.active = (b->s.round & 1u) ? 0 : 1;
    battle_event *ev = emit(r, BATTLE_EV_ROUND, b->s.active);
    ev->u.round.round = b->s.round;
    ev->u.round.hull[0] = b->s.ship[0].hull;
    ev->u.round.hull[1] = b->s.ship[1].hull;
}

/* The seat's turn action is done: pass the turn or end the round. */
static void complete_turn(run *r, unsigned seat)
{
    battle *b = r->b;
    if (b->s.status != BATTLE_RUNNING)
        return;
    b->s.acted |= (uint8_t)bit(seat);
    if (!(b->s.acted & bit(1u - seat))) {
        b->s.active = (uint8_t)(1u - seat);
        battle_event *ev = emit(r, BATTLE_EV_TURN, b->s.active);
        ev->u.turn.round = b->s.round;
        return;
    }
    round_end(r);
}

/* ---- dispatch -------------------------------------------------------------- */

static battle_err validate(const battle *b, const battle_action *a)
{
    if (a->kind < BATTLE_ACT_FIRE || a->kind >= BATTLE_ACT_COUNT)
        return BATTLE_ERR_BAD_ACTION;
    if (a->seat > 1 && a->kind != BATTLE_ACT_ABANDON && a->kind != BATTLE_ACT_SHUTDOWN)
        return BATTLE_ERR_BAD_SEAT;
    if (b->s.status != BATTLE_RUNNING)
        return BATTLE_ERR_BATTLE_OVER;
    unsigned seat = a->seat;
    battle_err e;
    switch ((battle_action_kind)a->kind) {
    case BATTLE_ACT_FIRE:
        if ((e = check_turn(b, seat)) != BATTLE_OK)
            return e;
        return check_fire(b, seat, a->arg);
    case BATTLE_ACT_LAUNCH:
        if ((e = check_turn(b, seat)) != BATTLE_OK)
            return e;
        return check_launch(b, seat);
    case BATTLE_ACT_END_TURN:
    case BATTLE_ACT_TIMER_EXPIRED:
        return check_turn(b, seat);
    case BATTLE_ACT_POINT_DEFENSE:
        return check_pd(b, seat, a->arg);
    case BATTLE_ACT_SANDCASTER:
        return check_sand(b, seat);
    case BATTLE_ACT_SEAT_AWAY:
        return (b->s.away & bit(seat)) ? BATTLE_ERR_ALREADY_AWAY : BATTLE_OK;
    case BATTLE_ACT_SEAT_BACK:
        return (b->s.away & bit(seat)) ? BATTLE_OK : BATTLE_ERR_NOT_AWAY;
    case BATTLE_ACT_FORFEIT:
    case BATTLE_ACT_SEAT_GONE:
    case BATTLE_ACT_ABANDON:
    case BATTLE_ACT_SHUTDOWN:
        return BATTLE_OK;
    case BATTLE_ACT_COUNT:
        break;
    }
    return BATTLE_ERR_BAD_ACTION;
}

static void timer_expired(run *r, unsigned seat)
{
    battle *b = r->b;
    if (b->s.timeouts[seat] < 255)
        b->s.timeouts[seat]++;
    battle_event *ev = emit(r, BATTLE_EV_TIMEOUT, seat);
    ev->u.timeout.consecutive = b->s.timeouts[seat];
    if (b->s.timeouts[seat] >= b->s.timeout_limit) {
        end_battle(r, 1u - seat, BATTLE_END_TIMEOUTS);
        return;
    }
    if (b->s.timeout_policy == BATTLE_TIMEOUT_FIRE_DEFAULT && check_fire(b, seat, 0) == BATTLE_OK)
        do_fire(r, seat, 0);
    complete_turn(r, seat);
}

static void perform(run *r, const battle_action *a)
{
    battle *b = r->b;
    unsigned seat = a->seat;
    switch ((battle_action_kind)a->kind) {
    case BATTLE_ACT_FIRE:
        b->s.timeouts[seat] = 0;
        do_fire(r, seat, a->arg);
        complete_turn(r, seat);
        break;
    case BATTLE_ACT_LAUNCH:
        b->s.timeouts[seat] = 0;
        do_launch(r, seat);
        complete_turn(r, seat);
        break;
    case BATTLE_ACT_END_TURN:
        b->s.timeouts[seat] = 0;
        complete_turn(r, seat);
        break;
    case BATTLE_ACT_TIMER_EXPIRED:
        timer_expired(r, seat);
        break;
    case BATTLE_ACT_POINT_DEFENSE:
        do_pd(r, seat, a->arg);
        break;
    case BATTLE_ACT_SANDCASTER:
        do_sand(r, seat);
        break;
    case BATTLE_ACT_FORFEIT:
        end_battle(r, 1u - seat, BATTLE_END_FORFEIT);
        break;
    case BATTLE_ACT_SEAT_GONE:
        end_battle(r, 1u - seat, BATTLE_END_DISCONNECTED);
        break;
    case BATTLE_ACT_SEAT_AWAY:
        b->s.away |= (uint8_t)bit(seat);
        emit(r, BATTLE_EV_SEAT_AWAY, seat);
        break;
    case BATTLE_ACT_SEAT_BACK:
        b->s.away &= (uint8_t)~bit(seat);
        emit(r, BATTLE_EV_SEAT_BACK, seat);
        break;
    case BATTLE_ACT_ABANDON:
        end_battle(r, BATTLE_NO_SEAT, BATTLE_END_ABANDONED);
        break;
    case BATTLE_ACT_SHUTDOWN:
        end_battle(r, BATTLE_NO_SEAT, BATTLE_END_SHUTDOWN);
        break;
    case BATTLE_ACT_COUNT:
        break;
    }
}

battle_err battle_apply_dice(battle *b, const battle_action *a, const dice_source *src,
                             battle_event *out, size_t cap, size_t *nev)
{
    if (nev)
        *nev = 0;
    if (!out || cap < BATTLE_MAX_EVENTS_PER_APPLY)
        return BATTLE_ERR_BUFFER;
    battle_err e = validate(b, a);
    if (e != BATTLE_OK)
        return e;
    run r = {b, src, out, 0};
    perform(&r, a);
    history_push(b, out, r.n);
    if (nev)
        *nev = r.n;
    return BATTLE_OK;
}

battle_err battle_apply(battle *b, const battle_action *a, battle_event *out, size_t cap,
                        size_t *nev)
{
    return battle_apply_dice(b, a, NULL, out, cap, nev);
}

/* ---- creation ---------------------------------------------------------------- */

static bool text_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    return n > 0 && n < max;
}

static bool ship_ok(const ships_ship *sh)
{
    if (!text_ok(sh->key, SHIPS_KEY_MAX) || !text_ok(sh->name, SHIPS_NAME_MAX))
        return false;
    if (sh->hull < 1 || sh->hull > SHIPS_MAX_HULL || sh->armour > SHIPS_MAX_ARMOUR)
        return false;
    if (sh->pilot < SHIPS_MIN_PILOT || sh->pilot > SHIPS_MAX_PILOT || sh->thrust > SHIPS_MAX_THRUST)
        return false;
    if (sh->nweapons > SHIPS_MAX_WEAPONS)
        return false;
    for (unsigned i = 0; i < sh->nweapons; i++) {
        const ships_weapon *w = &sh->weapons[i];
        if (!text_ok(w->name, SHIPS_WEAPON_NAME_MAX) || w->kind >= SHIPS_WK_COUNT)
            return false;
        if (w->dice > SHIPS_MAX_DICE || (ships_weapon_fires(w->kind) && w->dice < 1))
            return false;
        if (w->ammo < SHIPS_AMMO_UNLIMITED || w->ammo > SHIPS_MAX_AMMO)
            return false;
        if (w->long_range_dm < -6 || w->long_range_dm > 6)
            return false;
    }
    return true;
}

/* Copies a ship with every unused byte zeroed, so equal setups give equal
 * bytes whatever garbage the caller's struct held past the NULs. */
static void ship_copy(ships_ship *dst, const ships_ship *src)
{
    memset(dst, 0, sizeof *dst);
    memcpy(dst->key, src->key, strnlen(src->key, SHIPS_KEY_MAX));
    memcpy(dst->name, src->name, strnlen(src->name, SHIPS_NAME_MAX));
    dst->hull = src->hull;
    dst->armour = src->armour;
    dst->pilot = src->pilot;
    dst->thrust = src->thrust;
    dst->nweapons = src->nweapons;
    for (unsigned i = 0; i < src->nweapons; i++) {
        const ships_weapon *w = &src->weapons[i];
        ships_weapon *d = &dst->weapons[i];
        memcpy(d->name, w->name, strnlen(w->name, SHIPS_WEAPON_NAME_MAX));
        d->kind = w->kind;
        d->dice = w->dice;
        d->long_range_dm = w->long_range_dm;
        d->ammo = w->ammo;
    }
}

battle_err battle_create(battle *b, const battle_setup *st, battle_event *out, size_t cap,
                         size_t *nev)
{
    if (nev)
        *nev = 0;
    if (!out || cap < BATTLE_MAX_EVENTS_PER_APPLY)
        return BATTLE_ERR_BUFFER;
    if (st->band >= BATTLE_BAND_COUNT || st->timeout_policy > BATTLE_TIMEOUT_END_TURN ||
        st->timeout_limit > BATTLE_MAX_TIMEOUT_LIMIT || st->round_limit > BATTLE_MAX_ROUND_LIMIT ||
        !ship_ok(&st->ship[0]) || !ship_ok(&st->ship[1]))
        return BATTLE_ERR_BAD_SETUP;

    memset(b, 0, sizeof *b);
    dice_seed(&b->s.rng, st->seed, AI_STREAM);
    b->s.ai_key = mix64(st->seed ^ 0x5eedA1A1C0DEULL);
    b->s.round = 1;
    b->s.round_limit = st->round_limit ? st->round_limit : BATTLE_DEFAULT_ROUND_LIMIT;
    b->s.band = st->band;
    b->s.active = 0;
    b->s.status = BATTLE_RUNNING;
    b->s.winner = BATTLE_NO_SEAT;
    b->s.timeout_limit = st->timeout_limit ? st->timeout_limit : BATTLE_DEFAULT_TIMEOUT_LIMIT;
    b->s.timeout_policy = st->timeout_policy;
    for (unsigned s = 0; s < 2; s++) {
        ship_copy(&b->s.ship[s].stats, &st->ship[s]);
        b->s.ship[s].hull = st->ship[s].hull;
    }
    run r = {b, NULL, out, 0};
    battle_event *ev = emit(&r, BATTLE_EV_STARTED, b->s.active);
    ev->u.started.band = b->s.band;
    ev->u.started.round_limit = b->s.round_limit;
    ev->u.started.hull[0] = b->s.ship[0].hull;
    ev->u.started.hull[1] = b->s.ship[1].hull;
    history_push(b, out, r.n);
    if (nev)
        *nev = r.n;
    return BATTLE_OK;
}

battle_err battle_create_quiet(battle *b, const battle_setup *setup)
{
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    return battle_create(b, setup, ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL);
}

battle_err battle_replay(const battle_setup *setup, const battle_action *actions, size_t n,
                         battle *out, size_t *failed_at)
{
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    battle_err e = battle_create_quiet(out, setup);
    if (e != BATTLE_OK) {
        if (failed_at)
            *failed_at = 0;
        return e;
    }
    for (size_t i = 0; i < n; i++) {
        e = battle_apply(out, &actions[i], ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL);
        if (e != BATTLE_OK) {
            if (failed_at)
                *failed_at = i;
            return e;
        }
    }
    return BATTLE_OK;
}

/* ---- reading ------------------------------------------------------------------ */

int battle_history_since(const battle *b, uint32_t after_seq, battle_event *out, size_t cap)
{
    uint32_t last = b->s.seq;
    if (after_seq > last)
        return -1;
    if (after_seq == last)
        return 0;
    uint32_t oldest = last - b->s.hist_len + 1; /* seq of the oldest held event */
    if (b->s.hist_len == 0 || after_seq + 1 < oldest)
        return -1;
    size_t skip = after_seq + 1 - oldest;
    size_t want = b->s.hist_len - skip;
    if (want > cap)
        want = cap;
    for (size_t i = 0; i < want; i++)
        out[i] = b->history[(b->s.hist_head + skip + i) % BATTLE_HISTORY];
    return (int)want;
}

void battle_view_fill(const battle *b, battle_view *v)
{
    memset(v, 0, sizeof *v);
    v->ship[0] = b->s.ship[0];
    v->ship[1] = b->s.ship[1];
    memcpy(v->missiles, b->s.missiles, sizeof v->missiles);
    v->nmissiles = b->s.nmissiles;
    v->band = b->s.band;
    v->status = b->s.status;
    v->active = b->s.active;
    for (unsigned s = 0; s < 2; s++) {
        v->acted[s] = (b->s.acted & bit(s)) != 0;
        v->sand_used[s] = (b->s.sand_used & bit(s)) != 0;
        v->away[s] = (b->s.away & bit(s)) != 0;
        v->sand_bonus[s] = b->s.sand_bonus[s];
        v->timeouts[s] = b->s.timeouts[s];
    }
    v->winner = b->s.winner;
    v->reason = b->s.reason;
    v->round = b->s.round;
    v->round_limit = b->s.round_limit;
    v->last_seq = b->s.seq;
}

bool battle_is_over(const battle *b) { return b->s.status != BATTLE_RUNNING; }
int battle_active_seat(const battle *b) { return battle_is_over(b) ? -1 : b->s.active; }
unsigned battle_round(const battle *b) { return b->s.round; }
uint32_t battle_last_seq(const battle *b) { return b->s.seq; }
battle_end_reason battle_reason(const battle *b) { return (battle_end_reason)b->s.reason; }

int battle_winner(const battle *b)
{
    return (battle_is_over(b) && b->s.winner <= 1) ? b->s.winner : -1;
}

bool battle_action_is_player(unsigned kind)
{
    return kind >= BATTLE_ACT_FIRE && kind <= BATTLE_ACT_FORFEIT;
}
