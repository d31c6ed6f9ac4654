/* ships: strict loading of the ship table from TOML (see ships.h for the
 * format). Every key is checked against a closed list and every value against
 * its range, so a typo in an operator's file is an error at start, never a
 * silently different ship. */
#include "core/ships.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/toml.h"

/* One vocabulary from the data file to the wire: these are the protocol's weapon kinds
 * (proto/names.c), so an operator reads in ships.toml what a client reads in a weapon map. */
static const char *const kind_names[SHIPS_WK_COUNT] = {
    [SHIPS_WK_LASER] = "laser",
    [SHIPS_WK_MISSILE] = "missile",
    [SHIPS_WK_GUN] = "gun",
    [SHIPS_WK_RACK] = "rack",
    [SHIPS_WK_SANDCASTER] = "sand",
};

const char *ships_weapon_kind_name(unsigned kind)
{
    return kind < SHIPS_WK_COUNT ? kind_names[kind] : "?";
}

int ships_weapon_fires(unsigned kind)
{
    return kind == SHIPS_WK_LASER || kind == SHIPS_WK_MISSILE || kind == SHIPS_WK_GUN;
}

const ships_ship *ships_find(const ships_table *t, const char *key)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->ships[i].key, key) == 0)
            return &t->ships[i];
    return NULL;
}

/* ---- error reporting ------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len;
} errbuf;

static int fail(errbuf *e, const toml_value *at, const char *fmt, ...)
{
    if (!e->buf || e->len == 0)
        return -1;
    size_t off = 0;
    if (at) {
        int n = snprintf(e->buf, e->len, "line %d: ", toml_line(at));
        off = n > 0 ? (size_t)n : 0;
        if (off >= e->len)
            return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf + off, e->len - off, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- typed field readers --------------------------------------------------- */

static int get_int(errbuf *e, const toml_value *v, const char *where, const char *key, int64_t lo,
                   int64_t hi, int64_t *out)
{
    if (toml_type_of(v) != TOML_INT)
        return fail(e, v, "%s.%s: expected integer, got %s", where, key,
                    toml_type_name(toml_type_of(v)));
    int64_t x = toml_as_int(v);
    if (x < lo || x > hi)
        return fail(e, v, "%s.%s = %lld: out of range %lld..%lld", where, key, (long long)x,
                    (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

/* Copies a string of 1..max-1 printable bytes (UTF-8 allowed, no controls). */
static int get_text(errbuf *e, const toml_value *v, const char *where, const char *key, char *dst,
                    size_t max)
{
    if (toml_type_of(v) != TOML_STRING)
        return fail(e, v, "%s.%s: expected string, got %s", where, key,
                    toml_type_name(toml_type_of(v)));
    size_t n;
    const char *s = toml_as_string(v, &n);
    if (n == 0 || n >= max)
        return fail(e, v, "%s.%s: length %zu, must be 1..%zu bytes", where, key, n, max - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fail(e, v, "%s.%s: control character in text", where, key);
    memset(dst, 0, max);
    memcpy(dst, s, n);
    return 0;
}

static int key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n >= SHIPS_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return 0;
    return 1;
}

/* ---- one weapon, one ship ---------------------------------------------------- */

static int load_weapon(errbuf *e, const toml_value *tv, const char *where, ships_weapon *w)
{
    if (toml_type_of(tv) != TOML_TABLE)
        return fail(e, tv, "%s: expected a table {name=..., kind=...}", where);
    const toml_value *kv = toml_table_get(tv, "kind");
    const toml_value *nv = toml_table_get(tv, "name");
    if (!kv)
        return fail(e, tv, "%s: missing key 'kind'", where);
    if (!nv)
        return fail(e, tv, "%s: missing key 'name'", where);
    if (toml_type_of(kv) != TOML_STRING)
        return fail(e, kv, "%s.kind: expected string", where);
    const char *ks = toml_as_string(kv, NULL);
    int kind = -1;
    for (int k = 0; k < SHIPS_WK_COUNT; k++)
        if (strcmp(ks, kind_names[k]) == 0)
            kind = k;
    if (kind < 0 && (strcmp(ks, "missile_rack") == 0 || strcmp(ks, "sandcaster") == 0))
        return fail(e, kv, "%s.kind: '%s' is now called '%s' (the protocol's name)", where, ks,
                    ks[0] == 'm' ? "rack" : "sand");
    if (kind < 0)
        return fail(e, kv, "%s.kind: unknown kind '%s' (laser, missile, gun, rack, sand)", where, ks);
    memset(w, 0, sizeof *w);
    w->kind = (uint8_t)kind;
    w->ammo = SHIPS_AMMO_UNLIMITED;
    if (get_text(e, nv, where, "name", w->name, sizeof w->name) < 0)
        return -1;
    bool fires = ships_weapon_fires((unsigned)kind);
    bool have_dice = false, have_ammo = false;
    for (size_t i = 0; i < toml_table_count(tv); i++) {
        const char *k = toml_table_key_at(tv, i);
        const toml_value *v = toml_table_value_at(tv, i);
        int64_t x = 0; /* get_int sets it before every use; GCC's -O3 cannot see that (Release) */
        if (strcmp(k, "kind") == 0 || strcmp(k, "name") == 0)
            continue;
        if (strcmp(k, "dice") == 0) {
            if (!fires)
                return fail(e, v, "%s.dice: a %s has no damage dice", where, kind_names[kind]);
            if (get_int(e, v, where, k, 1, SHIPS_MAX_DICE, &x) < 0)
                return -1;
            w->dice = (uint8_t)x;
            have_dice = true;
        } else if (strcmp(k, "long_range_dm") == 0) {
            if (!fires)
                return fail(e, v, "%s.long_range_dm: only firing weapons have it", where);
            if (get_int(e, v, where, k, -6, 6, &x) < 0)
                return -1;
            w->long_range_dm = (int8_t)x;
        } else if (strcmp(k, "ammo") == 0) {
            if (get_int(e, v, where, k, 0, SHIPS_MAX_AMMO, &x) < 0)
                return -1;
            w->ammo = (int16_t)x;
            have_ammo = true;
        } else {
            return fail(e, v, "%s: unknown key '%s'", where, k);
        }
    }
    if (fires && !have_dice)
        return fail(e, tv, "%s: missing key 'dice'", where);
    if (!fires && !have_ammo)
        return fail(e, tv, "%s: missing key 'ammo' (a %s needs it)", where, kind_names[kind]);
    return 0;
}

static int load_ship(errbuf *e, const char *key, const toml_value *tv, ships_ship *sh)
{
    char where[SHIPS_KEY_MAX + 16];
    snprintf(where, sizeof where, "ships.%s", key);
    if (!key_ok(key))
        return fail(e, tv, "%s: key must be 1..%d of [a-z0-9_]", where, SHIPS_KEY_MAX - 1);
    if (toml_type_of(tv) != TOML_TABLE)
        return fail(e, tv, "%s: expected a table", where);
    memset(sh, 0, sizeof *sh);
    memcpy(sh->key, key, strlen(key));
    sh->pilot = 1;
    bool have_name = false, have_hull = false, have_armour = false, have_thrust = false;
    for (size_t i = 0; i < toml_table_count(tv); i++) {
        const char *k = toml_table_key_at(tv, i);
        const toml_value *v = toml_table_value_at(tv, i);
        int64_t x = 0; /* get_int sets it before every use; GCC's -O3 cannot see that (Release) */
        if (strcmp(k, "name") == 0) {
            if (get_text(e, v, where, k, sh->name, sizeof sh->name) < 0)
                return -1;
            have_name = true;
        } else if (strcmp(k, "hull") == 0) {
            if (get_int(e, v, where, k, 1, SHIPS_MAX_HULL, &x) < 0)
                return -1;
            sh->hull = (uint16_t)x;
            have_hull = true;
        } else if (strcmp(k, "armour") == 0) {
            if (get_int(e, v, where, k, 0, SHIPS_MAX_ARMOUR, &x) < 0)
                return -1;
            sh->armour = (uint8_t)x;
            have_armour = true;
        } else if (strcmp(k, "pilot") == 0) {
            if (get_int(e, v, where, k, SHIPS_MIN_PILOT, SHIPS_MAX_PILOT, &x) < 0)
                return -1;
            sh->pilot = (int8_t)x;
        } else if (strcmp(k, "thrust") == 0) {
            if (get_int(e, v, where, k, 0, SHIPS_MAX_THRUST, &x) < 0)
                return -1;
            sh->thrust = (uint8_t)x;
            have_thrust = true;
        } else if (strcmp(k, "weapons") == 0) {
            if (toml_type_of(v) != TOML_ARRAY)
                return fail(e, v, "%s.weapons: expected an array of tables", where);
            size_t n = toml_array_count(v);
            if (n > SHIPS_MAX_WEAPONS)
                return fail(e, v, "%s.weapons: %zu weapons, at most %d", where, n,
                            SHIPS_MAX_WEAPONS);
            for (size_t j = 0; j < n; j++) {
                char wwhere[sizeof where + 24];
                snprintf(wwhere, sizeof wwhere, "%s.weapons[%zu]", where, j);
                if (load_weapon(e, toml_array_at(v, j), wwhere, &sh->weapons[j]) < 0)
                    return -1;
            }
            sh->nweapons = (uint8_t)n;
        } else {
            return fail(e, v, "%s: unknown key '%s'", where, k);
        }
    }
    if (!have_name)
        return fail(e, tv, "%s: missing key 'name'", where);
    if (!have_hull)
        return fail(e, tv, "%s: missing key 'hull'", where);
    if (!have_armour)
        return fail(e, tv, "%s: missing key 'armour'", where);
    if (!have_thrust)
        return fail(e, tv, "%s: missing key 'thrust'", where);
    return 0;
}

int ships_load_toml(const char *text, size_t len, ships_table *out, char *err, size_t errlen)
{
    errbuf e = {err, errlen};
    if (err && errlen)
        err[0] = '\0';
    out->count = 0;
    if (len > SHIPS_TEXT_MAX)
        return fail(&e, NULL, "ship table is %zu bytes, at most %u", len, SHIPS_TEXT_MAX);
    toml_error te;
    toml_doc *doc = toml_parse(text, len, "ships", &te);
    if (!doc)
        return fail(&e, NULL, "line %d col %d: %s", te.line, te.col, te.msg);
    const toml_value *root = toml_root(doc);
    int rc = 0;
    for (size_t i = 0; i < toml_table_count(root) && rc == 0; i++) {
        const char *k = toml_table_key_at(root, i);
        if (strcmp(k, "ships") != 0)
            rc = fail(&e, toml_table_value_at(root, i), "unknown top-level key '%s' (only [ships.<key>])", k);
    }
    const toml_value *ships = toml_table_get(root, "ships");
    if (rc == 0 && (!ships || toml_type_of(ships) != TOML_TABLE))
        rc = fail(&e, ships, "no [ships.<key>] tables");
    size_t n = rc == 0 ? toml_table_count(ships) : 0;
    if (rc == 0 && n == 0)
        rc = fail(&e, ships, "no ships defined");
    if (rc == 0 && n > SHIPS_MAX)
        rc = fail(&e, ships, "%zu ships, at most %d", n, SHIPS_MAX);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = load_ship(&e, toml_table_key_at(ships, i), toml_table_value_at(ships, i),
                       &out->ships[i]);
    toml_free(doc);
    if (rc < 0) {
        out->count = 0;
        return -1;
    }
    out->count = n;
    return 0;
}
