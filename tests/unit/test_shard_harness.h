/* test_shard_harness: drives the shard runtime through its public API (shards/shards.h) the way the
 * network thread does, without sockets: pushes inbox messages, pops and decodes the outboxes, and
 * waits for conditions by polling with a bounded deadline. Header-only, shared by test_shard.c and
 * test_shard_stress.c. */
#ifndef BATTLED_TESTS_SHARD_HARNESS_H
#define BATTLED_TESTS_SHARD_HARNESS_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ships.h"
#include "proto/codec.h"
#include "shards/shards.h"
#include "util/clock.h"

#define H_WAIT_MS 5000 /* longest any condition may take before the test fails */

struct h_rx {
    conn_id conn;
    proto_event ev;
};

struct h_ctl {
    struct shard_out m;
};

struct harness {
    struct shards *s;
    struct shards_opts cfg;
    ships_table ships;
    _Atomic unsigned wakes;
    struct h_rx *rx;
    size_t nrx, caprx;
    struct h_ctl *ctl;
    size_t nctl, capctl;
    bool keep_events; /* false: count frames without storing them (stress) */
    size_t frames;
    size_t decode_errors;
};

static inline void h_weapon(ships_weapon *w, const char *name, uint8_t kind, uint8_t dice, int16_t ammo)
{
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->kind = kind;
    w->dice = dice;
    w->ammo = ammo;
}

static inline ships_ship *h_ship(ships_table *t, const char *key, const char *name, uint16_t hull,
                          uint8_t armour, int8_t pilot, uint8_t thrust)
{
    ships_ship *s = &t->ships[t->count++];
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->hull = hull;
    s->armour = armour;
    s->pilot = pilot;
    s->thrust = thrust;
    return s;
}

/* The two ships of the original flow, plus test ships: "glass" dies to the first hit and always
 * hits at Adjacent, "brick" can neither hurt nor be hurt (long battles, ended by the round limit). */
static inline void h_ships(ships_table *t)
{
    memset(t, 0, sizeof *t);
    ships_ship *s = h_ship(t, "scout", "Scout", 40, 4, 2, 2);
    h_weapon(&s->weapons[s->nweapons++], "Pulse Laser", SHIPS_WK_LASER, 2, SHIPS_AMMO_UNLIMITED);
    h_weapon(&s->weapons[s->nweapons++], "Missiles", SHIPS_WK_MISSILE, 4, SHIPS_AMMO_UNLIMITED);
    s->weapons[1].long_range_dm = 2;
    h_weapon(&s->weapons[s->nweapons++], "Missile Rack", SHIPS_WK_RACK, 0, 12);
    h_weapon(&s->weapons[s->nweapons++], "Sandcaster", SHIPS_WK_SANDCASTER, 0, 20);
    s = h_ship(t, "free_trader", "Free Trader", 80, 2, 1, 1);
    h_weapon(&s->weapons[s->nweapons++], "Beam Laser", SHIPS_WK_LASER, 3, SHIPS_AMMO_UNLIMITED);
    h_weapon(&s->weapons[s->nweapons++], "Beam Laser", SHIPS_WK_LASER, 3, SHIPS_AMMO_UNLIMITED);
    s = h_ship(t, "glass", "Glass", 1, 0, 6, 1);
    h_weapon(&s->weapons[s->nweapons++], "Big Gun", SHIPS_WK_GUN, 8, SHIPS_AMMO_UNLIMITED);
    s = h_ship(t, "brick", "Brick", 1000, 30, 0, 0);
    h_weapon(&s->weapons[s->nweapons++], "Pea Shooter", SHIPS_WK_GUN, 1, SHIPS_AMMO_UNLIMITED);
}

static inline void h_wake(void *arg)
{
    struct harness *h = arg;
    atomic_fetch_add_explicit(&h->wakes, 1, memory_order_relaxed);
}

/* Defaults for tests: short timers off unless a test sets them. */
static inline void h_config(struct shards_opts *c, unsigned shards)
{
    memset(c, 0, sizeof *c);
    c->persistence.fsync = JOURNAL_SYNC_EVERYSEC;
    c->persistence.compact_bytes = JOURNAL_COMPACT_DEFAULT;
    c->shards = shards;
    c->ring_slots = 1024;
    c->game.turn_timer_ms = 0;
    c->game.resume_window_ms = 60000;
    c->game.idle_battle_ms = 0;
    c->game.finished_keep_ms = 60000;
    c->game.ai_think_ms = 0;
    c->game.max_spectators = 4;
    c->game.round_limit = 50;
}

static inline struct harness *h_start(const struct shards_opts *cfg)
{
    struct harness *h = calloc(1, sizeof *h);
    h->cfg = *cfg;
    h_ships(&h->ships);
    h->keep_events = true;
    h->cfg.ships = &h->ships;
    h->cfg.wake_net = h_wake;
    h->cfg.wake_arg = h;
    h->s = shards_start(&h->cfg);
    if (!h->s) {
        free(h);
        return NULL;
    }
    return h;
}

static inline void h_stop(struct harness *h)
{
    shards_stop(h->s);
    free(h->rx);
    free(h->ctl);
    free(h);
}

static inline uint32_t h_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void h_frames(struct harness *h, conn_id conn, const uint8_t *p, size_t len)
{
    while (len >= 4) {
        uint32_t n = h_be32(p);
        if (n > len - 4) {
            h->decode_errors++;
            return;
        }
        h->frames++;
        if (h->keep_events) {
            if (h->nrx == h->caprx) {
                h->caprx = h->caprx ? h->caprx * 2 : 256;
                h->rx = realloc(h->rx, h->caprx * sizeof *h->rx);
            }
            struct h_rx *r = &h->rx[h->nrx];
            r->conn = conn;
            if (proto_decode_event(p + 4, n, &r->ev, NULL) == PROTO_E_OK)
                h->nrx++;
            else
                h->decode_errors++;
        }
        p += 4 + n;
        len -= 4 + n;
    }
    if (len)
        h->decode_errors++;
}

/* Pops everything the shards have produced. on_msg (optional) sees every message first. */
static inline void h_pump_cb(struct harness *h, void (*on_msg)(void *, const struct shard_out *), void *ctx)
{
    shards_flush(h->s);
    struct shard_out m;
    for (unsigned i = 0; i < shards_count(h->s); i++) {
        while (shards_pop(h->s, i, &m)) {
            if (on_msg)
                on_msg(ctx, &m);
            if (m.kind == SHARD_OUT_SEND) {
                h_frames(h, m.conn, m.u.bytes, m.len);
            } else if (m.kind == SHARD_OUT_SEND_HEAP) {
                h_frames(h, m.conn, m.u.heap.ptr, m.u.heap.len);
                free(m.u.heap.ptr);
            } else if (h->keep_events) {
                if (h->nctl == h->capctl) {
                    h->capctl = h->capctl ? h->capctl * 2 : 64;
                    h->ctl = realloc(h->ctl, h->capctl * sizeof *h->ctl);
                }
                h->ctl[h->nctl++].m = m;
            }
        }
    }
}

static inline void h_pump(struct harness *h)
{
    h_pump_cb(h, NULL, NULL);
}

static inline void h_nap(void)
{
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
}

static inline void h_push(struct harness *h, const struct shard_in *m)
{
    unsigned shard = shard_of(m->battle_id, shards_count(h->s));
    uint64_t until = clock_mono_ms() + H_WAIT_MS;
    while (!shards_push(h->s, shard, m)) {
        if (clock_mono_ms() > until) {
            fprintf(stderr, "inbox stayed full\n");
            abort();
        }
        h_pump(h);
        h_nap();
    }
    shards_flush(h->s);
}

/* The inbox message of request `type` from conn about battle bid (body: its fields, or NULL). */
static inline struct shard_in h_request_msg(conn_id conn, uint64_t bid, uint8_t type, uint32_t rid,
                                            const proto_request *body)
{
    struct shard_in m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_IN_REQUEST;
    m.conn = conn;
    m.battle_id = bid;
    if (body)
        m.u.req = *body;
    m.u.req.type = type;
    m.u.req.bid = bid;
    m.u.req.has_rid = rid != 0;
    m.u.req.rid = rid;
    return m;
}

static inline void h_request(struct harness *h, conn_id conn, uint64_t bid, uint8_t type, uint32_t rid,
                      const proto_request *body)
{
    struct shard_in m = h_request_msg(conn, bid, type, rid, body);
    h_push(h, &m);
}

static inline void h_create(struct harness *h, uint64_t bid, uint8_t mode, conn_id a, conn_id b,
                     const char *ship_a, const char *ship_b, uint8_t band)
{
    struct shard_in m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_IN_CREATE;
    m.battle_id = bid;
    m.u.create.mode = mode;
    m.u.create.band = band;
    m.u.create.conn[0] = a;
    m.u.create.conn[1] = b;
    m.u.create.has_rid[0] = true;
    m.u.create.rid[0] = 100;
    m.u.create.has_rid[1] = b != 0;
    m.u.create.rid[1] = 200;
    snprintf(m.u.create.ship[0], sizeof m.u.create.ship[0], "%s", ship_a ? ship_a : "");
    snprintf(m.u.create.ship[1], sizeof m.u.create.ship[1], "%s", ship_b ? ship_b : "");
    h_push(h, &m);
}

static inline void h_conn_gone(struct harness *h, conn_id conn, uint64_t bid)
{
    struct shard_in m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_IN_CONN_GONE;
    m.conn = conn;
    m.battle_id = bid;
    h_push(h, &m);
}

/* Index of the first event of type for conn at or after *from (then *from moves past it), or -1. */
static inline long h_find(const struct harness *h, conn_id conn, uint8_t type, size_t from)
{
    for (size_t i = from; i < h->nrx; i++)
        if (h->rx[i].conn == conn && h->rx[i].ev.type == type)
            return (long)i;
    return -1;
}

/* Waits until conn has received an event of type after index from. Returns its index or -1. */
static inline long h_wait(struct harness *h, conn_id conn, uint8_t type, size_t from)
{
    uint64_t until = clock_mono_ms() + H_WAIT_MS;
    for (;;) {
        h_pump(h);
        long i = h_find(h, conn, type, from);
        if (i >= 0)
            return i;
        if (clock_mono_ms() > until)
            return -1;
        h_nap();
    }
}

static inline long h_find_ctl(const struct harness *h, uint8_t kind, conn_id conn, size_t from)
{
    for (size_t i = from; i < h->nctl; i++)
        if (h->ctl[i].m.kind == kind && (conn == 0 || h->ctl[i].m.conn == conn))
            return (long)i;
    return -1;
}

static inline long h_wait_ctl(struct harness *h, uint8_t kind, conn_id conn, size_t from)
{
    uint64_t until = clock_mono_ms() + H_WAIT_MS;
    for (;;) {
        h_pump(h);
        long i = h_find_ctl(h, kind, conn, from);
        if (i >= 0)
            return i;
        if (clock_mono_ms() > until)
            return -1;
        h_nap();
    }
}

/* Lets in-flight work settle: pumps until nothing new arrived for a few milliseconds. */
static inline void h_settle(struct harness *h)
{
    size_t before;
    do {
        before = h->nrx + h->nctl;
        for (int i = 0; i < 20; i++) {
            h_pump(h);
            h_nap();
        }
    } while (h->nrx + h->nctl != before);
}

#endif
