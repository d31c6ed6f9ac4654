/* persist: journal payloads of a battle (see persist.h). CREATED goes through msgpack-c (once per
 * battle); ACTION, written for every accepted action, is four to eight bytes encoded by hand. */
#include "shards/persist.h"

#include <msgpack.h>
#include <stdio.h>
#include <string.h>

/* ---- encoding -------------------------------------------------------------------------------- */

struct fixbuf {
    uint8_t *p;
    size_t cap, len;
    bool overflow;
};

static int fix_write(void *data, const char *buf, size_t len)
{
    struct fixbuf *f = data;
    if (f->overflow || f->cap - f->len < len) {
        f->overflow = true;
        return -1;
    }
    memcpy(f->p + f->len, buf, len);
    f->len += len;
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_ship(msgpack_packer *pk, const ships_ship *s)
{
    msgpack_pack_array(pk, 7);
    pack_str(pk, s->key, SHIPS_KEY_MAX);
    pack_str(pk, s->name, SHIPS_NAME_MAX);
    msgpack_pack_uint16(pk, s->hull);
    msgpack_pack_uint8(pk, s->armour);
    msgpack_pack_int8(pk, s->pilot);
    msgpack_pack_uint8(pk, s->thrust);
    unsigned nw = s->nweapons <= SHIPS_MAX_WEAPONS ? s->nweapons : SHIPS_MAX_WEAPONS;
    msgpack_pack_array(pk, nw);
    for (unsigned i = 0; i < nw; i++) {
        const ships_weapon *w = &s->weapons[i];
        msgpack_pack_array(pk, 5);
        pack_str(pk, w->name, SHIPS_WEAPON_NAME_MAX);
        msgpack_pack_uint8(pk, w->kind);
        msgpack_pack_uint8(pk, w->dice);
        msgpack_pack_int8(pk, w->long_range_dm);
        msgpack_pack_int16(pk, w->ammo);
    }
}

size_t persist_encode_created(uint8_t *buf, size_t cap, const struct persist_created *c)
{
    struct fixbuf f = {.p = buf, .cap = cap};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &f, fix_write);
    bool keys = c->has_key[0] || c->has_key[1];
    msgpack_pack_array(&pk, keys ? 12 : c->seq_base ? 11 : 10);
    msgpack_pack_uint8(&pk, PERSIST_VERSION);
    msgpack_pack_uint8(&pk, c->phase);
    msgpack_pack_uint8(&pk, c->setup.band);
    msgpack_pack_uint64(&pk, c->setup.seed);
    msgpack_pack_uint8(&pk, c->setup.timeout_policy);
    msgpack_pack_uint8(&pk, c->setup.timeout_limit);
    msgpack_pack_uint16(&pk, c->setup.round_limit);
    msgpack_pack_int8(&pk, c->ai_seat);
    msgpack_pack_array(&pk, 2);
    for (int s = 0; s < 2; s++) {
        if (c->has_token[s]) {
            msgpack_pack_bin(&pk, SHARD_TOKEN_BYTES);
            msgpack_pack_bin_body(&pk, c->token[s], SHARD_TOKEN_BYTES);
        } else {
            msgpack_pack_nil(&pk);
        }
    }
    msgpack_pack_array(&pk, 2);
    for (int s = 0; s < 2; s++) {
        if (c->has_ship[s])
            pack_ship(&pk, &c->setup.ship[s]);
        else
            msgpack_pack_nil(&pk);
    }
    if (keys || c->seq_base)
        msgpack_pack_uint32(&pk, c->seq_base);
    if (keys) {
        msgpack_pack_array(&pk, 2);
        for (int s = 0; s < 2; s++) {
            if (c->has_key[s]) {
                msgpack_pack_bin(&pk, SHARD_TOKEN_BYTES);
                msgpack_pack_bin_body(&pk, c->key[s], SHARD_TOKEN_BYTES);
            } else {
                msgpack_pack_nil(&pk);
            }
        }
    }
    return f.overflow ? 0 : f.len;
}

static uint8_t *put_uint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p++ = (uint8_t)v;
    } else if (v <= 0xff) {
        *p++ = 0xcc;
        *p++ = (uint8_t)v;
    } else {
        *p++ = 0xcd;
        *p++ = (uint8_t)(v >> 8);
        *p++ = (uint8_t)v;
    }
    return p;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    *p++ = 0xce;
    *p++ = (uint8_t)(v >> 24);
    *p++ = (uint8_t)(v >> 16);
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
    return p;
}

size_t persist_encode_ended(uint8_t *buf, uint64_t end_ms)
{
    uint8_t *p = buf;
    *p++ = 0x92;
    *p++ = 1;
    *p++ = 0xcf;
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(end_ms >> (8 * i));
    return (size_t)(p - buf);
}

int persist_decode_ended(const uint8_t *p, size_t len, uint64_t *end_ms)
{
    *end_ms = 0;
    if (len == 1 && p[0] == 0xc0)
        return 0;
    if (len != PERSIST_ENDED_MAX || p[0] != 0x92 || p[1] != 1 || p[2] != 0xcf)
        return -1;
    for (int i = 0; i < 8; i++)
        *end_ms = *end_ms << 8 | p[3 + i];
    return 0;
}

size_t persist_encode_mark(uint8_t *buf, const struct persist_mark *m)
{
    uint8_t *p = buf;
    *p++ = 0x93;
    *p++ = 0;
    p = put_u32(p, m->split);
    p = put_u32(p, m->off);
    return (size_t)(p - buf);
}

size_t persist_encode_action(uint8_t *buf, const battle_action *a)
{
    uint8_t *p = buf;
    *p++ = 0x93;
    p = put_uint(p, a->kind);
    p = put_uint(p, a->seat);
    p = put_uint(p, a->arg);
    return (size_t)(p - buf);
}

/* ---- decoding -------------------------------------------------------------------------------- */

static const uint8_t *get_uint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p >= end)
        return NULL;
    if (*p < 0x80) {
        *v = *p;
        return p + 1;
    }
    if (*p == 0xcc && end - p >= 2) {
        *v = p[1];
        return p + 2;
    }
    if (*p == 0xcd && end - p >= 3) {
        *v = (uint64_t)p[1] << 8 | p[2];
        return p + 3;
    }
    return NULL;
}

int persist_decode_action(const uint8_t *p, size_t len, battle_action *out)
{
    const uint8_t *end = p + len;
    uint64_t k, s, a;
    if (len < 4 || *p != 0x93)
        return -1;
    p++;
    if (!(p = get_uint(p, end, &k)) || !(p = get_uint(p, end, &s)) || !(p = get_uint(p, end, &a)) ||
        p != end)
        return -1;
    if (k == 0 || k >= BATTLE_ACT_COUNT || s > 1 || a > UINT16_MAX)
        return -1;
    out->kind = (uint8_t)k;
    out->seat = (uint8_t)s;
    out->arg = (uint16_t)a;
    return 0;
}

int persist_decode_step(const uint8_t *p, size_t len, battle_action *a, struct persist_mark *m)
{
    if (persist_decode_action(p, len, a) == 0)
        return 0;
    if (len != 12 || p[0] != 0x93 || p[1] != 0 || p[2] != 0xce || p[7] != 0xce)
        return -1;
    m->split = (uint32_t)p[3] << 24 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6];
    m->off = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
    return 1;
}

static bool get_int(const msgpack_object *o, int64_t lo, int64_t hi, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return false;
        *v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
    } else {
        return false;
    }
    return *v >= lo && *v <= hi;
}

static bool get_str(const msgpack_object *o, char *dst, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap ||
        memchr(o->via.str.ptr, 0, o->via.str.size))
        return false;
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = 0;
    return true;
}

static bool get_ship(const msgpack_object *o, ships_ship *s)
{
    memset(s, 0, sizeof *s);
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 7)
        return false;
    const msgpack_object *f = o->via.array.ptr;
    int64_t hull, armour, pilot, thrust;
    if (!get_str(&f[0], s->key, sizeof s->key) || !get_str(&f[1], s->name, sizeof s->name) ||
        !get_int(&f[2], 1, SHIPS_MAX_HULL, &hull) || !get_int(&f[3], 0, SHIPS_MAX_ARMOUR, &armour) ||
        !get_int(&f[4], SHIPS_MIN_PILOT, SHIPS_MAX_PILOT, &pilot) ||
        !get_int(&f[5], 0, SHIPS_MAX_THRUST, &thrust) || f[6].type != MSGPACK_OBJECT_ARRAY ||
        f[6].via.array.size > SHIPS_MAX_WEAPONS)
        return false;
    s->hull = (uint16_t)hull;
    s->armour = (uint8_t)armour;
    s->pilot = (int8_t)pilot;
    s->thrust = (uint8_t)thrust;
    s->nweapons = (uint8_t)f[6].via.array.size;
    for (unsigned i = 0; i < s->nweapons; i++) {
        const msgpack_object *w = &f[6].via.array.ptr[i];
        int64_t kind, dice, dm, ammo;
        if (w->type != MSGPACK_OBJECT_ARRAY || w->via.array.size != 5)
            return false;
        const msgpack_object *wf = w->via.array.ptr;
        if (!get_str(&wf[0], s->weapons[i].name, sizeof s->weapons[i].name) ||
            !get_int(&wf[1], 0, 255, &kind) || !get_int(&wf[2], 0, SHIPS_MAX_DICE, &dice) ||
            !get_int(&wf[3], INT8_MIN, INT8_MAX, &dm) ||
            !get_int(&wf[4], SHIPS_AMMO_UNLIMITED, SHIPS_MAX_AMMO, &ammo))
            return false;
        s->weapons[i].kind = (uint8_t)kind;
        s->weapons[i].dice = (uint8_t)dice;
        s->weapons[i].long_range_dm = (int8_t)dm;
        s->weapons[i].ammo = (int16_t)ammo;
    }
    return true;
}

static int fail(char *why, size_t whylen, const char *msg)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
    return -1;
}

static int decode_created(const msgpack_object *o, struct persist_created *c, char *why,
                          size_t whylen)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 10 || o->via.array.size > 12)
        return fail(why, whylen, "created record: not an array of 10 to 12 elements");
    const msgpack_object *f = o->via.array.ptr;
    int64_t v, phase, band, tp, tl, rl, ai;
    if (!get_int(&f[0], 0, 255, &v) || v != PERSIST_VERSION)
        return fail(why, whylen, "created record: unknown version");
    if (!get_int(&f[1], PERSIST_WAITING, PERSIST_RUNNING, &phase) ||
        !get_int(&f[2], 0, BATTLE_BAND_COUNT - 1, &band) ||
        f[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER || !get_int(&f[4], 0, 1, &tp) ||
        !get_int(&f[5], 0, BATTLE_MAX_TIMEOUT_LIMIT, &tl) ||
        !get_int(&f[6], 0, BATTLE_MAX_ROUND_LIMIT, &rl) || !get_int(&f[7], -1, 1, &ai))
        return fail(why, whylen, "created record: a field is out of range");
    c->phase = (uint8_t)phase;
    c->setup.band = (uint8_t)band;
    c->setup.seed = f[3].via.u64;
    c->setup.timeout_policy = (uint8_t)tp;
    c->setup.timeout_limit = (uint8_t)tl;
    c->setup.round_limit = (uint16_t)rl;
    c->ai_seat = (int8_t)ai;
    if (f[8].type != MSGPACK_OBJECT_ARRAY || f[8].via.array.size != 2 ||
        f[9].type != MSGPACK_OBJECT_ARRAY || f[9].via.array.size != 2)
        return fail(why, whylen, "created record: tokens or ships are not pairs");
    for (int s = 0; s < 2; s++) {
        const msgpack_object *t = &f[8].via.array.ptr[s];
        c->has_token[s] = t->type != MSGPACK_OBJECT_NIL;
        if (c->has_token[s]) {
            if (t->type != MSGPACK_OBJECT_BIN || t->via.bin.size != SHARD_TOKEN_BYTES)
                return fail(why, whylen, "created record: bad token");
            memcpy(c->token[s], t->via.bin.ptr, SHARD_TOKEN_BYTES);
        }
        const msgpack_object *sh = &f[9].via.array.ptr[s];
        c->has_ship[s] = sh->type != MSGPACK_OBJECT_NIL;
        if (c->has_ship[s] && !get_ship(sh, &c->setup.ship[s]))
            return fail(why, whylen, "created record: bad ship");
    }
    if (!c->has_ship[0] || (c->phase == PERSIST_RUNNING && !c->has_ship[1]))
        return fail(why, whylen, "created record: a seat has no ship");
    if (c->ai_seat >= 0 && c->has_token[c->ai_seat])
        return fail(why, whylen, "created record: the AI's seat has a token");
    if (o->via.array.size >= 11) {
        int64_t base;
        if (!get_int(&f[10], 0, UINT32_MAX, &base))
            return fail(why, whylen, "created record: bad seq base");
        c->seq_base = (uint32_t)base;
    }
    if (o->via.array.size == 12) {
        if (f[11].type != MSGPACK_OBJECT_ARRAY || f[11].via.array.size != 2)
            return fail(why, whylen, "created record: keys are not a pair");
        for (int s = 0; s < 2; s++) {
            const msgpack_object *k = &f[11].via.array.ptr[s];
            c->has_key[s] = k->type != MSGPACK_OBJECT_NIL;
            if (!c->has_key[s])
                continue;
            if (k->type != MSGPACK_OBJECT_BIN || k->via.bin.size != SHARD_TOKEN_BYTES)
                return fail(why, whylen, "created record: bad key");
            memcpy(c->key[s], k->via.bin.ptr, SHARD_TOKEN_BYTES);
        }
    }
    return 0;
}

int persist_decode_created(const uint8_t *p, size_t len, struct persist_created *out, char *why,
                           size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (len > PERSIST_CREATED_MAX)
        return fail(why, whylen, "created record: too long");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc;
    if (msgpack_unpack_next(&u, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        rc = fail(why, whylen, "created record: not one msgpack object");
    else
        rc = decode_created(&u.data, out, why, whylen);
    msgpack_unpacked_destroy(&u);
    return rc;
}
