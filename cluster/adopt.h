/* adopt: this node's side of failover (docs/CLUSTER.md, "Failover"): a thread that takes over
 * the battles of nodes that stopped heartbeating.
 *
 * A dead incarnation's battles are taken over shard by shard (its shard k holds the battles with
 * shard_of(id, its shards) = k), so that they spread over the survivors. For each orphaned
 * incarnation the heartbeat reports (cluster_node_orphans), in turn:
 *   1. claim its journal prefix (store_redis_link_start under this node's name): atomic in Redis,
 *      so one survivor at a time holds it; every claim bumps the prefix's epoch, which fences the
 *      old owner should it only have been paused (its next write is refused);
 *   2. read its record again and pick this node's share of the shards nobody took yet:
 *      ceil(untaken / takers), takers being the live nodes in state ok that took none of it yet,
 *      this one included; read those shards' segments and rebuild their battles;
 *   3. hand them to the application (adopt fn: the shards put them back and journal them under
 *      this node's own prefix, durably, before it returns);
 *   4. record in Redis that this incarnation now holds those shards (h<k> in x's record, holder
 *      0), so every node redirects their players here;
 *   5. delete those shards' segments and release the prefix: the next survivor claims it and
 *      takes its share (at its next heartbeat), until no shard is left.
 * A crash between 3 and 5 leaves a battle in two prefixes; whoever adopts both keeps the first
 * copy and counts the other as a duplicate. A survivor waits a little in proportion to its own
 * share of the cluster's battles before claiming, so the least loaded tends to go first. */
#ifndef BATTLED_CLUSTER_ADOPT_H
#define BATTLED_CLUSTER_ADOPT_H

/* Layer: cluster/ API: app/ starts it after the server, with the shards behind adopt. */

#include <stddef.h>
#include <stdint.h>

#include "cluster/node.h"
#include "journal/journal.h"

typedef struct cluster_adopt cluster_adopt;

/* Puts set's battles on this node (called on the adoption thread; set stays the caller's). 0, or
 * -errno with a line in why (the prefix is then released untouched and tried again later). *n gets
 * how many battles were put back. */
typedef int (*cluster_adopt_fn)(void *arg, const journal_set *set, uint64_t *n, char *why,
                                size_t whylen);

typedef struct cluster_adopt_opts {
    cluster_node *node;
    const char *redis_address; /* host:port */
    const char *prefix;        /* cluster.prefix */
    const char *name;          /* this node's name (its claims are made under it) */
    unsigned timeout_ms;       /* one Redis round trip at most */
    unsigned heartbeat_ms;     /* how often to look for orphans */
    unsigned lease_ms;         /* the lease on a prefix while taking it over (0: the default) */
    cluster_adopt_fn adopt;
    void *adopt_arg;
} cluster_adopt_opts;

/* Counters, for /metrics. */
typedef struct cluster_adopt_stats {
    uint64_t prefixes;   /* takeovers (each of an incarnation's share of shards) */
    uint64_t shards;     /* shards of dead incarnations taken over */
    uint64_t battles;    /* battles put back from them */
    uint64_t failures;   /* takeovers that failed (retried) */
    uint64_t last_ms;    /* how long the last takeover took, claim to release */
} cluster_adopt_stats;

/* Starts the thread. Returns 0 and *out, or -errno with a line in err. */
int cluster_adopt_start(const cluster_adopt_opts *o, cluster_adopt **out, char *err, size_t errlen);

/* Stops the thread (after the takeover under way, if any); a stays readable (stats, metrics).
 * Call it before the shards stop: a takeover puts battles on them. NULL is fine; twice too. */
void cluster_adopt_halt(cluster_adopt *a);

/* Halts the thread if still running and frees a (NULL is fine). */
void cluster_adopt_stop(cluster_adopt *a);

/* Any thread. */
cluster_adopt_stats cluster_adopt_get_stats(cluster_adopt *a);

/* Appends the takeover counters to a /metrics page (docs/OPERATIONS.md). Any thread. */
struct prom_out;
void cluster_adopt_metrics(cluster_adopt *a, struct prom_out *o);

#endif
