/* ships: the ship table, as data loaded at start from a TOML buffer
 * (data/ships.toml by default; config key game.ships_file).
 *
 * The table is a plain fixed-size struct (no heap after loading), so it can
 * be shared read-only between shards. A battle copies the two ships it uses;
 * nothing points back into the table. core does no file I/O: the caller reads
 * the file and passes the bytes.
 *
 * File format (see data/ships.toml and docs/RULES.md):
 *   [ships.<key>]           key: [a-z0-9_], 1..SHIPS_KEY_MAX-1 bytes
 *   name    = "Scout"       1..SHIPS_NAME_MAX-1 bytes, printable, no NUL
 *   hull    = 40            1..SHIPS_MAX_HULL
 *   armour  = 4             0..SHIPS_MAX_ARMOUR
 *   pilot   = 2             SHIPS_MIN_PILOT..SHIPS_MAX_PILOT (default 1)
 *   thrust  = 2             0..SHIPS_MAX_THRUST
 *   weapons = [ { name = "Pulse Laser", kind = "laser", dice = 2 }, ... ]
 * Weapon keys: name (required), kind (required: laser | missile | gun |
 * rack | sand, the protocol's names), dice (1..SHIPS_MAX_DICE, required for the three
 * firing kinds, refused for the others), long_range_dm (firing kinds only,
 * added at Long, Very Long and Distant; default 0), ammo (0..SHIPS_MAX_AMMO;
 * required for rack and sand, optional for firing kinds where
 * absence means unlimited). Any other key, a wrong type or a value out of
 * range is an error. */
#ifndef BATTLED_CORE_SHIPS_H
#define BATTLED_CORE_SHIPS_H

#include <stddef.h>
#include <stdint.h>

#define SHIPS_MAX 64                /* ships in one table */
#define SHIPS_MAX_WEAPONS 8         /* weapons per ship */
#define SHIPS_KEY_MAX 24            /* bytes of a type key, NUL included */
#define SHIPS_NAME_MAX 24           /* bytes of a display name, NUL included */
#define SHIPS_WEAPON_NAME_MAX 16    /* bytes of a weapon name, NUL included */
#define SHIPS_MAX_HULL 10000
#define SHIPS_MAX_ARMOUR 30
#define SHIPS_MIN_PILOT (-3)
#define SHIPS_MAX_PILOT 6
#define SHIPS_MAX_THRUST 9
#define SHIPS_MAX_DICE 8            /* damage dice of one weapon */
#define SHIPS_MAX_AMMO 250          /* rounds/missiles/canisters of one weapon */
#define SHIPS_AMMO_UNLIMITED (-1)
#define SHIPS_MISSILE_DICE 4        /* a launched missile strikes for 4D6 */
#define SHIPS_TEXT_MAX (1u << 20)   /* largest ship file accepted */

typedef enum {
    SHIPS_WK_LASER = 0,    /* direct fire; the sandcaster bonus applies against it */
    SHIPS_WK_MISSILE = 1,  /* direct-fire missiles (the Scout's "Missiles") */
    SHIPS_WK_GUN = 2,      /* any other direct-fire weapon */
    SHIPS_WK_RACK = 3,     /* launches missiles that fly (turn action "launch") */
    SHIPS_WK_SANDCASTER = 4, /* reaction; ammo = canisters */
    SHIPS_WK_COUNT
} ships_weapon_kind;

typedef struct {
    char name[SHIPS_WEAPON_NAME_MAX];
    uint8_t kind;          /* ships_weapon_kind */
    uint8_t dice;          /* damage dice (D6); 0 for rack and sandcaster */
    int8_t long_range_dm;  /* attack DM at Long or farther */
    uint8_t pad_;
    int16_t ammo;          /* SHIPS_AMMO_UNLIMITED or 0..SHIPS_MAX_AMMO */
} ships_weapon;

typedef struct {
    char key[SHIPS_KEY_MAX];   /* type key, e.g. "free_trader" */
    char name[SHIPS_NAME_MAX]; /* display name, e.g. "Free Trader" */
    uint16_t hull;             /* maximum hull */
    uint8_t armour;
    int8_t pilot;
    uint8_t thrust;
    uint8_t nweapons;
    ships_weapon weapons[SHIPS_MAX_WEAPONS];
} ships_ship;

typedef struct {
    size_t count;
    ships_ship ships[SHIPS_MAX];
} ships_table;

/* Parses and validates a ship table from len bytes of TOML. On success fills
 * *out (ships in document order) and returns 0. On failure returns -1, leaves
 * *out with count 0 and writes a one-line reason (with line number where
 * known) into err (errlen bytes, always NUL-terminated when errlen > 0). */
int ships_load_toml(const char *text, size_t len, ships_table *out, char *err, size_t errlen);

/* The ship with type key key, or NULL. */
const ships_ship *ships_find(const ships_table *t, const char *key);

/* Weapon kind names as used in the file ("laser", ...); "?" when unknown. */
const char *ships_weapon_kind_name(unsigned kind);

/* 1 for kinds that fire as a turn action (laser, missile, gun), else 0. */
int ships_weapon_fires(unsigned kind);

#endif
