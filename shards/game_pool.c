/* game_pool: the battle pool, the id table, the deadline heap and the spectator lists of one shard
 * (see game_int.h). */
#include "shards/game_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct game_battle *game_battle_at(const struct game *g, uint32_t idx)
{
    return &g->chunks[idx / GAME_POOL_CHUNK][idx % GAME_POOL_CHUNK];
}

void game_heap_setpos(void *ctx, uint32_t idx, uint32_t pos)
{
    game_battle_at(ctx, idx)->heap_pos = pos;
}

void game_update_live(struct game *g)
{
    atomic_store_explicit(&g->stats->battles_live, g->nrunning + g->nwaiting, memory_order_relaxed);
}

struct game_battle *game_pool_alloc(struct game *g)
{
    if (g->free_head == GAME_NONE_IDX) {
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
            c[i].next_free = i + 1 < GAME_POOL_CHUNK ? base + i + 1 : GAME_NONE_IDX;
        }
        g->free_head = base;
        g->nchunks++;
    }
    struct game_battle *sb = game_battle_at(g, g->free_head);
    g->free_head = sb->next_free;
    uint32_t idx = sb->idx;
    memset(sb, 0, offsetof(struct game_battle, b));
    sb->idx = idx;
    sb->heap_pos = THEAP_NONE;
    sb->next_free = GAME_NONE_IDX;
    sb->spect_head = GAME_NONE_IDX;
    sb->turn_deadline = sb->ai_deadline = sb->keep_deadline = GAME_NO_DEADLINE;
    g->nbattles++;
    return sb;
}

void game_pool_release(struct game *g, struct game_battle *sb)
{
    if (sb->heap_pos != THEAP_NONE)
        theap_remove(&g->heap, sb->heap_pos);
    game_spect_clear(g, sb);
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

struct game_battle *game_lookup(struct game *g, uint64_t id)
{
    uint32_t idx = btable_get(&g->ids, id);
    return idx == BTABLE_MISSING ? NULL : game_battle_at(g, idx);
}

static uint64_t battle_deadline(const struct game *g, const struct game_battle *sb)
{
    if (sb->phase == GAME_ENDED)
        return sb->keep_deadline;
    uint64_t d = GAME_NO_DEADLINE;
    for (int s = 0; s < 2; s++)
        if (sb->seat[s].away)
            d = game_min64(d, sb->seat[s].resume_deadline);
    if (sb->phase == GAME_RUNNING)
        d = game_min64(d, game_min64(sb->turn_deadline, sb->ai_deadline));
    if (g->cfg.idle_battle_ms)
        d = game_min64(d, sb->last_action_ms + g->cfg.idle_battle_ms);
    return d;
}

void game_schedule(struct game *g, struct game_battle *sb)
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
    if (g->spec_free != GAME_NONE_IDX) {
        uint32_t i = g->spec_free;
        g->spec_free = g->spec[i].next;
        return i;
    }
    if (g->nspec == g->spec_cap) {
        uint32_t cap = g->spec_cap ? g->spec_cap * 2 : 256;
        struct game_spec_chunk *s = realloc(g->spec, (size_t)cap * sizeof *s);
        if (!s)
            return GAME_NONE_IDX;
        g->spec = s;
        g->spec_cap = cap;
    }
    return g->nspec++;
}

bool game_spect_add(struct game *g, struct game_battle *sb, conn_id c)
{
    uint32_t h = sb->spect_head;
    if (h == GAME_NONE_IDX || g->spec[h].n == GAME_SPEC_PER_CHUNK) {
        uint32_t n = spec_alloc(g);
        if (n == GAME_NONE_IDX)
            return false;
        g->spec[n].n = 0;
        g->spec[n].next = h;
        sb->spect_head = h = n;
    }
    g->spec[h].c[g->spec[h].n++] = c;
    sb->nspect++;
    game_stat_add(&g->stats->spectators, 1);
    return true;
}

bool game_spect_has(const struct game *g, const struct game_battle *sb, conn_id c)
{
    for (uint32_t i = sb->spect_head; i != GAME_NONE_IDX; i = g->spec[i].next)
        for (uint32_t k = 0; k < g->spec[i].n; k++)
            if (g->spec[i].c[k] == c)
                return true;
    return false;
}

/* Removes c, filling its hole with the last entry of the head chunk. */
bool game_spect_remove(struct game *g, struct game_battle *sb, conn_id c)
{
    uint32_t h = sb->spect_head;
    for (uint32_t i = h; i != GAME_NONE_IDX; i = g->spec[i].next) {
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
            game_stat_sub(&g->stats->spectators, 1);
            return true;
        }
    }
    return false;
}

void game_spect_clear(struct game *g, struct game_battle *sb)
{
    while (sb->spect_head != GAME_NONE_IDX) {
        uint32_t h = sb->spect_head;
        sb->spect_head = g->spec[h].next;
        g->spec[h].next = g->spec_free;
        g->spec_free = h;
    }
    game_stat_sub(&g->stats->spectators, sb->nspect);
    sb->nspect = 0;
}
