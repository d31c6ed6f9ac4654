/* adopt: the shard side of shards_adopt (shards.h): puts a failed node's battles on this shard at
 * runtime, as recovery (recover.h) puts back battles at start, and journals them here. Internal to
 * shards/. */
#ifndef BATTLED_SHARDS_ADOPT_H
#define BATTLED_SHARDS_ADOPT_H

#include <stdint.h>

#include "journal/journal.h"
#include "shards/game.h"
#include "shards/shards.h"

/* On shard idx's thread (of n shards), with its run lock held: rebuilds every battle of set that
 * shard idx owns (shard_of) with recover_battle, as of now (the shard's loop clock), and appends
 * its records to g's journal (CREATED, its actions and the MARK, and ENDED for an ended battle
 * kept; a waiting battle's renumbered CREATED), to be written by the pass's journal_flush. A
 * battle whose id g already holds is a duplicate and left alone. Adds to r (and to
 * battles_adopted in g's stats). Returns 0; -ESHUTDOWN, nothing taken, while the shard drains or
 * is suspended; or the first journal_append error (-errno: the journal dropped records; the
 * battles are on the shard nonetheless, not persisted). set is only read. */
int adopt_battles(struct game *g, const journal_set *set, unsigned idx, unsigned n, uint64_t now,
                  struct shards_adopt_result *r);

#endif
