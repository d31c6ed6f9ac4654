/* The ship table: the shipped data/ships.toml loads with the original's exact
 * Scout and Free Trader, every hull of RULES.md is there, and every kind of
 * bad input is refused with a clear message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/battle.h"
#include "core/ships.h"

static ships_table table;
static char err[256];

static char *read_ships_file(size_t *len)
{
    const char *dir = getenv("BATTLED_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/ships.toml", dir ? dir : ".");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static int load(const char *text)
{
    return ships_load_toml(text, strlen(text), &table, err, sizeof err);
}

static void test_shipped_table(void **state)
{
    (void)state;
    size_t len;
    const char *text = read_ships_file(&len);
    assert_int_equal(ships_load_toml(text, len, &table, err, sizeof err), 0);
    static const char *const hulls[] = {"scout",           "free_trader",      "seeker",
                                        "safari_ship",     "patrol_corvette",  "laboratory_ship",
                                        "subsidised_liner", "mercenary_cruiser", "far_trader"};
    for (size_t i = 0; i < sizeof hulls / sizeof hulls[0]; i++)
        assert_non_null(ships_find(&table, hulls[i]));
    assert_null(ships_find(&table, "death_star"));

    const ships_ship *s = ships_find(&table, "scout");
    assert_string_equal(s->name, "Scout");
    assert_int_equal(s->hull, 40);
    assert_int_equal(s->armour, 4);
    assert_int_equal(s->pilot, 2);
    assert_int_equal(s->thrust, 2);
    assert_int_equal(s->nweapons, 4);
    assert_string_equal(s->weapons[0].name, "Pulse Laser");
    assert_int_equal(s->weapons[0].kind, SHIPS_WK_LASER);
    assert_int_equal(s->weapons[0].dice, 2);
    assert_int_equal(s->weapons[0].ammo, SHIPS_AMMO_UNLIMITED);
    assert_string_equal(s->weapons[1].name, "Missiles");
    assert_int_equal(s->weapons[1].dice, 4);
    assert_int_equal(s->weapons[1].long_range_dm, 2);
    assert_int_equal(s->weapons[2].kind, SHIPS_WK_RACK);
    assert_int_equal(s->weapons[2].ammo, 12);
    assert_int_equal(s->weapons[3].kind, SHIPS_WK_SANDCASTER);
    assert_int_equal(s->weapons[3].ammo, 20);

    const ships_ship *t = ships_find(&table, "free_trader");
    assert_string_equal(t->name, "Free Trader");
    assert_int_equal(t->hull, 80);
    assert_int_equal(t->armour, 2);
    assert_int_equal(t->pilot, 1);
    assert_int_equal(t->thrust, 1);
    assert_int_equal(t->nweapons, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(t->weapons[i].name, "Beam Laser");
        assert_int_equal(t->weapons[i].kind, SHIPS_WK_LASER);
        assert_int_equal(t->weapons[i].dice, 3);
    }
    /* reference table values for the other hulls */
    const ships_ship *m = ships_find(&table, "mercenary_cruiser");
    assert_int_equal(m->hull, 320);
    assert_int_equal(m->armour, 4);
    assert_int_equal(m->thrust, 3);
    assert_int_equal(m->pilot, 1);
    assert_int_equal(ships_find(&table, "laboratory_ship")->nweapons, 0);
    assert_int_equal(ships_find(&table, "safari_ship")->armour, 0);
    assert_int_equal(ships_find(&table, "patrol_corvette")->thrust, 4);

    /* every shipped ship makes a valid battle against every other */
    for (size_t i = 0; i < table.count; i++)
        for (size_t j = 0; j < table.count; j++) {
            battle_setup st;
            memset(&st, 0, sizeof st);
            st.ship[0] = table.ships[i];
            st.ship[1] = table.ships[j];
            battle b;
            assert_int_equal(battle_create_quiet(&b, &st), BATTLE_OK);
        }
}

static const char *const good =
    "[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
    "weapons = [ { name = \"L\", kind = \"laser\", dice = 2 } ]\n";

static void test_minimal_and_defaults(void **state)
{
    (void)state;
    assert_int_equal(load(good), 0);
    assert_int_equal(table.count, 1);
    assert_int_equal(table.ships[0].pilot, 1); /* default */
    assert_int_equal(table.ships[0].weapons[0].ammo, SHIPS_AMMO_UNLIMITED);
    assert_string_equal(ships_weapon_kind_name(SHIPS_WK_RACK), "rack");
    assert_string_equal(ships_weapon_kind_name(99), "?");
}

static void expect_error(const char *text, const char *needle)
{
    table.count = 7;
    assert_int_equal(load(text), -1);
    assert_int_equal(table.count, 0);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_error("", "no [ships");
    expect_error("[ships]\n", "no ships");
    expect_error("this is = not toml [", "line 1");
    expect_error("[other]\nx = 1\n", "unknown top-level key 'other'");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\ncolour = 3\n",
                 "unknown key 'colour'");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\n", "missing key 'thrust'");
    expect_error("[ships.x]\nhull = 10\narmour = 1\nthrust = 1\n", "missing key 'name'");
    expect_error("[ships.x]\nname = \"X\"\nhull = \"ten\"\narmour = 1\nthrust = 1\n",
                 "expected integer");
    expect_error("[ships.x]\nname = \"X\"\nhull = 0\narmour = 1\nthrust = 1\n", "out of range");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10001\narmour = 1\nthrust = 1\n", "out of range");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = -1\nthrust = 1\n", "out of range");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\npilot = 7\n",
                 "out of range");
    expect_error("[ships.X]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n", "[a-z0-9_]");
    expect_error("[ships.a_very_long_ship_type_key]\nname = \"X\"\nhull = 10\narmour = 1\n"
                 "thrust = 1\n", "[a-z0-9_]");
    expect_error("[ships.x]\nname = \"A name far too long for it\"\nhull = 10\narmour = 1\n"
                 "thrust = 1\n", "length");
    expect_error("[ships.x]\nname = \"\"\nhull = 10\narmour = 1\nthrust = 1\n", "length");
    expect_error("[ships.x]\nname = \"a\\u0000b\"\nhull = 10\narmour = 1\nthrust = 1\n",
                 "control");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\nweapons = 3\n",
                 "expected an array");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"L\", kind = \"phaser\", dice = 2 } ]\n",
                 "unknown kind 'phaser'");
    /* the names before issue 16 are refused with the new word (one vocabulary with the wire) */
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"R\", kind = \"missile_rack\", ammo = 2 } ]\n",
                 "'missile_rack' is now called 'rack'");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"S\", kind = \"sandcaster\", ammo = 2 } ]\n",
                 "'sandcaster' is now called 'sand'");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"L\", kind = \"laser\" } ]\n", "missing key 'dice'");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"L\", kind = \"laser\", dice = 9 } ]\n", "out of range");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"R\", kind = \"rack\" } ]\n", "missing key 'ammo'");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"R\", kind = \"rack\", ammo = 12, dice = 4 } ]\n",
                 "no damage dice");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"S\", kind = \"sand\", ammo = 251 } ]\n",
                 "out of range");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"L\", kind = \"laser\", dice = 2, range = 3 } ]\n",
                 "unknown key 'range'");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\n"
                 "weapons = [ { name = \"A weapon name too long\", kind = \"laser\", dice = 2 } ]\n",
                 "length");
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\nweapons = [ 1 ]\n",
                 "expected a table");
    /* line numbers point at the offending value */
    expect_error("[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 99\n", "line 5");
}

static void test_limits(void **state)
{
    (void)state;
    /* too many weapons */
    char buf[8192];
    int n = snprintf(buf, sizeof buf,
                     "[ships.x]\nname = \"X\"\nhull = 10\narmour = 1\nthrust = 1\nweapons = [\n");
    for (int i = 0; i <= SHIPS_MAX_WEAPONS; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n,
                      "{ name = \"L\", kind = \"laser\", dice = 1 },\n");
    snprintf(buf + n, sizeof buf - (size_t)n, "]\n");
    expect_error(buf, "at most 8");

    /* exactly SHIPS_MAX ships load; one more is refused */
    static char big[1 << 16];
    n = 0;
    for (int i = 0; i < SHIPS_MAX; i++)
        n += snprintf(big + n, sizeof big - (size_t)n,
                      "[ships.s%d]\nname = \"S\"\nhull = 1\narmour = 0\nthrust = 0\n", i);
    assert_int_equal(load(big), 0);
    assert_int_equal(table.count, SHIPS_MAX);
    snprintf(big + n, sizeof big - (size_t)n,
             "[ships.extra]\nname = \"S\"\nhull = 1\narmour = 0\nthrust = 0\n");
    expect_error(big, "at most 64");

    /* oversized input is refused before parsing; errlen 0 is safe */
    assert_int_equal(ships_load_toml(good, SHIPS_TEXT_MAX + 1, &table, err, sizeof err), -1);
    assert_non_null(strstr(err, "bytes"));
    assert_int_equal(ships_load_toml("x", 1, &table, NULL, 0), -1);
    char tiny[4];
    assert_int_equal(ships_load_toml("[ships]\n", 8, &table, tiny, sizeof tiny), -1);
    assert_int_equal(strlen(tiny), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_table),
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
