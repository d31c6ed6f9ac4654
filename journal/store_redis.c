/* The Redis backend of store.h (see store_redis.h for the model, keys and failure policy).
 *
 * Threads. A shard thread appends: it copies its bytes into a batch, links it at the tail of the
 * link's FIFO under the link mutex and wakes the I/O thread. The I/O thread owns the hiredis async
 * context: it sends every batch not yet sent on the current connection, in order, and pops the
 * head when its reply arrives (Redis answers a connection's commands in order). After a lost
 * connection or a transient error reply, every batch still queued is sent again from the head:
 * the append script applies a batch only when the segment's length is the batch's offset, and
 * answers "done" when it is already the offset plus the batch, so a resend never duplicates.
 * The compactor thread and the start use their own synchronous connections. */
#include "journal/store_redis.h"

#include "journal/segname.h"

#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "util/hostport.h"
#include "util/log.h"

#define SR_KEY_MAX (STORE_REDIS_PREFIX_MAX + 4 + SEGNAME_MAX)
#define SR_HOST_MAX 256

/* KEYS: epoch, files, segment. ARGV: epoch, offset, bytes, segment name. Only this process
 * writes the segment (the epoch check) and each APPEND is atomic, so the segment is always a
 * prefix of what it sent: a length at or past the batch's end means the batch landed before
 * (its reply was lost with a connection), anything else but its offset is divergence. */
static const char SCRIPT_APPEND[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED') end\n"
    "local n = redis.call('STRLEN', KEYS[3])\n"
    "local off = tonumber(ARGV[2])\n"
    "if n == off then\n"
    "  if n == 0 then redis.call('SADD', KEYS[2], ARGV[4]) end\n"
    "  return redis.call('APPEND', KEYS[3], ARGV[3])\n"
    "end\n"
    "if n >= off + string.len(ARGV[3]) then return n end\n"
    "return redis.error_reply('OFFSET ' .. n)\n";

/* KEYS: epoch, files, snapshot (or any key when ARGV[3] is ""), then the keys to delete.
 * ARGV: epoch, snapshot bytes, snapshot name or "", then the names to delete. */
static const char SCRIPT_REPLACE[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED') end\n"
    "if ARGV[3] ~= '' then\n"
    "  redis.call('SET', KEYS[3], ARGV[2])\n"
    "  redis.call('SADD', KEYS[2], ARGV[3])\n"
    "end\n"
    "for i = 4, #KEYS do\n"
    "  redis.call('DEL', KEYS[i])\n"
    "  redis.call('SREM', KEYS[2], ARGV[i])\n"
    "end\n"
    "return 1\n";

/* KEYS: owner, epoch. ARGV: node, lease ms. Returns the new epoch. */
static const char SCRIPT_CLAIM[] =
    "local o = redis.call('GET', KEYS[1])\n"
    "if o and o ~= ARGV[1] then return redis.error_reply('BUSY ' .. o) end\n"
    "local e = redis.call('INCR', KEYS[2])\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return e\n";

/* KEYS: owner, epoch. ARGV: node, lease ms, epoch. The lease is renewed (or taken back after it
 * expired: nobody claimed since, as the epoch shows). */
static const char SCRIPT_REFRESH[] =
    "if redis.call('GET', KEYS[2]) ~= ARGV[3] then return redis.error_reply('FENCED') end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 1\n";

/* KEYS: owner, epoch. ARGV: epoch. */
static const char SCRIPT_RELEASE[] =
    "if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
    "return 1\n";

typedef struct store_redis store_redis;

/* One append, queued until Redis acknowledges it. */
typedef struct sr_batch {
    struct sr_batch *next;
    store_redis *s;    /* NULL once its store closed (a reply may still be pending) */
    uint64_t queued_ms;
    char name[SEGNAME_MAX];
    char off[24];
    size_t len;
    uint8_t data[];
} sr_batch;

struct store_redis_link {
    char host[SR_HOST_MAX];
    int port;
    char prefix[STORE_REDIS_PREFIX_MAX + 1];
    char node[STORE_REDIS_NODE_MAX + 1];
    char epoch[24];
    char lease[16];
    uint64_t epoch_n;
    unsigned timeout_ms, lease_ms;
    char k_owner[SR_KEY_MAX], k_epoch[SR_KEY_MAX], k_files[SR_KEY_MAX];

    /* I/O thread only */
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t kick;
    uv_timer_t retry;
    uv_timer_t lease_timer;
    redisAsyncContext *ac;
    bool conn_bad;       /* a transient error: replies on this connection are ignored */
    uint64_t connect_ms; /* when the current connection was started */
    unsigned backoff_ms;

    _Atomic bool stopping;
    pthread_mutex_t mu;  /* guards everything below and every store's shared fields */
    pthread_cond_t up;   /* signalled on the first connection */
    sr_batch *head, *tail, *unsent;
    store_redis *stores; /* open stores, to tell them all about a change of state */
    bool connected;
    bool fenced;
    store_redis_stats st;
};

struct store_redis {
    store base;
    store_redis_link *l;
    store_redis *next; /* in l->stores */
    unsigned shard;
    uint64_t run_base;
    /* shard thread */
    uint64_t cur_gen, cur_size;
    /* under l->mu */
    uint64_t appended, acked;
    uint64_t rotated, live, cut_mark;
    uint64_t snap_gen, clean_from;
    int failed;
    pthread_cond_t cv;
    void (*notify)(void *);
    void *notify_arg;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void key_of(const store_redis_link *l, char *buf, const char *suffix)
{
    snprintf(buf, SR_KEY_MAX, "%s%s", l->prefix, suffix);
}

static void seg_key(const store_redis_link *l, char *buf, const char *name)
{
    snprintf(buf, SR_KEY_MAX, "%sseg:%s", l->prefix, name);
}

/* ---- synchronous connections (start, compaction, retire) ----------------------------------- */

static redisContext *sync_connect(const store_redis_link *l, int *rc)
{
    struct timeval tv = {.tv_sec = l->timeout_ms / 1000, .tv_usec = (l->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(l->host, l->port, tv);
    if (!c || c->err) {
        *rc = -ECONNREFUSED;
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    *rc = 0;
    return c;
}

/* Whether an error reply carries our script's tag (Redis may put "ERR " before it). */
static bool err_is(const redisReply *r, const char *tag)
{
    const char *p = r->str;
    if (strncmp(p, "ERR ", 4) == 0)
        p += 4;
    return strncmp(p, tag, strlen(tag)) == 0;
}

/* Maps an error reply to an errno: FENCED is -EPERM, BUSY -EBUSY, OFFSET -ESPIPE, the rest
 * -EIO. */
static int reply_errno(const redisReply *r)
{
    if (!r)
        return -ETIMEDOUT;
    if (r->type != REDIS_REPLY_ERROR)
        return 0;
    if (err_is(r, "FENCED"))
        return -EPERM;
    if (err_is(r, "BUSY"))
        return -EBUSY;
    if (err_is(r, "OFFSET"))
        return -ESPIPE;
    return -EIO;
}

/* Runs one command; returns the reply (caller frees) or NULL with *rc. */
static redisReply *sync_cmd(redisContext *c, int argc, const char **argv, const size_t *lens,
                            int *rc)
{
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    *rc = reply_errno(r);
    if (*rc != 0 && r) {
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/* SCRIPT_REPLACE over a synchronous connection: install snap (name NULL: none) and delete the
 * names in del[0..ndel). */
static int replace_segments(store_redis_link *l, const char *snap_name, const void *buf,
                            size_t len, char *const *del, size_t ndel)
{
    size_t argc = 9 + 2 * ndel; /* EVAL script n, 3 + ndel keys, 3 + ndel args */
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    char (*keys)[SR_KEY_MAX] = calloc(ndel + 1, sizeof *keys);
    char nkeys[24];
    int rc = -ENOMEM;
    if (!argv || !lens || !keys)
        goto out;
    snprintf(nkeys, sizeof nkeys, "%zu", 3 + ndel);
    if (snap_name)
        seg_key(l, keys[ndel], snap_name);
    else
        snprintf(keys[ndel], SR_KEY_MAX, "%s", l->k_files);
    size_t a = 0;
    argv[a++] = "EVAL";
    argv[a++] = SCRIPT_REPLACE;
    argv[a++] = nkeys;
    argv[a++] = l->k_epoch;
    argv[a++] = l->k_files;
    argv[a++] = keys[ndel];
    for (size_t i = 0; i < ndel; i++) {
        seg_key(l, keys[i], del[i]);
        argv[a++] = keys[i];
    }
    argv[a++] = l->epoch;
    lens[a] = len;
    argv[a++] = buf ? buf : "";
    argv[a++] = snap_name ? snap_name : "";
    for (size_t i = 0; i < ndel; i++)
        argv[a++] = del[i];
    for (size_t i = 0; i < a; i++)
        if (!lens[i] && argv[i] != buf)
            lens[i] = strlen(argv[i]);
    redisContext *c = sync_connect(l, &rc);
    if (c) {
        redisReply *r = sync_cmd(c, (int)a, argv, lens, &rc);
        if (r)
            freeReplyObject(r);
        redisFree(c);
    }
out:
    free(argv);
    free(lens);
    free(keys);
    return rc;
}

/* ---- hiredis on libuv ------------------------------------------------------------------------ */

/* Our own glue between hiredis's event hooks and a uv_poll_t. hiredis 0.14's libuv adapter drops
 * a poll callback that carries an error status; libuv stops the poll after reporting one (a
 * reset connection), so the connection would hang forever, never read and never closed. Here an
 * error is handed to hiredis as readable and writable, and its read or write finds the error
 * and disconnects. */
typedef struct sr_poll {
    redisAsyncContext *ac; /* NULL once hiredis let go of it */
    uv_poll_t poll;
    int events;
} sr_poll;

static void sr_poll_cb(uv_poll_t *h, int status, int events)
{
    sr_poll *p = h->data;
    if (status < 0)
        events = UV_READABLE | UV_WRITABLE;
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void sr_poll_set(sr_poll *p, int add, int del)
{
    p->events = (p->events | add) & ~del;
    if (p->events)
        uv_poll_start(&p->poll, p->events, sr_poll_cb);
    else
        uv_poll_stop(&p->poll);
}

static void sr_add_read(void *arg) { sr_poll_set(arg, UV_READABLE, 0); }
static void sr_del_read(void *arg) { sr_poll_set(arg, 0, UV_READABLE); }
static void sr_add_write(void *arg) { sr_poll_set(arg, UV_WRITABLE, 0); }
static void sr_del_write(void *arg) { sr_poll_set(arg, 0, UV_WRITABLE); }

static void sr_poll_free(uv_handle_t *h)
{
    free(h->data);
}

static void sr_cleanup(void *arg)
{
    sr_poll *p = arg;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, sr_poll_free);
}

/* Attaches ac to loop; REDIS_OK or REDIS_ERR. */
static int sr_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    sr_poll *p = calloc(1, sizeof *p);
    if (!p)
        return REDIS_ERR;
    if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    p->ac = ac;
    p->poll.data = p;
    ac->ev.data = p;
    ac->ev.addRead = sr_add_read;
    ac->ev.delRead = sr_del_read;
    ac->ev.addWrite = sr_add_write;
    ac->ev.delWrite = sr_del_write;
    ac->ev.cleanup = sr_cleanup;
    return REDIS_OK;
}

/* ---- the I/O thread ---------------------------------------------------------------------------- */

static void link_connect(store_redis_link *l);

/* Wakes the store's shard; under l->mu, so that the store cannot close meanwhile (the
 * callback only signals, it never waits). */
static void notify_locked(store_redis *s)
{
    if (s && s->notify)
        s->notify(s->notify_arg);
}

/* Wakes every store's shard (a change they all see through status()). */
static void notify_all_locked(store_redis_link *l)
{
    for (store_redis *s = l->stores; s; s = s->next)
        notify_locked(s);
}

static void on_retry(uv_timer_t *t)
{
    link_connect(t->data);
}

static void schedule_reconnect(store_redis_link *l)
{
    if (l->stopping || uv_is_active((uv_handle_t *)&l->retry))
        return;
    uv_timer_start(&l->retry, on_retry, l->backoff_ms, 0);
    l->backoff_ms = l->backoff_ms * 2 > STORE_REDIS_BACKOFF_MAX_MS ? STORE_REDIS_BACKOFF_MAX_MS
                                                                    : l->backoff_ms * 2;
}

/* Marks every store failed (the prefix was claimed by another process). */
static void fence_all_locked(store_redis_link *l)
{
    if (!l->fenced) {
        l->fenced = true;
        log_error("persistence: another process claimed the Redis prefix; this one stops writing",
                  "prefix", l->prefix, "epoch", l->epoch);
    }
    for (store_redis *s = l->stores; s; s = s->next)
        if (!s->failed) {
            s->failed = -EPERM;
            pthread_cond_broadcast(&s->cv);
        }
    notify_all_locked(l);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    store_redis_link *l = ac->data;
    redisReply *r = reply;
    sr_batch *b = priv;
    if (!r || l->conn_bad)
        return; /* lost connection or an earlier error on it: the batch is sent again later */
    int e = reply_errno(r);
    if (e != 0 && e != -EPERM && e != -ESPIPE) {
        /* Transient (loading, out of memory, ...): later replies on this connection may follow
         * a batch that was not applied, so drop the connection and send everything again. */
        pthread_mutex_lock(&l->mu);
        l->st.errors++;
        pthread_mutex_unlock(&l->mu);
        log_warn("persistence: Redis refused a journal write, reconnecting", "error", r->str);
        l->conn_bad = true;
        redisAsyncDisconnect(ac);
        return;
    }
    pthread_mutex_lock(&l->mu);
    if (l->head != b) {
        pthread_mutex_unlock(&l->mu);
        log_error("persistence: Redis reply out of order, reconnecting");
        l->conn_bad = true;
        redisAsyncDisconnect(ac);
        return;
    }
    l->head = b->next;
    if (!l->head)
        l->tail = NULL;
    store_redis *s = b->s;
    l->st.queued_bytes -= b->len;
    if (e == -EPERM) {
        l->st.fenced++;
        fence_all_locked(l);
    } else if (e != 0) {
        l->st.errors++;
        if (s && !s->failed) {
            s->failed = -EIO;
            log_error("persistence: a Redis journal segment does not match what this process wrote; "
                      "shard stops writing",
                      "segment", b->name, "error", r->str);
        }
    } else if (s) {
        l->st.batches++;
        s->acked += b->len;
        l->backoff_ms = STORE_REDIS_BACKOFF_MIN_MS; /* reset by progress, not by a connection */
    }
    if (s) {
        pthread_cond_broadcast(&s->cv);
        notify_locked(s);
    }
    pthread_mutex_unlock(&l->mu);
    free(b);
}

/* Sends every batch not yet sent on this connection. */
static void send_pending(store_redis_link *l)
{
    if (!l->ac || l->conn_bad)
        return;
    pthread_mutex_lock(&l->mu);
    /* Not before on_connect: it starts sending from the head, and a batch sent twice on one
     * connection would get two replies for one place in the FIFO. */
    for (sr_batch *b = l->connected ? l->unsent : NULL; b; b = b->next) {
        char seg[SR_KEY_MAX];
        seg_key(l, seg, b->name);
        const char *argv[] = {"EVAL", SCRIPT_APPEND, "3", l->k_epoch, l->k_files, seg,
                              l->epoch, b->off, (const char *)b->data, b->name};
        size_t lens[10];
        for (int i = 0; i < 10; i++)
            lens[i] = i == 8 ? b->len : strlen(argv[i]); /* argv[8] is binary */
        if (redisAsyncCommandArgv(l->ac, on_reply, b, 10, argv, lens) != REDIS_OK)
            break; /* disconnecting: sent again after the reconnection */
        l->unsent = b->next;
    }
    pthread_mutex_unlock(&l->mu);
}

static void on_refresh(redisAsyncContext *ac, void *reply, void *priv)
{
    store_redis_link *l = ac->data;
    redisReply *r = reply;
    if (!r || reply_errno(r) != -EPERM)
        return;
    pthread_mutex_lock(&l->mu);
    l->st.fenced++;
    fence_all_locked(l);
    pthread_mutex_unlock(&l->mu);
}

static void send_refresh(store_redis_link *l)
{
    if (!l->ac || l->conn_bad)
        return;
    const char *argv[] = {"EVAL", SCRIPT_REFRESH, "2", l->k_owner, l->k_epoch,
                          l->node, l->lease, l->epoch};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    redisAsyncCommandArgv(l->ac, on_refresh, NULL, 8, argv, lens);
}

/* A connection that neither answers nor fails (a half-open TCP connection after a partition, a
 * connect that never completes) would leave the journal degraded for good: past
 * STORE_REDIS_STUCK_FACTOR timeouts without progress it is dropped and made again. */
static void watchdog(store_redis_link *l)
{
    if (!l->ac)
        return;
    uint64_t now = mono_ms(), limit = (uint64_t)l->timeout_ms * STORE_REDIS_STUCK_FACTOR;
    pthread_mutex_lock(&l->mu);
    bool stuck = l->connected ? l->head && l->head != l->unsent && now - l->head->queued_ms > limit
                              : now - l->connect_ms > limit;
    bool connected = l->connected;
    pthread_mutex_unlock(&l->mu);
    if (!stuck)
        return;
    log_warn("persistence: Redis connection stuck, making a new one", "address", l->host);
    redisAsyncContext *ac = l->ac;
    l->ac = NULL;
    redisAsyncFree(ac); /* a connected context gets on_disconnect, which reconnects */
    if (!connected)
        schedule_reconnect(l);
}

static void on_lease(uv_timer_t *t)
{
    watchdog(t->data);
    send_refresh(t->data);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    store_redis_link *l = ac->data;
    if (status != REDIS_OK) {
        l->ac = NULL; /* hiredis frees it */
        schedule_reconnect(l);
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->connected = true;
    l->st.connects++;
    l->st.connected = 1;
    for (sr_batch *b = l->head; b; b = b->next)
        l->st.resent++;
    l->unsent = l->head;
    notify_all_locked(l);
    pthread_cond_broadcast(&l->up);
    pthread_mutex_unlock(&l->mu);
    if (l->st.connects > 1)
        log_info("persistence: Redis connection back", "address", l->host);
    send_refresh(l); /* first: a lease that expired meanwhile is taken back, or we learn we lost it */
    send_pending(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    store_redis_link *l = ac->data;
    l->ac = NULL;
    l->conn_bad = false;
    pthread_mutex_lock(&l->mu);
    bool was = l->connected;
    l->connected = false;
    l->st.connected = 0;
    if (was)
        l->st.disconnects++;
    l->unsent = l->head;
    notify_all_locked(l); /* their status() changed */
    pthread_mutex_unlock(&l->mu);
    if (was && !l->stopping)
        log_warn("persistence: Redis connection lost, reconnecting", "address", l->host, "error",
                 ac->errstr ? ac->errstr : "");
    schedule_reconnect(l);
}

static void link_connect(store_redis_link *l)
{
    if (l->stopping || l->ac)
        return;
    redisAsyncContext *ac = redisAsyncConnect(l->host, l->port);
    if (!ac) {
        schedule_reconnect(l);
        return;
    }
    if (ac->err) {
        redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    ac->data = l;
    if (sr_attach(ac, &l->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    l->ac = ac;
    l->connect_ms = mono_ms();
}

static void on_kick(uv_async_t *a)
{
    store_redis_link *l = a->data;
    if (!l->stopping) {
        send_pending(l);
        return;
    }
    if (l->ac) {
        redisAsyncContext *ac = l->ac;
        l->ac = NULL;
        redisAsyncFree(ac); /* pending callbacks get NULL; on_disconnect may run */
    }
    uv_close((uv_handle_t *)&l->kick, NULL);
    uv_close((uv_handle_t *)&l->retry, NULL);
    uv_close((uv_handle_t *)&l->lease_timer, NULL);
}

static void *link_main(void *arg)
{
    store_redis_link *l = arg;
    log_set_thread_name("redis-io");
    uv_run(&l->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- the store ops -------------------------------------------------------------------------- */

/* Why the store cannot take writes normally now, or 0 (under l->mu). */
static int health_locked(const store_redis *s)
{
    const store_redis_link *l = s->l;
    if (s->failed)
        return s->failed;
    if (!l->connected)
        return -ENOTCONN;
    if (l->head && mono_ms() - l->head->queued_ms > l->timeout_ms)
        return -ETIMEDOUT;
    return 0;
}

static int sr_append(store *st, const void *buf, size_t len)
{
    store_redis *s = (store_redis *)st;
    store_redis_link *l = s->l;
    pthread_mutex_lock(&l->mu);
    int rc = health_locked(s);
    if (rc == -ETIMEDOUT)
        rc = 0; /* slow, not refused: the batch queues (bounded below) */
    if (rc == 0 && s->appended - s->acked + len > STORE_REDIS_INFLIGHT_MAX)
        rc = -ENOBUFS;
    pthread_mutex_unlock(&l->mu);
    if (rc != 0)
        return rc;
    sr_batch *b = malloc(sizeof *b + len);
    if (!b)
        return -ENOMEM;
    b->next = NULL;
    b->s = s;
    b->queued_ms = mono_ms();
    b->len = len;
    segname_log(b->name, s->shard, s->cur_gen);
    snprintf(b->off, sizeof b->off, "%" PRIu64, s->cur_size);
    memcpy(b->data, buf, len);
    s->cur_size += len;
    pthread_mutex_lock(&l->mu);
    if (l->tail)
        l->tail->next = b;
    else
        l->head = b;
    l->tail = b;
    if (!l->unsent)
        l->unsent = b;
    s->appended += len;
    s->live = s->cur_size;
    l->st.queued_bytes += len;
    pthread_mutex_unlock(&l->mu);
    uv_async_send(&l->kick);
    return 0;
}

/* Waits (on cv, under mu) until acked reaches target or the store fails; 0 or -errno. */
static int wait_acked_locked(store_redis *s, uint64_t target)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += s->l->timeout_ms / 1000;
    dl.tv_nsec += (long)(s->l->timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    while (s->acked < target && !s->failed)
        if (pthread_cond_timedwait(&s->cv, &s->l->mu, &dl) == ETIMEDOUT)
            return s->acked < target ? -ETIMEDOUT : 0;
    return s->failed;
}

/* Waits until everything appended so far is acknowledged, up to the link's timeout. */
static int sr_sync(store *st)
{
    store_redis *s = (store_redis *)st;
    pthread_mutex_lock(&s->l->mu);
    int rc = wait_acked_locked(s, s->appended);
    pthread_mutex_unlock(&s->l->mu);
    return rc;
}

static uint64_t sr_log_bytes(store *st)
{
    store_redis *s = (store_redis *)st;
    pthread_mutex_lock(&s->l->mu);
    uint64_t n = s->rotated + s->live;
    pthread_mutex_unlock(&s->l->mu);
    return n;
}

static int sr_rotate(store *st, store_cut *cut)
{
    store_redis *s = (store_redis *)st;
    pthread_mutex_lock(&s->l->mu);
    int rc = s->failed;
    if (rc == 0) {
        s->cur_gen++;
        s->rotated += s->cur_size;
        s->live = 0;
        s->cut_mark = s->appended;
        cut->base = s->run_base;
        cut->gen = s->cur_gen;
        cut->bytes = s->rotated;
        s->cur_size = 0;
    }
    pthread_mutex_unlock(&s->l->mu);
    return rc;
}

/* GETs one segment into a malloc'ed buffer (a missing key is an empty segment). */
static int get_segment(redisContext *c, const store_redis_link *l, const char *name,
                       uint8_t **out, size_t *len)
{
    char key[SR_KEY_MAX];
    seg_key(l, key, name);
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, strlen(key)};
    int rc;
    redisReply *r = sync_cmd(c, 2, argv, lens, &rc);
    if (!r)
        return rc;
    size_t n = r->type == REDIS_REPLY_STRING ? r->len : 0;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        freeReplyObject(r);
        return -ENOMEM;
    }
    if (n)
        memcpy(buf, r->str, n);
    freeReplyObject(r);
    *out = buf;
    *len = n;
    return 0;
}

static int feed(redisContext *c, const store_redis_link *l, const char *name, bool is_log,
                store_segment_fn fn, void *ctx)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = get_segment(c, l, name, &data, &len);
    return rc != 0 ? rc : fn(ctx, name, data, len, is_log);
}

static int sr_read_cut(store *st, const store_cut *cut, store_segment_fn fn, void *ctx)
{
    store_redis *s = (store_redis *)st;
    store_redis_link *l = s->l;
    /* Every append before the cut must have landed before its segment is read. */
    pthread_mutex_lock(&l->mu);
    int rc = wait_acked_locked(s, s->cut_mark);
    uint64_t snap = s->snap_gen;
    pthread_mutex_unlock(&l->mu);
    if (rc != 0)
        return rc;
    redisContext *c = sync_connect(l, &rc);
    if (!c)
        return rc;
    char name[SEGNAME_MAX];
    uint64_t from = s->run_base;
    if (snap) {
        segname_snap(name, s->shard, s->run_base, snap, false);
        rc = feed(c, l, name, false, fn, ctx);
        from = snap;
    }
    for (uint64_t g = from; rc == 0 && g < cut->gen; g++) {
        segname_log(name, s->shard, g);
        rc = feed(c, l, name, true, fn, ctx);
    }
    redisFree(c);
    return rc;
}

static int sr_install_snapshot(store *st, const store_cut *cut, const void *buf, size_t len)
{
    store_redis *s = (store_redis *)st;
    store_redis_link *l = s->l;
    store_cut first = {.base = s->run_base, .gen = s->run_base, .bytes = 0};
    if (!cut)
        cut = &first;
    char snap[SEGNAME_MAX];
    segname_snap(snap, s->shard, cut->base, cut->gen, false);
    pthread_mutex_lock(&l->mu);
    uint64_t old_snap = s->snap_gen, from = s->clean_from;
    pthread_mutex_unlock(&l->mu);
    /* What the snapshot supersedes: this run's log segments before the cut, and its snapshot. */
    size_t ndel = (size_t)(cut->gen - from) + (old_snap ? 1 : 0);
    char **del = calloc(ndel + 1, sizeof *del);
    char *names = calloc(ndel + 1, SEGNAME_MAX);
    int rc = -ENOMEM;
    if (del && names) {
        size_t i = 0;
        for (uint64_t g = from; g < cut->gen; g++, i++) {
            del[i] = names + i * SEGNAME_MAX;
            segname_log(del[i], s->shard, g);
        }
        if (old_snap) {
            del[i] = names + i * SEGNAME_MAX;
            segname_snap(del[i], s->shard, s->run_base, old_snap, false);
        }
        rc = replace_segments(l, snap, buf, len, del, ndel);
    }
    free(del);
    free(names);
    if (rc == 0) {
        pthread_mutex_lock(&l->mu);
        s->snap_gen = cut->gen;
        s->clean_from = cut->gen;
        s->rotated = s->rotated >= cut->bytes ? s->rotated - cut->bytes : 0;
        pthread_mutex_unlock(&l->mu);
    } else if (rc == -EPERM) {
        pthread_mutex_lock(&l->mu);
        fence_all_locked(l);
        pthread_mutex_unlock(&l->mu);
    }
    return rc;
}

static void sr_close(store *st)
{
    store_redis *s = (store_redis *)st;
    if (!s)
        return;
    store_redis_link *l = s->l;
    pthread_mutex_lock(&l->mu);
    /* Sent batches may still get a reply: they stay, orphaned. Unsent ones go now. */
    sr_batch **pp = &l->head, *prev = NULL;
    bool in_unsent = false;
    while (*pp) {
        sr_batch *b = *pp;
        if (b == l->unsent)
            in_unsent = true;
        if (b->s != s) {
            prev = b;
            pp = &b->next;
            continue;
        }
        if (!in_unsent) {
            b->s = NULL;
            prev = b;
            pp = &b->next;
            continue;
        }
        *pp = b->next;
        if (l->unsent == b)
            l->unsent = b->next;
        if (l->tail == b)
            l->tail = prev;
        l->st.queued_bytes -= b->len;
        free(b);
    }
    for (store_redis **sp = &l->stores; *sp; sp = &(*sp)->next)
        if (*sp == s) {
            *sp = s->next;
            break;
        }
    pthread_mutex_unlock(&l->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static uint64_t sr_acked(store *st)
{
    store_redis *s = (store_redis *)st;
    pthread_mutex_lock(&s->l->mu);
    uint64_t n = s->acked;
    pthread_mutex_unlock(&s->l->mu);
    return n;
}

static int sr_status(store *st)
{
    store_redis *s = (store_redis *)st;
    store_redis_link *l = s->l;
    pthread_mutex_lock(&l->mu);
    int rc = health_locked(s);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static void sr_set_notify(store *st, void (*fn)(void *), void *arg)
{
    store_redis *s = (store_redis *)st;
    pthread_mutex_lock(&s->l->mu);
    s->notify = fn;
    s->notify_arg = arg;
    pthread_mutex_unlock(&s->l->mu);
}

static const store_ops store_redis_ops = {
    .append = sr_append,
    .sync = sr_sync,
    .log_bytes = sr_log_bytes,
    .rotate = sr_rotate,
    .read_cut = sr_read_cut,
    .install_snapshot = sr_install_snapshot,
    .close = sr_close,
    .acked = sr_acked,
    .status = sr_status,
    .set_notify = sr_set_notify,
};

/* ---- listing ----------------------------------------------------------------------------------- */

/* SMEMBERS P files into a NULL-terminated malloc'ed array. */
static int list_names(redisContext *c, const store_redis_link *l, char ***out, size_t *count)
{
    const char *argv[] = {"SMEMBERS", l->k_files};
    size_t lens[] = {8, strlen(l->k_files)};
    int rc;
    redisReply *r = sync_cmd(c, 2, argv, lens, &rc);
    if (!r)
        return rc;
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    char **names = calloc(n + 1, sizeof *names);
    rc = names ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            !(names[i] = strndup(r->element[i]->str, r->element[i]->len)))
            rc = -ENOMEM;
    freeReplyObject(r);
    if (rc != 0) {
        for (size_t i = 0; names && i < n; i++)
            free(names[i]);
        free(names);
        return rc;
    }
    *out = names;
    *count = n;
    return 0;
}

void store_redis_names_free(char **names)
{
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

int store_redis_load(store_redis_link *l, store_segment_fn fn, void *ctx, char ***names_out,
                     uint64_t *next_gen, char *err, size_t errlen)
{
    return store_redis_load_some(l, NULL, 0, fn, ctx, names_out, next_gen, err, errlen);
}

/* Whether shard k is wanted (want NULL: every one). */
static bool shard_wanted(unsigned k, const uint8_t *want, unsigned nwant)
{
    return !want || (k < nwant && want[k]);
}

int store_redis_load_some(store_redis_link *l, const uint8_t *want, unsigned nwant,
                          store_segment_fn fn, void *ctx, char ***names_out, uint64_t *next_gen,
                          char *err, size_t errlen)
{
    *names_out = NULL;
    *next_gen = 1;
    int rc;
    redisContext *c = sync_connect(l, &rc);
    if (!c) {
        snprintf(err, errlen, "redis %s:%d: cannot connect", l->host, l->port);
        return rc;
    }
    char **names = NULL;
    size_t n = 0;
    rc = list_names(c, l, &names, &n);
    segname *es = rc == 0 ? calloc(n ? n : 1, sizeof *es) : NULL;
    if (rc == 0 && !es)
        rc = -ENOMEM;
    if (rc != 0) {
        snprintf(err, errlen, "redis %s:%d: cannot list %sfiles: %s", l->host, l->port, l->prefix,
                 strerror(-rc));
        store_redis_names_free(names);
        redisFree(c);
        return rc;
    }
    uint64_t top;
    size_t m = segname_order(names, n, es, &top);
    for (size_t i = 0; rc == 0 && i < m; i++) {
        if (es[i].superseded || !shard_wanted(es[i].shard, want, nwant))
            continue;
        rc = feed(c, l, es[i].name, es[i].is_log, fn, ctx);
        if (rc != 0 && rc != -ECANCELED)
            snprintf(err, errlen, "redis %sseg:%s: %s", l->prefix, es[i].name, strerror(-rc));
    }
    free(es);
    redisFree(c);
    if (rc != 0) {
        store_redis_names_free(names);
        return rc;
    }
    if (want) { /* only the wanted shards' names: what the caller may retire */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            segname e;
            if (segname_parse(names[i], &e) && shard_wanted(e.shard, want, nwant))
                names[k++] = names[i];
            else
                free(names[i]);
        }
        names[k] = NULL;
    }
    *names_out = names;
    *next_gen = top + 1;
    return 0;
}

int store_redis_retire(store_redis_link *l, char *const *names)
{
    size_t n = 0;
    while (names && names[n])
        n++;
    return n ? replace_segments(l, NULL, NULL, 0, names, n) : 0;
}

int store_redis_open(store_redis_link *l, unsigned shard, uint64_t gen, store **out)
{
    *out = NULL;
    if (gen == 0) {
        int rc;
        redisContext *c = sync_connect(l, &rc);
        if (!c)
            return rc;
        char **names = NULL;
        size_t n = 0;
        rc = list_names(c, l, &names, &n);
        redisFree(c);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            segname e;
            if (segname_parse(names[i], &e) && e.gen > gen)
                gen = e.gen;
        }
        store_redis_names_free(names);
        gen++;
    }
    store_redis *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->base.ops = &store_redis_ops;
    s->l = l;
    s->shard = shard;
    s->run_base = s->cur_gen = s->clean_from = gen;
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_lock(&l->mu);
    s->next = l->stores;
    l->stores = s;
    pthread_mutex_unlock(&l->mu);
    *out = &s->base;
    return 0;
}

/* ---- the link ---------------------------------------------------------------------------------- */


static int claim(store_redis_link *l, char *err, size_t errlen)
{
    int rc;
    redisContext *c = sync_connect(l, &rc);
    if (!c) {
        snprintf(err, errlen, "redis %s:%d: cannot connect", l->host, l->port);
        return rc;
    }
    const char *argv[] = {"EVAL", SCRIPT_CLAIM, "2", l->k_owner, l->k_epoch, l->node, l->lease};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = redisCommandArgv(c, 7, argv, lens);
    rc = reply_errno(r);
    if (rc == 0 && r->type != REDIS_REPLY_INTEGER)
        rc = -EIO;
    if (rc == 0) {
        l->epoch_n = (uint64_t)r->integer;
        snprintf(l->epoch, sizeof l->epoch, "%" PRIu64, l->epoch_n);
    } else if (rc == -EBUSY) {
        const char *who = strstr(r->str, "BUSY ");
        snprintf(err, errlen, "redis prefix %s is held by node %s", l->prefix, who ? who + 5 : "?");
    } else {
        snprintf(err, errlen, "redis %s:%d: claim failed: %s", l->host, l->port,
                 r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

int store_redis_link_start(const store_redis_opts *o, store_redis_link **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    store_redis_link *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = (hostport_split(o->address, l->host, sizeof l->host, &l->port) == 0 ? 0 : -EINVAL);
    if (rc != 0) {
        snprintf(err, errlen, "persistence.redis_address must be host:port");
        free(l);
        return rc;
    }
    if (!o->prefix || strlen(o->prefix) > STORE_REDIS_PREFIX_MAX) {
        snprintf(err, errlen, "persistence.redis_prefix is longer than %d bytes",
                 STORE_REDIS_PREFIX_MAX);
        free(l);
        return -EINVAL;
    }
    snprintf(l->prefix, sizeof l->prefix, "%s", o->prefix);
    if (o->node && *o->node)
        snprintf(l->node, sizeof l->node, "%s", o->node);
    else if (gethostname(l->node, sizeof l->node - 1) != 0)
        snprintf(l->node, sizeof l->node, "battled");
    l->timeout_ms = o->timeout_ms ? o->timeout_ms : STORE_REDIS_TIMEOUT_DEFAULT_MS;
    l->lease_ms = o->lease_ms ? o->lease_ms : STORE_REDIS_LEASE_MS;
    snprintf(l->lease, sizeof l->lease, "%u", l->lease_ms);
    key_of(l, l->k_owner, "owner");
    key_of(l, l->k_epoch, "epoch");
    key_of(l, l->k_files, "files");
    l->backoff_ms = STORE_REDIS_BACKOFF_MIN_MS;
    if ((rc = claim(l, err, errlen)) != 0) {
        free(l);
        return rc;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->up, NULL);
    uv_loop_init(&l->loop);
    uv_async_init(&l->loop, &l->kick, on_kick);
    uv_timer_init(&l->loop, &l->retry);
    uv_timer_init(&l->loop, &l->lease_timer);
    l->kick.data = l->retry.data = l->lease_timer.data = l;
    uv_timer_start(&l->lease_timer, on_lease, l->lease_ms / 3, l->lease_ms / 3);
    link_connect(l);
    if ((rc = -pthread_create(&l->thread, NULL, link_main, l)) != 0) {
        snprintf(err, errlen, "cannot start the Redis I/O thread");
        l->stopping = true;
        on_kick(&l->kick);
        uv_run(&l->loop, UV_RUN_DEFAULT);
        uv_loop_close(&l->loop);
        pthread_cond_destroy(&l->up);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return rc;
    }
    /* The claim showed Redis answers: wait (bounded) for the I/O connection too, so the first
     * battles are not refused only because it was still being set up. */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += l->timeout_ms / 1000 + 1;
    pthread_mutex_lock(&l->mu);
    while (!l->connected)
        if (pthread_cond_timedwait(&l->up, &l->mu, &dl) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&l->mu);
    *out = l;
    return 0;
}

void store_redis_link_stop(store_redis_link *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    bool fenced = l->fenced;
    pthread_mutex_unlock(&l->mu);
    uv_async_send(&l->kick);
    pthread_join(l->thread, NULL);
    uv_loop_close(&l->loop);
    if (!fenced) {
        int rc;
        redisContext *c = sync_connect(l, &rc);
        if (c) {
            const char *argv[] = {"EVAL", SCRIPT_RELEASE, "2", l->k_owner, l->k_epoch, l->epoch};
            size_t lens[6];
            for (int i = 0; i < 6; i++)
                lens[i] = strlen(argv[i]);
            redisReply *r = redisCommandArgv(c, 6, argv, lens);
            if (r)
                freeReplyObject(r);
            redisFree(c);
        }
    }
    while (l->head) {
        sr_batch *b = l->head;
        l->head = b->next;
        free(b);
    }
    pthread_cond_destroy(&l->up);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

uint64_t store_redis_link_epoch(const store_redis_link *l)
{
    return l->epoch_n;
}

store_redis_stats store_redis_link_stats(store_redis_link *l)
{
    pthread_mutex_lock(&l->mu);
    store_redis_stats s = l->st;
    pthread_mutex_unlock(&l->mu);
    return s;
}

/* ---- the backend table (store.h) ------------------------------------------------------------ */

/* A process claims one Redis location (lock) and everything else the table does at start goes
 * through that claim's link: the link is process state, the table passes only "where". */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static store_redis_link *g_link;
static char g_where[STORE_REDIS_WHERE_MAX];

int store_redis_where(char *buf, size_t n, const store_redis_opts *o)
{
    const char *fields[] = {o->address ? o->address : "", o->prefix ? o->prefix : "",
                            o->node ? o->node : ""};
    for (size_t i = 0; i < 3; i++)
        if (strchr(fields[i], '|'))
            return -EINVAL;
    int w = snprintf(buf, n, "%s|%s|%s|%u|%u", fields[0], fields[1], fields[2], o->timeout_ms,
                     o->lease_ms);
    return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

/* Splits where into o, pointing into buf (n bytes). 0 or -EINVAL. */
static int parse_where(const char *where, store_redis_opts *o, char *buf, size_t n)
{
    if (!where || strlen(where) >= n)
        return -EINVAL;
    snprintf(buf, n, "%s", where);
    char *f[5] = {NULL};
    char *p = buf;
    for (int i = 0; i < 5 && p; i++) {
        f[i] = p;
        p = strchr(p, '|');
        if (i < 3 && !p)
            return -EINVAL;
        if (p)
            *p++ = '\0';
    }
    if (p) /* a sixth field */
        return -EINVAL;
    char *end;
    unsigned long t = strtoul(f[3], &end, 10);
    if (*end || t > 600000)
        return -EINVAL;
    unsigned long lease = 0;
    if (f[4]) {
        lease = strtoul(f[4], &end, 10);
        if (*end || lease > 600000)
            return -EINVAL;
    }
    *o = (store_redis_opts){.address = f[0], .prefix = f[1], .node = f[2],
                            .timeout_ms = (unsigned)t, .lease_ms = (unsigned)lease};
    char host[SR_HOST_MAX];
    int port;
    return hostport_split(o->address, host, sizeof host, &port) == 0 ? 0 : -EINVAL;
}

static int rb_prepare(const char *where)
{
    char buf[STORE_REDIS_WHERE_MAX];
    store_redis_opts o;
    return parse_where(where, &o, buf, sizeof buf);
}

static int rb_lock(const char *where, store_lock **out)
{
    char buf[STORE_REDIS_WHERE_MAX], err[256];
    store_redis_opts o;
    int rc = parse_where(where, &o, buf, sizeof buf);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&g_mu);
    if (g_link) {
        pthread_mutex_unlock(&g_mu);
        return -EWOULDBLOCK;
    }
    store_redis_link *l = NULL;
    rc = store_redis_link_start(&o, &l, err, sizeof err);
    if (rc == 0) {
        g_link = l;
        snprintf(g_where, sizeof g_where, "%s", where);
        *out = (store_lock *)l;
    } else {
        log_error("persistence: Redis location cannot be claimed", "error", err);
        if (rc == -EBUSY)
            rc = -EWOULDBLOCK;
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

static void rb_unlock(store_lock *lk)
{
    store_redis_link *l = (store_redis_link *)lk;
    if (!l)
        return;
    pthread_mutex_lock(&g_mu);
    if (g_link == l)
        g_link = NULL;
    pthread_mutex_unlock(&g_mu);
    store_redis_link_stop(l);
}

/* The link lock() made for where, or NULL. */
static store_redis_link *link_for(const char *where)
{
    pthread_mutex_lock(&g_mu);
    store_redis_link *l = g_link && where && strcmp(g_where, where) == 0 ? g_link : NULL;
    pthread_mutex_unlock(&g_mu);
    return l;
}

static int rb_load(const char *where, store_segment_fn fn, void *ctx, char ***names_out,
                   uint64_t *next_gen, char *err, size_t errlen)
{
    store_redis_link *l = link_for(where);
    if (!l) {
        snprintf(err, errlen, "redis: load before lock");
        return -ENOLCK;
    }
    return store_redis_load(l, fn, ctx, names_out, next_gen, err, errlen);
}

static int rb_retire(const char *where, char *const *names)
{
    store_redis_link *l = link_for(where);
    return l ? store_redis_retire(l, names) : -ENOLCK;
}

static int rb_open(const char *where, unsigned shard, uint64_t gen, store **out)
{
    store_redis_link *l = link_for(where);
    return l ? store_redis_open(l, shard, gen, out) : -ENOLCK;
}

const store_backend store_redis_backend = {
    .name = "redis",
    .prepare = rb_prepare,
    .lock = rb_lock,
    .unlock = rb_unlock,
    .load = rb_load,
    .retire = rb_retire,
    .names_free = store_redis_names_free,
    .open = rb_open,
};
