/* battle: the game engine. One battle is one fixed-size struct of plain data
 * (at most 1 KiB, no pointers), created from a setup and advanced only by
 * battle_apply(). No threads, no I/O, no clock, no allocation: a shard owns
 * each battle exclusively and calls these functions on it.
 *
 * Determinism: the same setup (seed included) and the same sequence of
 * accepted actions give the same battle, bit for bit; battle_replay() rebuilds
 * a battle from its setup and action log. Rejected actions change nothing.
 *
 * The rules implemented are in docs/RULES.md. */
#ifndef BATTLED_CORE_BATTLE_H
#define BATTLED_CORE_BATTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dice.h"
#include "core/ships.h"

/* ---- limits and defaults ------------------------------------------------ */
#define BATTLE_SIZE_MAX 1024           /* bytes of one struct battle, enforced */
#define BATTLE_MAX_MISSILES 12         /* in flight; bound proven in docs/RULES.md */
#define BATTLE_DEFAULT_ROUND_LIMIT 100 /* draw when this round ends */
#define BATTLE_MAX_ROUND_LIMIT 10000
#define BATTLE_DEFAULT_TIMEOUT_LIMIT 3 /* consecutive timer expiries that forfeit */
#define BATTLE_MAX_TIMEOUT_LIMIT 10
/* battle_apply() and battle_create() need an event buffer of at least this
 * many entries; a smaller cap is refused with BATTLE_ERR_BUFFER. */
#define BATTLE_MAX_EVENTS_PER_APPLY 64
#define BATTLE_CRIT_LOCATIONS 11
#define BATTLE_NO_SEAT 0xff            /* winner of a draw/abandoned/shutdown */

typedef enum {
    BATTLE_BAND_ADJACENT = 0,
    BATTLE_BAND_CLOSE,
    BATTLE_BAND_SHORT,
    BATTLE_BAND_MEDIUM,
    BATTLE_BAND_LONG,
    BATTLE_BAND_VERY_LONG,
    BATTLE_BAND_DISTANT,
    BATTLE_BAND_COUNT
} battle_band;

/* Stable error codes: the protocol sends the number and battle_err_name().
 * Never renumber; append only. */
typedef enum {
    BATTLE_OK = 0,
    BATTLE_ERR_NOT_YOUR_TURN = 1,       /* turn action by the seat that is not active */
    BATTLE_ERR_ALREADY_ACTED = 2,       /* second turn action in the same round */
    BATTLE_ERR_NO_SUCH_WEAPON = 3,      /* weapon index past the ship's list */
    BATTLE_ERR_WEAPON_CANNOT_FIRE = 4,  /* index names a rack or sandcaster */
    BATTLE_ERR_OUT_OF_AMMO = 5,         /* weapon, rack or sandcaster is empty */
    BATTLE_ERR_NO_MISSILE_RACK = 6,     /* launch by a ship without a rack */
    BATTLE_ERR_TOO_MANY_MISSILES = 7,   /* BATTLE_MAX_MISSILES in flight */
    BATTLE_ERR_NO_SANDCASTER = 8,       /* sandcaster by a ship without one */
    BATTLE_ERR_SAND_OUT_OF_BAND = 9,    /* sandcaster beyond Close */
    BATTLE_ERR_NO_SUCH_MISSILE = 10,    /* point defense on an id not in flight */
    BATTLE_ERR_MISSILE_NOT_INCOMING = 11, /* point defense on one's own missile */
    BATTLE_ERR_REACTION_USED = 12,      /* sandcaster twice a round, or PD twice on a missile */
    BATTLE_ERR_BATTLE_OVER = 13,        /* any action after the end */
    BATTLE_ERR_BAD_SEAT = 14,           /* seat not 0 or 1 */
    BATTLE_ERR_BAD_ACTION = 15,         /* unknown action kind */
    BATTLE_ERR_BUFFER = 16,             /* event buffer under BATTLE_MAX_EVENTS_PER_APPLY */
    BATTLE_ERR_ALREADY_AWAY = 17,       /* seat_away for a seat already away */
    BATTLE_ERR_NOT_AWAY = 18,           /* seat_back for a seat that is not away */
    BATTLE_ERR_BAD_SETUP = 19,          /* battle_create: invalid band, ship or option */
    BATTLE_ERR_COUNT
} battle_err;

/* Action kinds. Player actions come from clients; server inputs are produced
 * by the server itself (battle_action_is_player() tells them apart, and the
 * protocol must never accept the latter from a client). */
typedef enum {
    BATTLE_ACT_FIRE = 1,          /* player, turn action: arg = weapon index */
    BATTLE_ACT_LAUNCH = 2,        /* player, turn action: first rack with ammo */
    BATTLE_ACT_END_TURN = 3,      /* player, turn action */
    BATTLE_ACT_POINT_DEFENSE = 4, /* player, reaction: arg = missile id */
    BATTLE_ACT_SANDCASTER = 5,    /* player, reaction */
    BATTLE_ACT_FORFEIT = 6,       /* player: the seat gives up */
    BATTLE_ACT_TIMER_EXPIRED = 7, /* server: the active seat's turn timer ran out */
    BATTLE_ACT_SEAT_GONE = 8,     /* server: seat stayed away past the resume window */
    BATTLE_ACT_SEAT_AWAY = 9,     /* server: seat's connection dropped */
    BATTLE_ACT_SEAT_BACK = 10,    /* server: seat resumed */
    BATTLE_ACT_ABANDON = 11,      /* server: no action for the idle limit; seat ignored */
    BATTLE_ACT_SHUTDOWN = 12,     /* server: shutting down; seat ignored */
    BATTLE_ACT_COUNT
} battle_action_kind;

typedef struct {
    uint8_t kind; /* battle_action_kind */
    uint8_t seat; /* 0 or 1 */
    uint16_t arg; /* weapon index (fire) or missile id (point defense); else 0 */
} battle_action;

typedef enum {
    BATTLE_TIMEOUT_FIRE_DEFAULT = 0, /* expired timer fires weapon 0 (else ends the turn) */
    BATTLE_TIMEOUT_END_TURN = 1,     /* expired timer just ends the turn */
} battle_timeout_policy;

typedef enum {
    BATTLE_RUNNING = 0,
    BATTLE_OVER = 1,
} battle_status;

typedef enum {
    BATTLE_END_NONE = 0,
    BATTLE_END_DESTROYED = 1,    /* loser's hull reached 0 */
    BATTLE_END_FORFEIT = 2,      /* loser asked to forfeit */
    BATTLE_END_TIMEOUTS = 3,     /* loser let its timer expire timeout_limit times in a row */
    BATTLE_END_DISCONNECTED = 4, /* loser stayed away past the resume window */
    BATTLE_END_DRAW = 5,         /* round limit reached; no winner */
    BATTLE_END_ABANDONED = 6,    /* idle disposal; no winner */
    BATTLE_END_SHUTDOWN = 7,     /* server shutdown; no winner */
    BATTLE_END_COUNT
} battle_end_reason;

/* Critical locations, in 2D6 order (roll 2 = sensors ... 12 = computer). */
typedef enum {
    BATTLE_LOC_SENSORS = 0,
    BATTLE_LOC_POWER_PLANT,
    BATTLE_LOC_FUEL,
    BATTLE_LOC_WEAPON,
    BATTLE_LOC_ARMOUR,
    BATTLE_LOC_HULL,
    BATTLE_LOC_M_DRIVE,
    BATTLE_LOC_CARGO,
    BATTLE_LOC_J_DRIVE,
    BATTLE_LOC_CREW,
    BATTLE_LOC_COMPUTER,
} battle_crit_location;

typedef struct {
    uint32_t seq; /* the battle's sequence number: 1, 2, ... */
    uint8_t kind; /* battle_event_kind */
    uint8_t seat; /* the seat the event is about (see each kind) */
    union {
        struct { uint8_t band; uint8_t pad; uint16_t round_limit; uint16_t hull[2]; } started; /* seat = first active */
        struct { uint16_t round; } turn;                       /* seat = now active */
        struct { uint16_t round; uint16_t hull[2]; } round;    /* seat = active */
        struct {
            uint8_t weapon;
            uint8_t dice[2];
            int8_t total;
            int8_t effect;
            uint8_t flags;   /* BATTLE_ATTACK_HIT | BATTLE_ATTACK_SAND_USED */
            uint8_t damage;
            uint8_t pad;
            uint16_t target_hull;
        } attack;                                              /* seat = attacker */
        struct {
            uint8_t location; /* battle_crit_location */
            uint8_t severity;
            uint8_t crew_injured; /* 1 when this critical injured a crew member */
            uint8_t pad;
            uint16_t extra_damage;
            uint16_t target_hull;
        } critical;                                            /* seat = target */
        struct { uint16_t id; uint8_t band; uint8_t ammo_left; } launched; /* seat = launcher */
        struct { uint16_t id; uint8_t old_band; uint8_t new_band; } moved; /* seat = launcher */
        struct { uint16_t id; uint8_t dice[4]; uint8_t damage; uint8_t pad; uint16_t target_hull; } struck; /* seat = target */
        struct { uint16_t id; uint8_t dice[2]; int8_t total; uint8_t destroyed; } pd; /* seat = defender */
        struct { uint8_t dice[2]; int8_t total; uint8_t success; uint8_t armour_bonus; uint8_t ammo_left; } sand; /* seat */
        struct { uint8_t consecutive; } timeout;               /* seat = timed out */
        struct { uint8_t winner; uint8_t reason; uint16_t rounds; uint16_t hull[2]; } ended; /* winner: seat or BATTLE_NO_SEAT */
        uint8_t raw[10];
    } u;
} battle_event;

#define BATTLE_ATTACK_HIT 1u
#define BATTLE_ATTACK_SAND_USED 2u

typedef enum {
    BATTLE_EV_STARTED = 1,
    BATTLE_EV_TURN = 2,             /* the other seat is now active, same round */
    BATTLE_EV_ROUND = 3,            /* a new round began */
    BATTLE_EV_ATTACK = 4,
    BATTLE_EV_CRITICAL = 5,
    BATTLE_EV_MISSILE_LAUNCHED = 6,
    BATTLE_EV_MISSILE_MOVED = 7,
    BATTLE_EV_MISSILE_STRUCK = 8,
    BATTLE_EV_POINT_DEFENSE = 9,
    BATTLE_EV_SANDCASTER = 10,
    BATTLE_EV_TIMEOUT = 11,
    BATTLE_EV_SEAT_AWAY = 12,
    BATTLE_EV_SEAT_BACK = 13,
    BATTLE_EV_ENDED = 14,
    BATTLE_EV_COUNT
} battle_event_kind;

/* Everything needed to create (and so to replay) a battle. Ships are copied
 * by value, so a setup is self-contained and can be logged as is. */
typedef struct {
    uint64_t seed;          /* chosen by the server, never by a client */
    ships_ship ship[2];     /* seat 0 and seat 1 */
    uint8_t band;           /* battle_band, fixed for the whole battle */
    uint8_t timeout_policy; /* battle_timeout_policy */
    uint8_t timeout_limit;  /* 0 = BATTLE_DEFAULT_TIMEOUT_LIMIT; else 1..BATTLE_MAX_TIMEOUT_LIMIT */
    uint16_t round_limit;   /* 0 = BATTLE_DEFAULT_ROUND_LIMIT; else 1..BATTLE_MAX_ROUND_LIMIT */
} battle_setup;

/* ---- the battle struct (fields are private: use the functions) ---------- */
typedef struct {
    uint16_t id;   /* 1, 2, ... per battle */
    uint8_t band;  /* current band */
    uint8_t flags; /* bit 0: launcher seat; bit 1: point defense tried this round */
} battle_missile;

typedef struct {
    ships_ship stats;      /* copied; weapons[].ammo counts down */
    uint16_t hull;         /* current hull; stats.hull is the maximum */
    uint8_t crew_injured;  /* crew criticals taken */
    uint8_t crits[BATTLE_CRIT_LOCATIONS]; /* criticals taken per location */
} battle_ship;

typedef struct {
    dice_rng rng;          /* the battle's dice */
    uint64_t ai_key;       /* keys the AI's pure decisions */
    uint32_t seq;          /* last sequence number used */
    uint16_t round;
    uint16_t round_limit;
    uint16_t next_missile_id;
    uint8_t band;
    uint8_t active;        /* active seat */
    uint8_t status;        /* battle_status */
    uint8_t winner;        /* seat or BATTLE_NO_SEAT */
    uint8_t reason;        /* battle_end_reason */
    uint8_t acted;         /* bit per seat: turn action taken this round */
    uint8_t sand_used;     /* bit per seat: sandcaster used this round */
    uint8_t away;          /* bit per seat */
    uint8_t timeouts[2];   /* consecutive expiries */
    uint8_t timeout_limit;
    uint8_t timeout_policy;
    uint8_t sand_bonus[2]; /* armour bonus for the next laser hit this round */
    uint8_t nmissiles;
    uint8_t hist_len;      /* events held in history */
    uint8_t hist_head;     /* slot of the oldest held event */
    battle_missile missiles[BATTLE_MAX_MISSILES];
    battle_ship ship[2];
} battle_state;

/* History ring: as many events as fit the 1 KiB budget. */
#define BATTLE_HISTORY ((BATTLE_SIZE_MAX - sizeof(battle_state)) / sizeof(battle_event))

typedef struct {
    battle_state s;
    battle_event history[BATTLE_HISTORY];
} battle;
_Static_assert(sizeof(battle) <= BATTLE_SIZE_MAX, "a battle must fit in 1 KiB");

/* ---- full-state view (watch / resume) ----------------------------------- */
typedef struct {
    battle_ship ship[2];  /* name, type key, hull, max (stats.hull), armour, weapons with ammo, crits */
    battle_missile missiles[BATTLE_MAX_MISSILES];
    uint8_t nmissiles;
    uint8_t band;
    uint8_t status;       /* battle_status */
    uint8_t active;       /* active seat */
    bool acted[2];        /* turn action taken this round */
    bool sand_used[2];
    bool away[2];
    uint8_t sand_bonus[2];
    uint8_t timeouts[2];
    uint8_t winner;       /* when over: seat or BATTLE_NO_SEAT */
    uint8_t reason;       /* battle_end_reason */
    uint16_t round;
    uint16_t round_limit;
    uint32_t last_seq;
} battle_view;

/* ---- API ---------------------------------------------------------------- */

/* Initialises *b from setup and writes the opening event (STARTED, seq 1)
 * into out (cap >= BATTLE_MAX_EVENTS_PER_APPLY) and the history. *nev gets the
 * count. Returns BATTLE_OK, BATTLE_ERR_BAD_SETUP (band, option or ship out of
 * range; *b untouched) or BATTLE_ERR_BUFFER (out NULL or cap too small).
 * battle_create_quiet() needs no buffer. */
battle_err battle_create(battle *b, const battle_setup *setup, battle_event *out, size_t cap,
                         size_t *nev);
/* Same as battle_create without an output buffer (history still holds STARTED). */
battle_err battle_create_quiet(battle *b, const battle_setup *setup);

/* Applies one action. On success writes the events produced (in order, each
 * with the next sequence number) into out and their count into *nev, and
 * appends them to the history. On error returns the code, writes nothing and
 * leaves *b bit-for-bit unchanged. cap must be >= BATTLE_MAX_EVENTS_PER_APPLY. */
battle_err battle_apply(battle *b, const battle_action *a, battle_event *out, size_t cap,
                        size_t *nev);

/* battle_apply with every die rolled from src instead of the battle's own
 * generator (which is then not advanced). For tests; src NULL = battle_apply. */
battle_err battle_apply_dice(battle *b, const battle_action *a, const dice_source *src,
                             battle_event *out, size_t cap, size_t *nev);

/* Rebuilds a battle from its setup and its log of accepted actions. Returns
 * BATTLE_OK, or the first error met (then *failed_at, if given, is its index
 * and *out holds the battle before that action). */
battle_err battle_replay(const battle_setup *setup, const battle_action *actions, size_t n,
                         battle *out, size_t *failed_at);

/* Copies the kept events with seq > after_seq, oldest first, into out (at
 * most cap, which must be >= 1; pass cap >= BATTLE_HISTORY to get all). Returns the number copied
 * (0 when the caller is up to date), or -1 when some event after after_seq is
 * no longer kept or after_seq is in the future: send the full state then. */
int battle_history_since(const battle *b, uint32_t after_seq, battle_event *out, size_t cap);

/* Fills *out with the full state (no pointers; safe to encode later). */
void battle_view_fill(const battle *b, battle_view *out);

/* The server's opponent. Returns true and fills *out when seat has something
 * to do now: its turn action when it is active and has not acted, or a
 * reaction worth taking (point defense against an incoming missile, about
 * half the time per missile per round; sandcaster when hurt, in band and the
 * opponent still has to act). Only ever proposes a legal action. Pure: its
 * randomness is a function of the battle's AI key and state. */
bool battle_ai_choose(const battle *b, int seat, battle_action *out);

/* Small accessors. */
bool battle_is_over(const battle *b);
int battle_active_seat(const battle *b);      /* -1 when over */
unsigned battle_round(const battle *b);
uint32_t battle_last_seq(const battle *b);
int battle_winner(const battle *b);           /* seat, or -1 (draw/none/running) */
battle_end_reason battle_reason(const battle *b);
bool battle_action_is_player(unsigned kind);  /* true for client-allowed kinds */

/* Stable snake_case names ("not_your_turn", "very_long", "missile_struck",
 * "timeouts", "power_plant", "point_defense"); "unknown" out of range. */
const char *battle_err_name(battle_err e);
const char *battle_band_name(unsigned band);
const char *battle_event_name(unsigned kind);
const char *battle_reason_name(unsigned reason);
const char *battle_crit_name(unsigned location);
const char *battle_action_name(unsigned kind);
/* Inverse lookups: the value, or -1 when the name is unknown. */
int battle_band_from_name(const char *name);
int battle_action_from_name(const char *name);

#endif
