/* store_redis: the Redis backend of store.h, so a shard's journal lives in a Redis server (any
 * Redis-compatible one, 6 or later) that several boxes can reach, instead of local files.
 *
 * One link per process (store_redis_link) owns a connection and a small I/O thread running
 * hiredis's async API on its own libuv loop. A shard's append only copies its pass's bytes into a
 * bounded queue and wakes that thread (never a blocking call on the shard's path); the thread
 * sends each queued batch as one script call, pipelined with every other shard's, and reports the
 * acknowledgement back (acked(), then the notify callback). Blocking work that is rare (load,
 * claim, compaction's read and snapshot install, retire) uses short-lived synchronous connections
 * with a timeout, from the thread that asks.
 *
 * Keys (P = persistence.redis_prefix; docs/CLUSTER.md has the full table):
 *   P owner                        the node name holding this prefix; expires (lease) unless
 *                                  refreshed by the I/O thread every lease/3
 *   P epoch                        fencing counter, incremented by every claim; never expires
 *   P files                        SET of the segment names below (listing without SCAN)
 *   P seg:shard-<k>-<gen>.log      STRING, appended records: the same bytes as the file backend
 *   P seg:shard-<k>-<base>-<gen>.snap   STRING, a snapshot replacing shard k's [base, gen)
 * Every write is a Lua script that first compares P epoch with the epoch this process claimed
 * (fencing: a process that lost the prefix can no longer write), and an append also compares the
 * segment's length with the offset the batch was cut at, so a batch sent again after a lost reply
 * is applied exactly once. A snapshot install (SET the snapshot, DEL what it supersedes) is one
 * script, so Redis applies it atomically.
 *
 * Unavailable or slow Redis: append fails with -ENOTCONN while disconnected and -ENOBUFS when the
 * store's unacknowledged bytes would pass STORE_REDIS_INFLIGHT_MAX; the journal then keeps the
 * records in its own buffer, is degraded (new battles refused, readiness 503) and retries once a
 * second (journal.h). status() is -ENOTCONN / -ETIMEDOUT (the oldest unacknowledged batch is older
 * than the timeout) meanwhile; a connection without a reply for STORE_REDIS_STUCK_FACTOR timeouts
 * (checked every third of the lease) is dropped and made again. Batches already queued are sent again, in order, after every
 * reconnection; reconnection backs off from STORE_REDIS_BACKOFF_MIN_MS to _MAX_MS. A fenced
 * store (another process claimed the prefix) or one whose segment no longer matches fails for
 * good with -EPERM / -EIO. */
#ifndef BATTLED_JOURNAL_STORE_REDIS_H
#define BATTLED_JOURNAL_STORE_REDIS_H

/* Layer: journal/ API (the backend table entry and, for tests, the link). */

#include <stddef.h>
#include <stdint.h>

#include "journal/store.h"

#define STORE_REDIS_INFLIGHT_MAX (16u << 20) /* unacknowledged bytes per store */
#define STORE_REDIS_TIMEOUT_DEFAULT_MS 2000  /* a reply later than this: Redis counts as slow */
#define STORE_REDIS_LEASE_MS 10000           /* owner key lifetime; refreshed every third of it */
#define STORE_REDIS_BACKOFF_MIN_MS 50        /* first reconnection delay, doubled each failure */
#define STORE_REDIS_BACKOFF_MAX_MS 2000
#define STORE_REDIS_STUCK_FACTOR 5           /* timeouts without a reply: the connection is remade */
#define STORE_REDIS_PREFIX_MAX 64            /* bytes of a key prefix */
#define STORE_REDIS_NODE_MAX 64              /* bytes of a node name */
#define STORE_REDIS_WHERE_MAX 512            /* bytes of a location string */

typedef struct store_redis_link store_redis_link;

/* The backend table entry, "redis" (journal/store.c lists it). Its location string ("where", what
 * persistence.dir is for files) is "address|prefix|node|timeout_ms|lease_ms" (lease_ms optional),
 * made by store_redis_where.
 * lock claims the location for this process (one per process: a second lock gets -EWOULDBLOCK,
 * as does a prefix another live node holds) and starts the link; load, retire and open use that
 * link (-ENOLCK before lock); unlock releases the prefix and stops the link, after every store
 * is closed. */
extern const store_backend store_redis_backend;

typedef struct store_redis_opts { /* (persistence.redis_* in config.toml) */
    const char *address; /* "host:port" (persistence.redis_address) */
    const char *prefix;  /* key prefix (persistence.redis_prefix) */
    const char *node;    /* this process's name in P owner; NULL or "": the host name */
    unsigned timeout_ms; /* 0: STORE_REDIS_TIMEOUT_DEFAULT_MS */
    unsigned lease_ms;   /* 0: STORE_REDIS_LEASE_MS */
} store_redis_opts;

/* Writes o's location string for store_redis_backend into buf (n bytes). 0, -EINVAL when a
 * field holds '|', or -ENAMETOOLONG. */
int store_redis_where(char *buf, size_t n, const struct store_redis_opts *o);

/* Connects, claims the prefix (P owner absent or already this node's name: a restart of the
 * same node takes over at once; another live node's name: -EBUSY, its name in err) with a new
 * epoch, and starts the I/O thread. Returns 0 and *out, or -errno with a line in err. The caller
 * stops it with store_redis_link_stop after closing every store opened on it. */
int store_redis_link_start(const store_redis_opts *o, store_redis_link **out, char *err,
                           size_t errlen);

/* Releases the prefix (P owner deleted if this process still holds it), stops the I/O thread and
 * frees the link. Batches still unacknowledged are dropped (journal_close waited for them). */
void store_redis_link_stop(store_redis_link *l);

/* The epoch this link claimed. */
uint64_t store_redis_link_epoch(const store_redis_link *l);

/* Counters of the link, for metrics. */
typedef struct store_redis_stats {
    uint64_t connects;      /* successful connections, the first included */
    uint64_t disconnects;   /* connections lost or closed after an error */
    uint64_t batches;       /* batches acknowledged */
    uint64_t resent;        /* batches sent again after a reconnection */
    uint64_t errors;        /* error replies */
    uint64_t fenced;        /* writes refused because another process claimed the prefix */
    uint64_t queued_bytes;  /* unacknowledged bytes, every store */
    int connected;
} store_redis_stats;
store_redis_stats store_redis_link_stats(store_redis_link *l);

/* Lists the prefix's segments for recovery, as store_file_load does for a directory: every
 * segment no snapshot supersedes, in replay order (generation, snapshot before log, shard), fed
 * to fn; *names_out gets every segment name found (for store_redis_retire; free it with
 * store_redis_names_free) and *next_gen one above the highest generation. Returns 0, -errno or
 * fn's value (err names the segment on an I/O error). */
int store_redis_load(store_redis_link *l, store_segment_fn fn, void *ctx, char ***names_out,
                     uint64_t *next_gen, char *err, size_t errlen);

/* Same as store_redis_load for the segments of the shards k with k < nwant and want[k] != 0 only
 * (want NULL: every shard); *names_out then holds only their names. A survivor taking over some
 * of a dead node's shards reads no more than those (cluster/adopt.c). */
int store_redis_load_some(store_redis_link *l, const uint8_t *want, unsigned nwant,
                          store_segment_fn fn, void *ctx, char ***names_out, uint64_t *next_gen,
                          char *err, size_t errlen);

/* Frees a names array from store_redis_load (NULL is fine). */
void store_redis_names_free(char **names);

/* Deletes the named segments (fenced like every write). Returns 0 or -errno. */
int store_redis_retire(store_redis_link *l, char *const *names);

/* Opens shard k's store on the link, its first log segment at generation gen (0: one above the
 * highest in Redis). Returns 0 and *out (closed through its ops), or -errno. */
int store_redis_open(store_redis_link *l, unsigned shard, uint64_t gen, store **out);

#endif
