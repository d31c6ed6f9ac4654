/* cli/dispatch: the server's events applied (and the replies matched to their requests), and the
 * person's commands run, with the script's waits (see app.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/app.h"

/* ---- events ---- */

static void on_event(app *a, const proto_event *ev)
{
    cli_view *v = &a->v;
    bool reply = ev->has_rid;
    if (ev->type == PROTO_T_PONG && (!reply || (int64_t)ev->rid != a->user_ping_rid))
        return; /* our own keepalive */
    if (ev->type == PROTO_T_MOVED) { /* cluster: another node holds that battle */
        reconn_follow(a, ev);
        return;
    }
    if (ev->type == PROTO_T_RESTARTING) {
        /* The server restarts and keeps the battle: reconnect after about retry_ms, then resume. */
        fprintf(stdout, "Server restarting; reconnecting in about %.1f s.\n",
                (double)ev->u.restarting.retry_ms / 1000.0);
        a->restarting = true;
        pcb_restarting(&a->backoff, ev->u.restarting.retry_ms);
        return;
    }
    if (ev->type == PROTO_T_ERROR && reply && (int64_t)ev->rid == a->resume_rid) {
        cli_view_event(v, ev);
        uint16_t code = ev->u.error.code;
        if (code == PROTO_E_SEQ_GONE) {
            /* docs/PROTOCOL.md section 8: the server lost events this seat had seen (a crash cut
             * its journal). Resume from nothing and take its state as the truth; last 0 is never
             * ahead, so this cannot repeat. */
            fprintf(stdout, "The server lost events you saw; taking its state of the battle.\n");
            v->b.have_ships = false; /* reconn_send_resume then asks with last 0 */
            v->b.last_seq = 0;
            v->quiet_upto = 0;       /* nothing to hide: the state and what follows are news */
            a->resume_rid = a->req_rid = -1;
            reconn_send_resume(a);
            return;
        }
        if (code == PROTO_E_BAD_TOKEN || code == PROTO_E_NO_SUCH_BATTLE) {
            fprintf(stdout, "Battle %llu cannot be resumed; forgetting it.\n", (unsigned long long)v->b.bid);
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
    /* The pending request has its battle (or was refused): nothing to ask again. */
    if (a->pend && (ev->type == PROTO_T_CREATED || ev->type == PROTO_T_STARTED ||
                    (ev->type == PROTO_T_ERROR && reply && (int64_t)ev->rid == a->req_rid)))
        a->pend = false;
    if (ev->type == PROTO_T_ERROR && ev->u.error.code == PROTO_E_RATE_LIMITED)
        pace_refused(a);
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
    if (!was_ended && v->phase == CLI_PH_ENDED && ev->type == PROTO_T_ENDED && ev->bid == v->b.bid)
        fprintf(stdout, "Type 'queue', 'create' or 'watch' for another battle, or 'quit'.\n");
    rec_save(a);
}

void dispatch_socket(app *a)
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
            reconn_lost(a, why);
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
    if (!v->b.bid || v->phase == CLI_PH_NONE) {
        fprintf(stdout, "error: you are not in a battle (queue, create or join one first)\n");
        return false;
    }
    if (v->role == CLI_ROLE_SPECTATOR) {
        fprintf(stdout, "error: you are watching battle %llu, not playing it\n", (unsigned long long)v->b.bid);
        return false;
    }
    if (v->phase == CLI_PH_WAITING) {
        fprintf(stdout, "error: battle %llu has not started: it waits for an opponent\n",
                (unsigned long long)v->b.bid);
        return false;
    }
    if (v->phase == CLI_PH_ENDED) {
        fprintf(stdout, "error: battle %llu is over\n", (unsigned long long)v->b.bid);
        return false;
    }
    return true;
}

/* A battle action went out: it took a token of the server's bucket. */
static bool action_sent(app *a, int64_t rid)
{
    if (!reconn_sent(a, rid))
        return false;
    pace_take(a);
    return true;
}

static void turn_action(app *a, int64_t rid)
{
    if (action_sent(a, rid))
        a->act_rid = rid;
}

static void battle_request(app *a, int64_t rid)
{
    if (reconn_sent(a, rid))
        a->req_rid = rid;
}

bool dispatch_send_pending(app *a)
{
    const cli_cmd *cmd = &a->pend_cmd;
    int64_t rid = -1;
    switch ((cli_verb)cmd->verb) {
    case CLI_QUEUE: rid = pc_queue_key(a->c, cmd->ship, (proto_band)cmd->band, a->pend_key); break;
    case CLI_CREATE:
        rid = pc_create_key(a->c, cmd->ship, (proto_band)cmd->band, (proto_vs)cmd->vs, cmd->oship,
                            a->pend_key);
        break;
    case CLI_JOIN: rid = pc_join_key(a->c, cmd->bid, cmd->ship, a->pend_key); break;
    default: a->pend = false; return true;
    }
    battle_request(a, rid);
    return rid >= 0;
}

/* A new queue, create or join: a fresh key, kept with the request until it has its battle. */
static void new_battle_request(app *a, const cli_cmd *cmd)
{
    if (pc_new_key(a->pend_key) != 0) {
        fprintf(stdout, "error: no randomness for the request key: %s\n", strerror(errno));
        return;
    }
    a->pend_cmd = *cmd;
    a->pend = true;
    dispatch_send_pending(a);
}

static bool busy_elsewhere(const app *a, uint64_t bid)
{
    const cli_view *v = &a->v;
    if (cli_view_seated(v) && v->b.bid != bid) {
        fprintf(stdout, "error: you are playing battle %llu; finish it, forfeit or leave first\n",
                (unsigned long long)v->b.bid);
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
    } else if (!(v->b.bid && v->role == CLI_ROLE_SEAT && v->phase != CLI_PH_NONE)) {
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
    reconn_send_resume(a);
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
        rec_hint(a);
        a->quit = true;
        return;
    case CLI_STATUS:
        cli_view_status(v);
        return;
    case CLI_WAIT:
        a->waiting = true;
        a->wait_for = cmd->wait_for;
        a->wait_deadline = app_now_ms() + (int64_t)cmd->wait_s * 1000;
        return;
    case CLI_PING:
        a->user_ping_rid = pc_ping(c, (uint64_t)app_now_ms());
        reconn_sent(a, a->user_ping_rid);
        return;
    case CLI_QUEUE:
        if (!busy_elsewhere(a, 0))
            new_battle_request(a, cmd);
        return;
    case CLI_CANCEL:
        if (!v->queued)
            fprintf(stdout, "error: you are not in the queue\n");
        else
            reconn_sent(a, pc_cancel(c));
        return;
    case CLI_CREATE:
        if (!busy_elsewhere(a, 0))
            new_battle_request(a, cmd);
        return;
    case CLI_JOIN:
        if (!busy_elsewhere(a, cmd->bid))
            new_battle_request(a, cmd);
        return;
    case CLI_WATCH:
        if (busy_elsewhere(a, cmd->bid))
            return;
        if (v->role == CLI_ROLE_SPECTATOR && v->b.bid != cmd->bid && v->phase == CLI_PH_RUNNING &&
            !reconn_sent(a, pc_leave(c, v->b.bid))) /* one battle watched at a time: drop the old one */
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
        turn_action(a, pc_fire(c, v->b.bid, (uint8_t)w));
        return;
    }
    case CLI_MISSILE:
        if (need_seat(a))
            turn_action(a, pc_missile(c, v->b.bid));
        return;
    case CLI_END:
        if (need_seat(a))
            turn_action(a, pc_end(c, v->b.bid));
        return;
    case CLI_PD: {
        if (!need_seat(a))
            return;
        int64_t m = cmd->missile >= 0 ? cmd->missile : cli_view_incoming(v);
        if (m < 0) {
            fprintf(stdout, "error: no incoming missile to shoot at (see 'status')\n");
            return;
        }
        action_sent(a, pc_pd(c, v->b.bid, (uint32_t)m));
        return;
    }
    case CLI_SAND:
        if (need_seat(a))
            action_sent(a, pc_sand(c, v->b.bid));
        return;
    case CLI_FORFEIT:
        if (need_seat(a))
            reconn_sent(a, pc_forfeit(c, v->b.bid));
        return;
    case CLI_LEAVE:
        if (!v->b.bid || v->phase == CLI_PH_NONE)
            fprintf(stdout, "error: you are not in a battle\n");
        else
            reconn_sent(a, pc_leave(c, v->b.bid));
        return;
    }
}

/* Is the script's wait over? Prints why when it ends for lack of a battle. */
static bool wait_done(app *a)
{
    const cli_view *v = &a->v;
    if (app_now_ms() >= a->wait_deadline) {
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
void dispatch_lines(app *a)
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
                rec_hint(a);
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
        if (rc == 0 && pace_is_action(cmd.verb) && pace_wait(a) > 0)
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
