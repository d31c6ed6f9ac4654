/* Integration: battles survive a SIGKILL of the real server (persistence.enabled).
 *
 * Many battles (player against player and against the server's AI) are played a few rounds; then
 * every battle is looked at by a spectator (a digest of its full state), half of them get a burst
 * of actions that is still in flight when the server is killed with SIGKILL. After a restart on the
 * same data directory (also with another shard count) every unfinished battle is back: the quiet
 * ones exactly as the spectator saw them before the kill, the others at least as far as any of its
 * players had been told (no event that left the server is lost); the players resume with their
 * tokens and the events they missed, and play to the end. Also: a torn tail is cut, damage in the
 * middle stops the start (and skip_damaged starts anyway), and a file-size limit on the server
 * process (a full disk) refuses new battles while running ones go on.
 *
 * With BATTLED_TEST_REDIS=1 in the environment (tests/cluster/persist.cmake registers it so, label
 * cluster) the same kills run with persistence.backend=redis against a redis-server each test
 * starts on a free loopback port; the two file-only tests are left out. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shards/shard.h"
#include "tests/cluster/redis_harness.h"
#include "tests/integration/itest.h"
#include "tests/unit/test_persist_util.h"

#define NPVP 12          /* battles between two clients */
#define NSOLO 8          /* battles against the server's AI */
#define NB (NPVP + NSOLO)
#define ROUNDS 3         /* rounds played before the look */
#define PLAY_MS 60000    /* to play a battle to its end after the restart */

struct bt {
    itest_player a, b; /* b unused (NULL seat) for a solo battle */
    bool solo;
    bool burst;        /* got actions in flight at the kill */
    bool ended_before; /* its players saw it end before the kill */
    uint64_t digest;
    uint32_t seq;
};

static struct bt g_b[NB];
static char g_pdir[64];
static char g_set_dir[160];
static bool g_redis_mode;        /* BATTLED_TEST_REDIS: the journal lives in Redis */
static rh_server g_redis;
static char g_set_redis[80];

/* ---- helpers ---------------------------------------------------------------------------------- */

static int pdir_make(void **state)
{
    (void)state;
    snprintf(g_pdir, sizeof g_pdir, "/tmp/battled-persist-XXXXXX");
    if (!mkdtemp(g_pdir))
        return -1;
    snprintf(g_set_dir, sizeof g_set_dir, "persistence.dir=%s", g_pdir);
    if (g_redis_mode) {
        if (!rh_start(&g_redis))
            return -1;
        snprintf(g_set_redis, sizeof g_set_redis, "persistence.redis_address=%s",
                 g_redis.address);
    }
    return 0;
}

/* Redis mode, for the outage test: Redis with its own persistence (AOF, appendfsync always), so
 * what it acknowledged survives its restart. */
static int pdir_make_aof(void **state)
{
    g_redis.aof = true; /* rh_restart keeps it; pdir_remove clears it */
    return pdir_make(state);
}

/* Teardown: runs after a failed test too, so no data directory is left behind. */
static int pdir_remove(void **state)
{
    (void)state;
    if (g_redis_mode) {
        rh_stop(&g_redis);
        g_redis.aof = false;
    }
    DIR *d = opendir(g_pdir);
    if (!d)
        return 0;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", g_pdir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(g_pdir);
    return 0;
}

/* Starts the server on the persistence dir with fsync policy and shard count (0 = the run's). */
static char g_admin_file[96];

/* The admin port of the server start() started last (its port file is written before the game's). */
static uint16_t admin_port(void)
{
    uint16_t p = itest_admin_port(g_admin_file);
    assert_true(p > 0);
    return p;
}

/* A counter from the server's /metrics. */
static double metric(const char *name)
{
    static char page[256 * 1024];
    assert_int_equal(itest_http_get(admin_port(), "/metrics", page, sizeof page), 200);
    double v = itest_metric(page, name);
    if (v < 0)
        fail_msg("/metrics lacks %s", name);
    return v;
}

static bool start(itest_server *s, const char *fsync, int shards, bool skip_damaged)
{
    static char set_fsync[64], set_shards[64], set_admin[128];
    snprintf(set_fsync, sizeof set_fsync, "persistence.fsync=%s", fsync);
    snprintf(set_shards, sizeof set_shards, "server.shards=%d", shards ? shards : itest_shards());
    snprintf(g_admin_file, sizeof g_admin_file, "/tmp/battled-persist-admin-%d.port", (int)getpid());
    snprintf(set_admin, sizeof set_admin, "admin.port_file=%s", g_admin_file);
    unlink(g_admin_file);
    const char *sets[] = {"persistence.enabled=true", g_set_dir, set_fsync, set_shards,
                          "admin.listen=127.0.0.1:0", set_admin,
                          "game.ai_think_ms=0", "game.turn_timer_ms=60000",
                          "game.resume_window_ms=60000", "game.finished_keep_ms=600000",
                          "server.drain_timeout_ms=200", "log.level=info",
                          g_redis_mode ? "persistence.backend=redis" : "log.level=info",
                          g_redis_mode ? g_set_redis : "log.level=info",
                          skip_damaged ? "persistence.skip_damaged=true" : NULL, NULL};
    return itest_start(s, sets);
}

static void open_battle(const itest_server *s, struct bt *b, bool solo)
{
    proto_event ev;
    memset(b, 0, sizeof *b);
    b->solo = solo;
    itest_player_init(&b->a, itest_client(s, "a"));
    if (solo) {
        assert_true(pc_create(b->a.c, "free_trader", PROTO_BAND_LONG, PROTO_VS_AI, "free_trader") > 0);
        itest_expect(b->a.c, PROTO_T_STARTED, &ev);
        itest_take_started(&b->a, &ev);
        return;
    }
    assert_true(pc_create(b->a.c, "free_trader", PROTO_BAND_LONG, PROTO_VS_PLAYER, "") > 0);
    itest_expect(b->a.c, PROTO_T_CREATED, &ev);
    uint64_t bid = ev.bid;
    itest_player_init(&b->b, itest_client(s, "b"));
    assert_true(pc_join(b->b.c, bid, "free_trader") > 0);
    itest_expect(b->b.c, PROTO_T_STARTED, &ev);
    itest_take_started(&b->b, &ev);
    itest_expect(b->a.c, PROTO_T_STARTED, &ev);
    itest_take_started(&b->a, &ev);
}

static itest_player *pb(struct bt *b)
{
    return b->solo ? NULL : &b->b;
}

static bool over(const struct bt *b)
{
    return b->a.t.ended || (!b->solo && b->b.t.ended);
}

/* Plays until round `until` begins (or the battle ends), every action answered. */
static void advance(struct bt *b, uint32_t until)
{
    itest_player *ps[2] = {&b->a, pb(b)};
    uint64_t end = itest_now_ms() + 20000;
    while (!over(b) && b->a.t.round < until) {
        assert_true(itest_now_ms() < end);
        for (int i = 0; i < 2; i++) {
            itest_player *p = ps[i];
            if (!p || p->t.ended)
                continue;
            itest_act(p);
            proto_event ev;
            int r = pc_recv(p->c, &ev, 2);
            assert_true(r >= 0);
            if (r == 1)
                itest_track(p, &ev);
        }
    }
    /* both seats have heard everything: nothing more comes without an action */
    for (int i = 0; i < 2; i++) {
        itest_player *p = ps[i];
        proto_event ev;
        while (p && pc_recv(p->c, &ev, 50) == 1)
            itest_track(p, &ev);
    }
}

/* A spectator's look: 1 and the state's digest and seq, 2 when the battle has ended (kept for its
 * result: a look, not a place), or 0 when the server knows no such battle. */
static int look(pc_conn *w, uint64_t bid, uint64_t *digest, uint32_t *seq)
{
    assert_true(pc_watch(w, bid) > 0);
    proto_event ev;
    for (;;) {
        itest_next(w, &ev);
        if (ev.type == PROTO_T_ERROR && ev.bid == bid) {
            assert_int_equal(ev.u.error.code, PROTO_E_NO_SUCH_BATTLE);
            return 0;
        }
        if (ev.type == PROTO_T_STATE && ev.bid == bid)
            break;
    }
    *digest = state_digest(&ev);
    *seq = ev.seq;
    if (ev.u.state.phase == PROTO_PHASE_ENDED)
        return 2;
    assert_true(pc_leave(w, bid) > 0);
    do
        itest_next(w, &ev);
    while (!(ev.type == PROTO_T_LEFT && ev.bid == bid));
    return 1;
}

/* Reads what the dead server sent before it died (until the connection closes). */
static void drain_dead(itest_player *p)
{
    proto_event ev;
    int r;
    while (p && p->c && (r = pc_recv(p->c, &ev, 2000)) != -1 && r != 0)
        itest_track(p, &ev);
    if (p && p->c) {
        pc_close(p->c);
        p->c = NULL;
    }
}

static uint32_t last_seq(const itest_player *p)
{
    uint32_t m = 0;
    for (uint32_t i = 0; p && i < p->nseq; i++)
        if (p->seqs[i] > m)
            m = p->seqs[i];
    return m;
}

/* A player comes back on a new connection with its token and what it last saw. */
static void come_back(const itest_server *s, itest_player *p)
{
    if (!p)
        return;
    p->c = itest_client(s, "back");
    uint32_t last = last_seq(p);
    assert_true(pc_resume(p->c, p->t.bid, (uint8_t)p->t.seat, p->t.token, last) > 0);
    /* the answer: the missed events, or a state when there were none */
    proto_event ev;
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    for (;;) {
        assert_true(itest_now_ms() < end);
        int r = pc_recv(p->c, &ev, 100);
        assert_true(r >= 0);
        if (r == 0)
            break; /* the events came, nothing more for now */
        if (itest_track(p, &ev) && ev.type == PROTO_T_STATE)
            break;
    }
    /* An action sent just before the kill that never made it must be sent again; one that did
     * moved the turn on (the missed events or the state say so). */
    p->fired_round = 0;
}

/* ---- the kill -------------------------------------------------------------------------------- */

/* Redis mode: the journal is in Redis (segments listed under the default prefix), not on disk. */
static void assert_journal_in_redis(void)
{
    redisContext *c = rh_connect(&g_redis);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "SCARD battled:files");
    assert_non_null(r);
    assert_true(r->integer > 0);
    freeReplyObject(r);
    redisFree(c);
    DIR *d = opendir(g_pdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        assert_true(strncmp(e->d_name, "shard-", 6) != 0);
    if (d)
        closedir(d);
}

static void kill_and_recover(const char *fsync, int shards_after)
{
    itest_server s1, s2;
    assert_true(start(&s1, fsync, 0, false));
    for (int i = 0; i < NB; i++)
        open_battle(&s1, &g_b[i], i >= NPVP);
    for (uint32_t r = 2; r <= ROUNDS; r++)
        for (int i = 0; i < NB; i++)
            advance(&g_b[i], r);

    pc_conn *w = itest_client(&s1, "spectator");
    for (int i = 0; i < NB; i++) {
        struct bt *b = &g_b[i];
        b->ended_before = over(b);
        if (!b->ended_before)
            assert_int_equal(look(w, b->a.t.bid, &b->digest, &b->seq), 1);
    }
    /* in flight at the kill: every seat whose turn it is acts, nobody waits for the answer */
    for (int i = 1; i < NB; i += 2) {
        struct bt *b = &g_b[i];
        if (b->ended_before)
            continue;
        b->burst = true;
        itest_act(&b->a);
        itest_act(pb(b));
    }
    assert_int_equal(itest_stop(&s1, SIGKILL, 5000), -2);
    if (g_redis_mode)
        assert_journal_in_redis();
    pc_close(w);
    for (int i = 0; i < NB; i++) {
        drain_dead(&g_b[i].a);
        drain_dead(pb(&g_b[i]));
    }
    itest_cleanup(&s1);

    assert_true(start(&s2, fsync, shards_after, false));
    w = itest_client(&s2, "spectator");
    int back = 0;
    for (int i = 0; i < NB; i++) {
        struct bt *b = &g_b[i];
        uint64_t d;
        uint32_t seq;
        int found = look(w, b->a.t.bid, &d, &seq);
        if (b->ended_before) {
            /* an ended battle is back only to be looked at, for game.finished_keep_ms */
            assert_int_equal(found, 2);
            continue;
        }
        if (over(b)) { /* the burst ended it: it may be back only if its end was not journaled */
            continue;
        }
        assert_int_equal(found, 1);
        back++;
        if (!b->burst) {
            if (d != b->digest)
                fail_msg("battle %llu: state after the restart differs (seq %u, was %u)",
                         (unsigned long long)b->a.t.bid, seq, b->seq);
        } else {
            /* nothing a player was told is lost */
            uint32_t seen = last_seq(&b->a) > last_seq(pb(b)) ? last_seq(&b->a) : last_seq(pb(b));
            assert_true(seq >= seen);
            assert_true(seq >= b->seq);
        }
    }
    assert_true(back >= NB / 2);
    int bursts = 0;
    for (int i = 0; i < NB; i++)
        bursts += g_b[i].burst;
    printf("fsync=%s: %d of %d battles back after SIGKILL (%d had actions in flight)\n", fsync, back,
           NB, bursts);
    pc_close(w);

    /* everybody resumes and plays to the end */
    for (int i = 0; i < NB; i++) {
        struct bt *b = &g_b[i];
        if (b->ended_before || over(b))
            continue;
        come_back(&s2, &b->a);
        come_back(&s2, pb(b));
        itest_play(&b->a, pb(b), PLAY_MS);
        assert_true(b->a.t.ended);
    }
    for (int i = 0; i < NB; i++) {
        if (g_b[i].a.c)
            pc_close(g_b[i].a.c);
        if (!g_b[i].solo && g_b[i].b.c)
            pc_close(g_b[i].b.c);
    }
    assert_int_equal(itest_finish(&s2, 10000), 0);
}

static void test_kill_always(void **state)
{
    (void)state;
    kill_and_recover("always", 0);
}

static void test_kill_everysec_reshard(void **state)
{
    (void)state;
    kill_and_recover("everysec", itest_shards() == 1 ? 3 : 1);
}

/* ---- damage --------------------------------------------------------------------------------- */

/* Whether one line of the server's log holds needle (and also2, unless NULL). */
static bool log_has2(const itest_server *s, const char *needle, const char *also2)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) && (!also2 || strstr(line, also2));
    fclose(f);
    return found;
}

static bool log_has(const itest_server *s, const char *needle)
{
    return log_has2(s, needle, NULL);
}

static void test_torn_tail_and_corrupt_middle(void **state)
{
    (void)state;
    itest_server s;
    assert_true(start(&s, "always", 0, false));
    for (int i = 0; i < 4; i++) {
        open_battle(&s, &g_b[i], false);
        advance(&g_b[i], 2);
    }
    assert_int_equal(itest_stop(&s, SIGKILL, 5000), -2);
    itest_cleanup(&s);
    for (int i = 0; i < 4; i++) {
        pc_close(g_b[i].a.c);
        pc_close(g_b[i].b.c);
    }

    /* a crash mid-write leaves half a record: cut with a warning, the battles are back */
    char path[512];
    largest_journal_file(g_pdir, ".log", path, sizeof path);
    assert_true(path[0]);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    static const uint8_t torn[] = {0, 0, 1, 0, 9, 9, 9, 9, 0x84};
    assert_int_equal(write(fd, torn, sizeof torn), (ssize_t)sizeof torn);
    close(fd);
    assert_true(start(&s, "always", 0, false));
    assert_true(log_has(&s, "torn tail cut"));
    assert_int_equal(metric("battled_journal_torn_tails_total"), 1);
    assert_int_equal(metric("battled_journal_battles_skipped_total"), 0);
    assert_int_equal(metric("battled_journal_buffer_full_writes_total"), 0);
    assert_int_equal(metric("battled_journal_compaction_errors_total"), 0);
    pc_conn *w = itest_client(&s, "w");
    uint64_t d;
    uint32_t seq;
    for (int i = 0; i < 4; i++)
        assert_int_equal(look(w, g_b[i].a.t.bid, &d, &seq), 1);
    pc_close(w);
    assert_int_equal(itest_stop(&s, SIGKILL, 5000), -2);
    itest_cleanup(&s);

    /* damage inside a snapshot (the recovered battles live there now): no start, file and offset
     * named; with skip_damaged the damaged battle is left out and the server starts */
    largest_journal_file(g_pdir, ".snap", path, sizeof path);
    assert_true(path[0]);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, 30), 1);
    byte ^= 0xff;
    assert_int_equal(pwrite(fd, &byte, 1, 30), 1);
    close(fd);
    assert_false(start(&s, "always", 0, false));
    assert_true(log_has(&s, "journal cannot be read"));
    assert_true(log_has(&s, ".snap offset 0"));
    itest_stop(&s, SIGKILL, 5000);
    assert_true(s.exited && WIFEXITED(s.status) && WEXITSTATUS(s.status) != 0);
    itest_cleanup(&s);
    assert_true(start(&s, "always", 0, true));
    assert_true(log_has(&s, "damaged battle skipped"));
    assert_int_equal(metric("battled_journal_battles_skipped_total"), 1);
    assert_int_equal(metric("battled_journal_damaged_regions_total"), 1);
    w = itest_client(&s, "w");
    int back = 0;
    for (int i = 0; i < 4; i++)
        back += look(w, g_b[i].a.t.bid, &d, &seq);
    assert_int_equal(back, 3);
    pc_close(w);
    assert_int_equal(itest_stop(&s, SIGTERM, 10000), 0);
    itest_cleanup(&s);
}

/* ---- the result of a battle that ended just before the crash ---------------------------------- */

/* A battle ends (a forfeit, journaled), the server is killed before one seat heard of it; after the
 * restart that seat resumes with the last seq it saw and gets the `ended` it missed, as PROTOCOL.md
 * section 8 promises for game.finished_keep_ms; the other seat reads the whole story from seq 1. */
static void test_ended_result_survives_restart(void **state)
{
    (void)state;
    itest_server s;
    itest_player a, b;
    proto_event ev;
    assert_true(start(&s, "always", 0, false));
    itest_private_pair(&s, &a, &b, PROTO_BAND_SHORT);
    uint32_t before_end = last_seq(&b);
    assert_true(pc_forfeit(a.c, a.t.bid) > 0);
    itest_until(&a, PROTO_T_ENDED, &ev);
    uint32_t end_seq = ev.seq;
    assert_int_equal(itest_stop(&s, SIGKILL, 5000), -2);
    itest_cleanup(&s);
    pc_close(a.c);
    pc_close(b.c);

    assert_true(start(&s, "always", 0, false));
    b.c = itest_client(&s, "b-back");
    assert_true(pc_resume(b.c, b.t.bid, (uint8_t)b.t.seat, b.t.token, before_end) > 0);
    do
        itest_next(b.c, &ev);
    while (ev.type != PROTO_T_ENDED && ev.type != PROTO_T_ERROR);
    if (ev.type == PROTO_T_ERROR)
        fail_msg("resume after the restart: %s", proto_error_name(ev.u.error.code));
    assert_int_equal(ev.seq, end_seq);
    assert_int_equal(ev.u.ended.reason, PROTO_END_FORFEIT);
    assert_int_equal(ev.u.ended.winner, b.t.seat);
    a.c = itest_client(&s, "a-back");
    assert_true(pc_resume(a.c, a.t.bid, (uint8_t)a.t.seat, a.t.token, 0) > 0);
    do
        itest_next(a.c, &ev);
    while (ev.type != PROTO_T_ENDED && ev.type != PROTO_T_ERROR);
    assert_int_equal(ev.type, PROTO_T_ENDED);
    /* a result, not a seat: an action is refused as over */
    assert_true(pc_fire(a.c, a.t.bid, 0) > 0);
    itest_expect_error(a.c, PROTO_E_BATTLE_OVER, &ev);
    pc_close(a.c);
    pc_close(b.c);
    assert_int_equal(itest_finish(&s, 10000), 0);
}

/* ---- idempotency keys ------------------------------------------------------------------------- */

/* The first answer on c for a create/join/queue: skips everything but created, started, queued and
 * errors. */
static void first_answer(pc_conn *c, proto_event *ev)
{
    do
        itest_next(c, ev);
    while (ev->type != PROTO_T_CREATED && ev->type != PROTO_T_STARTED &&
           ev->type != PROTO_T_QUEUED && ev->type != PROTO_T_ERROR);
    if (ev->type == PROTO_T_ERROR)
        fail_msg("refused: %s", proto_error_name(ev->u.error.code));
}

/* A client that lost the reply to its create or join (a dropped connection, a crash) asks again
 * with the same key and gets the same battle, seat and token; across a SIGKILL too. */
static void test_keyed_create_and_join_survive_restart(void **state)
{
    (void)state;
    itest_server s;
    proto_event ev;
    uint8_t ka[PROTO_TOKEN_LEN], kb[PROTO_TOKEN_LEN], tok_a[PROTO_TOKEN_LEN], tok_b[PROTO_TOKEN_LEN];
    assert_int_equal(pc_new_key(ka), 0);
    assert_int_equal(pc_new_key(kb), 0);
    assert_true(start(&s, "always", 0, false));
    pc_conn *a = itest_client(&s, "a");
    assert_true(pc_create_key(a, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "", ka) > 0);
    first_answer(a, &ev);
    assert_int_equal(ev.type, PROTO_T_CREATED);
    uint64_t bid = ev.bid;
    memcpy(tok_a, ev.u.created.token, PROTO_TOKEN_LEN);
    /* the reply was lost: the same create again, on a new connection (the old one, still open,
     * loses the seat to it) */
    pc_conn *a2 = itest_client(&s, "a2");
    assert_true(pc_create_key(a2, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "", ka) > 0);
    first_answer(a2, &ev);
    assert_int_equal(ev.type, PROTO_T_CREATED);
    assert_int_equal(ev.bid, bid);
    assert_memory_equal(ev.u.created.token, tok_a, PROTO_TOKEN_LEN);
    itest_expect(a, PROTO_T_LEFT, &ev);
    assert_int_equal(ev.bid, bid);

    pc_conn *b = itest_client(&s, "b");
    assert_true(pc_join_key(b, bid, "free_trader", kb) > 0);
    first_answer(b, &ev);
    assert_int_equal(ev.type, PROTO_T_STARTED);
    assert_int_equal(ev.u.started.seat, 1);
    memcpy(tok_b, ev.u.started.token, PROTO_TOKEN_LEN);
    assert_int_equal(itest_stop(&s, SIGKILL, 5000), -2); /* as if b never heard `started` */
    itest_cleanup(&s);
    pc_close(a);
    pc_close(a2);
    pc_close(b);

    assert_true(start(&s, "always", 0, false));
    b = itest_client(&s, "b2");
    assert_true(pc_join_key(b, bid, "free_trader", kb) > 0);
    first_answer(b, &ev);
    assert_int_equal(ev.type, PROTO_T_STARTED);
    assert_int_equal(ev.bid, bid);
    assert_int_equal(ev.u.started.seat, 1);
    assert_memory_equal(ev.u.started.token, tok_b, PROTO_TOKEN_LEN);
    a = itest_client(&s, "a3");
    assert_true(pc_create_key(a, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "", ka) > 0);
    first_answer(a, &ev);
    assert_int_equal(ev.type, PROTO_T_STARTED); /* it has started since */
    assert_int_equal(ev.bid, bid);
    assert_int_equal(ev.u.started.seat, 0);
    assert_memory_equal(ev.u.started.token, tok_a, PROTO_TOKEN_LEN);
    /* both seats are held again: seat 0 acts and seat 1 hears it */
    assert_true(pc_fire(a, bid, 0) > 0);
    do
        itest_next(b, &ev);
    while (ev.type != PROTO_T_ATTACK);
    assert_int_equal(metric("battled_key_repeats_total"), 2);
    pc_close(a);
    pc_close(b);
    assert_int_equal(itest_finish(&s, 10000), 0);
}

/* queue with a key: repeated while it waits, it is queued once; repeated after the match (its
 * `started` lost), it gets the same battle, seat and token, also after a SIGKILL and restart. */
static void test_keyed_queue(void **state)
{
    (void)state;
    itest_server s;
    proto_event ev;
    uint8_t k1[PROTO_TOKEN_LEN], k2[PROTO_TOKEN_LEN];
    assert_int_equal(pc_new_key(k1), 0);
    assert_int_equal(pc_new_key(k2), 0);
    assert_true(start(&s, "always", 0, false));
    pc_conn *q1 = itest_client(&s, "q1");
    for (int i = 0; i < 2; i++) {
        assert_true(pc_queue_key(q1, "scout", PROTO_BAND_MEDIUM, k1) > 0);
        first_answer(q1, &ev);
        assert_int_equal(ev.type, PROTO_T_QUEUED);
    }
    pc_conn *q2 = itest_client(&s, "q2");
    assert_true(pc_queue_key(q2, "scout", PROTO_BAND_MEDIUM, k2) > 0);
    first_answer(q2, &ev);
    assert_int_equal(ev.type, PROTO_T_STARTED);
    uint64_t bid = ev.bid;
    uint8_t seat2 = ev.u.started.seat, tok2[PROTO_TOKEN_LEN];
    memcpy(tok2, ev.u.started.token, PROTO_TOKEN_LEN);
    first_answer(q1, &ev);
    assert_int_equal(ev.type, PROTO_T_STARTED);
    assert_int_equal(ev.bid, bid);
    uint8_t seat1 = ev.u.started.seat, tok1[PROTO_TOKEN_LEN];
    memcpy(tok1, ev.u.started.token, PROTO_TOKEN_LEN);
    /* one entry only: a third player waits instead of being matched with q1's repeat */
    pc_conn *q3 = itest_client(&s, "q3");
    assert_true(pc_queue(q3, "scout", PROTO_BAND_MEDIUM) > 0);
    first_answer(q3, &ev);
    assert_int_equal(ev.type, PROTO_T_QUEUED);
    pc_close(q1);
    q1 = itest_client(&s, "q1-again");
    assert_true(pc_queue_key(q1, "scout", PROTO_BAND_MEDIUM, k1) > 0);
    first_answer(q1, &ev);
    assert_int_equal(ev.type, PROTO_T_STARTED);
    assert_int_equal(ev.bid, bid);
    assert_int_equal(ev.u.started.seat, seat1);
    assert_memory_equal(ev.u.started.token, tok1, PROTO_TOKEN_LEN);
    pc_close(q1);
    pc_close(q2);
    pc_close(q3);

    /* q2 never heard its `started`: the server died; after the restart its queue, repeated, finds
     * the recovered battle */
    assert_int_equal(itest_stop(&s, SIGKILL, 5000), -2);
    itest_cleanup(&s);
    assert_true(start(&s, "always", 0, false));
    q2 = itest_client(&s, "q2-again");
    assert_true(pc_queue_key(q2, "scout", PROTO_BAND_MEDIUM, k2) > 0);
    first_answer(q2, &ev);
    assert_int_equal(ev.type, PROTO_T_STARTED);
    assert_int_equal(ev.bid, bid);
    assert_int_equal(ev.u.started.seat, seat2);
    assert_memory_equal(ev.u.started.token, tok2, PROTO_TOKEN_LEN);
    pc_close(q2);
    assert_int_equal(itest_finish(&s, 10000), 0);
}

/* ---- one shard of two degraded --------------------------------------------------------------- */

/* Size of shard k's largest log segment in the data directory (0 when it has none). */
static off_t shard_log_size(unsigned k)
{
    DIR *d = opendir(g_pdir);
    assert_non_null(d);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "shard-%u-", k);
    off_t best = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || n < 4 ||
            strcmp(e->d_name + n - 4, ".log") != 0 || strchr(e->d_name + strlen(prefix), '-'))
            continue;
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", g_pdir, e->d_name);
        if (stat(p, &st) == 0 && st.st_size > best)
            best = st.st_size;
    }
    closedir(d);
    return best;
}

/* Creates a private battle; returns its id, or 0 when refused with server_busy. */
static uint64_t create_private(pc_conn *c)
{
    proto_event ev;
    assert_true(pc_create(c, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "") > 0);
    itest_next(c, &ev);
    if (ev.type == PROTO_T_ERROR) {
        assert_int_equal(ev.u.error.code, PROTO_E_SERVER_BUSY);
        return 0;
    }
    assert_int_equal(ev.type, PROTO_T_CREATED);
    return ev.bid;
}

static void leave_battle(pc_conn *c, uint64_t bid)
{
    proto_event ev;
    assert_true(pc_leave(c, bid) > 0);
    do
        itest_next(c, &ev);
    while (!(ev.type == PROTO_T_LEFT && ev.bid == bid));
}

/* Two shards, one of whose journals cannot be written: /readyz says 503 and every new battle is
 * refused at the request with server_busy (create, queue and join alike), also those that would
 * land on the healthy shard. */
static void test_one_degraded_shard_refuses_every_new_battle(void **state)
{
    (void)state;
    itest_server s;
    assert_true(start(&s, "everysec", 2, false));
    pc_conn *c = itest_client(&s, "creator");
    /* a battle waits on shard 1 */
    uint64_t waiting = 0;
    for (int i = 0; i < 200 && !waiting; i++) {
        uint64_t bid = create_private(c);
        assert_true(bid != 0);
        if (shard_of(bid, 2) == 1)
            waiting = bid;
        else
            leave_battle(c, bid);
    }
    assert_true(waiting != 0);
    /* battles on shard 0 make its log grow well past shard 1's: every turn is a record there. One
     * battle can end (round limit) before its records add up to that, so a new one takes over. */
    itest_player a = {0}, b = {0};
    proto_event ev;
    for (int played = 0; played < 20 && shard_log_size(0) < shard_log_size(1) + 8192; played++) {
        if (a.c) { /* the last battle ended or went on too long: the next one takes over */
            pc_close(a.c);
            pc_close(b.c);
            a.c = NULL;
        }
        for (int i = 0; i < 200; i++) {
            itest_private_pair(&s, &a, &b, PROTO_BAND_SHORT);
            if (shard_of(a.t.bid, 2) == 0)
                break;
            pc_close(a.c);
            pc_close(b.c);
            a.c = NULL;
        }
        assert_non_null(a.c);
        for (int i = 0; i < 400 && !a.t.ended && shard_log_size(0) < shard_log_size(1) + 8192; i++) {
            itest_player *p = a.t.active == a.t.seat ? &a : &b;
            assert_true(pc_end(p->c, p->t.bid) > 0);
            int type;
            do {
                itest_next(a.c, &ev);
                itest_track(&a, &ev);
                type = ev.type;
            } while (type != PROTO_T_TURN && type != PROTO_T_ROUND && type != PROTO_T_ENDED);
            while (pc_recv(b.c, &ev, 0) == 1)
                itest_track(&b, &ev);
        }
    }
    off_t room = shard_log_size(1) + 4096;
    assert_true(shard_log_size(0) > room);
    assert_int_equal(itest_http_get(admin_port(), "/readyz", (char[4096]){0}, 4096), 200);

    /* no file may grow past `room` from now on: shard 0's next write fails, shard 1 has room */
    struct rlimit lim, old;
    assert_int_equal(prlimit(s.pid, RLIMIT_FSIZE, NULL, &old), 0);
    lim.rlim_cur = (rlim_t)room;
    lim.rlim_max = old.rlim_max;
    assert_int_equal(prlimit(s.pid, RLIMIT_FSIZE, &lim, NULL), 0);
    bool refused = false;
    for (int i = 0; i < 200 && !refused; i++) {
        uint64_t bid = create_private(c);
        if (bid)
            leave_battle(c, bid);
        refused = bid == 0;
    }
    assert_true(refused);
    char page[4096];
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    while (itest_http_get(admin_port(), "/readyz", page, sizeof page) != 503)
        assert_true(itest_now_ms() < end);
    assert_true(shard_log_size(1) < room); /* shard 1 could still write */

    /* not ready means no new battle anywhere: every create is refused, none lands on shard 1 */
    for (int i = 0; i < 16; i++)
        assert_int_equal(create_private(c), 0);
    pc_conn *q = itest_client(&s, "queuer");
    assert_true(pc_queue(q, "scout", PROTO_BAND_SHORT) > 0);
    itest_next(q, &ev);
    assert_int_equal(ev.type, PROTO_T_ERROR); /* refused at once, not queued */
    assert_int_equal(ev.u.error.code, PROTO_E_SERVER_BUSY);
    pc_conn *j = itest_client(&s, "joiner");
    assert_true(pc_join(j, waiting, "scout") > 0);
    itest_next(j, &ev);
    assert_int_equal(ev.type, PROTO_T_ERROR);
    assert_int_equal(ev.u.error.code, PROTO_E_SERVER_BUSY);
    assert_true(metric("battled_journal_degraded_shards") >= 1);
    pc_close(q);
    pc_close(j);
    pc_close(c);
    pc_close(a.c);
    pc_close(b.c);
    assert_int_equal(itest_stop(&s, SIGTERM, 10000), 0);
    itest_cleanup(&s);
}

/* ---- sequence numbers after a recovery that lost the tail ----------------------------------- */

/* Cuts n bytes off the end of the data directory's largest log segment. */
static void cut_log_tail(size_t n)
{
    char path[512];
    largest_journal_file(g_pdir, ".log", path, sizeof path);
    assert_true(path[0]);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true((size_t)st.st_size > n);
    assert_int_equal(truncate(path, st.st_size - (off_t)n), 0);
}

/* Resumes p's seat on its (new) connection with `last` and returns the first answer for the
 * battle: an error, a state or the first missed event. */
static void resume_answer(itest_player *p, uint32_t last, proto_event *ev)
{
    assert_true(pc_resume(p->c, p->t.bid, (uint8_t)p->t.seat, p->t.token, last) > 0);
    do
        itest_next(p->c, ev);
    while (!(proto_type_battle_scoped(ev->type) || ev->type == PROTO_T_ERROR) ||
           (ev->bid != p->t.bid && ev->type != PROTO_T_ERROR));
}

/* The issue 16 reproduction: seat 0 ends its turn (seq 2, `turn`, seat 1 active), the server is
 * killed and the record of that turn is cut off the journal. After the restart no client may be
 * given a number it already saw for another event: both seats' last=2 gets seq_gone, last=0 gets a
 * state past 2 with seat 0 active again, and every event after that is numbered past 2. */
static void test_seq_not_reused_after_lost_tail(void **state)
{
    (void)state;
    itest_server s;
    itest_player a, b;
    proto_event ev;
    assert_true(start(&s, "always", 1, false));
    itest_private_pair(&s, &a, &b, PROTO_BAND_SHORT);
    assert_int_equal(a.t.seat, 0);
    assert_true(pc_end(a.c, a.t.bid) > 0);
    itest_until(&a, PROTO_T_TURN, &ev);
    assert_int_equal(ev.seq, 2);
    assert_int_equal(ev.u.turn.active, 1);
    itest_until(&b, PROTO_T_TURN, &ev);
    assert_int_equal(ev.seq, 2);
    assert_int_equal(itest_stop(&s, SIGKILL, 5000), -2);
    itest_cleanup(&s);
    pc_close(a.c);
    pc_close(b.c);
    cut_log_tail(3); /* the turn's record is torn: the battle recovers at seq 1 */

    assert_true(start(&s, "always", 1, false));
    assert_true(log_has(&s, "torn tail cut"));
    char named[64];
    snprintf(named, sizeof named, "battle=%llu", (unsigned long long)a.t.bid);
    assert_true(log_has2(&s, "torn tail cut", named)); /* it names the battle whose record it cut */
    assert_int_equal(metric("battled_journal_torn_tails_total"), 1);
    a.c = itest_client(&s, "a-back");
    b.c = itest_client(&s, "b-back");
    resume_answer(&a, 2, &ev);
    assert_int_equal(ev.type, PROTO_T_ERROR);
    assert_int_equal(ev.u.error.code, PROTO_E_SEQ_GONE);
    resume_answer(&a, 0, &ev);
    assert_int_equal(ev.type, PROTO_T_STATE);
    assert_true(ev.seq > 2);
    assert_int_equal(ev.u.state.active, 0); /* the lost turn never happened */
    uint32_t a_state = ev.seq;
    /* seat 1 saw seq 2 (`turn`): that number is gone, not reused */
    resume_answer(&b, 2, &ev);
    assert_int_equal(ev.type, PROTO_T_ERROR);
    assert_int_equal(ev.u.error.code, PROTO_E_SEQ_GONE);
    resume_answer(&b, 0, &ev);
    assert_int_equal(ev.type, PROTO_T_STATE);
    assert_true(ev.seq > 2);
    assert_int_equal(ev.u.state.active, 0);
    uint32_t b_state = ev.seq;
    assert_true(b_state >= a_state);
    /* seat 0 acts again: every event after the states has a number neither client has seen */
    assert_true(pc_fire(a.c, a.t.bid, 0) > 0);
    uint32_t prev = b_state;
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    bool attacked = false;
    while (!attacked) {
        assert_true(itest_now_ms() < end);
        assert_int_equal(pc_recv(b.c, &ev, 200) >= 0, 1);
        if (ev.type == PROTO_T_ERROR)
            fail_msg("error %s", proto_error_name(ev.u.error.code));
        if (!proto_type_battle_scoped(ev.type) || ev.bid != b.t.bid || !ev.seq)
            continue;
        assert_true(ev.seq > prev);
        prev = ev.seq;
        attacked = ev.type == PROTO_T_ATTACK;
    }
    pc_close(a.c);
    pc_close(b.c);
    assert_int_equal(itest_finish(&s, 10000), 0);
}

/* ---- a full disk ------------------------------------------------------------------------------ */

static void test_file_size_limit(void **state)
{
    (void)state;
    itest_server s;
    assert_true(start(&s, "everysec", 0, false));
    open_battle(&s, &g_b[0], false);
    advance(&g_b[0], 2);

    /* the server may write no file past 8 KiB from now on: each shard's log soon passes it */
    struct rlimit lim = {.rlim_cur = 8 * 1024, .rlim_max = RLIM_INFINITY};
    struct rlimit old;
    assert_int_equal(prlimit(s.pid, RLIMIT_FSIZE, NULL, &old), 0);
    lim.rlim_max = old.rlim_max;
    assert_int_equal(prlimit(s.pid, RLIMIT_FSIZE, &lim, NULL), 0);

    pc_conn *c = itest_client(&s, "creator");
    bool refused = false;
    for (int i = 0; i < 1000 && !refused; i++) {
        assert_true(pc_create(c, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "") > 0);
        proto_event ev;
        itest_next(c, &ev);
        if (ev.type == PROTO_T_ERROR) {
            assert_int_equal(ev.u.error.code, PROTO_E_SERVER_BUSY);
            refused = true;
        } else {
            assert_int_equal(ev.type, PROTO_T_CREATED);
            assert_true(pc_leave(c, ev.bid) > 0); /* one seat at a time */
            do
                itest_next(c, &ev);
            while (ev.type != PROTO_T_LEFT);
        }
    }
    assert_true(refused);
    assert_true(log_has(&s, "journal: write failed"));
    /* the running battle goes on: its players are answered and it can be played to the end */
    itest_play(&g_b[0].a, &g_b[0].b, PLAY_MS);
    assert_true(g_b[0].a.t.ended && g_b[0].b.t.ended);
    assert_false(s.exited); /* SIGXFSZ did not kill it */
    pc_close(c);
    pc_close(g_b[0].a.c);
    pc_close(g_b[0].b.c);
    assert_int_equal(itest_stop(&s, SIGTERM, 10000), 0);
    itest_cleanup(&s);
}

/* ---- Redis unavailable ------------------------------------------------------------------------ */

/* Creates battles until one is refused (want_refused) or accepted; fails after 15 s. */
static void create_until(pc_conn *c, bool want_refused)
{
    uint64_t end = itest_now_ms() + 15000;
    for (;;) {
        assert_true(itest_now_ms() < end);
        assert_true(pc_create(c, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "") > 0);
        proto_event ev;
        itest_next(c, &ev);
        bool refused = ev.type == PROTO_T_ERROR;
        if (refused)
            assert_int_equal(ev.u.error.code, PROTO_E_SERVER_BUSY);
        else {
            assert_int_equal(ev.type, PROTO_T_CREATED);
            assert_true(pc_leave(c, ev.bid) > 0);
            do
                itest_next(c, &ev);
            while (ev.type != PROTO_T_LEFT);
        }
        if (refused == want_refused)
            return;
        struct timespec ts = {.tv_nsec = 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Redis mode: Redis stops mid-run. Under everysec the running battle goes on and new battles are
 * refused (server busy) while it is away; once it is back (reconnection with backoff, the queued
 * records caught up) new battles are accepted again, and after a SIGKILL of the server the battle
 * is back at least as far as its players were told, outage included, and is played to the end.
 * One shard whatever the run's count: then the first battle created after the outage proves the
 * catch-up (its CREATED event waits for Redis's acknowledgement of its record, which follows the
 * queued ones on the same journal and the same connection); another shard's journal may still be
 * catching up (within JOURNAL_RETRY_MS) when the kill comes. */
static void test_redis_outage(void **state)
{
    (void)state;
    itest_server s1, s2;
    struct bt *b = &g_b[0];
    assert_true(start(&s1, "everysec", 1, false));
    open_battle(&s1, b, false);
    advance(b, 2);
    pc_conn *c = itest_client(&s1, "creator");

    rh_halt(&g_redis, SIGTERM);
    create_until(c, true);
    advance(b, 4); /* the running battle goes on, every action answered */
    assert_true(rh_restart(&g_redis));
    create_until(c, false);
    pc_close(c);

    assert_int_equal(itest_stop(&s1, SIGKILL, 5000), -2);
    drain_dead(&b->a);
    drain_dead(&b->b);
    itest_cleanup(&s1);
    assert_true(start(&s2, "everysec", 1, false));
    pc_conn *w = itest_client(&s2, "spectator");
    uint64_t d;
    uint32_t seq;
    assert_int_equal(look(w, b->a.t.bid, &d, &seq), 1);
    uint32_t seen = last_seq(&b->a) > last_seq(&b->b) ? last_seq(&b->a) : last_seq(&b->b);
    assert_true(seq >= seen);
    pc_close(w);
    come_back(&s2, &b->a);
    come_back(&s2, &b->b);
    itest_play(&b->a, &b->b, PLAY_MS);
    assert_true(b->a.t.ended);
    pc_close(b->a.c);
    pc_close(b->b.c);
    assert_int_equal(itest_finish(&s2, 10000), 0);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    g_redis_mode = getenv("BATTLED_TEST_REDIS") && strcmp(getenv("BATTLED_TEST_REDIS"), "1") == 0;
    if (g_redis_mode) {
        const struct CMUnitTest on_redis[] = {
            cmocka_unit_test_setup_teardown(test_kill_always, pdir_make, pdir_remove),
            cmocka_unit_test_setup_teardown(test_kill_everysec_reshard, pdir_make, pdir_remove),
            cmocka_unit_test_setup_teardown(test_redis_outage, pdir_make_aof, pdir_remove),
        };
        return cmocka_run_group_tests(on_redis, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_always, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_kill_everysec_reshard, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_torn_tail_and_corrupt_middle, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_file_size_limit, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_seq_not_reused_after_lost_tail, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_ended_result_survives_restart, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_keyed_create_and_join_survive_restart, pdir_make,
                                        pdir_remove),
        cmocka_unit_test_setup_teardown(test_keyed_queue, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_one_degraded_shard_refuses_every_new_battle, pdir_make,
                                        pdir_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
