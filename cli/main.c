/* battle-cli: play battled from a terminal.
 *
 * One thread, one poll(2) over the input (a terminal, a pipe or a --script file) and the server
 * connection, so battle events appear as they happen while the person types nothing. Commands are
 * parsed by cli/cmd, events are told by cli/view, and cli/resume keeps the seat's resume record on
 * disk. A dropped connection is retried a bounded number of times and the seat resumed with the
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

#include "cli/cmd.h"
#include "cli/resume.h"
#include "cli/view.h"
#include "proto/client/pc.h"

#define CLI_VERSION "0.1.0"
#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 7070
#define DEFAULT_RETRIES 5         /* reconnect attempts after a drop before giving up */
#define CONNECT_TIMEOUT_MS 3000   /* one TCP connect */
#define WELCOME_TIMEOUT_MS 5000   /* hello -> welcome */
#define BACKOFF_FIRST_MS 250      /* first retry after a drop; doubles per attempt */
#define BACKOFF_MAX_MS 4000
#define STABLE_MS 10000           /* a connection that lived this long resets the retry count */
#define PING_DEFAULT_MS 10000     /* keepalive when the server states no idle timeout */
#define INBUF 4096                /* pending input; a line longer than this is dropped whole */
#define TICK_MS 1000              /* longest poll sleep: timers are checked at least this often */
#define RL_UNLIMITED 65535        /* welcome "rate" the server announces when it does not limit */
#define RL_REFUSED_PAUSE_MS 1000  /* pause after a rate_limited refusal all the same */

typedef struct app {
    /* options */
    char host[CLI_RESUME_HOST_MAX + 1];
    uint16_t port;
    bool host_set, port_set;
    const char *name;
    const char *resume_path;
    int retries;
    bool echo;               /* print each command read (input is not a terminal) */
    /* input */
    int in_fd;
    bool in_eof;
    bool discarding;         /* inside an over-long line: drop until its newline */
    size_t inlen;
    char inbuf[INBUF + 1];
    /* connection */
    pc_conn *c;
    bool want_conn;
    bool fatal;              /* the server refused us for good (version mismatch) */
    int attempt;             /* failed connects and short-lived connections in a row */
    int64_t next_try;
    int64_t connected_at;
    int64_t last_send;
    uint32_t ping_ms;
    int64_t user_ping_rid;
    /* A mirror of the server's token bucket on battle actions (welcome: rate, burst), so a script
     * paces itself instead of being refused (and, refused often, disconnected). */
    uint32_t rl_rate, rl_burst;   /* 0 rate = unlimited */
    int64_t rl_milli;             /* tokens x 1000 */
    int64_t rl_last;
    /* battle */
    cli_view v;
    int64_t act_rid;         /* turn action sent, its effect not seen yet */
    int64_t req_rid;         /* queue/create/join/watch/resume sent, no reply yet */
    int64_t resume_rid;
    bool show_status;        /* a resume was answered: show where the battle stands */
    /* script waits */
    bool waiting;
    uint8_t wait_for;
    int64_t wait_deadline;
    bool quit;
    int exit_code;
} app;

/* Ctrl-C, a closed terminal or a kill: leave through the loop, so the person learns how to
 * take the seat back. */
static volatile sig_atomic_t g_stop;

static void on_stop_signal(int sig)
{
    g_stop = sig;
}

static int64_t now_ms(void)
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
            "  --name NAME          your name, told to the server (default: $USER)\n"
            "  --script FILE        read commands from FILE instead of the terminal\n"
            "  --resume-file FILE   keep the battle's resume record in FILE; when FILE holds one at\n"
            "                       start, take that seat back (also from a new process)\n"
            "  --retries N          reconnect attempts after a dropped connection (default %d)\n"
            "  --help, --version\n"
            "Type 'help' once connected. Commands can also come from a pipe: battle-cli < moves.txt\n",
            DEFAULT_PORT, DEFAULT_RETRIES);
}

/* ---- the resume record ---- */

static void save_record(app *a)
{
    cli_view *v = &a->v;
    if (!a->resume_path || !v->dirty)
        return;
    v->dirty = false;
    if (v->role != CLI_ROLE_SEAT || !v->bid)
        return;
    if (v->phase == CLI_PH_ENDED) {
        if (cli_resume_remove(a->resume_path) != 0)
            fprintf(stdout, "warning: cannot remove %s: %s\n", a->resume_path, strerror(errno));
        return;
    }
    cli_resume r;
    memset(&r, 0, sizeof r);
    snprintf(r.host, sizeof r.host, "%s", a->host);
    r.port = a->port;
    r.bid = v->bid;
    r.seat = v->seat;
    memcpy(r.token, v->token, PROTO_TOKEN_LEN);
    /* While a quiet replay runs, what the person saw is quiet_upto, not what was applied. */
    r.last = v->last_seq > v->quiet_upto ? v->last_seq : v->quiet_upto;
    if (cli_resume_save(a->resume_path, &r) != 0)
        fprintf(stdout, "warning: cannot write %s: %s\n", a->resume_path, strerror(errno));
}

static void print_resume_hint(const app *a)
{
    const cli_view *v = &a->v;
    if (!cli_view_seated(v))
        return;
    char hex[2 * PROTO_TOKEN_LEN + 1];
    cli_token_hex(v->token, hex);
    fprintf(stdout, "Battle %llu goes on without you for %u s. To take your seat back: ",
            (unsigned long long)v->bid, (unsigned)(v->resume_ms / 1000));
    if (a->resume_path)
        fprintf(stdout, "battle-cli --resume-file %s\n", a->resume_path);
    else
        fprintf(stdout, "battle-cli --host %s --port %u, then: resume %llu %u %s %lu\n", a->host,
                (unsigned)a->port, (unsigned long long)v->bid, v->seat, hex, (unsigned long)v->last_seq);
}

/* ---- pacing (client side of the server's rate limit) ---- */

static bool is_action(cli_verb verb)
{
    return verb == CLI_FIRE || verb == CLI_MISSILE || verb == CLI_PD || verb == CLI_SAND ||
           verb == CLI_END;
}

static void rl_refill(app *a, int64_t now)
{
    if (!a->rl_rate)
        return;
    /* 10% under the announced rate: the server's clock for the bucket is its loop time. */
    a->rl_milli += (now - a->rl_last) * (int64_t)a->rl_rate * 9 / 10;
    if (a->rl_milli > (int64_t)a->rl_burst * 1000)
        a->rl_milli = (int64_t)a->rl_burst * 1000;
    a->rl_last = now;
}

/* Milliseconds until an action may be sent (0 = now). */
static int64_t rl_wait(app *a)
{
    if (!a->rl_rate)
        return 0;
    rl_refill(a, now_ms());
    if (a->rl_milli >= 1000)
        return 0;
    return (1000 - a->rl_milli) * 10 / 9 / a->rl_rate + 1;
}

static void rl_reset(app *a, const struct proto_welcome *w)
{
    a->rl_rate = w->rate >= RL_UNLIMITED ? 0 : w->rate;
    a->rl_burst = w->burst ? w->burst : 1;
    a->rl_milli = (int64_t)a->rl_burst * 1000;
    a->rl_last = now_ms();
}

/* ---- connection ---- */

static int64_t backoff_ms(int attempt)
{
    int64_t d = (int64_t)BACKOFF_FIRST_MS << (attempt < 5 ? attempt : 5);
    return d > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d;
}

/* Counts one more failure; gives up (and says how to resume) past --retries. */
static bool retry_later(app *a)
{
    if (a->fatal || ++a->attempt > a->retries) {
        fprintf(stdout, "Giving up on %s:%u.\n", a->host, (unsigned)a->port);
        print_resume_hint(a);
        a->quit = true;
        a->exit_code = 1;
        return false;
    }
    int64_t delay = backoff_ms(a->attempt - 1);
    fprintf(stdout, "Retrying in %.2f s (%d of %d)...\n", (double)delay / 1000.0, a->attempt, a->retries);
    a->want_conn = true;
    a->next_try = now_ms() + delay;
    return true;
}

static void lost(app *a, const char *why)
{
    pc_close(a->c);
    a->c = NULL;
    a->act_rid = a->req_rid = a->resume_rid = a->user_ping_rid = -1;
    if (a->quit)
        return;
    fprintf(stdout, "Connection lost (%s).\n", why);
    /* A connection that dies young counts as a failed attempt, so a server that accepts and then
     * drops us cannot keep the client retrying forever. */
    if (now_ms() - a->connected_at >= STABLE_MS)
        a->attempt = 0;
    retry_later(a);
}

static bool sent(app *a, int64_t rid)
{
    if (rid >= 0) {
        a->last_send = now_ms();
        return true;
    }
    lost(a, strerror(errno ? errno : EPIPE));
    return false;
}

static void send_resume(app *a)
{
    cli_view *v = &a->v;
    uint32_t last = v->have_ships ? v->last_seq : 0;
    fprintf(stdout, "Resuming battle %llu as seat %u...\n", (unsigned long long)v->bid, v->seat);
    int64_t rid = pc_resume(a->c, v->bid, v->seat, v->token, last);
    if (sent(a, rid))
        a->resume_rid = a->req_rid = rid;
}

/* Connects and says hello; on success picks up what the connection had: the seat (resume), the
 * battle watched (watch again). Returns false when the attempt failed (a->c stays NULL). */
static bool try_connect(app *a)
{
    pc_conn *c = pc_connect(a->host, a->port, CONNECT_TIMEOUT_MS, 0);
    if (!c) {
        fprintf(stdout, "Cannot connect to %s:%u: %s.\n", a->host, (unsigned)a->port, strerror(errno));
        return false;
    }
    proto_event ev;
    int rc = pc_hello(c, a->name) < 0 ? -1 : pc_recv_type(c, PROTO_T_WELCOME, &ev, WELCOME_TIMEOUT_MS);
    if (rc != 1 || ev.type != PROTO_T_WELCOME) {
        if (rc == 1 && ev.type == PROTO_T_ERROR) {
            cli_view_event(&a->v, &ev);
            if (ev.u.error.code == PROTO_E_VERSION_MISMATCH)
                a->fatal = true;
        } else {
            fprintf(stdout, "No welcome from %s:%u (%s).\n", a->host, (unsigned)a->port,
                    rc == 0 ? "timed out" : "connection closed");
        }
        pc_close(c);
        return false;
    }
    a->c = c;
    a->last_send = a->connected_at = now_ms();
    a->ping_ms = ev.u.welcome.idle_ms ? ev.u.welcome.idle_ms / 3 : PING_DEFAULT_MS;
    if (a->ping_ms < 1000)
        a->ping_ms = 1000;
    rl_reset(a, &ev.u.welcome);
    cli_view_event(&a->v, &ev);
    cli_view *v = &a->v;
    if (v->queued) {
        v->queued = false;
        fprintf(stdout, "Your place in the queue went with the old connection: queue again.\n");
    }
    if (cli_view_seated(v)) {
        send_resume(a);
    } else if (v->bid && v->role == CLI_ROLE_SPECTATOR && v->phase == CLI_PH_RUNNING) {
        fprintf(stdout, "Watching battle %llu again...\n", (unsigned long long)v->bid);
        int64_t rid = pc_watch(c, v->bid);
        if (sent(a, rid))
            a->req_rid = rid;
    }
    return a->c != NULL;
}

static void connect_step(app *a)
{
    if (a->c || !a->want_conn || a->fatal || now_ms() < a->next_try)
        return;
    a->want_conn = false;
    if (try_connect(a))
        return;
    if (!a->c && !a->want_conn && !a->quit) /* lost() inside try_connect has already counted it */
        retry_later(a);
}

/* ---- events ---- */

static void on_event(app *a, const proto_event *ev)
{
    cli_view *v = &a->v;
    bool reply = ev->has_rid;
    if (ev->type == PROTO_T_PONG && (!reply || (int64_t)ev->rid != a->user_ping_rid))
        return; /* our own keepalive */
    if (ev->type == PROTO_T_ERROR && reply && (int64_t)ev->rid == a->resume_rid) {
        cli_view_event(v, ev);
        uint16_t code = ev->u.error.code;
        if (code == PROTO_E_BAD_TOKEN || code == PROTO_E_NO_SUCH_BATTLE || code == PROTO_E_SEQ_GONE) {
            fprintf(stdout, "Battle %llu cannot be resumed; forgetting it.\n", (unsigned long long)v->bid);
            if (a->resume_path)
                cli_resume_remove(a->resume_path);
            cli_view_forget(v);
            v->dirty = false;
        }
        a->resume_rid = a->req_rid = -1;
        return;
    }
    if (reply && (int64_t)ev->rid == a->act_rid && ev->type == PROTO_T_ERROR)
        a->act_rid = -1;
    if (ev->type == PROTO_T_ERROR && ev->u.error.code == PROTO_E_RATE_LIMITED && a->rl_rate) {
        a->rl_milli = -(int64_t)RL_REFUSED_PAUSE_MS * a->rl_rate; /* the server's bucket is empty */
        a->rl_last = now_ms();
    }
    if (reply && (int64_t)ev->rid == a->req_rid)
        a->req_rid = -1;
    if (reply && (int64_t)ev->rid == a->resume_rid) {
        a->resume_rid = -1;
        a->show_status = ev->type != PROTO_T_STATE; /* a full state prints itself */
    }
    bool was_ended = v->phase == CLI_PH_ENDED;
    if (!cli_view_event(v, ev))
        return;
    switch (ev->type) {
    case PROTO_T_TURN: case PROTO_T_ROUND: case PROTO_T_ENDED: case PROTO_T_STARTED:
    case PROTO_T_STATE:
        a->act_rid = -1;
        break;
    default:
        break;
    }
    if (!was_ended && v->phase == CLI_PH_ENDED && ev->type == PROTO_T_ENDED && ev->bid == v->bid)
        fprintf(stdout, "Type 'queue', 'create' or 'watch' for another battle, or 'quit'.\n");
    save_record(a);
}

static void read_socket(app *a)
{
    proto_event ev;
    while (a->c) {
        int rc = pc_recv(a->c, &ev, 0);
        if (rc == 0) {
            if (a->show_status) { /* after the whole replay, not in the middle of it */
                a->show_status = false;
                cli_view_status(&a->v);
            }
            return;
        }
        if (rc < 0) {
            proto_error pe = pc_last_error(a->c);
            char why[96];
            if (pe != PROTO_E_OK)
                snprintf(why, sizeof why, "the server sent a bad message: %s", proto_error_name(pe));
            else
                snprintf(why, sizeof why, "%s", errno ? strerror(errno) : "closed by the server");
            lost(a, why);
            return;
        }
        if (ev.type == PROTO_T_ERROR && ev.u.error.code == PROTO_E_VERSION_MISMATCH)
            a->fatal = true;
        on_event(a, &ev);
    }
}

/* ---- commands ---- */

/* Commands that only talk to the server; they wait while the connection is down. */
static bool needs_server(cli_verb verb)
{
    switch (verb) {
    case CLI_NONE: case CLI_HELP: case CLI_QUIT: case CLI_STATUS: case CLI_WAIT:
        return false;
    default:
        return true;
    }
}

/* A turn action or reaction needs a seat in a running battle; says why not when there is none. */
static bool need_seat(const app *a)
{
    const cli_view *v = &a->v;
    if (!v->bid || v->phase == CLI_PH_NONE) {
        fprintf(stdout, "error: you are not in a battle (queue, create or join one first)\n");
        return false;
    }
    if (v->role == CLI_ROLE_SPECTATOR) {
        fprintf(stdout, "error: you are watching battle %llu, not playing it\n", (unsigned long long)v->bid);
        return false;
    }
    if (v->phase == CLI_PH_WAITING) {
        fprintf(stdout, "error: battle %llu has not started: it waits for an opponent\n",
                (unsigned long long)v->bid);
        return false;
    }
    if (v->phase == CLI_PH_ENDED) {
        fprintf(stdout, "error: battle %llu is over\n", (unsigned long long)v->bid);
        return false;
    }
    return true;
}

/* A battle action went out: it took a token of the server's bucket. */
static bool action_sent(app *a, int64_t rid)
{
    if (!sent(a, rid))
        return false;
    if (a->rl_rate) {
        rl_refill(a, now_ms());
        a->rl_milli -= 1000;
    }
    return true;
}

static void turn_action(app *a, int64_t rid)
{
    if (action_sent(a, rid))
        a->act_rid = rid;
}

static void battle_request(app *a, int64_t rid)
{
    if (sent(a, rid))
        a->req_rid = rid;
}

static bool busy_elsewhere(const app *a, uint64_t bid)
{
    const cli_view *v = &a->v;
    if (cli_view_seated(v) && v->bid != bid) {
        fprintf(stdout, "error: you are playing battle %llu; finish it, forfeit or leave first\n",
                (unsigned long long)v->bid);
        return true;
    }
    return false;
}

static void cmd_resume(app *a, const cli_cmd *cmd)
{
    cli_view *v = &a->v;
    if (cmd->has_args) {
        if (busy_elsewhere(a, cmd->bid))
            return;
        cli_view_adopt(v, cmd->bid, cmd->seat, cmd->token, cmd->last);
    } else if (!(v->bid && v->role == CLI_ROLE_SEAT && v->phase != CLI_PH_NONE)) {
        cli_resume r;
        char err[300];
        int rc = a->resume_path ? cli_resume_load(a->resume_path, &r, err, sizeof err) : 1;
        if (rc < 0) {
            fprintf(stdout, "error: %s\n", err);
            return;
        }
        if (rc > 0) {
            fprintf(stdout, "error: no battle to resume (give: resume <id> <seat> <token> [<last>])\n");
            return;
        }
        cli_view_adopt(v, r.bid, r.seat, r.token, r.last);
    }
    send_resume(a);
}

static void run_command(app *a, const cli_cmd *cmd)
{
    cli_view *v = &a->v;
    pc_conn *c = a->c;
    switch ((cli_verb)cmd->verb) {
    case CLI_NONE:
        return;
    case CLI_HELP:
        fputs(cli_help(cmd->topic), stdout);
        return;
    case CLI_QUIT:
        print_resume_hint(a);
        a->quit = true;
        return;
    case CLI_STATUS:
        cli_view_status(v);
        return;
    case CLI_WAIT:
        a->waiting = true;
        a->wait_for = cmd->wait_for;
        a->wait_deadline = now_ms() + (int64_t)cmd->wait_s * 1000;
        return;
    case CLI_PING:
        a->user_ping_rid = pc_ping(c, (uint64_t)now_ms());
        sent(a, a->user_ping_rid);
        return;
    case CLI_QUEUE:
        if (!busy_elsewhere(a, 0))
            battle_request(a, pc_queue(c, cmd->ship, (proto_band)cmd->band));
        return;
    case CLI_CANCEL:
        if (!v->queued)
            fprintf(stdout, "error: you are not in the queue\n");
        else
            sent(a, pc_cancel(c));
        return;
    case CLI_CREATE:
        if (!busy_elsewhere(a, 0))
            battle_request(a, pc_create(c, cmd->ship, (proto_band)cmd->band, (proto_vs)cmd->vs, cmd->oship));
        return;
    case CLI_JOIN:
        if (!busy_elsewhere(a, cmd->bid))
            battle_request(a, pc_join(c, cmd->bid, cmd->ship));
        return;
    case CLI_WATCH:
        if (busy_elsewhere(a, cmd->bid))
            return;
        if (v->role == CLI_ROLE_SPECTATOR && v->bid != cmd->bid && v->phase == CLI_PH_RUNNING &&
            !sent(a, pc_leave(c, v->bid))) /* one battle watched at a time: drop the old one */
            return;
        battle_request(a, pc_watch(c, cmd->bid));
        return;
    case CLI_RESUME:
        cmd_resume(a, cmd);
        return;
    case CLI_FIRE: {
        if (!need_seat(a))
            return;
        int w = cmd->weapon >= 0 ? cmd->weapon : cli_view_first_gun(v);
        if (w < 0) {
            fprintf(stdout, "error: your ship has no weapon that can fire; try missile or end\n");
            return;
        }
        turn_action(a, pc_fire(c, v->bid, (uint8_t)w));
        return;
    }
    case CLI_MISSILE:
        if (need_seat(a))
            turn_action(a, pc_missile(c, v->bid));
        return;
    case CLI_END:
        if (need_seat(a))
            turn_action(a, pc_end(c, v->bid));
        return;
    case CLI_PD: {
        if (!need_seat(a))
            return;
        int64_t m = cmd->missile >= 0 ? cmd->missile : cli_view_incoming(v);
        if (m < 0) {
            fprintf(stdout, "error: no incoming missile to shoot at (see 'status')\n");
            return;
        }
        action_sent(a, pc_pd(c, v->bid, (uint32_t)m));
        return;
    }
    case CLI_SAND:
        if (need_seat(a))
            action_sent(a, pc_sand(c, v->bid));
        return;
    case CLI_FORFEIT:
        if (need_seat(a))
            sent(a, pc_forfeit(c, v->bid));
        return;
    case CLI_LEAVE:
        if (!v->bid || v->phase == CLI_PH_NONE)
            fprintf(stdout, "error: you are not in a battle\n");
        else
            sent(a, pc_leave(c, v->bid));
        return;
    }
}

/* Is the script's wait over? Prints why when it ends for lack of a battle. */
static bool wait_done(app *a)
{
    const cli_view *v = &a->v;
    if (now_ms() >= a->wait_deadline) {
        fprintf(stdout, "wait: gave up (time limit reached)\n");
        return true;
    }
    if (!a->c || a->req_rid >= 0)
        return false; /* reconnecting, or a battle request has no answer yet */
    bool pending = v->queued || v->phase == CLI_PH_WAITING;
    switch (a->wait_for) {
    case CLI_WAIT_TURN:
        if (v->role == CLI_ROLE_SPECTATOR && v->phase == CLI_PH_RUNNING) {
            fprintf(stdout, "wait: you are watching; use 'wait end'\n");
            return true;
        }
        if (v->phase == CLI_PH_RUNNING)
            return cli_view_my_turn(v) && a->act_rid < 0;
        break;
    case CLI_WAIT_START:
        if (v->phase == CLI_PH_RUNNING || v->phase == CLI_PH_ENDED)
            return true;
        break;
    case CLI_WAIT_END:
        if (v->phase == CLI_PH_ENDED)
            return true;
        if (v->phase == CLI_PH_RUNNING)
            return false;
        break;
    }
    if (pending)
        return false;
    fprintf(stdout, "wait: %s\n", v->phase == CLI_PH_ENDED ? "the battle is over" : "no battle to wait for");
    return true;
}

/* Runs the complete lines in the input buffer, stopping at a wait or at a command that needs the
 * server while the connection is down. */
static void run_lines(app *a)
{
    for (;;) {
        if (a->quit)
            return;
        if (a->waiting) {
            if (!wait_done(a))
                return;
            a->waiting = false;
        }
        char *nl = memchr(a->inbuf, '\n', a->inlen);
        size_t len;
        if (nl) {
            len = (size_t)(nl - a->inbuf);
        } else if (a->in_eof && a->inlen > 0) {
            len = a->inlen; /* last line without a newline */
        } else {
            if (a->in_eof && !a->waiting) {
                print_resume_hint(a);
                a->quit = true; /* end of input: done */
            }
            return;
        }
        char line[INBUF + 1];
        memcpy(line, a->inbuf, len);
        line[len] = '\0';
        cli_cmd cmd;
        char err[CLI_ERR_MAX];
        int rc = cli_parse(line, &cmd, err, sizeof err);
        if (rc == 0 && needs_server(cmd.verb) && !a->c)
            return; /* keep it for when we are back */
        if (rc == 0 && is_action(cmd.verb) && rl_wait(a) > 0)
            return; /* paced: poll_timeout wakes us when a token is back */
        size_t used = nl ? len + 1 : len;
        memmove(a->inbuf, a->inbuf + used, a->inlen - used);
        a->inlen -= used;
        if (a->echo && (rc != 0 || cmd.verb != CLI_NONE)) {
            /* Control bytes stay off the terminal: a hostile script must not drive it. */
            for (size_t i = 0; i < len && i < CLI_LINE_MAX; i++)
                if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
                    line[i] = '?';
            fprintf(stdout, "> %.*s\n", CLI_LINE_MAX, line);
        }
        if (rc != 0)
            fprintf(stdout, "error: %s\n", err);
        else
            run_command(a, &cmd);
    }
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
    int64_t now = now_ms(), t = now + TICK_MS;
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
            print_resume_hint(a);
            a->exit_code = 130;
            break;
        }
        connect_step(a);
        run_lines(a);
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
            read_socket(a);
        if (rc > 0 && in_i >= 0 && p[in_i].revents)
            read_input(a);
        if (a->c && now_ms() - a->last_send >= a->ping_ms)
            sent(a, pc_ping(a->c, 0));
    }
    fflush(stdout);
}

static bool parse_opts(app *a, int argc, char **argv, const char **script)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},    {"port", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, 'n'},    {"script", required_argument, NULL, 's'},
        {"resume-file", required_argument, NULL, 'r'}, {"retries", required_argument, NULL, 'R'},
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
    a.act_rid = a.req_rid = a.resume_rid = a.user_ping_rid = -1;
    const char *script = NULL;
    if (!parse_opts(&a, argc, argv, &script))
        return 2;
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
    a.want_conn = true;
    a.next_try = now_ms();
    loop(&a);
    if (a.c)
        pc_close(a.c);
    if (a.v.quiet)
        fclose(a.v.quiet);
    if (script)
        close(a.in_fd);
    return a.exit_code;
}
