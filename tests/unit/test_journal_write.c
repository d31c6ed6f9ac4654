/* The journal writer: group commit, sync policies, the buffer bound,
 * compaction (and crashes during it), and a failing disk. Also prints the
 * append+flush throughput of each policy (a measurement, not an assertion). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include <cmocka.h>

#include "journal/journal.h"
#include "journal/store.h"
#include "tests/unit/test_journal_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static journal *open_j(const char *dir, journal_sync_policy p, uint64_t compact, size_t buf,
                       warn_log *w)
{
    journal_opts o = {.dir = dir, .shard = 0, .policy = p, .compact_bytes = compact,
                      .buf_bytes = buf, .warn = w ? warn_rec : NULL, .warn_ctx = w};
    journal *j;
    journal_error err;
    assert_int_equal(journal_open(&o, NULL, 0, &j, &err), 0);
    return j;
}

/* What the journal should give back: battle id -> actions, or -1 if ended. */
#define MODEL_MAX 4096
typedef struct model {
    int nactions[MODEL_MAX];
    bool created[MODEL_MAX];
} model;

static void model_check(const char *dir, const model *m)
{
    journal_set *set;
    journal_error err;
    warn_log w = {0};
    journal_load_opts lo = {.warn = warn_rec, .warn_ctx = &w};
    int rc = journal_load(dir, &lo, &set, &err);
    if (rc != 0)
        fail_msg("load: %s", err.msg);
    size_t live = 0;
    for (uint64_t b = 1; b < MODEL_MAX; b++) {
        const journal_battle *jb = journal_set_find(set, b);
        if (m->created[b] && m->nactions[b] >= 0) {
            live++;
            if (!battle_matches(jb, b, (size_t)m->nactions[b]))
                fail_msg("battle %llu: want %d actions, got %s %zu", (unsigned long long)b,
                         m->nactions[b], jb ? "" : "none", jb ? jb->nactions : 0);
        } else {
            assert_null(jb);
        }
    }
    assert_int_equal(journal_set_count(set), live);
    assert_int_equal(w.count, 0);
    journal_set_free(set);
}

static void m_create(journal *j, model *m, uint64_t b)
{
    assert_int_equal(append_created(j, b), 0);
    m->created[b] = true;
    m->nactions[b] = 0;
}

static void m_act(journal *j, model *m, uint64_t b)
{
    assert_int_equal(append_action(j, b, (uint64_t)m->nactions[b] + 1), 0);
    m->nactions[b]++;
}

static void m_end(journal *j, model *m, uint64_t b)
{
    assert_int_equal(append_ended(j, b), 0);
    m->nactions[b] = -1;
}

/* Records of one pass go out in one write. */
static void test_group_commit(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    journal *j = open_j(dir, JOURNAL_SYNC_NO, 0, 0, NULL);
    static model m;
    memset(&m, 0, sizeof m);
    for (uint64_t b = 1; b <= 50; b++) {
        m_create(j, &m, b);
        m_act(j, &m, b);
    }
    journal_stats st = journal_get_stats(j);
    assert_int_equal(st.writes, 0);
    assert_int_equal(st.records, 100);
    assert_true(st.pending_bytes > 0);
    assert_int_equal(journal_flush(j), 0);
    st = journal_get_stats(j);
    assert_int_equal(st.writes, 1);
    assert_int_equal(st.pending_bytes, 0);
    assert_int_equal(journal_flush(j), 0); /* nothing queued: no write */
    assert_int_equal(journal_get_stats(j).writes, 1);
    model_check(dir, &m); /* written without a sync: readable at once */
    assert_int_equal(journal_close(j), 0);
    model_check(dir, &m);
    rm_rf(dir);
}

/* A pass bigger than the buffer writes early; nothing is lost. */
static void test_buffer_full_writes_early(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    journal *j = open_j(dir, JOURNAL_SYNC_NO, 0, 1, NULL); /* raised to JOURNAL_BUF_MIN */
    static model m;
    memset(&m, 0, sizeof m);
    for (uint64_t b = 1; b <= 1000; b++) {
        m_create(j, &m, b);
        for (int a = 0; a < 3; a++)
            m_act(j, &m, b);
    }
    journal_stats st = journal_get_stats(j);
    assert_true(st.buffer_full_writes >= 1);
    assert_int_equal(st.writes, st.buffer_full_writes);
    assert_int_equal(st.records_dropped, 0);
    assert_int_equal(journal_close(j), 0);
    model_check(dir, &m);
    rm_rf(dir);
}

/* always: every flush syncs before returning. everysec: the background
 * thread syncs within about a second; flushes never do. Prints throughput. */
static void test_policies(void **state)
{
    (void)state;
    static const journal_sync_policy ps[] = {JOURNAL_SYNC_ALWAYS, JOURNAL_SYNC_EVERYSEC,
                                             JOURNAL_SYNC_NO};
    for (size_t pi = 0; pi < 3; pi++) {
        for (int per_pass = 1; per_pass <= 64; per_pass *= 64) {
            char dir[256];
            make_dir(dir, sizeof dir);
            journal *j = open_j(dir, ps[pi], 0, 0, NULL);
            static model m;
            memset(&m, 0, sizeof m);
            for (uint64_t b = 1; b <= 100; b++)
                m_create(j, &m, b);
            assert_int_equal(journal_flush(j), 0);
            /* About 0.3 s of passes, each per_pass actions then a flush. */
            double t0 = now_s(), t = t0;
            uint64_t recs = 0, flushes = 0, worst_us = 0;
            while (t - t0 < 0.3) {
                for (int k = 0; k < per_pass; k++, recs++)
                    m_act(j, &m, 1 + recs % 100);
                double f0 = now_s();
                assert_int_equal(journal_flush(j), 0);
                t = now_s();
                uint64_t us = (uint64_t)((t - f0) * 1e6);
                if (us > worst_us)
                    worst_us = us;
                flushes++;
            }
            journal_stats st = journal_get_stats(j);
            printf("journal-bench policy=%s records_per_flush=%d records=%llu flushes=%llu "
                   "records_per_s=%.0f flushes_per_s=%.0f MB_per_s=%.2f worst_flush_us=%llu\n",
                   journal_sync_policy_name(ps[pi]), per_pass, (unsigned long long)recs,
                   (unsigned long long)flushes, (double)recs / (t - t0),
                   (double)flushes / (t - t0), (double)st.bytes / (t - t0) / 1e6,
                   (unsigned long long)worst_us);
            if (ps[pi] == JOURNAL_SYNC_ALWAYS)
                assert_int_equal(st.syncs, flushes + 1);
            if (ps[pi] == JOURNAL_SYNC_EVERYSEC) {
                /* The syncer catches up within about a second. */
                double w0 = now_s();
                while (journal_get_stats(j).syncs == 0 && now_s() - w0 < 5)
                    usleep(10000);
                assert_true(journal_get_stats(j).syncs >= 1);
            }
            if (ps[pi] == JOURNAL_SYNC_NO)
                assert_int_equal(st.syncs, 0);
            assert_int_equal(journal_close(j), 0);
            model_check(dir, &m);
            rm_rf(dir);
        }
    }
}

/* Compaction keeps exactly the unfinished battles, with all their actions,
 * and appends go on during and after it. */
static void test_compaction_keeps_live(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    journal *j = open_j(dir, JOURNAL_SYNC_EVERYSEC, 1ull << 40, 0, NULL);
    static model m;
    memset(&m, 0, sizeof m);
    for (uint64_t b = 1; b <= 60; b++) {
        m_create(j, &m, b);
        for (uint64_t a = 0; a < b % 7; a++)
            m_act(j, &m, b);
        if (b % 2)
            m_end(j, &m, b);
    }
    assert_int_equal(journal_flush(j), 0);
    assert_int_equal(journal_compact_now(j), 0);
    /* The shard goes on while the compactor works. */
    m_act(j, &m, 2);
    m_create(j, &m, 100);
    m_end(j, &m, 4);
    assert_int_equal(journal_flush(j), 0);
    assert_int_equal(journal_compact_wait(j), 0);
    assert_int_equal(journal_get_stats(j).compactions, 1);
    assert_int_equal(count_files(dir, ".snap"), 1);
    assert_int_equal(count_files(dir, ".log"), 1); /* the segment after the cut */
    assert_int_equal(count_files(dir, ".tmp"), 0);
    model_check(dir, &m);
    /* A second compaction replaces the first snapshot. */
    m_act(j, &m, 6);
    assert_int_equal(journal_flush(j), 0);
    assert_int_equal(journal_compact_now(j), 0);
    assert_int_equal(journal_compact_wait(j), 0);
    assert_int_equal(count_files(dir, ".snap"), 1);
    assert_int_equal(count_files(dir, ".log"), 1);
    model_check(dir, &m);
    assert_int_equal(journal_close(j), 0);
    model_check(dir, &m);
    rm_rf(dir);
}

/* Past compact_bytes the journal compacts by itself; disk use then follows
 * the live battles, not the history. */
static void test_compaction_automatic(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    journal *j = open_j(dir, JOURNAL_SYNC_NO, 16 * 1024, 0, NULL);
    static model m;
    memset(&m, 0, sizeof m);
    /* 2000 battles over time, at most 20 live at once, 5 actions each. */
    for (uint64_t b = 1; b <= 2000; b++) {
        m_create(j, &m, b);
        for (int a = 0; a < 5; a++)
            m_act(j, &m, b);
        if (b > 20)
            m_end(j, &m, b - 20);
        assert_int_equal(journal_flush(j), 0);
    }
    assert_int_equal(journal_compact_wait(j), 0);
    journal_stats st = journal_get_stats(j);
    /* The loop outruns the compactor (each one syncs a snapshot), so fewer
     * compactions than thresholds passed: none is ever started twice. */
    assert_true(st.compactions >= 1);
    assert_int_equal(st.compaction_errors, 0);
    printf("journal-compaction history_bytes=%llu compactions=%llu\n",
           (unsigned long long)st.bytes, (unsigned long long)st.compactions);
    assert_int_equal(journal_compact_now(j), 0);
    assert_int_equal(journal_compact_wait(j), 0);
    model_check(dir, &m);
    assert_int_equal(journal_close(j), 0);
    model_check(dir, &m);
    /* What is left on disk is the 20 live battles (about 9 KiB). */
    journal_set *set;
    journal_error err;
    assert_int_equal(journal_load(dir, NULL, &set, &err), 0);
    assert_true(journal_set_stats(set).bytes < 16 * 1024);
    journal_set_free(set);
    rm_rf(dir);
}

/* A crash after the snapshot is written but before its rename, or after the
 * rename but before the old segments are deleted: either way the directory
 * loads to the same battles. */
static void test_compaction_crash_points(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    warn_log w = {0};
    journal *j = open_j(dir, JOURNAL_SYNC_ALWAYS, 1ull << 40, 0, &w);
    static model m;
    memset(&m, 0, sizeof m);
    for (uint64_t b = 1; b <= 30; b++) {
        m_create(j, &m, b);
        m_act(j, &m, b);
        if (b % 3 == 0)
            m_end(j, &m, b);
    }
    assert_int_equal(journal_flush(j), 0);

    store_file_set_fault(journal_store(j), STORE_FAULT_BEFORE_RENAME);
    assert_int_equal(journal_compact_now(j), 0);
    m_act(j, &m, 1);
    assert_int_equal(journal_flush(j), 0);
    assert_int_equal(journal_compact_wait(j), -EINTR);
    assert_int_equal(journal_get_stats(j).compaction_errors, 1);
    assert_int_equal(count_files(dir, ".tmp"), 1);
    model_check(dir, &m); /* the process "dies" here: the old segments load */

    store_file_set_fault(journal_store(j), STORE_FAULT_BEFORE_UNLINK);
    assert_int_equal(journal_compact_now(j), 0);
    m_end(j, &m, 2);
    assert_int_equal(journal_flush(j), 0);
    assert_int_equal(journal_compact_wait(j), 0);
    assert_true(count_files(dir, ".log") > 1); /* superseded segments still there */
    model_check(dir, &m);

    /* The next compaction clears what the previous one left. */
    assert_int_equal(journal_compact_now(j), 0);
    assert_int_equal(journal_compact_wait(j), 0);
    assert_int_equal(count_files(dir, ".log"), 1);
    assert_int_equal(journal_close(j), 0);
    model_check(dir, &m);
    rm_rf(dir);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A write that fails (here: past RLIMIT_FSIZE, like a full disk) degrades the
 * journal without a crash or a partial record; it recovers when writes work
 * again. A full buffer while degraded drops records and stops the journal,
 * leaving a clean prefix on disk. */
static void test_write_failure_degrades(void **state)
{
    (void)state;
    char dir[256], path[300];
    make_dir(dir, sizeof dir);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit orig;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &orig), 0);
    warn_log w = {0};
    journal *j = open_j(dir, JOURNAL_SYNC_NO, 0, 1, &w);
    snprintf(path, sizeof path, "%s/shard-0-1.log", dir);
    static model m;
    memset(&m, 0, sizeof m);
    m_create(j, &m, 1);
    m_act(j, &m, 1);
    assert_int_equal(journal_flush(j), 0);
    off_t good = file_size(path);
    assert_true(good > 0);

    struct rlimit lim = orig;
    lim.rlim_cur = (rlim_t)good + 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (int a = 0; a < 10; a++)
        m_act(j, &m, 1);
    assert_int_equal(journal_flush(j), -EFBIG);
    int e = 0;
    assert_true(journal_degraded(j, &e));
    assert_int_equal(e, EFBIG);
    journal_stats st = journal_get_stats(j);
    assert_int_equal(st.write_errors, 1);
    assert_true(st.pending_bytes > 0);
    assert_int_equal(file_size(path), good); /* the partial write was cut back */
    assert_true(w.count >= 1);
    /* Running battles go on: appends are still taken. */
    m_act(j, &m, 1);
    /* No retry before JOURNAL_RETRY_MS. */
    assert_int_equal(journal_flush(j), -EFBIG);
    assert_int_equal(journal_get_stats(j).writes, st.writes);

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &orig), 0);
    usleep((JOURNAL_RETRY_MS + 100) * 1000);
    assert_int_equal(journal_flush(j), 0);
    assert_false(journal_degraded(j, NULL));
    model_check(dir, &m);

    /* Degraded with a full buffer: records are dropped, the journal stops. */
    m_create(j, &m, 2);
    assert_int_equal(journal_flush(j), 0);
    model_check(dir, &m);
    good = file_size(path);
    lim.rlim_cur = (rlim_t)good + 10;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    m_act(j, &m, 2);
    assert_int_equal(journal_flush(j), -EFBIG);
    int dropped_rc = 0;
    for (uint64_t s = 2; dropped_rc == 0 && s < 100000; s++) {
        uint8_t p[64];
        size_t n = mk_payload(p, 2, s, (unsigned)(2 + s - 1));
        dropped_rc = journal_append(j, JOURNAL_REC_ACTION, 2, s, p, n);
    }
    assert_int_equal(dropped_rc, -EFBIG);
    assert_true(journal_get_stats(j).records_dropped > 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &orig), 0);
    assert_int_equal(append_action(j, 1, (uint64_t)m.nactions[1] + 1), -EFBIG); /* stopped */
    assert_int_equal(journal_flush(j), -EFBIG);
    assert_true(journal_degraded(j, &e));
    assert_int_equal(file_size(path), good);
    /* On disk: battle 2 as it was before the failure (created, no action). */
    m.nactions[2] = 0;
    model_check(dir, &m);
    assert_int_equal(journal_close(j), -EFBIG);
    model_check(dir, &m);
    signal(SIGXFSZ, SIG_DFL);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_buffer_full_writes_early),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_compaction_keeps_live),
        cmocka_unit_test(test_compaction_automatic),
        cmocka_unit_test(test_compaction_crash_points),
        cmocka_unit_test(test_write_failure_degrades),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
