/* Property tests over many random battles:
 *  - replay: the same setup and accepted actions rebuild the battle bit for
 *    bit (10,000 battles of mixed AI, random and illegal actions and server
 *    inputs); every rejected action changed nothing; sequence numbers run on.
 *  - AI vs AI: over 100,000 battles every battle ends and the AI never
 *    proposes an illegal action; and it really fights (most armed duels end in
 *    a destroyed ship, both seats win).
 * BATTLED_TEST_SCALE (default 1) scales the counts, e.g. 0.1 under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/battle.h"
#include "core/dice.h"
#include "core/ships.h"

#define LOG_MAX 4096

static ships_table table;

static size_t scaled(size_t n)
{
    const char *s = getenv("BATTLED_TEST_SCALE");
    double f = s ? atof(s) : 1.0;
    if (f <= 0)
        f = 1.0;
    size_t v = (size_t)((double)n * f);
    return v ? v : 1;
}

static int setup_table(void **state)
{
    (void)state;
    const char *dir = getenv("BATTLED_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/ships.toml", dir ? dir : ".");
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char err[256];
    if (ships_load_toml(buf, len, &table, err, sizeof err) != 0) {
        fprintf(stderr, "ships: %s\n", err);
        return -1;
    }
    return 0;
}

static void random_setup(dice_rng *r, battle_setup *st)
{
    memset(st, 0, sizeof *st);
    st->seed = ((uint64_t)dice_next(r) << 32) | dice_next(r);
    st->ship[0] = table.ships[dice_next(r) % table.count];
    st->ship[1] = table.ships[dice_next(r) % table.count];
    st->band = (uint8_t)(dice_next(r) % BATTLE_BAND_COUNT);
    st->round_limit = (uint16_t)(dice_next(r) % 4 == 0 ? 1 + dice_next(r) % 30 : 0);
    st->timeout_policy = (uint8_t)(dice_next(r) % 2);
    st->timeout_limit = (uint8_t)(dice_next(r) % 4);
}

static void check_seqs(const battle *b, uint32_t *last, const battle_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ev[i].seq, *last + 1);
        assert_true(ev[i].kind >= BATTLE_EV_STARTED && ev[i].kind < BATTLE_EV_COUNT);
        *last = ev[i].seq;
    }
    assert_int_equal(battle_last_seq(b), *last);
}

/* A random action: mostly plausible, sometimes nonsense. */
static battle_action random_action(dice_rng *r)
{
    battle_action a;
    uint32_t x = dice_next(r) % 1000;
    if (x < 5)
        a.kind = (uint8_t)(BATTLE_ACT_FORFEIT + dice_next(r) % 7); /* endings, away/back */
    else if (x < 30)
        a.kind = (uint8_t)(dice_next(r) % 256);
    else
        a.kind = (uint8_t)(BATTLE_ACT_FIRE + dice_next(r) % 5);
    if (a.kind == BATTLE_ACT_ABANDON || a.kind == BATTLE_ACT_SHUTDOWN)
        a.kind = (dice_next(r) % 8 == 0) ? a.kind : BATTLE_ACT_TIMER_EXPIRED;
    a.seat = (uint8_t)(dice_next(r) % 50 == 0 ? dice_next(r) % 256 : dice_next(r) % 2);
    a.arg = (uint16_t)(dice_next(r) % 20 == 0 ? dice_next(r) : dice_next(r) % 10);
    return a;
}

static void test_replay_equality(void **state)
{
    (void)state;
    static battle_action log[LOG_MAX];
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    size_t battles = scaled(10000), total_actions = 0, rejected = 0;
    dice_rng r;
    dice_seed(&r, 12345, 1);
    for (size_t i = 0; i < battles; i++) {
        battle_setup st;
        random_setup(&r, &st);
        battle b, before, again;
        size_t n;
        assert_int_equal(battle_create(&b, &st, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n), BATTLE_OK);
        uint32_t last = 0;
        check_seqs(&b, &last, ev, n);
        size_t nlog = 0;
        while (!battle_is_over(&b) && nlog < LOG_MAX) {
            battle_action a;
            bool from_ai = false;
            if (dice_next(&r) % 10 < 6) {
                int seat = (int)(dice_next(&r) % 2);
                from_ai = battle_ai_choose(&b, seat, &a) || battle_ai_choose(&b, 1 - seat, &a);
            }
            if (!from_ai)
                a = random_action(&r);
            before = b;
            battle_err e = battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n);
            if (e != BATTLE_OK) {
                assert_false(from_ai); /* the AI only proposes legal actions */
                assert_int_equal(n, 0);
                assert_memory_equal(&before, &b, sizeof b);
                rejected++;
                continue;
            }
            check_seqs(&b, &last, ev, n);
            log[nlog++] = a;
        }
        total_actions += nlog;
        size_t failed = 99;
        assert_int_equal(battle_replay(&st, log, nlog, &again, &failed), BATTLE_OK);
        assert_memory_equal(&b, &again, sizeof b);
        /* a prefix replays to a valid state too, and a wrong log is caught */
        if (nlog > 2) {
            assert_int_equal(battle_replay(&st, log, nlog / 2, &again, NULL), BATTLE_OK);
        }
    }
    printf("replay: %zu battles, %zu accepted actions, %zu rejected, all equal\n", battles,
           total_actions, rejected);
}

static void test_replay_reports_bad_log(void **state)
{
    (void)state;
    battle_setup st;
    memset(&st, 0, sizeof st);
    st.ship[0] = *ships_find(&table, "scout");
    st.ship[1] = *ships_find(&table, "free_trader");
    battle_action log[] = {{BATTLE_ACT_END_TURN, 0, 0}, {BATTLE_ACT_END_TURN, 0, 0}};
    battle b;
    size_t at = 99;
    assert_int_equal(battle_replay(&st, log, 2, &b, &at), BATTLE_ERR_ALREADY_ACTED);
    assert_int_equal(at, 1);
}

static void test_same_seed_same_dice(void **state)
{
    (void)state;
    /* two battles from the same seed fed the same AI actions stay identical;
     * a different seed diverges */
    battle_setup st;
    memset(&st, 0, sizeof st);
    st.ship[0] = *ships_find(&table, "scout");
    st.ship[1] = *ships_find(&table, "free_trader");
    st.band = BATTLE_BAND_SHORT;
    st.seed = 7;
    battle a, b;
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    assert_int_equal(battle_create_quiet(&a, &st), BATTLE_OK);
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_OK);
    while (!battle_is_over(&a)) {
        battle_action act;
        int s = battle_active_seat(&a);
        assert_true(battle_ai_choose(&a, s, &act));
        assert_int_equal(battle_apply(&a, &act, ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL), BATTLE_OK);
        assert_int_equal(battle_apply(&b, &act, ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL), BATTLE_OK);
        assert_memory_equal(&a, &b, sizeof a);
    }
    st.seed = 8;
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_OK);
    st.seed = 7;
    battle c;
    assert_int_equal(battle_create_quiet(&c, &st), BATTLE_OK);
    assert_memory_not_equal(&b, &c, sizeof b);
    /* dice are fair enough: every face appears, mean near 3.5 */
    dice_rng r;
    dice_seed(&r, 1, 2);
    unsigned faces[7] = {0};
    for (int i = 0; i < 60000; i++)
        faces[dice_d6(&r)]++;
    assert_int_equal(faces[0], 0);
    for (int f = 1; f <= 6; f++)
        assert_in_range(faces[f], 9400, 10600);
}

static bool armed(const ships_ship *s)
{
    for (unsigned i = 0; i < s->nweapons; i++)
        if (ships_weapon_fires(s->weapons[i].kind) || s->weapons[i].kind == SHIPS_WK_RACK)
            return true;
    return false;
}

static void test_ai_vs_ai(void **state)
{
    (void)state;
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    size_t battles = scaled(100000), actions = 0, armed_duels = 0, armed_destroyed = 0;
    size_t reasons[BATTLE_END_COUNT] = {0}, wins[2] = {0};
    dice_rng r;
    dice_seed(&r, 777, 3);
    for (size_t i = 0; i < battles; i++) {
        battle_setup st;
        random_setup(&r, &st);
        battle b;
        assert_int_equal(battle_create_quiet(&b, &st), BATTLE_OK);
        /* bound: per round two turn actions, at most one sandcaster per seat
         * and one point defense per missile in flight */
        size_t cap = (size_t)(st.round_limit ? st.round_limit : BATTLE_DEFAULT_ROUND_LIMIT) *
                     (4 + BATTLE_MAX_MISSILES);
        size_t steps = 0;
        while (!battle_is_over(&b)) {
            battle_action a;
            int first = (int)(dice_next(&r) & 1);
            bool got = battle_ai_choose(&b, first, &a) || battle_ai_choose(&b, 1 - first, &a);
            assert_true(got); /* the active seat always has a move */
            battle_err e = battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL);
            if (e != BATTLE_OK)
                fail_msg("AI proposed illegal %s by seat %u: %s", battle_action_name(a.kind),
                         a.seat, battle_err_name(e));
            assert_true(++steps <= cap);
        }
        actions += steps;
        reasons[battle_reason(&b)]++;
        if (battle_winner(&b) >= 0)
            wins[battle_winner(&b)]++;
        if (armed(&st.ship[0]) && armed(&st.ship[1]) && st.round_limit == 0) {
            armed_duels++;
            armed_destroyed += battle_reason(&b) == BATTLE_END_DESTROYED;
        }
    }
    printf("ai: %zu battles, %zu actions, destroyed %zu, draw %zu; wins %zu/%zu; "
           "armed duels destroyed %zu/%zu\n",
           battles, actions, reasons[BATTLE_END_DESTROYED], reasons[BATTLE_END_DRAW], wins[0],
           wins[1], armed_destroyed, armed_duels);
    assert_int_equal(reasons[BATTLE_END_DESTROYED] + reasons[BATTLE_END_DRAW], battles);
    assert_true(wins[0] > 0 && wins[1] > 0);
    assert_true(armed_destroyed * 10 >= armed_duels * 7); /* it really fights */
}

static void test_ai_reacts(void **state)
{
    (void)state;
    /* Against incoming missiles the AI tries point defense about half the
     * time, and casts sand when hurt and in band. */
    battle_setup st;
    memset(&st, 0, sizeof st);
    st.ship[0] = *ships_find(&table, "scout");
    st.ship[1] = *ships_find(&table, "scout");
    st.band = BATTLE_BAND_LONG;
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    size_t tries = 0, chances = 0;
    for (uint64_t seed = 1; seed <= 400; seed++) {
        st.seed = seed;
        battle b;
        assert_int_equal(battle_create_quiet(&b, &st), BATTLE_OK);
        battle_action a = {BATTLE_ACT_LAUNCH, 0, 0};
        assert_int_equal(battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL), BATTLE_OK);
        chances++;
        if (battle_ai_choose(&b, 1, &a) && a.kind == BATTLE_ACT_POINT_DEFENSE) {
            assert_int_equal(a.arg, 1);
            tries++;
        }
        /* the launcher never shoots at its own missile */
        assert_false(battle_ai_choose(&b, 0, &a));
    }
    assert_in_range(tries, chances * 35 / 100, chances * 65 / 100);

    /* sandcaster: hurt, at Close, the opponent still to fire a laser */
    st.ship[0] = *ships_find(&table, "free_trader");
    st.ship[1] = *ships_find(&table, "scout");
    st.band = BATTLE_BAND_CLOSE;
    battle b;
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_OK);
    battle_action a;
    assert_true(battle_ai_choose(&b, 1, &a) == false); /* unhurt: nothing to do off-turn */
    b.s.ship[1].hull = 30;                             /* hurt */
    assert_true(battle_ai_choose(&b, 1, &a));
    assert_int_equal(a.kind, BATTLE_ACT_SANDCASTER);
    st.band = BATTLE_BAND_MEDIUM;
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_OK);
    b.s.ship[1].hull = 30;
    assert_false(battle_ai_choose(&b, 1, &a)); /* out of band */
    /* its turn at Long: the Scout uses its Missiles */
    st.ship[0] = *ships_find(&table, "scout");
    st.band = BATTLE_BAND_DISTANT;
    assert_int_equal(battle_create_quiet(&b, &st), BATTLE_OK);
    assert_true(battle_ai_choose(&b, 0, &a));
    assert_int_equal(a.kind, BATTLE_ACT_FIRE);
    assert_int_equal(a.arg, 1);
    assert_false(battle_ai_choose(&b, 2, &a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_reports_bad_log),
        cmocka_unit_test(test_same_seed_same_dice),
        cmocka_unit_test(test_ai_reacts),
        cmocka_unit_test(test_replay_equality),
        cmocka_unit_test(test_ai_vs_ai),
    };
    return cmocka_run_group_tests(tests, setup_table, NULL);
}
