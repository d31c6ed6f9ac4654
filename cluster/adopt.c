/* adopt: taking over the battles of nodes that stopped heartbeating (see adopt.h). One thread,
 * one synchronous hiredis connection for the holder records, a store_redis link per takeover. */
#include "cluster/adopt.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/increc.h"
#include "journal/store_redis.h"
#include "util/clock.h"
#include "util/hostport.h"
#include "util/log.h"
#include "util/metrics.h"

#define ADOPT_HOLDER_TTL_MS "86400000" /* a taken-over incarnation's record, kept for routing */
#define ADOPT_SEGMENTS_MAX 65536       /* segments one prefix may hold, at most */
#define ADOPT_RETRY_MS 50              /* a prefix another survivor is taking its share of: ask again */

struct cluster_adopt {
    cluster_adopt_opts o;
    char host[256];
    int port;
    char address[CLUSTER_NAME_MAX + 1], prefix[CLUSTER_NAME_MAX + 1], name[CLUSTER_NAME_MAX + 1];
    unsigned inc;
    redisContext *c;
    pthread_t thread;
    pthread_mutex_t mu; /* guards stop and stats */
    pthread_cond_t cv;
    bool stop;
    bool joined; /* cluster_adopt_halt ran */
    cluster_adopt_stats stats;
};

/* Records that incarnation ARGV[1] now holds the listed shards (ARGV[4..]) of the incarnation
 * whose record is KEYS[1]: holder becomes 0 (split: routing goes by shard), h<k> = ARGV[1]. Once
 * every one of its ARGV[3] shards is taken the record expires after ARGV[2] ms (no battle lives
 * that long). Returns how many shards remain untaken. One script: atomic. */
static const char SCRIPT_TAKE[] =
    "redis.call('HSET', KEYS[1], 'holder', '0', 'shards', ARGV[3]) "
    "for i = 4, #ARGV do redis.call('HSET', KEYS[1], 'h' .. ARGV[i], ARGV[1]) end "
    "local left = 0 "
    "for k = 0, tonumber(ARGV[3]) - 1 do "
    "  if redis.call('HEXISTS', KEYS[1], 'h' .. k) == 0 then left = left + 1 end "
    "end "
    "if left == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return left";

static void drop_conn(cluster_adopt *a)
{
    if (a->c)
        redisFree(a->c);
    a->c = NULL;
}

static redisReply *cmd(cluster_adopt *a, int argc, const char **argv)
{
    if (!a->c) {
        struct timeval tv = {.tv_sec = a->o.timeout_ms / 1000,
                             .tv_usec = (a->o.timeout_ms % 1000) * 1000};
        a->c = redisConnectWithTimeout(a->host, a->port, tv);
        if (!a->c || a->c->err) {
            drop_conn(a);
            return NULL;
        }
        redisSetTimeout(a->c, tv);
    }
    size_t small[8], *lens = argc <= 8 ? small : malloc((size_t)argc * sizeof *lens);
    if (!lens)
        return NULL;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = redisCommandArgv(a->c, argc, argv, lens);
    if (lens != small)
        free(lens);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            freeReplyObject(r);
        drop_conn(a);
        return NULL;
    }
    return r;
}

/* Sleeps up to ms unless stopped. Returns true when stopping. */
static bool nap(cluster_adopt *a, unsigned ms)
{
    pthread_mutex_lock(&a->mu);
    if (ms && !a->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += ms / 1000;
        dl.tv_nsec += (long)(ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu, &dl) != ETIMEDOUT) {
        }
    }
    bool stop = a->stop;
    pthread_mutex_unlock(&a->mu);
    return stop;
}

/* The segments of one prefix, as store_redis_load hands them over. */
struct segs {
    uint8_t **bufs;
    size_t *lens;
    bool *is_log;
    char **names;
    size_t n, cap;
};

static int on_segment(void *ctx, const char *name, uint8_t *data, size_t len, bool is_log)
{
    struct segs *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        if (cap > ADOPT_SEGMENTS_MAX) {
            free(data);
            return -E2BIG;
        }
        uint8_t **b = realloc(s->bufs, cap * sizeof *b);
        if (b)
            s->bufs = b;
        size_t *l = b ? realloc(s->lens, cap * sizeof *l) : NULL;
        if (l)
            s->lens = l;
        bool *g = l ? realloc(s->is_log, cap * sizeof *g) : NULL;
        if (g)
            s->is_log = g;
        char **nm = g ? realloc(s->names, cap * sizeof *nm) : NULL;
        if (nm)
            s->names = nm;
        if (!nm) {
            free(data);
            return -ENOMEM;
        }
        s->cap = cap;
    }
    s->names[s->n] = strdup(name);
    if (!s->names[s->n]) {
        free(data);
        return -ENOMEM;
    }
    s->bufs[s->n] = data;
    s->lens[s->n] = len;
    s->is_log[s->n] = is_log;
    s->n++;
    return 0;
}

static void segs_free(struct segs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->bufs[i]);
        free(s->names[i]);
    }
    free(s->bufs);
    free(s->lens);
    free(s->is_log);
    free(s->names);
}

static void on_warn(void *ctx, const char *msg, const char *file, uint64_t offset, uint64_t battle_id)
{
    (void)ctx;
    log_warn(msg, "file", file, "offset", LOG_U64(offset), "battle", LOG_U64(battle_id));
}

/* Reads incarnation x's record: its journal prefix into jprefix, its shard count into *shards (1
 * when not recorded: then it is taken as one piece) and, per shard, who took it (taken[k], 0: not
 * yet). Returns 1 when x still has untaken battles (holder x, or split with an untaken shard), 0
 * when not, -1 when Redis cannot be read. */
static int read_rec(cluster_adopt *a, unsigned x, char jprefix[STORE_REDIS_PREFIX_MAX + 1],
                    unsigned *shards, uint16_t *taken, char node[CLUSTER_NAME_MAX + 1])
{
    node[0] = '\0';
    char key[CLUSTER_NAME_MAX + 32];
    snprintf(key, sizeof key, "%sinc:%u", a->prefix, x);
    const char *get[] = {"HGETALL", key};
    redisReply *r = cmd(a, 2, get);
    if (!r)
        return -1;
    memset(taken, 0, CLUSTER_SHARDS_MAX * sizeof *taken);
    inc_rec rec;
    int open = 0;
    if (inc_rec_parse(r, &rec, taken, CLUSTER_SHARDS_MAX) && rec.prefix &&
        rec.prefix_len <= STORE_REDIS_PREFIX_MAX && (rec.holder == x || rec.holder == 0)) {
        memcpy(jprefix, rec.prefix, rec.prefix_len);
        jprefix[rec.prefix_len] = '\0';
        if (rec.node && rec.node_len <= CLUSTER_NAME_MAX) {
            memcpy(node, rec.node, rec.node_len);
            node[rec.node_len] = '\0';
        }
        *shards = rec.shards ? rec.shards : 1;
        for (unsigned k = 0; k < *shards; k++)
            if (rec.holder == x || taken[k] == 0)
                open = 1;
        if (rec.holder == x) /* not split yet: whatever h<k> says, nobody took a shard */
            memset(taken, 0, CLUSTER_SHARDS_MAX * sizeof *taken);
    }
    freeReplyObject(r);
    return open;
}

/* How many of x's untaken shards this node takes: an even share between the survivors that may
 * take over (state ok) and have not taken any of x's yet, this node counted once. */
static unsigned share(cluster_adopt *a, unsigned shards, const uint16_t *taken, unsigned untaken)
{
    uint16_t live[CLUSTER_NODES_MAX];
    size_t nl = cluster_node_takers(a->o.node, live, CLUSTER_NODES_MAX);
    unsigned takers = 1; /* this node */
    for (size_t i = 0; i < nl; i++) {
        bool has = false;
        for (unsigned k = 0; k < shards && !has; k++)
            has = taken[k] == live[i];
        takers += !has && live[i] != a->inc;
    }
    return (untaken + takers - 1) / takers;
}

/* Takes over a share of incarnation x's battles (steps 1-5 of adopt.h). 0 done, 1 not ours to
 * take (nothing left, or the dead node's own lease has not run out), 2 another survivor holds the
 * claim right now (taking its share: ask again shortly), -1 failed (logged; tried again at a later
 * beat). */
static int adopt_one(cluster_adopt *a, unsigned x)
{
    uint64_t t0 = clock_mono_ms();
    char jprefix[STORE_REDIS_PREFIX_MAX + 1] = "";
    unsigned shards = 0;
    uint16_t taken[CLUSTER_SHARDS_MAX];
    char dead[CLUSTER_NAME_MAX + 1];
    int open = read_rec(a, x, jprefix, &shards, taken, dead);
    if (open <= 0)
        return open < 0 ? -1 : 1;

    /* 1: the claim (fences the old owner; one survivor at a time takes its share) */
    store_redis_opts ro = {.address = a->address, .prefix = jprefix, .node = a->name,
                           .timeout_ms = a->o.timeout_ms, .lease_ms = a->o.lease_ms};
    store_redis_link *link = NULL;
    char err[256] = "";
    int rc = store_redis_link_start(&ro, &link, err, sizeof err);
    if (rc == -EBUSY || rc == -EWOULDBLOCK) {
        /* Its own lease has not run out yet (err names the dead node), or another survivor is
         * taking its share (err names that survivor): then the prefix is free again in a moment. */
        const char *by = strstr(err, "held by node ");
        return rc == -EBUSY && by && dead[0] && strcmp(by + 13, dead) != 0 ? 2 : 1;
    }
    if (rc != 0) {
        log_warn("cluster: takeover claim failed", "incarnation", LOG_U64(x), "error", err);
        return -1;
    }

    /* Under the claim, the record again: a survivor before this one may have taken shards. */
    struct segs sg;
    memset(&sg, 0, sizeof sg);
    char **names = NULL;
    uint64_t next_gen = 0;
    journal_set *set = NULL;
    int result = -1;
    uint8_t want[CLUSTER_SHARDS_MAX];
    unsigned untaken = 0, take = 0;
    open = read_rec(a, x, jprefix, &shards, taken, dead);
    if (open <= 0) {
        result = open < 0 ? -1 : 1;
        goto out;
    }
    memset(want, 0, sizeof want);
    for (unsigned k = 0; k < shards; k++)
        untaken += taken[k] == 0;
    unsigned quota = share(a, shards, taken, untaken);
    for (unsigned k = 0; k < shards && take < quota; k++)
        if (taken[k] == 0) {
            want[k] = 1;
            take++;
        }
    log_info("cluster: taking over a node's battles", "incarnation", LOG_U64(x), "prefix", jprefix,
             "epoch", LOG_U64(store_redis_link_epoch(link)), "shards", LOG_U64(take), "of",
             LOG_U64(shards), "untaken", LOG_U64(untaken));

    /* 2: read and rebuild (only the shards taken: a record that named none is one piece) */
    bool all = take == shards && untaken == shards;
    rc = store_redis_load_some(link, all ? NULL : want, shards, on_segment, &sg, &names, &next_gen,
                               err, sizeof err);
    if (rc != 0) {
        log_warn("cluster: takeover cannot read the journal", "incarnation", LOG_U64(x), "error",
                 err[0] ? err : strerror(-rc));
        goto out;
    }
    journal_load_opts lo = {.skip_damaged = true, .keep_ended = true, .warn = on_warn};
    journal_error je;
    if (journal_load_buffers((const uint8_t *const *)sg.bufs, sg.lens, (const char *const *)sg.names,
                             sg.is_log, sg.n, &lo, &set, &je) != 0) {
        log_warn("cluster: takeover cannot rebuild the journal", "incarnation", LOG_U64(x), "error",
                 je.msg);
        goto out;
    }

    /* 3: onto this node's shards, journaled here */
    uint64_t n = 0;
    char why[256] = "";
    rc = a->o.adopt(a->o.adopt_arg, set, &n, why, sizeof why);
    if (rc != 0) {
        log_warn("cluster: takeover: the shards did not take the battles", "incarnation",
                 LOG_U64(x), "error", why);
        goto out;
    }

    /* 4: players are redirected here from now on (by shard: routing follows h<k>) */
    char key[CLUSTER_NAME_MAX + 32], me[16], ttl[] = ADOPT_HOLDER_TTL_MS, nsh[16];
    snprintf(key, sizeof key, "%sinc:%u", a->prefix, x);
    snprintf(me, sizeof me, "%u", a->inc);
    snprintf(nsh, sizeof nsh, "%u", shards);
    const char **argv = calloc(7 + take, sizeof *argv);
    char(*ks)[12] = calloc(take ? take : 1, sizeof *ks);
    redisReply *r = NULL;
    if (argv && ks) {
        int argc = 0;
        argv[argc++] = "EVAL";
        argv[argc++] = SCRIPT_TAKE;
        argv[argc++] = "1";
        argv[argc++] = key;
        argv[argc++] = me;
        argv[argc++] = ttl;
        argv[argc++] = nsh;
        for (unsigned k = 0, i = 0; k < shards; k++)
            if (want[k]) {
                snprintf(ks[i], sizeof ks[i], "%u", k);
                argv[argc++] = ks[i++];
            }
        r = cmd(a, argc, argv);
    }
    free(argv);
    free(ks);
    if (!r) {
        log_warn("cluster: takeover: the holder record cannot be written", "incarnation",
                 LOG_U64(x));
        goto out;
    }
    uint64_t left = r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? (uint64_t)r->integer : 0;
    freeReplyObject(r);

    /* 5: those shards' segments go (the prefix's epoch key stays: it keeps the old owner fenced) */
    if (store_redis_retire(link, names) != 0)
        log_warn("cluster: takeover: old segments not deleted (left in Redis)", "incarnation",
                 LOG_U64(x));
    result = 0;
    uint64_t took = clock_mono_ms() - t0;
    pthread_mutex_lock(&a->mu);
    a->stats.prefixes++;
    a->stats.shards += take;
    a->stats.battles += n;
    a->stats.last_ms = took;
    pthread_mutex_unlock(&a->mu);
    log_info("cluster: took a node's battles over", "incarnation", LOG_U64(x), "shards",
             LOG_U64(take), "battles", LOG_U64(n), "shards_left", LOG_U64(left), "ms",
             LOG_U64(took));
out:
    if (set)
        journal_set_free(set);
    store_redis_names_free(names);
    segs_free(&sg);
    store_redis_link_stop(link);
    if (result < 0) {
        pthread_mutex_lock(&a->mu);
        a->stats.failures++;
        pthread_mutex_unlock(&a->mu);
    }
    return result;
}

static void *adopt_main(void *arg)
{
    cluster_adopt *a = arg;
    log_set_thread_name("adopt");
    uint16_t orphans[CLUSTER_INCS_MAX];
    for (;;) {
        size_t k = cluster_node_orphans(a->o.node, orphans, CLUSTER_INCS_MAX, a->o.heartbeat_ms);
        if (nap(a, 0))
            break;
        for (size_t i = 0; i < k; i++) {
            /* The least loaded survivor tends to claim first: wait in proportion to this node's
             * share of the busiest node's battles, at most one heartbeat. */
            uint64_t self, most;
            cluster_node_load(a->o.node, &self, &most);
            unsigned wait = most ? (unsigned)((uint64_t)a->o.heartbeat_ms * self / most) : 0;
            if (nap(a, wait) || cluster_node_fenced(a->o.node))
                break;
            /* Another survivor holds the claim while it takes its share: ask again every
             * ADOPT_RETRY_MS for up to a heartbeat, not at the next heartbeat. */
            for (unsigned waited = 0; adopt_one(a, orphans[i]) == 2 &&
                                      waited < a->o.heartbeat_ms && !nap(a, ADOPT_RETRY_MS);)
                waited += ADOPT_RETRY_MS;
        }
        if (nap(a, 0))
            break;
    }
    drop_conn(a);
    return NULL;
}

int cluster_adopt_start(const cluster_adopt_opts *o, cluster_adopt **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o->node || !o->adopt || !o->redis_address || !o->prefix || !o->name ||
        strlen(o->redis_address) > CLUSTER_NAME_MAX || strlen(o->prefix) > CLUSTER_NAME_MAX ||
        strlen(o->name) > CLUSTER_NAME_MAX || o->heartbeat_ms == 0) {
        snprintf(err, errlen, "cluster adoption: bad options");
        return -EINVAL;
    }
    cluster_adopt *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    a->o = *o;
    if (!a->o.timeout_ms)
        a->o.timeout_ms = 2000;
    if (hostport_split(o->redis_address, a->host, sizeof a->host, &a->port) != 0) {
        snprintf(err, errlen, "the Redis address must be host:port");
        free(a);
        return -EINVAL;
    }
    snprintf(a->address, sizeof a->address, "%s", o->redis_address);
    snprintf(a->prefix, sizeof a->prefix, "%s", o->prefix);
    snprintf(a->name, sizeof a->name, "%s", o->name);
    a->inc = cluster_node_incarnation(o->node);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    int rc = pthread_create(&a->thread, NULL, adopt_main, a);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the adoption thread");
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return -rc;
    }
    *out = a;
    return 0;
}

void cluster_adopt_halt(cluster_adopt *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    bool joined = a->joined;
    a->stop = true;
    a->joined = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (!joined)
        pthread_join(a->thread, NULL);
}

void cluster_adopt_stop(cluster_adopt *a)
{
    if (!a)
        return;
    cluster_adopt_halt(a);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void cluster_adopt_metrics(cluster_adopt *a, prom_out *o)
{
    cluster_adopt_stats st = cluster_adopt_get_stats(a);
    prom_counter(o, "battled_cluster_takeovers_total",
                 "Takeovers of a dead node's incarnation (or a share of its shards) by this node.",
                 st.prefixes);
    prom_counter(o, "battled_cluster_takeover_shards_total",
                 "Shards of dead nodes' incarnations this node took over.", st.shards);
    prom_counter(o, "battled_cluster_takeover_battles_total",
                 "Battles put back on this node by takeovers.", st.battles);
    prom_counter(o, "battled_cluster_takeover_failures_total",
                 "Takeovers that failed after their claim (tried again).", st.failures);
    prom_gauge(o, "battled_cluster_last_takeover_seconds",
               "How long the last takeover took, claim to release.", (double)st.last_ms / 1000.0);
}

cluster_adopt_stats cluster_adopt_get_stats(cluster_adopt *a)
{
    pthread_mutex_lock(&a->mu);
    cluster_adopt_stats s = a->stats;
    pthread_mutex_unlock(&a->mu);
    return s;
}
