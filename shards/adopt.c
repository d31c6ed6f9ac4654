/* adopt: a failed node's battles put on this shard at runtime (see adopt.h). The rebuilding is
 * recovery's (recover_battle); what differs from a start is that the shard already runs and
 * journals, so the records go through journal_append like any other pass's, and a battle may
 * already be here (the same set adopted twice). */
#include "shards/adopt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shards/game_int.h"
#include "shards/recover.h"
#include "util/clock.h"
#include "util/log.h"

/* Appends a restored battle's records. 0, or the first journal_append error. */
static int adopt_write(journal *jn, const journal_battle *jb)
{
    int rc = journal_append(jn, JOURNAL_REC_CREATED, jb->id, jb->created.seq, jb->created.payload,
                            jb->created.payload_len);
    for (size_t i = 0; rc == 0 && i < jb->nactions; i++)
        rc = journal_append(jn, JOURNAL_REC_ACTION, jb->id, jb->actions[i].seq,
                            jb->actions[i].payload, jb->actions[i].payload_len);
    if (rc == 0 && jb->ended)
        rc = journal_append(jn, JOURNAL_REC_ENDED, jb->id, jb->end.seq, jb->end.payload,
                            jb->end.payload_len);
    return rc;
}

int adopt_battles(struct game *g, const journal_set *set, unsigned idx, unsigned n, uint64_t now,
                  struct shards_adopt_result *r)
{
    /* A node going down takes nothing on: a drain would end the battles at its deadline, and a
     * node suspended for a restart is about to be away; another node is the better owner. */
    if (g->draining || g->suspended)
        return -ESHUTDOWN;
    uint64_t wall = clock_wall_ms();
    struct recover_scratch scr = {NULL, 0};
    struct recover_restored out; /* about 2 KiB: one battle at a time */
    int err = 0;
    size_t nb = journal_set_count(set);
    for (size_t i = 0; i < nb; i++) {
        const journal_battle *jb = journal_set_battle(set, i);
        if (shard_of(jb->id, n) != idx)
            continue;
        if (game_lookup(g, jb->id)) {
            r->duplicates++;
            continue;
        }
        char why[160] = "";
        int rc = recover_battle(g, jb, now, wall, &scr, &out, why, sizeof why);
        if (rc == 0) {
            int e = g->jn ? adopt_write(g->jn, &out.jb) : 0;
            if (e != 0 && err == 0) {
                err = e;
                log_error("adopt: battle not journaled (the journal dropped it)", "battle",
                          LOG_U64(jb->id), "error", strerror(-e));
            }
            if (jb->ended) {
                r->ended_kept++;
            } else {
                r->adopted++;
                game_stat_add(&g->stats->battles_adopted, 1);
            }
        } else if (rc == 1) {
            r->over++;
        } else if (rc < 0) {
            r->failed++;
            log_warn("adopt: battle cannot be rebuilt, skipped", "battle", LOG_U64(jb->id), "error",
                     why);
        }
        /* rc 2: ended past finished_keep_ms (gone, as it would be had its node run on), or its
         * sequence numbers are used up (logged by recover_battle). */
        free(out.recs);
    }
    free(scr.acts);
    return err;
}
