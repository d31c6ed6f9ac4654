/* node: registration and view of the cluster's nodes (see node.h). One thread, one synchronous
 * hiredis connection with a timeout, remade after any error. */
#include "cluster/node.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/hostport.h"
#include "util/log.h"

#define NODE_KEY_MAX (CLUSTER_NAME_MAX + 80)
#define NODE_VALUE_MAX (4 * CLUSTER_NAME_MAX + 32)

typedef struct node_entry {
    char name[CLUSTER_NAME_MAX + 1];
    char player[CLUSTER_NAME_MAX + 1];
    char admin[CLUSTER_NAME_MAX + 1];
    uint64_t started_ms;
    uint64_t battles;
    char state[16];
} node_entry;

struct cluster_node {
    char host[256];
    int port;
    char prefix[CLUSTER_NAME_MAX + 1];
    char name[CLUSTER_NAME_MAX + 1];
    char value[NODE_VALUE_MAX];
    char player[CLUSTER_NAME_MAX + 1], admin[CLUSTER_NAME_MAX + 1];
    uint64_t started_ms;
    char k_self[NODE_KEY_MAX], k_nodes[NODE_KEY_MAX];
    char ttl[16];
    unsigned heartbeat_ms, timeout_ms;
    redisContext *c; /* the thread's */

    pthread_t thread;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    bool stop;
    bool redis_up;
    cluster_status_fn status_fn;
    void *status_arg;
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

/* Names and addresses: 1..CLUSTER_NAME_MAX of [A-Za-z0-9._:-[]]; nothing that needs escaping. */
static bool token_ok(const char *s, size_t n)
{
    if (n == 0 || n > CLUSTER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == ':' || ch == '-' || ch == '_' || ch == '[' || ch == ']';
        if (!ok)
            return false;
    }
    return true;
}

/* Parses 1..19 decimal digits. */
static bool parse_dec(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Parses "name|player|admin|started|battles|state" into e; false when anything is off. */
static bool parse_value(const char *v, size_t len, node_entry *e)
{
    const char *f[6];
    size_t fl[6];
    const char *p = v, *end = v + len;
    for (int i = 0; i < 6; i++) {
        const char *bar = i < 5 ? memchr(p, '|', (size_t)(end - p)) : end;
        if (!bar)
            return false;
        f[i] = p;
        fl[i] = (size_t)(bar - p);
        p = bar + 1;
    }
    uint64_t t, b;
    if (!token_ok(f[0], fl[0]) || !token_ok(f[1], fl[1]) || !token_ok(f[2], fl[2]) ||
        !parse_dec(f[3], fl[3], &t) || !parse_dec(f[4], fl[4], &b) ||
        !token_ok(f[5], fl[5]) || fl[5] >= sizeof e->state)
        return false;
    e->battles = b;
    memcpy(e->state, f[5], fl[5]);
    e->state[fl[5]] = '\0';
    memcpy(e->name, f[0], fl[0]);
    e->name[fl[0]] = '\0';
    memcpy(e->player, f[1], fl[1]);
    e->player[fl[1]] = '\0';
    memcpy(e->admin, f[2], fl[2]);
    e->admin[fl[2]] = '\0';
    e->started_ms = t;
    return true;
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
    size_t lens[8];
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

/* One heartbeat: register, then read every node back. 0 or -1 (Redis unreachable). */
static int beat(cluster_node *n, node_entry *view, size_t *nview, uint64_t *invalid)
{
    *nview = 0;
    if (!ensure_conn(n))
        return -1;
    uint64_t battles = 0;
    bool degraded = false, known;
    pthread_mutex_lock(&n->mu);
    known = n->status_fn != NULL;
    if (known)
        n->status_fn(n->status_arg, &battles, &degraded);
    pthread_mutex_unlock(&n->mu);
    snprintf(n->value, sizeof n->value, "%s|%s|%s|%" PRIu64 "|%" PRIu64 "|%s", n->name, n->player,
             n->admin, n->started_ms, battles, !known ? "starting" : degraded ? "degraded" : "ok");
    const char *set[] = {"SET", n->k_self, n->value, "PX", n->ttl};
    const char *sadd[] = {"SADD", n->k_nodes, n->name};
    const char *members[] = {"SMEMBERS", n->k_nodes};
    redisReply *r = cmd(n, 5, set);
    if (!r)
        return -1;
    freeReplyObject(r);
    if (!(r = cmd(n, 3, sadd)))
        return -1;
    freeReplyObject(r);
    redisReply *m = cmd(n, 2, members);
    if (!m)
        return -1;
    int rc = 0;
    for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i < m->elements; i++) {
        redisReply *e = m->element[i];
        if (e->type != REDIS_REPLY_STRING || !token_ok(e->str, e->len)) {
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
            redisReply *x = cmd(n, 3, srem);
            if (x)
                freeReplyObject(x);
        } else if (*nview < CLUSTER_NODES_MAX && v->type == REDIS_REPLY_STRING &&
                   parse_value(v->str, v->len, &view[*nview])) {
            (*nview)++;
        } else {
            (*invalid)++;
        }
        freeReplyObject(v);
    }
    freeReplyObject(m);
    return rc;
}

static void *node_main(void *arg)
{
    cluster_node *n = arg;
    log_set_thread_name("cluster");
    node_entry *view = malloc(sizeof n->view);
    pthread_mutex_lock(&n->mu);
    while (!n->stop && view) {
        pthread_mutex_unlock(&n->mu);
        size_t nview = 0;
        uint64_t invalid = 0;
        int rc = beat(n, view, &nview, &invalid);
        pthread_mutex_lock(&n->mu);
        if (rc != 0 && n->redis_up)
            log_warn("cluster: Redis unreachable, heartbeat retried", "address", n->host);
        n->redis_up = rc == 0;
        n->nview = rc == 0 ? nview : 0;
        memcpy(n->view, view, n->nview * sizeof *view);
        n->invalid += invalid;
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
    return NULL;
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
    else if (!o->name || !token_ok(o->name, strlen(o->name)))
        bad = "cluster.node must be 1..64 of letters, digits and .:-_[]";
    else if (!o->player_address || !token_ok(o->player_address, strlen(o->player_address)) ||
             !o->admin_address || !token_ok(o->admin_address, strlen(o->admin_address)))
        bad = "cluster.advertise and cluster.advertise_admin must be host:port";
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
    n->started_ms = wall_ms();
    snprintf(n->k_self, sizeof n->k_self, "%snode:%s", n->prefix, n->name);
    snprintf(n->k_nodes, sizeof n->k_nodes, "%snodes", n->prefix);
    snprintf(n->ttl, sizeof n->ttl, "%u", o->ttl_ms);
    n->heartbeat_ms = o->heartbeat_ms;
    n->timeout_ms = o->timeout_ms ? o->timeout_ms : 2000;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    uint64_t invalid = 0;
    if (beat(n, n->view, &n->nview, &invalid) != 0) {
        snprintf(err, errlen, "cluster: Redis %s:%d cannot be reached", n->host, n->port);
        drop_conn(n);
        pthread_cond_destroy(&n->cv);
        pthread_mutex_destroy(&n->mu);
        free(n);
        return -ECONNREFUSED;
    }
    n->redis_up = true;
    n->invalid = invalid;
    int rc = pthread_create(&n->thread, NULL, node_main, n);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the cluster thread");
        drop_conn(n);
        pthread_cond_destroy(&n->cv);
        pthread_mutex_destroy(&n->mu);
        free(n);
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
    int w = snprintf(buf, cap, "{\"self\":\"%s\",\"redis\":\"%s\",\"nodes\":[", n->name,
                     n->redis_up ? "up" : "down");
    bool fits = w > 0 && (size_t)w < cap;
    at = fits ? (size_t)w : 0;
    for (size_t i = 0; fits && i < n->nview; i++) {
        const node_entry *e = &n->view[i];
        w = snprintf(buf + at, cap - at,
                     "%s{\"name\":\"%s\",\"player\":\"%s\",\"admin\":\"%s\",\"started_ms\":%" PRIu64
                     ",\"battles\":%" PRIu64 ",\"state\":\"%s\",\"self\":%s}",
                     i ? "," : "", e->name, e->player, e->admin, e->started_ms, e->battles, e->state,
                     strcmp(e->name, n->name) == 0 ? "true" : "false");
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
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    if (ensure_conn(n)) {
        const char *del[] = {"DEL", n->k_self};
        const char *srem[] = {"SREM", n->k_nodes, n->name};
        redisReply *r = cmd(n, 2, del);
        if (r)
            freeReplyObject(r);
        if ((r = cmd(n, 3, srem)))
            freeReplyObject(r);
    }
    drop_conn(n);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}
