/* cli/reconnect: connecting and saying hello, and after a drop a bounded number of retries with
 * backoff and jitter (proto/client/backoff; about the server's retry_ms after "restarting"), the
 * seat resumed from the last sequence number seen (see app.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/app.h"

#define CONNECT_TIMEOUT_MS 3000   /* one TCP connect */
#define WELCOME_TIMEOUT_MS 5000   /* hello -> welcome */
#define STABLE_MS 10000           /* a connection that lived this long resets the retry count */
#define PING_DEFAULT_MS 10000     /* keepalive when the server states no idle timeout */

/* Counts one more failure; gives up (and says how to resume) past --retries. */
static bool retry_later(app *a)
{
    int64_t delay = a->fatal || a->retries == 0 ? -1 : pcb_next(&a->backoff, (uint64_t)app_now_ms());
    if (delay < 0) {
        fprintf(stdout, "Giving up on %s:%u.\n", a->host, (unsigned)a->port);
        rec_hint(a);
        a->quit = true;
        a->exit_code = 1;
        return false;
    }
    fprintf(stdout, "Retrying in %.2f s (%u of %d)...\n", (double)delay / 1000.0,
            (unsigned)a->backoff.attempts, a->retries);
    a->want_conn = true;
    a->next_try = app_now_ms() + delay;
    return true;
}

void reconn_lost(app *a, const char *why)
{
    bool asked = a->req_rid >= 0; /* a request (create, queue, watch...) still waits for its answer */
    pc_close(a->c);
    a->c = NULL;
    a->act_rid = a->req_rid = a->resume_rid = a->user_ping_rid = -1;
    if (a->quit)
        return;
    fprintf(stdout, "Connection lost (%s).\n", why);
    /* The battle this client followed is over and its result shown (a drain ends battles as
     * "shutdown", then closes every connection): nothing is left to resume or watch, so the
     * session ends cleanly instead of retrying a server that is going away. */
    if (a->v.phase == CLI_PH_ENDED && !a->v.queued && !asked) {
        fprintf(stdout, "The battle is over and the server closed the connection.\n");
        a->quit = true;
        a->exit_code = 0;
        return;
    }
    /* A connection that dies young counts as a failed attempt, so a server that accepts and then
     * drops us cannot keep the client retrying forever. */
    if (app_now_ms() - a->connected_at >= STABLE_MS)
        pcb_success(&a->backoff);
    if (a->restarting)
        fprintf(stdout, cli_view_seated(&a->v) ? "The server is restarting; your battle is kept.\n"
                                               : "The server is restarting.\n");
    a->restarting = false;
    retry_later(a);
}

bool reconn_sent(app *a, int64_t rid)
{
    if (rid >= 0) {
        a->last_send = app_now_ms();
        return true;
    }
    reconn_lost(a, strerror(errno ? errno : EPIPE));
    return false;
}

void reconn_send_resume(app *a)
{
    cli_view *v = &a->v;
    uint32_t last = v->b.have_ships ? v->b.last_seq : 0;
    fprintf(stdout, "Resuming battle %llu as seat %u...\n", (unsigned long long)v->b.bid, v->b.seat);
    int64_t rid = pc_resume(a->c, v->b.bid, v->b.seat, v->b.token, last);
    if (reconn_sent(a, rid))
        a->resume_rid = a->req_rid = rid;
}

/* What a new connection's welcome sets: the keepalive period and the rate-limit mirror. */
static void take_welcome(app *a, const proto_event *ev)
{
    a->last_send = a->connected_at = app_now_ms();
    a->ping_ms = ev->u.welcome.idle_ms ? ev->u.welcome.idle_ms / 3 : PING_DEFAULT_MS;
    if (a->ping_ms < 1000)
        a->ping_ms = 1000;
    pace_reset(a, &ev->u.welcome);
}

/* A request that could not be followed has failed: nothing waits for its answer any more. */
static void drop_request(app *a, int64_t rid)
{
    if (rid == a->req_rid) {
        a->req_rid = -1;
        a->pend = false;
    }
    if (rid == a->resume_rid)
        a->resume_rid = -1;
    if (rid == a->act_rid)
        a->act_rid = -1;
}

void reconn_follow(app *a, const proto_event *moved)
{
    int64_t rid = moved->has_rid ? (int64_t)moved->rid : -1;
    if (rid >= 0 && rid == a->moved_rid) {
        a->moved_hops++;
    } else {
        a->moved_rid = rid;
        a->moved_hops = 1;
    }
    unsigned long long bid = (unsigned long long)moved->bid;
    char host[PROTO_ADDR_MAX + 1];
    uint16_t port;
    if (a->moved_hops > PC_FOLLOW_MAX) {
        fprintf(stdout, "error: battle %llu moved %d times; giving up on that request\n", bid, PC_FOLLOW_MAX);
        drop_request(a, rid);
        return;
    }
    if (pc_split_addr(moved->u.moved.addr, host, &port) != 0 || strlen(host) > CLI_RESUME_HOST_MAX) {
        fprintf(stdout, "error: battle %llu is on a server whose address is unusable\n", bid);
        drop_request(a, rid);
        return;
    }
    if (bid)
        fprintf(stdout, "Battle %llu is on %s:%u; following it there...\n", bid, host, (unsigned)port);
    else /* a queue's moved: matched with a player waiting on that node */
        fprintf(stdout, "Opponent found on %s:%u; queueing there...\n", host, (unsigned)port);
    proto_event w;
    pc_conn *n = pc_follow(a->c, moved, CONNECT_TIMEOUT_MS + WELCOME_TIMEOUT_MS, &w);
    if (!n && bid && rid >= 0 && rid == a->resume_rid) {
        /* The resume was sent to a node that just died: the others still list it until its
         * heartbeat expires (docs/CLUSTER.md). Like server_busy: the same resume, later, the same
         * way in, until a survivor has taken the battle over. */
        fprintf(stdout, "Cannot reach %s:%u (%s); the battle is probably moving to another node.\n",
                host, (unsigned)port, strerror(errno));
        a->resume_rid = a->req_rid = -1;
        reconn_lost(a, "the battle's node cannot be reached");
        return;
    }
    if (!n) {
        fprintf(stdout, "error: cannot reach %s:%u: %s\n", host, (unsigned)port, strerror(errno));
        drop_request(a, rid);
        return;
    }
    /* This client follows one battle at a time, so the session moves: the old connection goes
     * (with a queue place it held), and reconnects go to the holder from now on. */
    pc_close(a->c);
    a->c = n;
    snprintf(a->host, sizeof a->host, "%s", host);
    a->port = port;
    a->v.queued = false;
    take_welcome(a, &w);
    a->v.turn_ms = w.u.welcome.turn_ms; /* the holder's timers, without a second line */
    a->v.resume_ms = w.u.welcome.resume_ms;
}

/* Connects and says hello; on success picks up what the connection had: the seat (resume), the
 * battle watched (watch again). Returns false when the attempt failed (a->c stays NULL). */
static bool try_connect(app *a)
{
    pc_conn *c = pc_connect(a->host, a->port, CONNECT_TIMEOUT_MS, 0);
    if (!c) {
        fprintf(stdout, "Cannot connect to %s:%u: %s.\n", a->host, (unsigned)a->port, strerror(errno));
        if (a->home_host[0] && (strcmp(a->host, a->home_host) != 0 || a->port != a->home_port)) {
            /* The battle's node is gone (a cluster moves its battles): ask where it went. */
            snprintf(a->host, sizeof a->host, "%s", a->home_host);
            a->port = a->home_port;
            fprintf(stdout, "Trying %s:%u next.\n", a->host, (unsigned)a->port);
        } else if (a->nways > 1) {
            /* The way in itself is gone: the next node given with --also becomes it. */
            a->way_at = (a->way_at + 1) % a->nways;
            snprintf(a->home_host, sizeof a->home_host, "%s", a->ways_host[a->way_at]);
            a->home_port = a->ways_port[a->way_at];
            snprintf(a->host, sizeof a->host, "%s", a->home_host);
            a->port = a->home_port;
            fprintf(stdout, "Trying %s:%u next.\n", a->host, (unsigned)a->port);
        }
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
    if (a->backoff.attempts)
        fprintf(stdout, "Reconnected to %s:%u.\n", a->host, (unsigned)a->port);
    a->backoff.hint_ms = 0; /* an old "restarting" says nothing about the next loss */
    take_welcome(a, &ev);
    cli_view_event(&a->v, &ev);
    cli_view *v = &a->v;
    v->queued = false; /* a place in the queue goes with its connection */
    if (a->pend) {
        fprintf(stdout, "Asking again for the battle requested before the drop (same key)...\n");
        dispatch_send_pending(a);
    } else if (cli_view_seated(v)) {
        reconn_send_resume(a);
    } else if (v->b.bid && v->role == CLI_ROLE_SPECTATOR && v->phase == CLI_PH_RUNNING) {
        fprintf(stdout, "Watching battle %llu again...\n", (unsigned long long)v->b.bid);
        int64_t rid = pc_watch(c, v->b.bid);
        if (reconn_sent(a, rid))
            a->req_rid = rid;
    }
    return a->c != NULL;
}

void reconn_step(app *a)
{
    if (a->c || !a->want_conn || a->fatal || app_now_ms() < a->next_try)
        return;
    a->want_conn = false;
    if (try_connect(a))
        return;
    if (!a->c && !a->want_conn && !a->quit) /* reconn_lost() inside try_connect has already counted it */
        retry_later(a);
}
