/* recover: persistence at start (shards_start calls it before any shard thread runs): lock the
 * journal location, load every journal, rebuild each unfinished battle on the shard that owns it now,
 * open each shard's journal with its battles as the first snapshot, and retire the old files. */
#ifndef BATTLED_SHARDS_RECOVER_H
#define BATTLED_SHARDS_RECOVER_H

#include <stdint.h>

#include "shards/game.h"
#include "journal/journal.h"
#include "journal/store.h"
#include "shards/shards.h"

struct recover_result {
    uint64_t battles;  /* battles found (unfinished, and ended ones whose records are whole) */
    uint64_t restored; /* put back on a shard */
    uint64_t skipped;  /* left out (damaged, skip_damaged on) */
    uint64_t over;     /* found over on replay: dropped */
    uint64_t ended_kept; /* ended within game.finished_keep_ms: back for resume and watch */
    uint64_t ms;       /* wall time of the whole recovery */
    struct shards_key *keys; /* keyed seats of the battles brought back (malloc'ed: the caller
                              * frees it), NULL when none */
    size_t nkeys;
};

/* Runs recovery for n shards whose games are games[0..n) (initialised, not running); now is the
 * shards' loop clock (ms), from which resume windows and turn timers restart. On success
 * returns 0, jn[k] holds shard k's open journal (the caller closes it with journal_close) and
 * *lock the location's claim from be->lock (the caller releases it with be->unlock at exit). On failure returns -1 after logging
 * why (file and offset for damage); nothing is left open and the files are untouched except for a
 * snapshot already written (harmless: a later start reads the same battles from it). res may be
 * NULL. */
int recover_run(const struct shards_persist_opts *po, const store_backend *be, unsigned n,
                struct game *const *games, uint64_t now, journal **jn, store_lock **lock,
                struct recover_result *res);

#endif
