/* Integration: a planned restart (SIGTERM with server.on_sigterm = "restart", persistence on) loses
 * nothing.
 *
 * Several hundred battles between two clients, multiplexed on several connections, are played a few
 * rounds; then SIGTERM. Every connection hears "restarting" with the configured retry_ms and is
 * closed; the process exits 0 within seconds (not the drain timeout); no battle was ended by it.
 * The server stays down longer than a turn timer, then starts again on the same data directory
 * (also with another shard count, and once while a journal compaction is running). Every player
 * reconnects, resumes each seat with its token and the last seq it saw, and plays on: every battle
 * that was running ends as destroyed or draw, every seat's events are numbered 1, 2, 3, ... with no
 * gap and no repeat across the restart (a `state` answering the resume carries the seq already
 * seen), and no seat got a turn-timer expiry. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/itest.h"

#define MAX_BATTLES 320
#define NCONN_SIDE 6        /* connections per side: 320 battles -> at most 54 seats each */
#define TURN_MS 3000        /* turn timer: shorter than the downtime below */
#define DOWN_MS 3500        /* time the server stays down: a turn timer that kept running expires */
#define RETRY_MS 250        /* server.restart_retry_ms */
#define EXIT_MS 8000        /* SIGTERM -> exit, generous for sanitizers (a drain would take 30 s) */
#define PLAY_MS 120000      /* to play every battle to its end */
#define ROUNDS_BEFORE 2     /* rounds every battle plays before the restart */
#define RESTART_INFLIGHT_EVENTS 32 /* events of the actions in flight at a restart, at most */
#define RESTART_SEQ_JUMP (1u << 20) /* seq numbers jump once by this after a restart (PROTOCOL.md 8) */

struct seatp {
    itest_player p;
    int conn; /* index into g_conn */
};

static const char *g_bench = "battle-bench";
static const char *g_cli = "battle-cli";
static struct seatp g_seat[2 * MAX_BATTLES]; /* battle i: seats 2i (creator) and 2i+1 (joiner) */
static int g_nb;
static pc_conn *g_conn[2 * NCONN_SIDE];
static bool g_ended_before[MAX_BATTLES];
static char g_pdir[64];
static char g_set_dir[160];

/* Setup: a fresh data directory shared by the test's servers (the teardown removes it). */
static int pdir_make(void **state)
{
    (void)state;
    snprintf(g_pdir, sizeof g_pdir, "/tmp/battled-restart-XXXXXX");
    bool made = mkdtemp(g_pdir) != NULL;
    snprintf(g_set_dir, sizeof g_set_dir, "persistence.dir=%s", g_pdir);
    return made ? 0 : -1;
}

static int pdir_remove(void **state)
{
    (void)state;
    itest_rm_dir(g_pdir);
    return 0;
}

static bool start(itest_server *s, int shards, const char *compact)
{
    char set_shards[48], set_turn[48], set_retry[48];
    snprintf(set_shards, sizeof set_shards, "server.shards=%d", shards);
    /* The compaction test fills the log while its battles wait: the default turn timer there. */
    snprintf(set_turn, sizeof set_turn, "game.turn_timer_ms=%d", compact ? 30000 : TURN_MS);
    snprintf(set_retry, sizeof set_retry, "server.restart_retry_ms=%d", RETRY_MS);
    const char *sets[] = {g_set_dir, set_shards, set_turn, set_retry, "log.level=info",
                          "game.round_limit=40", "server.max_seats_per_conn=128",
                          "server.on_sigterm=restart", compact ? compact : NULL, NULL};
    return itest_start(s, sets);
}

static bool log_has(const itest_server *s, const char *needle)
{
    return itest_file_has(s->log, needle);
}

/* The seat of battle bid held on connection ci, or NULL. */
static struct seatp *seat_for(int ci, uint64_t bid)
{
    for (int i = 0; i < 2 * g_nb; i++)
        if (g_seat[i].conn == ci && g_seat[i].p.t.bid == bid)
            return &g_seat[i];
    return NULL;
}

/* Reads one event of connection ci (waiting up to ms) and gives it to its seat; takes a seat's
 * `started`. Returns pc_recv's result; the event in *ev. */
static int pump(int ci, int ms, proto_event *ev)
{
    int r = pc_recv(g_conn[ci], ev, ms);
    if (r != 1)
        return r;
    if (ev->type == PROTO_T_ERROR)
        fail_msg("connection %d: error %s (%s) for battle %llu", ci,
                 proto_error_name(ev->u.error.code), ev->u.error.msg, (unsigned long long)ev->bid);
    if (!proto_type_battle_scoped(ev->type))
        return r;
    struct seatp *sp = seat_for(ci, ev->bid);
    if (!sp)
        return r; /* a `created` whose battle the caller is about to record */
    if (ev->type == PROTO_T_STARTED && sp->p.t.seat < 0)
        itest_take_started(&sp->p, ev);
    else
        itest_track(&sp->p, ev);
    itest_act(&sp->p);
    return r;
}

static void connect_all(const itest_server *s)
{
    for (int i = 0; i < 2 * NCONN_SIDE; i++)
        g_conn[i] = itest_client(s, i < NCONN_SIDE ? "host" : "guest");
    for (int i = 0; i < 2 * g_nb; i++)
        g_seat[i].p.c = g_conn[g_seat[i].conn];
}

/* nb private battles: battle i's creator is on connection i % NCONN_SIDE, its joiner on the other
 * side's connection. */
static void open_battles(int nb)
{
    g_nb = 0;
    memset(g_ended_before, 0, sizeof g_ended_before);
    proto_event ev;
    for (int i = 0; i < nb; i++) {
        int hc = i % NCONN_SIDE, gc = NCONN_SIDE + i % NCONN_SIDE;
        assert_true(pc_create(g_conn[hc], "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "") > 0);
        uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
        for (;;) {
            if (itest_now_ms() > end)
                fail_msg("battle %d: no created", i);
            if (pump(hc, 50, &ev) == 1 && ev.type == PROTO_T_CREATED)
                break;
        }
        struct seatp *h = &g_seat[2 * i], *g = &g_seat[2 * i + 1];
        itest_player_init(&h->p, g_conn[hc]);
        itest_player_init(&g->p, g_conn[gc]);
        h->conn = hc;
        g->conn = gc;
        h->p.t.bid = g->p.t.bid = ev.bid;
        g_nb = i + 1;
        assert_true(pc_join(g_conn[gc], ev.bid, "free_trader") > 0);
    }
}

/* Files of the data directory whose names end with suffix. */
static int count_files(const char *suffix)
{
    DIR *d = opendir(g_pdir);
    if (!d)
        return 0;
    int n = 0;
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        n += l >= sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* One pass over every connection: what has arrived, then a short wait on each; every seat whose
 * turn it is acts. */
static void play_pass(void)
{
    proto_event ev;
    for (int ci = 0; ci < 2 * NCONN_SIDE; ci++)
        while (pump(ci, 0, &ev) == 1) {
        }
    for (int ci = 0; ci < 2 * NCONN_SIDE; ci++)
        if (pump(ci, 1, &ev) < 0)
            fail_msg("connection %d closed while playing", ci);
    for (int i = 0; i < 2 * g_nb; i++)
        itest_act(&g_seat[i].p);
}

/* Plays every battle until each has reached round `rounds` (or ended), or all ended when rounds is
 * 0; fails after ms. */
static void play(int rounds, int ms)
{
    uint64_t end = itest_now_ms() + (uint64_t)ms;
    for (;;) {
        bool done = true;
        for (int i = 0; i < 2 * g_nb && done; i++) {
            const itest_player *p = &g_seat[i].p;
            if (!p->t.ended && (rounds == 0 || p->t.seat < 0 || p->t.round < (uint32_t)rounds))
                done = false;
        }
        if (done)
            return;
        if (itest_now_ms() > end)
            fail_msg("battles did not get to round %d within %d ms", rounds, ms);
        play_pass();
    }
}

/* SIGTERM: every connection hears "restarting" (retry_ms as configured) and is closed, the process
 * exits 0 within EXIT_MS; no battle was ended by it. Returns the time to exit in ms. */
static uint64_t restart_stop(itest_server *s)
{
    for (int i = 0; i < g_nb; i++)
        g_ended_before[i] = g_seat[2 * i].p.t.ended && g_seat[2 * i + 1].p.t.ended;
    uint64_t t0 = itest_now_ms();
    kill(s->pid, SIGTERM);
    for (int ci = 0; ci < 2 * NCONN_SIDE; ci++) {
        bool told = false;
        proto_event ev;
        int r;
        uint64_t end = itest_now_ms() + EXIT_MS;
        while ((r = pc_recv(g_conn[ci], &ev, 100)) >= 0 && itest_now_ms() < end) {
            if (r != 1)
                continue;
            if (ev.type == PROTO_T_RESTARTING) {
                assert_false(told);
                assert_int_equal(ev.u.restarting.retry_ms, RETRY_MS);
                told = true;
                continue;
            }
            if (ev.type == PROTO_T_ERROR && ev.u.error.code == PROTO_E_SERVER_DRAINING)
                continue; /* an action that crossed the restart: it was not applied */
            struct seatp *sp = proto_type_battle_scoped(ev.type) ? seat_for(ci, ev.bid) : NULL;
            if (sp) {
                /* Events of actions accepted before the shards froze may follow the notice. */
                itest_track(&sp->p, &ev);
                if (ev.type == PROTO_T_ENDED)
                    assert_int_not_equal(ev.u.ended.reason, PROTO_END_SHUTDOWN);
            }
        }
        if (!told)
            fail_msg("connection %d: no restarting event", ci);
        assert_true(r < 0); /* closed by the server */
        pc_close(g_conn[ci]);
        g_conn[ci] = NULL;
    }
    assert_int_equal(itest_stop(s, 0, EXIT_MS), 0);
    uint64_t took = itest_now_ms() - t0;
    assert_true(log_has(s, "restarting: battles are kept"));
    assert_false(log_has(s, "reason=shutdown"));
    itest_cleanup(s);
    return took;
}

/* Reconnects and resumes every seat of a battle that had not ended, with its token and last seq. */
static void resume_all(const itest_server *s)
{
    connect_all(s);
    for (int i = 0; i < 2 * g_nb; i++) {
        itest_player *p = &g_seat[i].p;
        if (p->t.ended)
            continue;
        uint32_t last = p->nseq ? p->seqs[p->nseq - 1] : 0;
        assert_true(pc_resume(p->c, p->t.bid, (uint8_t)p->t.seat, p->t.token, last) > 0);
    }
}

/* Every seat's events: 1, 2, 3, ... without a gap or a repeat, a `state` repeating the seq before it,
 * or that plus the restart's documented jump (the resume after the restart: nothing was missed); no turn-timer expiry; and every battle that
 * was running at the restart ended as destroyed or draw. */
static void check_battles(void)
{
    for (int i = 0; i < 2 * g_nb; i++) {
        const itest_player *p = &g_seat[i].p;
        assert_true(p->t.ended);
        uint32_t prev = 0;
        for (uint32_t k = 0; k < p->nseq; k++) {
            /* The resume's state after a restart carries the seq already seen, or that plus the
             * one jump a recovery makes (PROTOCOL.md section 8), the away notices the recovery
             * itself adds (at most one per seat) and the events of actions accepted before the
             * freeze whose output the closing connection had not carried yet (PROTOCOL.md, "Server
             * restarts", step 3: at most one turn action and its reactions per seat in flight,
             * RESTART_INFLIGHT_EVENTS), all of which the state includes. */
            uint32_t want = prev + 1;
            if (p->types[k] == PROTO_T_STATE)
                want = p->seqs[k] >= prev + RESTART_SEQ_JUMP &&
                               p->seqs[k] <= prev + RESTART_SEQ_JUMP + 2 + RESTART_INFLIGHT_EVENTS
                           ? p->seqs[k]
                           : prev;
            if (p->seqs[k] != want)
                fail_msg("battle %llu seat %d: event %u (%s) has seq %u, expected %u",
                         (unsigned long long)p->t.bid, p->t.seat, k, proto_type_name(p->types[k]),
                         p->seqs[k], want);
            if (p->types[k] == PROTO_T_TIMEOUT)
                fail_msg("battle %llu: a turn timer expired", (unsigned long long)p->t.bid);
            prev = p->seqs[k];
        }
        if (!g_ended_before[i / 2]) {
            int reason = p->t.end.reason;
            if (reason != PROTO_END_DESTROYED && reason != PROTO_END_DRAW)
                fail_msg("battle %llu ended as %s", (unsigned long long)p->t.bid,
                         proto_reason_name(reason));
        }
    }
}

/* Grows the log with battles created and withdrawn on a connection of its own until it rotates for
 * a compaction (a new segment, or the compactor's snapshot being written), then returns at once so
 * that the restart meets the compaction under way. */
static void fill_until_compaction(const itest_server *s)
{
    pc_conn *c = itest_client(s, "filler");
    int logs0 = count_files(".log");
    proto_event ev;
    int n = 0;
    while (count_files(".log") <= logs0 && count_files(".snap.tmp") == 0) {
        if (++n > 20000)
            fail_msg("no compaction began after %d battles", n);
        assert_true(pc_create(c, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "") > 0);
        itest_expect(c, PROTO_T_CREATED, &ev);
        assert_true(pc_leave(c, ev.bid) > 0);
        itest_expect(c, PROTO_T_LEFT, &ev);
    }
    pc_close(c);
}

static void run_restart(int nb, int shards_before, int shards_after, const char *compact)
{
    itest_server s;
    assert_true(start(&s, shards_before, compact));
    memset(g_seat, 0, sizeof g_seat);
    g_nb = nb;
    for (int i = 0; i < 2 * NCONN_SIDE; i++)
        g_conn[i] = itest_client(&s, i < NCONN_SIDE ? "host" : "guest");
    g_nb = 0;
    open_battles(nb);
    play(ROUNDS_BEFORE, PLAY_MS);
    if (compact)
        fill_until_compaction(&s);
    uint64_t stop_ms = restart_stop(&s);
    print_message("restart: %d battles, SIGTERM to exit %llu ms\n", nb, (unsigned long long)stop_ms);
    usleep(DOWN_MS * 1000);
    assert_true(start(&s, shards_after, compact));
    assert_true(log_has(&s, "journal recovered"));
    resume_all(&s);
    play(0, PLAY_MS);
    check_battles();
    for (int ci = 0; ci < 2 * NCONN_SIDE; ci++)
        pc_close(g_conn[ci]);
    assert_int_equal(itest_finish(&s, EXIT_MS), 0);
}

static void test_restart_many_battles(void **state)
{
    (void)state;
    run_restart(300, itest_shards(), itest_shards(), NULL);
}

static void test_restart_other_shard_count(void **state)
{
    (void)state;
    run_restart(60, itest_shards(), itest_shards() == 1 ? 3 : 1, NULL);
}

static void test_restart_during_compaction(void **state)
{
    (void)state;
    /* One shard, so its log passes the smallest compact_bytes (1 MiB) soonest. */
    run_restart(200, 1, 1, "persistence.compact_bytes=1048576");
}

/* ---- battle-bench and battle-cli across a restart ------------------------------------------- */

static void restart_port(itest_server *s, const char *set_listen);

#define CLIENTS_DEADLINE_S 120 /* a client still running then is killed (alarm) */

/* Starts path with argv, its output in out_path; returns the pid. */
static pid_t spawn(const char *const *argv, const char *out_path, const char *in_path)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        itest_child_dies_with(parent);
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (in_path) {
            int in = open(in_path, O_RDONLY);
            if (in >= 0) {
                dup2(in, 0);
                close(in);
            }
        }
        alarm(CLIENTS_DEADLINE_S);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* battle-cli's first "Retrying in S s" after "Server restarting", in seconds; -1 if none. */
static double first_retry_s(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    bool told = false;
    double s = -1;
    while (s < 0 && fgets(line, sizeof line, f)) {
        if (strstr(line, "Server restarting"))
            told = true;
        else if (told && strncmp(line, "Retrying in ", 12) == 0)
            s = strtod(line + 12, NULL);
    }
    fclose(f);
    return s;
}

/* The number after "key": in a JSON file (the first occurrence). */
static double json_num(const char *path, const char *key)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(buf, pat);
    if (!p)
        fail_msg("%s: no \"%s\"", path, key);
    return strtod(p + strlen(pat), NULL);
}

/* battle-bench (200 battles at a time, 25 on each of 16 connections, new ones as they end) and
 * battle-cli (a solo battle from a script) play across a SIGTERM restart; the server comes back on
 * the same port. Neither client needs a human: both hear "restarting", reconnect, resume and play
 * on. The bench saw no failed battle, no gap or repeat in any battle's events, no turn-timer expiry
 * of its own seats; the cli's battle ends normally. */
/* Copies a file to stderr under a heading, for a failure's diagnosis (a missing file prints none). */
static void dump_file(const char *heading, const char *path)
{
    fprintf(stderr, "---- %s ----\n", heading);
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        fputs(line, stderr);
    if (f)
        fclose(f);
}

static void test_restart_bench_and_cli(void **state)
{
    (void)state;
    itest_server s;
    assert_true(start(&s, itest_shards(), NULL));
    char addr[32], port[8], json[200], bench_out[200], cli_out[200], script[200], set_listen[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", s.plain_port);
    snprintf(port, sizeof port, "%u", s.plain_port);
    snprintf(set_listen, sizeof set_listen, "server.listen=127.0.0.1:%u", s.plain_port);
    snprintf(json, sizeof json, "%s/bench.json", g_pdir);
    snprintf(bench_out, sizeof bench_out, "%s/bench.out", g_pdir);
    snprintf(cli_out, sizeof cli_out, "%s/cli.out", g_pdir);
    snprintf(script, sizeof script, "%s/moves.txt", g_pdir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f, "create scout short vs ai free_trader\nwait start 30\n");
    for (int i = 0; i < 60; i++)
        fprintf(f, "wait turn 60\nfire 0\n");
    fprintf(f, "wait end 120\nstatus\nquit\n");
    fclose(f);

    const char *bench_argv[] = {g_bench, "--server", addr, "--mode", "create", "--battles", "200",
                                "--per-conn", "25", "--think", "50", "--duration", "6", "--grace",
                                "60", "--resume", "30000", "--json", json, "--quiet", NULL};
    const char *cli_argv[] = {g_cli, "--host", "127.0.0.1", "--port", port, "--name", "restarter",
                              NULL};
    pid_t bench = spawn(bench_argv, bench_out, NULL);
    pid_t cli = spawn(cli_argv, cli_out, script);

    /* Restart once the cli's battle runs and the bench has played a while. */
    uint64_t end = itest_now_ms() + 20000;
    while (!itest_file_has(cli_out, "--- Round 2 ---") && itest_now_ms() < end)
        usleep(20000);
    assert_true(itest_file_has(cli_out, "--- Round 2 ---"));
    restart_port(&s, set_listen);

    int brc = wait_exit(bench), crc = wait_exit(cli);
    if (brc != 0 || crc != 0 || json_num(json, "battles_failed") != 0) {
        dump_file("bench", bench_out);
        dump_file("bench json", json);
        dump_file("cli", cli_out);
    }
    assert_int_equal(brc, 0);
    assert_true(json_num(json, "battles_finished") >= 200);
    assert_true(json_num(json, "battles_failed") == 0);
    assert_true(json_num(json, "restart_notices") >= 16);
    assert_true(json_num(json, "resumes") >= 1);
    assert_true(json_num(json, "resume_failures") == 0);
    assert_true(json_num(json, "seq_gaps") == 0);
    assert_true(json_num(json, "seq_repeats") == 0);
    assert_true(json_num(json, "turn_timeouts") == 0);
    print_message("bench across the restart: %.0f battles, longest gap between events %.0f ms\n",
                  json_num(json, "battles_finished"), json_num(json, "max_event_gap_ms"));

    assert_int_equal(crc, 0);
    assert_true(itest_file_has(cli_out, "Server restarting"));
    /* its first wait was the server's retry_ms (and up to half of it again) */
    double first_wait = first_retry_s(cli_out);
    assert_true(first_wait >= RETRY_MS / 1000.0 - 0.005 && first_wait <= RETRY_MS * 1.5 / 1000.0 + 0.005);
    assert_true(itest_file_has(cli_out, "Resuming battle"));
    assert_true(itest_file_has(cli_out, "=== Battle over after"));
    assert_false(itest_file_has(cli_out, "(disconnect)"));
    assert_false(itest_file_has(cli_out, "(shutdown)"));
    assert_false(itest_file_has(cli_out, "Giving up"));
    assert_false(itest_file_has(cli_out, "wait: gave up"));
    assert_false(itest_file_has(cli_out, "Your turn timer ran out"));
    assert_int_equal(itest_finish(&s, EXIT_MS), 0);
}

/* SIGTERM (restart), then the same server again on the same port and data directory. */
static void restart_port(itest_server *s, const char *set_listen)
{
    kill(s->pid, SIGTERM);
    assert_int_equal(itest_stop(s, 0, EXIT_MS), 0);
    itest_cleanup(s);
    char set_shards[48], set_turn[48], set_retry[48];
    snprintf(set_shards, sizeof set_shards, "server.shards=%d", itest_shards());
    snprintf(set_turn, sizeof set_turn, "game.turn_timer_ms=%d", TURN_MS);
    snprintf(set_retry, sizeof set_retry, "server.restart_retry_ms=%d", RETRY_MS);
    const char *sets[] = {g_set_dir, set_shards, set_turn, set_retry, set_listen, "log.level=info",
                          "game.round_limit=40", "server.max_seats_per_conn=128", NULL};
    assert_true(itest_start(s, sets));
}

/* A data directory that cannot be created stops the start with exit status 3 and a log line that
 * names the directory, the reason and the fix. */
static void test_unusable_data_dir(void **state)
{
    (void)state;
    char file[128], set_dir[200];
    snprintf(file, sizeof file, "%s/not-a-dir", g_pdir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(set_dir, sizeof set_dir, "persistence.dir=%s/journal", file);
    const char *sets[] = {set_dir, NULL};
    itest_server s;
    assert_false(itest_start(&s, sets));
    assert_true(s.exited && WIFEXITED(s.status));
    assert_int_equal(WEXITSTATUS(s.status), 3);
    assert_true(log_has(&s, "persistence.dir cannot be created: not starting"));
    assert_true(log_has(&s, "Not a directory"));
    assert_true(log_has(&s, "fix="));
    itest_cleanup(&s);
}

int main(int argc, char **argv)
{
    const char *v;
    if ((v = itest_take_option(&argc, argv, "--bench")))
        g_bench = v;
    if ((v = itest_take_option(&argc, argv, "--cli")))
        g_cli = v;
    itest_init(argc, argv);
#ifdef BATTLED_TSAN
    (void)test_restart_bench_and_cli; /* left out under TSan: see the list below */
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart_many_battles, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_restart_other_shard_count, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_restart_during_compaction, pdir_make, pdir_remove),
        cmocka_unit_test_setup_teardown(test_unusable_data_dir, pdir_make, pdir_remove),
#ifndef BATTLED_TSAN
        /* Not under ThreadSanitizer: its 5-15x slowdown of the server, battle-bench and battle-cli
         * together (200 battles at 50 ms think across the restart) makes the scenario's timing, not
         * the restart, decide the outcome. The restart's threads still run under TSan in the four
         * scenarios above; this one runs in the default and ASan stages. */
        cmocka_unit_test_setup_teardown(test_restart_bench_and_cli, pdir_make, pdir_remove),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
