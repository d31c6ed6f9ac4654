/* battle-cli: play battled from a terminal.
 *
 * One thread, one poll(2) over the input (a terminal, a pipe or a --script file) and the server
 * connection, so battle events appear as they happen while the person types nothing. Commands are
 * parsed by cli/cmd, events are told by cli/view, and cli/resume keeps the seat's resume record on
 * disk. This file holds the options, the input and the loop; the rest of the program is in the
 * files cli/app.h lists. A dropped connection is retried a bounded number of times and the seat resumed with the
 * last sequence number seen, so nothing is missed and nothing is shown twice. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/app.h"

#define CLI_VERSION "0.1.0"
#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 7070
#define DEFAULT_RETRIES 10        /* reconnect attempts after a drop before giving up */
#define DEFAULT_RETRY_FOR_MS 60000 /* ... and the time they may take in all */
#define RETRY_FIRST_MS 250        /* first wait after a drop; doubles per attempt, with jitter */
#define RETRY_MAX_MS 4000         /* longest wait between two attempts */
#define TICK_MS 1000              /* longest poll sleep: timers are checked at least this often */

/* Ctrl-C, a closed terminal or a kill: leave through the loop, so the person learns how to
 * take the seat back. */
static volatile sig_atomic_t g_stop;

static void on_stop_signal(int sig)
{
    g_stop = sig;
}

int64_t app_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: battle-cli [options]\n"
            "  --host HOST          server address (default " DEFAULT_HOST ")\n"
            "  --port PORT          server port (default %d)\n"
            "  --also HOST:PORT     another node of the same cluster, tried in turn when the current\n"
            "                       address cannot be reached (repeatable, up to 7)\n"
            "  --name NAME          your name, told to the server (default: $USER)\n"
            "  --script FILE        read commands from FILE instead of the terminal\n"
            "  --resume-file FILE   keep the battle's resume record in FILE; when FILE holds one at\n"
            "                       start, take that seat back (also from a new process)\n"
            "  --retries N          reconnect attempts after a dropped connection (default %d)\n"
            "  --retry-for MS       ... for at most MS ms in all; 0 = no limit (default %d)\n"
            "  --help, --version\n"
            "Type 'help' once connected. Commands can also come from a pipe: battle-cli < moves.txt\n",
            DEFAULT_PORT, DEFAULT_RETRIES, DEFAULT_RETRY_FOR_MS);
}


static void read_input(app *a)
{
    if (a->inlen == INBUF) {
        /* A whole buffer without a newline: drop it and the rest of that line. */
        fprintf(stdout, "error: line too long (at most %d bytes)\n", CLI_LINE_MAX);
        a->inlen = 0;
        a->discarding = true;
    }
    ssize_t n = read(a->in_fd, a->inbuf + a->inlen, INBUF - a->inlen);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return;
        fprintf(stdout, "error: reading commands: %s\n", strerror(errno));
        a->in_eof = true;
        return;
    }
    if (n == 0) {
        a->in_eof = true;
        if (a->discarding)
            a->inlen = 0;
        return;
    }
    size_t start = a->inlen;
    a->inlen += (size_t)n;
    if (a->discarding) {
        char *nl = memchr(a->inbuf + start, '\n', a->inlen - start);
        if (!nl) {
            a->inlen = 0;
            return;
        }
        size_t drop = (size_t)(nl - a->inbuf) + 1;
        memmove(a->inbuf, a->inbuf + drop, a->inlen - drop);
        a->inlen -= drop;
        a->discarding = false;
    }
}

static int poll_timeout(const app *a)
{
    int64_t now = app_now_ms(), t = now + TICK_MS;
    if (a->c && a->last_send + a->ping_ms < t)
        t = a->last_send + a->ping_ms;
    if (a->waiting && a->wait_deadline < t)
        t = a->wait_deadline;
    if (!a->c && a->want_conn && a->next_try < t)
        t = a->next_try;
    if (a->c && a->rl_rate && a->rl_milli < 1000)
        t = now + 50; /* an action may be held for a token; its wait is short */
    return t <= now ? 0 : (int)(t - now);
}

static void loop(app *a)
{
    while (!a->quit) {
        if (g_stop) {
            fprintf(stdout, "\nInterrupted.\n");
            rec_hint(a);
            a->exit_code = 130;
            break;
        }
        reconn_step(a);
        dispatch_lines(a);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            a->exit_code = 1; /* nobody reads us any more (a closed pipe): stop playing blind */
            break;
        }
        if (a->quit)
            break;
        struct pollfd p[2];
        int n = 0, in_i = -1, sock_i = -1;
        /* Read more only when no complete line waits (it may wait for a reconnect): a full
         * buffer is taken as one over-long line. */
        bool want_input = !a->in_eof && !a->waiting && !memchr(a->inbuf, '\n', a->inlen);
        if (want_input) {
            in_i = n;
            p[n++] = (struct pollfd){.fd = a->in_fd, .events = POLLIN};
        }
        if (a->c) {
            sock_i = n;
            p[n++] = (struct pollfd){.fd = pc_fd(a->c), .events = POLLIN};
        }
        int rc = poll(p, (nfds_t)n, poll_timeout(a));
        if (rc < 0 && errno != EINTR) {
            fprintf(stdout, "error: poll: %s\n", strerror(errno));
            a->exit_code = 1;
            break;
        }
        if (rc > 0 && sock_i >= 0 && p[sock_i].revents)
            dispatch_socket(a);
        if (rc > 0 && in_i >= 0 && p[in_i].revents)
            read_input(a);
        if (a->c && app_now_ms() - a->last_send >= a->ping_ms)
            reconn_sent(a, pc_ping(a->c, 0));
    }
    fflush(stdout);
}

static bool parse_opts(app *a, int argc, char **argv, const char **script)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},    {"port", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, 'n'},    {"script", required_argument, NULL, 's'},
        {"resume-file", required_argument, NULL, 'r'}, {"retries", required_argument, NULL, 'R'},
        {"retry-for", required_argument, NULL, 'T'}, {"also", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    char *end;
    long v;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'H':
            if (!*optarg || strlen(optarg) > CLI_RESUME_HOST_MAX || strchr(optarg, ' ')) {
                fprintf(stderr, "battle-cli: --host: not a host name: '%s'\n", optarg);
                return false;
            }
            snprintf(a->host, sizeof a->host, "%s", optarg);
            a->host_set = true;
            break;
        case 'p':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 65535) {
                fprintf(stderr, "battle-cli: --port: expected 1..65535, got '%s'\n", optarg);
                return false;
            }
            a->port = (uint16_t)v;
            a->port_set = true;
            break;
        case 'A': {
            char h[PROTO_ADDR_MAX + 1];
            uint16_t p;
            if (a->nways + 1 >= CLI_WAYS_MAX || strlen(optarg) > PROTO_ADDR_MAX ||
                pc_split_addr(optarg, h, &p) != 0 || strlen(h) > CLI_RESUME_HOST_MAX) {
                fprintf(stderr, "battle-cli: --also: expected HOST:PORT (at most %d), got '%s'\n",
                        CLI_WAYS_MAX - 1, optarg);
                return false;
            }
            a->nways++; /* slot 0 is the starting address, filled once it is known */
            snprintf(a->ways_host[a->nways], sizeof a->ways_host[a->nways], "%s", h);
            a->ways_port[a->nways] = p;
            break;
        }
        case 'n':
            if (strlen(optarg) > PROTO_NAME_MAX) {
                fprintf(stderr, "battle-cli: --name: at most %d bytes\n", PROTO_NAME_MAX);
                return false;
            }
            a->name = optarg;
            break;
        case 's': *script = optarg; break;
        case 'r': a->resume_path = optarg; break;
        case 'R':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v > 100) {
                fprintf(stderr, "battle-cli: --retries: expected 0..100, got '%s'\n", optarg);
                return false;
            }
            a->retries = (int)v;
            break;
        case 'T':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v > 3600000) {
                fprintf(stderr, "battle-cli: --retry-for: expected 0..3600000 ms, got '%s'\n", optarg);
                return false;
            }
            a->retry_for_ms = (uint32_t)v;
            break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("battle-cli %s (protocol %d)\n", CLI_VERSION, PROTO_VERSION); exit(0);
        default: usage(stderr); return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "battle-cli: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    static app a; /* large (buffers, the view): not on the stack */
    snprintf(a.host, sizeof a.host, "%s", DEFAULT_HOST);
    a.port = DEFAULT_PORT;
    a.retries = DEFAULT_RETRIES;
    a.retry_for_ms = DEFAULT_RETRY_FOR_MS;
    a.act_rid = a.req_rid = a.resume_rid = a.user_ping_rid = a.moved_rid = -1;
    const char *script = NULL;
    if (!parse_opts(&a, argc, argv, &script))
        return 2;
    /* Seeded per process, so clients cut off together by a restart come back spread out. */
    pcb_init(&a.backoff, RETRY_FIRST_MS, RETRY_MAX_MS, (uint32_t)a.retries, a.retry_for_ms,
             (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)app_now_ms());
    if (!a.name) {
        const char *user = getenv("USER");
        a.name = user && *user && strlen(user) <= PROTO_NAME_MAX ? user : "battle-cli";
    }
    signal(SIGPIPE, SIG_IGN); /* a dead connection is an EPIPE we handle, not a signal */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: poll returns EINTR and the loop sees it */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    a.in_fd = STDIN_FILENO;
    if (script) {
        a.in_fd = open(script, O_RDONLY | O_CLOEXEC);
        if (a.in_fd < 0) {
            fprintf(stderr, "battle-cli: --script %s: %s\n", script, strerror(errno));
            return 2;
        }
    }
    a.echo = !isatty(a.in_fd);

    cli_view_init(&a.v, stdout);
    a.v.quiet = fopen("/dev/null", "w");
    if (a.resume_path) {
        cli_resume r;
        char err[300];
        int rc = cli_resume_load(a.resume_path, &r, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "battle-cli: --resume-file: %s\n", err);
            return 2;
        }
        if (rc == 0) {
            if (!a.host_set)
                snprintf(a.host, sizeof a.host, "%s", r.host);
            if (!a.port_set)
                a.port = r.port;
            fprintf(stdout, "%s holds battle %llu (seat %u); taking it back.\n", a.resume_path,
                    (unsigned long long)r.bid, r.seat);
            cli_view_adopt(&a.v, r.bid, r.seat, r.token, r.last);
            a.v.dirty = false;
        }
    }
    snprintf(a.home_host, sizeof a.home_host, "%s", a.host);
    a.home_port = a.port;
    snprintf(a.ways_host[0], sizeof a.ways_host[0], "%s", a.host);
    a.ways_port[0] = a.port;
    a.nways++;
    a.want_conn = true;
    a.next_try = app_now_ms();
    loop(&a);
    if (a.c)
        pc_close(a.c);
    if (a.v.quiet)
        fclose(a.v.quiet);
    if (script)
        close(a.in_fd);
    return a.exit_code;
}
