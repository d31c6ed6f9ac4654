/* admin_battles: GET /battles, answered asynchronously from every shard's SHARD_IN_LIST reply.
 *
 * One listing runs at a time; requests that arrive meanwhile wait in line (bounded by
 * ADMIN_MAX_CONNS, one request per connection). A shard's rows carry no token, so they are told
 * apart by order: each shard answers its inbox in order, so the rows before a LIST_END belong to
 * that END's listing. When a listing is abandoned (a shard past ADMIN_SHARD_REPLY_MS), every shard
 * that had not finished owes one END, and its rows are ignored until that END has come; until
 * then /battles answers 503 at once rather than queueing more listings behind a stuck shard. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/admin_int.h"

static const char *const state_names[3] = {"waiting", "running", "finished"};

static void end_listing(admin *a)
{
    admin_listing *ls = &a->ls;
    free(ls->rows);
    free(ls->row_shard);
    ls->rows = NULL;
    ls->row_shard = NULL;
    ls->active = false;
    ls->conn = NULL;
}

/* Hands c its answer; it reads its next request once the answer is written. */
static void answer(admin_conn *c, int status, const char *body, size_t len)
{
    c->busy = false;
    admin_respond(c, status, "application/json", body, len);
}

static void start_next(admin *a)
{
    admin_listing *ls = &a->ls;
    while (!ls->active && a->wait_head) {
        admin_conn *c = a->wait_head;
        a->wait_head = c->wnext;
        if (!a->wait_head)
            a->wait_tail = NULL;
        c->wnext = NULL;
        if (server_drain_phase(a->srv) >= SERVER_STOPPING || a->nshards == 0) {
            static const char msg[] = "{\"error\":\"shards stopped\"}\n";
            answer(c, 503, msg, sizeof msg - 1);
            continue;
        }
        /* A shard that has not finished an abandoned listing is stuck or far behind: asking
         * again would only queue more work behind it (at most one listing is owed per shard). */
        unsigned late = a->nshards;
        for (unsigned k = 0; k < a->nshards && late == a->nshards; k++)
            if (a->owed[k])
                late = k;
        if (late < a->nshards) {
            char body[128];
            int n = snprintf(body, sizeof body,
                             "{\"error\":\"shard %u has not answered an earlier listing\"}\n", late);
            answer(c, 503, body, (size_t)n);
            continue;
        }
        ls->rows = malloc((size_t)c->limit * sizeof *ls->rows);
        ls->row_shard = malloc((size_t)c->limit * sizeof *ls->row_shard);
        if (!ls->rows || !ls->row_shard) {
            end_listing(a);
            static const char msg[] = "{\"error\":\"out of memory\"}\n";
            answer(c, 500, msg, sizeof msg - 1);
            continue;
        }
        ls->active = true;
        ls->conn = c;
        ls->token = ++a->list_seq;
        ls->started_ms = uv_now(server_loop(a->srv));
        ls->limit = c->limit;
        ls->pending = a->nshards;
        memset(ls->done, 0, a->nshards);
        ls->nrows = 0;
        ls->total = 0;
        ls->dropped = 0;
        for (unsigned k = 0; k < a->nshards; k++) {
            struct shard_in m = {.kind = SHARD_IN_LIST};
            m.u.list.token = ls->token;
            m.u.list.limit = ls->limit;
            server_ask_shard(a->srv, k, &m);
        }
    }
}

void admin_battles_request(admin_conn *c)
{
    admin *a = c->a;
    c->busy = true;
    c->wnext = NULL;
    if (a->wait_tail)
        a->wait_tail->wnext = c;
    else
        a->wait_head = c;
    a->wait_tail = c;
    start_next(a);
}

/* Longest JSON text of one row, with room to spare. */
#define ROW_JSON_MAX 224

static void finish(admin *a)
{
    admin_listing *ls = &a->ls;
    admin_conn *c = ls->conn;
    if (c) {
        size_t cap = 160 + (size_t)ls->nrows * ROW_JSON_MAX;
        char *buf = malloc(cap);
        if (!buf) {
            static const char msg[] = "{\"error\":\"out of memory\"}\n";
            answer(c, 500, msg, sizeof msg - 1);
        } else {
            size_t n = (size_t)snprintf(buf, cap, "{\"battles\":[");
            for (uint32_t i = 0; i < ls->nrows; i++) {
                const struct shard_battle_row *r = &ls->rows[i];
                n += (size_t)snprintf(
                    buf + n, cap - n,
                    "%s{\"id\":\"%llu\",\"shard\":%u,\"state\":\"%s\",\"round\":%u,\"seats\":["
                    "{\"seat\":0,\"present\":%s},{\"seat\":1,\"present\":%s}],\"spectators\":%u,"
                    "\"age_ms\":%llu}",
                    i ? "," : "", (unsigned long long)r->battle_id, (unsigned)ls->row_shard[i],
                    r->state < 3 ? state_names[r->state] : "unknown", (unsigned)r->round,
                    (r->seats_present & 1) ? "true" : "false",
                    (r->seats_present & 2) ? "true" : "false", (unsigned)r->spectators,
                    (unsigned long long)r->age_ms);
            }
            bool truncated = ls->total > ls->nrows || ls->dropped > 0;
            n += (size_t)snprintf(buf + n, cap - n,
                                  "],\"count\":%u,\"total\":%llu,\"limit\":%u,\"truncated\":%s}\n",
                                  (unsigned)ls->nrows, (unsigned long long)ls->total,
                                  (unsigned)ls->limit, truncated ? "true" : "false");
            answer(c, 200, buf, n < cap ? n : cap - 1);
            free(buf);
        }
    }
    end_listing(a);
    start_next(a);
}

void admin_battles_reply(admin *a, unsigned k, const struct shard_out *m)
{
    admin_listing *ls = &a->ls;
    if (m->kind == SHARD_OUT_LIST_ROW) {
        if (a->owed[k] || !ls->active || ls->done[k])
            return;
        if (ls->nrows < ls->limit) {
            ls->rows[ls->nrows] = m->u.row;
            ls->row_shard[ls->nrows] = (uint16_t)k;
            ls->nrows++;
        } else {
            ls->dropped++;
        }
    } else if (m->kind == SHARD_OUT_LIST_END) {
        if (a->owed[k]) {
            a->owed[k]--;
            return;
        }
        if (!ls->active || ls->done[k] || m->u.list_end.token != ls->token)
            return;
        ls->done[k] = 1;
        ls->total += m->u.list_end.total;
        if (--ls->pending == 0)
            finish(a);
    }
}

void admin_battles_tick(admin *a)
{
    admin_listing *ls = &a->ls;
    if (!ls->active || uv_now(server_loop(a->srv)) - ls->started_ms < ADMIN_SHARD_REPLY_MS)
        return;
    a->listing_timeouts++;
    char body[160];
    int n = snprintf(body, sizeof body, "{\"error\":\"shards did not answer within %d ms\","
                     "\"missing\":%u}\n", ADMIN_SHARD_REPLY_MS, ls->pending);
    for (unsigned k = 0; k < a->nshards; k++)
        if (!ls->done[k])
            a->owed[k]++;
    admin_conn *c = ls->conn;
    end_listing(a);
    if (c)
        answer(c, 503, body, (size_t)n);
    start_next(a);
}

void admin_battles_forget(admin_conn *c)
{
    admin *a = c->a;
    if (a->ls.conn == c)
        a->ls.conn = NULL; /* the listing goes on (the shards answer anyway); nobody gets it */
    for (admin_conn **pp = &a->wait_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->wnext) {
        if (*pp == c) {
            *pp = c->wnext;
            if (a->wait_tail == c)
                a->wait_tail = prev;
            break;
        }
    }
    c->wnext = NULL;
    c->busy = false;
}

void admin_battles_free(admin *a)
{
    end_listing(a);
    free(a->ls.done);
    a->ls.done = NULL;
}
