/* Table-driven msgpack codec: one field table per message drives both decoding and encoding, so the
 * two cannot drift apart. See codec.h for the contract and docs/PROTOCOL.md for the tables in prose. */
#include "proto/codec.h"

#include <limits.h>
#include <msgpack.h>
#include <stddef.h>
#include <string.h>

#include "proto/mp.h"

enum kind {
    K_U,       /* unsigned integer of `size` bytes in [min, max] */
    K_I,       /* signed integer of `size` bytes in [min, max] */
    K_BOOL,
    K_TEXT,    /* UTF-8 text without control characters, length in [min, max], NUL-terminated */
    K_KEY,     /* identifier [a-z0-9_]{1,PROTO_SHIP_MAX} */
    K_ENUM,    /* one of names[min..max], stored as uint8 (its index) */
    K_TOKEN,   /* bin of exactly PROTO_TOKEN_LEN bytes */
    K_WINNER,  /* nil (stored -1) or 0..1, int8 */
    K_UARR,    /* array of exactly `cap` unsigned integers of `size` bytes in [min, max] */
    K_OBJARR,  /* array of maps described by `sub`; count stored at cnt (uint8) or exactly cap */
    K_RID,     /* uint32 request id with its has_rid flag just before it (see proto_request) */
    K_ERRNAME, /* snake_case name of the code at `off`; decoded for form only */
};

enum { F_REQ = 1, F_OPT = 2 };
#define NOCNT 0xffff

typedef struct fieldset fieldset;
typedef struct field {
    const char *key;
    uint8_t klen; /* strlen(key), from the literal: the encoder and decoder never measure it */
    uint8_t kind, flags, size, cap;
    uint16_t off, cnt, esize;
    int64_t min, max;
    const fieldset *sub;
    const char *const *names;
} field;
struct fieldset {
    const field *f;
    uint8_t n;
};

static const char *const band_n[] = {"adjacent", "close", "short", "medium", "long", "very_long", "distant"};
static const char *const loc_n[] = {"sensors", "power_plant", "fuel", "weapon", "armour", "hull",
                                    "m_drive", "cargo", "j_drive", "crew", "computer"};
static const char *const reason_n[] = {NULL, "destroyed", "forfeit", "timeout", "disconnect", "draw",
                                       "abandoned", "shutdown"};
static const char *const vs_n[] = {"ai", "player"};
static const char *const wkind_n[] = {"laser", "missile", "gun", "rack", "sand"};
static const char *const phase_n[] = {"waiting", "running", "ended"};

/* The length of a string literal; anything else fails to compile ("" k "" needs a literal). */
#define KLEN(k) ((uint8_t)(sizeof("" k "") - 1))
#define SZ(T, m) ((uint8_t)sizeof(((T *)0)->m))
#define U(k, T, m, lo, hi, fl) {.key = k, .klen = KLEN(k), .kind = K_U, .flags = fl, .size = SZ(T, m), .off = offsetof(T, m), .min = lo, .max = hi}
#define I(k, T, m, lo, hi, fl) {.key = k, .klen = KLEN(k), .kind = K_I, .flags = fl, .size = SZ(T, m), .off = offsetof(T, m), .min = lo, .max = hi}
#define B(k, T, m) {.key = k, .klen = KLEN(k), .kind = K_BOOL, .flags = F_REQ, .off = offsetof(T, m)}
#define TXT(k, T, m, lo, fl) {.key = k, .klen = KLEN(k), .kind = K_TEXT, .flags = fl, .off = offsetof(T, m), .min = lo, .max = sizeof(((T *)0)->m) - 1}
#define KEY(k, T, m, fl) {.key = k, .klen = KLEN(k), .kind = K_KEY, .flags = fl, .off = offsetof(T, m)}
#define ENF(k, T, m, tab, lo) {.key = k, .klen = KLEN(k), .kind = K_ENUM, .flags = F_REQ, .off = offsetof(T, m), .min = lo, .max = sizeof tab / sizeof tab[0] - 1, .names = tab}
#define EN(k, T, m, tab) ENF(k, T, m, tab, 0)
#define TOK(k, T, m) {.key = k, .klen = KLEN(k), .kind = K_TOKEN, .flags = F_REQ, .off = offsetof(T, m)}
#define UARR(k, T, m, lo, hi) {.key = k, .klen = KLEN(k), .kind = K_UARR, .flags = F_REQ, .off = offsetof(T, m), .size = SZ(T, m[0]), .cap = sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0]), .min = lo, .max = hi}
#define OARR(k, T, m, c, s) {.key = k, .klen = KLEN(k), .kind = K_OBJARR, .flags = F_REQ, .off = offsetof(T, m), .cnt = c, .esize = sizeof(((T *)0)->m[0]), .cap = sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0]), .sub = &s}
#define FS(a) {a, sizeof a / sizeof a[0]}

/* ---- nested objects ---- */
static const field weapon_f[] = {
    TXT("name", struct proto_weapon, name, 0, F_REQ),
    EN("kind", struct proto_weapon, kind, wkind_n),
    U("d", struct proto_weapon, dice, 0, 12, F_REQ),
    I("a", struct proto_weapon, ammo, -1, 32767, F_REQ),
    /* Optional on decode so a client still reads a server from before the field existed. */
    I("lr", struct proto_weapon, long_dm, -6, 6, F_OPT),
};
static const fieldset weapon_fs = FS(weapon_f);
static const field ship_f[] = {
    KEY("type", struct proto_ship, type, F_REQ),
    TXT("name", struct proto_ship, name, 0, F_REQ),
    U("hull", struct proto_ship, hull, 0, 65535, F_REQ),
    U("hmax", struct proto_ship, hull_max, 1, 65535, F_REQ),
    U("arm", struct proto_ship, armour, 0, 255, F_REQ),
    I("pilot", struct proto_ship, pilot, -3, 15, F_REQ),
    U("thr", struct proto_ship, thrust, 0, 255, F_REQ),
    OARR("w", struct proto_ship, weapons, offsetof(struct proto_ship, nweapons), weapon_fs),
    UARR("crit", struct proto_ship, crits, 0, 255),
};
static const fieldset ship_fs = FS(ship_f);
static const field missile_f[] = {
    U("id", struct proto_missile, id, 1, UINT32_MAX, F_REQ),
    U("own", struct proto_missile, owner, 0, 1, F_REQ),
    EN("band", struct proto_missile, band, band_n),
    B("pd", struct proto_missile, pd_tried),
};
static const fieldset missile_fs = FS(missile_f);

/* ---- requests ---- */
#define RQ proto_request
#define RID_RQ {.key = "rid", .klen = KLEN("rid"), .kind = K_RID, .flags = F_OPT, .off = offsetof(RQ, rid)}
#define BID_RQ U("bid", RQ, bid, 1, INT64_MAX, F_REQ)
#define KEY_RQ {.key = "key", .klen = KLEN("key"), .kind = K_TOKEN, .flags = F_OPT, .off = offsetof(RQ, key)}
static const field hello_f[] = {RID_RQ, U("v", RQ, u.hello.version, 1, 65535, F_REQ),
                                TXT("name", RQ, u.hello.name, 0, F_REQ)};
static const field ping_f[] = {RID_RQ, U("ts", RQ, u.ping.ts, 0, INT64_MAX, F_OPT)};
static const field queue_f[] = {RID_RQ, KEY("ship", RQ, u.queue.ship, F_REQ), EN("band", RQ, u.queue.band, band_n),
                                KEY_RQ};
static const field rid_only_f[] = {RID_RQ};
static const field create_f[] = {RID_RQ, KEY("ship", RQ, u.create.ship, F_REQ),
                                 EN("band", RQ, u.create.band, band_n), EN("vs", RQ, u.create.vs, vs_n),
                                 KEY("os", RQ, u.create.oship, F_OPT), KEY_RQ};
static const field join_f[] = {RID_RQ, BID_RQ, KEY("ship", RQ, u.join.ship, F_REQ), KEY_RQ};
static const field bid_only_f[] = {RID_RQ, BID_RQ};
static const field resume_f[] = {RID_RQ, BID_RQ, U("seat", RQ, u.resume.seat, 0, 1, F_REQ),
                                 TOK("tok", RQ, u.resume.token), U("last", RQ, u.resume.last, 0, UINT32_MAX, F_REQ)};
static const field fire_f[] = {RID_RQ, BID_RQ, U("w", RQ, u.fire.weapon, 0, PROTO_MAX_WEAPONS - 1, F_REQ)};
static const field pd_f[] = {RID_RQ, BID_RQ, U("mid", RQ, u.pd.missile, 1, UINT32_MAX, F_REQ)};

static const fieldset req_fs[PROTO_T_REQ_LAST + 1] = {
    [PROTO_T_HELLO] = FS(hello_f),     [PROTO_T_PING] = FS(ping_f),      [PROTO_T_QUEUE] = FS(queue_f),
    [PROTO_T_CANCEL] = FS(rid_only_f), [PROTO_T_CREATE] = FS(create_f),  [PROTO_T_JOIN] = FS(join_f),
    [PROTO_T_WATCH] = FS(bid_only_f),  [PROTO_T_RESUME] = FS(resume_f),  [PROTO_T_FIRE] = FS(fire_f),
    [PROTO_T_MISSILE] = FS(bid_only_f), [PROTO_T_PD] = FS(pd_f),         [PROTO_T_SAND] = FS(bid_only_f),
    [PROTO_T_END] = FS(bid_only_f),    [PROTO_T_FORFEIT] = FS(bid_only_f), [PROTO_T_LEAVE] = FS(bid_only_f),
};

/* ---- events ---- */
#define EV proto_event
#define RID_EV {.key = "rid", .klen = KLEN("rid"), .kind = K_RID, .flags = F_OPT, .off = offsetof(EV, rid)}
#define BID_EV U("bid", EV, bid, 1, INT64_MAX, F_REQ)
#define SEQ_EV U("seq", EV, seq, 1, UINT32_MAX, F_REQ)
static const field welcome_f[] = {
    RID_EV, U("v", EV, u.welcome.version, 1, 65535, F_REQ), TXT("srv", EV, u.welcome.server, 0, F_REQ),
    U("frame", EV, u.welcome.max_frame, PROTO_FRAME_MIN_MAX, PROTO_FRAME_HARD_MAX, F_REQ),
    U("seats", EV, u.welcome.max_seats, 1, 65535, F_REQ), U("watch", EV, u.welcome.max_watch, 0, 65535, F_REQ),
    U("rate", EV, u.welcome.rate, 1, 65535, F_REQ), U("burst", EV, u.welcome.burst, 1, 65535, F_REQ),
    U("turn_ms", EV, u.welcome.turn_ms, 0, UINT32_MAX, F_REQ),
    U("resume_ms", EV, u.welcome.resume_ms, 0, UINT32_MAX, F_REQ),
    U("idle_ms", EV, u.welcome.idle_ms, 0, UINT32_MAX, F_REQ),
    /* Optional on decode (servers before it did not send it); ours always does. */
    U("sframe", EV, u.welcome.max_out_frame, PROTO_FRAME_MIN_MAX, PROTO_FRAME_HARD_MAX, F_OPT),
};
static const field pong_f[] = {RID_EV, U("ts", EV, u.pong.ts, 0, INT64_MAX, F_OPT)};
static const field restarting_f[] = {RID_EV, U("retry_ms", EV, u.restarting.retry_ms, 0, UINT32_MAX, F_REQ)};
/* addr is required and non-empty; ws is required but may be "" (the holder has no WebSocket port).
 * bid is absent when moved answers a queue (matched with a player of another node). */
static const field moved_f[] = {RID_EV, U("bid", EV, bid, 1, INT64_MAX, F_OPT),
                                TXT("addr", EV, u.moved.addr, 1, F_REQ),
                                TXT("ws", EV, u.moved.ws, 0, F_REQ)};
static const field queued_f[] = {RID_EV, KEY("ship", EV, u.queued.ship, F_REQ), EN("band", EV, u.queued.band, band_n)};
static const field ev_rid_only_f[] = {RID_EV};
static const field created_f[] = {RID_EV, BID_EV, U("seat", EV, u.created.seat, 0, 1, F_REQ),
                                  TOK("tok", EV, u.created.token), EN("band", EV, u.created.band, band_n)};
static const field started_f[] = {
    RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.started.seat, 0, 1, F_REQ), TOK("tok", EV, u.started.token),
    EN("band", EV, u.started.band, band_n), U("first", EV, u.started.first, 0, 1, F_REQ),
    U("rlimit", EV, u.started.round_limit, 1, 65535, F_REQ), OARR("ships", EV, u.started.ships, NOCNT, ship_fs),
};
static const field state_f[] = {
    RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.state.seat, 0, PROTO_SEAT_SPECTATOR, F_REQ),
    EN("phase", EV, u.state.phase, phase_n), EN("band", EV, u.state.band, band_n),
    U("round", EV, u.state.round, 0, 65535, F_REQ), U("rlimit", EV, u.state.round_limit, 1, 65535, F_REQ),
    U("active", EV, u.state.active, 0, 1, F_REQ), U("acted", EV, u.state.acted, 0, 3, F_REQ),
    U("sandu", EV, u.state.sand_used, 0, 3, F_REQ), U("away", EV, u.state.away, 0, 3, F_REQ),
    UARR("sbonus", EV, u.state.sand_bonus, 0, 255), UARR("tmo", EV, u.state.timeouts, 0, 255),
    U("turn_ms", EV, u.state.turn_ms, 0, UINT32_MAX, F_REQ),
    OARR("ships", EV, u.state.ships, NOCNT, ship_fs),
    OARR("msl", EV, u.state.missiles, offsetof(EV, u.state.nmissiles), missile_fs),
};
static const field turn_f[] = {RID_EV, BID_EV, SEQ_EV, U("round", EV, u.turn.round, 1, 65535, F_REQ),
                               U("active", EV, u.turn.active, 0, 1, F_REQ)};
static const field round_f[] = {RID_EV, BID_EV, SEQ_EV, U("round", EV, u.round.round, 1, 65535, F_REQ),
                                U("active", EV, u.round.active, 0, 1, F_REQ), UARR("hull", EV, u.round.hull, 0, 65535)};
static const field attack_f[] = {
    RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.attack.seat, 0, 1, F_REQ),
    U("w", EV, u.attack.weapon, 0, PROTO_MAX_WEAPONS - 1, F_REQ), UARR("dice", EV, u.attack.dice, 1, 6),
    I("total", EV, u.attack.total, -100, 100, F_REQ), I("eff", EV, u.attack.effect, -100, 100, F_REQ),
    B("hit", EV, u.attack.hit), B("sand", EV, u.attack.sand),
    U("dmg", EV, u.attack.damage, 0, 65535, F_REQ), U("hull", EV, u.attack.hull, 0, 65535, F_REQ),
};
static const field crit_f[] = {
    RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.crit.seat, 0, 1, F_REQ), EN("loc", EV, u.crit.loc, loc_n),
    U("sev", EV, u.crit.sev, 1, 6, F_REQ), B("crew", EV, u.crit.crew),
    U("extra", EV, u.crit.extra, 0, 65535, F_REQ), U("hull", EV, u.crit.hull, 0, 65535, F_REQ),
};
static const field mlaunch_f[] = {RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.mlaunch.seat, 0, 1, F_REQ),
                                  U("mid", EV, u.mlaunch.missile, 1, UINT32_MAX, F_REQ),
                                  EN("band", EV, u.mlaunch.band, band_n), U("left", EV, u.mlaunch.left, 0, 255, F_REQ)};
static const field mmove_f[] = {RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.mmove.seat, 0, 1, F_REQ),
                                U("mid", EV, u.mmove.missile, 1, UINT32_MAX, F_REQ),
                                EN("band", EV, u.mmove.band, band_n)};
static const field mhit_f[] = {
    RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.mhit.seat, 0, 1, F_REQ),
    U("mid", EV, u.mhit.missile, 1, UINT32_MAX, F_REQ), UARR("dice", EV, u.mhit.dice, 1, 6),
    U("dmg", EV, u.mhit.damage, 0, 65535, F_REQ), U("hull", EV, u.mhit.hull, 0, 65535, F_REQ),
};
static const field pd_result_f[] = {
    RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.pd_result.seat, 0, 1, F_REQ),
    U("mid", EV, u.pd_result.missile, 1, UINT32_MAX, F_REQ), UARR("dice", EV, u.pd_result.dice, 1, 6),
    I("total", EV, u.pd_result.total, -100, 100, F_REQ), B("ok", EV, u.pd_result.ok),
};
static const field sand_result_f[] = {
    RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.sand_result.seat, 0, 1, F_REQ),
    UARR("dice", EV, u.sand_result.dice, 1, 6), I("total", EV, u.sand_result.total, -100, 100, F_REQ),
    B("ok", EV, u.sand_result.ok), U("bonus", EV, u.sand_result.bonus, 0, 255, F_REQ),
    U("left", EV, u.sand_result.left, 0, 255, F_REQ),
};
static const field timeout_f[] = {RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.timeout.seat, 0, 1, F_REQ),
                                  U("n", EV, u.timeout.count, 1, 255, F_REQ)};
static const field ended_f[] = {
    RID_EV, BID_EV, SEQ_EV, {.key = "winner", .klen = KLEN("winner"), .kind = K_WINNER, .flags = F_REQ, .off = offsetof(EV, u.ended.winner)},
    ENF("reason", EV, u.ended.reason, reason_n, 1) /* 0 is not a reason */, UARR("hull", EV, u.ended.hull, 0, 65535),
    U("rounds", EV, u.ended.rounds, 0, 65535, F_REQ),
};
static const field away_f[] = {RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.away.seat, 0, 1, F_REQ)};
static const field back_f[] = {RID_EV, BID_EV, SEQ_EV, U("seat", EV, u.back.seat, 0, 1, F_REQ)};
static const field left_f[] = {RID_EV, BID_EV};
static const field error_f[] = {
    RID_EV, U("bid", EV, bid, 1, INT64_MAX, F_OPT), U("code", EV, u.error.code, 1, 65535, F_REQ),
    {.key = "err", .klen = KLEN("err"), .kind = K_ERRNAME, .flags = F_REQ, .off = offsetof(EV, u.error.code)},
    TXT("msg", EV, u.error.msg, 0, F_REQ),
};

#define EVI(t) ((t) - PROTO_T_WELCOME)
static const fieldset evt_fs[EVI(PROTO_T_EVT_LAST) + 1] = {
    [EVI(PROTO_T_WELCOME)] = FS(welcome_f), [EVI(PROTO_T_PONG)] = FS(pong_f),
    [EVI(PROTO_T_QUEUED)] = FS(queued_f),   [EVI(PROTO_T_UNQUEUED)] = FS(ev_rid_only_f),
    [EVI(PROTO_T_CREATED)] = FS(created_f), [EVI(PROTO_T_STARTED)] = FS(started_f),
    [EVI(PROTO_T_STATE)] = FS(state_f),     [EVI(PROTO_T_TURN)] = FS(turn_f),
    [EVI(PROTO_T_ROUND)] = FS(round_f),     [EVI(PROTO_T_ATTACK)] = FS(attack_f),
    [EVI(PROTO_T_MLAUNCH)] = FS(mlaunch_f), [EVI(PROTO_T_MMOVE)] = FS(mmove_f),
    [EVI(PROTO_T_MHIT)] = FS(mhit_f),       [EVI(PROTO_T_PD_RESULT)] = FS(pd_result_f),
    [EVI(PROTO_T_SAND_RESULT)] = FS(sand_result_f), [EVI(PROTO_T_CRIT)] = FS(crit_f),
    [EVI(PROTO_T_TIMEOUT)] = FS(timeout_f),
    [EVI(PROTO_T_ENDED)] = FS(ended_f),     [EVI(PROTO_T_AWAY)] = FS(away_f),
    [EVI(PROTO_T_BACK)] = FS(back_f),       [EVI(PROTO_T_LEFT)] = FS(left_f),
    [EVI(PROTO_T_ERROR)] = FS(error_f),     [EVI(PROTO_T_RESTARTING)] = FS(restarting_f),
    [EVI(PROTO_T_MOVED)] = FS(moved_f),
};

static const fieldset *fs_for(int type)
{
    if (type >= PROTO_T_HELLO && type <= PROTO_T_REQ_LAST)
        return &req_fs[type];
    if (type >= PROTO_T_WELCOME && type <= PROTO_T_EVT_LAST)
        return &evt_fs[EVI(type)];
    return NULL;
}

int proto_type_parse(const char *s, size_t n)
{
    for (int t = PROTO_T_HELLO; t <= PROTO_T_EVT_LAST; t++) {
        const char *name = proto_type_name(t);
        if (name && strlen(name) == n && memcmp(name, s, n) == 0)
            return t;
    }
    return PROTO_T_NONE;
}

/* ---- value helpers ---- */
static uint64_t get_u(const uint8_t *p, int size)
{
    switch (size) {
    case 1: return *p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void put_u(uint8_t *p, int size, uint64_t x)
{
    switch (size) {
    case 1: *p = (uint8_t)x; break;
    case 2: { uint16_t v = (uint16_t)x; memcpy(p, &v, 2); break; }
    case 4: { uint32_t v = (uint32_t)x; memcpy(p, &v, 4); break; }
    default: memcpy(p, &x, 8); break;
    }
}

static int64_t get_i(const uint8_t *p, int size)
{
    if (size == 1)
        return (int8_t)*p;
    int16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void put_i(uint8_t *p, int size, int64_t x)
{
    if (size == 1) {
        *p = (uint8_t)(int8_t)x;
    } else {
        int16_t v = (int16_t)x;
        memcpy(p, &v, 2);
    }
}

/* Valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF) and no control characters. */
static bool text_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            i++;
            continue;
        }
        int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (len == 0 || c > 0xf4 || i + (size_t)len > n)
            return false;
        uint32_t cp = c & (0x3f >> (len - 1));
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += (size_t)len;
    }
    return true;
}

static bool key_ok(const uint8_t *s, size_t n)
{
    if (n == 0 || n > PROTO_SHIP_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* ---- decoding ---- */
typedef struct dctx {
    proto_derr *err;
} dctx;

static proto_error dec_map(const fieldset *fs, mp_cur *c, uint8_t *base, int depth, dctx *d, bool top);

static proto_error want_u(mp_cur *c, int64_t min, int64_t max, uint64_t *out)
{
    mp_item it;
    proto_error e = mp_next(c, &it);
    if (e != PROTO_E_OK)
        return e;
    if (it.kind != MP_INT || it.neg || it.u < (uint64_t)min || it.u > (uint64_t)max)
        return PROTO_E_BAD_FIELD;
    *out = it.u;
    return PROTO_E_OK;
}

static proto_error dec_value(const field *f, mp_cur *c, uint8_t *base, int depth, dctx *d)
{
    uint8_t *dst = base + f->off;
    mp_item it;
    proto_error e;
    uint64_t u;
    switch (f->kind) {
    case K_U:
        if ((e = want_u(c, f->min, f->max, &u)) != PROTO_E_OK)
            return e;
        put_u(dst, f->size, u);
        return PROTO_E_OK;
    case K_RID:
        if ((e = want_u(c, 0, UINT32_MAX, &u)) != PROTO_E_OK)
            return e;
        put_u(dst, 4, u);
        *(bool *)(base + offsetof(proto_request, has_rid)) = true; /* same offset in proto_event */
        return PROTO_E_OK;
    case K_I: {
        if ((e = mp_next(c, &it)) != PROTO_E_OK)
            return e;
        if (it.kind != MP_INT || (!it.neg && it.u > (uint64_t)INT64_MAX))
            return PROTO_E_BAD_FIELD;
        int64_t v = it.neg ? it.i : (int64_t)it.u;
        if (v < f->min || v > f->max)
            return PROTO_E_BAD_FIELD;
        put_i(dst, f->size, v);
        return PROTO_E_OK;
    }
    case K_WINNER:
        if ((e = mp_next(c, &it)) != PROTO_E_OK)
            return e;
        if (it.kind == MP_NIL) {
            *(int8_t *)dst = -1;
            return PROTO_E_OK;
        }
        if (it.kind != MP_INT || it.neg || it.u > 1)
            return PROTO_E_BAD_FIELD;
        *(int8_t *)dst = (int8_t)it.u;
        return PROTO_E_OK;
    case K_BOOL:
        if ((e = mp_next(c, &it)) != PROTO_E_OK)
            return e;
        if (it.kind != MP_BOOL)
            return PROTO_E_BAD_FIELD;
        *(bool *)dst = it.b != 0;
        return PROTO_E_OK;
    case K_TEXT:
    case K_KEY:
    case K_ENUM:
    case K_ERRNAME:
        if ((e = mp_next(c, &it)) != PROTO_E_OK)
            return e;
        if (it.kind != MP_STR)
            return PROTO_E_BAD_FIELD;
        if (f->kind == K_TEXT) {
            if (it.n > f->max)
                return PROTO_E_STRING_TOO_LONG;
            if (it.n < f->min || !text_ok(it.p, it.n))
                return PROTO_E_BAD_FIELD;
        } else if (f->kind == K_KEY || f->kind == K_ERRNAME) {
            if (it.n > PROTO_SHIP_MAX)
                return PROTO_E_STRING_TOO_LONG;
            /* An optional key sent as "" means the same as leaving it out (PROTOCOL.md, create's
             * os): clients that always fill every field need not special-case the default. */
            bool empty_opt = it.n == 0 && f->kind == K_KEY && (f->flags & F_OPT);
            if (!empty_opt && !key_ok(it.p, it.n))
                return PROTO_E_BAD_FIELD;
            if (f->kind == K_ERRNAME)
                return PROTO_E_OK; /* the number is authoritative; the name is for humans */
        } else {
            for (int k = (int)f->min; k <= f->max; k++)
                if (strlen(f->names[k]) == it.n && memcmp(f->names[k], it.p, it.n) == 0) {
                    *dst = (uint8_t)k;
                    return PROTO_E_OK;
                }
            return PROTO_E_BAD_FIELD;
        }
        memcpy(dst, it.p, it.n);
        dst[it.n] = '\0';
        return PROTO_E_OK;
    case K_TOKEN:
        if ((e = mp_next(c, &it)) != PROTO_E_OK)
            return e;
        if (it.kind != MP_BIN || it.n != PROTO_TOKEN_LEN)
            return PROTO_E_BAD_FIELD;
        memcpy(dst, it.p, PROTO_TOKEN_LEN);
        return PROTO_E_OK;
    case K_UARR:
        if ((e = mp_next(c, &it)) != PROTO_E_OK)
            return e;
        if (it.kind != MP_ARRAY)
            return PROTO_E_BAD_FIELD;
        if (it.n != f->cap)
            return it.n > f->cap ? PROTO_E_TOO_MANY : PROTO_E_BAD_FIELD;
        for (unsigned k = 0; k < f->cap; k++) {
            if ((e = want_u(c, f->min, f->max, &u)) != PROTO_E_OK)
                return e;
            put_u(dst + k * f->size, f->size, u);
        }
        return PROTO_E_OK;
    case K_OBJARR:
        if ((e = mp_next(c, &it)) != PROTO_E_OK)
            return e;
        if (it.kind != MP_ARRAY)
            return PROTO_E_BAD_FIELD;
        if (it.n > f->cap)
            return PROTO_E_TOO_MANY;
        if (f->cnt == NOCNT && it.n != f->cap)
            return PROTO_E_BAD_FIELD;
        if (it.n > 0 && depth + 2 > PROTO_MAX_DEPTH)
            return PROTO_E_TOO_DEEP;
        for (unsigned k = 0; k < it.n; k++)
            if ((e = dec_map(f->sub, c, dst + k * f->esize, depth + 2, d, false)) != PROTO_E_OK)
                return e;
        if (f->cnt != NOCNT)
            base[f->cnt] = (uint8_t)it.n;
        return PROTO_E_OK;
    }
    return PROTO_E_INTERNAL;
}

static void set_field(dctx *d, const uint8_t *k, size_t n)
{
    if (d->err && d->err->field[0] == '\0') {
        if (n > PROTO_KEY_MAX)
            n = PROTO_KEY_MAX;
        memcpy(d->err->field, k, n);
        d->err->field[n] = '\0';
    }
}

/* Decodes a map at depth `depth` against fs. At the top level the "t" key is skipped (already read). */
static proto_error dec_map(const fieldset *fs, mp_cur *c, uint8_t *base, int depth, dctx *d, bool top)
{
    mp_item it;
    proto_error e = mp_next(c, &it);
    if (e != PROTO_E_OK)
        return e;
    if (it.kind != MP_MAP)
        return top ? PROTO_E_NOT_A_MAP : PROTO_E_BAD_FIELD;
    uint32_t seen = 0;
    for (uint32_t pair = 0; pair < it.n; pair++) {
        mp_cur save = *c;
        mp_item key;
        if ((e = mp_next(c, &key)) != PROTO_E_OK)
            return e;
        if (key.kind != MP_STR) { /* not a key we could know: skip key and value */
            *c = save;
            if ((e = mp_skip(c, depth + 1, PROTO_MAX_DEPTH)) != PROTO_E_OK ||
                (e = mp_skip(c, depth + 1, PROTO_MAX_DEPTH)) != PROTO_E_OK)
                return e;
            continue;
        }
        const field *f = NULL;
        unsigned idx = 0;
        for (; idx < fs->n; idx++)
            if (fs->f[idx].klen == key.n && memcmp(fs->f[idx].key, key.p, key.n) == 0) {
                f = &fs->f[idx];
                break;
            }
        bool is_t = top && key.n == 1 && key.p[0] == 't';
        if (!f || is_t) {
            if (is_t && (seen & 0x80000000u)) {
                set_field(d, key.p, key.n);
                return PROTO_E_BAD_FIELD; /* "t" twice: which one would the sender mean? */
            }
            if (is_t)
                seen |= 0x80000000u;
            if ((e = mp_skip(c, depth + 1, PROTO_MAX_DEPTH)) != PROTO_E_OK)
                return e;
            continue;
        }
        if (seen & (1u << idx)) {
            set_field(d, key.p, key.n);
            return PROTO_E_BAD_FIELD; /* duplicate key */
        }
        seen |= 1u << idx;
        if ((e = dec_value(f, c, base, depth, d)) != PROTO_E_OK) {
            set_field(d, key.p, key.n);
            return e;
        }
    }
    for (unsigned k = 0; k < fs->n; k++)
        if ((fs->f[k].flags & F_REQ) && !(seen & (1u << k))) {
            set_field(d, (const uint8_t *)fs->f[k].key, fs->f[k].klen);
            return PROTO_E_MISSING_FIELD;
        }
    return PROTO_E_OK;
}

/* First pass over the top map: finds "t" and, best-effort, "rid" and "bid" for the error reply. */
static proto_error scan_top(const uint8_t *body, size_t len, int *type, proto_derr *err)
{
    mp_cur c = {body, body + len};
    mp_item it;
    proto_error e = mp_next(&c, &it);
    if (e != PROTO_E_OK)
        return e;
    if (it.kind != MP_MAP)
        return PROTO_E_NOT_A_MAP;
    bool have_t = false;
    proto_error terr = PROTO_E_OK;
    for (uint32_t pair = 0; pair < it.n; pair++) {
        mp_cur save = c;
        mp_item key, val;
        if ((e = mp_next(&c, &key)) != PROTO_E_OK)
            return e;
        if (key.kind != MP_STR) {
            c = save;
            if ((e = mp_skip(&c, 2, PROTO_MAX_DEPTH)) != PROTO_E_OK)
                return e;
            if ((e = mp_skip(&c, 2, PROTO_MAX_DEPTH)) != PROTO_E_OK)
                return e;
            continue;
        }
        save = c;
        if ((e = mp_next(&c, &val)) != PROTO_E_OK)
            return e;
        if (key.n == 1 && key.p[0] == 't') {
            /* A "t" that is not valid text is a bad field like any other string (section 2), not an
             * unknown type: the sender broke the encoding, not the vocabulary. */
            if (have_t || val.kind != MP_STR || !text_ok(val.p, val.n)) {
                terr = PROTO_E_BAD_FIELD;
            } else {
                *type = proto_type_parse((const char *)val.p, val.n);
                if (*type == PROTO_T_NONE)
                    terr = PROTO_E_UNKNOWN_TYPE;
            }
            have_t = true;
        } else if (err && key.n == 3 && memcmp(key.p, "rid", 3) == 0 && val.kind == MP_INT && !val.neg &&
                   val.u <= UINT32_MAX) {
            err->has_rid = true;
            err->rid = (uint32_t)val.u;
        } else if (err && key.n == 3 && memcmp(key.p, "bid", 3) == 0 && val.kind == MP_INT && !val.neg &&
                   val.u <= INT64_MAX) {
            err->bid = val.u;
        }
        c = save;
        if ((e = mp_skip(&c, 2, PROTO_MAX_DEPTH)) != PROTO_E_OK)
            return e;
    }
    if (!have_t) {
        if (err)
            memcpy(err->field, "t", 2);
        return PROTO_E_MISSING_FIELD;
    }
    if (terr != PROTO_E_OK && err)
        memcpy(err->field, "t", 2);
    return terr;
}

static proto_error decode(const uint8_t *body, size_t len, void *out, size_t outsize, int lo, int hi,
                          proto_derr *err)
{
    proto_derr local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    dctx d = {err};
    proto_error e = mp_check(body, len, PROTO_MAX_DEPTH);
    int type = PROTO_T_NONE;
    if (e == PROTO_E_OK)
        e = scan_top(body, len, &type, err);
    if (e == PROTO_E_OK && (type < lo || type > hi)) {
        e = PROTO_E_UNKNOWN_TYPE;
        memcpy(err->field, "t", 2);
    }
    if (e == PROTO_E_OK) {
        err->type = (uint8_t)type;
        memset(out, 0, outsize);
        *(uint8_t *)out = (uint8_t)type; /* type is the first member of both unions' wrappers */
        mp_cur c = {body, body + len};
        e = dec_map(fs_for(type), &c, out, 1, &d, true);
    }
    err->code = e;
    return e;
}

proto_error proto_decode_request(const uint8_t *body, size_t len, proto_request *out, proto_derr *err)
{
    return decode(body, len, out, sizeof *out, PROTO_T_HELLO, PROTO_T_REQ_LAST, err);
}

proto_error proto_decode_event(const uint8_t *body, size_t len, proto_event *out, proto_derr *err)
{
    return decode(body, len, out, sizeof *out, PROTO_T_WELCOME, PROTO_T_EVT_LAST, err);
}

/* ---- encoding ---- */
typedef struct wbuf {
    uint8_t *p;
    size_t cap, len;
} wbuf;

static int wbuf_write(void *data, const char *buf, size_t len)
{
    wbuf *w = data;
    if (len > w->cap - w->len)
        return -1; /* msgpack-c passes this up; we report PROTO_E_BUFFER_TOO_SMALL */
    memcpy(w->p + w->len, buf, len);
    w->len += len;
    return 0;
}

static bool present(const field *f, const uint8_t *base)
{
    if (!(f->flags & F_OPT))
        return true;
    const uint8_t *src = base + f->off;
    switch (f->kind) {
    case K_RID: return *(const bool *)(base + offsetof(proto_request, has_rid));
    case K_U: return get_u(src, f->size) != 0;
    case K_KEY: case K_TEXT: return src[0] != '\0';
    case K_TOKEN: /* an optional one (the idempotency key) is absent when all zero */
        for (unsigned i = 0; i < PROTO_TOKEN_LEN; i++)
            if (src[i])
                return true;
        return false;
    default: return true;
    }
}

static proto_error enc_map(const fieldset *fs, msgpack_packer *pk, const uint8_t *base, int type);

static proto_error enc_value(const field *f, msgpack_packer *pk, const uint8_t *base)
{
    const uint8_t *src = base + f->off;
    int rc = 0;
    switch (f->kind) {
    case K_U: {
        uint64_t v = get_u(src, f->size);
        if (v < (uint64_t)f->min || v > (uint64_t)f->max)
            return PROTO_E_BAD_FIELD;
        rc = msgpack_pack_uint64(pk, v);
        break;
    }
    case K_RID:
        rc = msgpack_pack_uint32(pk, (uint32_t)get_u(src, 4));
        break;
    case K_I: {
        int64_t v = get_i(src, f->size);
        if (v < f->min || v > f->max)
            return PROTO_E_BAD_FIELD;
        rc = msgpack_pack_int64(pk, v);
        break;
    }
    case K_WINNER: {
        int8_t v = *(const int8_t *)src;
        if (v < -1 || v > 1)
            return PROTO_E_BAD_FIELD;
        rc = v < 0 ? msgpack_pack_nil(pk) : msgpack_pack_uint8(pk, (uint8_t)v);
        break;
    }
    case K_BOOL:
        rc = *(const bool *)src ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case K_TEXT:
    case K_KEY: {
        size_t max = f->kind == K_KEY ? PROTO_SHIP_MAX : (size_t)f->max;
        size_t n = strnlen((const char *)src, max + 1);
        if (n > max)
            return PROTO_E_STRING_TOO_LONG;
        if (f->kind == K_KEY ? !key_ok(src, n) : (n < (size_t)f->min || !text_ok(src, n)))
            return PROTO_E_BAD_FIELD;
        rc = msgpack_pack_str_with_body(pk, src, n);
        break;
    }
    case K_ENUM: {
        uint8_t v = *src;
        if (v < f->min || v > f->max)
            return PROTO_E_BAD_FIELD;
        rc = msgpack_pack_str_with_body(pk, f->names[v], strlen(f->names[v]));
        break;
    }
    case K_ERRNAME: {
        uint16_t code;
        memcpy(&code, src, 2);
        /* A gateway may relay a code from a newer server: it keeps its number, and its name reads
         * "unknown" (clients act on the number; the name is for people). */
        const char *name = proto_error_name(code);
        if (!name)
            name = "unknown";
        rc = msgpack_pack_str_with_body(pk, name, strlen(name));
        break;
    }
    case K_TOKEN:
        rc = msgpack_pack_bin_with_body(pk, src, PROTO_TOKEN_LEN);
        break;
    case K_UARR:
        rc = msgpack_pack_array(pk, f->cap);
        for (unsigned k = 0; rc == 0 && k < f->cap; k++) {
            uint64_t v = get_u(src + k * f->size, f->size);
            if (v < (uint64_t)f->min || v > (uint64_t)f->max)
                return PROTO_E_BAD_FIELD;
            rc = msgpack_pack_uint64(pk, v);
        }
        break;
    case K_OBJARR: {
        unsigned n = f->cnt == NOCNT ? f->cap : base[f->cnt];
        if (n > f->cap)
            return PROTO_E_TOO_MANY;
        rc = msgpack_pack_array(pk, n);
        for (unsigned k = 0; rc == 0 && k < n; k++) {
            proto_error e = enc_map(f->sub, pk, src + k * f->esize, PROTO_T_NONE);
            if (e != PROTO_E_OK)
                return e;
        }
        break;
    }
    }
    return rc == 0 ? PROTO_E_OK : PROTO_E_BUFFER_TOO_SMALL;
}

static proto_error enc_map(const fieldset *fs, msgpack_packer *pk, const uint8_t *base, int type)
{
    uint32_t n = type != PROTO_T_NONE ? 1 : 0;
    for (unsigned k = 0; k < fs->n; k++)
        n += present(&fs->f[k], base);
    if (msgpack_pack_map(pk, n) != 0)
        return PROTO_E_BUFFER_TOO_SMALL;
    if (type != PROTO_T_NONE) {
        const char *name = proto_type_name(type);
        if (msgpack_pack_str_with_body(pk, "t", 1) != 0 ||
            msgpack_pack_str_with_body(pk, name, strlen(name)) != 0)
            return PROTO_E_BUFFER_TOO_SMALL;
    }
    for (unsigned k = 0; k < fs->n; k++) {
        const field *f = &fs->f[k];
        if (!present(f, base))
            continue;
        if (msgpack_pack_str_with_body(pk, f->key, f->klen) != 0)
            return PROTO_E_BUFFER_TOO_SMALL;
        proto_error e = enc_value(f, pk, base);
        if (e != PROTO_E_OK)
            return e;
    }
    return PROTO_E_OK;
}

static proto_error encode(uint8_t *buf, size_t cap, const void *msg, int lo, int hi, size_t *len)
{
    int type = *(const uint8_t *)msg;
    if (type < lo || type > hi || !proto_type_name(type))
        return PROTO_E_UNKNOWN_TYPE;
    if (cap < PROTO_FRAME_HEADER)
        return PROTO_E_BUFFER_TOO_SMALL;
    wbuf w = {buf, cap, PROTO_FRAME_HEADER};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    proto_error e = enc_map(fs_for(type), &pk, msg, type);
    if (e != PROTO_E_OK)
        return e;
    size_t body = w.len - PROTO_FRAME_HEADER;
    if (body > UINT32_MAX)
        return PROTO_E_BUFFER_TOO_SMALL;
    buf[0] = (uint8_t)(body >> 24);
    buf[1] = (uint8_t)(body >> 16);
    buf[2] = (uint8_t)(body >> 8);
    buf[3] = (uint8_t)body;
    if (len)
        *len = w.len;
    return PROTO_E_OK;
}

proto_error proto_encode_request(uint8_t *buf, size_t cap, const proto_request *r, size_t *len)
{
    return encode(buf, cap, r, PROTO_T_HELLO, PROTO_T_REQ_LAST, len);
}

proto_error proto_encode_event(uint8_t *buf, size_t cap, const proto_event *ev, size_t *len)
{
    /* welcome.sframe promises clients that no event body is longer than PROTO_EVENT_MAX: an event
     * that would be is refused here rather than sent. */
    if (cap > PROTO_FRAME_HEADER + PROTO_EVENT_MAX)
        cap = PROTO_FRAME_HEADER + PROTO_EVENT_MAX;
    return encode(buf, cap, ev, PROTO_T_WELCOME, PROTO_T_EVT_LAST, len);
}

proto_error proto_encode_error(uint8_t *buf, size_t cap, proto_error code, const char *msg,
                               bool has_rid, uint32_t rid, uint64_t bid, size_t *len)
{
    proto_event ev;
    memset(&ev, 0, offsetof(proto_event, u) + sizeof ev.u.error);
    ev.type = PROTO_T_ERROR;
    ev.has_rid = has_rid;
    ev.rid = rid;
    ev.bid = bid;
    ev.u.error.code = (uint16_t)code;
    if (msg) {
        size_t n = strnlen(msg, PROTO_ERRMSG_MAX);
        while (n > 0 && n < strlen(msg) && ((uint8_t)msg[n] & 0xc0) == 0x80)
            n--; /* do not cut a UTF-8 sequence in half */
        /* Messages may quote client bytes: anything that is not printable UTF-8 becomes '?', so the
         * error is always sendable. */
        char *out = ev.u.error.msg;
        size_t i = 0;
        while (i < n) {
            const uint8_t *c = (const uint8_t *)msg + i;
            size_t clen = *c < 0x80 ? 1 : *c >= 0xf0 ? 4 : *c >= 0xe0 ? 3 : 2;
            if (i + clen > n || !text_ok(c, clen)) {
                *out++ = '?';
                i++;
            } else {
                memcpy(out, c, clen);
                out += clen;
                i += clen;
            }
        }
        *out = '\0';
    }
    return proto_encode_event(buf, cap, &ev, len);
}
