/* server: the battled runtime: one network thread (libuv) in front of N shard threads.
 *
 * server_start binds the game port (server.listen; port 0 picks a free one) and, when tls.listen is
 * set, the TLS game port (and the WebSocket ports of ws.listen / ws.tls_listen, net/ws_conn.c), writes them to server.port_file (the port on the first line, the TLS port
 * on a second line when TLS is on), starts the shards, the admin HTTP listener (admin.listen, net/admin.h)
 * and the network thread, and returns. The network thread owns
 * every socket, the lobby and the connection table; shards own battles (shards/shards.h). The
 * program (app/launch.c) fills struct server_opts from its configuration; net/ never reads it.
 *
 * Shutdown is a graceful drain: server_drain (from any thread, e.g. main after sigwait) makes the
 * network thread stop accepting, refuse new battles and queue entries (server_draining), tell every
 * client that the server is going away, and send SHARD_IN_DRAIN so running battles may finish within
 * server.drain_timeout_ms and are then ended as "shutdown". Once every shard reports it has ended its
 * battles, output is flushed (bounded by SERVER_FLUSH_MS), connections are closed, the shards are
 * stopped and the network thread exits; server_wait then returns 0.
 *
 * See docs/ARCHITECTURE.md for the thread shape and docs/OPERATIONS.md for the limits. */
/* Layer: net/ API: app/ starts the server with it; the admin listener reads its state with it. */
#ifndef BATTLED_NET_SERVER_H
#define BATTLED_NET_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/ships.h"
#include "net/netstats.h"
#include "shards/shards.h"
#include "util/metrics.h"

#define SERVER_FLUSH_MS 2000        /* at the end of a drain: longest wait for output to leave */
#define SERVER_DRAIN_MARGIN_MS 5000 /* drain: wait this long past drain_timeout_ms for the shards */

#define SERVER_STRING_MAX 255 /* bytes in an address or path option, NUL excluded */
#define SERVER_REDIRECT_MAX 256 /* server_queue_redirect requests waiting for the network thread */

typedef struct server server;

/* server_opts.queue_hook's events. */
enum { SERVER_QUEUE_WAITING = 1, SERVER_QUEUE_GONE = 2 };

/* What the cluster layer reports about matchmaking across nodes (server_opts.match_counters). */
struct server_match_counters {
    uint64_t published;      /* entries of this node offered to the other nodes (first offer) */
    uint64_t matched;        /* entries of other nodes taken for a player of this node */
    uint64_t stale;          /* entries of nodes no longer alive removed from the queues */
    uint64_t events_dropped; /* queue events lost: the cluster layer's queue was full */
    uint64_t errors;         /* Redis round trips that failed */
};

/* Everything the network thread is told at start, filled by the program (app/) from its
 * configuration; net/ never reads the configuration itself. Times are milliseconds, sizes bytes;
 * ranges are the caller's to check (app/config.c's schema names each one). */
struct server_opts {
    char listen[SERVER_STRING_MAX + 1];    /* game port "host:port"; port 0 picks a free one */
    char port_file[SERVER_STRING_MAX + 1]; /* "" = don't write */
    int64_t max_connections;
    int64_t max_frame;                     /* raised to proto's PROTO_FRAME_MIN_MAX when below */
    int64_t hello_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t max_seats_per_conn;
    int64_t output_cap;                    /* unsent bytes per connection before it is cut off */
    int64_t drain_timeout_ms;
    int64_t restart_retry_ms;              /* told to clients in "restarting" */
    int64_t ring_slots;                    /* slots of each shard inbox (for /metrics' capacity) */
    int64_t turn_timer_ms;                 /* announced in welcome */
    int64_t resume_window_ms;              /* announced in welcome */
    struct {
        int64_t actions_per_sec;           /* 0 = off */
        int64_t burst;
        int64_t abuse_refusals;            /* 0 = never disconnect */
    } ratelimit;
    struct {
        char listen[SERVER_STRING_MAX + 1]; /* "" = no TLS listener */
        char cert[SERVER_STRING_MAX + 1];
        char key[SERVER_STRING_MAX + 1];
        int64_t handshake_timeout_ms;
        int64_t max_handshakes_per_pass;
    } tls;
    struct {
        char listen[SERVER_STRING_MAX + 1];    /* "" = no admin listener */
        char port_file[SERVER_STRING_MAX + 1]; /* "" = don't write */
    } admin;
    /* Per source address over every game listener (net/addrcap.h); 0 = no limit. */
    int64_t max_conns_per_addr;
    int64_t max_handshakes_per_addr;    /* connections not past hello yet */
    struct {                            /* the WebSocket listeners and the web page (net/ws.h) */
        char listen[SERVER_STRING_MAX + 1];     /* ws:// and http://, "" = off */
        char tls_listen[SERVER_STRING_MAX + 1]; /* wss:// and https:// with tls.cert/key, "" = off */
        char port_file[SERVER_STRING_MAX + 1];  /* "" = don't write */
        int64_t handshake_timeout_ms;           /* the whole HTTP request */
        char allowed_origins[SERVER_STRING_MAX + 1];
        char web_root[SERVER_STRING_MAX + 1];   /* served at / */
        char msgpack_dir[SERVER_STRING_MAX + 1]; /* served at /vendor/msgpack/ */
    } ws;
    /* The ship table, used to check ship names and shared read-only by every shard. Owned by the
     * server from the call to server_start on (freed by server_wait, or by server_start when it
     * fails); required (shards_start refuses NULL). */
    ships_table *ships;
    /* For shards_start, during server_start only (its strings need live no longer); server_start
     * sets ships, wake_net and wake_arg itself. */
    struct shards_opts shards;
    /* The admin /cluster page (docs/CLUSTER.md): writes one JSON object into buf (cap bytes) and
     * returns its length. Called on the network thread, so it must not block (the cluster layer
     * answers from a cached view). NULL: /cluster answers 404 (no cluster configured). */
    size_t (*cluster_view)(void *arg, char *buf, size_t cap);
    void *cluster_arg;
    /* Appends the cluster's families to the /metrics page (network thread; must not block).
     * NULL: none. */
    void (*cluster_metrics)(void *arg, prom_out *o);
    void *cluster_metrics_arg;
    uint64_t id_tag; /* cluster: incarnation << 47, OR'ed into every new battle id; 0: single node */
    /* Cluster routing (NULL: single node). Called on the network thread for every battle-scoped
     * request, this node's own battles too (a node that cannot confirm it still holds them serves
     * none); must not block. tls: the asking connection
     * uses TLS (then the holder's TLS game and wss addresses are wanted). Returns true when the
     * battle is served here; false with the holder's game address in addr and its WebSocket
     * address in ws (each NUL-terminated, at most 64 bytes + NUL; ws "" when none). The request is
     * then answered with `moved` (docs/PROTOCOL.md) and not routed; an empty addr gives
     * server_busy (the holder is gone and being replaced, or this node cannot serve now); an addr that `moved` cannot carry
     * (control characters) is taken as "served here" (net/idtag.h). */
    bool (*locate)(void *arg, uint64_t bid, bool tls, char addr[65], char ws[65]);
    void *locate_arg;
    /* Cluster matchmaking (docs/CLUSTER.md, "Matchmaking across nodes"; NULL: none). Called on the
     * network thread when a queue entry starts waiting (SERVER_QUEUE_WAITING: no local opponent
     * was there) and when it stops waiting (SERVER_QUEUE_GONE: matched here, cancelled, its
     * connection closed, drained); never for an entry server_queue_redirect moved, nor once the
     * server closes its handles at the end of a stop (so the cluster layer may go then). Must not
     * block: the cluster layer copies the event into a bounded queue of its own (and counts what
     * it drops). ticket is unique on this server; band 0..7. */
    void (*queue_hook)(void *arg, int what, uint8_t band, uint64_t ticket);
    /* The cluster layer's matchmaking counters, for /metrics (NULL: none shown). Network thread;
     * must not block. */
    void (*match_counters)(void *arg, struct server_match_counters *out);
    void *match_arg; /* for queue_hook and match_counters */
};

/* Starts the server for opts (copied). Returns NULL on failure, already logged (cannot bind, no
 * memory, shards cannot start). The caller ends it with server_drain + server_wait. */
server *server_start(const struct server_opts *opts);

/* Asks for a graceful drain. Thread-safe; a second call makes the drain skip its remaining waits
 * (battles still end as "shutdown", output is still flushed within SERVER_FLUSH_MS). */
void server_drain(server *s);

/* Asks for a restart: like server_drain, but every client is told "restarting" (with
 * restart_retry_ms) and the shards suspend their battles instead of ending them, so a process
 * started later on the same journal puts them back; the stop takes about SERVER_FLUSH_MS at most.
 * Only useful with persistence on (without it the battles are simply lost: the caller drains
 * instead). Thread-safe; a later server_drain or server_restart hurries whichever shutdown runs. */
void server_restart(server *s);

/* Asks the network thread to answer the queue entry `ticket` of `band` with `moved {addr, ws}`
 * (no bid; the queue's rid) and drop it: the cluster matched it with a player of the node at addr
 * (docs/PROTOCOL.md, "Clusters: `moved`"). tls_addr and wss: that node's TLS game and wss
 * addresses, named instead when the entry's connection uses TLS ("" or NULL: the plain ones). Thread-safe and non-blocking: the request waits in a
 * bounded mailbox (SERVER_REDIRECT_MAX) for the network thread. Returns false when it was not
 * taken (the mailbox is full, or the server is stopping), counted as queue_redirect_dropped; an
 * entry no longer waiting when the network thread gets to it is counted as queue_redirect_lost. */
bool server_queue_redirect(server *s, uint8_t band, uint64_t ticket, const char *addr,
                           const char *ws, const char *tls_addr, const char *wss);

/* Asks the network thread to reload what can be reloaded (SIGHUP): the TLS certificate and key
 * from the files named at start. Thread-safe; the outcome is logged. */
void server_reload(server *s);

/* Blocks until the network thread has exited, frees s, and returns the exit status: 0 after a clean
 * drain, 1 after a runtime failure. */
int server_wait(server *s);

/* The bound game port (valid after server_start). */
uint16_t server_port(const server *s);
/* The bound WebSocket port (ws.listen), 0 when off. */
uint16_t server_ws_port(const server *s);
/* The bound TLS game port (tls.listen) and wss port (ws.tls_listen), 0 when off. */
uint16_t server_tls_port(const server *s);
uint16_t server_wss_port(const server *s);

/* Whether the network thread has left its loop (any thread): server_wait will not block long. */
bool server_finished(const server *s);

/* The network thread's counters (any thread may read them; valid until server_wait returns). */
const net_stats *server_stats(const server *s);

/* The connection cap against the open-file limit and the accept-failure counters (net/fdlimit.h):
 * the admin listener counts its own accept failures there and shows them on /metrics. Network
 * thread only, except reading the counters. */
struct fdlimit *server_fdlimit(server *s);

/* ---- hooks for code that lives on the network thread (the admin endpoint) ---------------- */

struct shard_in;
struct shard_out;
struct shard_stats;

/* The network thread's loop, where other listeners (admin HTTP) may live: use it only from the
 * network thread (its callbacks) or before that thread starts. */
uv_loop_t *server_loop(server *s);
/* Number of shards, and one shard's counters (any thread; valid until server_wait returns). */
unsigned server_shard_count(const server *s);
const struct shard_stats *server_shard_stats(const server *s, unsigned k);
/* Network thread only: answers to SHARD_IN_HEARTBEAT and SHARD_IN_LIST (SHARD_OUT_HEARTBEAT,
 * SHARD_OUT_LIST_ROW, SHARD_OUT_LIST_END) are handed to fn, which must copy what it keeps. */
typedef void (*server_reply_fn)(void *arg, unsigned shard, const struct shard_out *msg);
void server_set_reply_hook(server *s, server_reply_fn fn, void *arg);
/* Network thread only: sends a control message (heartbeat, list) to shard k; never lost (queued
 * while the inbox is full). */
void server_ask_shard(server *s, unsigned k, const struct shard_in *msg);

/* ---- state the admin listener reads (network thread only unless said otherwise) --------- */

/* The drain's phases, in order; a phase never goes back. */
typedef enum {
    SERVER_RUNNING = 0,  /* accepting and playing */
    SERVER_DRAINING,     /* listeners closed, shards told to end their battles */
    SERVER_FLUSHING,     /* every shard stopped its battles: output flushing, connections closing */
    SERVER_STOPPING,     /* shards stopped, handles closing; the loop is about to end */
} server_phase;

/* The drain phase (network thread). */
server_phase server_drain_phase(const server *s);
/* Whether a drain began: new battles and queue entries are refused. */
bool server_draining(const server *s);
/* Whether the shutdown under way is a restart (battles suspended, not ended). */
bool server_restarting(const server *s);
/* Whether every game listener that should be up is (plain, and TLS when tls.listen is set). */
bool server_listeners_up(const server *s);
/* The running shards, or NULL before they start and once they are stopped. */
struct shards *server_shards(const server *s);
/* Writes "port\n" (and "tls_port\n" when tls_port is not 0) to path through path.tmp and a rename,
 * so whoever polls for the file never reads half of it; the admin listener's port file too.
 * Returns 0, or -1 / rename's result on failure. Any thread. */
int server_write_port_file(const char *path, uint16_t port, uint16_t tls_port);

#endif
