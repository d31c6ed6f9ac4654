/* node: registration and view of the cluster's nodes (see node.h). One thread, one synchronous
 * hiredis connection with a timeout, remade after any error. */
#include "cluster/node.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/increc.h"
#include "cluster/nodeval.h"
#include "util/clock.h"
#include "util/hostport.h"
#include "util/metrics.h"
#include "util/log.h"
#include "util/mix.h"

#define NODE_KEY_MAX (CLUSTER_NAME_MAX + 80)
#define NODE_VALUE_MAX (7 * CLUSTER_NAME_MAX + 64)

#define ROUTE_SPLIT 0x10000u /* route_table.holder: survivors are taking x over shard by shard */

/* Who holds each incarnation's battles, as one heartbeat read them: built by the cluster thread in
 * a table of its own, then swapped in under route_mu for the network thread's lookups. */
typedef struct route_table {
    uint32_t holder[CLUSTER_INC_MAX + 1]; /* 0 unknown; y: y holds all of x's; ROUTE_SPLIT */
    uint16_t nshards[CLUSTER_INC_MAX + 1]; /* a split x's shard count */
    uint32_t first[CLUSTER_INC_MAX + 1];   /* a split x's shard 0 in split[] */
    uint16_t *split; /* per shard: the incarnation that took it; 0 not taken yet */
    size_t nsplit, cap;
} route_table;


struct cluster_node {
    char host[256];
    int port;
    char prefix[CLUSTER_NAME_MAX + 1];
    char name[CLUSTER_NAME_MAX + 1];
    char value[NODE_VALUE_MAX];
    char player[CLUSTER_NAME_MAX + 1], admin[CLUSTER_NAME_MAX + 1], ws[CLUSTER_NAME_MAX + 1];
    char tls[CLUSTER_NAME_MAX + 1], wss[CLUSTER_NAME_MAX + 1];
    char jprefix[2 * CLUSTER_NAME_MAX + 16]; /* this incarnation's journal prefix */
    unsigned inc;
    uint64_t started_ms;
    char k_self[NODE_KEY_MAX], k_nodes[NODE_KEY_MAX], k_inc[NODE_KEY_MAX], k_incs[NODE_KEY_MAX];
    char k_myinc[NODE_KEY_MAX];
    /* The routing table lookups read (under route_mu, held only for a lookup or a swap) and the
     * cluster thread's next one. */
    pthread_mutex_t route_mu;
    route_table *route, *scan;
    unsigned shards; /* this node's shard count, in its incarnation record */
    /* Until when (monotonic ms) this node may serve its battles: set by a heartbeat that found it
     * still holds them (cluster_node_locate); read by the network thread. */
    _Atomic uint64_t lease_until;
    uint64_t *dead_since; /* cluster thread: when incarnation x was first seen without a live node */
    uint64_t up_since;    /* cluster thread: Redis reachable without a break since (monotonic ms) */
    char ttl[16];
    unsigned heartbeat_ms, timeout_ms, ttl_ms;
    redisContext *c; /* the thread's */

    pthread_t thread;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    bool stop;
    bool redis_up;
    cluster_status_fn status_fn;
    void *status_arg;
    cluster_fenced_fn fenced_fn;
    void *fenced_arg;
    /* another node holds this incarnation's battles: stop registering; atomic, because the network
     * thread reads it (cluster_node_serving) without the mutex */
    _Atomic bool fenced;
    bool stopping;    /* cluster_node_set_stopping ran: reported as state "stopping" */
    uint16_t *orphans; /* incarnations ready to be adopted (cluster_node_orphans) */
    size_t norphans;
    node_entry view[CLUSTER_NODES_MAX];
    size_t nview;
    uint64_t invalid; /* entries left out of views: malformed or too many */
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void drop_conn(cluster_node *n)
{
    if (n->c)
        redisFree(n->c);
    n->c = NULL;
}

static bool ensure_conn(cluster_node *n)
{
    if (n->c)
        return true;
    struct timeval tv = {.tv_sec = n->timeout_ms / 1000, .tv_usec = (n->timeout_ms % 1000) * 1000};
    n->c = redisConnectWithTimeout(n->host, n->port, tv);
    if (!n->c || n->c->err) {
        drop_conn(n);
        return false;
    }
    redisSetTimeout(n->c, tv);
    return true;
}

/* Runs one command on the thread's connection; NULL (connection dropped) on any failure. */
static redisReply *cmd(cluster_node *n, int argc, const char **argv)
{
    size_t lens[12];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = n->c ? redisCommandArgv(n->c, argc, argv, lens) : NULL;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            freeReplyObject(r);
        drop_conn(n);
        return NULL;
    }
    return r;
}

static void reply_free(redisReply *r)
{
    if (r)
        freeReplyObject(r);
}

/* Whether this incarnation still holds its own battles (HGET inc:<me> holder). 1 yes, 0 another
 * node took them over (fenced), -1 Redis unreachable. A missing hash (Redis lost its data) is
 * written again: routing needs it, and the journal's own fencing already stopped its writes. */
static int still_holder(cluster_node *n)
{
    const char *get[] = {"HGET", n->k_myinc, "holder"};
    redisReply *r = cmd(n, 3, get);
    if (!r)
        return -1;
    uint64_t h = 0;
    bool missing = r->type == REDIS_REPLY_NIL;
    bool mine = missing || (r->type == REDIS_REPLY_STRING && inc_rec_dec(r->str, r->len, &h) &&
                            h == n->inc);
    reply_free(r);
    if (missing) {
        char inc[16], sh[16];
        snprintf(inc, sizeof inc, "%u", n->inc);
        snprintf(sh, sizeof sh, "%u", n->shards);
        const char *hset[] = {"HSET", n->k_myinc, "node", n->name, "prefix", n->jprefix,
                              "shards", sh, "holder", inc};
        const char *sadd[] = {"SADD", n->k_incs, inc};
        if (!(r = cmd(n, 10, hset)))
            return -1;
        reply_free(r);
        if (!(r = cmd(n, 3, sadd)))
            return -1;
        reply_free(r);
    }
    return mine ? 1 : 0;
}

/* Reads every node back into view. 0 or -1. */
static int read_nodes(cluster_node *n, node_entry *view, size_t *nview, uint64_t *invalid)
{
    const char *members[] = {"SMEMBERS", n->k_nodes};
    redisReply *m = cmd(n, 2, members);
    if (!m)
        return -1;
    int rc = 0;
    for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i < m->elements; i++) {
        redisReply *e = m->element[i];
        if (e->type != REDIS_REPLY_STRING || !nodeval_token_ok(e->str, e->len)) {
            (*invalid)++;
            continue;
        }
        char key[NODE_KEY_MAX];
        snprintf(key, sizeof key, "%snode:%.*s", n->prefix, (int)e->len, e->str);
        const char *get[] = {"GET", key};
        redisReply *v = cmd(n, 2, get);
        if (!v) {
            rc = -1;
            break;
        }
        if (v->type == REDIS_REPLY_NIL) {
            /* expired: it stopped heartbeating; forget it */
            const char *srem[] = {"SREM", n->k_nodes, e->str};
            reply_free(cmd(n, 3, srem));
        } else if (*nview < CLUSTER_NODES_MAX && v->type == REDIS_REPLY_STRING &&
                   nodeval_parse(v->str, v->len, &view[*nview])) {
            (*nview)++;
        } else {
            (*invalid)++;
        }
        reply_free(v);
    }
    reply_free(m);
    return rc;
}

static bool inc_alive(const node_entry *view, size_t nview, unsigned inc)
{
    for (size_t i = 0; i < nview; i++)
        if (view[i].inc == inc)
            return true;
    return false;
}

/* Reads every incarnation's record into n->scan and lists the orphans: incarnations whose node is
 * not alive and that still hold battles of their own (holder = itself, or split with a shard
 * nobody took yet). An unsplit one waits for ttl_ms of Redis being reachable without a break (so
 * a node that merely could not heartbeat through an outage is not taken over the moment Redis is
 * back), unless it left cleanly (cluster_node_stop marks it released) or was an earlier life of
 * this node (same name: a restart takes its battles back without waiting); a split one is ready
 * at once (another survivor already decided). 0 or -1. */
static int read_holders(cluster_node *n, const node_entry *view, size_t nview, uint16_t *orphans,
                        size_t *norphans, uint64_t *invalid)
{
    *norphans = 0;
    route_table *t = n->scan;
    memset(t->holder, 0, sizeof t->holder);
    t->nsplit = 0;
    const char *members[] = {"SMEMBERS", n->k_incs};
    redisReply *m = cmd(n, 2, members);
    if (!m)
        return -1;
    int rc = 0;
    uint64_t now = clock_mono_ms();
    uint16_t taken[CLUSTER_SHARDS_MAX];
    for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i < m->elements && i < CLUSTER_INCS_MAX; i++) {
        redisReply *e = m->element[i];
        uint64_t x;
        if (e->type != REDIS_REPLY_STRING || !inc_rec_dec(e->str, e->len, &x) || x == 0 ||
            x > CLUSTER_INC_MAX) {
            (*invalid)++;
            continue;
        }
        char key[NODE_KEY_MAX];
        snprintf(key, sizeof key, "%sinc:%" PRIu64, n->prefix, x);
        const char *get[] = {"HGETALL", key};
        redisReply *v = cmd(n, 2, get);
        if (!v) {
            rc = -1;
            break;
        }
        memset(taken, 0, sizeof taken);
        inc_rec rec;
        if (v->type == REDIS_REPLY_ARRAY && v->elements == 0) {
            /* its hash expired (adopted long ago): nothing routes by it any more */
            const char *srem[] = {"SREM", n->k_incs, e->str};
            reply_free(cmd(n, 3, srem));
        } else if (!inc_rec_parse(v, &rec, taken, CLUSTER_SHARDS_MAX)) {
            (*invalid)++;
        } else if (rec.holder != x && rec.holder != 0) {
            t->holder[x] = (uint32_t)rec.holder; /* all of them, to one node (a whole takeover) */
            n->dead_since[x] = 0;
        } else {
            bool split = rec.holder == 0;
            bool untaken = !split;
            if (split) {
                if (t->nsplit + rec.shards > t->cap) {
                    size_t cap = (t->nsplit + rec.shards) * 2;
                    uint16_t *a = realloc(t->split, cap * sizeof *a);
                    if (!a) {
                        reply_free(v);
                        rc = -1;
                        break;
                    }
                    t->split = a;
                    t->cap = cap;
                }
                t->holder[x] = ROUTE_SPLIT;
                t->nshards[x] = (uint16_t)rec.shards;
                t->first[x] = (uint32_t)t->nsplit;
                memcpy(t->split + t->nsplit, taken, rec.shards * sizeof *taken);
                t->nsplit += rec.shards;
                for (unsigned k = 0; k < rec.shards; k++)
                    untaken |= taken[k] == 0;
            } else {
                t->holder[x] = (uint32_t)x;
            }
            bool dead = untaken && x != n->inc && !inc_alive(view, nview, (unsigned)x);
            if (!dead) {
                n->dead_since[x] = 0;
            } else {
                if (!n->dead_since[x])
                    n->dead_since[x] = now;
                uint64_t since = n->dead_since[x] > n->up_since ? n->dead_since[x] : n->up_since;
                bool earlier_me = rec.node && rec.node_len == strlen(n->name) &&
                                  memcmp(rec.node, n->name, rec.node_len) == 0;
                /* A node that left cleanly said so: its journal is complete and released. */
                if (split || earlier_me || rec.released || now - since >= n->ttl_ms)
                    orphans[(*norphans)++] = (uint16_t)x;
            }
        }
        reply_free(v);
    }
    reply_free(m);
    return rc;
}

/* One heartbeat: check this incarnation still holds its battles, register, read every node and
 * every incarnation's holder back. 0, 1 fenced (nothing written), or -1 (Redis unreachable). */
static int beat(cluster_node *n, node_entry *view, size_t *nview, uint64_t *invalid,
                uint16_t *orphans, size_t *norphans)
{
    *nview = 0;
    *norphans = 0;
    uint64_t t0 = clock_mono_ms();
    if (!ensure_conn(n))
        return -1;
    int held = still_holder(n);
    if (held < 0)
        return -1;
    if (held == 0)
        return 1;
    uint64_t battles = 0;
    bool degraded = false, known;
    pthread_mutex_lock(&n->mu);
    known = n->status_fn != NULL;
    if (known)
        n->status_fn(n->status_arg, &battles, &degraded);
    snprintf(n->value, sizeof n->value, "%s|%s|%s|%" PRIu64 "|%" PRIu64 "|%s|%u|%s|%s|%s", n->name,
             n->player, n->admin, n->started_ms, battles,
             n->stopping ? "stopping" : !known ? "starting" : degraded ? "degraded" : "ok", n->inc,
             n->ws[0] ? n->ws : "-",
             n->tls[0] ? n->tls : "-", n->wss[0] ? n->wss : "-");
    pthread_mutex_unlock(&n->mu);
    const char *set[] = {"SET", n->k_self, n->value, "PX", n->ttl};
    const char *sadd[] = {"SADD", n->k_nodes, n->name};
    redisReply *r = cmd(n, 5, set);
    if (!r)
        return -1;
    reply_free(r);
    /* Nobody takes this incarnation over before its key (set at t0 or later) has expired, ttl,
     * and it has then been seen dead for another ttl (read_holders): so until t0 + 2 ttl it is
     * ours. Half a ttl is left as margin. */
    atomic_store_explicit(&n->lease_until, t0 + n->ttl_ms + n->ttl_ms / 2, memory_order_relaxed);
    if (!(r = cmd(n, 3, sadd)))
        return -1;
    reply_free(r);
    if (read_nodes(n, view, nview, invalid) != 0)
        return -1;
    if (read_holders(n, view, *nview, orphans, norphans, invalid) != 0)
        return -1;
    pthread_mutex_lock(&n->route_mu);
    route_table *t = n->route;
    n->route = n->scan;
    n->scan = t;
    pthread_mutex_unlock(&n->route_mu);
    return 0;
}

static void *node_main(void *arg)
{
    cluster_node *n = arg;
    log_set_thread_name("cluster");
    node_entry *view = malloc(sizeof n->view);
    uint16_t *orphans = malloc((CLUSTER_INCS_MAX + 1) * sizeof *orphans);
    pthread_mutex_lock(&n->mu);
    while (!n->stop && view && orphans && !n->fenced) {
        pthread_mutex_unlock(&n->mu);
        size_t nview = 0, norphans = 0;
        uint64_t invalid = 0;
        int rc = beat(n, view, &nview, &invalid, orphans, &norphans);
        if (rc != 0)
            n->up_since = 0;
        else if (!n->up_since)
            n->up_since = clock_mono_ms();
        cluster_fenced_fn fenced = NULL;
        void *fenced_arg = NULL;
        pthread_mutex_lock(&n->mu);
        if (rc < 0 && n->redis_up)
            log_warn("cluster: Redis unreachable, heartbeat retried", "address", n->host);
        if (rc == 1) {
            /* Another node claimed this incarnation's battles (we were paused or cut off past the
             * lease): registering again would advertise battles we no longer hold. */
            log_error("cluster: another node took this node's battles over; stopping",
                      "incarnation", LOG_U64(n->inc));
            n->fenced = true;
            fenced = n->fenced_fn;
            fenced_arg = n->fenced_arg;
        }
        n->redis_up = rc == 0;
        n->nview = rc == 0 ? nview : 0;
        memcpy(n->view, view, n->nview * sizeof *view);
        n->norphans = rc == 0 ? norphans : 0;
        memcpy(n->orphans, orphans, n->norphans * sizeof *orphans);
        n->invalid += invalid;
        pthread_cond_broadcast(&n->cv);
        if (fenced) {
            pthread_mutex_unlock(&n->mu);
            fenced(fenced_arg);
            pthread_mutex_lock(&n->mu);
            break;
        }
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += n->heartbeat_ms / 1000;
        dl.tv_nsec += (long)(n->heartbeat_ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        while (!n->stop && pthread_cond_timedwait(&n->cv, &n->mu, &dl) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&n->mu);
    free(view);
    free(orphans);
    return NULL;
}

/* Takes a new incarnation: INCR <prefix>inc, wrapped into 1..CLUSTER_INC_MAX, skipping numbers
 * whose hash still exists (their battles may still be routed by it). 0 or -1 with err. */
static int take_incarnation(cluster_node *n, const char *journal_prefix, char *err, size_t errlen)
{
    if (!ensure_conn(n)) {
        snprintf(err, errlen, "cluster: Redis %s:%d cannot be reached", n->host, n->port);
        return -1;
    }
    for (int tries = 0; tries < 64; tries++) {
        const char *incr[] = {"INCR", n->k_inc};
        redisReply *r = cmd(n, 2, incr);
        if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < 1) {
            reply_free(r);
            snprintf(err, errlen, "cluster: INCR %s failed", n->k_inc);
            return -1;
        }
        unsigned inc = (unsigned)((uint64_t)(r->integer - 1) % CLUSTER_INC_MAX) + 1;
        reply_free(r);
        char key[NODE_KEY_MAX];
        snprintf(key, sizeof key, "%sinc:%u", n->prefix, inc);
        const char *nx[] = {"HSETNX", key, "node", n->name};
        r = cmd(n, 4, nx);
        if (!r) {
            snprintf(err, errlen, "cluster: HSETNX %s failed", key);
            return -1;
        }
        bool got = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        reply_free(r);
        if (!got)
            continue;
        n->inc = inc;
        snprintf(n->k_myinc, sizeof n->k_myinc, "%s", key);
        snprintf(n->jprefix, sizeof n->jprefix, "%si%u:", journal_prefix ? journal_prefix : "", inc);
        char incs[16], sh[16];
        snprintf(incs, sizeof incs, "%u", inc);
        snprintf(sh, sizeof sh, "%u", n->shards);
        const char *hset[] = {"HSET", key, "prefix", n->jprefix, "shards", sh, "holder", incs};
        const char *sadd[] = {"SADD", n->k_incs, incs};
        if (!(r = cmd(n, 8, hset)) || (reply_free(r), !(r = cmd(n, 3, sadd)))) {
            snprintf(err, errlen, "cluster: registering incarnation %u failed", inc);
            return -1;
        }
        reply_free(r);
        return 0;
    }
    snprintf(err, errlen, "cluster: no free incarnation number (64 tried)");
    return -1;
}

static void node_free(cluster_node *n)
{
    drop_conn(n);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->route_mu);
    for (int i = 0; i < 2; i++) {
        route_table *t = i ? n->scan : n->route;
        if (t)
            free(t->split);
        free(t);
    }
    free(n->dead_since);
    free(n->orphans);
    free(n);
}

int cluster_node_start(const cluster_node_opts *o, cluster_node **out, char *err, size_t errlen)
{
    *out = NULL;
    cluster_node *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const char *bad = NULL;
    if (hostport_split(o->redis_address, n->host, sizeof n->host, &n->port) != 0)
        bad = "the Redis address must be host:port";
    else if (!o->prefix || strlen(o->prefix) > CLUSTER_NAME_MAX)
        bad = "cluster.prefix is too long";
    else if (!o->name || !nodeval_token_ok(o->name, strlen(o->name)))
        bad = "cluster.node must be 1..64 of letters, digits and .:-_[]";
    else if (!o->player_address || !nodeval_token_ok(o->player_address, strlen(o->player_address)) ||
             !o->admin_address || !nodeval_token_ok(o->admin_address, strlen(o->admin_address)) ||
             (o->ws_address && o->ws_address[0] && !nodeval_token_ok(o->ws_address, strlen(o->ws_address))) ||
             (o->tls_address && o->tls_address[0] &&
              !nodeval_token_ok(o->tls_address, strlen(o->tls_address))) ||
             (o->wss_address && o->wss_address[0] && !nodeval_token_ok(o->wss_address, strlen(o->wss_address))))
        bad = "cluster.advertise* must be host:port";
    else if (o->journal_prefix && strlen(o->journal_prefix) > CLUSTER_NAME_MAX)
        bad = "persistence.redis_prefix is too long";
    else if (o->shards == 0 || o->shards > CLUSTER_SHARDS_MAX)
        bad = "cluster: the shard count must be 1..1024";
    else if (o->heartbeat_ms == 0 || o->ttl_ms <= o->heartbeat_ms)
        bad = "cluster.ttl_ms must be more than cluster.heartbeat_ms";
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        free(n);
        return -EINVAL;
    }
    snprintf(n->prefix, sizeof n->prefix, "%s", o->prefix);
    snprintf(n->name, sizeof n->name, "%s", o->name);
    snprintf(n->player, sizeof n->player, "%s", o->player_address);
    snprintf(n->admin, sizeof n->admin, "%s", o->admin_address);
    snprintf(n->ws, sizeof n->ws, "%s", o->ws_address ? o->ws_address : "");
    snprintf(n->tls, sizeof n->tls, "%s", o->tls_address ? o->tls_address : "");
    snprintf(n->wss, sizeof n->wss, "%s", o->wss_address ? o->wss_address : "");
    n->started_ms = wall_ms();
    snprintf(n->k_inc, sizeof n->k_inc, "%sinc", o->prefix);
    snprintf(n->k_incs, sizeof n->k_incs, "%sincs", o->prefix);
    snprintf(n->k_self, sizeof n->k_self, "%snode:%s", n->prefix, n->name);
    snprintf(n->k_nodes, sizeof n->k_nodes, "%snodes", n->prefix);
    snprintf(n->ttl, sizeof n->ttl, "%u", o->ttl_ms);
    n->ttl_ms = o->ttl_ms;
    n->heartbeat_ms = o->heartbeat_ms;
    n->timeout_ms = o->timeout_ms ? o->timeout_ms : 2000;
    n->shards = o->shards;
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->route_mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    n->route = calloc(1, sizeof *n->route);
    n->scan = calloc(1, sizeof *n->scan);
    n->dead_since = calloc(CLUSTER_INC_MAX + 1, sizeof *n->dead_since);
    n->orphans = calloc(CLUSTER_INCS_MAX + 1, sizeof *n->orphans);
    if (!n->route || !n->scan || !n->dead_since || !n->orphans) {
        snprintf(err, errlen, "out of memory");
        node_free(n);
        return -ENOMEM;
    }
    if (take_incarnation(n, o->journal_prefix, err, errlen) != 0) {
        node_free(n);
        return -ECONNREFUSED;
    }
    uint64_t invalid = 0;
    if (beat(n, n->view, &n->nview, &invalid, n->orphans, &n->norphans) != 0) {
        snprintf(err, errlen, "cluster: Redis %s:%d cannot be reached", n->host, n->port);
        node_free(n);
        return -ECONNREFUSED;
    }
    n->norphans = 0; /* the adoption thread starts with the server; it reads the next beat's */
    n->redis_up = true;
    n->up_since = clock_mono_ms();
    n->invalid = invalid;
    int rc = pthread_create(&n->thread, NULL, node_main, n);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the cluster thread");
        node_free(n);
        return -rc;
    }
    *out = n;
    return 0;
}

size_t cluster_node_view(cluster_node *n, char *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    pthread_mutex_lock(&n->mu);
    size_t at = 0;
    int w = snprintf(buf, cap, "{\"self\":\"%s\",\"incarnation\":%u,\"redis\":\"%s\",\"nodes\":[",
                     n->name, n->inc, n->redis_up ? "up" : "down");
    bool fits = w > 0 && (size_t)w < cap;
    at = fits ? (size_t)w : 0;
    for (size_t i = 0; fits && i < n->nview; i++) {
        const node_entry *e = &n->view[i];
        w = snprintf(buf + at, cap - at,
                     "%s{\"name\":\"%s\",\"player\":\"%s\",\"admin\":\"%s\",\"ws\":\"%s\","
                     "\"tls\":\"%s\",\"wss\":\"%s\","
                     "\"incarnation\":%u,\"started_ms\":%" PRIu64
                     ",\"battles\":%" PRIu64 ",\"state\":\"%s\",\"self\":%s}",
                     i ? "," : "", e->name, e->player, e->admin, e->ws, e->tls, e->wss, e->inc,
                     e->started_ms,
                     e->battles, e->state, e->inc == n->inc ? "true" : "false");
        fits = w > 0 && (size_t)w < cap - at;
        at += fits ? (size_t)w : 0;
    }
    if (fits) {
        w = snprintf(buf + at, cap - at, "],\"invalid\":%" PRIu64 "}\n", n->invalid);
        fits = w > 0 && (size_t)w < cap - at;
        at += fits ? (size_t)w : 0;
    }
    if (!fits) {
        w = snprintf(buf, cap, "{\"self\":\"%s\",\"redis\":\"%s\",\"nodes\":[],\"truncated\":true}\n",
                     n->name, n->redis_up ? "up" : "down");
        at = w > 0 && (size_t)w < cap ? (size_t)w : 0;
        if (!at)
            buf[0] = '\0';
    }
    pthread_mutex_unlock(&n->mu);
    return at;
}

void cluster_node_set_stopping(cluster_node *n)
{
    pthread_mutex_lock(&n->mu);
    n->status_fn = NULL;
    n->status_arg = NULL;
    n->stopping = true;
    pthread_mutex_unlock(&n->mu);
}

void cluster_node_set_status(cluster_node *n, cluster_status_fn fn, void *arg)
{
    pthread_mutex_lock(&n->mu);
    n->status_fn = fn;
    n->status_arg = arg;
    pthread_mutex_unlock(&n->mu);
}

size_t cluster_node_view_hook(void *arg, char *buf, size_t cap)
{
    return cluster_node_view(arg, buf, cap);
}

void cluster_node_stop(cluster_node *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    if (!n->fenced && ensure_conn(n)) {
        /* Stopped after the server: the journal is flushed and its prefix released, so the others
         * may take the battles over at once instead of waiting for the ttl. */
        const char *rel[] = {"HSET", n->k_myinc, "released", "1"};
        redisReply *x = cmd(n, 4, rel);
        if (x)
            freeReplyObject(x);
        const char *del[] = {"DEL", n->k_self};
        const char *srem[] = {"SREM", n->k_nodes, n->name};
        redisReply *r = cmd(n, 2, del);
        if (r)
            freeReplyObject(r);
        if ((r = cmd(n, 3, srem)))
            freeReplyObject(r);
    }
    node_free(n);
}

unsigned cluster_node_incarnation(const cluster_node *n)
{
    return n->inc;
}

size_t cluster_node_journal_prefix(const cluster_node *n, char *buf, size_t cap)
{
    int w = snprintf(buf, cap, "%s", n->jprefix);
    return w > 0 && (size_t)w < cap ? (size_t)w : 0;
}

bool cluster_node_locate(void *arg, uint64_t bid, bool tls, char addr[CLUSTER_NAME_MAX + 1],
                         char ws[CLUSTER_NAME_MAX + 1])
{
    cluster_node *n = arg;
    addr[0] = ws[0] = '\0';
    if (!cluster_node_serving(n))
        return false; /* server_busy: it may have been taken over while we could not tell */
    unsigned x = (unsigned)(bid >> CLUSTER_INC_SHIFT) & 0xffffu;
    if (x == 0 || x == n->inc)
        return true;
    unsigned h = x; /* the incarnation that holds it, once found */
    pthread_mutex_lock(&n->route_mu);
    const route_table *t = n->route;
    for (int step = 0; step < CLUSTER_ROUTE_DEPTH && x != 0 && x != n->inc; step++) {
        uint32_t y = t->holder[x];
        if (y == 0 || y == x) {
            h = y == 0 ? n->inc : x; /* unknown (the shard says no_such_battle), or x's own */
            break;
        }
        if (y == ROUTE_SPLIT) {
            /* The shard the battle was on at x is shard_of() in shards/shard.h: the same mixer. */
            unsigned k = (unsigned)(mix64(bid) % t->nshards[x]);
            y = t->split[t->first[x] + k];
            if (y == 0) {
                h = x; /* nobody took that shard yet: x's, and x is gone */
                break;
            }
        }
        x = h = y;
    }
    pthread_mutex_unlock(&n->route_mu);
    if (x == 0 || h == n->inc)
        return true;
    cluster_node_address(n, h, tls, addr, ws);
    return false;
}

bool cluster_node_serving(cluster_node *n)
{
    return !atomic_load_explicit(&n->fenced, memory_order_relaxed) &&
           clock_mono_ms() < atomic_load_explicit(&n->lease_until, memory_order_relaxed);
}

bool cluster_node_address(cluster_node *n, unsigned inc, bool tls, char addr[CLUSTER_NAME_MAX + 1],
                          char ws[CLUSTER_NAME_MAX + 1])
{
    addr[0] = ws[0] = '\0';
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < n->nview; i++) {
        size_t len = strlen(n->view[i].player);
        bool bound = !(len >= 2 && strcmp(n->view[i].player + len - 2, ":0") == 0);
        if (n->view[i].inc == inc && bound) { /* port 0: it has not told its bound port yet */
            /* A TLS client gets the holder's TLS ports; a holder without one gets its plain
             * port named (the client's TLS handshake then fails: configure every node alike). */
            const node_entry *e = &n->view[i];
            memcpy(addr, tls && e->tls[0] ? e->tls : e->player, sizeof e->player);
            memcpy(ws, tls ? e->wss : e->ws, sizeof e->ws);
            break;
        }
    }
    pthread_mutex_unlock(&n->mu);
    return addr[0] != '\0';
}

/* The incarnations of the nodes in the latest view (only those in state "ok" when ok_only). */
static size_t view_incs(cluster_node *n, uint16_t *out, size_t cap, bool ok_only)
{
    pthread_mutex_lock(&n->mu);
    size_t k = 0;
    for (size_t i = 0; i < n->nview && k < cap; i++)
        if (!ok_only || strcmp(n->view[i].state, "ok") == 0)
            out[k++] = (uint16_t)n->view[i].inc;
    pthread_mutex_unlock(&n->mu);
    return k;
}

size_t cluster_node_takers(cluster_node *n, uint16_t *out, size_t cap)
{
    return view_incs(n, out, cap, true);
}

size_t cluster_node_live(cluster_node *n, uint16_t *out, size_t cap)
{
    return view_incs(n, out, cap, false);
}

void cluster_node_set_addresses(cluster_node *n, const char *player, const char *ws,
                                const char *tls, const char *wss)
{
    pthread_mutex_lock(&n->mu);
    if (player && nodeval_token_ok(player, strlen(player)))
        snprintf(n->player, sizeof n->player, "%s", player);
    if (ws && (!ws[0] || nodeval_token_ok(ws, strlen(ws))))
        snprintf(n->ws, sizeof n->ws, "%s", ws);
    if (tls && (!tls[0] || nodeval_token_ok(tls, strlen(tls))))
        snprintf(n->tls, sizeof n->tls, "%s", tls);
    if (wss && (!wss[0] || nodeval_token_ok(wss, strlen(wss))))
        snprintf(n->wss, sizeof n->wss, "%s", wss);
    pthread_cond_broadcast(&n->cv); /* the next heartbeat now, so the others learn them at once */
    pthread_mutex_unlock(&n->mu);
}

void cluster_node_set_fenced(cluster_node *n, cluster_fenced_fn fn, void *arg)
{
    pthread_mutex_lock(&n->mu);
    n->fenced_fn = fn;
    n->fenced_arg = arg;
    pthread_mutex_unlock(&n->mu);
}

size_t cluster_node_orphans(cluster_node *n, uint16_t *out, size_t cap, unsigned wait_ms)
{
    pthread_mutex_lock(&n->mu);
    if (wait_ms && !n->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += wait_ms / 1000;
        dl.tv_nsec += (long)(wait_ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&n->cv, &n->mu, &dl);
    }
    size_t k = n->fenced || n->stop ? 0 : (n->norphans < cap ? n->norphans : cap);
    memcpy(out, n->orphans, k * sizeof *out);
    pthread_mutex_unlock(&n->mu);
    return k;
}

void cluster_node_load(cluster_node *n, uint64_t *self, uint64_t *most)
{
    pthread_mutex_lock(&n->mu);
    *self = *most = 0;
    for (size_t i = 0; i < n->nview; i++) {
        if (n->view[i].inc == n->inc)
            *self = n->view[i].battles;
        if (n->view[i].battles > *most)
            *most = n->view[i].battles;
    }
    pthread_mutex_unlock(&n->mu);
}

void cluster_node_metrics(cluster_node *n, prom_out *o)
{
    pthread_mutex_lock(&n->mu);
    prom_gauge(o, "battled_cluster_incarnation", "This process's incarnation number.", n->inc);
    prom_gauge(o, "battled_cluster_redis_up", "1 when the last heartbeat reached Redis.",
               n->redis_up ? 1 : 0);
    prom_gauge(o, "battled_cluster_fenced",
               "1 once another node took this node's battles over (it is stopping).",
               n->fenced ? 1 : 0);
    prom_gauge(o, "battled_cluster_serving",
               "1 while a recent heartbeat confirmed this node still holds its battles (its lease); "
               "0: every battle request is answered server_busy.",
               cluster_node_serving(n) ? 1 : 0);
    prom_gauge(o, "battled_cluster_nodes", "Live nodes in this node's view.", (double)n->nview);
    prom_gauge(o, "battled_cluster_orphans", "Incarnations waiting to be taken over.",
               (double)n->norphans);
    prom_counter(o, "battled_cluster_invalid_entries_total",
                 "Registry entries left out of views: malformed or too many.", n->invalid);
    prom_family(o, "battled_cluster_node_battles", "Live battles of each node, as it last reported.",
                "gauge");
    for (size_t i = 0; i < n->nview; i++) {
        prom_label l = {"node", n->view[i].name};
        prom_sample_u64(o, "battled_cluster_node_battles", &l, 1, n->view[i].battles);
    }
    pthread_mutex_unlock(&n->mu);
}

bool cluster_node_fenced(cluster_node *n)
{
    pthread_mutex_lock(&n->mu);
    bool f = n->fenced;
    pthread_mutex_unlock(&n->mu);
    return f;
}
