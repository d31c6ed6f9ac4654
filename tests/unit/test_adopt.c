/* Runtime adoption (shards_adopt, cluster failover) through the shard runtime's public API: a
 * first runtime journals battles in directory A and stops as if its node died; A is loaded into a
 * journal_set as the cluster thread would load the dead node's segments; a second runtime, already
 * running and journaling its own battles in directory B, adopts the set from another thread. The
 * adopted battles are there as a spectator saw them before, players resume them with their tokens
 * and their last seq and play on, a waiting battle can still be joined, adopting the same set again
 * counts duplicates, and a copy of B taken the moment shards_adopt returned (what a SIGKILL right
 * then would leave) recovers them in a third runtime. Also: a battle that cannot be rebuilt is
 * counted and skipped, a draining runtime takes nothing on, and records that cannot be made
 * durable make the call time out. The test thread plays the network thread (as in
 * test_persist.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal/journal.h"
#include "shards/persist.h"
#include "tests/unit/test_journal_util.h"
#include "tests/unit/test_shard_harness.h"
#include "tests/unit/test_persist_util.h"
#include "tests/unit/test_persist_harness.h"

#define A 0x100000001ull
#define B 0x100000002ull
#define C 0x100000003ull
#define E 0x100000005ull
#define F 0x100000006ull
#define W 0x100000007ull /* spectator */
#define X 0x100000008ull /* the adopting node's own players */
#define Y 0x100000009ull
#define A2 0x200000001ull
#define B2 0x200000002ull
#define C2 0x200000003ull
#define E2 0x200000005ull

#define BID_M 0x2001ull /* matched, running, with history */
#define BID_P 0x2002ull /* private, waiting */
#define BID_G 0x2003ull /* ended before the node died: kept */
#define BID_X 0x2004ull /* the adopting node's own battle */

#define ADOPT_WAIT_MS 5000

static char g_dir_a[128], g_dir_b[128], g_dir_c[128];

static int setup(void **state)
{
    (void)state;
    make_dir(g_dir_a, sizeof g_dir_a);
    make_dir(g_dir_b, sizeof g_dir_b);
    make_dir(g_dir_c, sizeof g_dir_c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(g_dir_a);
    rm_rf(g_dir_b);
    rm_rf(g_dir_c);
    return 0;
}

static void cfg_persist(struct shards_opts *c, unsigned shards, const char *dir)
{
    h_config(c, shards);
    c->persistence.enabled = true;
    c->persistence.dir = dir;
    c->persistence.fsync = JOURNAL_SYNC_ALWAYS;
}

/* Copies every regular file of from into to: the journal as a SIGKILL at this moment leaves it
 * (the runtime keeps no buffered record past a pass under fsync=always). */
static void copy_dir(const char *from, const char *to)
{
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char src[512], dst[512];
        struct stat st;
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        if (stat(src, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(in >= 0 && out >= 0);
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            assert_int_equal(write(out, buf, (size_t)n), n);
        assert_int_equal(n, 0);
        close(in);
        close(out);
    }
    closedir(d);
}

struct first_life {
    uint8_t tok_a[16], tok_b[16], tok_c[16], tok_e[16];
    uint64_t dig_m;
    uint32_t seq_m;
};

/* The node that dies: M running with some history, P waiting, G ended; journaled in dir A. */
static void first_node(struct first_life *fl)
{
    struct shards_opts c;
    cfg_persist(&c, 2, g_dir_a);
    struct harness *h = ph_start(&c);
    h_create(h, BID_M, SHARD_CREATE_MATCHED, A, B, "free_trader", "brick", PROTO_BAND_CLOSE);
    long ia = h_wait(h, A, PROTO_T_STARTED, 0), ib = h_wait(h, B, PROTO_T_STARTED, 0);
    memcpy(fl->tok_a, ph_ev(h, ia)->u.started.token, 16);
    memcpy(fl->tok_b, ph_ev(h, ib)->u.started.token, 16);
    for (int i = 0; i < 4; i++) {
        ph_fire(h, A, BID_M, 0);
        ph_fire(h, B, BID_M, 0);
        h_settle(h);
    }
    h_create(h, BID_P, SHARD_CREATE_PRIVATE, C, 0, "scout", NULL, PROTO_BAND_SHORT);
    long ic = h_wait(h, C, PROTO_T_CREATED, 0);
    memcpy(fl->tok_c, ph_ev(h, ic)->u.created.token, 16);
    h_create(h, BID_G, SHARD_CREATE_MATCHED, E, F, "glass", "glass", PROTO_BAND_ADJACENT);
    long ie = h_wait(h, E, PROTO_T_STARTED, 0);
    memcpy(fl->tok_e, ph_ev(h, ie)->u.started.token, 16);
    ph_fire(h, E, BID_G, 0);
    assert_true(h_wait(h, E, PROTO_T_ENDED, 0) >= 0);
    h_settle(h);
    fl->dig_m = ph_look(h, W, BID_M, &fl->seq_m);
    assert_true(fl->seq_m > 6);
    assert_int_equal(h->decode_errors, 0);
    h_stop(h); /* no drain: as far as its battles know, the node died */
}

static journal_set *load_dir(const char *dir)
{
    journal_load_opts lo = {.keep_ended = true};
    journal_set *set = NULL;
    journal_error err;
    assert_int_equal(journal_load(dir, &lo, &set, &err), 0);
    return set;
}

static void test_adopt_resume_duplicates_and_crash(void **state)
{
    (void)state;
    struct first_life fl;
    first_node(&fl);
    journal_set *set = load_dir(g_dir_a);
    assert_int_equal(journal_set_count(set), 3);

    /* The surviving node, three shards, with a battle of its own going on. */
    struct shards_opts c;
    cfg_persist(&c, 3, g_dir_b);
    struct harness *h = ph_start(&c);
    h_create(h, BID_X, SHARD_CREATE_MATCHED, X, Y, "brick", "brick", PROTO_BAND_CLOSE);
    assert_true(h_wait(h, X, PROTO_T_STARTED, 0) >= 0);
    ph_fire(h, X, BID_X, 0);
    h_settle(h);
    uint32_t seq_x;
    uint64_t dig_x = ph_look(h, W, BID_X, &seq_x);

    struct shards_adopt_result res;
    assert_int_equal(ph_adopt(h, set, ADOPT_WAIT_MS, &res), 0);
    copy_dir(g_dir_b, g_dir_c); /* a SIGKILL now leaves this */
    assert_int_equal(res.adopted, 2);
    assert_int_equal(res.ended_kept, 1);
    assert_int_equal(res.duplicates, 0);
    assert_int_equal(res.over, 0);
    assert_int_equal(res.failed, 0);
    assert_int_equal(PH_STAT(h, battles_adopted), 2);
    assert_int_equal(PH_STAT(h, battles_recovered), 0);

    /* M is as a spectator saw it on the dead node; the node's own battle is untouched */
    uint32_t seq;
    assert_true(ph_look(h, W, BID_M, &seq) == fl.dig_m); /* running, as it was */
    assert_int_equal(seq, fl.seq_m);
    assert_true(ph_look(h, W, BID_X, &seq) == dig_x);
    assert_int_equal(seq, seq_x);

    /* the same set again: every battle is a duplicate, nothing changes */
    struct shards_adopt_result again;
    assert_int_equal(ph_adopt(h, set, ADOPT_WAIT_MS, &again), 0);
    assert_int_equal(again.duplicates, 3);
    assert_int_equal(again.adopted + again.ended_kept + again.over + again.failed, 0);
    assert_int_equal(PH_STAT(h, battles_adopted), 2);
    journal_set_free(set); /* the runtime kept nothing of it */

    /* a wrong token is refused */
    size_t mark = h->nrx;
    uint8_t bad[16];
    memset(bad, 1, sizeof bad);
    ph_resume(h, A2, BID_M, 0, bad, fl.seq_m);
    long i = h_wait(h, A2, PROTO_T_ERROR, mark);
    assert_int_equal(ph_ev(h, i)->u.error.code, PROTO_E_BAD_TOKEN);

    /* seat 0 resumes with the last seq it saw: a state numbered past the jump, both seats away */
    mark = h->nrx;
    ph_resume(h, A2, BID_M, 0, fl.tok_a, fl.seq_m);
    i = h_wait(h, A2, PROTO_T_STATE, mark);
    assert_int_equal(ph_ev(h, i)->seq, fl.seq_m + 1 + PERSIST_SEQ_GAP);
    assert_int_equal(ph_ev(h, i)->u.state.away, 2);
    /* seat 1 missed two events before the failover: a last from before the jump is answered with
     * a state at the battle's latest seq (docs/PROTOCOL.md section 8), the missed events in it:
     * past seat 0's return and its own */
    mark = h->nrx;
    ph_resume(h, B2, BID_M, 1, fl.tok_b, fl.seq_m - 2);
    i = h_wait(h, B2, PROTO_T_STATE, mark);
    assert_int_equal(ph_ev(h, i)->seq, fl.seq_m + 2 + PERSIST_SEQ_GAP);
    assert_int_equal(ph_ev(h, i)->u.state.away, 0);
    assert_int_equal(h_find(h, B2, PROTO_T_ERROR, mark), -1);
    /* and they play on: numbers keep climbing past the jump */
    h_settle(h);
    mark = h->nrx;
    ph_fire(h, A2, BID_M, 0);
    ph_fire(h, B2, BID_M, 0);
    i = h_wait(h, A2, PROTO_T_ATTACK, mark);
    assert_true(ph_ev(h, i)->seq > fl.seq_m + PERSIST_SEQ_GAP);
    assert_true(h_wait(h, B2, PROTO_T_ATTACK, mark) >= 0);
    h_settle(h);
    uint32_t seq_m2;
    uint64_t dig_m2 = ph_look(h, W, BID_M, &seq_m2);

    /* the waiting battle: its creator gets "created" again */
    mark = h->nrx;
    ph_resume(h, C2, BID_P, 0, fl.tok_c, 0);
    i = h_wait(h, C2, PROTO_T_CREATED, mark);
    assert_memory_equal(ph_ev(h, i)->u.created.token, fl.tok_c, 16);

    /* the ended one: a resume reads how it ended */
    mark = h->nrx;
    ph_resume(h, E2, BID_G, 0, fl.tok_e, 0);
    i = h_wait(h, E2, PROTO_T_ENDED, mark);
    assert_int_equal(ph_ev(h, i)->u.ended.reason, PROTO_END_DESTROYED);
    assert_int_equal(h->decode_errors, 0);
    h_settle(h);
    h_stop(h);

    /* This node dies right after the adoption (dir C, copied when shards_adopt returned): its own
     * journal brings the adopted battles back. */
    cfg_persist(&c, 2, g_dir_c);
    h = ph_start(&c);
    assert_int_equal(PH_STAT(h, battles_recovered), 3); /* M, P and its own X */
    assert_true(ph_look(h, W, BID_M, &seq) == fl.dig_m);
    assert_int_equal(seq, fl.seq_m);
    mark = h->nrx;
    ph_resume(h, C2, BID_P, 0, fl.tok_c, 0);
    assert_true(h_wait(h, C2, PROTO_T_CREATED, mark) >= 0);
    proto_request j;
    memset(&j, 0, sizeof j);
    snprintf(j.u.join.ship, sizeof j.u.join.ship, "scout");
    mark = h->nrx;
    h_request(h, F, BID_P, PROTO_T_JOIN, 0, &j);
    assert_true(h_wait(h, F, PROTO_T_STARTED, mark) >= 0);
    assert_true(h_wait(h, C2, PROTO_T_STARTED, mark) >= 0);
    mark = h->nrx;
    h_request(h, W, BID_G, PROTO_T_WATCH, 0, NULL);
    i = h_wait(h, W, PROTO_T_STATE, mark);
    assert_int_equal(ph_ev(h, i)->u.state.phase, PROTO_PHASE_ENDED);
    h_stop(h);

    /* and after the stop of the node that played on (dir B), M is back as it was last played */
    cfg_persist(&c, 1, g_dir_b);
    h = ph_start(&c);
    assert_true(ph_look(h, W, BID_M, &seq) == dig_m2);
    assert_int_equal(seq, seq_m2);
    h_stop(h);
}

/* Bad arguments, an empty set, and a set of battles of which one cannot be rebuilt. */
static void test_adopt_edges(void **state)
{
    (void)state;
    struct shards_opts c;
    cfg_persist(&c, 2, g_dir_b);
    struct harness *h = ph_start(&c);
    struct shards_adopt_result res;
    assert_int_equal(shards_adopt(h->s, NULL, 100, &res), -EINVAL);
    assert_int_equal(shards_adopt(NULL, NULL, 100, &res), -EINVAL);

    /* one running battle whose first action the engine refuses (a weapon the ship has not got), and
     * one sound waiting battle */
    uint8_t created[PERSIST_CREATED_MAX], waiting[PERSIST_CREATED_MAX], act[PERSIST_ACTION_MAX];
    struct persist_created pc;
    memset(&pc, 0, sizeof pc);
    pc.phase = PERSIST_RUNNING;
    pc.ai_seat = -1;
    pc.has_token[0] = pc.has_token[1] = true;
    memset(pc.token[0], 0x11, 16);
    memset(pc.token[1], 0x22, 16);
    pc.has_ship[0] = pc.has_ship[1] = true;
    pc.setup.ship[0] = h->ships.ships[0];
    pc.setup.ship[1] = h->ships.ships[1];
    pc.setup.seed = 42;
    pc.setup.round_limit = 50;
    size_t nc = persist_encode_created(created, sizeof created, &pc);
    battle_action bad = {.kind = BATTLE_ACT_FIRE, .seat = 0, .arg = 200}; /* no such weapon */
    size_t na = persist_encode_action(act, &bad);
    struct persist_created pw = pc;
    pw.phase = PERSIST_WAITING;
    pw.has_token[1] = pw.has_ship[1] = false;
    size_t nw = persist_encode_created(waiting, sizeof waiting, &pw);
    assert_true(nc > 0 && nw > 0);
    uint8_t seg[8192];
    size_t len = 0;
    len += journal_record_encode(seg + len, sizeof seg - len, JOURNAL_REC_CREATED, 0x3001, 0,
                                 created, nc);
    len += journal_record_encode(seg + len, sizeof seg - len, JOURNAL_REC_ACTION, 0x3001, 1, act,
                                 na);
    len += journal_record_encode(seg + len, sizeof seg - len, JOURNAL_REC_CREATED, 0x3002, 0,
                                 waiting, nw);
    const uint8_t *bufs[1] = {seg};
    size_t lens[1] = {len};
    bool is_log[1] = {true};
    journal_load_opts lo = {.keep_ended = true};
    journal_set *set = NULL;
    journal_error err;
    assert_int_equal(journal_load_buffers(bufs, lens, NULL, is_log, 1, &lo, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 2);
    assert_int_equal(ph_adopt(h, set, ADOPT_WAIT_MS, &res), 0);
    assert_int_equal(res.failed, 1);
    assert_int_equal(res.adopted, 1);
    journal_set_free(set);

    /* an empty set: nothing to do, at once */
    assert_int_equal(journal_load_buffers(bufs, lens, NULL, is_log, 0, &lo, &set, &err), 0);
    assert_int_equal(ph_adopt(h, set, ADOPT_WAIT_MS, &res), 0);
    assert_int_equal(res.adopted + res.duplicates + res.failed, 0);
    journal_set_free(set);
    assert_int_equal(PH_STAT(h, battles_adopted), 1);

    /* a node that drains takes nothing on */
    assert_int_equal(journal_load_buffers(bufs, lens, NULL, is_log, 1, &lo, &set, &err), 0);
    for (unsigned k = 0; k < shards_count(h->s); k++) {
        struct shard_in m;
        memset(&m, 0, sizeof m);
        m.kind = SHARD_IN_DRAIN;
        m.u.drain.grace_ms = 60000;
        assert_true(shards_push(h->s, k, &m));
    }
    shards_flush(h->s);
    h_settle(h);
    assert_int_equal(ph_adopt(h, set, ADOPT_WAIT_MS, &res), -ESHUTDOWN);
    assert_int_equal(res.adopted + res.duplicates + res.failed, 0);
    journal_set_free(set);
    h_stop(h);
}

/* Records that cannot be made durable (a file-size limit: the journal's writes fail and are
 * retried) make shards_adopt give up at its timeout, the battles already on the shard; once writes
 * work again they are journaled after all. */
static void test_adopt_timeout(void **state)
{
    (void)state;
    struct first_life fl;
    first_node(&fl);
    journal_set *set = load_dir(g_dir_a);
    struct shards_opts c;
    cfg_persist(&c, 1, g_dir_b);
    struct harness *h = ph_start(&c);
    h_create(h, BID_X, SHARD_CREATE_MATCHED, X, Y, "brick", "brick", PROTO_BAND_CLOSE);
    assert_true(h_wait(h, X, PROTO_T_STARTED, 0) >= 0);
    h_settle(h);

    struct rlimit old;
    ph_limit_log(g_dir_b, 0, &old); /* not one byte more */
    struct shards_adopt_result res;
    uint64_t t0 = clock_mono_ms();
    int rc = ph_adopt(h, set, 300, &res);
    uint64_t took = clock_mono_ms() - t0;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(took >= 300 && took < 300 + H_WAIT_MS);
    assert_int_equal(res.adopted, 2); /* the shard did its part; only durability was missing */
    assert_int_equal(res.ended_kept, 1);
    journal_set_free(set); /* the runtime holds nothing of it after the timeout */

    /* writes work again within about a second: the journal catches up on its own */
    uint64_t until = clock_mono_ms() + H_WAIT_MS;
    while (shards_degraded(h->s) && clock_mono_ms() < until) {
        h_pump(h);
        h_nap();
    }
    assert_false(shards_degraded(h->s));
    uint32_t seq;
    assert_true(ph_look(h, W, BID_M, &seq) == fl.dig_m);
    h_stop(h);
    h = ph_start(&c);
    assert_int_equal(PH_STAT(h, battles_recovered), 3); /* M, P and X */
    assert_true(ph_look(h, W, BID_M, &seq) == fl.dig_m);
    h_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_adopt_resume_duplicates_and_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopt_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopt_timeout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
