/* game: one shard's battles (see game.h). */
#include "shards/game.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "shards/events.h"
#include "util/clock.h"
#include "util/log.h"

#define NONE_IDX UINT32_MAX

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void stat_sub(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ---- pool, table, heap ------------------------------------------------------------------------ */

static struct game_battle *bat(const struct game *g, uint32_t idx)
{
    return &g->chunks[idx / GAME_POOL_CHUNK][idx % GAME_POOL_CHUNK];
}

static void heap_setpos(void *ctx, uint32_t idx, uint32_t pos)
{
    bat(ctx, idx)->heap_pos = pos;
}

static void update_live(struct game *g)
{
    atomic_store_explicit(&g->stats->battles_live, g->nrunning + g->nwaiting, memory_order_relaxed);
}

static struct game_battle *pool_alloc(struct game *g)
{
    if (g->free_head == NONE_IDX) {
        if ((uint64_t)(g->nchunks + 1) * GAME_POOL_CHUNK > SHARD_MAX_BATTLES)
            return NULL;
        struct game_battle **chunks = realloc(g->chunks, (g->nchunks + 1) * sizeof *chunks);
        if (!chunks)
            return NULL;
        g->chunks = chunks;
        struct game_battle *c = calloc(GAME_POOL_CHUNK, sizeof *c);
        if (!c)
            return NULL;
        g->chunks[g->nchunks] = c;
        uint32_t base = g->nchunks * GAME_POOL_CHUNK;
        for (uint32_t i = 0; i < GAME_POOL_CHUNK; i++) {
            c[i].idx = base + i;
            c[i].next_free = i + 1 < GAME_POOL_CHUNK ? base + i + 1 : NONE_IDX;
        }
        g->free_head = base;
        g->nchunks++;
    }
    struct game_battle *sb = bat(g, g->free_head);
    g->free_head = sb->next_free;
    uint32_t idx = sb->idx;
    memset(sb, 0, offsetof(struct game_battle, b));
    sb->idx = idx;
    sb->heap_pos = THEAP_NONE;
    sb->next_free = NONE_IDX;
    sb->spect_head = NONE_IDX;
    sb->turn_deadline = sb->ai_deadline = sb->keep_deadline = GAME_NO_DEADLINE;
    g->nbattles++;
    return sb;
}

static void spect_clear(struct game *g, struct game_battle *sb);

static void pool_release(struct game *g, struct game_battle *sb)
{
    if (sb->heap_pos != THEAP_NONE)
        theap_remove(&g->heap, sb->heap_pos);
    spect_clear(g, sb);
    if (sb->id)
        btable_del(&g->ids, sb->id);
    if (sb->phase == GAME_ENDED)
        g->nended--;
    sb->phase = GAME_FREE;
    memset(sb->seat, 0, sizeof sb->seat); /* tokens do not outlive their battle */
    sb->id = 0;
    sb->next_free = g->free_head;
    g->free_head = sb->idx;
    g->nbattles--;
}

static struct game_battle *lookup(struct game *g, uint64_t id)
{
    uint32_t idx = btable_get(&g->ids, id);
    return idx == BTABLE_MISSING ? NULL : bat(g, idx);
}

static uint64_t battle_deadline(const struct game *g, const struct game_battle *sb)
{
    if (sb->phase == GAME_ENDED)
        return sb->keep_deadline;
    uint64_t d = GAME_NO_DEADLINE;
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].away)
            d = min64(d, sb->seat[s].resume_deadline);
    if (sb->phase == GAME_RUNNING)
        d = min64(d, min64(sb->turn_deadline, sb->ai_deadline));
    if (g->cfg.idle_battle_ms)
        d = min64(d, sb->last_action_ms + g->cfg.idle_battle_ms);
    return d;
}

static void schedule(struct game *g, struct game_battle *sb)
{
    uint64_t d = sb->phase == GAME_FREE ? GAME_NO_DEADLINE : battle_deadline(g, sb);
    if (d == GAME_NO_DEADLINE) {
        if (sb->heap_pos != THEAP_NONE)
            theap_remove(&g->heap, sb->heap_pos);
    } else if (sb->heap_pos == THEAP_NONE) {
        if (theap_insert(&g->heap, sb->idx, d) != 0)
            log_error("timer heap out of memory", "battle", LOG_U64(sb->id));
    } else {
        theap_update(&g->heap, sb->heap_pos, d);
    }
}

/* ---- spectators ------------------------------------------------------------------------------- */

static uint32_t spec_alloc(struct game *g)
{
    if (g->spec_free != NONE_IDX) {
        uint32_t i = g->spec_free;
        g->spec_free = g->spec[i].next;
        return i;
    }
    if (g->nspec == g->spec_cap) {
        uint32_t cap = g->spec_cap ? g->spec_cap * 2 : 256;
        struct game_spec_chunk *s = realloc(g->spec, (size_t)cap * sizeof *s);
        if (!s)
            return NONE_IDX;
        g->spec = s;
        g->spec_cap = cap;
    }
    return g->nspec++;
}

static bool spect_add(struct game *g, struct game_battle *sb, conn_id c)
{
    uint32_t h = sb->spect_head;
    if (h == NONE_IDX || g->spec[h].n == GAME_SPEC_PER_CHUNK) {
        uint32_t n = spec_alloc(g);
        if (n == NONE_IDX)
            return false;
        g->spec[n].n = 0;
        g->spec[n].next = h;
        sb->spect_head = h = n;
    }
    g->spec[h].c[g->spec[h].n++] = c;
    sb->nspect++;
    stat_add(&g->stats->spectators, 1);
    return true;
}

static bool spect_has(const struct game *g, const struct game_battle *sb, conn_id c)
{
    for (uint32_t i = sb->spect_head; i != NONE_IDX; i = g->spec[i].next)
        for (uint32_t k = 0; k < g->spec[i].n; k++)
            if (g->spec[i].c[k] == c)
                return true;
    return false;
}

/* Removes c, filling its hole with the last entry of the head chunk. */
static bool spect_remove(struct game *g, struct game_battle *sb, conn_id c)
{
    uint32_t h = sb->spect_head;
    for (uint32_t i = h; i != NONE_IDX; i = g->spec[i].next) {
        for (uint32_t k = 0; k < g->spec[i].n; k++) {
            if (g->spec[i].c[k] != c)
                continue;
            g->spec[i].c[k] = g->spec[h].c[--g->spec[h].n];
            if (g->spec[h].n == 0) {
                sb->spect_head = g->spec[h].next;
                g->spec[h].next = g->spec_free;
                g->spec_free = h;
            }
            sb->nspect--;
            stat_sub(&g->stats->spectators, 1);
            return true;
        }
    }
    return false;
}

static void spect_clear(struct game *g, struct game_battle *sb)
{
    while (sb->spect_head != NONE_IDX) {
        uint32_t h = sb->spect_head;
        sb->spect_head = g->spec[h].next;
        g->spec[h].next = g->spec_free;
        g->spec_free = h;
    }
    stat_sub(&g->stats->spectators, sb->nspect);
    sb->nspect = 0;
}

/* ---- output ----------------------------------------------------------------------------------- */

static void count_error(struct game *g, proto_error code)
{
    stat_add(&g->stats->errors[(unsigned)code < SHARD_ERROR_CODES ? code : 0], 1);
}

/* Encodes pe into the scratch buffer. 0 length on failure (a bug: logged, counted as internal). */
static size_t encode(struct game *g, const proto_event *pe)
{
    size_t len = 0;
    proto_error e = proto_encode_event(g->scratch, sizeof g->scratch, pe, &len);
    if (e != PROTO_E_OK) {
        log_error("event encode failed", "type", proto_type_name(pe->type), "err",
                  proto_error_name(e), "battle", LOG_U64(pe->bid));
        count_error(g, PROTO_E_INTERNAL);
        return 0;
    }
    return len;
}

static void send_event(struct game *g, conn_id conn, const proto_event *pe)
{
    size_t len = encode(g, pe);
    if (len)
        outbox_send(g->out, conn, g->scratch, len);
}

static void send_error(struct game *g, conn_id conn, proto_error code, const char *msg, bool has_rid,
                       uint32_t rid, uint64_t bid)
{
    count_error(g, code);
    if (!conn)
        return;
    size_t len = 0;
    if (proto_encode_error(g->scratch, sizeof g->scratch, code, msg, has_rid, rid, bid, &len) ==
        PROTO_E_OK)
        outbox_send(g->out, conn, g->scratch, len);
}

static void send_seat(struct game *g, conn_id conn, uint64_t bid, uint8_t role, int8_t delta)
{
    if (!conn)
        return;
    struct shard_out m;
    memset(&m, 0, offsetof(struct shard_out, u));
    m.kind = SHARD_OUT_SEAT;
    m.conn = conn;
    m.battle_id = bid;
    m.role = role;
    m.delta = delta;
    outbox_put(g->out, &m);
}

static void send_left(struct game *g, conn_id conn, uint64_t bid, bool has_rid, uint32_t rid)
{
    proto_event pe;
    memset(&pe, 0, sizeof pe);
    pe.type = PROTO_T_LEFT;
    pe.bid = bid;
    pe.has_rid = has_rid;
    pe.rid = rid;
    send_event(g, conn, &pe);
}

/* Who hears a battle's events: the seats' connections, then the spectators. */
static void broadcast(struct game *g, struct game_battle *sb, proto_event *pe, conn_id requester,
                      bool has_rid, uint32_t rid)
{
    pe->has_rid = false;
    size_t len = encode(g, pe);
    if (!len)
        return;
    bool requester_waits = false;
    for (int s = 0; s < 2; s++) {
        conn_id c = sb->seat[s].conn;
        if (!c)
            continue;
        if (c == requester && has_rid)
            requester_waits = true;
        else
            outbox_send(g->out, c, g->scratch, len);
    }
    for (uint32_t i = sb->spect_head; i != NONE_IDX; i = g->spec[i].next)
        for (uint32_t k = 0; k < g->spec[i].n; k++) {
            conn_id c = g->spec[i].c[k];
            if (c == requester && has_rid)
                requester_waits = true;
            else
                outbox_send(g->out, c, g->scratch, len);
        }
    if (requester_waits) {
        pe->has_rid = true;
        pe->rid = rid;
        send_event(g, requester, pe);
    }
}

static uint32_t turn_left_ms(const struct game *g, const struct game_battle *sb)
{
    if (sb->turn_deadline == GAME_NO_DEADLINE || sb->turn_deadline <= g->now)
        return 0;
    uint64_t left = sb->turn_deadline - g->now;
    return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

static void send_state(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat,
                       bool has_rid, uint32_t rid)
{
    proto_event pe;
    events_state(&sb->b, sb->id, seat, turn_left_ms(g, sb), &pe);
    pe.has_rid = has_rid;
    pe.rid = rid;
    send_event(g, conn, &pe);
}

/* "started" differs per seat (its own seat number and token); spectators get a full state. */
static void send_started(struct game *g, struct game_battle *sb, proto_event *pe,
                         const bool has_rid[2], const uint32_t rid[2])
{
    for (int s = 0; s < 2; s++) {
        if (!sb->seat[s].conn)
            continue;
        pe->u.started.seat = (uint8_t)s;
        memcpy(pe->u.started.token, sb->seat[s].token, SHARD_TOKEN_BYTES);
        pe->has_rid = has_rid ? has_rid[s] : false;
        pe->rid = rid ? rid[s] : 0;
        send_event(g, sb->seat[s].conn, pe);
    }
    memset(pe->u.started.token, 0, SHARD_TOKEN_BYTES);
    for (uint32_t i = sb->spect_head; i != NONE_IDX; i = g->spec[i].next)
        for (uint32_t k = 0; k < g->spec[i].n; k++)
            send_state(g, sb, g->spec[i].c[k], PROTO_SEAT_SPECTATOR, false, 0);
}

/* ---- journal ---------------------------------------------------------------------------------- */

static const ships_ship *ship_at(const struct game *g, uint8_t idx);

/* A battle's setup as recovery needs it. setup NULL: a private battle still waiting for seat 1. A
 * record the journal cannot take is counted there (journal_stats) and logged by it. */
static void j_created(struct game *g, struct game_battle *sb, const battle_setup *setup)
{
    if (!g->jn)
        return;
    struct persist_created c;
    memset(&c, 0, sizeof c);
    c.ai_seat = sb->seat[0].ai ? 0 : (sb->seat[1].ai ? 1 : -1);
    for (int s = 0; s < 2; s++) {
        c.has_token[s] = sb->seat[s].taken && !sb->seat[s].ai;
        if (c.has_token[s])
            memcpy(c.token[s], sb->seat[s].token, SHARD_TOKEN_BYTES);
    }
    if (setup) {
        c.phase = PERSIST_RUNNING;
        c.setup = *setup;
        c.has_ship[0] = c.has_ship[1] = true;
    } else {
        c.phase = PERSIST_WAITING;
        c.setup.band = sb->band;
        c.setup.ship[0] = *ship_at(g, sb->seat[0].ship);
        c.has_ship[0] = true;
    }
    size_t len = persist_encode_created(g->jbuf, sizeof g->jbuf, &c);
    sb->jseq = 0;
    if (len == 0 || journal_append(g->jn, JOURNAL_REC_CREATED, sb->id, 0, g->jbuf, len) == -EINVAL)
        log_error("journal: battle setup not recorded", "battle", LOG_U64(sb->id));
}

static void j_action(struct game *g, struct game_battle *sb, const battle_action *a)
{
    if (!g->jn)
        return;
    uint8_t buf[PERSIST_ACTION_MAX];
    size_t len = persist_encode_action(buf, a);
    journal_append(g->jn, JOURNAL_REC_ACTION, sb->id, ++sb->jseq, buf, len);
}

static void j_ended(struct game *g, struct game_battle *sb)
{
    static const uint8_t nil = 0xc0;
    if (g->jn)
        journal_append(g->jn, JOURNAL_REC_ENDED, sb->id, sb->jseq, &nil, 1);
}

/* ---- battle lifecycle ------------------------------------------------------------------------- */

static unsigned end_index(unsigned core_reason)
{
    switch (core_reason) {
    case BATTLE_END_DESTROYED: return SHARD_END_DESTROYED;
    case BATTLE_END_FORFEIT: return SHARD_END_FORFEIT;
    case BATTLE_END_TIMEOUTS: return SHARD_END_TIMEOUTS;
    case BATTLE_END_DISCONNECTED: return SHARD_END_DISCONNECT;
    case BATTLE_END_DRAW: return SHARD_END_DRAW;
    case BATTLE_END_ABANDONED: return SHARD_END_ABANDONED;
    default: return SHARD_END_SHUTDOWN;
    }
}

static void check_stopped(struct game *g)
{
    if (g->draining && !g->stopped_sent && g->nrunning == 0 && g->nwaiting == 0) {
        struct shard_out m;
        memset(&m, 0, sizeof m);
        m.kind = SHARD_OUT_STOPPED;
        if (outbox_put(g->out, &m))
            g->stopped_sent = true;
        log_info("shard drained");
    }
}

/* Everyone leaves an ended battle at once (so the net thread's seat counts free up), but the battle
 * and its tokens are kept for finished_keep_ms so a seat can still resume to read how it ended. */
static void release_all(struct game *g, struct game_battle *sb)
{
    for (int s = 0; s < 2; s++) {
        struct game_seat *gs = &sb->seat[s];
        if (gs->conn)
            send_seat(g, gs->conn, sb->id, (uint8_t)s, -1);
        gs->conn = 0;
        gs->away = false;
    }
    for (uint32_t i = sb->spect_head; i != NONE_IDX; i = g->spec[i].next)
        for (uint32_t k = 0; k < g->spec[i].n; k++)
            send_seat(g, g->spec[i].c[k], sb->id, SHARD_ROLE_SPECTATOR, -1);
    spect_clear(g, sb);
}

static void battle_finished(struct game *g, struct game_battle *sb)
{
    stat_add(&g->stats->battles_ended[end_index(battle_reason(&sb->b))], 1);
    j_ended(g, sb);
    release_all(g, sb);
    sb->phase = GAME_ENDED;
    sb->turn_deadline = sb->ai_deadline = GAME_NO_DEADLINE;
    sb->keep_deadline = g->now + g->cfg.finished_keep_ms;
    g->nrunning--;
    g->nended++;
    update_live(g);
    check_stopped(g);
}

/* A private battle that never started: its creator (and nobody else: spectators wait for a start)
 * is told it ended, then it is freed at once; there is no engine state to keep. */
static void dispose_waiting(struct game *g, struct game_battle *sb, uint8_t wire_reason,
                            unsigned end_idx)
{
    conn_id c = sb->seat[0].conn;
    if (c) {
        proto_event pe;
        memset(&pe, 0, sizeof pe);
        pe.type = PROTO_T_ENDED;
        pe.bid = sb->id;
        pe.seq = 1; /* the only battle event a battle that never started has */
        pe.u.ended.winner = -1;
        pe.u.ended.reason = wire_reason;
        send_event(g, c, &pe);
        send_seat(g, c, sb->id, SHARD_ROLE_SEAT0, -1);
    }
    stat_add(&g->stats->battles_ended[end_idx], 1);
    j_ended(g, sb);
    g->nwaiting--;
    pool_release(g, sb);
    update_live(g);
    check_stopped(g);
}

/* Arms the turn timer whenever the active seat or the round changed since it was last armed. */
static void arm_turn(struct game *g, struct game_battle *sb)
{
    int active = battle_active_seat(&sb->b);
    unsigned round = battle_round(&sb->b);
    if (active < 0)
        return;
    if (sb->turn_deadline != GAME_NO_DEADLINE && sb->turn_key_active == active &&
        sb->turn_key_round == round)
        return;
    sb->turn_key_active = (uint8_t)active;
    sb->turn_key_round = (uint16_t)round;
    sb->turn_deadline = g->cfg.turn_timer_ms ? g->now + g->cfg.turn_timer_ms : GAME_NO_DEADLINE;
}

/* Sends the wire form of engine events ev[0..n) to everyone in the battle. The requester's first
 * copy carries its request id. */
static void publish(struct game *g, struct game_battle *sb, const battle_event *ev, size_t n,
                    conn_id requester, bool has_rid, uint32_t rid)
{
    proto_event pe;
    for (size_t i = 0; i < n; i++) {
        if (!events_xlate(&sb->b, sb->id, &ev[i], &pe))
            continue;
        if (pe.type == PROTO_T_STARTED) {
            bool hr[2] = {false, false};
            uint32_t r[2] = {0, 0};
            for (int s = 0; s < 2; s++)
                if (sb->seat[s].conn == requester && has_rid) {
                    hr[s] = true;
                    r[s] = rid;
                }
            send_started(g, sb, &pe, hr, r);
        } else {
            broadcast(g, sb, &pe, requester, has_rid, rid);
        }
        has_rid = false;
    }
}

/* Applies one action to a running battle and tells everyone. On refusal nothing changes. */
static battle_err act(struct game *g, struct game_battle *sb, uint8_t kind, uint8_t seat, uint16_t arg,
                      conn_id requester, bool has_rid, uint32_t rid)
{
    battle_action a = {.kind = kind, .seat = seat, .arg = arg};
    size_t nev = 0;
    battle_err e = battle_apply(&sb->b, &a, g->ev, BATTLE_MAX_EVENTS_PER_APPLY, &nev);
    if (e != BATTLE_OK)
        return e;
    j_action(g, sb, &a);
    publish(g, sb, g->ev, nev, requester, has_rid, rid);
    if (battle_is_over(&sb->b))
        battle_finished(g, sb);
    else
        arm_turn(g, sb);
    return BATTLE_OK;
}

/* Lets the server's opponent act: at once when ai_think_ms is 0 (bounded per call), else by arming
 * its think deadline. Then queues the battle's next deadline. */
static void settle(struct game *g, struct game_battle *sb)
{
    for (int steps = 0; sb->phase == GAME_RUNNING; steps++) {
        int ai = sb->seat[0].ai ? 0 : (sb->seat[1].ai ? 1 : -1);
        battle_action a;
        if (ai < 0 || !battle_ai_choose(&sb->b, ai, &a))
            break;
        if (steps == GAME_AI_STEPS_MAX) { /* the rest on the next tick: never starve the loop */
            if (sb->ai_deadline == GAME_NO_DEADLINE)
                sb->ai_deadline = g->now;
            break;
        }
        if (g->cfg.ai_think_ms) {
            if (sb->ai_deadline == GAME_NO_DEADLINE)
                sb->ai_deadline = g->now + g->cfg.ai_think_ms;
            break;
        }
        if (act(g, sb, a.kind, a.seat, a.arg, 0, false, 0) != BATTLE_OK) {
            log_warn("ai proposed a refused action", "battle", LOG_U64(sb->id));
            break;
        }
    }
    schedule(g, sb);
}

static const ships_ship *ship_at(const struct game *g, uint8_t idx)
{
    return &g->cfg.ships->ships[idx];
}

/* Index of the ship with key, or of the default (the table's first ship) for "". -1 if unknown. */
static int find_ship(const struct game *g, const char *key)
{
    const ships_table *t = g->cfg.ships;
    if (t->count == 0 || !memchr(key, 0, PROTO_SHIP_MAX + 1)) /* keys come in fixed arrays */
        return -1;
    if (!key[0])
        return 0;
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->ships[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* The server's opponent when the client names none: the Free Trader against a Scout and the
 * Scout against anything else (the reference's pairing), falling back to the player's own ship. */
static int ai_ship_for(const struct game *g, int player)
{
    const char *want = strcmp(ship_at(g, (uint8_t)player)->key, "scout") == 0 ? "free_trader" : "scout";
    int i = find_ship(g, want);
    return i >= 0 ? i : player;
}

/* Creates the engine battle and tells both seats; the seats in the announce mask (bit per seat) are
 * new to the net thread's bookkeeping. false (nothing sent) on an engine refusal. */
static bool start_battle(struct game *g, struct game_battle *sb, unsigned announce,
                         const bool has_rid[2], const uint32_t rid[2])
{
    battle_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.seed = srand_u64(&g->rnd);
    setup.ship[0] = *ship_at(g, sb->seat[0].ship);
    setup.ship[1] = *ship_at(g, sb->seat[1].ship);
    setup.band = sb->band;
    setup.timeout_policy = BATTLE_TIMEOUT_FIRE_DEFAULT;
    setup.round_limit = g->cfg.round_limit;
    size_t nev = 0;
    battle_err e = battle_create(&sb->b, &setup, g->ev, BATTLE_MAX_EVENTS_PER_APPLY, &nev);
    if (e != BATTLE_OK) {
        log_error("battle_create refused", "battle", LOG_U64(sb->id), "err", battle_err_name(e));
        return false;
    }
    j_created(g, sb, &setup);
    sb->phase = GAME_RUNNING;
    sb->last_action_ms = g->now;
    g->nrunning++;
    stat_add(&g->stats->battles_started, 1);
    update_live(g);
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].conn && (announce & (1u << s)))
            send_seat(g, sb->seat[s].conn, sb->id, (uint8_t)s, +1);
    proto_event pe;
    for (size_t i = 0; i < nev; i++) {
        if (!events_xlate(&sb->b, sb->id, &g->ev[i], &pe))
            continue;
        if (pe.type == PROTO_T_STARTED)
            send_started(g, sb, &pe, has_rid, rid);
        else
            broadcast(g, sb, &pe, 0, false, 0);
    }
    arm_turn(g, sb);
    return true;
}

static int seat_of(const struct game_battle *sb, conn_id c)
{
    if (!c)
        return -1;
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].conn == c)
            return s;
    return -1;
}

/* Comparison that takes the same time wherever the first difference is: tokens are secrets. */
static bool token_eq(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;
    for (int i = 0; i < SHARD_TOKEN_BYTES; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

static void on_create(struct game *g, const struct shard_in *m)
{
    const struct shard_create *c = &m->u.create;
    int nconn = c->mode == SHARD_CREATE_MATCHED ? 2 : 1;
    proto_error err = PROTO_E_OK;
    const char *why = NULL;
    int ship[2] = {-1, -1};

    if (c->mode < SHARD_CREATE_MATCHED || c->mode > SHARD_CREATE_SOLO || c->band >= PROTO_BAND_COUNT) {
        err = PROTO_E_INTERNAL;
        why = "bad create message";
    } else if (g->draining) {
        err = PROTO_E_SERVER_DRAINING;
        why = "the server is shutting down: no new battles";
    } else if (g->refuse_new) {
        err = PROTO_E_SERVER_BUSY;
        why = "the battle journal cannot be written: no new battles for now";
    } else if (m->battle_id == 0 || lookup(g, m->battle_id)) {
        err = PROTO_E_INTERNAL;
        why = "battle id collision";
    } else if ((ship[0] = find_ship(g, c->ship[0])) < 0 ||
               (c->mode != SHARD_CREATE_PRIVATE &&
                (ship[1] = c->mode == SHARD_CREATE_SOLO && !c->ship[1][0] ? ai_ship_for(g, ship[0])
                                                                          : find_ship(g, c->ship[1])) < 0)) {
        err = PROTO_E_NO_SUCH_SHIP;
        why = "no ship with that key";
    }
    struct game_battle *sb = NULL;
    if (err == PROTO_E_OK && !(sb = pool_alloc(g))) {
        err = PROTO_E_SERVER_BUSY;
        why = "too many battles on this shard";
    }
    if (sb && btable_put(&g->ids, m->battle_id, sb->idx) != 0) {
        pool_release(g, sb);
        sb = NULL;
        err = PROTO_E_SERVER_BUSY;
        why = "out of memory";
    }
    if (err == PROTO_E_OK) {
        sb->id = m->battle_id;
        sb->band = c->band;
        sb->created_ms = sb->last_action_ms = g->now;
        sb->phase = GAME_WAITING;
        for (int s = 0; s < 2; s++) {
            struct game_seat *gs = &sb->seat[s];
            if (s == 1 && c->mode == SHARD_CREATE_PRIVATE)
                continue;
            gs->taken = true;
            gs->ship = (uint8_t)ship[s];
            gs->ai = s == 1 && c->mode == SHARD_CREATE_SOLO;
            gs->conn = gs->ai ? 0 : c->conn[s];
            if (!gs->ai && srand_token(&g->rnd, gs->token, SHARD_TOKEN_BYTES) != 0) {
                err = PROTO_E_INTERNAL;
                why = "no randomness for tokens";
            }
        }
        if (err == PROTO_E_OK && c->mode == SHARD_CREATE_PRIVATE) {
            g->nwaiting++;
            update_live(g);
            send_seat(g, c->conn[0], sb->id, SHARD_ROLE_SEAT0, +1);
            proto_event pe;
            memset(&pe, 0, sizeof pe);
            pe.type = PROTO_T_CREATED;
            pe.bid = sb->id;
            pe.has_rid = c->has_rid[0];
            pe.rid = c->rid[0];
            pe.u.created.seat = 0;
            pe.u.created.band = sb->band;
            memcpy(pe.u.created.token, sb->seat[0].token, SHARD_TOKEN_BYTES);
            j_created(g, sb, NULL);
            send_event(g, c->conn[0], &pe);
            schedule(g, sb);
            return;
        }
        if (err == PROTO_E_OK && start_battle(g, sb, 3u, c->has_rid, c->rid)) {
            settle(g, sb);
            return;
        }
        if (err == PROTO_E_OK) {
            err = PROTO_E_INTERNAL;
            why = "the engine refused the battle setup";
        }
        pool_release(g, sb);
    }
    for (int s = 0; s < nconn; s++)
        send_error(g, c->conn[s], err, why, c->has_rid[s], c->rid[s], m->battle_id);
}

static void on_join(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    if (seat_of(sb, conn) >= 0 || spect_has(g, sb, conn)) {
        send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you are already in this battle", r->has_rid,
                   r->rid, sb->id);
        return;
    }
    if (sb->phase != GAME_WAITING) {
        send_error(g, conn, PROTO_E_BATTLE_FULL, "both seats are taken", r->has_rid, r->rid, sb->id);
        return;
    }
    if (g->draining) {
        send_error(g, conn, PROTO_E_SERVER_DRAINING, "the server is shutting down: no new battles",
                   r->has_rid, r->rid, sb->id);
        return;
    }
    if (g->refuse_new) {
        send_error(g, conn, PROTO_E_SERVER_BUSY,
                   "the battle journal cannot be written: no new battles for now", r->has_rid, r->rid,
                   sb->id);
        return;
    }
    int ship = find_ship(g, r->u.join.ship);
    if (ship < 0) {
        send_error(g, conn, PROTO_E_NO_SUCH_SHIP, "no ship with that key", r->has_rid, r->rid, sb->id);
        return;
    }
    struct game_seat *gs = &sb->seat[1];
    if (srand_token(&g->rnd, gs->token, SHARD_TOKEN_BYTES) != 0) {
        send_error(g, conn, PROTO_E_INTERNAL, "no randomness for tokens", r->has_rid, r->rid, sb->id);
        return;
    }
    gs->taken = true;
    gs->ai = false;
    gs->ship = (uint8_t)ship;
    gs->conn = conn;
    g->nwaiting--;
    bool hr[2] = {false, r->has_rid};
    uint32_t rid[2] = {0, r->rid};
    if (!start_battle(g, sb, 2u, hr, rid)) {
        send_error(g, conn, PROTO_E_INTERNAL, "the engine refused the battle setup", r->has_rid, r->rid,
                   sb->id);
        gs->taken = false;
        gs->conn = 0;
        g->nwaiting++;
        return;
    }
    if (sb->seat[0].away) /* the creator dropped while waiting: the engine must know */
        act(g, sb, BATTLE_ACT_SEAT_AWAY, 0, 0, 0, false, 0);
    settle(g, sb);
}

static void on_watch(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    if (seat_of(sb, conn) >= 0 || spect_has(g, sb, conn)) {
        send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you are already in this battle", r->has_rid,
                   r->rid, sb->id);
        return;
    }
    if (sb->phase == GAME_WAITING) {
        send_error(g, conn, PROTO_E_NOT_STARTED, "the battle has not started", r->has_rid, r->rid,
                   sb->id);
        return;
    }
    if (sb->phase == GAME_ENDED) { /* kept for results: a look, not a place */
        send_state(g, sb, conn, PROTO_SEAT_SPECTATOR, r->has_rid, r->rid);
        return;
    }
    if (sb->nspect >= g->cfg.max_spectators) {
        send_error(g, conn, PROTO_E_SPECTATORS_FULL, "this battle has all the spectators it takes",
                   r->has_rid, r->rid, sb->id);
        return;
    }
    if (!spect_add(g, sb, conn)) {
        send_error(g, conn, PROTO_E_SERVER_BUSY, "out of memory", r->has_rid, r->rid, sb->id);
        return;
    }
    send_seat(g, conn, sb->id, SHARD_ROLE_SPECTATOR, +1);
    send_state(g, sb, conn, PROTO_SEAT_SPECTATOR, r->has_rid, r->rid);
}

/* What a resuming seat missed after `last`: the events themselves while the history holds them,
 * else (or when there are none, as the acknowledgement) a full state. */
static void send_missed(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat,
                        uint32_t last, bool has_rid, uint32_t rid)
{
    int n = battle_history_since(&sb->b, last, g->hist, BATTLE_HISTORY + 1);
    if (n <= 0) {
        send_state(g, sb, conn, seat, has_rid, rid);
        return;
    }
    proto_event pe;
    for (size_t i = 0; i < (size_t)n; i++) {
        if (!events_xlate(&sb->b, sb->id, &g->hist[i], &pe))
            continue;
        if (pe.type == PROTO_T_STARTED) {
            pe.u.started.seat = seat;
            memcpy(pe.u.started.token, sb->seat[seat].token, SHARD_TOKEN_BYTES);
        }
        pe.has_rid = has_rid;
        pe.rid = rid;
        has_rid = false;
        send_event(g, conn, &pe);
    }
}

static void on_resume(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    const struct proto_resume *rs = &r->u.resume;
    uint8_t seat = rs->seat;
    struct game_seat *gs = seat < 2 ? &sb->seat[seat] : NULL;
    if (!gs || !gs->taken || gs->ai || !token_eq(gs->token, rs->token)) {
        send_error(g, conn, PROTO_E_BAD_TOKEN, "no such seat with that token", r->has_rid, r->rid,
                   sb->id);
        return;
    }
    int held = seat_of(sb, conn);
    if (held >= 0 && held != seat) { /* one connection, both seats: every event would come twice */
        send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you hold the other seat", r->has_rid, r->rid,
                   sb->id);
        return;
    }
    if (held == (int)seat) { /* it already gets every event: replaying would send duplicates */
        send_error(g, conn, PROTO_E_ALREADY_IN_BATTLE, "you already hold this seat", r->has_rid,
                   r->rid, sb->id);
        return;
    }
    if (sb->phase != GAME_WAITING && rs->last > battle_last_seq(&sb->b)) {
        send_error(g, conn, PROTO_E_SEQ_GONE, "last is ahead of the battle", r->has_rid, r->rid, sb->id);
        return;
    }
    if (sb->phase == GAME_ENDED) { /* results only: the seat is not given back */
        send_missed(g, sb, conn, seat, rs->last, r->has_rid, r->rid);
        return;
    }
    if (spect_has(g, sb, conn)) {
        spect_remove(g, sb, conn);
        send_seat(g, conn, sb->id, SHARD_ROLE_SPECTATOR, -1);
    }
    conn_id old = gs->conn;
    if (old && old != conn) {
        /* A new connection with the token wins over one that never closed: the stale one is told
         * and loses the seat; its later CONN_GONE finds nothing to do. */
        send_left(g, old, sb->id, false, 0);
        send_seat(g, old, sb->id, seat, -1);
        stat_add(&g->stats->takeovers, 1);
    }
    if (old != conn) {
        gs->conn = 0; /* the resumer gets "back" with the rest of what it missed, not twice */
        if (gs->away && sb->phase == GAME_RUNNING && !gs->silent)
            act(g, sb, BATTLE_ACT_SEAT_BACK, seat, 0, 0, false, 0);
        gs->away = gs->silent = false;
        /* After a restart the other seat may still be away without the engine knowing: tell it
         * now, so the resumer learns it from the events it missed, as after a disconnect. */
        struct game_seat *other = &sb->seat[1 - seat];
        if (other->silent && sb->phase == GAME_RUNNING) {
            other->silent = false;
            act(g, sb, BATTLE_ACT_SEAT_AWAY, (uint8_t)(1 - seat), 0, 0, false, 0);
        }
        gs->conn = conn;
        send_seat(g, conn, sb->id, seat, +1);
        stat_add(&g->stats->resumes, 1);
    }
    if (sb->phase == GAME_WAITING) {
        proto_event pe;
        memset(&pe, 0, sizeof pe);
        pe.type = PROTO_T_CREATED;
        pe.bid = sb->id;
        pe.has_rid = r->has_rid;
        pe.rid = r->rid;
        pe.u.created.seat = 0;
        pe.u.created.band = sb->band;
        memcpy(pe.u.created.token, gs->token, SHARD_TOKEN_BYTES);
        send_event(g, conn, &pe);
    } else {
        send_missed(g, sb, conn, seat, rs->last, r->has_rid, r->rid);
    }
    settle(g, sb);
}

static void on_leave(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    uint64_t bid = sb->id;
    if (sb->phase == GAME_ENDED) { /* one rule with the actions: everyone left at the end */
        send_error(g, conn, PROTO_E_BATTLE_OVER, "the battle is over", r->has_rid, r->rid, bid);
        return;
    }
    if (spect_remove(g, sb, conn)) {
        send_seat(g, conn, bid, SHARD_ROLE_SPECTATOR, -1);
        send_left(g, conn, bid, r->has_rid, r->rid);
        return;
    }
    int s = seat_of(sb, conn);
    if (s < 0) {
        send_error(g, conn, PROTO_E_NOT_IN_BATTLE, "you are not in this battle", r->has_rid, r->rid, bid);
        return;
    }
    if (sb->phase == GAME_WAITING) {
        sb->seat[0].conn = 0; /* leaving is not being told it ended */
        send_seat(g, conn, bid, SHARD_ROLE_SEAT0, -1);
        dispose_waiting(g, sb, PROTO_END_ABANDONED, SHARD_END_ABANDONED);
    } else {
        /* Leaving a running battle gives it up; the forfeit's events reach the leaver too. */
        act(g, sb, BATTLE_ACT_FORFEIT, (uint8_t)s, 0, 0, false, 0);
        settle(g, sb);
    }
    send_left(g, conn, bid, r->has_rid, r->rid);
}

static void record_latency(struct game *g, uint64_t ns)
{
    uint64_t us = ns / 1000; /* bucket i: below 2^i us */
    unsigned b = 0;
    while (b + 1 < SHARD_LATENCY_BUCKETS && us >= (1ull << b))
        b++;
    stat_add(&g->stats->action_latency[b], 1);
    stat_add(&g->stats->action_latency_sum_ns, ns);
}

static void on_action(struct game *g, struct game_battle *sb, conn_id conn, const proto_request *r)
{
    int s = seat_of(sb, conn);
    if (sb->phase == GAME_ENDED) { /* seats are released at the end: say why, not "not yours" */
        send_error(g, conn, PROTO_E_BATTLE_OVER, "the battle is over", r->has_rid, r->rid, sb->id);
        return;
    }
    if (s < 0) {
        send_error(g, conn, PROTO_E_NOT_IN_BATTLE, "you hold no seat in this battle", r->has_rid,
                   r->rid, sb->id);
        return;
    }
    if (sb->phase == GAME_WAITING) {
        send_error(g, conn, PROTO_E_NOT_STARTED, "the battle has not started", r->has_rid, r->rid,
                   sb->id);
        return;
    }
    uint8_t kind;
    uint16_t arg = 0;
    switch (r->type) {
    case PROTO_T_FIRE: kind = BATTLE_ACT_FIRE; arg = r->u.fire.weapon; break;
    case PROTO_T_MISSILE: kind = BATTLE_ACT_LAUNCH; break;
    case PROTO_T_PD:
        if (r->u.pd.missile > UINT16_MAX) {
            send_error(g, conn, PROTO_E_NO_SUCH_MISSILE, "no such missile in flight", r->has_rid,
                       r->rid, sb->id);
            return;
        }
        kind = BATTLE_ACT_POINT_DEFENSE;
        arg = (uint16_t)r->u.pd.missile;
        break;
    case PROTO_T_SAND: kind = BATTLE_ACT_SANDCASTER; break;
    case PROTO_T_END: kind = BATTLE_ACT_END_TURN; break;
    default: kind = BATTLE_ACT_FORFEIT; break;
    }
    uint64_t t0 = clock_mono_ns();
    battle_err e = act(g, sb, kind, (uint8_t)s, arg, conn, r->has_rid, r->rid);
    if (e != BATTLE_OK) {
        send_error(g, conn, events_err(e), events_err_text(e), r->has_rid, r->rid, sb->id);
        return;
    }
    sb->last_action_ms = g->now;
    settle(g, sb);
    record_latency(g, clock_mono_ns() - t0);
}

static void on_request(struct game *g, const struct shard_in *m)
{
    const proto_request *r = &m->u.req;
    conn_id conn = m->conn;
    stat_add(&g->stats->actions[r->type <= PROTO_T_REQ_LAST ? r->type : 0], 1);
    if (!proto_type_battle_scoped(r->type)) {
        send_error(g, conn, PROTO_E_UNKNOWN_TYPE, "not a battle request", r->has_rid, r->rid, 0);
        return;
    }
    struct game_battle *sb = lookup(g, m->battle_id);
    if (!sb) {
        send_error(g, conn, PROTO_E_NO_SUCH_BATTLE, "no battle with that id", r->has_rid, r->rid,
                   m->battle_id);
        return;
    }
    switch (r->type) {
    case PROTO_T_JOIN: on_join(g, sb, conn, r); break;
    case PROTO_T_WATCH: on_watch(g, sb, conn, r); break;
    case PROTO_T_RESUME: on_resume(g, sb, conn, r); break;
    case PROTO_T_LEAVE: on_leave(g, sb, conn, r); break;
    case PROTO_T_FIRE:
    case PROTO_T_MISSILE:
    case PROTO_T_PD:
    case PROTO_T_SAND:
    case PROTO_T_END:
    case PROTO_T_FORFEIT: on_action(g, sb, conn, r); break;
    default:
        send_error(g, conn, PROTO_E_UNKNOWN_TYPE, "not a battle request", r->has_rid, r->rid, sb->id);
        break;
    }
}

static void on_conn_gone(struct game *g, const struct shard_in *m)
{
    struct game_battle *sb = lookup(g, m->battle_id);
    if (!sb || !m->conn)
        return;
    if (spect_remove(g, sb, m->conn))
        return;
    int s = seat_of(sb, m->conn);
    if (s < 0)
        return;
    struct game_seat *gs = &sb->seat[s];
    gs->conn = 0;
    if (sb->phase == GAME_ENDED)
        return;
    gs->away = true;
    gs->resume_deadline = g->now + g->cfg.resume_window_ms;
    if (sb->phase == GAME_RUNNING)
        act(g, sb, BATTLE_ACT_SEAT_AWAY, (uint8_t)s, 0, 0, false, 0);
    settle(g, sb);
}

/* Visits every battle in the pool; fn may release the battle it is given. */
static void for_each_battle(struct game *g, void (*fn)(struct game *, struct game_battle *, void *),
                            void *arg)
{
    for (uint32_t c = 0; c < g->nchunks; c++)
        for (uint32_t i = 0; i < GAME_POOL_CHUNK; i++)
            if (g->chunks[c][i].phase != GAME_FREE)
                fn(g, &g->chunks[c][i], arg);
}

static void drain_waiting(struct game *g, struct game_battle *sb, void *arg)
{
    if (sb->phase == GAME_WAITING)
        dispose_waiting(g, sb, PROTO_END_SHUTDOWN, SHARD_END_SHUTDOWN);
}

static void shutdown_running(struct game *g, struct game_battle *sb, void *arg)
{
    if (sb->phase == GAME_RUNNING) {
        act(g, sb, BATTLE_ACT_SHUTDOWN, 0, 0, 0, false, 0);
        schedule(g, sb);
    }
}

static void on_drain(struct game *g, const struct shard_in *m)
{
    uint64_t deadline = g->now + m->u.drain.grace_ms;
    if (g->draining) {
        g->drain_deadline = min64(g->drain_deadline, deadline);
        return;
    }
    g->draining = true;
    g->drain_deadline = deadline;
    log_info("shard draining", "running", LOG_U64(g->nrunning), "waiting", LOG_U64(g->nwaiting),
             "grace_ms", LOG_U64(m->u.drain.grace_ms));
    for_each_battle(g, drain_waiting, NULL);
    check_stopped(g);
}

struct list_ctx {
    uint64_t token;
    uint32_t limit, rows;
};

static void list_one(struct game *g, struct game_battle *sb, void *arg)
{
    struct list_ctx *lc = arg;
    if (lc->rows >= lc->limit)
        return;
    struct shard_out m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_OUT_LIST_ROW;
    m.battle_id = sb->id;
    struct shard_battle_row *row = &m.u.row;
    row->battle_id = sb->id;
    row->age_ms = g->now - sb->created_ms;
    row->round = sb->phase == GAME_WAITING ? 0 : battle_round(&sb->b);
    row->spectators = sb->nspect;
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].conn || sb->seat[s].ai)
            row->seats_present |= (uint8_t)(1u << s);
    row->state = sb->phase == GAME_WAITING ? 0 : (sb->phase == GAME_RUNNING ? 1 : 2);
    if (outbox_put(g->out, &m))
        lc->rows++;
}

static void on_list(struct game *g, const struct shard_in *m)
{
    struct list_ctx lc = {.token = m->u.list.token,
                          .limit = m->u.list.limit < SHARD_LIST_MAX ? m->u.list.limit : SHARD_LIST_MAX};
    for_each_battle(g, list_one, &lc);
    struct shard_out out;
    memset(&out, 0, sizeof out);
    out.kind = SHARD_OUT_LIST_END;
    out.u.list_end.token = lc.token;
    out.u.list_end.rows = lc.rows;
    out.u.list_end.total = g->nrunning + g->nwaiting + g->nended;
    outbox_put(g->out, &out);
}

void game_handle(struct game *g, const struct shard_in *m, uint64_t now)
{
    g->now = now;
    switch (m->kind) {
    case SHARD_IN_REQUEST: on_request(g, m); break;
    case SHARD_IN_CREATE: on_create(g, m); break;
    case SHARD_IN_CONN_GONE: on_conn_gone(g, m); break;
    case SHARD_IN_DRAIN: on_drain(g, m); break;
    case SHARD_IN_HEARTBEAT: {
        struct shard_out out;
        memset(&out, 0, sizeof out);
        out.kind = SHARD_OUT_HEARTBEAT;
        out.u.token = m->u.token;
        outbox_put(g->out, &out);
        break;
    }
    case SHARD_IN_LIST: on_list(g, m); break;
    default: log_warn("unknown inbox message", "kind", LOG_U64(m->kind)); break;
    }
}

/* ---- timers ----------------------------------------------------------------------------------- */

static void due(struct game *g, struct game_battle *sb)
{
    uint64_t now = g->now;
    if (sb->phase == GAME_ENDED) {
        if (sb->keep_deadline <= now)
            pool_release(g, sb);
        else
            schedule(g, sb);
        return;
    }
    bool idle = g->cfg.idle_battle_ms && sb->last_action_ms + g->cfg.idle_battle_ms <= now;
    if (sb->phase == GAME_WAITING) {
        if (sb->seat[0].away && sb->seat[0].resume_deadline <= now)
            dispose_waiting(g, sb, PROTO_END_DISCONNECT, SHARD_END_DISCONNECT);
        else if (idle)
            dispose_waiting(g, sb, PROTO_END_ABANDONED, SHARD_END_ABANDONED);
        else
            schedule(g, sb);
        return;
    }
    for (int s = 0; s < 2 && sb->phase == GAME_RUNNING; s++)
        if (sb->seat[s].away && sb->seat[s].resume_deadline <= now) {
            sb->seat[s].away = sb->seat[s].silent = false;
            act(g, sb, BATTLE_ACT_SEAT_GONE, (uint8_t)s, 0, 0, false, 0);
        }
    if (sb->phase == GAME_RUNNING && sb->turn_deadline <= now) {
        int active = battle_active_seat(&sb->b);
        sb->turn_deadline = GAME_NO_DEADLINE;
        if (active >= 0)
            act(g, sb, BATTLE_ACT_TIMER_EXPIRED, (uint8_t)active, 0, 0, false, 0);
        if (sb->phase == GAME_RUNNING)
            arm_turn(g, sb);
    }
    if (sb->phase == GAME_RUNNING && sb->ai_deadline <= now) {
        sb->ai_deadline = GAME_NO_DEADLINE;
        int ai = sb->seat[0].ai ? 0 : (sb->seat[1].ai ? 1 : -1);
        battle_action a;
        if (ai >= 0 && battle_ai_choose(&sb->b, ai, &a))
            act(g, sb, a.kind, a.seat, a.arg, 0, false, 0);
    }
    if (sb->phase == GAME_RUNNING && idle)
        act(g, sb, BATTLE_ACT_ABANDON, 0, 0, 0, false, 0);
    settle(g, sb);
}

void game_tick(struct game *g, uint64_t now)
{
    g->now = now;
    if (g->draining && now >= g->drain_deadline && g->nrunning > 0)
        for_each_battle(g, shutdown_running, NULL);
    const struct theap_entry *e;
    /* Each battle is handled at most once per tick, so one whose deadline stays due (a bug) cannot
     * spin the loop. */
    uint32_t budget = g->heap.n;
    while (budget-- > 0 && (e = theap_min(&g->heap)) && e->deadline <= now) {
        struct game_battle *sb = bat(g, e->idx);
        theap_remove(&g->heap, sb->heap_pos);
        stat_add(&g->stats->timers_fired, 1);
        due(g, sb);
    }
}

uint64_t game_next_deadline(const struct game *g)
{
    const struct theap_entry *e = theap_min(&g->heap);
    uint64_t d = e ? e->deadline : GAME_NO_DEADLINE;
    if (g->draining && g->nrunning > 0)
        d = min64(d, g->drain_deadline);
    return d;
}

/* ---- recovery --------------------------------------------------------------------------------- */

static int restore_fail(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return -1;
}

/* The ship table index of a recovered ship, by key; the first ship when the table has no longer
 * got it (a running battle plays its own copy anyway). */
static uint8_t restore_ship_idx(const struct game *g, const ships_ship *s, bool *found)
{
    char key[PROTO_SHIP_MAX + 1];
    memset(key, 0, sizeof key);
    snprintf(key, sizeof key, "%s", s->key);
    int i = key[0] ? find_ship(g, key) : -1;
    *found = i >= 0;
    return (uint8_t)(i >= 0 ? i : 0);
}

int game_restore(struct game *g, uint64_t id, const struct persist_created *c,
                 const battle_action *acts, size_t n, uint64_t now, char *why, size_t whylen)
{
    g->now = now;
    if (id == 0 || lookup(g, id))
        return restore_fail(why, whylen, "battle id 0 or already restored");
    bool found[2] = {false, false};
    uint8_t ship[2] = {0, 0};
    for (int s = 0; s < 2; s++)
        if (c->has_ship[s])
            ship[s] = restore_ship_idx(g, &c->setup.ship[s], &found[s]);
    if (c->phase == PERSIST_WAITING && !found[0])
        return restore_fail(why, whylen, "waiting battle's ship is not in the ship table");
    struct game_battle *sb = pool_alloc(g);
    if (!sb)
        return restore_fail(why, whylen, "too many battles on this shard");
    if (btable_put(&g->ids, id, sb->idx) != 0) {
        pool_release(g, sb);
        return restore_fail(why, whylen, "out of memory");
    }
    sb->id = id;
    sb->band = c->setup.band;
    sb->created_ms = sb->last_action_ms = now;
    if (c->phase == PERSIST_RUNNING) {
        size_t failed = 0;
        battle_err e = battle_replay(&c->setup, acts, n, &sb->b, &failed);
        if (e != BATTLE_OK) {
            pool_release(g, sb);
            snprintf(why, whylen, "replay refused action %zu of %zu: %s", failed, n,
                     battle_err_name(e));
            return -1;
        }
        if (battle_is_over(&sb->b)) {
            pool_release(g, sb);
            return 1;
        }
    }
    battle_view v;
    if (c->phase == PERSIST_RUNNING)
        battle_view_fill(&sb->b, &v);
    for (int s = 0; s < 2; s++) {
        struct game_seat *gs = &sb->seat[s];
        gs->ai = c->ai_seat == s;
        gs->taken = c->has_token[s] || gs->ai;
        gs->ship = ship[s];
        if (c->has_token[s]) {
            memcpy(gs->token, c->token[s], SHARD_TOKEN_BYTES);
            gs->away = true;
            gs->resume_deadline = now + g->cfg.resume_window_ms;
            gs->silent = c->phase == PERSIST_RUNNING && !v.away[s];
        }
    }
    sb->jseq = n;
    if (c->phase == PERSIST_WAITING) {
        sb->phase = GAME_WAITING;
        g->nwaiting++;
    } else {
        sb->phase = GAME_RUNNING;
        g->nrunning++;
        arm_turn(g, sb);
        if (c->ai_seat >= 0)
            sb->ai_deadline = now + g->cfg.ai_think_ms;
    }
    stat_add(&g->stats->battles_recovered, 1);
    update_live(g);
    schedule(g, sb);
    return 0;
}

/* ---- setup ------------------------------------------------------------------------------------ */

int game_init(struct game *g, const struct game_cfg *cfg, struct outbox *out,
              struct shard_stats *stats)
{
    memset(g, 0, offsetof(struct game, ev));
    g->cfg = *cfg;
    g->out = out;
    g->stats = stats;
    g->free_head = NONE_IDX;
    g->spec_free = NONE_IDX;
    g->drain_deadline = GAME_NO_DEADLINE;
    theap_init(&g->heap, heap_setpos, g);
    if (!cfg->ships || cfg->ships->count == 0) {
        log_error("shard has no ship table");
        return -1;
    }
    if (srand_init(&g->rnd) != 0) {
        log_error("getrandom failed");
        return -1;
    }
    if (btable_init(&g->ids, 1024) != 0)
        return -1;
    return 0;
}

void game_free(struct game *g)
{
    for (uint32_t c = 0; c < g->nchunks; c++) {
        for (uint32_t i = 0; i < GAME_POOL_CHUNK; i++)
            memset(g->chunks[c][i].seat, 0, sizeof g->chunks[c][i].seat);
        free(g->chunks[c]);
    }
    free(g->chunks);
    g->chunks = NULL;
    g->nchunks = 0;
    free(g->spec);
    g->spec = NULL;
    theap_free(&g->heap);
    btable_free(&g->ids);
    memset(&g->rnd, 0, sizeof g->rnd);
}
