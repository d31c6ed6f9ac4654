/* game_lifecycle: a battle's life on its shard: start, apply actions and publish their events,
 * arm the turn timer, finish, dispose, and the drain's stop signal. */
#include "shards/game_int.h"

#include <string.h>

#include "util/log.h"

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

void game_check_stopped(struct game *g)
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
            game_send_seat(g, gs->conn, sb->id, (uint8_t)s, -1);
        gs->conn = 0;
        gs->away = false;
    }
    for (uint32_t i = sb->spect_head; i != GAME_NONE_IDX; i = g->spec[i].next)
        for (uint32_t k = 0; k < g->spec[i].n; k++)
            game_send_seat(g, g->spec[i].c[k], sb->id, SHARD_ROLE_SPECTATOR, -1);
    game_spect_clear(g, sb);
}

static void battle_finished(struct game *g, struct game_battle *sb)
{
    game_stat_add(&g->stats->battles_ended[end_index(battle_reason(&sb->b))], 1);
    game_journal_ended(g, sb);
    release_all(g, sb);
    sb->phase = GAME_ENDED;
    sb->turn_deadline = sb->ai_deadline = GAME_NO_DEADLINE;
    sb->keep_deadline = g->now + g->cfg.finished_keep_ms;
    g->nrunning--;
    g->nended++;
    game_update_live(g);
    game_check_stopped(g);
}

/* A private battle that never started: its creator (and nobody else: spectators wait for a start)
 * is told it ended, then it is freed at once; there is no engine state to keep. */
void game_dispose_waiting(struct game *g, struct game_battle *sb, uint8_t wire_reason,
                          unsigned end_idx)
{
    conn_id c = sb->seat[0].conn;
    if (c) {
        proto_event pe;
        memset(&pe, 0, sizeof pe);
        pe.type = PROTO_T_ENDED;
        pe.bid = sb->id;
        pe.seq = game_wire_seq(sb, 1); /* the only battle event a battle that never started has */
        pe.u.ended.winner = -1;
        pe.u.ended.reason = wire_reason;
        game_send_event(g, c, &pe);
        game_send_seat(g, c, sb->id, SHARD_ROLE_SEAT0, -1);
    }
    game_stat_add(&g->stats->battles_ended[end_idx], 1);
    game_journal_ended(g, sb);
    g->nwaiting--;
    game_pool_release(g, sb);
    game_update_live(g);
    game_check_stopped(g);
}

/* Arms the turn timer whenever the active seat or the round changed since it was last armed. */
void game_arm_turn(struct game *g, struct game_battle *sb)
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
        pe.seq = game_wire_seq(sb, pe.seq);
        if (pe.type == PROTO_T_STARTED) {
            bool hr[2] = {false, false};
            uint32_t r[2] = {0, 0};
            for (int s = 0; s < 2; s++)
                if (sb->seat[s].conn == requester && has_rid) {
                    hr[s] = true;
                    r[s] = rid;
                }
            game_send_started(g, sb, &pe, hr, r);
        } else {
            game_broadcast(g, sb, &pe, requester, has_rid, rid);
        }
        has_rid = false;
    }
}

/* Applies one action to a running battle and tells everyone. On refusal nothing changes. */
battle_err game_act(struct game *g, struct game_battle *sb, uint8_t kind, uint8_t seat,
                    uint16_t arg, conn_id requester, bool has_rid, uint32_t rid)
{
    battle_action a = {.kind = kind, .seat = seat, .arg = arg};
    size_t nev = 0;
    battle_err e = battle_apply(&sb->b, &a, g->ev, BATTLE_MAX_EVENTS_PER_APPLY, &nev);
    if (e != BATTLE_OK)
        return e;
    game_journal_action(g, sb, &a);
    publish(g, sb, g->ev, nev, requester, has_rid, rid);
    if (battle_is_over(&sb->b))
        battle_finished(g, sb);
    else
        game_arm_turn(g, sb);
    return BATTLE_OK;
}

/* Lets the server's opponent act: at once when ai_think_ms is 0 (bounded per call), else by arming
 * its think deadline. Then queues the battle's next deadline. */
void game_settle(struct game *g, struct game_battle *sb)
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
        if (game_act(g, sb, a.kind, a.seat, a.arg, 0, false, 0) != BATTLE_OK) {
            log_warn("ai proposed a refused action", "battle", LOG_U64(sb->id));
            break;
        }
    }
    game_schedule(g, sb);
}

const ships_ship *game_ship_at(const struct game *g, uint8_t idx)
{
    return &g->cfg.ships->ships[idx];
}

/* Index of the ship with key, or of the default (the table's first ship) for "". -1 if unknown. */
int game_find_ship(const struct game *g, const char *key)
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
int game_ai_ship_for(const struct game *g, int player)
{
    /* Fixed arrays like every key game_find_ship sees, so its bounded NUL search stays in bounds
     * (a bare literal is shorter than the bound, which a Release build rightly warns about). */
    static const char pairing[2][PROTO_SHIP_MAX + 1] = {"free_trader", "scout"};
    const char *want = strcmp(game_ship_at(g, (uint8_t)player)->key, "scout") == 0 ? pairing[0] : pairing[1];
    int i = game_find_ship(g, want);
    return i >= 0 ? i : player;
}

/* Creates the engine battle and tells both seats; the seats in the announce mask (bit per seat) are
 * new to the net thread's bookkeeping. false (nothing sent) on an engine refusal. */
bool game_start_battle(struct game *g, struct game_battle *sb, unsigned announce,
                       const bool has_rid[2], const uint32_t rid[2])
{
    battle_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.seed = srand_u64(&g->rnd);
    setup.ship[0] = *game_ship_at(g, sb->seat[0].ship);
    setup.ship[1] = *game_ship_at(g, sb->seat[1].ship);
    setup.band = sb->band;
    setup.timeout_policy = BATTLE_TIMEOUT_FIRE_DEFAULT;
    setup.round_limit = g->cfg.round_limit;
    size_t nev = 0;
    battle_err e = battle_create(&sb->b, &setup, g->ev, BATTLE_MAX_EVENTS_PER_APPLY, &nev);
    if (e != BATTLE_OK) {
        log_error("battle_create refused", "battle", LOG_U64(sb->id), "err", battle_err_name(e));
        return false;
    }
    game_journal_created(g, sb, &setup);
    sb->phase = GAME_RUNNING;
    sb->last_action_ms = g->now;
    g->nrunning++;
    game_stat_add(&g->stats->battles_started, 1);
    game_update_live(g);
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].conn && (announce & (1u << s)))
            game_send_seat(g, sb->seat[s].conn, sb->id, (uint8_t)s, +1);
    proto_event pe;
    for (size_t i = 0; i < nev; i++) {
        if (!events_xlate(&sb->b, sb->id, &g->ev[i], &pe))
            continue;
        pe.seq = game_wire_seq(sb, pe.seq);
        if (pe.type == PROTO_T_STARTED)
            game_send_started(g, sb, &pe, has_rid, rid);
        else
            game_broadcast(g, sb, &pe, 0, false, 0);
    }
    game_arm_turn(g, sb);
    return true;
}

int game_seat_of(const struct game_battle *sb, conn_id c)
{
    if (!c)
        return -1;
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].conn == c)
            return s;
    return -1;
}

/* Comparison that takes the same time wherever the first difference is: tokens are secrets. */
bool game_token_eq(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;
    for (int i = 0; i < SHARD_TOKEN_BYTES; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}
