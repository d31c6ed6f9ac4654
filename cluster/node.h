/* node: this battled's registration in a cluster of nodes sharing one Redis (docs/CLUSTER.md).
 *
 * At start a node takes a new incarnation number x (INCR <prefix>inc; 1..65535): its battle ids
 * carry x in bits 47..62 and it journals under its own Redis prefix (persistence.redis_prefix +
 * "i<x>:"). <prefix>inc:<x> (a hash: node, prefix, shards, holder, h<k>...) records who holds x's
 * battles: holder = x while x holds them itself; once survivors start taking them over
 * (adopt.h) holder = 0 and h<k> names the incarnation holding the battles of x's shard k (k =
 * shard_of(id, shards)), absent while nobody has taken that shard yet. <prefix>incs lists them.
 *
 * A small thread of its own, off every serving path, every heartbeat_ms:
 *   - checks that this incarnation still holds its own battles (else it was fenced: stop);
 *   - writes <prefix>node:<name> =
 *         "<name>|<player>|<admin>|<started ms>|<battles>|<state>|<x>|<ws>|<tls>|<wss>"
 *     PX ttl_ms and SADD <prefix>nodes <name>;
 *   - reads every registered node back into a view (names whose key expired are removed from the
 *     set), which cluster_node_view hands to the admin /cluster page without touching Redis;
 *   - reads every incarnation's holder into a table the network thread routes by
 *     (cluster_node_locate), and lists the incarnations whose node is gone (orphans, adopt.h).
 * A node that stops heartbeating (killed, paused, cut off) disappears from every view within
 * ttl_ms; a clean stop deletes its key at once. Values read from Redis are checked (names and
 * addresses: letters, digits and ".:-_[]", bounded) before they are shown; others are left out
 * and counted. Redis unreachable: the view says so ("redis": "down") and keeps no stale nodes. */
#ifndef BATTLED_CLUSTER_NODE_H
#define BATTLED_CLUSTER_NODE_H

/* Layer: cluster/ API: app/ starts it; net/ reaches the view only through a server_opts hook. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_NAME_MAX 64        /* bytes of a node name or an address */
#define CLUSTER_NODES_MAX 256      /* nodes a view lists */
#define CLUSTER_VIEW_MAX (64 * 1024) /* bytes of the /cluster JSON */
#define CLUSTER_INC_MAX 65535u       /* incarnation numbers are 1..this (16 bits of a battle id) */
#define CLUSTER_INC_SHIFT 47         /* a battle id's bits 47..62 hold its incarnation */
#define CLUSTER_INCS_MAX 4096        /* incarnations a view reads holders for, at most */
#define CLUSTER_SHARDS_MAX 1024      /* shards an incarnation record may name (server.shards: 256) */
#define CLUSTER_ROUTE_DEPTH 16       /* holders a lookup follows (x -> its shard's taker -> ...) */

typedef struct cluster_node cluster_node;

typedef struct cluster_node_opts {
    const char *redis_address;  /* host:port */
    const char *prefix;         /* cluster.prefix */
    const char *name;           /* this node's name (cluster.node) */
    const char *player_address; /* what players connect to (cluster.advertise) */
    const char *admin_address;  /* the admin endpoint (cluster.advertise_admin) */
    const char *ws_address;     /* the WebSocket endpoint (cluster.advertise_ws); NULL or "": none */
    const char *tls_address;    /* the TLS game endpoint (cluster.advertise_tls); NULL or "": none */
    const char *wss_address;    /* the wss:// endpoint (cluster.advertise_wss); NULL or "": none */
    const char *journal_prefix; /* persistence.redis_prefix: this incarnation's journal prefix is
                                 * this + "i<incarnation>:" (cluster_node_journal_prefix) */
    unsigned shards;            /* this node's shard count (1..CLUSTER_SHARDS_MAX): survivors
                                 * take its battles over shard by shard */
    unsigned heartbeat_ms;      /* cluster.heartbeat_ms */
    unsigned ttl_ms;            /* cluster.ttl_ms, more than heartbeat_ms */
    unsigned timeout_ms;        /* one Redis round trip at most */
} cluster_node_opts;

/* Checks the options, registers once (so a start with Redis down fails) and starts the
 * heartbeat thread. Takes a new incarnation first (cluster_node_incarnation). Returns 0 and *out,
 * or -errno with a line in err. */
int cluster_node_start(const cluster_node_opts *o, cluster_node **out, char *err, size_t errlen);

/* This process's incarnation (1..CLUSTER_INC_MAX), taken at cluster_node_start: a new one at
 * every start, so that the battles of an earlier life of the same node are adopted (from their own
 * journal prefix) rather than mixed with new ones. Any thread. */
unsigned cluster_node_incarnation(const cluster_node *n);

/* The Redis key prefix this incarnation journals under (persistence.redis_prefix + "i<n>:"),
 * NUL-terminated in buf (cap bytes). Returns its length, 0 when it does not fit. */
size_t cluster_node_journal_prefix(const cluster_node *n, char *buf, size_t cap);

/* Where battle bid is served (network thread, every battle-scoped request; reads a table the
 * heartbeat fills, never Redis). First, this node serves nothing while cluster_node_serving is
 * false (addr "": server_busy). Then it follows the holders from the
 * id's incarnation: a split one's shard shard_of(bid, its shards) names the next, at most
 * CLUSTER_ROUTE_DEPTH steps, until a live holder. Returns true when this node holds
 * it (or nobody is known to: the shard then answers no_such_battle); false with the holder's game
 * and WebSocket addresses in addr and ws (its TLS game and wss addresses when tls: the asking
 * connection uses TLS; ws "" when it has none), or with addr "" when its holder
 * is not alive (the battle is being taken over: try again shortly). */
bool cluster_node_locate(void *arg, uint64_t bid, bool tls, char addr[CLUSTER_NAME_MAX + 1],
                         char ws[CLUSTER_NAME_MAX + 1]);

/* Whether this node may serve its battles now: it is not fenced, and a heartbeat less than 1.5 x
 * ttl_ms ago found it still holds them. No other node can have taken them over before 2 x ttl_ms
 * after that heartbeat (its key must expire, then be seen missing for ttl_ms), so a node that was
 * paused or cut off from Redis past that stops serving (its requests get server_busy) until a
 * heartbeat confirms it again, and a node that wakes from a pause serves nothing before its
 * heartbeat tells it whether it was fenced. Any thread; never touches Redis. */
bool cluster_node_serving(cluster_node *n);

/* The game and WebSocket addresses of the live node with incarnation inc (its TLS game and wss
 * addresses when tls; a node without a TLS port gives its plain one), from the latest view
 * (ws "" when it has none). Returns false (addr "") when no live node has it, or it has not told
 * its bound port yet. Any thread; never touches Redis. */
bool cluster_node_address(cluster_node *n, unsigned inc, bool tls, char addr[CLUSTER_NAME_MAX + 1],
                          char ws[CLUSTER_NAME_MAX + 1]);

/* The incarnations of the live nodes (this one included once it registered), from the latest
 * view, into out (at most cap). Returns how many; 0 while Redis is unreachable. Any thread. */
size_t cluster_node_live(cluster_node *n, uint16_t *out, size_t cap);

/* Like cluster_node_live, only the nodes that take battles over: state "ok" (not starting,
 * stopping or degraded). Any thread. */
size_t cluster_node_takers(cluster_node *n, uint16_t *out, size_t cap);

/* Replaces the advertised game, WebSocket, TLS game and wss addresses (once the server knows the
 * ports it bound; "" = none; NULL leaves one as it is). Values that are not host:port-like are
 * ignored. Any thread. */
void cluster_node_set_addresses(cluster_node *n, const char *player, const char *ws,
                                const char *tls, const char *wss);

/* Called once, on the cluster thread, when this node finds that another node took its battles
 * over (its incarnation's holder is no longer itself: it was paused or cut off past its lease).
 * From then on it must neither serve nor write them: the application stops at once, telling
 * clients to reconnect. */
typedef void (*cluster_fenced_fn)(void *arg);
void cluster_node_set_fenced(cluster_node *n, cluster_fenced_fn fn, void *arg);

/* The incarnations ready to be taken over (see docs/CLUSTER.md, "Failover"), as the latest
 * heartbeat found them, into out (at most cap). wait_ms > 0: first waits up to that long for the
 * next heartbeat. Returns how many; 0 once this node is fenced or stopping. Any thread. */
size_t cluster_node_orphans(cluster_node *n, uint16_t *out, size_t cap, unsigned wait_ms);

/* This node's live battles and the most any live node reported, from the latest view. */
void cluster_node_load(cluster_node *n, uint64_t *self, uint64_t *most);

/* Appends this node's cluster families to a /metrics page (docs/OPERATIONS.md): incarnation, Redis
 * reachable, fenced, live nodes, orphans, and each live node's battles (label node). Any thread. */
struct prom_out;
void cluster_node_metrics(cluster_node *n, struct prom_out *o);

/* Whether another node took this node's battles over (see cluster_fenced_fn). */
bool cluster_node_fenced(cluster_node *n);

/* What this node reports about itself at each heartbeat: its live battles, and whether it is
 * degraded (its journal cannot be written). Called on the cluster thread; must only read
 * thread-safe counters. */
typedef void (*cluster_status_fn)(void *arg, uint64_t *battles, bool *degraded);

/* Sets where the heartbeat reads this node's status (fn NULL: none; reported as 0 battles, state
 * "starting"). Any thread; returns once no call of the previous fn runs, so what it reads may go
 * away afterwards. */
void cluster_node_set_status(cluster_node *n, cluster_status_fn fn, void *arg);

/* The node is stopping: the heartbeat stops calling the status function (returns once no call of
 * it runs, so what it reads may go away) and reports state "stopping" from now on. Any thread. */
void cluster_node_set_stopping(cluster_node *n);

/* Writes the latest view as one JSON object into buf (cap bytes, NUL-terminated):
 *   {"self":"n1","redis":"up","nodes":[{"name":"n1","player":"h:7070","admin":"h:9090",
 *    "started_ms":..,"battles":n,"state":"ok|degraded|starting|stopping","self":true},...],"invalid":0}
 * Any thread. Returns the length (at most cap - 1; a view that does not fit is cut to an
 * empty node list with "truncated":true). */
size_t cluster_node_view(cluster_node *n, char *buf, size_t cap);

/* Same as cluster_node_view, with the signature of a server_opts text hook (arg: the node). */
size_t cluster_node_view_hook(void *arg, char *buf, size_t cap);

/* Stops the thread, marks this incarnation released (call it after the server stopped: its
 * journal is complete, so others take its battles over at once) and deletes this node's key,
 * unless it was fenced; frees n (NULL is fine). */
void cluster_node_stop(cluster_node *n);

#endif
