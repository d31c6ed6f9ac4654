/* Every rule of docs/RULES.md with forced dice, and every illegal action with
 * proof (memcmp) that it changed nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/battle.h"

/* ---- helpers ----------------------------------------------------------------- */

typedef struct {
    const unsigned *d;
    size_t n, i;
} script;

static unsigned script_d6(void *ctx)
{
    script *s = ctx;
    assert_true(s->i < s->n); /* the engine rolled more dice than the rule says */
    return s->d[s->i++];
}

static ships_ship mk_ship(const char *key, unsigned hull, unsigned armour, int pilot)
{
    ships_ship s;
    memset(&s, 0, sizeof s);
    strcpy(s.key, key);
    strcpy(s.name, key);
    s.hull = (uint16_t)hull;
    s.armour = (uint8_t)armour;
    s.pilot = (int8_t)pilot;
    s.thrust = 1;
    return s;
}

static void add_weapon(ships_ship *s, const char *name, unsigned kind, unsigned dice, int lrdm,
                       int ammo)
{
    ships_weapon *w = &s->weapons[s->nweapons++];
    memset(w, 0, sizeof *w);
    strcpy(w->name, name);
    w->kind = (uint8_t)kind;
    w->dice = (uint8_t)dice;
    w->long_range_dm = (int8_t)lrdm;
    w->ammo = (int16_t)ammo;
}

/* The original's Scout and Free Trader. */
static ships_ship scout(void)
{
    ships_ship s = mk_ship("scout", 40, 4, 2);
    add_weapon(&s, "Pulse Laser", SHIPS_WK_LASER, 2, 0, SHIPS_AMMO_UNLIMITED);
    add_weapon(&s, "Missiles", SHIPS_WK_MISSILE, 4, 2, 6);
    add_weapon(&s, "Missile Rack", SHIPS_WK_RACK, 0, 0, 12);
    add_weapon(&s, "Sandcaster", SHIPS_WK_SANDCASTER, 0, 0, 20);
    return s;
}

static ships_ship trader(void)
{
    ships_ship s = mk_ship("free_trader", 80, 2, 1);
    add_weapon(&s, "Beam Laser", SHIPS_WK_LASER, 3, 0, SHIPS_AMMO_UNLIMITED);
    add_weapon(&s, "Beam Laser", SHIPS_WK_LASER, 3, 0, SHIPS_AMMO_UNLIMITED);
    return s;
}

static battle_setup setup2(ships_ship a, ships_ship b, unsigned band)
{
    battle_setup st;
    memset(&st, 0, sizeof st);
    st.seed = 42;
    st.ship[0] = a;
    st.ship[1] = b;
    st.band = (uint8_t)band;
    return st;
}

static battle_event evs[BATTLE_MAX_EVENTS_PER_APPLY];
static size_t nev;

static void start(battle *b, const battle_setup *st)
{
    assert_int_equal(battle_create(b, st, evs, BATTLE_MAX_EVENTS_PER_APPLY, &nev), BATTLE_OK);
}

static battle_err act_d(battle *b, unsigned kind, unsigned seat, unsigned arg, const unsigned *dice,
                        size_t ndice)
{
    script s = {dice, ndice, 0};
    dice_source src = {script_d6, &s};
    battle_action a = {(uint8_t)kind, (uint8_t)seat, (uint16_t)arg};
    battle_err e = battle_apply_dice(b, &a, &src, evs, BATTLE_MAX_EVENTS_PER_APPLY, &nev);
    if (e == BATTLE_OK)
        assert_int_equal(s.i, ndice); /* every forced die was used */
    return e;
}

#define ACT(b, kind, seat, arg, ...)                                                            \
    act_d(b, kind, seat, arg, (const unsigned[]){0, __VA_ARGS__} + 1,                           \
          sizeof((const unsigned[]){0, __VA_ARGS__}) / sizeof(unsigned) - 1)
#define ACT0(b, kind, seat, arg) act_d(b, kind, seat, arg, NULL, 0)

static const battle_event *find_ev(unsigned kind)
{
    for (size_t i = 0; i < nev; i++)
        if (evs[i].kind == kind)
            return &evs[i];
    return NULL;
}

static size_t count_ev(unsigned kind)
{
    size_t c = 0;
    for (size_t i = 0; i < nev; i++)
        c += evs[i].kind == kind;
    return c;
}

static const int band_dm[7] = {2, 1, 0, 0, -2, -4, -6};

/* ---- attack roll: range DMs at all seven bands ---------------------------------- */

static void test_range_dm_every_band(void **state)
{
    (void)state;
    for (unsigned band = 0; band < BATTLE_BAND_COUNT; band++) {
        /* Scout pilot 2, Pulse Laser (no long-range DM): needs 2D6 >= 6 - dm. */
        int need = 8 - 2 - band_dm[band];
        battle_setup st = setup2(scout(), mk_ship("target", 100, 0, 0), band);
        battle b;
        if (need <= 12) {
            /* exactly the needed sum hits with Effect 0 */
            start(&b, &st);
            unsigned d1 = (unsigned)(need > 7 ? 6 : need - 1), d2 = (unsigned)need - d1;
            assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, d1, d2, 3, 3), BATTLE_OK);
            const battle_event *ev = find_ev(BATTLE_EV_ATTACK);
            assert_non_null(ev);
            assert_int_equal(ev->u.attack.total, 8);
            assert_int_equal(ev->u.attack.effect, 0);
            assert_true(ev->u.attack.flags & BATTLE_ATTACK_HIT);
            assert_int_equal(ev->u.attack.damage, 6);
            assert_int_equal(ev->u.attack.target_hull, 94);
        }
        if (need - 1 >= 2) {
            /* one less misses: no damage dice rolled */
            start(&b, &st);
            unsigned s = (unsigned)need - 1;
            unsigned d1 = s > 7 ? 6 : s - 1, d2 = s - d1;
            assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, d1, d2), BATTLE_OK);
            const battle_event *ev = find_ev(BATTLE_EV_ATTACK);
            assert_int_equal(ev->u.attack.total, 7);
            assert_int_equal(ev->u.attack.effect, -1);
            assert_false(ev->u.attack.flags & BATTLE_ATTACK_HIT);
            assert_int_equal(ev->u.attack.damage, 0);
            assert_int_equal(ev->u.attack.target_hull, 100);
        }
        /* Fixed roll 6+6 at every band: total = 12 + pilot + DM; Effect >= 6
         * with damage owes a critical (location 1+1: sensors). */
        start(&b, &st);
        static const unsigned crit_dice[] = {6, 6, 1, 1, 1, 1};
        assert_int_equal(act_d(&b, BATTLE_ACT_FIRE, 0, 0, crit_dice, 6 + band_dm[band] >= 6 ? 6 : 4),
                         BATTLE_OK);
        assert_int_equal(count_ev(BATTLE_EV_CRITICAL), 6 + band_dm[band] >= 6 ? 1 : 0);
        assert_int_equal(find_ev(BATTLE_EV_ATTACK)->u.attack.total, 14 + band_dm[band]);
    }
}

static void test_missiles_weapon_long_range_bonus(void **state)
{
    (void)state;
    for (unsigned band = 0; band < BATTLE_BAND_COUNT; band++) {
        battle_setup st = setup2(scout(), mk_ship("target", 100, 0, 0), band);
        battle b;
        start(&b, &st);
        /* 2+2 on the attack: total = 4 + 2 pilot + DM (+2 at Long or farther). */
        int total = 6 + band_dm[band] + (band >= BATTLE_BAND_LONG ? 2 : 0);
        if (total >= 8)
            assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 1, 2, 2, 1, 1, 1, 1), BATTLE_OK);
        else
            assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 1, 2, 2), BATTLE_OK);
        const battle_event *ev = find_ev(BATTLE_EV_ATTACK);
        assert_int_equal(ev->u.attack.total, total);
        assert_int_equal(ev->u.attack.weapon, 1);
        battle_view v;
        battle_view_fill(&b, &v);
        assert_int_equal(v.ship[0].stats.weapons[1].ammo, 5); /* spent, hit or miss */
    }
}

/* ---- damage ------------------------------------------------------------------- */

static void test_damage_minus_armour_never_negative(void **state)
{
    (void)state;
    /* Free Trader (pilot 1) fires a 3D6 beam at the Scout (armour 4) at Short. */
    battle_setup st = setup2(trader(), scout(), BATTLE_BAND_SHORT);
    battle b;
    start(&b, &st);
    /* 12 - 4 = 8 lost of 40: two tenths, two sustained criticals (1+1: sensors) */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 4, 4, 6, 5, 1, 1, 1, 1, 1), BATTLE_OK);
    assert_int_equal(count_ev(BATTLE_EV_CRITICAL), 2);
    const battle_event *ev = find_ev(BATTLE_EV_ATTACK);
    assert_int_equal(ev->u.attack.damage, 8);
    assert_int_equal(ev->u.attack.target_hull, 32);
    /* seat 1 answers; then round 2 begins with seat 1 */
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    /* a hit that does not beat armour: hit, 0 damage */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 4, 4, 1, 1, 1), BATTLE_OK);
    ev = find_ev(BATTLE_EV_ATTACK);
    assert_true(ev->u.attack.flags & BATTLE_ATTACK_HIT);
    assert_int_equal(ev->u.attack.damage, 0);
    assert_int_equal(ev->u.attack.target_hull, 32);
}

static void test_destroyed_ends_battle(void **state)
{
    (void)state;
    battle_setup st = setup2(trader(), mk_ship("tiny", 5, 0, 0), BATTLE_BAND_SHORT);
    battle b;
    start(&b, &st);
    /* 4+3+1 = 8 hits with Effect 0, damage 3+3+3 = 9 >= hull 5; no criticals on a wreck */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 4, 3, 3, 3, 3), BATTLE_OK);
    assert_null(find_ev(BATTLE_EV_CRITICAL));
    const battle_event *end = find_ev(BATTLE_EV_ENDED);
    assert_non_null(end);
    assert_int_equal(end->u.ended.winner, 0);
    assert_int_equal(end->u.ended.reason, BATTLE_END_DESTROYED);
    assert_int_equal(end->u.ended.hull[1], 0);
    assert_int_equal(end->u.ended.rounds, 1);
    assert_null(find_ev(BATTLE_EV_TURN));
    assert_true(battle_is_over(&b));
    assert_int_equal(battle_winner(&b), 0);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_ERR_BATTLE_OVER);
}

/* ---- sandcaster ------------------------------------------------------------------ */

static void test_sandcaster_bonus_next_laser_hit_only(void **state)
{
    (void)state;
    ships_ship sand = mk_ship("sandy", 100, 0, 0);
    add_weapon(&sand, "Sandcaster", SHIPS_WK_SANDCASTER, 0, 0, 20);
    ships_ship att = mk_ship("att", 100, 0, 0);
    add_weapon(&att, "Laser", SHIPS_WK_LASER, 3, 0, SHIPS_AMMO_UNLIMITED);
    add_weapon(&att, "Gun", SHIPS_WK_GUN, 3, 0, SHIPS_AMMO_UNLIMITED);
    battle_setup st = setup2(att, sand, BATTLE_BAND_CLOSE);
    battle b;
    start(&b, &st);
    /* seat 1 casts sand off-turn: 5+5 = 10 -> Effect 2, bonus 1D6(3) + 2 = 5 */
    assert_int_equal(ACT(&b, BATTLE_ACT_SANDCASTER, 1, 0, 5, 5, 3), BATTLE_OK);
    const battle_event *ev = find_ev(BATTLE_EV_SANDCASTER);
    assert_true(ev->u.sand.success);
    assert_int_equal(ev->u.sand.armour_bonus, 5);
    assert_int_equal(ev->u.sand.ammo_left, 19);
    assert_int_equal(ev->u.sand.total, 10);
    /* a gun hit does not use the bonus: 6+6+1 DM = 13, damage 4+4+4 = 12 */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 1, 6, 6, 4, 4, 4, 1, 1), BATTLE_OK);
    ev = find_ev(BATTLE_EV_ATTACK);
    assert_int_equal(ev->u.attack.damage, 12);
    assert_false(ev->u.attack.flags & BATTLE_ATTACK_SAND_USED);
    /* Effect 5 < 6, but tenth crossed -> one sustained critical (location dice 1,1) */
    assert_int_equal(count_ev(BATTLE_EV_CRITICAL), 1);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK); /* round 2, seat 1 first */
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    /* the bonus lasted only for round 1: a laser hit in round 2 gets full damage */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 4, 4, 2, 2, 2), BATTLE_OK);
    ev = find_ev(BATTLE_EV_ATTACK);
    assert_int_equal(ev->u.attack.damage, 6);
    assert_false(ev->u.attack.flags & BATTLE_ATTACK_SAND_USED);
    /* round 3: sand again (success 4+4, bonus 6+0), then two laser hits */
    assert_int_equal(ACT(&b, BATTLE_ACT_SANDCASTER, 1, 0, 4, 4, 6), BATTLE_OK);
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 4, 4, 5, 5, 5, 1, 1), BATTLE_OK);
    ev = find_ev(BATTLE_EV_ATTACK);
    assert_int_equal(ev->u.attack.damage, 9); /* 15 - 6; 27 lost crosses the second tenth */
    assert_true(ev->u.attack.flags & BATTLE_ATTACK_SAND_USED);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK); /* round 4 */
    battle_view v;
    battle_view_fill(&b, &v);
    assert_int_equal(v.sand_bonus[1], 0);
    assert_int_equal(v.ship[1].stats.weapons[0].ammo, 18);
}

static void test_sandcaster_failure_spends_canister(void **state)
{
    (void)state;
    battle_setup st = setup2(scout(), trader(), BATTLE_BAND_ADJACENT);
    battle b;
    start(&b, &st);
    assert_int_equal(ACT(&b, BATTLE_ACT_SANDCASTER, 0, 0, 3, 4), BATTLE_OK); /* 7: fails, no 1D6 */
    const battle_event *ev = find_ev(BATTLE_EV_SANDCASTER);
    assert_false(ev->u.sand.success);
    assert_int_equal(ev->u.sand.armour_bonus, 0);
    assert_int_equal(ev->u.sand.ammo_left, 19);
    /* one per round */
    battle before = b;
    assert_int_equal(ACT0(&b, BATTLE_ACT_SANDCASTER, 0, 0), BATTLE_ERR_REACTION_USED);
    assert_memory_equal(&before, &b, sizeof b);
}

static void test_sandcaster_band_limit(void **state)
{
    (void)state;
    for (unsigned band = 0; band < BATTLE_BAND_COUNT; band++) {
        battle_setup st = setup2(scout(), trader(), band);
        battle b;
        start(&b, &st);
        battle before = b;
        if (band <= BATTLE_BAND_CLOSE) {
            assert_int_equal(ACT(&b, BATTLE_ACT_SANDCASTER, 0, 0, 1, 1), BATTLE_OK);
        } else {
            assert_int_equal(ACT0(&b, BATTLE_ACT_SANDCASTER, 0, 0), BATTLE_ERR_SAND_OUT_OF_BAND);
            assert_memory_equal(&before, &b, sizeof b);
        }
    }
}

/* ---- criticals ---------------------------------------------------------------------- */

static void test_effect_critical_severity_and_hull(void **state)
{
    (void)state;
    /* attacker pilot 2 at Adjacent (+2): 6+6 -> 16, Effect 8 */
    ships_ship att = mk_ship("att", 100, 0, 2);
    add_weapon(&att, "Big", SHIPS_WK_GUN, 8, 0, SHIPS_AMMO_UNLIMITED);
    battle_setup st = setup2(att, mk_ship("def", 1000, 0, 0), BATTLE_BAND_ADJACENT);
    battle b;
    start(&b, &st);
    /* damage 8 dice = 6*3 + 1*5 = 23 -> severity 3; location 3+4 = 7 -> hull; 3D6 = 2,2,2 */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 6, 6, 6, 6, 6, 1, 1, 1, 1, 1, 3, 4, 2, 2, 2),
                     BATTLE_OK);
    const battle_event *ev = find_ev(BATTLE_EV_ATTACK);
    assert_int_equal(ev->u.attack.effect, 8);
    assert_int_equal(ev->u.attack.damage, 23);
    const battle_event *c = find_ev(BATTLE_EV_CRITICAL);
    assert_non_null(c);
    assert_int_equal(c->seat, 1);
    assert_int_equal(c->u.critical.location, BATTLE_LOC_HULL);
    assert_int_equal(c->u.critical.severity, 3);
    assert_int_equal(c->u.critical.extra_damage, 6);
    assert_int_equal(c->u.critical.target_hull, 1000 - 23 - 6);
    assert_int_equal(count_ev(BATTLE_EV_CRITICAL), 1); /* 29 lost < 100: no tenth crossed */
    battle_view v;
    battle_view_fill(&b, &v);
    assert_int_equal(v.ship[1].crits[BATTLE_LOC_HULL], 1);
}

static void test_effect_critical_severity_capped_and_crew(void **state)
{
    (void)state;
    ships_ship att = mk_ship("att", 100, 0, 6);
    add_weapon(&att, "Huge", SHIPS_WK_GUN, 8, 0, SHIPS_AMMO_UNLIMITED);
    battle_setup st = setup2(att, mk_ship("def", 10000, 0, 0), BATTLE_BAND_ADJACENT);
    battle b;
    start(&b, &st);
    /* 48 damage -> ceil(4.8) = 5; crew at 5+6 = 11 */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 6), BATTLE_OK);
    const battle_event *c = find_ev(BATTLE_EV_CRITICAL);
    assert_int_equal(c->u.critical.severity, 5);
    assert_int_equal(c->u.critical.location, BATTLE_LOC_CREW);
    assert_int_equal(c->u.critical.crew_injured, 1);
    assert_int_equal(c->u.critical.extra_damage, 0);
    battle_view v;
    battle_view_fill(&b, &v);
    assert_int_equal(v.ship[1].crew_injured, 1);
    assert_int_equal(v.ship[1].crits[BATTLE_LOC_CREW], 1);
}

static void test_no_effect_critical_without_damage(void **state)
{
    (void)state;
    ships_ship att = mk_ship("att", 100, 0, 6);
    add_weapon(&att, "Pea", SHIPS_WK_GUN, 1, 0, SHIPS_AMMO_UNLIMITED);
    battle_setup st = setup2(att, mk_ship("def", 100, 30, 0), BATTLE_BAND_ADJACENT);
    battle b;
    start(&b, &st);
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 6, 6, 6), BATTLE_OK); /* Effect 12, dmg 0 */
    assert_int_equal(find_ev(BATTLE_EV_ATTACK)->u.attack.effect, 12);
    assert_null(find_ev(BATTLE_EV_CRITICAL));
}

static void test_sustained_criticals_each_tenth(void **state)
{
    (void)state;
    ships_ship att = mk_ship("att", 100, 0, 0);
    add_weapon(&att, "Gun", SHIPS_WK_GUN, 4, 0, SHIPS_AMMO_UNLIMITED);
    battle_setup st = setup2(att, mk_ship("def", 50, 0, 0), BATTLE_BAND_SHORT);
    battle b;
    start(&b, &st);
    /* 4+4 = 8 Effect 0; damage 4 < 5: no tenth */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 4, 4, 1, 1, 1, 1), BATTLE_OK);
    assert_null(find_ev(BATTLE_EV_CRITICAL));
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    /* lost 4 -> 4 + 12 = 16: crosses 5, 10, 15 -> three severity-1 criticals
     * at sensors (1,1), cargo (4,5), m_drive (3,5) */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 4, 4, 3, 3, 3, 3, 1, 1, 4, 5, 3, 5),
                     BATTLE_OK);
    assert_int_equal(count_ev(BATTLE_EV_CRITICAL), 3);
    size_t k = 0;
    const unsigned want[3] = {BATTLE_LOC_SENSORS, BATTLE_LOC_CARGO, BATTLE_LOC_M_DRIVE};
    for (size_t i = 0; i < nev; i++)
        if (evs[i].kind == BATTLE_EV_CRITICAL) {
            assert_int_equal(evs[i].u.critical.severity, 1);
            assert_int_equal(evs[i].u.critical.location, want[k++]);
        }
}

static void test_sustained_hull_critical_cascades(void **state)
{
    (void)state;
    ships_ship att = mk_ship("att", 100, 0, 0);
    add_weapon(&att, "Gun", SHIPS_WK_GUN, 1, 0, SHIPS_AMMO_UNLIMITED);
    battle_setup st = setup2(att, mk_ship("def", 10, 0, 0), BATTLE_BAND_SHORT);
    battle b;
    start(&b, &st);
    /* 1 damage crosses one tenth; sustained crit at hull (2+5) does 1D6 = 2 more,
     * crossing two more tenths -> two more crits (sensors 1+1, cargo 4+5). */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 4, 4, 1, 2, 5, 2, 1, 1, 4, 5), BATTLE_OK);
    assert_int_equal(count_ev(BATTLE_EV_CRITICAL), 3);
    const battle_event *c = find_ev(BATTLE_EV_CRITICAL);
    assert_int_equal(c->u.critical.location, BATTLE_LOC_HULL);
    assert_int_equal(c->u.critical.extra_damage, 2);
    assert_int_equal(c->u.critical.target_hull, 7);
}

/* ---- missiles in flight and point defense ------------------------------------------ */

static void test_missile_flight_and_strike_every_band(void **state)
{
    (void)state;
    for (unsigned band = 0; band < BATTLE_BAND_COUNT; band++) {
        battle_setup st = setup2(scout(), mk_ship("def", 200, 30, 0), band);
        battle b;
        start(&b, &st);
        assert_int_equal(ACT0(&b, BATTLE_ACT_LAUNCH, 0, 0), BATTLE_OK);
        const battle_event *ev = find_ev(BATTLE_EV_MISSILE_LAUNCHED);
        assert_int_equal(ev->u.launched.id, 1);
        assert_int_equal(ev->u.launched.band, band);
        assert_int_equal(ev->u.launched.ammo_left, 11);
        /* it moves one band each round end; strikes on reaching Adjacent */
        unsigned rounds = band == 0 ? 1 : band;
        for (unsigned r = 1; r <= rounds; r++) {
            unsigned seat = (r & 1) ? 1 : 0; /* second actor of round r */
            if (r > 1)
                assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1 - seat, 0), BATTLE_OK);
            if (r < rounds) {
                assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, seat, 0), BATTLE_OK);
                const battle_event *mv = find_ev(BATTLE_EV_MISSILE_MOVED);
                assert_non_null(mv);
                assert_int_equal(mv->u.moved.old_band, band - r + 1);
                assert_int_equal(mv->u.moved.new_band, band - r);
                assert_null(find_ev(BATTLE_EV_MISSILE_STRUCK));
            } else {
                /* 4D6 = 6,5,4,3 = 18, armour 30 ignored */
                assert_int_equal(ACT(&b, BATTLE_ACT_END_TURN, seat, 0, 6, 5, 4, 3), BATTLE_OK);
                const battle_event *s = find_ev(BATTLE_EV_MISSILE_STRUCK);
                assert_non_null(s);
                assert_int_equal(s->seat, 1);
                assert_int_equal(s->u.struck.id, 1);
                assert_int_equal(s->u.struck.damage, 18);
                assert_int_equal(s->u.struck.dice[3], 3);
                assert_int_equal(s->u.struck.target_hull, 182);
                assert_int_equal(count_ev(BATTLE_EV_MISSILE_MOVED), band == 0 ? 0 : 1);
                /* the strike comes before the new round */
                assert_true(find_ev(BATTLE_EV_ROUND) > s);
            }
        }
        battle_view v;
        battle_view_fill(&b, &v);
        assert_int_equal(v.nmissiles, 0);
    }
}

static void test_point_defense_once_per_missile_per_round(void **state)
{
    (void)state;
    battle_setup st = setup2(scout(), trader(), BATTLE_BAND_MEDIUM);
    battle b;
    start(&b, &st);
    assert_int_equal(ACT0(&b, BATTLE_ACT_LAUNCH, 0, 0), BATTLE_OK);
    battle before = b;
    /* the launcher cannot shoot its own missile */
    assert_int_equal(ACT0(&b, BATTLE_ACT_POINT_DEFENSE, 0, 1), BATTLE_ERR_MISSILE_NOT_INCOMING);
    assert_int_equal(ACT0(&b, BATTLE_ACT_POINT_DEFENSE, 1, 7), BATTLE_ERR_NO_SUCH_MISSILE);
    assert_memory_equal(&before, &b, sizeof b);
    /* 3+4 = 7 misses; a second try this round is refused */
    assert_int_equal(ACT(&b, BATTLE_ACT_POINT_DEFENSE, 1, 1, 3, 4), BATTLE_OK);
    const battle_event *ev = find_ev(BATTLE_EV_POINT_DEFENSE);
    assert_int_equal(ev->seat, 1);
    assert_int_equal(ev->u.pd.total, 7);
    assert_false(ev->u.pd.destroyed);
    before = b;
    assert_int_equal(ACT0(&b, BATTLE_ACT_POINT_DEFENSE, 1, 1), BATTLE_ERR_REACTION_USED);
    assert_memory_equal(&before, &b, sizeof b);
    /* reactions do not consume the turn: seat 1 still acts */
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    assert_non_null(find_ev(BATTLE_EV_MISSILE_MOVED));
    /* next round: allowed again; 4+4 destroys it */
    assert_int_equal(ACT(&b, BATTLE_ACT_POINT_DEFENSE, 1, 1, 4, 4), BATTLE_OK);
    assert_true(find_ev(BATTLE_EV_POINT_DEFENSE)->u.pd.destroyed);
    battle_view v;
    battle_view_fill(&b, &v);
    assert_int_equal(v.nmissiles, 0);
    assert_int_equal(ACT0(&b, BATTLE_ACT_POINT_DEFENSE, 1, 1), BATTLE_ERR_NO_SUCH_MISSILE);
}

/* docs/PROTOCOL.md (sections 8 and 11) tells clients how many events a resume can replay. */
static void test_history_length_is_documented(void **state)
{
    (void)state;
    assert_int_equal(BATTLE_HISTORY, 27);
}

static void test_missile_rack_ammo(void **state)
{
    (void)state;
    ships_ship s = scout();
    s.weapons[2].ammo = 1;
    battle_setup st = setup2(s, trader(), BATTLE_BAND_DISTANT);
    battle b;
    start(&b, &st);
    assert_int_equal(ACT0(&b, BATTLE_ACT_LAUNCH, 0, 0), BATTLE_OK);
    assert_int_equal(find_ev(BATTLE_EV_MISSILE_LAUNCHED)->u.launched.ammo_left, 0);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    battle before = b;
    assert_int_equal(ACT0(&b, BATTLE_ACT_LAUNCH, 0, 0), BATTLE_ERR_NOT_YOUR_TURN);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    before = b;
    assert_int_equal(ACT0(&b, BATTLE_ACT_LAUNCH, 0, 0), BATTLE_ERR_OUT_OF_AMMO);
    assert_memory_equal(&before, &b, sizeof b);
    /* the Free Trader carries no missiles (the reference gave every ship 12) */
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 0, 0), BATTLE_OK); /* round 3 */
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 0, 0), BATTLE_OK);
    assert_int_equal(ACT0(&b, BATTLE_ACT_LAUNCH, 1, 0), BATTLE_ERR_NO_MISSILE_RACK);
}

static void test_weapon_ammo_runs_out(void **state)
{
    (void)state;
    ships_ship s = scout();
    s.weapons[1].ammo = 1;
    battle_setup st = setup2(s, mk_ship("def", 200, 30, 0), BATTLE_BAND_SHORT);
    battle b;
    start(&b, &st);
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 1, 1, 1), BATTLE_OK);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    battle before = b;
    assert_int_equal(ACT0(&b, BATTLE_ACT_FIRE, 0, 1), BATTLE_ERR_OUT_OF_AMMO);
    assert_memory_equal(&before, &b, sizeof b);
    /* the unlimited laser keeps firing */
    assert_int_equal(ACT(&b, BATTLE_ACT_FIRE, 0, 0, 1, 1), BATTLE_OK);
}

/* ---- turn order ---------------------------------------------------------------------- */

static void test_turn_order_by_parity(void **state)
{
    (void)state;
    battle_setup st = setup2(trader(), trader(), BATTLE_BAND_DISTANT);
    st.round_limit = 500;
    battle b;
    start(&b, &st);
    assert_int_equal(evs[0].kind, BATTLE_EV_STARTED);
    assert_int_equal(evs[0].seq, 1);
    assert_int_equal(evs[0].seat, 0);
    uint32_t seq = 1;
    for (unsigned r = 1; r <= 499; r++) {
        unsigned first = (r & 1) ? 0 : 1;
        assert_int_equal(battle_round(&b), r);
        assert_int_equal(battle_active_seat(&b), first);
        battle before = b;
        assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1 - first, 0), BATTLE_ERR_NOT_YOUR_TURN);
        assert_memory_equal(&before, &b, sizeof b);
        assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, first, 0), BATTLE_OK);
        assert_int_equal(nev, 1);
        assert_int_equal(evs[0].kind, BATTLE_EV_TURN);
        assert_int_equal(evs[0].seat, 1 - first);
        assert_int_equal(evs[0].u.turn.round, r);
        assert_int_equal(evs[0].seq, ++seq);
        before = b;
        assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, first, 0), BATTLE_ERR_ALREADY_ACTED);
        assert_int_equal(ACT0(&b, BATTLE_ACT_FIRE, first, 0), BATTLE_ERR_ALREADY_ACTED);
        assert_memory_equal(&before, &b, sizeof b);
        assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1 - first, 0), BATTLE_OK);
        assert_int_equal(nev, 1);
        assert_int_equal(evs[0].kind, BATTLE_EV_ROUND);
        assert_int_equal(evs[0].u.round.round, r + 1);
        assert_int_equal(evs[0].seat, ((r + 1) & 1) ? 0 : 1);
        assert_int_equal(evs[0].u.round.hull[0], 80);
        assert_int_equal(evs[0].seq, ++seq);
    }
}

/* ---- illegal actions change nothing ------------------------------------------------------ */

static void test_illegal_actions_change_nothing(void **state)
{
    (void)state;
    ships_ship unarmed = mk_ship("unarmed", 50, 0, 1);
    battle_setup st = setup2(scout(), unarmed, BATTLE_BAND_SHORT);
    battle b;
    start(&b, &st);
    assert_int_equal(ACT0(&b, BATTLE_ACT_LAUNCH, 0, 0), BATTLE_OK); /* something in flight */
    struct {
        battle_action a;
        battle_err want;
    } cases[] = {
        {{0, 0, 0}, BATTLE_ERR_BAD_ACTION},
        {{BATTLE_ACT_COUNT, 1, 0}, BATTLE_ERR_BAD_ACTION},
        {{200, 1, 0}, BATTLE_ERR_BAD_ACTION},
        {{BATTLE_ACT_FIRE, 2, 0}, BATTLE_ERR_BAD_SEAT},
        {{BATTLE_ACT_FORFEIT, 7, 0}, BATTLE_ERR_BAD_SEAT},
        {{BATTLE_ACT_FIRE, 0, 0}, BATTLE_ERR_ALREADY_ACTED},
        {{BATTLE_ACT_LAUNCH, 0, 0}, BATTLE_ERR_ALREADY_ACTED},
        {{BATTLE_ACT_END_TURN, 0, 0}, BATTLE_ERR_ALREADY_ACTED},
        {{BATTLE_ACT_TIMER_EXPIRED, 0, 0}, BATTLE_ERR_ALREADY_ACTED},
        {{BATTLE_ACT_FIRE, 1, 0}, BATTLE_ERR_NO_SUCH_WEAPON},
        {{BATTLE_ACT_FIRE, 1, 65535}, BATTLE_ERR_NO_SUCH_WEAPON},
        {{BATTLE_ACT_LAUNCH, 1, 0}, BATTLE_ERR_NO_MISSILE_RACK},
        {{BATTLE_ACT_SANDCASTER, 1, 0}, BATTLE_ERR_NO_SANDCASTER},
        {{BATTLE_ACT_SANDCASTER, 0, 0}, BATTLE_ERR_SAND_OUT_OF_BAND},
        {{BATTLE_ACT_POINT_DEFENSE, 1, 2}, BATTLE_ERR_NO_SUCH_MISSILE},
        {{BATTLE_ACT_POINT_DEFENSE, 0, 1}, BATTLE_ERR_MISSILE_NOT_INCOMING},
        {{BATTLE_ACT_SEAT_BACK, 0, 0}, BATTLE_ERR_NOT_AWAY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        battle before = b;
        size_t n = 99;
        battle_err e = battle_apply(&b, &cases[i].a, evs, BATTLE_MAX_EVENTS_PER_APPLY, &n);
        assert_int_equal(e, cases[i].want);
        assert_int_equal(n, 0);
        assert_memory_equal(&before, &b, sizeof b);
        assert_string_not_equal(battle_err_name(e), "unknown");
    }
    /* a small event buffer is refused before anything happens */
    battle before = b;
    battle_action ok = {BATTLE_ACT_END_TURN, 1, 0};
    assert_int_equal(battle_apply(&b, &ok, evs, BATTLE_MAX_EVENTS_PER_APPLY - 1, NULL),
                     BATTLE_ERR_BUFFER);
    assert_int_equal(battle_apply(&b, &ok, NULL, 0, NULL), BATTLE_ERR_BUFFER);
    assert_memory_equal(&before, &b, sizeof b);
    /* weapon that cannot fire: the Scout's rack (2) and sandcaster (3) */
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK);
    before = b;
    assert_int_equal(ACT0(&b, BATTLE_ACT_FIRE, 0, 2), BATTLE_ERR_WEAPON_CANNOT_FIRE);
    assert_int_equal(ACT0(&b, BATTLE_ACT_FIRE, 0, 3), BATTLE_ERR_WEAPON_CANNOT_FIRE);
    assert_memory_equal(&before, &b, sizeof b);
    /* away twice */
    assert_int_equal(ACT0(&b, BATTLE_ACT_SEAT_AWAY, 1, 0), BATTLE_OK);
    assert_int_equal(find_ev(BATTLE_EV_SEAT_AWAY)->seat, 1);
    before = b;
    assert_int_equal(ACT0(&b, BATTLE_ACT_SEAT_AWAY, 1, 0), BATTLE_ERR_ALREADY_AWAY);
    assert_memory_equal(&before, &b, sizeof b);
    assert_int_equal(ACT0(&b, BATTLE_ACT_SEAT_BACK, 1, 0), BATTLE_OK);
    assert_int_equal(find_ev(BATTLE_EV_SEAT_BACK)->seat, 1);
    /* after the end everything is refused */
    assert_int_equal(ACT0(&b, BATTLE_ACT_FORFEIT, 1, 0), BATTLE_OK);
    for (unsigned k = BATTLE_ACT_FIRE; k < BATTLE_ACT_COUNT; k++) {
        battle_action a = {(uint8_t)k, 0, 0};
        before = b;
        assert_int_equal(battle_apply(&b, &a, evs, BATTLE_MAX_EVENTS_PER_APPLY, NULL),
                         BATTLE_ERR_BATTLE_OVER);
        assert_memory_equal(&before, &b, sizeof b);
    }
}

static void test_too_many_missiles(void **state)
{
    (void)state;
    /* Many racks at Distant: each seat launches every round; the bound holds. */
    ships_ship s = mk_ship("launcher", 1000, 0, 0);
    for (int i = 0; i < 8; i++)
        add_weapon(&s, "Rack", SHIPS_WK_RACK, 0, 0, 250);
    battle_setup st = setup2(s, s, BATTLE_BAND_DISTANT);
    battle b;
    start(&b, &st);
    battle_view v;
    for (unsigned r = 1; r <= 40 && !battle_is_over(&b); r++) {
        for (int k = 0; k < 2; k++) {
            battle_action a = {BATTLE_ACT_LAUNCH, (uint8_t)battle_active_seat(&b), 0};
            assert_int_equal(battle_apply(&b, &a, evs, BATTLE_MAX_EVENTS_PER_APPLY, &nev),
                             BATTLE_OK);
            battle_view_fill(&b, &v);
            assert_true(v.nmissiles <= BATTLE_MAX_MISSILES);
        }
    }
}

/* ---- timeouts, forfeit, other endings -------------------------------------------------- */

static void test_timeouts_fire_default_then_forfeit(void **state)
{
    (void)state;
    battle_setup st = setup2(scout(), trader(), BATTLE_BAND_SHORT);
    battle b;
    start(&b, &st);
    /* timeout 1: default action fires weapon 0 (1+1 misses), turn passes */
    assert_int_equal(ACT(&b, BATTLE_ACT_TIMER_EXPIRED, 0, 0, 1, 1), BATTLE_OK);
    assert_int_equal(evs[0].kind, BATTLE_EV_TIMEOUT);
    assert_int_equal(evs[0].u.timeout.consecutive, 1);
    assert_int_equal(evs[1].kind, BATTLE_EV_ATTACK);
    assert_int_equal(evs[1].u.attack.weapon, 0);
    assert_int_equal(evs[2].kind, BATTLE_EV_TURN);
    /* seat 1's timeouts are counted apart; its own action resets them */
    assert_int_equal(ACT(&b, BATTLE_ACT_TIMER_EXPIRED, 1, 0, 1, 1), BATTLE_OK);
    assert_int_equal(evs[0].u.timeout.consecutive, 1);
    assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1, 0), BATTLE_OK); /* round 2 */
    /* timeout 2 */
    assert_int_equal(ACT(&b, BATTLE_ACT_TIMER_EXPIRED, 0, 0, 1, 1), BATTLE_OK);
    assert_int_equal(evs[0].u.timeout.consecutive, 2);
    assert_int_equal(evs[nev - 1].kind, BATTLE_EV_ROUND);
    /* third in a row: seat 0 loses, no default action */
    assert_int_equal(ACT0(&b, BATTLE_ACT_TIMER_EXPIRED, 0, 0), BATTLE_OK);
    assert_int_equal(nev, 2);
    assert_int_equal(evs[0].u.timeout.consecutive, 3);
    assert_int_equal(evs[1].kind, BATTLE_EV_ENDED);
    assert_int_equal(evs[1].u.ended.winner, 1);
    assert_int_equal(evs[1].u.ended.reason, BATTLE_END_TIMEOUTS);
    assert_int_equal(evs[1].u.ended.rounds, 3);
    assert_int_equal(battle_reason(&b), BATTLE_END_TIMEOUTS);
}

static void test_timeouts_reset_by_own_action(void **state)
{
    (void)state;
    battle_setup st = setup2(trader(), trader(), BATTLE_BAND_DISTANT);
    st.timeout_policy = BATTLE_TIMEOUT_END_TURN;
    battle b;
    start(&b, &st);
    for (int r = 0; r < 10; r++) {
        /* two timeouts, then the seat acts itself: never reaches three */
        unsigned a = (unsigned)battle_active_seat(&b);
        if (r % 3 == 2)
            assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, a, 0), BATTLE_OK);
        else {
            assert_int_equal(ACT0(&b, BATTLE_ACT_TIMER_EXPIRED, a, 0), BATTLE_OK);
            assert_null(find_ev(BATTLE_EV_ATTACK)); /* END_TURN policy: no shot */
        }
        assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, (unsigned)battle_active_seat(&b), 0),
                         BATTLE_OK);
    }
    assert_false(battle_is_over(&b));
}

static void test_timeout_default_falls_back_to_end_turn(void **state)
{
    (void)state;
    battle_setup st = setup2(mk_ship("unarmed", 10, 0, 0), trader(), BATTLE_BAND_SHORT);
    battle b;
    start(&b, &st);
    assert_int_equal(ACT0(&b, BATTLE_ACT_TIMER_EXPIRED, 0, 0), BATTLE_OK);
    assert_int_equal(nev, 2);
    assert_int_equal(evs[1].kind, BATTLE_EV_TURN);
    assert_int_equal(ACT0(&b, BATTLE_ACT_TIMER_EXPIRED, 0, 0), BATTLE_ERR_ALREADY_ACTED);
}

static void test_draw_at_round_limit(void **state)
{
    (void)state;
    /* two ships that cannot hurt each other */
    ships_ship a = mk_ship("a", 10, 20, 0), c = mk_ship("c", 10, 20, 0);
    add_weapon(&a, "Pea", SHIPS_WK_LASER, 1, 0, SHIPS_AMMO_UNLIMITED);
    battle_setup st = setup2(a, c, BATTLE_BAND_ADJACENT);
    st.round_limit = 7;
    battle b;
    start(&b, &st);
    assert_int_equal(evs[0].u.started.round_limit, 7);
    for (unsigned r = 1; r <= 7; r++) {
        unsigned first = (r & 1) ? 0 : 1;
        assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, first, 0), BATTLE_OK);
        assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, 1 - first, 0), BATTLE_OK);
    }
    const battle_event *ev = find_ev(BATTLE_EV_ENDED);
    assert_non_null(ev);
    assert_int_equal(ev->u.ended.reason, BATTLE_END_DRAW);
    assert_int_equal(ev->u.ended.winner, BATTLE_NO_SEAT);
    assert_int_equal(ev->u.ended.rounds, 7);
    assert_int_equal(battle_winner(&b), -1);
    assert_null(find_ev(BATTLE_EV_ROUND));
}

static void test_other_endings(void **state)
{
    (void)state;
    static const struct {
        unsigned kind, seat;
        int winner;
        unsigned reason;
    } cases[] = {
        {BATTLE_ACT_FORFEIT, 0, 1, BATTLE_END_FORFEIT},
        {BATTLE_ACT_FORFEIT, 1, 0, BATTLE_END_FORFEIT},
        {BATTLE_ACT_SEAT_GONE, 0, 1, BATTLE_END_DISCONNECTED},
        {BATTLE_ACT_SEAT_GONE, 1, 0, BATTLE_END_DISCONNECTED},
        {BATTLE_ACT_ABANDON, 0, -1, BATTLE_END_ABANDONED},
        {BATTLE_ACT_SHUTDOWN, 0, -1, BATTLE_END_SHUTDOWN},
        {BATTLE_ACT_SHUTDOWN, 255, -1, BATTLE_END_SHUTDOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        battle_setup st = setup2(scout(), trader(), BATTLE_BAND_SHORT);
        battle b;
        start(&b, &st);
        assert_int_equal(ACT0(&b, cases[i].kind, cases[i].seat, 0), BATTLE_OK);
        assert_int_equal(nev, 1);
        assert_int_equal(evs[0].kind, BATTLE_EV_ENDED);
        assert_int_equal(evs[0].u.ended.reason, cases[i].reason);
        assert_int_equal(evs[0].u.ended.winner,
                         cases[i].winner < 0 ? BATTLE_NO_SEAT : (unsigned)cases[i].winner);
        assert_int_equal(evs[0].u.ended.hull[0], 40);
        assert_int_equal(evs[0].u.ended.hull[1], 80);
        assert_int_equal(battle_winner(&b), cases[i].winner);
        assert_int_equal(battle_active_seat(&b), -1);
    }
}

/* ---- creation, history, view, names ------------------------------------------------------ */

static void test_bad_setup_refused(void **state)
{
    (void)state;
    battle b;
    memset(&b, 0xAB, sizeof b);
    battle before = b;
    battle_setup st = setup2(scout(), trader(), BATTLE_BAND_COUNT);
    assert_int_equal(battle_create(&b, &st, evs, BATTLE_MAX_EVENTS_PER_APPLY, NULL),
                     BATTLE_ERR_BAD_SETUP);
    st = setup2(scout(), trader(), 0);
    st.round_limit = BATTLE_MAX_ROUND_LIMIT + 1;
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_ERR_BAD_SETUP);
    st = setup2(scout(), trader(), 0);
    st.ship[1].hull = 0;
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_ERR_BAD_SETUP);
    st = setup2(scout(), trader(), 0);
    st.ship[0].nweapons = SHIPS_MAX_WEAPONS + 1;
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_ERR_BAD_SETUP);
    st = setup2(scout(), trader(), 0);
    memset(st.ship[0].name, 'x', sizeof st.ship[0].name); /* no NUL */
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_ERR_BAD_SETUP);
    st = setup2(scout(), trader(), 0);
    st.timeout_policy = 9;
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_ERR_BAD_SETUP);
    assert_memory_equal(&before, &b, sizeof b);
    assert_true(sizeof(battle) <= 1024);
}

static void test_history_since(void **state)
{
    (void)state;
    battle_setup st = setup2(trader(), trader(), BATTLE_BAND_DISTANT);
    battle b;
    start(&b, &st);
    battle_event h[BATTLE_HISTORY];
    assert_int_equal(battle_history_since(&b, 0, h, BATTLE_HISTORY), 1);
    assert_int_equal(h[0].kind, BATTLE_EV_STARTED);
    assert_int_equal(battle_history_since(&b, 1, h, BATTLE_HISTORY), 0);
    assert_int_equal(battle_history_since(&b, 2, h, BATTLE_HISTORY), -1); /* future */
    for (int i = 0; i < 100; i++)
        assert_int_equal(ACT0(&b, BATTLE_ACT_END_TURN, (unsigned)battle_active_seat(&b), 0),
                         BATTLE_OK);
    uint32_t last = battle_last_seq(&b);
    assert_int_equal(last, 101);
    /* the ring keeps the last BATTLE_HISTORY events */
    int n = battle_history_since(&b, last - BATTLE_HISTORY, h, BATTLE_HISTORY);
    assert_int_equal(n, (int)BATTLE_HISTORY);
    for (int i = 0; i < n; i++)
        assert_int_equal(h[i].seq, last - BATTLE_HISTORY + 1 + (uint32_t)i);
    assert_int_equal(battle_history_since(&b, last - BATTLE_HISTORY - 1, h, BATTLE_HISTORY), -1);
    assert_int_equal(battle_history_since(&b, last - 3, h, BATTLE_HISTORY), 3);
    assert_int_equal(h[2].seq, last);
    assert_int_equal(battle_history_since(&b, last - 3, h, 2), 2); /* cap respected */
    assert_int_equal(h[1].seq, last - 1);
    /* the event the last apply returned is the newest in history */
    assert_int_equal(battle_history_since(&b, last - 1, h, 1), 1);
    assert_memory_equal(&h[0], &evs[nev - 1], sizeof h[0]);
}

static void test_view(void **state)
{
    (void)state;
    battle_setup st = setup2(scout(), trader(), BATTLE_BAND_LONG);
    battle b;
    start(&b, &st);
    assert_int_equal(ACT0(&b, BATTLE_ACT_LAUNCH, 0, 0), BATTLE_OK);
    assert_int_equal(ACT0(&b, BATTLE_ACT_SEAT_AWAY, 0, 0), BATTLE_OK);
    battle_view v;
    battle_view_fill(&b, &v);
    assert_string_equal(v.ship[0].stats.name, "scout");
    assert_string_equal(v.ship[1].stats.key, "free_trader");
    assert_int_equal(v.ship[1].hull, 80);
    assert_int_equal(v.ship[1].stats.hull, 80);
    assert_int_equal(v.ship[0].stats.weapons[2].ammo, 11);
    assert_int_equal(v.nmissiles, 1);
    assert_int_equal(v.missiles[0].id, 1);
    assert_int_equal(v.missiles[0].band, BATTLE_BAND_LONG);
    assert_int_equal(v.band, BATTLE_BAND_LONG);
    assert_int_equal(v.round, 1);
    assert_int_equal(v.active, 1);
    assert_true(v.acted[0]);
    assert_false(v.acted[1]);
    assert_true(v.away[0]);
    assert_int_equal(v.status, BATTLE_RUNNING);
    assert_int_equal(v.last_seq, battle_last_seq(&b));
    assert_int_equal(v.round_limit, BATTLE_DEFAULT_ROUND_LIMIT);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(battle_err_name(BATTLE_ERR_NOT_YOUR_TURN), "not_your_turn");
    assert_string_equal(battle_err_name(BATTLE_ERR_REACTION_USED), "reaction_already_used");
    assert_string_equal(battle_err_name((battle_err)999), "unknown");
    for (int e = 0; e < BATTLE_ERR_COUNT; e++)
        assert_string_not_equal(battle_err_name((battle_err)e), "unknown");
    for (unsigned k = BATTLE_EV_STARTED; k < BATTLE_EV_COUNT; k++)
        assert_string_not_equal(battle_event_name(k), "unknown");
    for (unsigned k = BATTLE_ACT_FIRE; k < BATTLE_ACT_COUNT; k++) {
        assert_string_not_equal(battle_action_name(k), "unknown");
        assert_int_equal(battle_action_from_name(battle_action_name(k)), (int)k);
    }
    for (unsigned k = 0; k < BATTLE_BAND_COUNT; k++)
        assert_int_equal(battle_band_from_name(battle_band_name(k)), (int)k);
    assert_string_equal(battle_band_name(BATTLE_BAND_VERY_LONG), "very_long");
    assert_int_equal(battle_band_from_name("Very Long"), -1);
    assert_string_equal(battle_reason_name(BATTLE_END_TIMEOUTS), "timeouts");
    assert_string_equal(battle_crit_name(BATTLE_LOC_POWER_PLANT), "power_plant");
    assert_true(battle_action_is_player(BATTLE_ACT_FIRE));
    assert_true(battle_action_is_player(BATTLE_ACT_FORFEIT));
    assert_false(battle_action_is_player(BATTLE_ACT_TIMER_EXPIRED));
    assert_false(battle_action_is_player(BATTLE_ACT_SHUTDOWN));
    assert_false(battle_action_is_player(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_dm_every_band),
        cmocka_unit_test(test_missiles_weapon_long_range_bonus),
        cmocka_unit_test(test_damage_minus_armour_never_negative),
        cmocka_unit_test(test_destroyed_ends_battle),
        cmocka_unit_test(test_sandcaster_bonus_next_laser_hit_only),
        cmocka_unit_test(test_sandcaster_failure_spends_canister),
        cmocka_unit_test(test_sandcaster_band_limit),
        cmocka_unit_test(test_effect_critical_severity_and_hull),
        cmocka_unit_test(test_effect_critical_severity_capped_and_crew),
        cmocka_unit_test(test_no_effect_critical_without_damage),
        cmocka_unit_test(test_sustained_criticals_each_tenth),
        cmocka_unit_test(test_sustained_hull_critical_cascades),
        cmocka_unit_test(test_missile_flight_and_strike_every_band),
        cmocka_unit_test(test_point_defense_once_per_missile_per_round),
        cmocka_unit_test(test_missile_rack_ammo),
        cmocka_unit_test(test_history_length_is_documented),
        cmocka_unit_test(test_weapon_ammo_runs_out),
        cmocka_unit_test(test_turn_order_by_parity),
        cmocka_unit_test(test_illegal_actions_change_nothing),
        cmocka_unit_test(test_too_many_missiles),
        cmocka_unit_test(test_timeouts_fire_default_then_forfeit),
        cmocka_unit_test(test_timeouts_reset_by_own_action),
        cmocka_unit_test(test_timeout_default_falls_back_to_end_turn),
        cmocka_unit_test(test_draw_at_round_limit),
        cmocka_unit_test(test_other_endings),
        cmocka_unit_test(test_bad_setup_refused),
        cmocka_unit_test(test_history_since),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
