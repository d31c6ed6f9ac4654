/* cli/app: what the rooms of battle-cli share (private to the program; cli/cmd, cli/view and
 * cli/resume are its library).
 *
 * main.c holds the options, the input and the poll loop; record.c keeps the seat's resume record
 * on disk and tells the person how to take the seat back; pacing.c mirrors the server's rate
 * limit so a script paces itself; reconnect.c connects, says hello and, after a drop, retries
 * with backoff and resumes the seat; dispatch.c runs the commands and applies the server's
 * events. One thread: nothing here is locked. */
#ifndef BATTLED_CLI_APP_H
#define BATTLED_CLI_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cmd.h"
#include "cli/resume.h"
#include "cli/view.h"
#include "proto/client/backoff.h"
#include "proto/client/pc.h"

#define CLI_WAYS_MAX 8             /* the starting address and up to 7 --also */
#define INBUF 4096                /* pending input; a line longer than this is dropped whole */

typedef struct app {
    /* options */
    char host[CLI_RESUME_HOST_MAX + 1];
    uint16_t port;
    bool host_set, port_set;
    /* Where the session started (--host/--port, or the resume file): after following a moved the
     * session is on the battle's node; when that node cannot be reached, the next try goes here
     * (a balancer or any node of the cluster), which redirects to the battle's new node. */
    char home_host[CLI_RESUME_HOST_MAX + 1];
    uint16_t home_port;
    /* The ways in it may use, in turn, when the current one cannot be reached: the starting address
     * first, then each --also (other nodes of the same cluster). home is always one of them. */
    char ways_host[CLI_WAYS_MAX][CLI_RESUME_HOST_MAX + 1];
    uint16_t ways_port[CLI_WAYS_MAX];
    int nways, way_at;
    const char *name;
    const char *resume_path;
    int retries;             /* reconnect attempts in a row before giving up */
    uint32_t retry_for_ms;   /* ... and how long they may take in all (0 = no limit) */
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
    pcb backoff;             /* waits between attempts (proto/client/backoff), their bounds */
    bool restarting;         /* the server said "restarting": the coming close is expected */
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
    /* The queue, create or join that has no battle yet (no `created`/`started`), with its
     * idempotency key: sent again with the same key after a reconnect, so a reply lost with the
     * connection (or a server restart) gives the same battle, seat and token, never a second one. */
    bool pend;
    cli_cmd pend_cmd;
    uint8_t pend_key[PROTO_TOKEN_LEN];
    /* Cluster: the request whose `moved` replies are being followed, and how many so far. */
    int64_t moved_rid;
    int moved_hops;
    /* script waits */
    bool waiting;
    uint8_t wait_for;
    int64_t wait_deadline;
    bool quit;
    int exit_code;
} app;

/* Monotonic milliseconds (main.c). */
int64_t app_now_ms(void);

/* ---- dispatch.c ---- */

/* Sends the pending queue/create/join (a->pend_cmd) with its key (a->pend_key); false when the
 * connection failed (then lost). */
bool dispatch_send_pending(app *a);

/* ---- record.c: the resume record ---- */

/* Writes the followed seat's resume record to --resume-file when something it holds changed,
 * or removes the file once the battle has ended. A failure is printed as a warning. */
void rec_save(app *a);
/* Prints how to take the seat back (a seated battle only): the --resume-file command, or the
 * resume command with the token. */
void rec_hint(const app *a);

/* ---- pacing.c: the client side of the server's rate limit ---- */

/* True for the verbs that take a token of the server's bucket (turn actions and reactions). */
bool pace_is_action(cli_verb verb);
/* Milliseconds until an action may be sent (0 = now). */
int64_t pace_wait(app *a);
/* Takes the welcome's rate and burst (a full bucket). */
void pace_reset(app *a, const struct proto_welcome *w);
/* An action went out: it took one token. */
void pace_take(app *a);
/* The server refused an action for its rate: its bucket is empty, so wait a while all the same. */
void pace_refused(app *a);

/* ---- reconnect.c: connecting, losing and resuming ---- */

/* Connects when a connection is wanted and its retry time has come; on success resumes the seat
 * or watches the battle again. Past --retries it gives up (a->quit). */
void reconn_step(app *a);
/* Closes the connection after a failure (why, for the person) and schedules a retry. */
void reconn_lost(app *a, const char *why);
/* Takes the result of a request helper: true when rid >= 0 (sent), else the connection is lost. */
bool reconn_sent(app *a, int64_t rid);
/* Asks the server for the followed seat back, from the last sequence number applied. */
void reconn_send_resume(app *a);
/* Cluster: the battle a request was about is held by another node (`moved`): moves the session
 * there (a new connection made like this one, hello, the same request again) and makes it the
 * server for later reconnects; at most PC_FOLLOW_MAX times per request, then the request fails. */
void reconn_follow(app *a, const proto_event *moved);

/* ---- dispatch.c: commands and events ---- */

/* Reads and applies every event already received; a failure loses the connection. */
void dispatch_socket(app *a);
/* Runs the complete lines in the input buffer, stopping at a wait or at a command that needs the
 * server while the connection is down. */
void dispatch_lines(app *a);

#endif
