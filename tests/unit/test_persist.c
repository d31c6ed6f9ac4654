/* Persistence through the shard runtime's public API (the test thread plays the network thread, as
 * in test_shard.c): battles journaled by one shards_start are back after the next one, with the
 * state a spectator sees unchanged, under another shard count; players resume with their tokens and
 * play on; ended battles stay ended; a torn tail is cut, damage in the middle stops the start unless
 * skip_damaged; a file-size limit (a full disk) refuses new battles while running ones go on, and
 * clears when writes work again. Plus the journal payload codec (shards/persist.h). */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
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
#define D 0x100000004ull
#define E 0x100000005ull
#define F 0x100000006ull
#define W 0x100000007ull /* spectator */
#define A2 0x200000001ull
#define C2 0x200000003ull

#define BID_M 0x1001ull /* matched, running */
#define BID_P 0x1002ull /* private, waiting */
#define BID_S 0x1003ull /* solo against the AI */
#define BID_G 0x1004ull /* ended before the stop */

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_persist.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(g_dir);
    return 0;
}

static void cfg_persist(struct shards_opts *c, unsigned shards, journal_sync_policy fsync)
{
    h_config(c, shards);
    c->persistence.enabled = true;
    c->persistence.dir = g_dir;
    c->persistence.fsync = fsync;
}

/* ---- codec ---------------------------------------------------------------------------------- */

static void test_codec(void **state)
{
    (void)state;
    ships_table t;
    h_ships(&t);
    struct persist_created c, d;
    memset(&c, 0, sizeof c);
    c.phase = PERSIST_RUNNING;
    c.ai_seat = 1;
    c.has_token[0] = true;
    memset(c.token[0], 0xab, sizeof c.token[0]);
    c.has_ship[0] = c.has_ship[1] = true;
    c.setup.seed = 0xfedcba9876543210ull;
    c.setup.ship[0] = t.ships[0];
    c.setup.ship[1] = t.ships[1];
    c.setup.band = BATTLE_BAND_LONG;
    c.setup.round_limit = 77;
    c.setup.timeout_limit = 2;
    c.setup.timeout_policy = BATTLE_TIMEOUT_END_TURN;
    uint8_t buf[PERSIST_CREATED_MAX];
    size_t n = persist_encode_created(buf, sizeof buf, &c);
    assert_true(n > 0 && n < 1024);
    assert_true(journal_msgpack_valid(buf, n));
    char why[128];
    assert_int_equal(persist_decode_created(buf, n, &d, why, sizeof why), 0);
    assert_int_equal(d.phase, PERSIST_RUNNING);
    assert_int_equal(d.ai_seat, 1);
    assert_true(d.has_token[0] && !d.has_token[1]);
    assert_memory_equal(d.token[0], c.token[0], sizeof c.token[0]);
    assert_memory_equal(&d.setup, &c.setup, sizeof c.setup); /* ships copied whole */
    assert_int_equal(persist_encode_created(buf, 100, &c), 0); /* too small: refused, not cut */

    /* every truncation and a wrong version are refused with a reason */
    n = persist_encode_created(buf, sizeof buf, &c);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(persist_decode_created(buf, k, &d, why, sizeof why), -1);
    buf[1] = 9;
    assert_int_equal(persist_decode_created(buf, n, &d, why, sizeof why), -1);
    assert_non_null(strstr(why, "version"));

    battle_action a = {.kind = BATTLE_ACT_POINT_DEFENSE, .seat = 1, .arg = 300}, b;
    uint8_t ab[PERSIST_ACTION_MAX];
    n = persist_encode_action(ab, &a);
    assert_true(journal_msgpack_valid(ab, n));
    assert_int_equal(persist_decode_action(ab, n, &b), 0);
    assert_int_equal(b.kind, a.kind);
    assert_int_equal(b.seat, 1);
    assert_int_equal(b.arg, 300);
    assert_int_equal(persist_decode_action(ab, n - 1, &b), -1);
    a.kind = BATTLE_ACT_COUNT;
    n = persist_encode_action(ab, &a);
    assert_int_equal(persist_decode_action(ab, n, &b), -1);

    /* a MARK (recovery's renumbering) is no action, and an action is no MARK */
    struct persist_mark m = {.split = 7, .off = 3u << 20}, mm = {0, 0};
    n = persist_encode_mark(ab, &m);
    assert_true(n <= PERSIST_ACTION_MAX && journal_msgpack_valid(ab, n));
    assert_int_equal(persist_decode_action(ab, n, &b), -1);
    assert_int_equal(persist_decode_step(ab, n, &b, &mm), 1);
    assert_int_equal(mm.split, 7);
    assert_int_equal(mm.off, 3u << 20);
    assert_int_equal(persist_decode_step(ab, n - 1, &b, &mm), -1);
    a.kind = BATTLE_ACT_FIRE;
    n = persist_encode_action(ab, &a);
    assert_int_equal(persist_decode_step(ab, n, &b, &mm), 0);

    /* a created record with a seq base (a battle recovered while waiting) keeps it */
    c.seq_base = 1u << 20;
    n = persist_encode_created(buf, sizeof buf, &c);
    assert_int_equal(persist_decode_created(buf, n, &d, why, sizeof why), 0);
    assert_int_equal(d.seq_base, 1u << 20);
}

/* ---- recovery --------------------------------------------------------------------------------- */

static void test_recover_state_resume_and_reshard(void **state)
{
    (void)state;
    struct shards_opts c;
    cfg_persist(&c, 2, JOURNAL_SYNC_ALWAYS);
    struct harness *h = ph_start(&c);

    /* M: a matched battle with some history; the brick cannot be hurt, the trader slowly is */
    h_create(h, BID_M, SHARD_CREATE_MATCHED, A, B, "free_trader", "brick", PROTO_BAND_CLOSE);
    long ia = h_wait(h, A, PROTO_T_STARTED, 0);
    uint8_t tok_a[16];
    memcpy(tok_a, ph_ev(h, ia)->u.started.token, 16);
    for (int i = 0; i < 6; i++) {
        ph_fire(h, A, BID_M, 0);
        ph_fire(h, B, BID_M, 0);
        h_settle(h);
    }
    /* P: private, waiting for a second seat */
    h_create(h, BID_P, SHARD_CREATE_PRIVATE, C, 0, "scout", NULL, PROTO_BAND_SHORT);
    long ic = h_wait(h, C, PROTO_T_CREATED, 0);
    uint8_t tok_c[16];
    memcpy(tok_c, ph_ev(h, ic)->u.created.token, 16);
    /* S: solo against the server's opponent, which answers at once */
    h_create(h, BID_S, SHARD_CREATE_SOLO, D, 0, "scout", NULL, PROTO_BAND_LONG);
    assert_true(h_wait(h, D, PROTO_T_STARTED, 0) >= 0);
    for (int i = 0; i < 3; i++) {
        size_t mark = h->nrx;
        h_request(h, D, BID_S, PROTO_T_END, 0, NULL);
        assert_true(h_wait(h, D, PROTO_T_ROUND, mark) >= 0 || h_find(h, D, PROTO_T_ENDED, 0) >= 0);
    }
    /* G: over before the stop */
    h_create(h, BID_G, SHARD_CREATE_MATCHED, E, F, "glass", "glass", PROTO_BAND_ADJACENT);
    long ie = h_wait(h, E, PROTO_T_STARTED, 0);
    uint8_t tok_e[16];
    memcpy(tok_e, ph_ev(h, ie)->u.started.token, 16);
    ph_fire(h, E, BID_G, 0);
    assert_true(h_wait(h, E, PROTO_T_ENDED, 0) >= 0);
    h_settle(h);

    uint32_t seq_m, seq_s;
    uint64_t dig_m = ph_look(h, W, BID_M, &seq_m), dig_s = ph_look(h, W, BID_S, &seq_s);
    assert_true(seq_m > 6);
    h_stop(h); /* no drain: as far as the battles know, the process died */

    /* back, on three shards now */
    cfg_persist(&c, 3, JOURNAL_SYNC_ALWAYS);
    h = ph_start(&c);
    assert_int_equal(PH_STAT(h, battles_recovered), 3);
    uint32_t seq2;
    assert_true(ph_look(h, W, BID_M, &seq2) == dig_m);
    assert_int_equal(seq2, seq_m);
    assert_true(ph_look(h, W, BID_S, &seq2) == dig_s);

    /* the battle that ended is kept for game.finished_keep_ms as if the server had run on: a
     * resume reads how it ended (and takes no seat) */
    size_t mark = h->nrx;
    ph_resume(h, E, BID_G, 0, tok_e, 0);
    long i = h_wait(h, E, PROTO_T_ENDED, mark);
    assert_int_equal(ph_ev(h, i)->u.ended.reason, PROTO_END_DESTROYED);
    assert_int_equal(h_find(h, E, PROTO_T_ERROR, mark), -1);

    /* a wrong token is still refused */
    mark = h->nrx;
    uint8_t bad[16];
    memset(bad, 1, sizeof bad);
    ph_resume(h, A2, BID_M, 0, bad, seq_m);
    i = h_wait(h, A2, PROTO_T_ERROR, mark);
    assert_int_equal(ph_ev(h, i)->u.error.code, PROTO_E_BAD_TOKEN);

    /* seat 0 resumes from where it was: it misses only that seat 1 is away too. The numbers
     * jumped at the restart (docs/PROTOCOL.md section 8), so that comes as a state, numbered past
     * the gap. */
    mark = h->nrx;
    ph_resume(h, A2, BID_M, 0, tok_a, seq_m);
    i = h_wait(h, A2, PROTO_T_STATE, mark);
    assert_int_equal(ph_ev(h, i)->seq, seq_m + 1 + PERSIST_SEQ_GAP);
    assert_int_equal(ph_ev(h, i)->u.state.away, 2);
    assert_int_equal(h_find(h, A2, PROTO_T_BACK, mark), -1); /* its own absence was never an event */
    assert_int_equal(h_find(h, A2, PROTO_T_AWAY, mark), -1);
    /* and plays on to the end */
    mark = h->nrx;
    h_request(h, A2, BID_M, PROTO_T_FORFEIT, 0, NULL);
    i = h_wait(h, A2, PROTO_T_ENDED, mark);
    assert_int_equal(ph_ev(h, i)->u.ended.reason, PROTO_END_FORFEIT);

    /* the waiting battle: its creator gets "created" again and a guest can join */
    mark = h->nrx;
    ph_resume(h, C2, BID_P, 0, tok_c, 0);
    i = h_wait(h, C2, PROTO_T_CREATED, mark);
    assert_memory_equal(ph_ev(h, i)->u.created.token, tok_c, 16);
    proto_request j;
    memset(&j, 0, sizeof j);
    snprintf(j.u.join.ship, sizeof j.u.join.ship, "scout");
    mark = h->nrx;
    h_request(h, F, BID_P, PROTO_T_JOIN, 0, &j);
    assert_true(h_wait(h, F, PROTO_T_STARTED, mark) >= 0);
    assert_true(h_wait(h, C2, PROTO_T_STARTED, mark) >= 0);
    h_settle(h);
    uint32_t seq_p;
    uint64_t dig_p = ph_look(h, W, BID_P, &seq_p);
    assert_int_equal(h->decode_errors, 0);
    h_stop(h);

    /* once more, one shard: P (now running) and S are back; M, which ended, only to be looked at */
    cfg_persist(&c, 1, JOURNAL_SYNC_EVERYSEC);
    h = ph_start(&c);
    assert_int_equal(PH_STAT(h, battles_recovered), 2);
    assert_true(ph_look(h, W, BID_P, &seq2) == dig_p);
    assert_true(ph_look(h, W, BID_S, NULL) == dig_s);
    mark = h->nrx;
    h_request(h, W, BID_M, PROTO_T_WATCH, 0, NULL);
    i = h_wait(h, W, PROTO_T_STATE, mark);
    assert_int_equal(ph_ev(h, i)->u.state.phase, PROTO_PHASE_ENDED);
    h_stop(h);

    /* past finished_keep_ms an ended battle is not brought back */
    cfg_persist(&c, 1, JOURNAL_SYNC_EVERYSEC);
    c.game.finished_keep_ms = 1;
    usleep(5000);
    h = ph_start(&c);
    mark = h->nrx;
    h_request(h, W, BID_M, PROTO_T_WATCH, 0, NULL);
    i = h_wait(h, W, PROTO_T_ERROR, mark);
    assert_int_equal(ph_ev(h, i)->u.error.code, PROTO_E_NO_SUCH_BATTLE);
    h_stop(h);
}

/* ---- damage ----------------------------------------------------------------------------------- */

static void two_battles(struct harness *h)
{
    h_create(h, BID_M, SHARD_CREATE_MATCHED, A, B, "brick", "brick", PROTO_BAND_CLOSE);
    assert_true(h_wait(h, A, PROTO_T_STARTED, 0) >= 0);
    h_create(h, BID_S, SHARD_CREATE_MATCHED, C, D, "brick", "brick", PROTO_BAND_CLOSE);
    assert_true(h_wait(h, C, PROTO_T_STARTED, 0) >= 0);
    for (int i = 0; i < 4; i++) {
        ph_fire(h, A, BID_M, 0);
        ph_fire(h, B, BID_M, 0);
        ph_fire(h, C, BID_S, 0);
        ph_fire(h, D, BID_S, 0);
        h_settle(h);
    }
}

static void test_torn_tail_and_damage(void **state)
{
    (void)state;
    struct shards_opts c;
    cfg_persist(&c, 1, JOURNAL_SYNC_NO);
    struct harness *h = ph_start(&c);
    two_battles(h);
    uint32_t seq;
    uint64_t dig = ph_look(h, W, BID_M, &seq);
    h_stop(h);

    /* a crash mid-write: half a record at the end of the log */
    char log[512];
    largest_journal_file(g_dir, ".log", log, sizeof log);
    assert_true(log[0]);
    int fd = open(log, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    static const uint8_t torn[] = {0, 0, 0, 40, 1, 2, 3, 4, 0x84, 0xa1};
    assert_int_equal(write(fd, torn, sizeof torn), (ssize_t)sizeof torn);
    close(fd);
    h = ph_start(&c);
    assert_int_equal(PH_STAT(h, battles_recovered), 2);
    uint32_t seq2;
    assert_true(ph_look(h, W, BID_M, &seq2) == dig);
    h_stop(h);

    /* damage in the middle: the recovered battles now sit in a snapshot; flip a byte inside it */
    char snap[512];
    largest_journal_file(g_dir, ".snap", snap, sizeof snap);
    assert_true(snap[0]);
    fd = open(snap, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, 20), 1);
    byte ^= 0x55;
    assert_int_equal(pwrite(fd, &byte, 1, 20), 1);
    close(fd);
    assert_null(h_start(&c)); /* refuses to start, and says where (logged) */
    c.persistence.skip_damaged = true;
    h = ph_start(&c);
    assert_int_equal(PH_STAT(h, battles_recovered), 1); /* the damaged battle left out, the other one back */
    h_stop(h);
}

/* ---- a full disk ------------------------------------------------------------------------------ */

static void test_file_limit_refuses_new_battles(void **state)
{
    (void)state;
    struct shards_opts c;
    cfg_persist(&c, 1, JOURNAL_SYNC_EVERYSEC);
    struct harness *h = ph_start(&c);
    h_create(h, BID_M, SHARD_CREATE_MATCHED, A, B, "brick", "brick", PROTO_BAND_CLOSE);
    assert_true(h_wait(h, A, PROTO_T_STARTED, 0) >= 0);
    h_settle(h);

    struct rlimit old;
    ph_limit_log(g_dir, 2048, &old); /* room for a few records, then EFBIG */

    /* new battles until the journal cannot take them */
    uint64_t bid = 0x5000;
    bool refused = false;
    for (int i = 0; i < 40 && !refused; i++, bid++) {
        size_t mark = h->nrx;
        h_create(h, bid, SHARD_CREATE_PRIVATE, E, 0, "scout", NULL, PROTO_BAND_SHORT);
        long k = -1, e = -1;
        uint64_t until = clock_mono_ms() + H_WAIT_MS;
        while (k < 0 && e < 0 && clock_mono_ms() < until) {
            h_pump(h);
            k = h_find(h, E, PROTO_T_CREATED, mark);
            e = h_find(h, E, PROTO_T_ERROR, mark);
            h_nap();
        }
        assert_true(k >= 0 || e >= 0);
        if (e >= 0) {
            assert_int_equal(ph_ev(h, e)->u.error.code, PROTO_E_SERVER_BUSY);
            refused = true;
        }
        h_settle(h);
    }
    assert_true(refused);
    assert_true(shards_degraded(h->s));
    const struct shard_stats *ss = shards_stats(h->s, 0);
    assert_true(atomic_load(&ss->journal_write_errors) > 0);
    assert_int_equal(atomic_load(&ss->journal_degraded), 1);

    /* the running battle goes on */
    size_t mark = h->nrx;
    ph_fire(h, A, BID_M, 0);
    ph_fire(h, B, BID_M, 0);
    assert_true(h_wait(h, A, PROTO_T_ATTACK, mark) >= 0);

    /* room again: the journal retries on its own within about a second and new battles are back */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    uint64_t until = clock_mono_ms() + 4000;
    while (shards_degraded(h->s) && clock_mono_ms() < until) {
        h_pump(h);
        h_nap();
    }
    assert_false(shards_degraded(h->s));
    mark = h->nrx;
    h_create(h, 0x6000, SHARD_CREATE_PRIVATE, F, 0, "scout", NULL, PROTO_BAND_SHORT);
    assert_true(h_wait(h, F, PROTO_T_CREATED, mark) >= 0);
    h_stop(h);

    /* nothing accepted was lost: the battle and every created one come back */
    h = ph_start(&c);
    assert_true(PH_STAT(h, battles_recovered) >= 3);
    h_stop(h);
}

/* The size of the journal's largest log in g_dir (0 when none). */
static off_t log_size(void)
{
    char path[512];
    largest_journal_file(g_dir, ".log", path, sizeof path);
    struct stat st;
    return path[0] && stat(path, &st) == 0 ? st.st_size : 0;
}

/* server.inline_max with a journal: a shard journaling to local files under everysec runs a
 * sleeping shard's request on the caller's thread too, and the request's record is in the log
 * file before its events are handed over (journal before output); under always the shard thread
 * is always woken (the pass syncs: not on the network thread). */
static void test_inline_journaled(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        journal_sync_policy pol = pass == 0 ? JOURNAL_SYNC_EVERYSEC : JOURNAL_SYNC_ALWAYS;
        struct shards_opts c;
        cfg_persist(&c, 1, pol);
        c.inline_max = 32;
        struct harness *h = ph_start(&c);
        h_create(h, BID_M, SHARD_CREATE_MATCHED, A, B, "brick", "brick", PROTO_BAND_CLOSE);
        assert_true(h_wait(h, B, PROTO_T_STARTED, 0) >= 0);
        h_settle(h);
        const struct shard_stats *st = shards_stats(h->s, 0);
        conn_id active = A; /* seat 0 moves first; then whoever the last turn or round names */
        int inlined = 0;
        for (int i = 0; i < 40 && inlined < 3; i++) {
            struct shard_in m = h_request_msg(active, BID_M, PROTO_T_END, 0, NULL);
            off_t before = log_size();
            size_t mark = h->nrx;
            uint64_t runs = atomic_load(&st->inline_runs);
            assert_true(shards_push(h->s, 0, &m));
            if (shards_run_inline(h->s, clock_mono_ms()) == 1) {
                /* ran here: the record is written before anyone could see the events */
                assert_true(log_size() > before);
                assert_int_equal(atomic_load(&st->inline_runs), runs + 1);
                h_pump(h);
                assert_true(h->nrx > mark); /* and the events are out at once */
                inlined++;
            } else {
                shards_flush(h->s);
            }
            /* whoever ran it, the turn passes (under always after the pass's fsync: wait for it) */
            long t = -1, r = -1;
            for (uint64_t end = clock_mono_ms() + 10000; t < 0 && r < 0 && clock_mono_ms() < end;) {
                h_pump(h);
                t = h_find(h, A, PROTO_T_TURN, mark);
                r = h_find(h, A, PROTO_T_ROUND, mark);
                if (t < 0 && r < 0)
                    h_nap();
            }
            assert_true(t >= 0 || r >= 0);
            h_settle(h);
            uint8_t seat = t >= 0 ? ph_ev(h, t)->u.turn.active : ph_ev(h, r)->u.round.active;
            active = seat == 0 ? A : B;
        }
        if (pol == JOURNAL_SYNC_EVERYSEC)
            assert_true(inlined > 0);
        else
            assert_int_equal(atomic_load(&st->inline_runs), 0);
        h_stop(h);
        rm_rf(g_dir);
        assert_int_equal(mkdir(g_dir, 0700), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test_setup_teardown(test_recover_state_resume_and_reshard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_and_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_limit_refuses_new_battles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_journaled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
