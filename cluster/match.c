/* match: matchmaking across nodes (see match.h). One thread, one synchronous hiredis connection
 * with a timeout, remade after any error. */
#include "cluster/match.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/hostport.h"
#include "util/log.h"

#define MATCH_VALUE_MAX 48             /* "<inc>|<ticket>|<unix ms>" */
#define MATCH_KEY_MAX (CLUSTER_NAME_MAX + 16)
#define MATCH_ARGS_MAX (6 + CLUSTER_NODES_MAX) /* EVAL script 1 key, 4 fixed ARGV, the live incs */
#define MATCH_IDLE_MS 1000             /* the thread wakes at least this often */

/* Either keeps this node's entry where it is (nothing older from another live node), takes the
 * oldest entry of another live node (removing this node's entry), or appends it. Entries of nodes
 * not in the live list are removed on the way (their players are gone with their node).
 *   KEYS[1] the band's list; ARGV[1] this incarnation; ARGV[2] this entry; ARGV[3] expiry ms;
 *   ARGV[4] CLUSTER_MATCH_SCAN; ARGV[5..] the live incarnations.
 * Returns {"kept"|"added"|"full", stale} or {"took", stale, entry}. */
static const char SCRIPT_MATCH[] =
    "local live = {} "
    "for i = 5, #ARGV do live[ARGV[i]] = true end "
    "local max = tonumber(ARGV[4]) "
    "local items = redis.call('LRANGE', KEYS[1], 0, max - 1) "
    "local stale = 0 "
    "for _, it in ipairs(items) do "
    "  if it == ARGV[2] then return {'kept', stale} end "
    "  local inc = string.match(it, '^(%d+)|') "
    "  if inc ~= ARGV[1] then "
    "    if inc and live[inc] then "
    "      redis.call('LREM', KEYS[1], 1, it) "
    "      redis.call('LREM', KEYS[1], 0, ARGV[2]) "
    "      return {'took', stale, it} "
    "    end "
    "    redis.call('LREM', KEYS[1], 0, it) "
    "    stale = stale + 1 "
    "  end "
    "end "
    "if #items >= max then return {'full', stale} end "
    "redis.call('RPUSH', KEYS[1], ARGV[2]) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
    "return {'added', stale}";

typedef struct {
    uint8_t what, band;
    uint64_t ticket;
} match_event;

/* One entry of this node waiting in its lobby, as the thread knows it. */
typedef struct {
    uint64_t ticket;
    uint64_t due_ms;   /* next offer (monotonic) */
    uint8_t band;
    bool offered;      /* in Redis (as far as this thread knows) */
    bool counted;      /* published once already */
    char value[MATCH_VALUE_MAX];
} match_entry;

struct cluster_match {
    cluster_match_opts o;
    char host[256];
    int port;
    char prefix[CLUSTER_NAME_MAX + 1];
    unsigned inc;
    char inc_s[16];
    redisContext *c; /* the thread's */
    cluster_redirect_fn redirect;
    void *redirect_arg;
    match_entry local[CLUSTER_MATCH_LOCAL]; /* the thread's */
    size_t nlocal;

    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    bool stop;
    match_event ev[CLUSTER_MATCH_EVENTS]; /* a ring */
    size_t ev_head, ev_len;
    cluster_match_stats stats;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void count(cluster_match *m, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&m->mu);
    *field += n;
    pthread_mutex_unlock(&m->mu);
}

static void drop_conn(cluster_match *m)
{
    if (m->c)
        redisFree(m->c);
    m->c = NULL;
}

/* Runs one command (argc strings); NULL on any failure (connection dropped, counted). */
static redisReply *cmd(cluster_match *m, int argc, const char **argv)
{
    if (!m->c) {
        struct timeval tv = {.tv_sec = m->o.timeout_ms / 1000,
                             .tv_usec = (m->o.timeout_ms % 1000) * 1000};
        m->c = redisConnectWithTimeout(m->host, m->port, tv);
        if (!m->c || m->c->err) {
            drop_conn(m);
            count(m, &m->stats.errors, 1);
            return NULL;
        }
        redisSetTimeout(m->c, tv);
    }
    size_t lens[MATCH_ARGS_MAX];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = redisCommandArgv(m->c, argc, argv, lens);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) {
            log_warn("cluster: matchmaking script failed", "error", r->str);
            freeReplyObject(r);
        }
        drop_conn(m);
        count(m, &m->stats.errors, 1);
        return NULL;
    }
    return r;
}

static void band_key(const cluster_match *m, uint8_t band, char key[MATCH_KEY_MAX])
{
    snprintf(key, MATCH_KEY_MAX, "%squeue:%u", m->prefix, (unsigned)band);
}

/* LREM or LPUSH one value on a band's list; failures only counted (the next offer repairs). */
static void list_op(cluster_match *m, const char *op, uint8_t band, const char *value)
{
    char key[MATCH_KEY_MAX];
    band_key(m, band, key);
    const char *lrem[] = {"LREM", key, "0", value};
    const char *lpush[] = {"LPUSH", key, value};
    redisReply *r = strcmp(op, "LREM") == 0 ? cmd(m, 4, lrem) : cmd(m, 3, lpush);
    if (r)
        freeReplyObject(r);
}

static match_entry *find_local(cluster_match *m, uint8_t band, uint64_t ticket)
{
    for (size_t i = 0; i < m->nlocal; i++)
        if (m->local[i].ticket == ticket && m->local[i].band == band)
            return &m->local[i];
    return NULL;
}

static void remove_local(cluster_match *m, match_entry *e)
{
    *e = m->local[--m->nlocal];
}

static void apply_event(cluster_match *m, const match_event *ev, uint64_t now)
{
    match_entry *e = find_local(m, ev->band, ev->ticket);
    if (ev->what == CLUSTER_MATCH_GONE) {
        if (!e)
            return;
        if (e->offered)
            list_op(m, "LREM", e->band, e->value);
        remove_local(m, e);
        return;
    }
    if (e || ev->band >= CLUSTER_MATCH_BANDS)
        return;
    if (m->nlocal == CLUSTER_MATCH_LOCAL) {
        count(m, &m->stats.events_dropped, 1); /* it is still matched locally, as on one node */
        return;
    }
    e = &m->local[m->nlocal++];
    memset(e, 0, sizeof *e);
    e->ticket = ev->ticket;
    e->band = ev->band;
    e->due_ms = now + m->o.delay_ms;
    snprintf(e->value, sizeof e->value, "%s|%" PRIu64 "|%" PRIu64, m->inc_s, ev->ticket, wall_ms());
}

/* The player of entry e is matched with the one who waited behind `taken` (another node's entry):
 * e's player is sent there. Returns whether e left the table. */
static bool redirect_to(cluster_match *m, match_entry *e, const char *taken, size_t len)
{
    unsigned inc = 0;
    for (size_t i = 0; i < len && taken[i] >= '0' && taken[i] <= '9' && inc <= CLUSTER_INC_MAX; i++)
        inc = inc * 10 + (unsigned)(taken[i] - '0');
    char addr[CLUSTER_NAME_MAX + 1], ws[CLUSTER_NAME_MAX + 1];
    char tls_addr[CLUSTER_NAME_MAX + 1], wss[CLUSTER_NAME_MAX + 1];
    char value[MATCH_VALUE_MAX];
    snprintf(value, sizeof value, "%.*s", (int)len, taken);
    if (!cluster_node_address(m->o.node, inc, false, addr, ws) ||
        !cluster_node_address(m->o.node, inc, true, tls_addr, wss) ||
        !m->redirect(m->redirect_arg, e->band, e->ticket, addr, ws, tls_addr, wss)) {
        /* Its node vanished from the view, or the network thread could not take the redirect:
         * the entry goes back where it was, first in line. */
        list_op(m, "LPUSH", e->band, value);
        e->offered = false;
        return false;
    }
    count(m, &m->stats.matched, 1);
    log_debug("cluster: queue matched across nodes", "ticket", LOG_U64(e->ticket), "with", value,
              "at", addr);
    remove_local(m, e);
    return true;
}

/* Offers entry e (see SCRIPT_MATCH). Returns whether e left the table. */
static bool offer(cluster_match *m, match_entry *e, const uint16_t *live, size_t nlive,
                  uint64_t now)
{
    char key[MATCH_KEY_MAX], keep[16], scan[16];
    band_key(m, e->band, key);
    snprintf(keep, sizeof keep, "%u", (unsigned)CLUSTER_MATCH_KEEP_MS);
    snprintf(scan, sizeof scan, "%u", (unsigned)CLUSTER_MATCH_SCAN);
    const char *argv[MATCH_ARGS_MAX];
    char incs[CLUSTER_NODES_MAX][8];
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = SCRIPT_MATCH;
    argv[argc++] = "1";
    argv[argc++] = key;
    argv[argc++] = m->inc_s;
    argv[argc++] = e->value;
    argv[argc++] = keep;
    argv[argc++] = scan;
    for (size_t i = 0; i < nlive && i < CLUSTER_NODES_MAX; i++) {
        snprintf(incs[i], sizeof incs[i], "%u", (unsigned)live[i]);
        argv[argc++] = incs[i];
    }
    e->due_ms = now + m->o.refresh_ms;
    redisReply *r = cmd(m, argc, argv);
    if (!r)
        return false;
    bool gone = false;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_INTEGER) {
        const char *st = r->element[0]->str;
        if (r->element[1]->integer > 0)
            count(m, &m->stats.stale, (uint64_t)r->element[1]->integer);
        if (strcmp(st, "took") == 0 && r->elements == 3 &&
            r->element[2]->type == REDIS_REPLY_STRING) {
            gone = redirect_to(m, e, r->element[2]->str, r->element[2]->len);
        } else if (strcmp(st, "added") == 0 || strcmp(st, "kept") == 0) {
            if (!e->counted)
                count(m, &m->stats.published, 1);
            e->offered = e->counted = true;
        } else {
            e->offered = false; /* "full": offered again at the next refresh */
        }
    }
    freeReplyObject(r);
    return gone;
}

/* Offers every entry that is due. The live incarnations come from the latest heartbeat; without
 * this node among them (Redis unreachable at the last one) nothing is offered, since every other
 * node's entry would look stale. */
static void offer_due(cluster_match *m, uint64_t now)
{
    uint16_t live[CLUSTER_NODES_MAX];
    size_t nlive = 0;
    bool any_due = false;
    for (size_t i = 0; i < m->nlocal && !any_due; i++)
        any_due = m->local[i].due_ms <= now;
    if (!any_due)
        return;
    nlive = cluster_node_live(m->o.node, live, CLUSTER_NODES_MAX);
    bool self = false;
    for (size_t i = 0; i < nlive; i++)
        self |= live[i] == m->inc;
    for (size_t i = 0; i < m->nlocal;) {
        match_entry *e = &m->local[i];
        if (e->due_ms > now) {
            i++;
        } else if (!self) {
            e->due_ms = now + m->o.refresh_ms;
            i++;
        } else if (!offer(m, e, live, nlive, now)) {
            i++;
        } /* else: e left the table and its slot holds another entry */
    }
}

static void *match_main(void *arg)
{
    cluster_match *m = arg;
    log_set_thread_name("match");
    match_event batch[64];
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        uint64_t now = mono_ms(), next = now + MATCH_IDLE_MS;
        for (size_t i = 0; i < m->nlocal; i++)
            if (m->local[i].due_ms < next)
                next = m->local[i].due_ms;
        if (!m->ev_len && next > now) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            uint64_t wait = next - now;
            dl.tv_sec += (time_t)(wait / 1000);
            dl.tv_nsec += (long)(wait % 1000) * 1000000;
            if (dl.tv_nsec >= 1000000000) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&m->cv, &m->mu, &dl);
            continue;
        }
        size_t n = 0;
        while (m->ev_len && n < sizeof batch / sizeof batch[0]) {
            batch[n++] = m->ev[m->ev_head];
            m->ev_head = (m->ev_head + 1) % CLUSTER_MATCH_EVENTS;
            m->ev_len--;
        }
        pthread_mutex_unlock(&m->mu);
        now = mono_ms();
        for (size_t i = 0; i < n; i++)
            apply_event(m, &batch[i], now);
        offer_due(m, now);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int cluster_match_create(const cluster_match_opts *o, cluster_match **out, char *err,
                         size_t errlen)
{
    *out = NULL;
    if (!o->node || !o->prefix || strlen(o->prefix) > CLUSTER_NAME_MAX || !o->refresh_ms) {
        snprintf(err, errlen, "cluster matchmaking: bad options");
        return -EINVAL;
    }
    cluster_match *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (hostport_split(o->redis_address, m->host, sizeof m->host, &m->port) != 0) {
        snprintf(err, errlen, "the Redis address must be host:port");
        free(m);
        return -EINVAL;
    }
    m->o = *o;
    m->o.timeout_ms = o->timeout_ms ? o->timeout_ms : 2000;
    snprintf(m->prefix, sizeof m->prefix, "%s", o->prefix);
    m->inc = cluster_node_incarnation(o->node);
    snprintf(m->inc_s, sizeof m->inc_s, "%u", m->inc);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    *out = m;
    return 0;
}

int cluster_match_start(cluster_match *m, cluster_redirect_fn redirect, void *arg)
{
    m->redirect = redirect;
    m->redirect_arg = arg;
    int rc = pthread_create(&m->thread, NULL, match_main, m);
    if (rc != 0)
        return -rc;
    m->started = true;
    return 0;
}

void cluster_match_hook(void *arg, int what, uint8_t band, uint64_t ticket)
{
    cluster_match *m = arg;
    pthread_mutex_lock(&m->mu);
    if (m->ev_len == CLUSTER_MATCH_EVENTS) {
        /* A lost WAITING leaves the entry to this node's lobby alone; a lost GONE leaves an offer
         * in Redis until another node takes it: its player then waits here, one hop late. */
        m->stats.events_dropped++;
    } else {
        match_event *e = &m->ev[(m->ev_head + m->ev_len++) % CLUSTER_MATCH_EVENTS];
        e->what = (uint8_t)what;
        e->band = band;
        e->ticket = ticket;
        pthread_cond_signal(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
}

void cluster_match_stats_get(cluster_match *m, cluster_match_stats *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->stats;
    pthread_mutex_unlock(&m->mu);
}

void cluster_match_stop(cluster_match *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (m->started)
        pthread_join(m->thread, NULL);
    /* Every entry still offered is withdrawn: its player is being told the server goes away. */
    for (size_t i = 0; i < m->nlocal; i++)
        if (m->local[i].offered)
            list_op(m, "LREM", m->local[i].band, m->local[i].value);
    drop_conn(m);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
