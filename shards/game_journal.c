/* game_journal: what a shard writes to its journal for a battle (created, each action, ended). */
#include "shards/game_int.h"

#include <errno.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

/* A battle's setup as recovery needs it. setup NULL: a private battle still waiting for seat 1. A
 * record the journal cannot take is counted there (journal_stats) and logged by it. */
void game_journal_created(struct game *g, struct game_battle *sb, const battle_setup *setup)
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
        c.has_key[s] = c.has_token[s] && sb->seat[s].has_key;
        if (c.has_key[s])
            memcpy(c.key[s], sb->seat[s].key, SHARD_TOKEN_BYTES);
    }
    if (setup) {
        c.phase = PERSIST_RUNNING;
        c.setup = *setup;
        c.has_ship[0] = c.has_ship[1] = true;
    } else {
        c.phase = PERSIST_WAITING;
        c.setup.band = sb->band;
        c.setup.ship[0] = *game_ship_at(g, sb->seat[0].ship);
        c.has_ship[0] = true;
    }
    /* A battle recovered while waiting numbers its events past what its first life may have sent
     * (persist.h); its new history must say so, since this record restarts it. */
    c.seq_base = sb->seq_split == 0 ? sb->seq_off : 0;
    size_t len = persist_encode_created(g->jbuf, sizeof g->jbuf, &c);
    sb->jseq = 0;
    if (len == 0 || journal_append(g->jn, JOURNAL_REC_CREATED, sb->id, 0, g->jbuf, len) == -EINVAL)
        log_error("journal: battle setup not recorded", "battle", LOG_U64(sb->id));
}

void game_journal_action(struct game *g, struct game_battle *sb, const battle_action *a)
{
    if (!g->jn)
        return;
    uint8_t buf[PERSIST_ACTION_MAX];
    size_t len = persist_encode_action(buf, a);
    journal_append(g->jn, JOURNAL_REC_ACTION, sb->id, ++sb->jseq, buf, len);
}

void game_journal_ended(struct game *g, struct game_battle *sb)
{
    if (!g->jn)
        return;
    uint8_t buf[PERSIST_ENDED_MAX];
    size_t len = persist_encode_ended(buf, clock_wall_ms());
    journal_append(g->jn, JOURNAL_REC_ENDED, sb->id, sb->jseq, buf, len);
}
