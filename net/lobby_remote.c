/* lobby_remote: the lobby's link to matchmaking across cluster nodes (docs/CLUSTER.md,
 * "Matchmaking across nodes"). The cluster layer is told, through server_opts.queue_hook, when an
 * entry starts and stops waiting; it answers, from its own thread, with server_queue_redirect when
 * it matched an entry with a player waiting on another node: the entry is then answered with
 * `moved` (no bid, the queue's rid) and dropped, and the client queues again at that node, whose
 * lobby pairs the two at once. net/ knows nothing of Redis: only these hooks. */
#include <stdio.h>
#include <string.h>

#include "net/net_int.h"
#include "util/log.h"

/* The hook is called only while the mailbox is open: once the server closes its handles (the end
 * of a stop), the cluster layer may already be gone. redir_open is written on this thread (or
 * before it started, or after it was joined), so reading it here needs no lock. */
void lobby_remote_waiting(server *s, const lobby_entry *e)
{
    if (s->opts.queue_hook && s->redir_open)
        s->opts.queue_hook(s->opts.match_arg, SERVER_QUEUE_WAITING, e->band, e->ticket);
}

void lobby_remote_gone(server *s, uint8_t band, uint64_t ticket)
{
    if (s->opts.queue_hook && s->redir_open && ticket)
        s->opts.queue_hook(s->opts.match_arg, SERVER_QUEUE_GONE, band, ticket);
}

void lobby_remote_gone_all(server *s, const lobby_entry *list)
{
    for (const lobby_entry *e = list; e; e = e->cnext)
        lobby_remote_gone(s, e->band, e->ticket);
}

bool server_queue_redirect(server *s, uint8_t band, uint64_t ticket, const char *addr,
                           const char *ws, const char *tls_addr, const char *wss)
{
    bool taken = false;
    pthread_mutex_lock(&s->redir_mu);
    if (s->redir_open && s->nredir < SERVER_REDIRECT_MAX) {
        struct net_redirect *r = &s->redir[s->nredir++];
        r->ticket = ticket;
        r->band = band;
        snprintf(r->addr, sizeof r->addr, "%s", addr ? addr : "");
        snprintf(r->ws, sizeof r->ws, "%s", ws ? ws : "");
        snprintf(r->tls_addr, sizeof r->tls_addr, "%s", tls_addr ? tls_addr : "");
        snprintf(r->wss, sizeof r->wss, "%s", wss ? wss : "");
        uv_async_send(&s->redir_async); /* under the lock: the handle cannot be closing */
        taken = true;
    }
    pthread_mutex_unlock(&s->redir_mu);
    if (!taken)
        NET_STAT_ADD(&s->stats, queue_redirect_dropped, 1);
    return taken;
}

void lobby_remote_close(server *s)
{
    pthread_mutex_lock(&s->redir_mu);
    s->redir_open = false;
    pthread_mutex_unlock(&s->redir_mu);
}

/* Answers one waiting entry with `moved` and drops it. */
static void redirect_one(server *s, const struct net_redirect *r)
{
    lobby_entry *e = lobby_find_ticket(&s->lobby, r->band, r->ticket);
    if (!e) {
        /* Matched here, cancelled or gone since the cluster layer offered it: the other node's
         * player this was matched with stays queued there, and is offered again (CLUSTER.md). */
        NET_STAT_ADD(&s->stats, queue_redirect_lost, 1);
        return;
    }
    proto_event ev;
    memset(&ev, 0, offsetof(proto_event, u) + sizeof ev.u.moved);
    ev.type = PROTO_T_MOVED;
    ev.has_rid = e->has_rid;
    ev.rid = e->rid;
    conn *c = conntab_get(&s->conns, e->conn);
    /* A TLS (or wss) client is sent to the TLS ports, as a battle's moved does. */
    bool tls = c && c->tls && r->tls_addr[0];
    memcpy(ev.u.moved.addr, tls ? r->tls_addr : r->addr, sizeof ev.u.moved.addr);
    memcpy(ev.u.moved.ws, c && c->tls ? r->wss : r->ws, sizeof ev.u.moved.ws);
    lobby_remove(&s->lobby, e);
    NET_STAT_ADD(&s->stats, lobby_waiting, (uint64_t)-1);
    NET_STAT_ADD(&s->stats, queue_moved, 1);
    if (c) {
        c->nqueued--;
        route_event(c, &ev);
    }
}

void lobby_remote_on_async(uv_async_t *h)
{
    server *s = h->data;
    struct net_redirect batch[SERVER_REDIRECT_MAX];
    pthread_mutex_lock(&s->redir_mu);
    unsigned n = s->nredir;
    memcpy(batch, s->redir, n * sizeof batch[0]);
    s->nredir = 0;
    pthread_mutex_unlock(&s->redir_mu);
    for (unsigned i = 0; i < n; i++)
        redirect_one(s, &batch[i]);
}
