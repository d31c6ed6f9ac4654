/* names: the stable snake_case names the protocol and logs use for the
 * engine's enums. Append only; never rename (clients match on them). */
#include "core/battle.h"

#include <string.h>

#define NAME_OF(table, i) ((i) < sizeof(table) / sizeof(table[0]) && table[i] ? table[i] : "unknown")

static const char *const err_names[BATTLE_ERR_COUNT] = {
    [BATTLE_OK] = "ok",
    [BATTLE_ERR_NOT_YOUR_TURN] = "not_your_turn",
    [BATTLE_ERR_ALREADY_ACTED] = "already_acted",
    [BATTLE_ERR_NO_SUCH_WEAPON] = "no_such_weapon",
    [BATTLE_ERR_WEAPON_CANNOT_FIRE] = "weapon_cannot_fire",
    [BATTLE_ERR_OUT_OF_AMMO] = "out_of_ammo",
    [BATTLE_ERR_NO_MISSILE_RACK] = "no_missile_rack",
    [BATTLE_ERR_TOO_MANY_MISSILES] = "too_many_missiles",
    [BATTLE_ERR_NO_SANDCASTER] = "no_sandcaster",
    [BATTLE_ERR_SAND_OUT_OF_BAND] = "sandcaster_out_of_band",
    [BATTLE_ERR_NO_SUCH_MISSILE] = "no_such_missile",
    [BATTLE_ERR_MISSILE_NOT_INCOMING] = "missile_not_incoming",
    [BATTLE_ERR_REACTION_USED] = "reaction_already_used",
    [BATTLE_ERR_BATTLE_OVER] = "battle_over",
    [BATTLE_ERR_BAD_SEAT] = "bad_seat",
    [BATTLE_ERR_BAD_ACTION] = "bad_action",
    [BATTLE_ERR_BUFFER] = "event_buffer_too_small",
    [BATTLE_ERR_ALREADY_AWAY] = "seat_already_away",
    [BATTLE_ERR_NOT_AWAY] = "seat_not_away",
    [BATTLE_ERR_BAD_SETUP] = "bad_setup",
};

static const char *const band_names[BATTLE_BAND_COUNT] = {
    "adjacent", "close", "short", "medium", "long", "very_long", "distant",
};

static const char *const event_names[BATTLE_EV_COUNT] = {
    [BATTLE_EV_STARTED] = "battle_started",
    [BATTLE_EV_TURN] = "turn_change",
    [BATTLE_EV_ROUND] = "new_round",
    [BATTLE_EV_ATTACK] = "attack",
    [BATTLE_EV_CRITICAL] = "critical",
    [BATTLE_EV_MISSILE_LAUNCHED] = "missile_launched",
    [BATTLE_EV_MISSILE_MOVED] = "missile_moved",
    [BATTLE_EV_MISSILE_STRUCK] = "missile_struck",
    [BATTLE_EV_POINT_DEFENSE] = "point_defense",
    [BATTLE_EV_SANDCASTER] = "sandcaster",
    [BATTLE_EV_TIMEOUT] = "timeout",
    [BATTLE_EV_SEAT_AWAY] = "seat_away",
    [BATTLE_EV_SEAT_BACK] = "seat_back",
    [BATTLE_EV_ENDED] = "battle_ended",
};

static const char *const reason_names[BATTLE_END_COUNT] = {
    "none", "destroyed", "forfeit", "timeouts", "disconnected", "draw", "abandoned", "shutdown",
};

static const char *const crit_names[BATTLE_CRIT_LOCATIONS] = {
    "sensors", "power_plant", "fuel", "weapon", "armour", "hull",
    "m_drive", "cargo", "j_drive", "crew", "computer",
};

static const char *const action_names[BATTLE_ACT_COUNT] = {
    [BATTLE_ACT_FIRE] = "fire",
    [BATTLE_ACT_LAUNCH] = "launch_missile",
    [BATTLE_ACT_END_TURN] = "end_turn",
    [BATTLE_ACT_POINT_DEFENSE] = "point_defense",
    [BATTLE_ACT_SANDCASTER] = "sandcaster",
    [BATTLE_ACT_FORFEIT] = "forfeit",
    [BATTLE_ACT_TIMER_EXPIRED] = "timer_expired",
    [BATTLE_ACT_SEAT_GONE] = "seat_gone",
    [BATTLE_ACT_SEAT_AWAY] = "seat_away",
    [BATTLE_ACT_SEAT_BACK] = "seat_back",
    [BATTLE_ACT_ABANDON] = "abandon",
    [BATTLE_ACT_SHUTDOWN] = "shutdown",
};

const char *battle_err_name(battle_err e) { return NAME_OF(err_names, (unsigned)e); }
const char *battle_band_name(unsigned band) { return NAME_OF(band_names, band); }
const char *battle_event_name(unsigned kind) { return NAME_OF(event_names, kind); }
const char *battle_reason_name(unsigned reason) { return NAME_OF(reason_names, reason); }
const char *battle_crit_name(unsigned loc) { return NAME_OF(crit_names, loc); }
const char *battle_action_name(unsigned kind) { return NAME_OF(action_names, kind); }

int battle_band_from_name(const char *name)
{
    for (unsigned i = 0; i < BATTLE_BAND_COUNT; i++)
        if (strcmp(name, band_names[i]) == 0)
            return (int)i;
    return -1;
}

int battle_action_from_name(const char *name)
{
    for (unsigned i = BATTLE_ACT_FIRE; i < BATTLE_ACT_COUNT; i++)
        if (strcmp(name, action_names[i]) == 0)
            return (int)i;
    return -1;
}
