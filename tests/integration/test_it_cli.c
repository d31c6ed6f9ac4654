/* Integration: battle-cli, the terminal client, against the real battled binary.
 *
 * Each test runs battle-cli as a child process the way a person or a script would: commands on its
 * stdin (a file or a pipe), readable text on its stdout, which the test reads with deadlines. The
 * server runs with a rate limit, so the client's own pacing is exercised too.
 *
 * Command line (from ctest): test_it_cli BATTLED_BINARY --cli BATTLE_CLI_BINARY [--shards N] */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/resume.h"
#include "proto/codec.h"
#include "tests/integration/itest.h"

#define CLI_WAIT_MS 20000   /* one expected line of output */
#define CLI_BATTLE_MS 60000 /* a whole scripted battle, paced by the rate limit */
#define OUT_CAP (4u << 20)  /* output kept per child */
#define MOVES 200           /* scripted turns: more than a battle at adjacent ever needs */

static const char *g_cli = "battle-cli";
static itest_server g_srv;
static char g_dir[128];

/* ---- a battle-cli child ---- */

typedef struct {
    pid_t pid;
    int in;        /* its stdin (pipe mode), else -1 */
    int out;       /* its stdout + stderr */
    char *buf;
    size_t len, mark;
    int status;
    bool exited;
} child;

static void child_start(child *c, const char *const *args, const char *stdin_file)
{
    memset(c, 0, sizeof *c);
    c->in = -1;
    c->buf = malloc(OUT_CAP + 1);
    assert_non_null(c->buf);
    c->buf[0] = '\0';
    int inp[2] = {-1, -1}, outp[2];
    assert_int_equal(pipe(outp), 0);
    if (!stdin_file)
        assert_int_equal(pipe(inp), 0);
    const char *argv[32];
    int n = 0;
    argv[n++] = g_cli;
    for (int i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t parent = getpid();
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        itest_child_dies_with(parent);
        int fd = stdin_file ? open(stdin_file, O_RDONLY) : inp[0];
        if (fd < 0)
            _exit(126);
        dup2(fd, 0);
        dup2(outp[1], 1);
        dup2(outp[1], 2);
        signal(SIGPIPE, SIG_DFL);
        execv(g_cli, (char *const *)argv);
        _exit(127);
    }
    close(outp[1]);
    c->out = outp[0];
    fcntl(c->out, F_SETFL, fcntl(c->out, F_GETFL) | O_NONBLOCK);
    if (!stdin_file) {
        close(inp[0]);
        c->in = inp[1];
    }
}

/* Reads what the child printed, waiting up to ms. Returns false at EOF. */
static bool child_read(child *c, int ms)
{
    struct pollfd p = {.fd = c->out, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return true;
    char tmp[8192];
    ssize_t n = read(c->out, tmp, sizeof tmp);
    if (n == 0)
        return false;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    size_t room = OUT_CAP - c->len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(c->buf + c->len, tmp, take);
    c->len += take;
    c->buf[c->len] = '\0';
    return true;
}

static void child_dump(const child *c)
{
    fprintf(stderr, "---- battle-cli output (%zu bytes) ----\n%s\n---- end ----\n", c->len, c->buf);
}

/* Waits until the output after the mark holds needle; the mark moves past it. */
static void child_expect(child *c, const char *needle, int ms)
{
    uint64_t end = itest_now_ms() + (uint64_t)ms;
    for (;;) {
        char *hit = strstr(c->buf + c->mark, needle);
        if (hit) {
            c->mark = (size_t)(hit - c->buf) + strlen(needle);
            return;
        }
        uint64_t now = itest_now_ms();
        if (now >= end || !child_read(c, (int)(end - now) < 50 ? (int)(end - now) : 50)) {
            if (strstr(c->buf + c->mark, needle))
                continue;
            child_dump(c);
            itest_dump_log(&g_srv);
            fail_msg("battle-cli never printed \"%s\"", needle);
        }
    }
}

static void child_send(child *c, const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof line);
    assert_int_equal(write(c->in, line, (size_t)n), n);
}

/* Closes stdin (if piped), reads to EOF and reaps; returns the exit code (-1 for a signal). */
static int child_finish(child *c, int ms)
{
    if (c->in >= 0) {
        close(c->in);
        c->in = -1;
    }
    uint64_t end = itest_now_ms() + (uint64_t)ms;
    while (child_read(c, 50))
        if (itest_now_ms() >= end) {
            child_dump(c);
            kill(c->pid, SIGKILL);
            fail_msg("battle-cli did not finish within %d ms", ms);
        }
    assert_int_equal(waitpid(c->pid, &c->status, 0), c->pid);
    c->exited = true;
    return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
}

static void child_free(child *c)
{
    if (c->in >= 0)
        close(c->in);
    if (!c->exited && c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, &c->status, 0);
    }
    close(c->out);
    free(c->buf);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void refute(const child *c, const char *needle)
{
    if (strstr(c->buf, needle)) {
        child_dump(c);
        fail_msg("battle-cli printed \"%s\"", needle);
    }
}

/* The turns of a scripted player: wait for the turn, then act; varied so every action is used. */
static void write_moves(FILE *f, int n)
{
    for (int i = 0; i < n; i++) {
        fprintf(f, "wait turn 20\n");
        switch (i % 5) {
        case 1: fprintf(f, "missile\n"); break;
        case 3: fprintf(f, "sand\nfire 1\n"); break;
        default: fprintf(f, "fire 0\n"); break;
        }
    }
}

static void path_in_dir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

static const char *port_str(void)
{
    static char p[8];
    snprintf(p, sizeof p, "%u", (unsigned)g_srv.port);
    return p;
}

/* ---- suite ---- */

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/battle-cli-it-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    /* A real rate limit (after itest's "off"): the client must pace itself, never be refused. */
    static const char *const sets[] = {"game.ai_think_ms=0", "game.turn_timer_ms=20000",
                                       "server.drain_timeout_ms=2000",
                                       /* short, so the keepalive test needs only seconds */
                                       "server.idle_timeout_ms=3000",
                                       "ratelimit.actions_per_sec=20", "ratelimit.burst=2", NULL};
    return itest_start(&g_srv, sets) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_finish(&g_srv, 10000);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return rc == 0 ? 0 : -1;
}

/* A solo battle against the server's captain, played to the end from a script on stdin. */
static void test_solo_battle_from_a_script(void **state)
{
    (void)state;
    char script[200];
    path_in_dir(script, sizeof script, "solo.txt");
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f, "# a solo battle, as a person would type it\n"
               "create scout adjacent vs ai free_trader\nwait start\n");
    write_moves(f, MOVES);
    fprintf(f, "wait end 30\nstatus\nquit\n");
    fclose(f);

    child c;
    const char *args[] = {"--port", port_str(), "--name", "solo", NULL};
    child_start(&c, args, script);
    child_expect(&c, "Connected to battled", CLI_WAIT_MS);
    child_expect(&c, "started at Adjacent range", CLI_WAIT_MS);
    child_expect(&c, "You: Scout (seat 0)", CLI_WAIT_MS);
    child_expect(&c, "Enemy: Free Trader (seat 1)", CLI_WAIT_MS);
    child_expect(&c, "=== Battle over", CLI_BATTLE_MS);
    assert_int_equal(child_finish(&c, CLI_WAIT_MS), 0);
    /* Both sides acted and the player's turn actions all landed on its turn. */
    assert_true(count(c.buf, "You fire") >= 1);
    assert_true(count(c.buf, "Enemy fires") >= 1);
    assert_true(count(c.buf, "--- Round ") >= 1);
    refute(&c, "not_your_turn");
    refute(&c, "already_acted");
    refute(&c, "rate_limited");
    refute(&c, "Connection lost");
    child_free(&c);
}

/* Nonsense from the keyboard gets a clear message each time; the client keeps going. */
static void test_bad_input_gets_clear_errors(void **state)
{
    (void)state;
    child c;
    const char *args[] = {"--port", port_str(), NULL};
    child_start(&c, args, NULL);
    child_expect(&c, "Connected to battled", CLI_WAIT_MS);
    static const struct {
        const char *line, *says;
    } cases[] = {
        {"blah", "unknown command 'blah'"},
        {"fire banana", "fire takes a weapon number 0..15"},
        {"fire 99", "fire takes a weapon number 0..15"},
        {"fire -1", "fire takes a weapon number"},
        {"queue", "usage: queue <ship> <band>"},
        {"queue scout nowhere", "'nowhere' is not a range band"},
        {"create scout close vs robots", "'robots': create ... vs ai or vs player"},
        {"join 0 scout", "'0' is not a battle id"},
        {"join 18446744073709551616 scout", "is not a battle id"},
        {"join 12 Scout!", "is not a ship name"},
        {"watch abc", "'abc' is not a battle id"},
        {"pd x", "pd takes a missile id"},
        {"pd #3x", "pd takes a missile id"},
        {"pd #3 # a comment", "you are not in a battle"},
        {"resume 1 2 00", "'2' is not a seat"},
        {"resume 1 0 xyz", "is not a resume token"},
        {"wait forever", "'forever': wait for turn, start or end"},
        {"a b c d e f g h i j", "too many words"},
        {"fire\x01", "unexpected byte 0x01"},
        {"fire \xc3\xa9", "unexpected byte 0xc3"},
        {"fire", "you are not in a battle"},
        {"sand", "you are not in a battle"},
        {"cancel", "you are not in the queue"},
        {"leave", "you are not in a battle"},
        {"resume", "no battle to resume"},
        {"wait turn 1", "wait: no battle to wait for"},
        {"watch 12345", "no_such_battle"},
        {"join 12345 scout", "no_such_battle"},
        {"queue nosuchship close", "no_such_ship"},
        {"help fire", "fire [<weapon>]"},
        {"ping", "pong"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        child_send(&c, "%s\n", cases[i].line);
        child_expect(&c, cases[i].says, CLI_WAIT_MS);
    }
    /* Over-long lines: one within the input buffer, one far past it. */
    char longline[6000];
    memset(longline, 'x', sizeof longline);
    longline[300] = '\0';
    child_send(&c, "%s\n", longline);
    child_expect(&c, "line too long", CLI_WAIT_MS);
    longline[sizeof longline - 1] = '\0';
    child_send(&c, "%s\n", longline);
    child_expect(&c, "line too long", CLI_WAIT_MS);
    /* Still alive and answering. */
    child_send(&c, "status\n");
    child_expect(&c, "No battle.", CLI_WAIT_MS);
    child_send(&c, "quit\n");
    assert_int_equal(child_finish(&c, CLI_WAIT_MS), 0);
    child_free(&c);
}

/* The first process dies mid-battle; a second one takes the seat back from the resume file and
 * plays to the end, without showing again what the first one showed. */
/* A player keeping its seat in rfile starts a battle against the AI, plays `rounds` rounds (fire 0)
 * and is killed on its turn: the record stays behind. */
static void killed_player(child *a, const char *rfile, int rounds)
{
    const char *args_a[] = {"--port", port_str(), "--resume-file", rfile, NULL};
    child_start(a, args_a, NULL);
    child_expect(a, "Connected to battled", CLI_WAIT_MS);
    child_send(a, "create scout adjacent vs ai free_trader\n");
    child_expect(a, "Round 1: your turn", CLI_WAIT_MS);
    for (int r = 2; r <= rounds; r++) {
        char line[32];
        child_send(a, "fire 0\n");
        snprintf(line, sizeof line, "Round %d: your turn", r);
        child_expect(a, line, CLI_WAIT_MS);
    }
    /* The record is written after the line is printed: wait for it (a slow build shows the gap). */
    cli_resume rec;
    char err[300];
    uint64_t end = itest_now_ms() + CLI_WAIT_MS;
    while (cli_resume_load(rfile, &rec, err, sizeof err) != 0 && itest_now_ms() < end)
        usleep(20 * 1000);
    kill(a->pid, SIGKILL);
    child_finish(a, CLI_WAIT_MS);
}

static void test_resume_from_a_new_process(void **state)
{
    (void)state;
    char rfile[200], script[200];
    path_in_dir(rfile, sizeof rfile, "resume.rec");
    path_in_dir(script, sizeof script, "after.txt");

    child a;
    killed_player(&a, rfile, 2);

    cli_resume rec;
    char err[300];
    assert_int_equal(cli_resume_load(rfile, &rec, err, sizeof err), 0);
    assert_int_equal(rec.port, g_srv.port);
    assert_int_equal(rec.seat, 0);
    assert_true(rec.last > 1);

    FILE *f = fopen(script, "w");
    assert_non_null(f);
    write_moves(f, MOVES);
    fprintf(f, "wait end 30\nquit\n");
    fclose(f);
    child b;
    const char *args_b[] = {"--resume-file", rfile, NULL}; /* host and port come from the file */
    child_start(&b, args_b, script);
    child_expect(&b, "taking it back", CLI_WAIT_MS);
    child_expect(&b, "Resuming battle", CLI_WAIT_MS);
    child_expect(&b, "=== Battle over", CLI_BATTLE_MS);
    assert_int_equal(child_finish(&b, CLI_WAIT_MS), 0);
    refute(&b, "started at"); /* the first process showed the start; the replay was quiet */
    refute(&b, "(disconnect)");
    refute(&b, "not_your_turn");
    refute(&b, "bad_token");
    assert_true(count(b.buf, "You fire") >= 1);
    struct stat st;
    assert_int_not_equal(stat(rfile, &st), 0); /* the record goes when the battle ends */
    child_free(&a);
    child_free(&b);
}

static void write_player_script(const char *path, const char *opening)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\nwait start 30\n", opening);
    write_moves(f, MOVES);
    fprintf(f, "wait end 30\nquit\n");
    fclose(f);
}

/* Two people: one creates a private battle, the other joins it by the id the first was shown. */
static void test_private_battle_between_two_terminals(void **state)
{
    (void)state;
    child host;
    const char *args[] = {"--port", port_str(), NULL};
    child_start(&host, args, NULL);
    child_send(&host, "create scout adjacent\n");
    child_expect(&host, "Your opponent types: join ", CLI_WAIT_MS);
    unsigned long long bid = 0;
    assert_int_equal(sscanf(host.buf + host.mark, "%llu", &bid), 1);
    assert_true(bid > 0);
    child_send(&host, "wait start 30\n");
    for (int i = 0; i < MOVES; i++)
        child_send(&host, "wait turn 20\nfire\n");
    child_send(&host, "wait end 30\nquit\n");

    char script[200], opening[64];
    path_in_dir(script, sizeof script, "guest.txt");
    snprintf(opening, sizeof opening, "join %llu free_trader", bid);
    write_player_script(script, opening);
    child guest;
    child_start(&guest, args, script);
    child_expect(&guest, "You: Free Trader (seat 1)", CLI_WAIT_MS);
    child_expect(&host, "You: Scout (seat 0)", CLI_WAIT_MS);
    child_expect(&guest, "=== Battle over", CLI_BATTLE_MS);
    child_expect(&host, "=== Battle over", CLI_BATTLE_MS);
    assert_int_equal(child_finish(&guest, CLI_WAIT_MS), 0);
    assert_int_equal(child_finish(&host, CLI_WAIT_MS), 0);
    /* One won and one lost (or both drew), and each saw the other's shots. */
    size_t wins = count(host.buf, "YOU WIN") + count(guest.buf, "YOU WIN");
    size_t draws = count(host.buf, "no winner");
    assert_true(wins == 1 || draws == 1);
    assert_true(count(host.buf, "Enemy fires") >= 1 && count(guest.buf, "Enemy fires") >= 1);
    refute(&host, "not_your_turn");
    refute(&guest, "not_your_turn");
    child_free(&host);
    child_free(&guest);
}

/* Two strangers queue for the same band and meet; one forfeits. */
static void test_matchmaking_and_forfeit(void **state)
{
    (void)state;
    child a, b;
    const char *args[] = {"--port", port_str(), NULL};
    child_start(&a, args, NULL);
    child_send(&a, "queue seeker long\n");
    child_expect(&a, "Queued with a seeker for a battle at Long range", CLI_WAIT_MS);
    child_start(&b, args, NULL);
    child_send(&b, "queue scout long\nwait start 30\nforfeit\nwait end 30\nquit\n");
    child_expect(&a, "started at Long range", CLI_WAIT_MS);
    child_expect(&b, "you lose (forfeit)", CLI_WAIT_MS);
    child_expect(&a, "YOU WIN (forfeit)", CLI_WAIT_MS);
    child_send(&a, "status\nquit\n");
    child_expect(&a, "over", CLI_WAIT_MS);
    assert_int_equal(child_finish(&a, CLI_WAIT_MS), 0);
    assert_int_equal(child_finish(&b, CLI_WAIT_MS), 0);
    child_free(&a);
    child_free(&b);
}

/* ---- a TCP proxy whose connections the test can cut, to drop battle-cli's connection ---- */

typedef struct {
    int lfd;
    uint16_t port;
    int ctl[2];           /* a byte on ctl[1] cuts the current pair; 'q' stops; 'i' injects */
    pthread_t th;
    int cuts;
    uint8_t inject[512];  /* 'i': these bytes go to the client as if the server had sent them */
    size_t ninject;
    bool drop;            /* 'd': the server's bytes are kept here instead of reaching the client,
                           * until the next cut (a reply lost with its connection) */
    uint8_t dropped[4096];
    size_t ndropped;      /* read with __atomic_load_n: the proxy thread writes it */
} proxy;

static void *proxy_main(void *arg)
{
    proxy *px = arg;
    int down = -1, up = -1;
    for (;;) {
        struct pollfd p[4] = {{.fd = px->ctl[0], .events = POLLIN}, {.fd = px->lfd, .events = POLLIN},
                              {.fd = down, .events = POLLIN}, {.fd = up, .events = POLLIN}};
        if (poll(p, 4, 1000) < 0 && errno != EINTR)
            break;
        if (p[0].revents) {
            char ch = 0;
            if (read(px->ctl[0], &ch, 1) != 1 || ch == 'q')
                break;
            if (ch == 'd') {
                px->drop = true;
                continue;
            }
            if (ch == 'i') {
                if (down >= 0 && write(down, px->inject, px->ninject) != (ssize_t)px->ninject)
                    fprintf(stderr, "proxy: inject failed\n");
                continue;
            }
            if (down >= 0) {
                close(down);
                close(up);
                down = up = -1;
                px->cuts++;
            }
            px->drop = false;
            continue;
        }
        if (p[1].revents && down < 0) {
            down = accept(px->lfd, NULL, NULL);
            if (down >= 0) {
                struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(g_srv.port)};
                sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                up = socket(AF_INET, SOCK_STREAM, 0);
                if (up < 0 || connect(up, (struct sockaddr *)&sa, sizeof sa) != 0) {
                    close(down);
                    if (up >= 0)
                        close(up);
                    down = up = -1;
                }
            }
        }
        for (int i = 2; i < 4 && down >= 0; i++) {
            if (!p[i].revents)
                continue;
            char buf[16384];
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            int to = p[i].fd == down ? up : down;
            if (n > 0 && to == down && px->drop) {
                size_t have = __atomic_load_n(&px->ndropped, __ATOMIC_RELAXED);
                size_t k = (size_t)n < sizeof px->dropped - have ? (size_t)n : sizeof px->dropped - have;
                memcpy(px->dropped + have, buf, k);
                __atomic_store_n(&px->ndropped, have + k, __ATOMIC_RELEASE);
                continue;
            }
            if (n <= 0 || write(to, buf, (size_t)n) != n) {
                close(down);
                close(up);
                down = up = -1;
            }
        }
    }
    if (down >= 0) {
        close(down);
        close(up);
    }
    return NULL;
}

static void proxy_start(proxy *px)
{
    memset(px, 0, sizeof *px);
    px->lfd = itest_listen_loopback(&px->port);
    assert_int_equal(pipe(px->ctl), 0);
    assert_int_equal(pthread_create(&px->th, NULL, proxy_main, px), 0);
}

static void proxy_send(proxy *px, char ch)
{
    assert_int_equal(write(px->ctl[1], &ch, 1), 1);
}

static void proxy_stop(proxy *px)
{
    proxy_send(px, 'q');
    pthread_join(px->th, NULL);
    close(px->lfd);
    close(px->ctl[0]);
    close(px->ctl[1]);
}

/* A proxy, and a battle-cli that connects through it and reconnects up to 5 times. */
static void start_behind_proxy(proxy *px, child *c)
{
    proxy_start(px);
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)px->port);
    const char *args[] = {"--port", port, "--retries", "5", NULL};
    child_start(c, args, NULL);
}

/* A solo battle against the AI from a piped battle-cli, up to its second turn. */
static void solo_to_round_2(child *c)
{
    child_expect(c, "Connected to battled", CLI_WAIT_MS);
    child_send(c, "create scout adjacent vs ai free_trader\n");
    child_expect(c, "Round 1: your turn", CLI_WAIT_MS);
    child_send(c, "fire 0\n");
    child_expect(c, "Round 2: your turn", CLI_WAIT_MS);
}

/* Fires whenever it is our turn until the battle ends, then quits: exit status 0. */
static void play_to_the_end(child *c)
{
    for (int i = 0; i < MOVES; i++)
        child_send(c, "wait turn 20\nfire 0\n");
    child_send(c, "wait end 30\nquit\n");
    child_expect(c, "=== Battle over", CLI_BATTLE_MS);
    assert_int_equal(child_finish(c, CLI_WAIT_MS), 0);
}

/* The connection drops mid-battle: battle-cli reconnects by itself, resumes, misses nothing and
 * shows nothing twice. */
static void test_reconnects_after_a_drop(void **state)
{
    (void)state;
    proxy px;
    child c;
    start_behind_proxy(&px, &c);
    solo_to_round_2(&c);
    proxy_send(&px, 'x'); /* cut */
    child_expect(&c, "Connection lost", CLI_WAIT_MS);
    child_expect(&c, "Resuming battle", CLI_WAIT_MS);
    play_to_the_end(&c);
    proxy_stop(&px);
    assert_int_equal(px.cuts, 1);
    assert_int_equal(count(c.buf, "started at"), 1);
    assert_int_equal(count(c.buf, "--- Round 2 ---"), 1); /* the replay skipped what was seen */
    refute(&c, "not_your_turn");
    refute(&c, "bad_token");
    refute(&c, "Giving up");
    child_free(&c);
}

/* Issue 16: the reply to a create is lost with its connection. battle-cli reconnects and sends the
 * same create with the same key, and gets the battle the lost reply announced, not a second one. */
static void test_lost_create_reply_asks_again_with_its_key(void **state)
{
    (void)state;
    proxy px;
    child c;
    start_behind_proxy(&px, &c);
    child_expect(&c, "Connected to battled", CLI_WAIT_MS);
    proxy_send(&px, 'd');
    child_send(&c, "create scout short vs player\n");
    /* the server answered (the proxy holds the whole `created` frame), the client heard nothing */
    uint64_t end = itest_now_ms() + CLI_WAIT_MS;
    size_t n;
    while ((n = __atomic_load_n(&px.ndropped, __ATOMIC_ACQUIRE)) < 4 ||
           n < 4 + ((size_t)px.dropped[0] << 24 | (size_t)px.dropped[1] << 16 |
                    (size_t)px.dropped[2] << 8 | px.dropped[3])) {
        assert_true(itest_now_ms() < end);
        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    proto_event ev;
    assert_int_equal(proto_decode_event(px.dropped + 4, n - 4, &ev, NULL), PROTO_E_OK);
    assert_int_equal(ev.type, PROTO_T_CREATED);
    refute(&c, "created at");
    proxy_send(&px, 'x'); /* cut */
    child_expect(&c, "Asking again for the battle requested", CLI_WAIT_MS);
    char want[96];
    snprintf(want, sizeof want, "Battle %llu created at", (unsigned long long)ev.bid);
    child_expect(&c, want, CLI_WAIT_MS);
    child_send(&c, "quit\n");
    assert_int_equal(child_finish(&c, CLI_WAIT_MS), 0);
    proxy_stop(&px);
    assert_int_equal(count(c.buf, "created at"), 1);
    child_free(&c);
}

/* docs/PROTOCOL.md section 8: a seat whose last seq is ahead of the server's (the server lost the
 * end of its journal in a crash) gets seq_gone on resume; the client then resumes with last 0,
 * takes the state and plays on, instead of forgetting the battle. Simulated by a proxy that
 * injects one event numbered far ahead, then cuts the connection. */
static void test_seq_gone_takes_the_state(void **state)
{
    (void)state;
    proxy px;
    proxy_start(&px);
    char port[8], rfile[200];
    snprintf(port, sizeof port, "%u", (unsigned)px.port);
    path_in_dir(rfile, sizeof rfile, "gone.rec");
    child c;
    const char *args[] = {"--port", port, "--resume-file", rfile, NULL};
    child_start(&c, args, NULL);
    solo_to_round_2(&c);
    cli_resume rec;
    char err[300];
    uint64_t until = itest_now_ms() + CLI_WAIT_MS;
    while (cli_resume_load(rfile, &rec, err, sizeof err) != 0 && itest_now_ms() < until)
        poll(NULL, 0, 10);
    assert_true(rec.last > 1);
    /* The event a server that later lost it would have sent: the same turn, numbered ahead. */
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PROTO_T_TURN;
    ev.bid = rec.bid;
    ev.seq = rec.last + 500;
    ev.u.turn.round = 2;
    ev.u.turn.active = 0;
    size_t len = 0;
    assert_int_equal(proto_encode_event(px.inject, sizeof px.inject, &ev, &len), PROTO_E_OK);
    px.ninject = len;
    proxy_send(&px, 'i');
    until = itest_now_ms() + CLI_WAIT_MS; /* the record follows what the client has seen */
    while ((cli_resume_load(rfile, &rec, err, sizeof err) != 0 || rec.last != ev.seq) &&
           itest_now_ms() < until)
        poll(NULL, 0, 10);
    assert_int_equal(rec.last, ev.seq);
    proxy_send(&px, 'x'); /* cut: the client reconnects and resumes with last ahead */
    child_expect(&c, "Connection lost", CLI_WAIT_MS);
    child_expect(&c, "Resuming battle", CLI_WAIT_MS);
    child_expect(&c, "taking its state", CLI_WAIT_MS);
    play_to_the_end(&c);
    proxy_stop(&px);
    refute(&c, "cannot be resumed");
    child_free(&c);
}

/* A spectator sees a battle played by someone else from where it joined to the end. */
static void test_watch_a_battle(void **state)
{
    (void)state;
    proto_event ev;
    pc_conn *p = itest_client(&g_srv, "player");
    assert_true(pc_create(p, "free_trader", PROTO_BAND_ADJACENT, PROTO_VS_AI, "scout") > 0);
    itest_expect(p, PROTO_T_STARTED, &ev);
    uint64_t bid = ev.bid;
    int seat = ev.u.started.seat, active = ev.u.started.first;

    child c;
    const char *args[] = {"--port", port_str(), NULL};
    child_start(&c, args, NULL);
    child_expect(&c, "Connected to battled", CLI_WAIT_MS);
    child_send(&c, "watch %llu\nwait end 60\nstatus\nquit\n", (unsigned long long)bid);
    child_expect(&c, "Watching battle", CLI_WAIT_MS);

    /* Play the seat: weapon 0 whenever it is ours, slowly enough for the rate limit. */
    uint64_t end = itest_now_ms() + CLI_BATTLE_MS;
    uint16_t acted_round = 0, round = 1;
    bool over = false;
    while (!over && itest_now_ms() < end) {
        if (active == seat && acted_round != round) {
            acted_round = round;
            struct timespec pace = {.tv_nsec = 60 * 1000000L}; /* under the 20/s rate limit */
            nanosleep(&pace, NULL);
            assert_true(pc_fire(p, bid, 0) > 0);
        }
        int r = pc_recv(p, &ev, 100);
        if (r < 0)
            fail_msg("the player's connection closed: %s", strerror(errno));
        if (r == 0)
            continue;
        if (ev.type == PROTO_T_TURN) {
            active = ev.u.turn.active;
            round = ev.u.turn.round;
        } else if (ev.type == PROTO_T_ROUND) {
            active = ev.u.round.active;
            round = ev.u.round.round;
        } else if (ev.type == PROTO_T_ENDED) {
            over = true;
        } else if (ev.type == PROTO_T_ERROR && ev.u.error.code == PROTO_E_RATE_LIMITED) {
            acted_round = 0; /* try again */
        }
    }
    assert_true(over);
    child_expect(&c, "=== Battle over", CLI_WAIT_MS);
    assert_int_equal(child_finish(&c, CLI_WAIT_MS), 0);
    assert_true(count(c.buf, "Seat 0 (Free Trader) fires") + count(c.buf, "Seat 1 (Scout) fires") >= 1);
    refute(&c, "You fire");
    pc_close(p);
    child_free(&c);
}

/* Waiting in the queue sends nothing, yet the connection outlives the server's idle timeout. */
static void test_keepalive_while_queued(void **state)
{
    (void)state;
    child c;
    const char *args[] = {"--port", port_str(), NULL};
    child_start(&c, args, NULL);
    child_send(&c, "queue patrol_corvette distant\n");
    child_expect(&c, "Queued with a patrol_corvette", CLI_WAIT_MS);
    struct timespec idle = {.tv_sec = 5}; /* well past idle_timeout_ms = 3000 */
    nanosleep(&idle, NULL);
    child_send(&c, "cancel\n");
    child_expect(&c, "You left the queue.", CLI_WAIT_MS);
    child_send(&c, "quit\n");
    assert_int_equal(child_finish(&c, CLI_WAIT_MS), 0);
    refute(&c, "Connection lost");
    child_free(&c);
}

/* Issue 16: the server drains while battle-cli plays; the battle ends as "shutdown" and the server
 * closes the connection. A battle that ended is a clean exit with its result: status 0, the result
 * shown, no retries of a closed server and no "Giving up". stdin stays open: it must exit by itself. */
static void test_drain_ends_the_battle_cleanly(void **state)
{
    (void)state;
    itest_server srv;
    /* The AI never answers in time, so the battle is still running when the drain ends it. */
    static const char *const sets[] = {"game.ai_think_ms=60000", "server.drain_timeout_ms=300",
                                       "server.on_sigterm=drain", NULL};
    if (!itest_start(&srv, sets))
        fail_msg("battled did not start");
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)srv.port);
    child c;
    const char *args[] = {"--port", port, NULL};
    child_start(&c, args, NULL);
    child_expect(&c, "Connected to battled", CLI_WAIT_MS);
    child_send(&c, "create scout adjacent vs ai free_trader\n");
    child_expect(&c, "Round 1: your turn", CLI_WAIT_MS);
    child_send(&c, "fire 0\n");
    child_expect(&c, "You fire", CLI_WAIT_MS);
    kill(srv.pid, SIGTERM);
    child_expect(&c, "=== Battle over", CLI_WAIT_MS);
    child_expect(&c, "(shutdown)", CLI_WAIT_MS);
    assert_int_equal(child_finish(&c, CLI_WAIT_MS), 0);
    refute(&c, "Retrying");
    refute(&c, "Giving up");
    child_free(&c);
    assert_int_equal(itest_stop(&srv, SIGTERM, 10000), 0);
    itest_cleanup(&srv);
}

/* No server: a bounded number of tries, then a clear message and exit status 1. */
/* A port nobody listens on (bound, then closed). */
static uint16_t dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_gives_up_without_a_server(void **state)
{
    (void)state;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)dead_port());
    child c;
    const char *args[] = {"--port", port, "--retries", "2", NULL};
    child_start(&c, args, NULL); /* stdin stays open: it must give up by itself */
    child_expect(&c, "Retrying in", CLI_WAIT_MS);
    child_expect(&c, "(2 of 2)", CLI_WAIT_MS);
    child_expect(&c, "Giving up on 127.0.0.1:", CLI_WAIT_MS);
    assert_int_equal(child_finish(&c, CLI_WAIT_MS), 1);
    child_free(&c);
}

/* ---- clusters: a fake node that answers battle requests with `moved` ---- */

#define NODE_CONNS 8
typedef struct {
    int lfd, ctl[2];
    uint16_t port;
    uint64_t loop_bid;    /* a join of this battle is sent back to this node itself, forever */
    uint16_t dead_port;   /* the first dead_left resumes are sent to this port, where nobody */
    int dead_left;        /* listens (a node that just died, still in the others' view) */
    pthread_t th;
} fake_node;

static void node_reply(int fd, const proto_event *ev)
{
    uint8_t buf[512];
    size_t len;
    if (proto_encode_event(buf, sizeof buf, ev, &len) == PROTO_E_OK)
        (void)!send(fd, buf, len, MSG_NOSIGNAL);
}

/* hello: welcome; ping: pong; join/watch/resume: moved to the real server (or to this node for
 * loop_bid). Nothing else is ever executed here. */
typedef struct {
    fake_node *n;
    int fd;
} node_peer;

static void node_answer(void *arg, const uint8_t *body, uint32_t len)
{
    node_peer *np = arg;
    fake_node *n = np->n;
    int fd = np->fd;
    proto_request req, *r = &req;
    if (proto_decode_request(body, len, r, NULL) != PROTO_E_OK)
        return;
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    ev.has_rid = r->has_rid;
    ev.rid = r->rid;
    if (r->type == PROTO_T_HELLO) {
        ev.type = PROTO_T_WELCOME;
        ev.u.welcome = (struct proto_welcome){.version = PROTO_VERSION, .server = "fake-node",
                                              .max_frame = PROTO_FRAME_DEFAULT_MAX, .max_seats = 8,
                                              .max_watch = 8, .rate = 20, .burst = 20,
                                              .turn_ms = 30000, .resume_ms = 30000, .idle_ms = 30000};
    } else if (r->type == PROTO_T_PING) {
        ev.type = PROTO_T_PONG;
        ev.u.pong.ts = r->u.ping.ts;
    } else if (proto_type_battle_scoped(r->type)) {
        ev.type = PROTO_T_MOVED;
        ev.bid = r->bid;
        uint16_t to = r->bid == n->loop_bid ? n->port : g_srv.port;
        if (r->type == PROTO_T_RESUME && n->dead_left > 0) {
            n->dead_left--;
            to = n->dead_port;
        }
        snprintf(ev.u.moved.addr, sizeof ev.u.moved.addr, "127.0.0.1:%u", (unsigned)to);
    } else {
        return;
    }
    node_reply(fd, &ev);
}

static void *node_main(void *arg)
{
    fake_node *n = arg;
    struct pollfd p[2 + NODE_CONNS];
    static frame_reader fr[2 + NODE_CONNS];
    int np = 2;
    p[0] = (struct pollfd){.fd = n->ctl[0], .events = POLLIN};
    p[1] = (struct pollfd){.fd = n->lfd, .events = POLLIN};
    while (poll(p, (nfds_t)np, 1000) >= 0 || errno == EINTR) {
        if (p[0].revents)
            break;
        if (p[1].revents && np < 2 + NODE_CONNS) {
            int fd = accept(n->lfd, NULL, NULL);
            if (fd >= 0) {
                frame_reader_init(&fr[np], PROTO_FRAME_DEFAULT_MAX);
                p[np++] = (struct pollfd){.fd = fd, .events = POLLIN};
            }
        }
        for (int i = 2; i < np; i++) {
            node_peer peer = {n, p[i].fd};
            if (p[i].revents && !itest_read_frames(p[i].fd, &fr[i], node_answer, &peer)) {
                close(p[i].fd);
                frame_reader_free(&fr[i]);
                p[i] = p[np - 1];
                fr[i] = fr[np - 1];
                np--;
                i--;
            }
        }
    }
    for (int i = 2; i < np; i++) {
        close(p[i].fd);
        frame_reader_free(&fr[i]);
    }
    return NULL;
}

/* Starts the fake node's thread; everything it reads is set before. */
static void node_start(fake_node *n, uint64_t loop_bid, uint16_t dead_to, int dead_left)
{
    memset(n, 0, sizeof *n);
    n->loop_bid = loop_bid;
    n->dead_port = dead_to;
    n->dead_left = dead_left;
    n->lfd = itest_listen_loopback(&n->port);
    assert_int_equal(pipe(n->ctl), 0);
    assert_int_equal(pthread_create(&n->th, NULL, node_main, n), 0);
}

static void node_stop(fake_node *n)
{
    assert_int_equal(write(n->ctl[1], "q", 1), 1);
    pthread_join(n->th, NULL);
    close(n->lfd);
    close(n->ctl[0]);
    close(n->ctl[1]);
}

/* Connected to a node that does not hold the battle, battle-cli follows `moved` to the one that
 * does (the real server), joins there and plays; a battle that keeps moving is given up after 5. */
static void test_follows_moved_to_the_holder(void **state)
{
    (void)state;
    proto_event ev;
    pc_conn *host = itest_client(&g_srv, "host");
    assert_true(pc_create(host, "scout", PROTO_BAND_ADJACENT, PROTO_VS_PLAYER, NULL) > 0);
    itest_expect(host, PROTO_T_CREATED, &ev);
    uint64_t bid = ev.bid;

    fake_node n;
    node_start(&n, bid + 1, 0, 0);
    char port[8], line[96];
    snprintf(port, sizeof port, "%u", (unsigned)n.port);
    const char *args[] = {"--port", port, NULL};
    child c;
    child_start(&c, args, NULL);
    child_expect(&c, "Connected to fake-node", CLI_WAIT_MS);
    child_send(&c, "join %llu free_trader\n", (unsigned long long)bid);
    snprintf(line, sizeof line, "Battle %llu is on 127.0.0.1:%u; following it there...",
             (unsigned long long)bid, (unsigned)g_srv.port);
    child_expect(&c, line, CLI_WAIT_MS);
    child_expect(&c, "You: Free Trader (seat 1)", CLI_WAIT_MS);
    itest_expect(host, PROTO_T_STARTED, &ev);
    assert_true(pc_forfeit(host, bid) > 0);
    child_expect(&c, "=== Battle over", CLI_WAIT_MS);
    refute(&c, "error:");

    /* The holder keeps naming another node: five follows, then the request is given up. */
    child c2;
    child_start(&c2, args, NULL);
    child_expect(&c2, "Connected to fake-node", CLI_WAIT_MS);
    child_send(&c2, "join %llu free_trader\n", (unsigned long long)(bid + 1));
    child_expect(&c2, "moved 5 times; giving up on that request", CLI_WAIT_MS);
    assert_int_equal((int)count(c2.buf, "following it there"), PC_FOLLOW_MAX);
    child_send(&c2, "quit\n");
    assert_int_equal(child_finish(&c2, CLI_WAIT_MS), 0);
    child_send(&c, "quit\n");
    assert_int_equal(child_finish(&c, CLI_WAIT_MS), 0);
    child_free(&c);
    child_free(&c2);
    node_stop(&n);
    pc_close(host);
}

/* Right after a node dies the others still name it in `moved` until its heartbeat expires: a
 * resume sent there cannot be followed. battle-cli retries the resume through its way in, with
 * backoff, rather than dropping the seat, and resumes once the battle's new holder is named. And
 * when its way in itself is gone, the next --also address is tried. */
static void test_resume_survives_a_dead_holder(void **state)
{
    (void)state;
    char rfile[200];
    path_in_dir(rfile, sizeof rfile, "moving.rec");
    child a;
    killed_player(&a, rfile, 1);

    fake_node n;
    node_start(&n, 0, dead_port(), 2);
    char first[8], also[32], line[128];
    snprintf(first, sizeof first, "%u", (unsigned)dead_port()); /* the first way in is gone too */
    snprintf(also, sizeof also, "127.0.0.1:%u", (unsigned)n.port);
    const char *args_b[] = {"--resume-file", rfile, "--port", first, "--also", also, NULL};
    child b;
    child_start(&b, args_b, NULL);
    snprintf(line, sizeof line, "Trying %s next.", also);
    child_expect(&b, line, CLI_WAIT_MS);
    child_expect(&b, "Connected to fake-node", CLI_WAIT_MS);
    child_expect(&b, "the battle is probably moving to another node", CLI_WAIT_MS);
    child_expect(&b, "the battle is probably moving to another node", CLI_WAIT_MS);
    snprintf(line, sizeof line, "is on 127.0.0.1:%u; following it there...", (unsigned)g_srv.port);
    child_expect(&b, line, CLI_WAIT_MS);
    child_expect(&b, "your turn", CLI_WAIT_MS);
    refute(&b, "error:");
    refute(&b, "Giving up");
    child_send(&b, "forfeit\n");
    child_expect(&b, "=== Battle over", CLI_WAIT_MS);
    child_send(&b, "quit\n");
    assert_int_equal(child_finish(&b, CLI_WAIT_MS), 0);
    child_free(&a);
    child_free(&b);
    node_stop(&n);
}

int main(int argc, char **argv)
{
    /* Our own option first; the rest is itest's (server binary, --shards). */
    const char *cli = itest_take_option(&argc, argv, "--cli");
    if (cli)
        g_cli = cli;
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solo_battle_from_a_script),
        cmocka_unit_test(test_bad_input_gets_clear_errors),
        cmocka_unit_test(test_private_battle_between_two_terminals),
        cmocka_unit_test(test_matchmaking_and_forfeit),
        cmocka_unit_test(test_resume_from_a_new_process),
        cmocka_unit_test(test_reconnects_after_a_drop),
        cmocka_unit_test(test_lost_create_reply_asks_again_with_its_key),
        cmocka_unit_test(test_seq_gone_takes_the_state),
        cmocka_unit_test(test_watch_a_battle),
        cmocka_unit_test(test_keepalive_while_queued),
        cmocka_unit_test(test_gives_up_without_a_server),
        cmocka_unit_test(test_follows_moved_to_the_holder),
        cmocka_unit_test(test_resume_survives_a_dead_holder),
        cmocka_unit_test(test_drain_ends_the_battle_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
