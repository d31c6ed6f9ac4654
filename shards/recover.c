/* recover: persistence at start (see recover.h and journal.h's startup contract). */
#include "shards/recover.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shards/game_int.h"
#include "shards/persist.h"
#include "shards/shard.h"
#include "util/clock.h"
#include "util/log.h"

static void on_warn(void *ctx, const char *msg, const char *file, uint64_t offset, uint64_t battle_id)
{
    (void)ctx;
    log_warn(msg, "file", file, "offset", LOG_U64(offset), "battle", LOG_U64(battle_id));
}

/* ---- rebuilding one battle on its shard ---- */

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
    int i = key[0] ? game_find_ship(g, key) : -1;
    *found = i >= 0;
    return (uint8_t)(i >= 0 ? i : 0);
}

/* An ended battle whose end is journaled comes back for what is left of finished_keep_ms, as it
 * was after battle_finished: nobody in it, its tokens kept, so a seat can resume to read how it
 * ended. */
static void restore_ended(struct game *g, struct game_battle *sb, const struct persist_created *c,
                          const uint8_t ship[2], uint64_t now, uint64_t keep_ms)
{
    for (int s = 0; s < 2; s++) {
        struct game_seat *gs = &sb->seat[s];
        gs->ai = c->ai_seat == s;
        gs->taken = c->has_token[s] || gs->ai;
        gs->ship = ship[s];
        if (c->has_token[s])
            memcpy(gs->token, c->token[s], SHARD_TOKEN_BYTES);
        gs->has_key = c->has_key[s];
        memcpy(gs->key, c->key[s], SHARD_TOKEN_BYTES);
    }
    sb->phase = GAME_ENDED;
    sb->keep_deadline = now + keep_ms;
    g->nended++;
    game_schedule(g, sb);
}

/* Puts back a battle recovered from the journal: at start, before the shard runs, or at runtime on
 * the shard's thread (adopt.c). Nothing is journaled here (the caller writes the records: recovery
 * as the shard's first snapshot, adoption through journal_append) and nothing is sent. A running
 * battle is rebuilt by battle_replay from c->setup and acts[0..n); a waiting one from its
 * creator's seat. Every player seat is away with a fresh resume window (as after a disconnect),
 * the turn timer restarts from now and the server's opponent acts on its next deadline. The engine
 * is not told the seats went away until one of them resumes, so a spectator sees the battle
 * exactly as it was before the restart. Returns 0; 1 when the battle turns out to be over already
 * (nothing restored); -1 with a reason in why when it cannot be rebuilt (an action the engine
 * refuses, an unknown ship for a waiting battle, a duplicate id, no memory). */
static int restore_battle(struct game *g, uint64_t id, const struct persist_created *c,
                          const battle_action *acts, size_t n, uint64_t now, uint64_t keep_ms,
                          char *why, size_t whylen)
{
    g->now = now;
    if (id == 0 || game_lookup(g, id))
        return restore_fail(why, whylen, "battle id 0 or already restored");
    bool found[2] = {false, false};
    uint8_t ship[2] = {0, 0};
    for (int s = 0; s < 2; s++)
        if (c->has_ship[s])
            ship[s] = restore_ship_idx(g, &c->setup.ship[s], &found[s]);
    if (c->phase == PERSIST_WAITING && !found[0])
        return restore_fail(why, whylen, "waiting battle's ship is not in the ship table");
    struct game_battle *sb = game_pool_alloc(g);
    if (!sb)
        return restore_fail(why, whylen, "too many battles on this shard");
    if (btable_put(&g->ids, id, sb->idx) != 0) {
        game_pool_release(g, sb);
        return restore_fail(why, whylen, "out of memory");
    }
    sb->id = id;
    sb->band = c->setup.band;
    sb->created_ms = sb->last_action_ms = now;
    if (c->phase == PERSIST_RUNNING) {
        size_t failed = 0;
        battle_err e = battle_replay(&c->setup, acts, n, &sb->b, &failed);
        if (e != BATTLE_OK) {
            game_pool_release(g, sb);
            snprintf(why, whylen, "replay refused action %zu of %zu: %s", failed, n,
                     battle_err_name(e));
            return -1;
        }
        if (battle_is_over(&sb->b) != (keep_ms > 0)) { /* over, or an end the replay missed */
            game_pool_release(g, sb);
            return 1;
        }
        if (keep_ms) {
            restore_ended(g, sb, c, ship, now, keep_ms);
            return 0;
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
        gs->has_key = c->has_key[s];
        memcpy(gs->key, c->key[s], SHARD_TOKEN_BYTES);
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
        game_arm_turn(g, sb);
        if (c->ai_seat >= 0)
            sb->ai_deadline = now + g->cfg.ai_think_ms;
    }
    game_update_live(g);
    game_schedule(g, sb);
    return 0;
}

/* The MARKs among jb's actions: the last one's split and offset (0 and base when none), and the
 * offset of the last one whose split is below `below` (base when none). */
static void scan_marks(const journal_battle *jb, uint32_t base, uint32_t below, uint32_t *last_split,
                       uint32_t *last_off, uint32_t *before)
{
    *last_split = 0;
    *last_off = *before = base;
    for (size_t i = 0; i < jb->nactions; i++) {
        battle_action a;
        struct persist_mark m;
        if (persist_decode_step(jb->actions[i].payload, jb->actions[i].payload_len, &a, &m) != 1)
            continue;
        *last_split = m.split;
        *last_off = m.off;
        if (m.split < below)
            *before = m.off;
    }
}

/* Numbers a restored battle's next events past anything its earlier lives may have sent (a
 * client may have seen events the journal lost) and says so in out. 0, or -1 when the battle's
 * 32-bit sequence space is used up (or no memory). */
static int renumber(struct game_battle *sb, const struct persist_created *c, const journal_battle *jb,
                    struct recover_restored *out, char *why, size_t whylen)
{
    uint32_t split, off, before;
    out->jb = *jb;
    if (sb->phase == GAME_ENDED) {
        /* Its end is journaled, so nothing after what was recovered was ever sent: it keeps the
         * numbers of its last life. */
        scan_marks(jb, c->seq_base, UINT32_MAX, &split, &off, &before);
        scan_marks(jb, c->seq_base, split, &split, &off, &before);
        sb->seq_split = split;
        sb->seq_off = off;
        sb->seq_off_before = before;
        return 0;
    }
    uint32_t latest = sb->phase == GAME_RUNNING ? battle_last_seq(&sb->b) : 0;
    scan_marks(jb, c->seq_base, latest, &split, &off, &before);
    if ((uint64_t)off + 2ull * PERSIST_SEQ_GAP + latest > UINT32_MAX) {
        snprintf(why, whylen, "its sequence numbers are used up (recovered too often)");
        return -1;
    }
    sb->seq_split = latest;
    sb->seq_off = off + PERSIST_SEQ_GAP;
    sb->seq_off_before = before;
    if (sb->phase == GAME_WAITING) {
        struct persist_created nc = *c;
        nc.seq_base = sb->seq_off;
        size_t len = persist_encode_created(out->buf, sizeof out->buf, &nc);
        if (len == 0) {
            snprintf(why, whylen, "created record does not fit");
            return -1;
        }
        out->jb.created.payload = out->buf;
        out->jb.created.payload_len = len;
        return 0;
    }
    out->recs = malloc((jb->nactions + 1) * sizeof *out->recs);
    if (!out->recs) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (jb->nactions)
        memcpy(out->recs, jb->actions, jb->nactions * sizeof *out->recs);
    struct persist_mark m = {.split = latest, .off = sb->seq_off};
    journal_rec *r = &out->recs[jb->nactions];
    memset(r, 0, sizeof *r);
    r->type = JOURNAL_REC_ACTION;
    r->battle_id = jb->id;
    r->seq = jb->created.seq + 1 + jb->nactions;
    r->payload = out->buf;
    r->payload_len = persist_encode_mark(out->buf, &m);
    out->jb.actions = out->recs;
    out->jb.nactions = jb->nactions + 1;
    sb->jseq = out->jb.nactions;
    return 0;
}

/* How long an ended battle is still to be kept (0: not at all): what is left of finished_keep_ms
 * since its journaled end (wall clock; a clock set back keeps it no longer than the setting). */
static uint64_t ended_keep_ms(const struct game *g, const journal_battle *jb,
                              const struct persist_created *c, uint64_t wall)
{
    uint64_t end_ms;
    if (c->phase != PERSIST_RUNNING ||
        persist_decode_ended(jb->end.payload, jb->end.payload_len, &end_ms) != 0 || end_ms == 0)
        return 0;
    uint64_t until = end_ms + g->cfg.finished_keep_ms;
    if (until <= wall)
        return 0;
    return game_min64(until - wall, g->cfg.finished_keep_ms);
}

int recover_battle(struct game *g, const journal_battle *jb, uint64_t now, uint64_t wall,
                   struct recover_scratch *scr, struct recover_restored *out, char *why,
                   size_t whylen)
{
    battle_action **acts = &scr->acts;
    size_t *acts_cap = &scr->cap;
    out->recs = NULL;
    struct persist_created c;
    if (persist_decode_created(jb->created.payload, jb->created.payload_len, &c, why, whylen) != 0)
        return jb->ended ? 2 : -1;
    uint64_t keep_ms = jb->ended ? ended_keep_ms(g, jb, &c, wall) : 0;
    if (jb->ended && !keep_ms)
        return 2;
    if (c.phase == PERSIST_WAITING && jb->nactions > 0) {
        snprintf(why, whylen, "a waiting battle has actions");
        return -1;
    }
    if (jb->nactions > *acts_cap) {
        size_t cap = jb->nactions * 2;
        battle_action *a = realloc(*acts, cap * sizeof *a);
        if (!a) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        *acts = a;
        *acts_cap = cap;
    }
    size_t na = 0;
    for (size_t i = 0; i < jb->nactions; i++) {
        struct persist_mark m;
        int k = persist_decode_step(jb->actions[i].payload, jb->actions[i].payload_len,
                                    &(*acts)[na], &m);
        if (k < 0) {
            snprintf(why, whylen, "action %zu is malformed", i);
            return jb->ended ? 2 : -1;
        }
        na += k == 0;
    }
    int rc = restore_battle(g, jb->id, &c, *acts, na, now, keep_ms, why, whylen);
    if (rc != 0)
        return jb->ended ? 2 : rc;
    struct game_battle *sb = game_lookup(g, jb->id);
    if (renumber(sb, &c, jb, out, why, whylen) != 0) {
        /* Not damage: the battle is sound but cannot be numbered past its earlier lives. */
        log_warn("journal: battle left out", "battle", LOG_U64(jb->id), "error", why);
        if (sb->phase == GAME_WAITING)
            g->nwaiting--;
        else if (sb->phase == GAME_RUNNING)
            g->nrunning--;
        game_pool_release(g, sb);
        game_update_live(g);
        return 2;
    }
    return 0;
}

/* The keyed seats of the battles kept (owner[i] < n), for the network thread (shards_key). No
 * memory: none (a queue repeated after the restart is then a new entry). */
static void collect_keys(struct game *const *games, unsigned n, const journal_set *set,
                         const unsigned *owner, struct recover_result *r)
{
    size_t nb = journal_set_count(set), cap = 0;
    for (size_t i = 0; i < nb; i++)
        cap += owner[i] < n ? 2 : 0;
    if (!cap || !(r->keys = malloc(cap * sizeof *r->keys)))
        return;
    for (size_t i = 0; i < nb; i++) {
        if (owner[i] >= n)
            continue;
        uint64_t id = journal_set_battle(set, i)->id;
        struct game_battle *sb = game_lookup(games[owner[i]], id);
        for (int s = 0; sb && s < 2; s++) {
            if (!sb->seat[s].has_key)
                continue;
            struct shards_key *k = &r->keys[r->nkeys++];
            memcpy(k->key, sb->seat[s].key, PROTO_TOKEN_LEN);
            k->battle_id = id;
            k->seat = (uint8_t)s;
        }
    }
}

int recover_run(const struct shards_persist_opts *po, const store_backend *be, unsigned n,
                struct game *const *games, uint64_t now, journal **jn, store_lock **lock,
                struct recover_result *res)
{
    uint64_t t0 = clock_mono_ns();
    struct recover_result r;
    memset(&r, 0, sizeof r);
    const char *dir = po->dir;
    for (unsigned k = 0; k < n; k++)
        jn[k] = NULL;
    *lock = NULL;
    /* A file-size limit must fail a write (EFBIG, handled as a full disk), not kill the server. */
    signal(SIGXFSZ, SIG_IGN);
    int rc = be->prepare(dir);
    if (rc != 0) {
        log_error("persistence.dir cannot be created", "dir", dir, "error", strerror(-rc));
        return -1;
    }
    rc = be->lock(dir, lock);
    if (rc != 0) {
        log_error(rc == -EWOULDBLOCK ? "persistence.dir is in use by another battled"
                                     : "persistence.dir cannot be locked",
                  "dir", dir, "error", strerror(-rc));
        return -1;
    }
    journal_load_opts lo = {
        .backend = be, .skip_damaged = po->skip_damaged, .keep_ended = true, .warn = on_warn};
    uint64_t wall = clock_wall_ms();
    journal_set *set = NULL;
    journal_error err;
    if (journal_load(dir, &lo, &set, &err) != 0) {
        log_error("journal cannot be read: not starting (persistence.skip_damaged=true skips damaged "
                  "battles)",
                  "dir", dir, "file", err.file, "offset", LOG_U64(err.offset), "battle",
                  LOG_U64(err.battle_id), "error", err.msg);
        goto fail;
    }
    size_t nb = journal_set_count(set);
    r.battles = nb;
    const journal_battle **mine = malloc((nb ? nb : 1) * sizeof *mine);
    struct recover_restored *outs = calloc(nb ? nb : 1, sizeof *outs);
    size_t *count = calloc(n, sizeof *count);
    unsigned *owner = malloc((nb ? nb : 1) * sizeof *owner);
    struct recover_scratch scr = {NULL, 0};
    bool ok = mine && count && owner && outs;
    if (!ok)
        log_error("recovery: out of memory");
    for (size_t i = 0; ok && i < nb; i++) {
        const journal_battle *jb = journal_set_battle(set, i);
        unsigned k = shard_of(jb->id, n);
        char why[160] = "";
        int rr = recover_battle(games[k], jb, now, wall, &scr, &outs[i], why, sizeof why);
        owner[i] = n; /* not kept */
        if (rr == 0) {
            owner[i] = k;
            count[k]++;
            if (jb->ended) {
                r.ended_kept++;
            } else {
                r.restored++;
                game_stat_add(&games[k]->stats->battles_recovered, 1);
            }
        } else if (rr == 2) {
            /* ended, and past its keep time: gone, as it would be had the server run on */
        } else if (rr == 1) {
            r.over++;
        } else if (po->skip_damaged) {
            r.skipped++;
            log_warn("journal: battle cannot be rebuilt, skipped", "battle", LOG_U64(jb->id),
                     "error", why);
        } else {
            log_error("journal: battle cannot be rebuilt: not starting (persistence.skip_damaged="
                      "true skips it)",
                      "dir", dir, "battle", LOG_U64(jb->id), "error", why);
            ok = false;
        }
    }
    free(scr.acts);
    if (ok)
        collect_keys(games, n, set, owner, &r);
    /* Each shard's share, grouped, then written as its first snapshot. */
    size_t at = 0;
    for (unsigned k = 0; ok && k < n; k++) {
        const journal_battle **part = mine + at;
        size_t m = 0;
        for (size_t i = 0; i < nb; i++)
            if (owner[i] == k)
                part[m++] = &outs[i].jb;
        at += m;
        journal_opts jo = {
            .backend = be,
            .dir = dir,
            .shard = k,
            .first_gen = journal_set_next_gen(set),
            .policy = po->fsync,
            .compact_bytes = po->compact_bytes > 0 ? (uint64_t)po->compact_bytes : 0,
            .warn = on_warn,
        };
        if (journal_open(&jo, part, m, &jn[k], &err) != 0) {
            log_error("journal cannot be opened: not starting", "dir", dir, "shard", LOG_U64(k),
                      "error", err.msg);
            ok = false;
        }
    }
    if (ok && journal_set_retire(set, &err) != 0) {
        log_error("old journal files cannot be deleted: not starting", "dir", dir, "file", err.file,
                  "error", err.msg);
        ok = false;
    }
    journal_load_stats ls = journal_set_stats(set);
    free(mine);
    for (size_t i = 0; outs && i < nb; i++)
        free(outs[i].recs);
    free(outs);
    free(count);
    free(owner);
    journal_set_free(set);
    if (!ok)
        goto fail;
    for (unsigned k = 0; k < n; k++)
        games[k]->jn = jn[k];
    struct shard_stats *st0 = games[0]->stats;
    game_stat_add(&st0->journal_torn_tails, ls.torn_tails);
    game_stat_add(&st0->journal_damaged_regions, ls.damaged_regions);
    game_stat_add(&st0->journal_battles_skipped, r.skipped + ls.skipped_battles);
    r.ms = (clock_mono_ns() - t0) / 1000000;
    log_info("journal recovered", "dir", dir, "battles", LOG_U64(r.restored), "ended_kept",
             LOG_U64(r.ended_kept), "over", LOG_U64(r.over), "skipped", LOG_U64(r.skipped + ls.skipped_battles), "files",
             LOG_U64(ls.files), "records", LOG_U64(ls.records), "bytes", LOG_U64(ls.bytes),
             "torn_tails", LOG_U64(ls.torn_tails), "ms", LOG_U64(r.ms), "fsync",
             journal_sync_policy_name(po->fsync));
    if (res)
        *res = r;
    else
        free(r.keys);
    return 0;

fail:
    free(r.keys);
    for (unsigned k = 0; k < n; k++) {
        if (jn[k])
            journal_close(jn[k]);
        jn[k] = NULL;
        games[k]->jn = NULL;
    }
    be->unlock(*lock);
    *lock = NULL;
    return -1;
}
