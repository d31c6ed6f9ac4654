/* The journal writer: group commit, durability policy, degraded state and
 * background compaction over a store (journal/store.h).
 *
 * Threads. The shard thread does every append and flush. Two helpers keep
 * the disk off its path:
 *  - the syncer (everysec only) wakes once a second and syncs the store if
 *    anything was written since its last sync. Like Redis's bio fsync thread:
 *    an fdatasync on a busy disk can take hundreds of milliseconds, which the
 *    shard's battles must not wait for. The shard only publishes a byte count.
 *  - the compactor, started by journal_flush when the log passes
 *    compact_bytes: the shard rotates the store (a new segment, cheap) and
 *    goes on appending there, while the compactor reads the segments before
 *    the cut, keeps the unfinished battles and installs them as a snapshot.
 *    The shard collects the result on a later flush. At most one at a time. */
#include "journal/journal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal/journal_codec.h"

#define JOURNAL_COMPACT_RETRY_MS 10000 /* after a failed compaction */

struct journal {
    store *st;
    bool async; /* the store acknowledges appends later (store_ops.acked): no syncer thread */
    journal_sync_policy policy;
    uint64_t compact_bytes;
    journal_warn_fn warn;
    void *warn_ctx;

    /* shard thread only */
    uint8_t *buf;
    size_t cap, len, nrec; /* pending bytes and records */
    bool degraded;         /* the last write failed; records kept, retried */
    bool lost;             /* records were dropped or a sync failed: writing stopped */
    bool fenced;           /* the store was taken by another process (lost too): output stays held */
    int err;               /* errno of the last failure */
    uint64_t retry_at_ms;  /* next write attempt while degraded */
    uint64_t compact_at_ms;/* no compaction before (after a failure) */
    journal_stats s;

    /* syncer */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool syncer_on;
    pthread_t syncer;
    _Atomic uint64_t written; /* bytes appended to the store, published for the syncer */
    _Atomic uint64_t syncs, sync_errors;
    _Atomic int sync_errno; /* a background sync failed (0: none) */

    /* compactor */
    bool compacting;
    pthread_t compactor;
    store_cut cut;
    _Atomic bool compact_done;
    int compact_rc; /* written by the compactor before compact_done */
    int last_compact_rc;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *journal_sync_policy_name(journal_sync_policy p)
{
    switch (p) {
    case JOURNAL_SYNC_ALWAYS: return "always";
    case JOURNAL_SYNC_EVERYSEC: return "everysec";
    case JOURNAL_SYNC_NO: return "no";
    }
    return "?";
}

int journal_sync_policy_parse(const char *s, journal_sync_policy *out)
{
    static const journal_sync_policy all[] = {JOURNAL_SYNC_ALWAYS, JOURNAL_SYNC_EVERYSEC,
                                              JOURNAL_SYNC_NO};
    for (size_t i = 0; s && i < sizeof all / sizeof *all; i++)
        if (strcmp(s, journal_sync_policy_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

static void jwarn(journal *j, const char *msg, int e)
{
    char line[160];
    if (e)
        snprintf(line, sizeof line, "%s: %s", msg, strerror(e));
    else
        snprintf(line, sizeof line, "%s", msg);
    j->warn(j->warn_ctx, line, "", 0, 0);
}

/* ---- syncer ---- */

static void *syncer_main(void *arg)
{
    journal *j = arg;
    uint64_t synced = 0;
    pthread_mutex_lock(&j->mu);
    while (!j->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += JOURNAL_SYNC_INTERVAL_MS / 1000;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (j->stop)
            break;
        uint64_t w = atomic_load(&j->written);
        if (w == synced)
            continue;
        pthread_mutex_unlock(&j->mu);
        int rc = j->st->ops->sync(j->st);
        pthread_mutex_lock(&j->mu);
        if (rc == 0) {
            synced = w;
            atomic_fetch_add(&j->syncs, 1);
        } else {
            atomic_fetch_add(&j->sync_errors, 1);
            int zero = 0;
            atomic_compare_exchange_strong(&j->sync_errno, &zero, -rc);
        }
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ---- degraded state ---- */

/* Stops writing for good: what is on disk stays a consistent prefix of every
 * battle's history, which a later write after a gap would no longer be. */
static void go_lost(journal *j, int e, const char *why)
{
    if (!j->lost) {
        j->lost = true;
        jwarn(j, why, e);
    }
    j->degraded = true;
    j->err = e;
    j->s.records_dropped += j->nrec;
    j->len = j->nrec = 0;
}

static void check_sync_errno(journal *j)
{
    int e = atomic_load(&j->sync_errno);
    if (e && !j->lost)
        go_lost(j, e, "journal: sync failed, journal stopped (battles go on, not persisted)");
}

/* An asynchronous store that failed for good (fenced: another process took its data; or its data
 * diverged) will never acknowledge what it holds: stop as after a failed sync. Once per flush,
 * not per record: status takes the store's lock. */
static void check_store_failed(journal *j)
{
    int st = j->async && !j->lost ? j->st->ops->status(j->st) : 0;
    if (st == -EPERM || st == -EIO) {
        /* Fenced: another node holds these battles now, so what was not acknowledged must never
         * reach a player from here (journal_durable_pos stops where the store stopped). */
        j->fenced = st == -EPERM;
        go_lost(j, -st, "journal: the store refuses writes for good, journal stopped");
    }
}

/* One store append of the whole buffer. */
static int write_buf(journal *j)
{
    if (j->len == 0)
        return 0;
    int rc = j->st->ops->append(j->st, j->buf, j->len);
    j->s.writes++;
    if (rc != 0) {
        j->s.write_errors++;
        j->err = -rc;
        j->retry_at_ms = now_ms() + JOURNAL_RETRY_MS;
        if (!j->degraded)
            jwarn(j, "journal: write failed, new battles refused until it recovers", -rc);
        j->degraded = true;
        return rc;
    }
    if (j->degraded) {
        j->degraded = false;
        j->err = 0;
        jwarn(j, "journal: writes recovered", 0);
    }
    j->s.bytes += j->len;
    atomic_fetch_add(&j->written, j->len);
    j->len = j->nrec = 0;
    return 0;
}

/* ---- compaction ---- */

static void *compactor_main(void *arg)
{
    journal *j = arg;
    journal_load_opts lo = {.skip_damaged = false, .warn = j->warn, .warn_ctx = j->warn_ctx};
    journal_error err;
    int rc = -ENOMEM;
    journal_loader *l = journal_load_new(&lo);
    if (l) {
        rc = j->st->ops->read_cut(j->st, &j->cut, journal_load_segment, l);
        if (rc != 0) {
            if (rc == -ECANCELED) {
                j->warn(j->warn_ctx, "journal: compaction found damage in its own segments",
                        "", 0, 0);
                rc = -EIO;
            }
            journal_load_free(l);
        } else {
            journal_set *set = journal_load_finish(l, &err);
            uint8_t *buf = NULL;
            size_t len = 0;
            rc = set ? journal_set_encode(set, &buf, &len) : -ENOMEM;
            if (rc == 0)
                rc = j->st->ops->install_snapshot(j->st, &j->cut, buf, len);
            free(buf);
            journal_set_free(set);
        }
    }
    j->compact_rc = rc;
    atomic_store(&j->compact_done, true);
    return NULL;
}

/* Joins a finished compactor (or waits for it when wait). */
static void collect_compaction(journal *j, bool wait)
{
    if (!j->compacting || (!wait && !atomic_load(&j->compact_done)))
        return;
    pthread_join(j->compactor, NULL);
    j->compacting = false;
    atomic_store(&j->compact_done, false);
    j->last_compact_rc = j->compact_rc;
    if (j->compact_rc == 0) {
        j->s.compactions++;
    } else {
        j->s.compaction_errors++;
        j->compact_at_ms = now_ms() + JOURNAL_COMPACT_RETRY_MS;
        jwarn(j, "journal: compaction failed, retried later", -j->compact_rc);
    }
}

static int start_compaction(journal *j)
{
    if (j->compacting)
        return -EBUSY;
    int rc = j->st->ops->rotate(j->st, &j->cut);
    if (rc == 0) {
        atomic_store(&j->compact_done, false);
        rc = -pthread_create(&j->compactor, NULL, compactor_main, j);
        if (rc == 0)
            j->compacting = true;
    }
    if (rc != 0) {
        j->s.compaction_errors++;
        j->compact_at_ms = now_ms() + JOURNAL_COMPACT_RETRY_MS;
        jwarn(j, "journal: cannot start compaction", -rc);
    }
    return rc;
}

static void maybe_compact(journal *j)
{
    if (j->compacting || j->degraded || j->compact_at_ms > now_ms())
        return;
    if (j->st->ops->log_bytes(j->st) >= j->compact_bytes)
        start_compaction(j);
}

/* ---- public ---- */

int journal_append(journal *j, journal_rec_type type, uint64_t battle_id, uint64_t seq,
                   const void *payload, size_t payload_len)
{
    if (type < JOURNAL_REC_CREATED || type > JOURNAL_REC_ENDED)
        return -EINVAL;
    if (payload_len > JOURNAL_PAYLOAD_MAX)
        return -EMSGSIZE;
    if (!payload || !journal_msgpack_valid(payload, payload_len))
        return -EINVAL;
    check_sync_errno(j);
    if (j->lost) {
        j->s.records_dropped++;
        return -j->err;
    }
    size_t need = journal_rec_encoded_size(battle_id, seq, payload_len);
    if (j->cap - j->len < need) {
        j->s.buffer_full_writes++;
        if (j->degraded && now_ms() < j->retry_at_ms) {
            j->s.records_dropped++;
            go_lost(j, j->err, "journal: buffer full while degraded, journal stopped");
            return -j->err;
        }
        int rc = write_buf(j);
        if (rc != 0) {
            j->s.records_dropped++;
            go_lost(j, -rc, "journal: buffer full while degraded, journal stopped");
            return rc;
        }
    }
    j->len += journal_record_encode(j->buf + j->len, j->cap - j->len, type, battle_id, seq,
                                    payload, payload_len);
    j->nrec++;
    j->s.records++;
    return 0;
}

/* One fsync of the log; a failure stops the journal (the data's fate on disk is unknown). */
static int sync_or_lose(journal *j)
{
    int rc = j->st->ops->sync(j->st);
    if (rc != 0) {
        j->s.sync_errors++;
        go_lost(j, -rc, "journal: sync failed, journal stopped (battles go on, not persisted)");
        return rc;
    }
    j->s.syncs++;
    return 0;
}

int journal_flush(journal *j)
{
    collect_compaction(j, false);
    check_sync_errno(j);
    check_store_failed(j);
    if (j->lost) {
        j->s.records_dropped += j->nrec;
        j->len = j->nrec = 0;
        return -j->err;
    }
    if (j->len == 0 && !j->degraded)
        return 0;
    if (j->degraded && now_ms() < j->retry_at_ms)
        return -j->err;
    bool wrote = j->len > 0;
    int rc = write_buf(j);
    if (rc != 0)
        return rc;
    if (j->policy == JOURNAL_SYNC_ALWAYS && wrote && !j->async) {
        rc = sync_or_lose(j);
        if (rc != 0)
            return rc;
    }
    maybe_compact(j);
    return 0;
}

bool journal_degraded(const journal *j, int *err)
{
    int e = atomic_load(&((journal *)j)->sync_errno);
    if (e == 0 && j->st->ops->status)
        e = -j->st->ops->status(j->st);
    bool d = j->degraded || e != 0;
    if (err)
        *err = j->degraded ? j->err : e;
    return d;
}

uint64_t journal_written_pos(const journal *j)
{
    return j->s.bytes;
}

bool journal_flush_is_quick(const journal *j)
{
    return !j->async && j->policy != JOURNAL_SYNC_ALWAYS && !j->lost && !j->fenced &&
           !journal_degraded(j, NULL);
}

uint64_t journal_durable_pos(const journal *j)
{
    if (j->fenced)
        return j->st->ops->acked(j->st);
    if (j->lost)
        return UINT64_MAX;
    if (!j->async || j->policy == JOURNAL_SYNC_NO)
        return j->s.bytes;
    /* everysec: while the store fails or lags, the battles go on; their records queue */
    if (j->policy == JOURNAL_SYNC_EVERYSEC && journal_degraded(j, NULL))
        return j->s.bytes;
    return j->st->ops->acked(j->st);
}

void journal_set_notify(journal *j, void (*fn)(void *arg), void *arg)
{
    if (j->st->ops->set_notify)
        j->st->ops->set_notify(j->st, fn, arg);
}

journal_stats journal_get_stats(const journal *j)
{
    journal *m = (journal *)j;
    journal_stats s = j->s;
    s.syncs += atomic_load(&m->syncs);
    s.sync_errors += atomic_load(&m->sync_errors);
    s.pending_bytes = j->len;
    s.unacked_bytes = j->async ? j->s.bytes - j->st->ops->acked(j->st) : 0;
    s.log_bytes = j->st->ops->log_bytes(j->st);
    s.degraded = journal_degraded(j, &s.last_errno);
    if (!s.degraded)
        s.last_errno = j->err;
    return s;
}

int journal_compact_wait(journal *j)
{
    collect_compaction(j, true);
    return j->last_compact_rc;
}

int journal_compact_now(journal *j)
{
    collect_compaction(j, false);
    return start_compaction(j);
}

store *journal_store(journal *j)
{
    return j->st;
}

static void set_open_err(journal_error *err, journal_errcode code, int e, const char *what)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->code = code;
    err->sys_errno = e;
    snprintf(err->msg, sizeof err->msg, "%s: %s", what, strerror(e));
}

static void journal_free(journal *j)
{
    if (j->syncer_on) {
        pthread_mutex_lock(&j->mu);
        j->stop = true;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->syncer, NULL);
    }
    if (j->st)
        j->st->ops->close(j->st);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->buf);
    free(j);
}

int journal_open(const journal_opts *o, const journal_battle *const *battles, size_t n,
                 journal **out, journal_error *err)
{
    *out = NULL;
    if (!o || (!o->store && !o->dir) || o->policy > JOURNAL_SYNC_NO) {
        set_open_err(err, JOURNAL_E_INVALID, EINVAL, "journal_open");
        return -1;
    }
    journal *j = calloc(1, sizeof *j);
    if (!j) {
        set_open_err(err, JOURNAL_E_NOMEM, ENOMEM, "journal_open");
        return -1;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    j->policy = o->policy;
    j->compact_bytes = o->compact_bytes ? o->compact_bytes : JOURNAL_COMPACT_DEFAULT;
    j->cap = o->buf_bytes ? o->buf_bytes : JOURNAL_BUF_DEFAULT;
    if (j->cap < JOURNAL_BUF_MIN)
        j->cap = JOURNAL_BUF_MIN;
    j->warn = o->warn ? o->warn : journal_warn_stderr;
    j->warn_ctx = o->warn_ctx;
    if (!(j->buf = malloc(j->cap))) {
        journal_free(j);
        set_open_err(err, JOURNAL_E_NOMEM, ENOMEM, "journal_open");
        return -1;
    }
    if (o->store) {
        j->st = o->store;
    } else {
        const store_backend *be = o->backend ? o->backend : &store_file_backend;
        int rc = be->open(o->dir, o->shard, o->first_gen, &j->st);
        if (rc != 0) {
            journal_free(j);
            set_open_err(err, JOURNAL_E_IO, -rc, o->dir);
            return -1;
        }
    }
    j->async = j->st->ops->acked != NULL;
    if (n > 0) {
        uint8_t *snap;
        size_t len;
        int rc = journal_battles_encode(battles, n, &snap, &len);
        if (rc == 0) {
            rc = j->st->ops->install_snapshot(j->st, NULL, snap, len);
            free(snap);
        }
        if (rc != 0) {
            journal_free(j);
            set_open_err(err, rc == -ENOMEM ? JOURNAL_E_NOMEM : JOURNAL_E_IO, -rc,
                         "journal: writing recovered battles");
            return -1;
        }
    }
    if (j->policy == JOURNAL_SYNC_EVERYSEC && !j->async) {
        int rc = pthread_create(&j->syncer, NULL, syncer_main, j);
        if (rc != 0) {
            journal_free(j);
            set_open_err(err, JOURNAL_E_IO, rc, "journal: starting the sync thread");
            return -1;
        }
        j->syncer_on = true;
    }
    *out = j;
    return 0;
}

int journal_close(journal *j)
{
    if (!j)
        return 0;
    int rc = journal_flush(j);
    collect_compaction(j, true);
    if (!j->lost) {
        int r = j->st->ops->sync(j->st);
        if (r != 0 && rc == 0)
            rc = r;
    }
    journal_free(j);
    return rc;
}
