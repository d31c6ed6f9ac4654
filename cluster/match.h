/* match: matchmaking across the cluster's nodes (docs/CLUSTER.md, "Matchmaking across nodes").
 *
 * The network thread's lobby pairs two players of the same band on one node at once, without
 * Redis. A queue entry still waiting after match_delay_ms is offered to the other nodes from a
 * thread of this module (one synchronous hiredis connection; never on a serving path): one Lua
 * script on the band's list <prefix>queue:<band> atomically either takes the OLDEST entry of
 * another live node (first come, first served across the cluster) or appends this node's entry
 * "<incarnation>|<ticket>|<unix ms>", removing on the way entries of nodes no longer alive. When it
 * takes another node's entry, this node's player is told `moved` to that node (the network thread
 * does it, through the redirect function), queues there and is paired by that node's lobby with
 * the player who waited. An offered entry is offered again every refresh_ms while it waits (so one
 * taken by a node whose player never came is put back), and withdrawn (LREM) when it stops waiting.
 *
 * The network thread reaches this module only through cluster_match_hook, which copies the event
 * into a bounded queue (CLUSTER_MATCH_EVENTS; a full queue drops it, counted). */
#ifndef BATTLED_CLUSTER_MATCH_H
#define BATTLED_CLUSTER_MATCH_H

/* Layer: cluster/ API: app/ starts it and wires it to the server's queue hooks. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/node.h"

#define CLUSTER_MATCH_EVENTS 4096   /* queue events waiting for the match thread, at most */
#define CLUSTER_MATCH_LOCAL 1024    /* entries of this node the thread tracks, at most */
#define CLUSTER_MATCH_SCAN 64       /* entries a band's list holds (and one script reads), at most */
#define CLUSTER_MATCH_KEEP_MS 3600000 /* a band list unused this long expires */
#define CLUSTER_MATCH_BANDS 8

/* cluster_match_hook's events (the same numbers as the server's SERVER_QUEUE_*). */
enum { CLUSTER_MATCH_WAITING = 1, CLUSTER_MATCH_GONE = 2 };

typedef struct cluster_match cluster_match;

/* Tells the network thread to answer this node's entry `ticket` of `band` with `moved` naming the
 * node at addr (ws: its WebSocket address, "" for none; tls_addr, wss: its TLS ones, for a TLS
 * client). Called on the match thread; must not block. Returns false when the request was not
 * taken. */
typedef bool (*cluster_redirect_fn)(void *arg, uint8_t band, uint64_t ticket, const char *addr,
                                    const char *ws, const char *tls_addr, const char *wss);

typedef struct cluster_match_opts {
    cluster_node *node;        /* the live incarnations and their addresses */
    const char *redis_address; /* host:port */
    const char *prefix;        /* cluster.prefix */
    unsigned timeout_ms;       /* one Redis round trip at most */
    unsigned delay_ms;         /* cluster.match_delay_ms: local wait before an entry is offered */
    unsigned refresh_ms;       /* an offered entry is offered again this often (heartbeat_ms) */
} cluster_match_opts;

typedef struct cluster_match_stats {
    uint64_t published;      /* entries offered to the other nodes (first offer) */
    uint64_t matched;        /* entries of other nodes taken for a player of this node */
    uint64_t stale;          /* entries of nodes no longer alive removed */
    uint64_t events_dropped; /* hook events lost: the event queue or the entry table was full */
    uint64_t errors;         /* Redis round trips that failed */
} cluster_match_stats;

/* Allocates the module (no thread, no Redis yet), so that the server can be given its hook before
 * it starts. Returns 0 and *out, or -errno with a line in err. */
int cluster_match_create(const cluster_match_opts *o, cluster_match **out, char *err,
                         size_t errlen);

/* Starts the thread; redirect(arg, ...) is how it moves this node's players. Events the hook took
 * before are handled then. 0 or -errno. */
int cluster_match_start(cluster_match *m, cluster_redirect_fn redirect, void *arg);

/* server_opts.queue_hook (arg: the module): what is CLUSTER_MATCH_WAITING or _GONE. Any thread;
 * never blocks for long (a mutex held only to copy an event). */
void cluster_match_hook(void *arg, int what, uint8_t band, uint64_t ticket);

/* The counters (any thread). */
void cluster_match_stats_get(cluster_match *m, cluster_match_stats *out);

/* Stops the thread (after the server stopped calling the hook and the redirect target is about to
 * go), withdraws every entry of this node still offered, and frees m (NULL is fine). */
void cluster_match_stop(cluster_match *m);

#endif
