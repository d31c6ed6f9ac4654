/* game: creating and freeing one shard's game state (see game.h; the work is split across the
 * game_*.c files named in game_int.h). */
#include "shards/game_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int game_init(struct game *g, const struct game_cfg *cfg, struct outbox *out,
              struct shard_stats *stats)
{
    memset(g, 0, offsetof(struct game, ev));
    g->cfg = *cfg;
    g->out = out;
    g->stats = stats;
    g->free_head = GAME_NONE_IDX;
    g->spec_free = GAME_NONE_IDX;
    g->drain_deadline = GAME_NO_DEADLINE;
    theap_init(&g->heap, game_heap_setpos, g);
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
