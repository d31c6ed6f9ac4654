/* shards: the shard threads, their loops and rings, and the network thread's side of the API
 * (see shard.h). Game logic lives in game.c; this file only moves messages and time.
 *
 * One loop pass of a shard:
 *   async callback   drains up to SHARD_INBOX_BUDGET inbox messages into game_handle, re-signalling
 *                    itself when it stops on the budget;
 *   timer callback   runs due battle deadlines (game_tick);
 *   check callback   (after every poll) writes the pass's journal records (persistence), flushes
 *                    the outbox backlog, re-arms the timer to the earliest deadline, tells the net
 *                    thread about a drained-after-full inbox, and wakes the net thread once if
 *                    anything was committed: fence, then wake_net.
 *
 * Running a sleeping shard's messages on the network thread (opts.inline_max, server.inline_max):
 * at human pace nearly every request finds its shard asleep, and on a virtual machine the two
 * wakeups of the round trip (net -> shard, shard -> net) cost more CPU than the request's own
 * work. So a shard's battles belong to whichever thread holds the shard's `run` lock: the shard
 * thread takes it at the start of any callback and gives it back in its prepare callback, just
 * before its loop blocks; the network thread, at the end of its pass, try-locks a dirty shard and,
 * when it gets the lock and the pass has at most inline_max messages for shards, handles them
 * itself with game_handle and drains the replies in the same pass (shards_run_inline). Nothing in
 * game/ or the rings changes: one thread at a time still owns the shard, and the lock orders the
 * hand-overs. Whatever needs the shard's own loop (re-arming its timer earlier, parked output, a
 * stop) makes the inline run leave the shard marked, and shards_flush wakes it as before. A shard
 * that journals runs inline only while its journal's flush is quick (journal_flush_is_quick:
 * local files, fsync everysec or no, not degraded, no output held for an earlier pass, no
 * adoption under way): the network thread then writes the pass's records itself (one write(2);
 * the everysec fsync is the sync thread's) before the output leaves, as the shard's pass_end
 * does. Under fsync=always or the Redis backend the flush syncs or waits for an acknowledgement:
 * not on the network thread, so those shards are woken as before.
 *
 * Journal before output: while a shard journals, its outbound ring slots are filled but held back
 * (ring reserve_at / commit_n) until the pass's records are durable, so no event leaves before the
 * record of the action that made it is written (and, under fsync=always, synced, or acknowledged
 * by Redis). One write per pass carries all the pass's records (group commit). For local files
 * that is when journal_flush returns, at the end of the same pass. The Redis backend under
 * "always" acknowledges later, from its own thread, so the shard never blocks on it: each pass's
 * held slots become a group tagged with the journal position they wait for, and a later pass (the
 * backend's notify wakes the loop) publishes every group the acknowledgement covers, in order. */
#include "shards/shards.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "shards/adopt.h"
#include "shards/game.h"
#include "journal/journal.h"
#include "shards/outbox.h"
#include "shards/recover.h"
#include "shards/ring.h"
#include "util/clock.h"
#include "util/log.h"

#define SHARD_INBOX_BUDGET 1024  /* inbox messages per async callback before yielding the loop */
#define SHARD_BACKLOG_RETRY_MS 1 /* retry interval while output is parked */
#define SHARD_OS_NAME_MAX 16     /* pthread_setname_np's limit, NUL included */
#define SHARD_HELD_GROUPS 64     /* passes whose output waits for the journal at once; more merge */

struct shard;
static void on_retry(uv_timer_t *t);

RING_DEFINE(shard_inring, shard_in)
RING_DEFINE(shard_outring, shard_out)

struct shard {
    unsigned idx;
    struct shards *owner;
    pthread_t thread;
    bool thread_started;
    uv_loop_t loop;
    uv_async_t wake;   /* inbox has messages */
    uv_timer_t timer;  /* earliest battle deadline */
    uv_timer_t retry;  /* parked output */
    uv_check_t check;  /* end of each loop pass */
    uv_prepare_t prep; /* just before the loop blocks: gives the run lock back */
    uv_timer_t jretry; /* while the journal is degraded: a pass at least every JOURNAL_RETRY_MS */
    uint64_t timer_due; /* deadline the timer is armed for, GAME_NO_DEADLINE = stopped */
    bool stopping;
    bool closed; /* handles closed: the loop is ending */

    struct shard_inring inbox;
    struct shard_outring outbox;
    struct outbox out;
    struct game *game;
    journal *jn;   /* persistence: this shard's journal, else NULL */
    unsigned held; /* outbound slots filled but not yet published (journal before output) */
    unsigned grouped; /* of them, those already in a group below */
    struct {
        uint64_t pos; /* journal_written_pos its records end at */
        unsigned n;   /* outbound slots */
    } hg[SHARD_HELD_GROUPS]; /* circular, oldest at hg_head */
    unsigned hg_head, hg_count;
    bool inbox_paused; /* inbox left unread until the outbox backlog drains */
    uint64_t last_now; /* latest clock given to the game (ms): both threads that run it use it */

    /* Held by whichever thread runs this shard's battles: its own thread from the first callback
     * of a loop pass to the prepare callback, or the network thread during shards_run_inline. */
    pthread_mutex_t run;
    bool run_init;
    bool run_held; /* shard thread side: it holds `run` */

    /* Adoption (shards_adopt): this shard's part, under owner->adopt_mu; adopt_flag lets a pass
     * skip the mutex while there is nothing to do. adopt_pos: shard thread only. */
    _Atomic bool adopt_flag;
    uint8_t adopt_st; /* enum adopt_state */
    uint64_t adopt_pos; /* journal position its records end at (ADOPT_WAITING) */

    _Atomic bool inbox_blocked; /* net found the inbox full and waits for room */
    _Atomic bool exited;        /* the thread left its loop */
    bool dirty;                 /* net side: pushed since the last flush */

    struct shard_stats stats;
};

struct shards {
    unsigned n;
    struct shards_opts opts; /* a copy; opts.persistence's strings only valid in shards_start */
    const store_backend *be; /* persistence.backend's operations, NULL when off */
    store_lock *lock;        /* the journal location's claim (persistence), NULL when none */
    struct shard *shard; /* n of them, cache-line aligned */
    struct shards_key *keys; /* keyed seats of the recovered battles (recover_result.keys) */
    size_t nkeys;

    /* Adoption hand-off (shards_adopt). The caller's thread may not push into an inbox (the
     * network thread is their only producer), so the job is one shared slot: the set and the sum
     * of the results, under adopt_mu, plus one state per shard (shard.adopt_st); the caller wakes
     * each shard's loop with uv_async_send and waits on adopt_cv. Bounded: one job at a time
     * (adopt_call), nothing queued. */
    pthread_mutex_t adopt_call; /* serialises shards_adopt calls */
    pthread_mutex_t adopt_mu;
    pthread_cond_t adopt_cv;    /* CLOCK_MONOTONIC; a shard changed state */
    bool adopt_init;
    const journal_set *adopt_set; /* the caller's; read only by shards in ADOPT_RUNNING */
    struct shards_adopt_result adopt_res;
    int adopt_err;        /* first error a shard met (-errno), 0 */
    unsigned adopt_busy;  /* shards in ADOPT_RUNNING: the set is in use */
    unsigned adopt_left;  /* shards not yet ADOPT_DONE */
};

/* A shard's part of an adoption: PENDING (handed over) -> RUNNING (reading the set, outside the
 * mutex) -> WAITING (records appended, until durable) -> DONE. A caller that times out takes back
 * what is not DONE (IDLE), after waiting for any RUNNING shard to leave the set. */
enum adopt_state { ADOPT_IDLE = 0, ADOPT_PENDING, ADOPT_RUNNING, ADOPT_WAITING, ADOPT_DONE };

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static struct shard_out *out_reserve(void *arg)
{
    struct shard *sh = arg;
    return sh->jn ? shard_outring_reserve_at(&sh->outbox, sh->held) : shard_outring_reserve(&sh->outbox);
}

static void out_commit(void *arg)
{
    struct shard *sh = arg;
    if (sh->jn)
        sh->held++;
    else
        shard_outring_commit(&sh->outbox);
}

/* Writes the pass's journal records, then lets its output go. */
static void pass_journal(struct shard *sh)
{
    journal_flush(sh->jn); /* a failure is logged and counted by the journal, and shows below */
    bool degraded = journal_degraded(sh->jn, NULL);
    sh->game->refuse_new = degraded;
    journal_stats js = journal_get_stats(sh->jn);
    struct shard_stats *st = &sh->stats;
    atomic_store_explicit(&st->journal_degraded, degraded, memory_order_relaxed);
    atomic_store_explicit(&st->journal_records, js.records, memory_order_relaxed);
    atomic_store_explicit(&st->journal_bytes, js.bytes, memory_order_relaxed);
    atomic_store_explicit(&st->journal_syncs, js.syncs, memory_order_relaxed);
    atomic_store_explicit(&st->journal_write_errors, js.write_errors, memory_order_relaxed);
    atomic_store_explicit(&st->journal_sync_errors, js.sync_errors, memory_order_relaxed);
    atomic_store_explicit(&st->journal_records_dropped, js.records_dropped, memory_order_relaxed);
    atomic_store_explicit(&st->journal_compactions, js.compactions, memory_order_relaxed);
    atomic_store_explicit(&st->journal_compaction_errors, js.compaction_errors,
                          memory_order_relaxed);
    atomic_store_explicit(&st->journal_buffer_full_writes, js.buffer_full_writes,
                          memory_order_relaxed);
    atomic_store_explicit(&st->journal_queued_bytes, js.pending_bytes + js.unacked_bytes,
                          memory_order_relaxed);
}

/* A pass at least every JOURNAL_RETRY_MS while the journal is degraded (its writes are retried)
 * or output or an adoption waits for it (a backend that turns slow changes its state without an
 * event). */
static void arm_jretry(struct shard *sh)
{
    bool need = sh->hg_count > 0 || journal_degraded(sh->jn, NULL) ||
                atomic_load_explicit(&sh->adopt_flag, memory_order_relaxed);
    if (need && !uv_is_active((uv_handle_t *)&sh->jretry))
        uv_timer_start(&sh->jretry, on_retry, JOURNAL_RETRY_MS, JOURNAL_RETRY_MS);
    else if (!need && uv_is_active((uv_handle_t *)&sh->jretry))
        uv_timer_stop(&sh->jretry);
}

static unsigned low_free(const struct shard *sh)
{
    return shard_inring_capacity(&sh->inbox) / SHARD_INBOX_LOW_FREE_DIV;
}

/* ---- shard thread ----------------------------------------------------------------------------- */

/* Every callback of the shard thread that touches the shard starts with this: the network thread
 * may be running the shard's battles (shards_run_inline) and the shard waits for it to finish. */
static void hold(struct shard *sh)
{
    if (!sh->run_held) {
        pthread_mutex_lock(&sh->run);
        sh->run_held = true;
    }
}

static void release(struct shard *sh)
{
    if (sh->run_held) {
        sh->run_held = false;
        pthread_mutex_unlock(&sh->run);
    }
}

/* The game's clock for this pass: the loop's time, never behind a time the other thread already
 * gave the game (the two loops update their clocks at different moments). Under `run`. */
static uint64_t shard_now(struct shard *sh, uint64_t loop_now)
{
    if (loop_now > sh->last_now)
        sh->last_now = loop_now;
    return sh->last_now;
}

static void on_timer(uv_timer_t *t);

static void arm_timer(struct shard *sh)
{
    uint64_t d = sh->stopping ? GAME_NO_DEADLINE : game_next_deadline(sh->game);
    if (d == sh->timer_due)
        return;
    sh->timer_due = d;
    if (d == GAME_NO_DEADLINE) {
        uv_timer_stop(&sh->timer);
        return;
    }
    uint64_t now = uv_now(&sh->loop);
    uv_timer_start(&sh->timer, on_timer, d > now ? d - now : 0, 0);
}

static void close_all(struct shard *sh)
{
    if (sh->jn)
        journal_set_notify(sh->jn, NULL, NULL); /* before the handle it signals goes */
    uv_close((uv_handle_t *)&sh->wake, NULL);
    uv_close((uv_handle_t *)&sh->timer, NULL);
    uv_close((uv_handle_t *)&sh->retry, NULL);
    uv_close((uv_handle_t *)&sh->check, NULL);
    uv_close((uv_handle_t *)&sh->prep, NULL);
    uv_close((uv_handle_t *)&sh->jretry, NULL);
}

/* Publishes the held output whose records are durable; true when it published any. */
static bool release_held(struct shard *sh)
{
    if (sh->held > sh->grouped) {
        uint64_t pos = journal_written_pos(sh->jn);
        unsigned n = sh->held - sh->grouped;
        unsigned last = (sh->hg_head + sh->hg_count - 1) % SHARD_HELD_GROUPS;
        if (sh->hg_count > 0 && (sh->hg_count == SHARD_HELD_GROUPS || sh->hg[last].pos == pos)) {
            /* Merged into the newest group: it waits for a later position, never an earlier. */
            sh->hg[last].pos = pos;
            sh->hg[last].n += n;
        } else {
            unsigned at = (sh->hg_head + sh->hg_count) % SHARD_HELD_GROUPS;
            sh->hg[at].pos = pos;
            sh->hg[at].n = n;
            sh->hg_count++;
        }
        sh->grouped = sh->held;
    }
    uint64_t durable = journal_durable_pos(sh->jn);
    unsigned n = 0;
    while (sh->hg_count > 0 && sh->hg[sh->hg_head].pos <= durable) {
        n += sh->hg[sh->hg_head].n;
        sh->hg_head = (sh->hg_head + 1) % SHARD_HELD_GROUPS;
        sh->hg_count--;
    }
    if (n == 0)
        return false;
    shard_outring_commit_n(&sh->outbox, n);
    sh->held -= n;
    sh->grouped -= n;
    return true;
}

/* ---- adoption, shard side (see shards_adopt) ---- */

static void adopt_done(struct shards *s, struct shard *sh, int err)
{
    if (err != 0 && s->adopt_err == 0)
        s->adopt_err = err;
    sh->adopt_st = ADOPT_DONE;
    s->adopt_left--;
    atomic_store_explicit(&sh->adopt_flag, false, memory_order_relaxed);
    pthread_cond_broadcast(&s->adopt_cv);
}

/* Before the pass's journal flush: a job handed over is done now, so its records go out with the
 * pass's. */
static void adopt_take(struct shard *sh)
{
    struct shards *s = sh->owner;
    pthread_mutex_lock(&s->adopt_mu);
    if (sh->adopt_st != ADOPT_PENDING) {
        pthread_mutex_unlock(&s->adopt_mu);
        return;
    }
    sh->adopt_st = ADOPT_RUNNING;
    s->adopt_busy++;
    const journal_set *set = s->adopt_set;
    pthread_mutex_unlock(&s->adopt_mu);

    struct shards_adopt_result r = {0, 0, 0, 0, 0};
    int err = adopt_battles(sh->game, set, sh->idx, s->n, shard_now(sh, uv_now(&sh->loop)), &r);
    /* Every byte appended is written in order: the records end at most here. */
    if (sh->jn)
        sh->adopt_pos = journal_written_pos(sh->jn) + journal_get_stats(sh->jn).pending_bytes;

    pthread_mutex_lock(&s->adopt_mu);
    s->adopt_res.adopted += r.adopted;
    s->adopt_res.ended_kept += r.ended_kept;
    s->adopt_res.duplicates += r.duplicates;
    s->adopt_res.over += r.over;
    s->adopt_res.failed += r.failed;
    if (err != 0 && s->adopt_err == 0)
        s->adopt_err = err;
    s->adopt_busy--;
    sh->adopt_st = ADOPT_WAITING; /* a caller that timed out waited for this (adopt_busy) */
    pthread_cond_broadcast(&s->adopt_cv);
    pthread_mutex_unlock(&s->adopt_mu);
}

/* After the pass's journal flush: done once the records are durable (the Redis backend's notify
 * wakes the loop for that, and arm_jretry keeps a pass a second while the flag is up). */
static void adopt_check(struct shard *sh)
{
    struct shards *s = sh->owner;
    pthread_mutex_lock(&s->adopt_mu);
    if (sh->adopt_st == ADOPT_WAITING) {
        uint64_t durable = sh->jn ? journal_durable_pos(sh->jn) : UINT64_C(0);
        if (!sh->jn)
            adopt_done(s, sh, 0);
        else if (durable == UINT64_MAX) /* the journal stopped for good: not persisted */
            adopt_done(s, sh, -EIO);
        else if (durable >= sh->adopt_pos)
            adopt_done(s, sh, 0);
    }
    pthread_mutex_unlock(&s->adopt_mu);
}

/* End of a unit of work: park or publish output, wake the net thread once, re-arm the timer. Runs
 * from the check phase (after inbox callbacks) and at the end of timer callbacks, because a timer
 * runs before the poll and its output must not wait for the next event. */
static void pass_end(struct shard *sh)
{
    if (sh->closed)
        return;
    bool adopting = atomic_load_explicit(&sh->adopt_flag, memory_order_acquire);
    if (adopting)
        adopt_take(sh);
    if (sh->jn)
        pass_journal(sh);
    if (adopting)
        adopt_check(sh);
    outbox_flush(&sh->out);
    bool released = sh->held && release_held(sh);
    if (sh->jn)
        arm_jretry(sh);
    if (outbox_pending(&sh->out)) {
        if (!uv_is_active((uv_handle_t *)&sh->retry))
            uv_timer_start(&sh->retry, on_retry, SHARD_BACKLOG_RETRY_MS, SHARD_BACKLOG_RETRY_MS);
    } else {
        if (uv_is_active((uv_handle_t *)&sh->retry))
            uv_timer_stop(&sh->retry);
        if (sh->inbox_paused) {
            /* Output drained: take input again (the inbox may have filled meanwhile). */
            sh->inbox_paused = false;
            uv_async_send(&sh->wake);
        }
    }
    bool wake = outbox_take_committed(&sh->out) || released;
    /* Pairs with shards_push: it sets the flag and then looks at the ring again, we freed slots
     * and then look at the flag; with a full fence on each side one of us sees the other. */
    ring_fence();
    if (atomic_load_explicit(&sh->inbox_blocked, memory_order_seq_cst) &&
        shard_inring_capacity(&sh->inbox) - shard_inring_count(&sh->inbox) >= low_free(sh)) {
        atomic_store_explicit(&sh->inbox_blocked, false, memory_order_relaxed);
        wake = true; /* the net thread resumes reading on its next pass */
    }
    if (wake && sh->owner->opts.wake_net) {
        ring_fence();
        sh->owner->opts.wake_net(sh->owner->opts.wake_arg);
        stat_add(&sh->stats.net_wakes, 1);
    }
    if (sh->stopping) {
        /* Output that did not fit is dropped: the net thread is shutting down too. */
        sh->closed = true;
        close_all(sh);
        return;
    }
    arm_timer(sh);
}

static void on_timer(uv_timer_t *t)
{
    struct shard *sh = t->data;
    hold(sh);
    uint64_t now = shard_now(sh, uv_now(&sh->loop));
    if (sh->timer_due != GAME_NO_DEADLINE && now > sh->timer_due) {
        uint64_t lag_us = (now - sh->timer_due) * 1000;
        if (lag_us > atomic_load_explicit(&sh->stats.loop_lag_us_max, memory_order_relaxed))
            atomic_store_explicit(&sh->stats.loop_lag_us_max, lag_us, memory_order_relaxed);
    }
    sh->timer_due = GAME_NO_DEADLINE;
    game_tick(sh->game, now);
    pass_end(sh);
}

static void on_wake(uv_async_t *a)
{
    struct shard *sh = a->data;
    hold(sh);
    stat_add(&sh->stats.wakeups, 1);
    uint64_t now = shard_now(sh, uv_now(&sh->loop));
    unsigned n = 0;
    struct shard_in m;
    while (n < SHARD_INBOX_BUDGET) {
        /* Output parked means the net thread is behind: taking more input would only grow the
         * backlog toward drop-and-close. Leave it in the inbox; pass_end resumes us once the
         * backlog is gone. A stopping shard drains regardless (its output is dropped). */
        if (!sh->stopping && outbox_pending(&sh->out)) {
            if (!sh->inbox_paused) {
                sh->inbox_paused = true;
                stat_add(&sh->stats.inbox_pauses, 1);
            }
            break;
        }
        if (!shard_inring_pop(&sh->inbox, &m))
            break;
        n++;
        if (m.kind == SHARD_IN_STOP) {
            sh->stopping = true;
            continue;
        }
        if (!sh->stopping)
            game_handle(sh->game, &m, now);
    }
    stat_add(&sh->stats.inbox_msgs, n);
    if (n == SHARD_INBOX_BUDGET && !sh->inbox_paused)
        uv_async_send(&sh->wake); /* libuv cleared the pending flag before calling us */
}

static void on_retry(uv_timer_t *t)
{
    hold(t->data);
    pass_end(t->data);
}

static void on_check(uv_check_t *c)
{
    hold(c->data);
    pass_end(c->data);
}

static void on_prep(uv_prepare_t *p)
{
    release(p->data);
}

static void *shard_main(void *arg)
{
    struct shard *sh = arg;
    char name[LOG_THREAD_NAME_MAX];
    snprintf(name, sizeof name, "shard-%u", sh->idx);
    log_set_thread_name(name);
    /* The OS name too, so top -H and bench/cpu_ab.py can tell the threads apart. */
    char os_name[SHARD_OS_NAME_MAX];
    snprintf(os_name, sizeof os_name, "battled-shard%u", sh->idx);
    pthread_setname_np(pthread_self(), os_name);
    uv_run(&sh->loop, UV_RUN_DEFAULT);
    release(sh);
    atomic_store_explicit(&sh->exited, true, memory_order_release);
    return NULL;
}

/* ---- setup ------------------------------------------------------------------------------------ */

unsigned shards_count_for(int64_t requested, long ncpu)
{
    int64_t n = requested;
    if (n <= 0)
        n = ncpu > 1 ? ncpu - 1 : 1;
    return n > SHARD_MAX_SHARDS ? SHARD_MAX_SHARDS : (unsigned)n;
}

static uint32_t clamp_u32(int64_t v)
{
    return v < 0 ? 0 : (v > UINT32_MAX ? UINT32_MAX : (uint32_t)v);
}

static int shard_init(struct shards *s, struct shard *sh, unsigned idx, unsigned slots)
{
    sh->idx = idx;
    sh->owner = s;
    sh->timer_due = GAME_NO_DEADLINE;
    atomic_init(&sh->inbox_blocked, false);
    atomic_init(&sh->adopt_flag, false);
    atomic_init(&sh->exited, false);
    if (pthread_mutex_init(&sh->run, NULL) != 0)
        return -1;
    sh->run_init = true;
    if (shard_inring_init(&sh->inbox, slots) != 0 || shard_outring_init(&sh->outbox, slots) != 0)
        return -1;
    outbox_init(&sh->out, out_reserve, out_commit, sh, &sh->stats);
    sh->game = malloc(sizeof *sh->game);
    if (!sh->game)
        return -1;
    const struct shards_game_opts *c = &s->opts.game;
    struct game_cfg gc = {
        .turn_timer_ms = clamp_u32(c->turn_timer_ms),
        .resume_window_ms = clamp_u32(c->resume_window_ms),
        .idle_battle_ms = clamp_u32(c->idle_battle_ms),
        .finished_keep_ms = clamp_u32(c->finished_keep_ms),
        .ai_think_ms = clamp_u32(c->ai_think_ms),
        .max_spectators = clamp_u32(c->max_spectators),
        .round_limit = (uint16_t)(c->round_limit < 0 ? 0
                                  : c->round_limit > BATTLE_MAX_ROUND_LIMIT ? BATTLE_MAX_ROUND_LIMIT
                                                                            : c->round_limit),
        .ships = s->opts.ships,
    };
    if (game_init(sh->game, &gc, &sh->out, &sh->stats) != 0) {
        free(sh->game);
        sh->game = NULL;
        return -1;
    }
    if (uv_loop_init(&sh->loop) != 0) {
        game_free(sh->game);
        free(sh->game);
        sh->game = NULL;
        return -1;
    }
    uv_async_init(&sh->loop, &sh->wake, on_wake);
    uv_timer_init(&sh->loop, &sh->timer);
    uv_timer_init(&sh->loop, &sh->retry);
    uv_check_init(&sh->loop, &sh->check);
    uv_prepare_init(&sh->loop, &sh->prep);
    uv_timer_init(&sh->loop, &sh->jretry);
    sh->wake.data = sh->timer.data = sh->retry.data = sh->check.data = sh->jretry.data = sh;
    sh->prep.data = sh;
    uv_check_start(&sh->check, on_check);
    uv_unref((uv_handle_t *)&sh->check);
    uv_prepare_start(&sh->prep, on_prep);
    uv_unref((uv_handle_t *)&sh->prep);
    return 0;
}

static void shard_destroy(struct shard *sh)
{
    if (sh->game) {
        /* Handles are closed by the thread; a shard that never ran closes them here. */
        if (!sh->thread_started) {
            close_all(sh);
            uv_run(&sh->loop, UV_RUN_DEFAULT);
        }
        uv_loop_close(&sh->loop);
        if (sh->jn) {
            sh->game->jn = NULL;
            int rc = journal_close(sh->jn);
            if (rc != 0)
                log_error("journal: final flush failed", "shard", LOG_U64(sh->idx), "error",
                          strerror(-rc));
            sh->jn = NULL;
        }
        game_free(sh->game);
        free(sh->game);
        sh->game = NULL;
    }
    struct shard_out m;
    if (sh->outbox.buf)
        while (shard_outring_pop(&sh->outbox, &m))
            if (m.kind == SHARD_OUT_SEND_HEAP)
                free(m.u.heap.ptr);
    outbox_free(&sh->out);
    if (sh->run_init)
        pthread_mutex_destroy(&sh->run);
    shard_inring_destroy(&sh->inbox);
    shard_outring_destroy(&sh->outbox);
}

/* The adoption hand-off's mutexes and condition (CLOCK_MONOTONIC, for shards_adopt's timeout). */
static int adopt_init(struct shards *s)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0 && (rc = pthread_cond_init(&s->adopt_cv, &ca)) == 0) {
        pthread_mutex_init(&s->adopt_mu, NULL);
        pthread_mutex_init(&s->adopt_call, NULL);
        s->adopt_init = true;
    }
    pthread_condattr_destroy(&ca);
    return rc == 0 ? 0 : -1;
}

static void adopt_fini(struct shards *s)
{
    if (!s->adopt_init)
        return;
    pthread_mutex_destroy(&s->adopt_call);
    pthread_mutex_destroy(&s->adopt_mu);
    pthread_cond_destroy(&s->adopt_cv);
    s->adopt_init = false;
}

static void destroy_all(struct shards *s)
{
    for (unsigned i = 0; i < s->n; i++)
        shard_destroy(&s->shard[i]);
    if (s->lock)
        s->be->unlock(s->lock);
    free(s->shard);
    free(s->keys);
    adopt_fini(s);
    free(s);
}

/* Recovery and journals (shards/recover.h), before any shard thread runs. */
/* The journal's notify: its backend acknowledged records (or changed state) from its own thread;
 * a pass of this shard's loop publishes what waited for them. */
static void wake_shard(void *arg)
{
    struct shard *sh = arg;
    uv_async_send(&sh->wake);
}

static int persist_start(struct shards *s)
{
    struct game **games = malloc(s->n * sizeof *games);
    journal **jn = malloc(s->n * sizeof *jn);
    int rc = -1;
    if (games && jn) {
        for (unsigned i = 0; i < s->n; i++)
            games[i] = s->shard[i].game;
        uv_update_time(&s->shard[0].loop);
        struct recover_result res;
        rc = recover_run(&s->opts.persistence, s->be, s->n, games, uv_now(&s->shard[0].loop), jn,
                         &s->lock, &res);
        if (rc == 0) {
            s->keys = res.keys;
            s->nkeys = res.nkeys;
        }
        for (unsigned i = 0; rc == 0 && i < s->n; i++) {
            s->shard[i].jn = jn[i];
            journal_set_notify(jn[i], wake_shard, &s->shard[i]);
        }
    }
    free(games);
    free(jn);
    return rc;
}

struct shards *shards_start(const struct shards_opts *opts)
{
    if (!opts || !opts->ships) {
        log_error("shards_start needs options and a ship table");
        return NULL;
    }
    unsigned slots = (unsigned)opts->ring_slots;
    if (!ring_slots_ok(slots)) {
        log_error("server.ring_slots must be a power of two", "value", LOG_I64(opts->ring_slots));
        return NULL;
    }
    const store_backend *be = NULL;
    if (opts->persistence.enabled && !(be = store_backend_find(opts->persistence.backend))) {
        log_error("persistence.backend is unknown", "backend", opts->persistence.backend);
        return NULL;
    }
    struct shards *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->opts = *opts;
    s->be = be;
    unsigned n = shards_count_for(opts->shards, sysconf(_SC_NPROCESSORS_ONLN));
    s->shard = aligned_alloc(64, ((n * sizeof *s->shard + 63) / 64) * 64);
    if (!s->shard || adopt_init(s) != 0) {
        free(s->shard);
        adopt_fini(s);
        free(s);
        return NULL;
    }
    memset(s->shard, 0, n * sizeof *s->shard);
    for (unsigned i = 0; i < n; i++) {
        s->n = i + 1;
        if (shard_init(s, &s->shard[i], i, slots) != 0) {
            log_error("shard setup failed", "shard", LOG_U64(i));
            destroy_all(s);
            return NULL;
        }
    }
    if (opts->persistence.enabled && persist_start(s) != 0) {
        destroy_all(s);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&s->shard[i].thread, NULL, shard_main, &s->shard[i]) != 0) {
            log_error("cannot start shard thread", "shard", LOG_U64(i));
            for (unsigned k = 0; k < i; k++) {
                struct shard_in stop = {.kind = SHARD_IN_STOP};
                while (!shard_inring_push(&s->shard[k].inbox, &stop))
                    sched_yield();
                ring_fence();
                uv_async_send(&s->shard[k].wake);
                pthread_join(s->shard[k].thread, NULL);
            }
            destroy_all(s);
            return NULL;
        }
        s->shard[i].thread_started = true;
    }
    log_info("shards started", "shards", LOG_U64(n), "ring_slots", LOG_U64(slots));
    return s;
}

unsigned shards_count(const struct shards *s)
{
    return s->n;
}

/* ---- network thread side ---------------------------------------------------------------------- */

bool shards_push(struct shards *s, unsigned shard, const struct shard_in *msg)
{
    struct shard *sh = &s->shard[shard];
    sh->dirty = true; /* on failure too: what is queued still needs its wake */
    if (shard_inring_push(&sh->inbox, msg))
        return true;
    /* Announce that we wait for room, then look again: the shard may have drained the ring
     * after our first look but before it could see the flag (see pass_end). */
    atomic_store_explicit(&sh->inbox_blocked, true, memory_order_seq_cst);
    ring_fence();
    if (shard_inring_push(&sh->inbox, msg))
        return true; /* the flag stays set: at worst one extra wake */
    stat_add(&sh->stats.inbox_full, 1);
    return false;
}

unsigned shards_inbox_free(const struct shards *s, unsigned shard)
{
    const struct shard *sh = &s->shard[shard];
    return shard_inring_capacity(&sh->inbox) - shard_inring_count(&sh->inbox);
}

bool shards_inbox_ready(const struct shards *s, unsigned shard)
{
    return shards_inbox_free(s, shard) >= low_free(&s->shard[shard]);
}

unsigned shards_flush(struct shards *s)
{
    bool fenced = false;
    unsigned woke = 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct shard *sh = &s->shard[i];
        if (!sh->dirty)
            continue;
        if (!fenced) {
            ring_fence();
            fenced = true;
        }
        sh->dirty = false;
        uv_async_send(&sh->wake);
        woke++;
    }
    return woke;
}

/* Runs a dirty shard's inbox on the calling thread if its own thread is not running it. Returns
 * true when the shard was run (its output is in the outbox); sh->dirty stays set when the shard
 * thread must still be woken (busy, or something only its loop can do). */
static bool run_inline(struct shard *sh, uint64_t now)
{
    if (atomic_load_explicit(&sh->inbox_blocked, memory_order_relaxed) ||
        atomic_load_explicit(&sh->adopt_flag, memory_order_acquire))
        return false;
    if (pthread_mutex_trylock(&sh->run) != 0) {
        stat_add(&sh->stats.inline_busy, 1);
        return false;
    }
    if (sh->stopping || sh->inbox_paused || outbox_pending(&sh->out) ||
        (sh->jn && (sh->held > 0 || sh->hg_count > 0 || !journal_flush_is_quick(sh->jn)))) {
        pthread_mutex_unlock(&sh->run);
        return false;
    }
    now = shard_now(sh, now);
    unsigned n = 0;
    struct shard_in m;
    while (shard_inring_pop(&sh->inbox, &m)) {
        n++;
        if (m.kind == SHARD_IN_STOP) {
            sh->stopping = true; /* the shard thread closes its loop in its pass_end */
            break;
        }
        game_handle(sh->game, &m, now);
    }
    stat_add(&sh->stats.inbox_msgs, n);
    stat_add(&sh->stats.inline_runs, 1);
    stat_add(&sh->stats.inline_msgs, n);
    if (sh->jn)
        pass_journal(sh); /* the records first: the output below waits for them */
    outbox_flush(&sh->out);
    if (sh->held)
        release_held(sh);
    (void)outbox_take_committed(&sh->out); /* the caller drains the outbox itself */
    /* The shard thread's loop must run when: its timer is armed later than the earliest deadline
     * now is, output was parked (its retry timer) or is still held (the journal turned slow or
     * degraded: its retry timer), or a stop arrived. */
    bool wake = sh->stopping || outbox_pending(&sh->out) || sh->held > 0 ||
                (sh->jn && journal_degraded(sh->jn, NULL)) ||
                game_next_deadline(sh->game) < sh->timer_due;
    pthread_mutex_unlock(&sh->run);
    if (wake)
        stat_add(&sh->stats.inline_wakes, 1);
    else
        sh->dirty = false;
    return true;
}

unsigned shards_run_inline(struct shards *s, uint64_t now_ms)
{
    if (s->opts.inline_max <= 0)
        return 0;
    uint64_t queued = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (s->shard[i].dirty)
            queued += shard_inring_count(&s->shard[i].inbox);
    if (queued > (uint64_t)s->opts.inline_max)
        return 0; /* a busy pass: the shard threads work in parallel with us */
    unsigned ran = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (s->shard[i].dirty && run_inline(&s->shard[i], now_ms))
            ran++;
    return ran;
}

bool shards_pop(struct shards *s, unsigned shard, struct shard_out *out)
{
    return shard_outring_pop(&s->shard[shard].outbox, out);
}

bool shards_degraded(const struct shards *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (atomic_load_explicit(&s->shard[i].stats.journal_degraded, memory_order_relaxed))
            return true;
    return false;
}

const struct shards_key *shards_recovered_keys(const struct shards *s, size_t *n)
{
    *n = s ? s->nkeys : 0;
    return s ? s->keys : NULL;
}

/* ---- adoption, caller side ------------------------------------------------------------------- */

static struct timespec adopt_deadline(unsigned timeout_ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int shards_adopt(struct shards *s, const journal_set *set, unsigned timeout_ms,
                 struct shards_adopt_result *res)
{
    if (!s || !set || !res)
        return -EINVAL;
    memset(res, 0, sizeof *res);
    struct timespec until = adopt_deadline(timeout_ms);
    pthread_mutex_lock(&s->adopt_call);
    pthread_mutex_lock(&s->adopt_mu);
    s->adopt_set = set;
    memset(&s->adopt_res, 0, sizeof s->adopt_res);
    s->adopt_err = 0;
    s->adopt_busy = 0;
    s->adopt_left = s->n;
    for (unsigned i = 0; i < s->n; i++) {
        s->shard[i].adopt_st = ADOPT_PENDING;
        atomic_store_explicit(&s->shard[i].adopt_flag, true, memory_order_release);
    }
    pthread_mutex_unlock(&s->adopt_mu);
    for (unsigned i = 0; i < s->n; i++)
        uv_async_send(&s->shard[i].wake); /* any thread may; a pass then takes the job */

    pthread_mutex_lock(&s->adopt_mu);
    while (s->adopt_left > 0)
        if (pthread_cond_timedwait(&s->adopt_cv, &s->adopt_mu, &until) != 0)
            break; /* ETIMEDOUT */
    bool timed_out = s->adopt_left > 0;
    if (timed_out) {
        /* Take back what no shard began, then let any shard reading the set finish with it: the
         * set is the caller's again when we return. */
        for (unsigned i = 0; i < s->n; i++)
            if (s->shard[i].adopt_st == ADOPT_PENDING)
                s->shard[i].adopt_st = ADOPT_IDLE;
        while (s->adopt_busy > 0)
            pthread_cond_wait(&s->adopt_cv, &s->adopt_mu);
    }
    for (unsigned i = 0; i < s->n; i++) {
        s->shard[i].adopt_st = ADOPT_IDLE;
        atomic_store_explicit(&s->shard[i].adopt_flag, false, memory_order_relaxed);
    }
    *res = s->adopt_res;
    int err = timed_out ? -ETIMEDOUT : s->adopt_err;
    s->adopt_set = NULL;
    pthread_mutex_unlock(&s->adopt_mu);
    pthread_mutex_unlock(&s->adopt_call);
    log_info("battles adopted", "adopted", LOG_U64(res->adopted), "ended_kept",
             LOG_U64(res->ended_kept), "duplicates", LOG_U64(res->duplicates), "over",
             LOG_U64(res->over), "failed", LOG_U64(res->failed), "error",
             err ? strerror(-err) : "");
    return err;
}

const struct shard_stats *shards_stats(const struct shards *s, unsigned shard)
{
    return &s->shard[shard].stats;
}

void shards_stop(struct shards *s)
{
    if (!s)
        return;
    struct shard_in stop;
    memset(&stop, 0, sizeof stop);
    stop.kind = SHARD_IN_STOP;
    for (unsigned i = 0; i < s->n; i++) {
        struct shard *sh = &s->shard[i];
        /* A full inbox drains on its own; keep emptying the outbox so the shard never waits on us. */
        while (!shard_inring_push(&sh->inbox, &stop)) {
            ring_fence();
            uv_async_send(&sh->wake);
            struct shard_out m;
            while (shard_outring_pop(&sh->outbox, &m))
                if (m.kind == SHARD_OUT_SEND_HEAP)
                    free(m.u.heap.ptr);
            sched_yield();
        }
        ring_fence();
        uv_async_send(&sh->wake);
    }
    for (unsigned i = 0; i < s->n; i++) {
        struct shard *sh = &s->shard[i];
        pthread_join(sh->thread, NULL);
    }
    destroy_all(s);
}
