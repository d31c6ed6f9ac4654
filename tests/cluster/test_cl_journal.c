/* The journal on the Redis backend (shards/store_redis.c) against a real redis-server that each
 * test starts on a free loopback port (tests/cluster/redis_harness.h): records written through
 * the journal come back from Redis in order; compaction leaves only what recovery needs (a
 * snapshot of the live battles and the current log segment, ended battles gone); `always` holds
 * the durable position until Redis acknowledged; batches sent again after killed connections are
 * applied exactly once; Redis down makes the journal degraded with its records kept, and they
 * land once Redis is back; a Redis that answers late (SIGSTOP) degrades it the same way; a second
 * claim of the prefix fences the first process. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "journal/journal.h"
#include "journal/store_redis.h"
#include "tests/cluster/redis_harness.h"
#include "tests/unit/test_journal_util.h"

#define WAIT_MS 10000 /* any condition polled for */

static rh_server g_redis;

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int redis_up(void **state)
{
    (void)state;
    g_redis.aof = false;
    return rh_start(&g_redis) ? 0 : -1;
}

static int redis_up_aof(void **state)
{
    (void)state;
    g_redis.aof = true;
    return rh_start(&g_redis) ? 0 : -1;
}

static int redis_down(void **state)
{
    (void)state;
    rh_stop(&g_redis);
    return 0;
}

static store_redis_link *link_start(const char *node)
{
    store_redis_opts o = {.address = g_redis.address, .prefix = "t:", .node = node,
                          .timeout_ms = 1000};
    store_redis_link *l = NULL;
    char err[200];
    int rc = store_redis_link_start(&o, &l, err, sizeof err);
    if (rc != 0)
        fail_msg("link: %s", err);
    return l;
}

static journal *open_journal(store_redis_link *l, journal_sync_policy p, uint64_t compact,
                             const journal_battle *const *bs, size_t n)
{
    store *st;
    assert_int_equal(store_redis_open(l, 0, 0, &st), 0);
    journal_opts o = {.shard = 0, .policy = p, .compact_bytes = compact, .store = st};
    journal *j = NULL;
    journal_error err;
    if (journal_open(&o, bs, n, &j, &err) != 0)
        fail_msg("journal_open: %s", err.msg);
    return j;
}

static void put(journal *j, journal_rec_type t, uint64_t id, uint64_t seq)
{
    uint8_t p[64];
    size_t n = mk_payload(p, id, seq, (unsigned)(id + seq));
    assert_int_equal(journal_append(j, t, id, seq, p, n), 0);
}

/* Polls flushes until everything written is durable. */
static void settle(journal *j)
{
    uint64_t end = ms_now() + WAIT_MS;
    for (;;) {
        journal_flush(j);
        if (!journal_degraded(j, NULL) && journal_durable_pos(j) >= journal_written_pos(j) &&
            journal_get_stats(j).pending_bytes == 0)
            return;
        if (ms_now() > end) {
            journal_stats js = journal_get_stats(j);
            fail_msg("journal did not settle: degraded %d (errno %d), durable %llu of %llu, "
                     "pending %llu",
                     js.degraded, js.last_errno, (unsigned long long)journal_durable_pos(j),
                     (unsigned long long)journal_written_pos(j),
                     (unsigned long long)js.pending_bytes);
        }
        nap(10);
    }
}

/* ---- reading back what Redis holds ---- */

typedef struct segs {
    uint8_t *bufs[64];
    size_t lens[64];
    bool is_log[64];
    char names[64][96];
    const char *np[64];
    size_t n;
} segs;

static int collect(void *ctx, const char *name, uint8_t *data, size_t len, bool is_log)
{
    segs *s = ctx;
    assert_true(s->n < 64);
    s->bufs[s->n] = data;
    s->lens[s->n] = len;
    s->is_log[s->n] = is_log;
    snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
    s->np[s->n] = s->names[s->n];
    s->n++;
    return 0;
}

static void segs_free(segs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->bufs[i]);
}

/* Loads what the prefix holds into a journal_set (the caller frees both). */
static journal_set *load(store_redis_link *l, segs *s, char ***names)
{
    memset(s, 0, sizeof *s);
    uint64_t next;
    char err[200];
    assert_int_equal(store_redis_load(l, collect, s, names, &next, err, sizeof err), 0);
    journal_set *set = NULL;
    journal_error je;
    if (journal_load_buffers((const uint8_t *const *)s->bufs, s->lens, s->np, s->is_log, s->n,
                             NULL, &set, &je) != 0)
        fail_msg("load: %s", je.msg);
    return set;
}

static void names_free(char **names)
{
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
    (void)state;
    store_redis_link *l = link_start("n1");
    journal *j = open_journal(l, JOURNAL_SYNC_ALWAYS, 0, NULL, 0);
    for (uint64_t id = 1; id <= 5; id++)
        put(j, JOURNAL_REC_CREATED, id, 0);
    settle(j);
    for (uint64_t seq = 1; seq <= 20; seq++) {
        for (uint64_t id = 1; id <= 5; id++)
            put(j, JOURNAL_REC_ACTION, id, seq);
        journal_flush(j); /* one batch per pass */
    }
    put(j, JOURNAL_REC_ENDED, 3, 20);
    settle(j);
    assert_int_equal(journal_close(j), 0);

    segs s;
    char **names = NULL;
    journal_set *set = load(l, &s, &names);
    assert_int_equal(journal_set_count(set), 4); /* battle 3 ended */
    assert_null(journal_set_find(set, 3));
    for (uint64_t id = 1; id <= 5; id++) {
        if (id == 3)
            continue;
        const journal_battle *b = journal_set_find(set, id);
        assert_non_null(b);
        assert_int_equal(b->nactions, 20);
        for (size_t i = 0; i < b->nactions; i++) {
            uint8_t p[64];
            size_t n = mk_payload(p, id, i + 1, (unsigned)(id + i + 1));
            assert_int_equal(b->actions[i].payload_len, n);
            assert_memory_equal(b->actions[i].payload, p, n);
        }
    }
    journal_set_free(set);
    segs_free(&s);

    /* a later run retires what it loaded: nothing is left */
    assert_int_equal(store_redis_retire(l, names), 0);
    names_free(names);
    set = load(l, &s, &names);
    assert_int_equal(journal_set_count(set), 0);
    assert_null(names[0]);
    journal_set_free(set);
    segs_free(&s);
    names_free(names);
    store_redis_link_stop(l);
}

static long long scard_files(void)
{
    redisContext *c = rh_connect(&g_redis);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "SCARD t:files");
    assert_non_null(r);
    long long n = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static void test_compaction_keeps_what_recovery_needs(void **state)
{
    (void)state;
    store_redis_link *l = link_start("n1");
    journal *j = open_journal(l, JOURNAL_SYNC_ALWAYS, 1 << 20, NULL, 0);
    /* 40 battles, 30 of which end; 10 live ones with 10 actions each */
    for (uint64_t id = 1; id <= 40; id++) {
        put(j, JOURNAL_REC_CREATED, id, 0);
        for (uint64_t seq = 1; seq <= 10; seq++)
            put(j, JOURNAL_REC_ACTION, id, seq);
        if (id > 10)
            put(j, JOURNAL_REC_ENDED, id, 10);
        journal_flush(j);
    }
    settle(j);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(journal_compact_now(j), 0);
        assert_int_equal(journal_compact_wait(j), 0);
        put(j, JOURNAL_REC_ACTION, 1, 11 + (uint64_t)round);
        settle(j); /* under always: acknowledged, not only queued */
    }
    /* the current log segment and one snapshot, nothing else */
    assert_int_equal(scard_files(), 2);
    assert_int_equal(journal_get_stats(j).compactions, 3);
    assert_int_equal(journal_close(j), 0);

    segs s;
    char **names = NULL;
    journal_set *set = load(l, &s, &names);
    assert_int_equal(journal_set_count(set), 10);
    assert_int_equal(journal_set_find(set, 1)->nactions, 13);
    assert_int_equal(journal_set_find(set, 2)->nactions, 10);
    assert_null(journal_set_find(set, 11));
    journal_set_free(set);
    segs_free(&s);
    names_free(names);
    store_redis_link_stop(l);
}

static void test_recovered_battles_first_snapshot(void **state)
{
    (void)state;
    store_redis_link *l = link_start("n1");
    journal *j = open_journal(l, JOURNAL_SYNC_ALWAYS, 0, NULL, 0);
    for (uint64_t id = 1; id <= 3; id++) {
        put(j, JOURNAL_REC_CREATED, id, 0);
        put(j, JOURNAL_REC_ACTION, id, 1);
    }
    settle(j);
    assert_int_equal(journal_close(j), 0);
    store_redis_link_stop(l);

    /* a restart (kill -9 is the same to Redis: the same node claims again) */
    l = link_start("n1");
    segs s;
    char **names = NULL;
    journal_set *set = load(l, &s, &names);
    assert_int_equal(journal_set_count(set), 3);
    const journal_battle *bs[3];
    for (size_t i = 0; i < 3; i++)
        bs[i] = journal_set_battle(set, i);
    j = open_journal(l, JOURNAL_SYNC_ALWAYS, 0, bs, 3);
    assert_int_equal(store_redis_retire(l, names), 0);
    names_free(names);
    journal_set_free(set);
    segs_free(&s);
    put(j, JOURNAL_REC_ACTION, 2, 2);
    settle(j);
    assert_int_equal(journal_close(j), 0);

    set = load(l, &s, &names);
    assert_int_equal(journal_set_count(set), 3);
    assert_int_equal(journal_set_find(set, 2)->nactions, 2);
    assert_int_equal(journal_set_find(set, 1)->nactions, 1);
    journal_set_free(set);
    segs_free(&s);
    names_free(names);
    store_redis_link_stop(l);
}

static void kill_clients(void)
{
    redisContext *c = rh_connect(&g_redis);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
    if (r)
        freeReplyObject(r);
    redisFree(c);
}

static void test_resend_after_lost_connections_exactly_once(void **state)
{
    (void)state;
    store_redis_link *l = link_start("n1");
    journal *j = open_journal(l, JOURNAL_SYNC_ALWAYS, 0, NULL, 0);
    for (uint64_t id = 1; id <= 8; id++)
        put(j, JOURNAL_REC_CREATED, id, 0);
    uint64_t seq = 0;
    for (int kill = 0; kill < 5; kill++) {
        for (int pass = 0; pass < 50; pass++) {
            seq++;
            for (uint64_t id = 1; id <= 8; id++)
                put(j, JOURNAL_REC_ACTION, id, seq);
            journal_flush(j);
            if (pass == 25)
                kill_clients(); /* batches in flight lose their replies and are sent again */
        }
        settle(j);
    }
    assert_int_equal(journal_close(j), 0);
    store_redis_stats st = store_redis_link_stats(l);
    assert_true(st.disconnects >= 1);
    assert_true(st.connects >= 2);
    segs s;
    char **names = NULL;
    journal_set *set = load(l, &s, &names); /* a duplicate would be damage: the load fails */
    assert_int_equal(journal_set_count(set), 8);
    for (uint64_t id = 1; id <= 8; id++)
        assert_int_equal(journal_set_find(set, id)->nactions, seq);
    journal_set_free(set);
    segs_free(&s);
    names_free(names);
    store_redis_link_stop(l);
}

static void note(void *arg)
{
    atomic_int *n = arg;
    atomic_fetch_add(n, 1);
}

static void test_redis_down_degrades_then_catches_up(void **state)
{
    (void)state;
    store_redis_link *l = link_start("n1");
    journal *j = open_journal(l, JOURNAL_SYNC_ALWAYS, 0, NULL, 0);
    atomic_int notes = 0;
    journal_set_notify(j, note, &notes);
    put(j, JOURNAL_REC_CREATED, 7, 0);
    settle(j);
    assert_true(atomic_load(&notes) > 0); /* the acknowledgement woke us */

    rh_halt(&g_redis, SIGTERM); /* AOF on: what was acknowledged survives */
    uint64_t end = ms_now() + WAIT_MS;
    while (!journal_degraded(j, NULL)) {
        assert_true(ms_now() < end);
        nap(10);
    }
    /* the battle goes on: its records queue in the journal, not durable yet */
    for (uint64_t seq = 1; seq <= 10; seq++) {
        put(j, JOURNAL_REC_ACTION, 7, seq);
        journal_flush(j);
    }
    uint64_t w = journal_written_pos(j) + journal_get_stats(j).pending_bytes;
    assert_true(journal_durable_pos(j) < w);
    assert_true(journal_degraded(j, NULL));

    assert_true(rh_restart(&g_redis));
    settle(j); /* reconnected with backoff, caught up */
    assert_false(journal_degraded(j, NULL));
    assert_int_equal(journal_get_stats(j).records_dropped, 0);
    assert_int_equal(journal_close(j), 0);
    segs s;
    char **names = NULL;
    journal_set *set = load(l, &s, &names);
    assert_int_equal(journal_set_find(set, 7)->nactions, 10);
    journal_set_free(set);
    segs_free(&s);
    names_free(names);
    store_redis_link_stop(l);
}

/* Redis answering late (stopped with SIGSTOP) is an outage too: degraded while the oldest batch
 * waits longer than the timeout, caught up when it answers again, nothing lost. */
static void test_redis_slow_degrades_then_catches_up(void **state)
{
    (void)state;
    store_redis_link *l = link_start("n1");
    journal *j = open_journal(l, JOURNAL_SYNC_EVERYSEC, 0, NULL, 0);
    put(j, JOURNAL_REC_CREATED, 9, 0);
    settle(j);
    kill(g_redis.pid, SIGSTOP);
    put(j, JOURNAL_REC_ACTION, 9, 1);
    journal_flush(j);
    uint64_t end = ms_now() + WAIT_MS;
    int e = 0;
    while (!journal_degraded(j, &e)) {
        assert_true(ms_now() < end);
        nap(20);
    }
    assert_int_equal(e, ETIMEDOUT);
    /* everysec: the battle goes on while Redis lags (its output is not held) */
    assert_true(journal_durable_pos(j) >= journal_written_pos(j));
    for (uint64_t seq = 2; seq <= 5; seq++) {
        put(j, JOURNAL_REC_ACTION, 9, seq);
        journal_flush(j);
    }
    kill(g_redis.pid, SIGCONT);
    settle(j);
    assert_int_equal(journal_close(j), 0);
    segs s;
    char **names = NULL;
    journal_set *set = load(l, &s, &names);
    assert_int_equal(journal_set_find(set, 9)->nactions, 5);
    journal_set_free(set);
    segs_free(&s);
    names_free(names);
    store_redis_link_stop(l);
}

static void test_claim_and_fencing(void **state)
{
    (void)state;
    store_redis_link *a = link_start("n1");
    journal *ja = open_journal(a, JOURNAL_SYNC_ALWAYS, 0, NULL, 0);
    put(ja, JOURNAL_REC_CREATED, 1, 0);
    settle(ja);

    /* another node cannot take a held prefix */
    store_redis_opts o = {.address = g_redis.address, .prefix = "t:", .node = "n2"};
    store_redis_link *b = NULL;
    char err[200];
    assert_int_equal(store_redis_link_start(&o, &b, err, sizeof err), -EBUSY);
    assert_non_null(strstr(err, "n1"));

    /* the same node name (a restart after kill -9) takes over: the old process is fenced */
    store_redis_link *a2 = link_start("n1");
    assert_true(store_redis_link_epoch(a2) > store_redis_link_epoch(a));
    put(ja, JOURNAL_REC_ACTION, 1, 1);
    uint64_t end = ms_now() + WAIT_MS;
    while (!journal_degraded(ja, NULL)) { /* stopped for good */
        journal_flush(ja);
        assert_true(ms_now() < end);
        nap(10);
    }
    /* fenced: the refused record's output is never released (the battle is another node's) */
    journal_flush(ja);
    assert_true(journal_durable_pos(ja) < journal_written_pos(ja));
    assert_true(store_redis_link_stats(a).fenced >= 1);
    journal_close(ja);
    store_redis_link_stop(a);

    segs s;
    char **names = NULL;
    journal_set *set = load(a2, &s, &names);
    assert_int_equal(journal_set_find(set, 1)->nactions, 0); /* the fenced write never landed */
    journal_set_free(set);
    segs_free(&s);
    names_free(names);
    store_redis_link_stop(a2);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]); /* one test by name, for debugging */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, redis_up, redis_down),
        cmocka_unit_test_setup_teardown(test_compaction_keeps_what_recovery_needs, redis_up,
                                        redis_down),
        cmocka_unit_test_setup_teardown(test_recovered_battles_first_snapshot, redis_up,
                                        redis_down),
        cmocka_unit_test_setup_teardown(test_resend_after_lost_connections_exactly_once, redis_up,
                                        redis_down),
        cmocka_unit_test_setup_teardown(test_redis_down_degrades_then_catches_up, redis_up_aof,
                                        redis_down),
        cmocka_unit_test_setup_teardown(test_redis_slow_degrades_then_catches_up, redis_up,
                                        redis_down),
        cmocka_unit_test_setup_teardown(test_claim_and_fencing, redis_up, redis_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
