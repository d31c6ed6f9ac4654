/* recover: persistence at start (shards_start calls it before any shard thread runs): lock the
 * journal location, load every journal, rebuild each unfinished battle on the shard that owns it now,
 * open each shard's journal with its battles as the first snapshot, and retire the old files. */
#ifndef BATTLED_SHARDS_RECOVER_H
#define BATTLED_SHARDS_RECOVER_H

#include <stdint.h>

#include "shards/game.h"
#include "shards/persist.h"
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

/* ---- one battle (start-up recovery and runtime adoption, shards/adopt.c, share it) ---- */

/* Scratch for decoding a battle's actions, reused across battles; the caller frees acts. */
struct recover_scratch {
    battle_action *acts;
    size_t cap;
};

/* What a restored battle is written back as: its records as read, plus the new numbering
 * (persist.h): a MARK after the actions of a running battle, or a CREATED with the new seq base for
 * a waiting one. jb's payloads point into the journal_set it came from or into buf, so the struct
 * must not be copied while jb is in use. The caller frees recs. */
struct recover_restored {
    journal_battle jb;
    journal_rec *recs; /* jb.actions when a MARK was added (owned), else NULL */
    uint8_t buf[PERSIST_CREATED_MAX];
};

/* Decodes one journaled battle and puts it on g (on g's own thread, or before it runs), numbered
 * past its earlier lives: every player seat away with a fresh resume window from now (g's loop
 * clock), the turn timer restarted; wall (ms since 1970) is what journaled end times are read
 * against. Counts nothing in g's stats. Returns 0 restored (out filled: the records to write), 1
 * found over on replay (nothing restored), 2 left out (ended and past finished_keep_ms, or no
 * longer readable though ended; or its sequence numbers are used up, logged), -1 cannot be rebuilt
 * (why says why: an action the engine refuses, an unknown ship, an id already on g, no memory). */
int recover_battle(struct game *g, const journal_battle *jb, uint64_t now, uint64_t wall,
                   struct recover_scratch *scr, struct recover_restored *out, char *why,
                   size_t whylen);

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
