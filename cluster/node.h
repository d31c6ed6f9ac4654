/* node: this battled's registration in a cluster of nodes sharing one Redis (docs/CLUSTER.md).
 *
 * A small thread of its own, off every serving path, writes every heartbeat_ms
 *     <prefix>node:<name>  = "<name>|<player>|<admin>|<started unix ms>|<battles>|<state>"  PX ttl_ms
 *     SADD <prefix>nodes <name>
 * and reads every registered node back into a view (names whose key expired are removed from the
 * set), which cluster_node_view hands to the admin /cluster page without touching Redis. A node
 * that stops heartbeating (killed, paused, cut off) disappears from every view within ttl_ms; a
 * clean stop deletes its key at once. Values read from Redis are checked (names and addresses:
 * letters, digits and ".:-_[]", bounded) before they are shown; others are left out and counted.
 * Redis unreachable: the view says so ("redis": "down") and keeps no stale nodes. */
#ifndef BATTLED_CLUSTER_NODE_H
#define BATTLED_CLUSTER_NODE_H

/* Layer: cluster/ API: app/ starts it; net/ reaches the view only through a server_opts hook. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_NAME_MAX 64        /* bytes of a node name or an address */
#define CLUSTER_NODES_MAX 256      /* nodes a view lists */
#define CLUSTER_VIEW_MAX (64 * 1024) /* bytes of the /cluster JSON */

typedef struct cluster_node cluster_node;

typedef struct cluster_node_opts {
    const char *redis_address;  /* host:port */
    const char *prefix;         /* cluster.prefix */
    const char *name;           /* this node's name (cluster.node) */
    const char *player_address; /* what players connect to (cluster.advertise) */
    const char *admin_address;  /* the admin endpoint (cluster.advertise_admin) */
    unsigned heartbeat_ms;      /* cluster.heartbeat_ms */
    unsigned ttl_ms;            /* cluster.ttl_ms, more than heartbeat_ms */
    unsigned timeout_ms;        /* one Redis round trip at most */
} cluster_node_opts;

/* Checks the options, registers once (so a start with Redis down fails) and starts the
 * heartbeat thread. Returns 0 and *out, or -errno with a line in err. */
int cluster_node_start(const cluster_node_opts *o, cluster_node **out, char *err, size_t errlen);

/* What this node reports about itself at each heartbeat: its live battles, and whether it is
 * degraded (its journal cannot be written). Called on the cluster thread; must only read
 * thread-safe counters. */
typedef void (*cluster_status_fn)(void *arg, uint64_t *battles, bool *degraded);

/* Sets where the heartbeat reads this node's status (fn NULL: none; reported as 0 battles, state
 * "starting"). Any thread; returns once no call of the previous fn runs, so what it reads may go
 * away afterwards. */
void cluster_node_set_status(cluster_node *n, cluster_status_fn fn, void *arg);

/* Writes the latest view as one JSON object into buf (cap bytes, NUL-terminated):
 *   {"self":"n1","redis":"up","nodes":[{"name":"n1","player":"h:7070","admin":"h:9090",
 *    "started_ms":..,"battles":n,"state":"ok|degraded|starting","self":true},...],"invalid":0}
 * Any thread. Returns the length (at most cap - 1; a view that does not fit is cut to an
 * empty node list with "truncated":true). */
size_t cluster_node_view(cluster_node *n, char *buf, size_t cap);

/* Same as cluster_node_view, with the signature of a server_opts text hook (arg: the node). */
size_t cluster_node_view_hook(void *arg, char *buf, size_t cap);

/* Deletes this node's key, stops the thread and frees n (NULL is fine). */
void cluster_node_stop(cluster_node *n);

#endif
