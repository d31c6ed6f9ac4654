/* Recovery time: writes the journals of N unfinished battles (as four shards would have, each
 * battle with its setup and ACTIONS engine-accepted actions chosen by core's AI for both seats),
 * then times shards_start on that directory: load, replay every battle, write each shard's first
 * snapshot, retire the old files. Checks every battle is back and a sample of them is exactly where
 * the engine left it. Usage: test_persist_recovery [N] (default 2000; the stress label runs
 * 100000, the figure in docs/BENCHMARKS.md, "Persistence"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal/journal.h"
#include "shards/persist.h"
#include "tests/unit/test_journal_util.h"
#include "tests/unit/test_shard_harness.h"

#define OLD_SHARDS 4 /* the run that wrote the journals */
#define NEW_SHARDS 4
#define ACTIONS 12   /* actions per battle */
#define SAMPLE 50    /* battles whose state is compared after recovery */

static size_t g_n = 2000;
static char g_dir[64];

static uint64_t bid_of(size_t i)
{
    return 0x10000 + i * 7919;
}

/* The battle i of the generated run, advanced by up to ACTIONS AI-chosen actions. Its actions go
 * to acts (nacts), its setup to *c. */
static void gen(const ships_table *t, size_t i, struct persist_created *c, battle *b,
                battle_action *acts, size_t *nacts)
{
    memset(c, 0, sizeof *c);
    c->phase = PERSIST_RUNNING;
    c->ai_seat = -1;
    for (int s = 0; s < 2; s++) {
        c->has_token[s] = c->has_ship[s] = true;
        memset(c->token[s], (int)(i * 2 + (size_t)s), SHARD_TOKEN_BYTES);
    }
    c->setup.seed = 0x9e3779b97f4a7c15ull * (i + 1);
    c->setup.ship[0] = t->ships[1]; /* free traders: long battles */
    c->setup.ship[1] = t->ships[1];
    c->setup.band = BATTLE_BAND_LONG;
    assert_int_equal(battle_create_quiet(b, &c->setup), BATTLE_OK);
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    *nacts = 0;
    for (int k = 0; k < ACTIONS && !battle_is_over(b); k++) {
        battle_action a;
        int seat = battle_active_seat(b);
        if (seat < 0 || !battle_ai_choose(b, seat, &a))
            break;
        size_t nev;
        assert_int_equal(battle_apply(b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, &nev), BATTLE_OK);
        if (battle_is_over(b)) { /* keep every generated battle unfinished */
            battle_replay(&c->setup, acts, *nacts, b, NULL);
            break;
        }
        acts[(*nacts)++] = a;
    }
}

static void test_recovery_time(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_persist_recovery.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    ships_table t;
    h_ships(&t);

    journal *j[OLD_SHARDS];
    for (unsigned k = 0; k < OLD_SHARDS; k++) {
        journal_opts o = {.dir = g_dir, .shard = k, .first_gen = 1, .policy = JOURNAL_SYNC_NO,
                          .compact_bytes = 1ull << 40};
        journal_error err;
        assert_int_equal(journal_open(&o, NULL, 0, &j[k], &err), 0);
    }
    uint64_t t0 = clock_mono_ms();
    uint32_t *seqs = calloc(g_n, sizeof *seqs);
    assert_non_null(seqs);
    uint64_t bytes = 0, actions = 0;
    for (size_t i = 0; i < g_n; i++) {
        struct persist_created c;
        battle b;
        battle_action acts[ACTIONS];
        size_t na;
        gen(&t, i, &c, &b, acts, &na);
        seqs[i] = battle_last_seq(&b);
        journal *jj = j[shard_of(bid_of(i), OLD_SHARDS)];
        uint8_t buf[PERSIST_CREATED_MAX];
        size_t len = persist_encode_created(buf, sizeof buf, &c);
        assert_int_equal(journal_append(jj, JOURNAL_REC_CREATED, bid_of(i), 0, buf, len), 0);
        for (size_t k = 0; k < na; k++) {
            uint8_t ab[PERSIST_ACTION_MAX];
            size_t al = persist_encode_action(ab, &acts[k]);
            assert_int_equal(journal_append(jj, JOURNAL_REC_ACTION, bid_of(i), k + 1, ab, al), 0);
        }
        actions += na;
        if (i % 256 == 255)
            for (unsigned k = 0; k < OLD_SHARDS; k++)
                assert_int_equal(journal_flush(j[k]), 0);
    }
    for (unsigned k = 0; k < OLD_SHARDS; k++) {
        bytes += journal_get_stats(j[k]).bytes + journal_get_stats(j[k]).pending_bytes;
        assert_int_equal(journal_close(j[k]), 0);
    }
    uint64_t t1 = clock_mono_ms();

    struct shards_opts cfg;
    h_config(&cfg, NEW_SHARDS);
    cfg.ring_slots = 4096;
    cfg.persistence.enabled = true;
    cfg.persistence.dir = g_dir;
    cfg.persistence.fsync = JOURNAL_SYNC_EVERYSEC;
    uint64_t t2 = clock_mono_ns();
    struct harness *h = h_start(&cfg);
    uint64_t t3 = clock_mono_ns();
    assert_non_null(h);
    uint64_t back = 0;
    for (unsigned k = 0; k < NEW_SHARDS; k++)
        back += atomic_load(&shards_stats(h->s, k)->battles_recovered);
    assert_int_equal(back, g_n);
    printf("recovery: %zu battles (%llu actions, %.1f MB of journal written in %llu ms) recovered "
           "on %d shards in %.0f ms (%.1f us per battle)\n",
           g_n, (unsigned long long)actions, bytes / 1e6, (unsigned long long)(t1 - t0), NEW_SHARDS,
           (t3 - t2) / 1e6, (t3 - t2) / 1e3 / (double)g_n);

    /* a sample is exactly where the engine left it (same sequence number) and its seats resume by
     * their tokens */
    for (size_t s = 0; s < SAMPLE && s < g_n; s++) {
        size_t i = s * (g_n / SAMPLE > 0 ? g_n / SAMPLE : 1);
        uint64_t bid = bid_of(i);
        size_t mark = h->nrx;
        h_request(h, 0x100000001ull, bid, PROTO_T_WATCH, 0, NULL);
        long k = h_wait(h, 0x100000001ull, PROTO_T_STATE, mark);
        assert_true(k >= 0);
        assert_int_equal(h->rx[k].ev.seq, seqs[i]);
        mark = h->nrx;
        h_request(h, 0x100000001ull, bid, PROTO_T_LEAVE, 0, NULL);
        assert_true(h_wait(h, 0x100000001ull, PROTO_T_LEFT, mark) >= 0);
        /* a player takes its seat back with the token written before the restart (gen's tokens),
         * from where it was: it misses only that the other seat is away; a wrong token is refused */
        uint8_t seat = (uint8_t)(s % 2);
        conn_id pc = 0x200000000ull + s;
        proto_request rq;
        memset(&rq, 0, sizeof rq);
        rq.u.resume.seat = seat;
        memset(rq.u.resume.token, (int)(i * 2 + seat), PROTO_TOKEN_LEN);
        rq.u.resume.token[PROTO_TOKEN_LEN - 1] ^= 0xff;
        rq.u.resume.last = seqs[i];
        mark = h->nrx;
        h_request(h, pc, bid, PROTO_T_RESUME, 0, &rq);
        k = h_wait(h, pc, PROTO_T_ERROR, mark);
        assert_true(k >= 0);
        assert_int_equal(h->rx[k].ev.u.error.code, PROTO_E_BAD_TOKEN);
        rq.u.resume.token[PROTO_TOKEN_LEN - 1] ^= 0xff;
        mark = h->nrx;
        h_request(h, pc, bid, PROTO_T_RESUME, 0, &rq);
        /* the numbers jumped at the restart: a state past the gap, the other seat away */
        k = h_wait(h, pc, PROTO_T_STATE, mark);
        assert_true(k >= 0);
        assert_int_equal(h->rx[k].ev.seq, seqs[i] + 1 + PERSIST_SEQ_GAP);
        assert_int_equal(h->rx[k].ev.u.state.away, 1u << (1 - seat));
        assert_int_equal(h_find(h, pc, PROTO_T_ERROR, mark), -1);
    }
    h_stop(h);
    free(seqs);
    rm_rf(g_dir);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        g_n = (size_t)strtoull(argv[1], NULL, 10);
    if (g_n == 0)
        g_n = 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_recovery_time)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
