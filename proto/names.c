/* Wire names of the protocol's enums (proto/msg.h). These strings are part of the protocol:
 * never rename one, only add. */
#include "proto/msg.h"

#include <stddef.h>

static const char *const type_names[] = {
    [PROTO_T_HELLO] = "hello",     [PROTO_T_PING] = "ping",       [PROTO_T_QUEUE] = "queue",
    [PROTO_T_CANCEL] = "cancel",   [PROTO_T_CREATE] = "create",   [PROTO_T_JOIN] = "join",
    [PROTO_T_WATCH] = "watch",     [PROTO_T_RESUME] = "resume",   [PROTO_T_FIRE] = "fire",
    [PROTO_T_MISSILE] = "missile", [PROTO_T_PD] = "pd",           [PROTO_T_SAND] = "sand",
    [PROTO_T_END] = "end",         [PROTO_T_FORFEIT] = "forfeit", [PROTO_T_LEAVE] = "leave",
    [PROTO_T_WELCOME] = "welcome", [PROTO_T_PONG] = "pong",       [PROTO_T_QUEUED] = "queued",
    [PROTO_T_UNQUEUED] = "unqueued", [PROTO_T_CREATED] = "created", [PROTO_T_STARTED] = "started",
    [PROTO_T_STATE] = "state",     [PROTO_T_TURN] = "turn",       [PROTO_T_ROUND] = "round",
    [PROTO_T_ATTACK] = "attack",   [PROTO_T_MLAUNCH] = "mlaunch", [PROTO_T_MMOVE] = "mmove",
    [PROTO_T_MHIT] = "mhit",       [PROTO_T_PD_RESULT] = "pd_result",
    [PROTO_T_SAND_RESULT] = "sand_result",                        [PROTO_T_ENDED] = "ended",
    [PROTO_T_AWAY] = "away",       [PROTO_T_BACK] = "back",       [PROTO_T_LEFT] = "left",
    [PROTO_T_ERROR] = "error",     [PROTO_T_CRIT] = "crit",       [PROTO_T_TIMEOUT] = "timeout",
    [PROTO_T_RESTARTING] = "restarting", [PROTO_T_MOVED] = "moved",
};

static const char *const band_names[] = {"adjacent", "close", "short", "medium",
                                         "long",     "very_long", "distant"};
static const char *const loc_names[] = {"sensors", "power_plant", "fuel",  "weapon",
                                        "armour",  "hull",        "m_drive", "cargo",
                                        "j_drive", "crew",        "computer"};
static const char *const reason_names[] = {NULL, "destroyed",  "forfeit",   "timeout", "disconnect",
                                           "draw",       "abandoned", "shutdown"};

const char *proto_type_name(int type)
{
    if (type <= 0 || type >= (int)(sizeof type_names / sizeof type_names[0]))
        return NULL;
    return type_names[type];
}

const char *proto_error_name(int code)
{
    switch (code) {
#define PROTO_X_CASE(id, num, name) case num: return name;
        PROTO_ERRORS(PROTO_X_CASE)
#undef PROTO_X_CASE
    default: return NULL;
    }
}

const char *proto_band_name(int band)
{
    return band >= 0 && band < PROTO_BAND_COUNT ? band_names[band] : NULL;
}

const char *proto_loc_name(int loc)
{
    return loc >= 0 && loc < PROTO_LOC_COUNT ? loc_names[loc] : NULL;
}

const char *proto_reason_name(int reason)
{
    return reason >= 0 && reason < PROTO_END_COUNT ? reason_names[reason] : NULL;
}

const char *proto_wkind_name(int kind)
{
    static const char *const names[] = {"laser", "missile", "gun", "rack", "sand"};
    return kind >= 0 && kind < PROTO_WK_COUNT ? names[kind] : NULL;
}

bool proto_type_battle_scoped(int type)
{
    switch (type) {
    case PROTO_T_JOIN: case PROTO_T_WATCH: case PROTO_T_RESUME: case PROTO_T_FIRE:
    case PROTO_T_MISSILE: case PROTO_T_PD: case PROTO_T_SAND: case PROTO_T_END:
    case PROTO_T_FORFEIT: case PROTO_T_LEAVE:
    case PROTO_T_CREATED: case PROTO_T_STARTED: case PROTO_T_STATE: case PROTO_T_TURN:
    case PROTO_T_ROUND: case PROTO_T_ATTACK: case PROTO_T_MLAUNCH: case PROTO_T_MMOVE:
    case PROTO_T_MHIT: case PROTO_T_PD_RESULT: case PROTO_T_SAND_RESULT: case PROTO_T_ENDED:
    case PROTO_T_AWAY: case PROTO_T_BACK: case PROTO_T_LEFT: case PROTO_T_CRIT: case PROTO_T_TIMEOUT:
        return true;
    default:
        return false;
    }
}
