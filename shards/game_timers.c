/* game_timers: deadlines that fall due (turn timer, resume window, AI think time, idle and kept
 * battles, the drain deadline) behind game_tick and game_next_deadline. */
#include "shards/game_int.h"

static void due(struct game *g, struct game_battle *sb)
{
    uint64_t now = g->now;
    if (sb->phase == GAME_ENDED) {
        if (sb->keep_deadline <= now)
            game_pool_release(g, sb);
        else
            game_schedule(g, sb);
        return;
    }
    bool idle = g->cfg.idle_battle_ms && sb->last_action_ms + g->cfg.idle_battle_ms <= now;
    if (sb->phase == GAME_WAITING) {
        if (sb->seat[0].away && sb->seat[0].resume_deadline <= now)
            game_dispose_waiting(g, sb, PROTO_END_DISCONNECT, SHARD_END_DISCONNECT);
        else if (idle)
            game_dispose_waiting(g, sb, PROTO_END_ABANDONED, SHARD_END_ABANDONED);
        else
            game_schedule(g, sb);
        return;
    }
    for (int s = 0; s < 2 && sb->phase == GAME_RUNNING; s++)
        if (sb->seat[s].away && sb->seat[s].resume_deadline <= now) {
            sb->seat[s].away = sb->seat[s].silent = false;
            game_act(g, sb, BATTLE_ACT_SEAT_GONE, (uint8_t)s, 0, 0, false, 0);
        }
    if (sb->phase == GAME_RUNNING && sb->turn_deadline <= now) {
        int active = battle_active_seat(&sb->b);
        sb->turn_deadline = GAME_NO_DEADLINE;
        if (active >= 0)
            game_act(g, sb, BATTLE_ACT_TIMER_EXPIRED, (uint8_t)active, 0, 0, false, 0);
        if (sb->phase == GAME_RUNNING)
            game_arm_turn(g, sb);
    }
    if (sb->phase == GAME_RUNNING && sb->ai_deadline <= now) {
        sb->ai_deadline = GAME_NO_DEADLINE;
        int ai = sb->seat[0].ai ? 0 : (sb->seat[1].ai ? 1 : -1);
        battle_action a;
        if (ai >= 0 && battle_ai_choose(&sb->b, ai, &a))
            game_act(g, sb, a.kind, a.seat, a.arg, 0, false, 0);
    }
    if (sb->phase == GAME_RUNNING && idle)
        game_act(g, sb, BATTLE_ACT_ABANDON, 0, 0, 0, false, 0);
    game_settle(g, sb);
}

void game_tick(struct game *g, uint64_t now)
{
    g->now = now;
    if (g->suspended) /* restart: time stands still for frozen battles */
        return;
    if (g->draining && now >= g->drain_deadline && g->nrunning > 0)
        game_for_each_battle(g, game_shutdown_running, NULL);
    const struct theap_entry *e;
    /* Each battle is handled at most once per tick, so one whose deadline stays due (a bug) cannot
     * spin the loop. */
    uint32_t budget = g->heap.n;
    while (budget-- > 0 && (e = theap_min(&g->heap)) && e->deadline <= now) {
        struct game_battle *sb = game_battle_at(g, e->idx);
        theap_remove(&g->heap, sb->heap_pos);
        game_stat_add(&g->stats->timers_fired, 1);
        due(g, sb);
    }
}

uint64_t game_next_deadline(const struct game *g)
{
    if (g->suspended)
        return GAME_NO_DEADLINE;
    const struct theap_entry *e = theap_min(&g->heap);
    uint64_t d = e ? e->deadline : GAME_NO_DEADLINE;
    if (g->draining && g->nrunning > 0)
        d = game_min64(d, g->drain_deadline);
    return d;
}
