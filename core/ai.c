/* ai: the server's own opponent. It reads a const battle and proposes one
 * legal action. Its coin flips are a pure function of the battle's AI key and
 * the state (missile id, round), so a decision is stable between calls in the
 * same round and the battle itself stays a function of its action log. */
#include "core/battle.h"

#include <string.h>

#include "util/mix.h"

#define AI_HIT 8
#define AI_BAND_DM_LONG BATTLE_BAND_LONG

static const int8_t ai_band_dm[BATTLE_BAND_COUNT] = {2, 1, 0, 0, -2, -4, -6};

/* Ways out of 36 that 2D6 reaches need or more. */
static unsigned ways_at_least(int need)
{
    unsigned w = 0;
    for (int s = need < 2 ? 2 : need; s <= 12; s++)
        w += (unsigned)(6 - (s > 7 ? s - 7 : 7 - s));
    return w;
}

/* Ways for n d6 (row n, 0..SHIPS_MAX_DICE) to sum to s (column s): the
 * distribution of a damage roll, generated once by convolution. */
_Static_assert(SHIPS_MAX_DICE == 8, "sum_ways was generated for 8 dice");
static const uint32_t sum_ways[SHIPS_MAX_DICE + 1][6 * SHIPS_MAX_DICE + 1] = {
    {
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    },
    {
        0, 1, 1, 1, 1, 1, 1, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    },
    {
        0, 0, 1, 2, 3, 4, 5, 6, 5, 4,
        3, 2, 1, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    },
    {
        0, 0, 0, 1, 3, 6, 10, 15, 21, 25,
        27, 27, 25, 21, 15, 10, 6, 3, 1, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    },
    {
        0, 0, 0, 0, 1, 4, 10, 20, 35, 56,
        80, 104, 125, 140, 146, 140, 125, 104, 80, 56,
        35, 20, 10, 4, 1, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    },
    {
        0, 0, 0, 0, 0, 1, 5, 15, 35, 70,
        126, 205, 305, 420, 540, 651, 735, 780, 780, 735,
        651, 540, 420, 305, 205, 126, 70, 35, 15, 5,
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    },
    {
        0, 0, 0, 0, 0, 0, 1, 6, 21, 56,
        126, 252, 456, 756, 1161, 1666, 2247, 2856, 3431, 3906,
        4221, 4332, 4221, 3906, 3431, 2856, 2247, 1666, 1161, 756,
        456, 252, 126, 56, 21, 6, 1, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    },
    {
        0, 0, 0, 0, 0, 0, 0, 1, 7, 28,
        84, 210, 462, 917, 1667, 2807, 4417, 6538, 9142, 12117,
        15267, 18327, 20993, 22967, 24017, 24017, 22967, 20993, 18327, 15267,
        12117, 9142, 6538, 4417, 2807, 1667, 917, 462, 210, 84,
        28, 7, 1, 0, 0, 0, 0, 0, 0,
    },
    {
        0, 0, 0, 0, 0, 0, 0, 0, 1, 8,
        36, 120, 330, 792, 1708, 3368, 6147, 10480, 16808, 25488,
        36688, 50288, 65808, 82384, 98813, 113688, 125588, 133288, 135954, 133288,
        125588, 113688, 98813, 82384, 65808, 50288, 36688, 25488, 16808, 10480,
        6147, 3368, 1708, 792, 330, 120, 36, 8, 1,
    },
};

/* E[max(0, N d6 - armour)] (N <= SHIPS_MAX_DICE). The sum is at least N, so
 * armour <= N needs no distribution. */
static double expected_excess(unsigned n, unsigned armour)
{
    if (armour <= n)
        return 3.5 * n - armour;
    if (armour >= 6 * n)
        return 0;
    uint64_t total = 0, outcomes = 1;
    for (unsigned d = 0; d < n; d++)
        outcomes *= 6;
    for (unsigned s = armour + 1; s <= 6 * n; s++)
        total += (uint64_t)sum_ways[n][s] * (s - armour);
    return (double)total / (double)outcomes;
}

static bool weapon_ready(const ships_weapon *w)
{
    return ships_weapon_fires(w->kind) && w->ammo != 0;
}

/* Expected hull damage of firing weapon w from seat now. */
static double fire_value(const battle *b, unsigned seat, const ships_weapon *w)
{
    const battle_ship *me = &b->s.ship[seat], *opp = &b->s.ship[1 - seat];
    int mods = me->stats.pilot + ai_band_dm[b->s.band];
    if (b->s.band >= AI_BAND_DM_LONG)
        mods += w->long_range_dm;
    unsigned armour = opp->stats.armour;
    if (w->kind == SHIPS_WK_LASER)
        armour += b->s.sand_bonus[1 - seat];
    return (double)ways_at_least(AI_HIT - mods) / 36.0 * expected_excess(w->dice, armour);
}

static bool has_rack_ammo(const battle_ship *sh)
{
    for (unsigned i = 0; i < sh->stats.nweapons; i++)
        if (sh->stats.weapons[i].kind == SHIPS_WK_RACK && sh->stats.weapons[i].ammo != 0)
            return true;
    return false;
}

static bool has_sand_ammo(const battle_ship *sh)
{
    for (unsigned i = 0; i < sh->stats.nweapons; i++)
        if (sh->stats.weapons[i].kind == SHIPS_WK_SANDCASTER && sh->stats.weapons[i].ammo != 0)
            return true;
    return false;
}

static bool has_ready_laser(const battle_ship *sh)
{
    for (unsigned i = 0; i < sh->stats.nweapons; i++)
        if (sh->stats.weapons[i].kind == SHIPS_WK_LASER && sh->stats.weapons[i].ammo != 0)
            return true;
    return false;
}

static void act(battle_action *out, battle_action_kind kind, int seat, unsigned arg)
{
    out->kind = (uint8_t)kind;
    out->seat = (uint8_t)seat;
    out->arg = (uint16_t)arg;
}

/* The turn action: missiles at Long or farther while any remain, otherwise
 * the direct-fire weapon with the best expected damage; a launch when no gun
 * can beat the armour; end turn when nothing can hurt the opponent. */
static void choose_turn(const battle *b, int seat, battle_action *out)
{
    const battle_ship *me = &b->s.ship[seat];
    bool can_launch = has_rack_ammo(me) && b->s.nmissiles < BATTLE_MAX_MISSILES;

    if (b->s.band >= BATTLE_BAND_LONG) {
        int best = -1;
        double best_v = -1;
        for (unsigned i = 0; i < me->stats.nweapons; i++) {
            const ships_weapon *w = &me->stats.weapons[i];
            if (w->kind == SHIPS_WK_MISSILE && weapon_ready(w)) {
                double v = fire_value(b, (unsigned)seat, w);
                if (v > best_v) {
                    best_v = v;
                    best = (int)i;
                }
            }
        }
        if (best >= 0 && best_v > 0) {
            act(out, BATTLE_ACT_FIRE, seat, (unsigned)best);
            return;
        }
        if (can_launch) {
            act(out, BATTLE_ACT_LAUNCH, seat, 0);
            return;
        }
    }
    int best = -1;
    double best_v = 0;
    for (unsigned i = 0; i < me->stats.nweapons; i++) {
        const ships_weapon *w = &me->stats.weapons[i];
        if (!weapon_ready(w))
            continue;
        /* Limited direct-fire missiles are kept for long range when a gun will do. */
        double v = fire_value(b, (unsigned)seat, w);
        if (w->kind == SHIPS_WK_MISSILE && w->ammo > 0)
            v *= 0.5;
        if (v > best_v) {
            best_v = v;
            best = (int)i;
        }
    }
    if (best >= 0) {
        act(out, BATTLE_ACT_FIRE, seat, (unsigned)best);
        return;
    }
    if (can_launch) {
        act(out, BATTLE_ACT_LAUNCH, seat, 0);
        return;
    }
    act(out, BATTLE_ACT_END_TURN, seat, 0);
}

bool battle_ai_choose(const battle *b, int seat, battle_action *out)
{
    if (seat < 0 || seat > 1 || battle_is_over(b))
        return false;
    const battle_ship *me = &b->s.ship[seat];
    unsigned opp = 1u - (unsigned)seat;

    /* Point defense: a fair coin per incoming missile per round. */
    for (unsigned i = 0; i < b->s.nmissiles; i++) {
        const battle_missile *m = &b->s.missiles[i];
        if ((m->flags & 1u) == (unsigned)seat || (m->flags & 2u))
            continue;
        uint64_t h = mix64(b->s.ai_key ^ ((uint64_t)m->id << 20) ^
                                ((uint64_t)b->s.round << 40) ^ (uint64_t)seat);
        if (h & 1u) {
            act(out, BATTLE_ACT_POINT_DEFENSE, seat, m->id);
            return true;
        }
    }

    /* Sandcaster: when hurt, in band, and the opponent still has a laser shot
     * to take this round (the bonus lasts only this round). */
    if (b->s.band <= BATTLE_BAND_CLOSE && !(b->s.sand_used & (1u << seat)) && has_sand_ammo(me) &&
        me->hull < me->stats.hull && !(b->s.acted & (1u << opp)) &&
        has_ready_laser(&b->s.ship[opp])) {
        act(out, BATTLE_ACT_SANDCASTER, seat, 0);
        return true;
    }

    if (b->s.active == (unsigned)seat && !(b->s.acted & (1u << seat))) {
        choose_turn(b, seat, out);
        return true;
    }
    return false;
}
