/* net_int: what the network thread's files (server.c, dispatch.c, drain.c, conn.c, conn_tls.c,
 * route.c) share. net/ internal: nothing outside net/ includes it (the admin files use server.h;
 * test_it_admin_probe, a white-box test, is the one exception). Network thread only. */
/* Layer: net/ internal. */
#ifndef BATTLED_NET_NET_INT_H
#define BATTLED_NET_NET_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/ships.h"
#include "net/addrcap.h"
#include "net/conntab.h"
#include "net/fdlimit.h"
#include "net/tls.h"
#include "net/lobby.h"
#include "net/netstats.h"
#include "net/outq.h"
#include "net/ratelimit.h"
#include "net/server.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "shards/shards.h"
#include "util/fifo.h"

#define NET_READ_BUF (64u * 1024)  /* one shared read buffer: every read is processed before the next */
#define NET_WRITE_BUFS 8           /* chunks handed to one write */
#define NET_OUT_SPARE 4096         /* spare output chunks kept in the pool (16 MiB) */
#define NET_CLOSE_LINGER_MS 2000   /* a closing connection may flush this long */
#define NET_REPLY_MAX 512          /* frames the network thread encodes itself (welcome, errors) */
#define NET_ID_BATCH 32            /* battle ids drawn from getrandom at a time */
#define NET_LAG_PERIOD_MS 250      /* loop-lag probe period */
#define NET_TLS_PLAIN 16384        /* plaintext taken from TLS per call (one record at most) */
#define NET_LISTEN_BACKLOG 4096    /* pending connections the kernel may hold per listener */
#define NET_CTL_FIRST_CAP 64       /* control queue entries allocated when one first parks */

enum conn_state {
    CONN_HELLO = 0, /* waiting for hello */
    CONN_OPEN,      /* hello done */
    CONN_CLOSING,   /* no more input; flushing output, then uv_close */
    CONN_CLOSED,    /* uv_close called; waiting for its callback */
    CONN_FREED,     /* closed while on the flush list: conn_flush_dirty frees the struct */
};

/* Timeout lists: TLS handshake (tls.handshake_timeout_ms), waiting for hello, open (idle), closing,
 * and the WebSocket listeners' HTTP request (ws.handshake_timeout_ms). */
enum conn_list_id { LIST_NONE = 0, LIST_TLS, LIST_HELLO, LIST_IDLE, LIST_CLOSING, LIST_WS, LIST_COUNT };

/* Where a connection stands in its source address's counts (net/addrcap.h). */
enum conn_addr_state { CONN_ADDR_NONE = 0, CONN_ADDR_HANDSHAKE, CONN_ADDR_OPEN };

typedef struct conn conn;

/* One battle where the connection holds places (seats or spectator), from SHARD_OUT_SEAT. */
typedef struct {
    uint64_t bid;
    uint32_t count;
} conn_seat;

struct conn {
    uv_tcp_t tcp; /* tcp.data = this */
    server *srv;
    conn_id id;   /* 0 for a refused connection (never in the table) */
    uint8_t state;
    uint8_t list;           /* which timeout list holds it */
    uint8_t close_reason;
    bool reading;           /* uv_read_start in effect */
    bool paused;            /* reads stopped: a shard inbox was full */
    bool writing;           /* a uv_write is in flight */
    bool dirty;             /* on the flush list */
    uint64_t last_ms;       /* last frame (or accept) time, for the timeout lists */
    conn *lprev, *lnext;    /* timeout list links */
    conn *dnext;            /* flush list link */
    conn *pprev, *pnext;    /* a shard's paused list */
    frame_reader fr;
    ratelimit_bucket rl;
    lobby_entry *lobby;     /* this connection's queue entries */
    uint32_t nqueued;
    uint32_t nplaces;       /* seats + spectator places, summed over `seats` */
    conn_seat *seats;
    uint32_t nseats, seats_cap;
    /* Overload: the message that found its shard's inbox full, and the input behind it. */
    struct shard_in *pending;
    unsigned pending_shard;
    uint8_t *stash;
    uint32_t stash_len, stash_off;
    outq out;
    size_t wbytes;          /* bytes in the write in flight */
    uv_write_t wreq;
    /* TLS (NULL on the plain listener). Ciphertext read while handshakes were over the per-pass
     * cap waits in cstash; the connection is then on the server's deferred list. */
    tls_conn *tls;
    uint8_t *cstash;
    uint32_t cstash_len;
    bool hs_deferred;
    conn *hnext;
    /* WebSocket (NULL on the native listeners): net/ws_conn.c. */
    struct ws_conn *ws;
    addrcap_key addr;
    uint8_t addr_state;     /* an enum conn_addr_state */
};

struct server {
    struct server_opts opts; /* as given to server_start (max_frame raised to the floor) */
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    uv_tcp_t tls_listener;
    bool tls_listening;
    tls_ctx *tls;
    unsigned hs_pass;       /* handshake steps this loop pass (tls.max_handshakes_per_pass) */
    conn *hs_head, *hs_tail; /* connections whose handshake input waits for the next pass */
    uint8_t pbuf[NET_TLS_PLAIN];
    uv_async_t wake;        /* shards -> net */
    uv_async_t drain_async; /* main -> net */
    uv_async_t reload_async; /* main -> net (SIGHUP) */
    uv_async_t redir_async; /* cluster -> net: queue entries to redirect (lobby_remote.c) */
    /* server_queue_redirect's mailbox: filled by any thread, emptied by the network thread. */
    pthread_mutex_t redir_mu;
    bool redir_open;        /* redir_async may be signalled (set at start, cleared before close) */
    unsigned nredir;
    struct net_redirect {
        uint64_t ticket;
        uint8_t band;
        char addr[PROTO_ADDR_MAX + 1], ws[PROTO_ADDR_MAX + 1];
        char tls_addr[PROTO_ADDR_MAX + 1], wss[PROTO_ADDR_MAX + 1];
    } redir[SERVER_REDIRECT_MAX];
    uv_prepare_t prepare;   /* once per loop pass: flush output, wake shards, resume paused conns */
    uv_timer_t sweep;       /* timeout lists */
    uv_timer_t lag;         /* loop-lag probe */
    uv_timer_t drain_timer; /* drain deadlines */
    uint64_t lag_expect_ns;
    uint16_t port;
    uint16_t tls_port;      /* 0 without TLS */
    uv_idle_t hs_idle;      /* active while deferred handshakes wait */
    struct ws_server *ws;   /* the WebSocket listeners and page files (net/ws_conn.c), or NULL */
    addrcap addrs;          /* connections and handshakes per source address */
    bool listening;
    int exit_code;

    struct shards *shards;
    unsigned nshards;
    server_reply_fn reply_fn; /* admin hook for heartbeat and listing answers */
    struct admin *admin;      /* the admin listener (net/admin.h); NULL when admin.listen is "" */
    void *reply_arg;
    ships_table *ships;
    conntab conns;
    lobby lobby;
    outq_pool pool;
    net_stats stats;
    ratelimit_cfg rl;
    uint64_t timeout_ms[LIST_COUNT];
    conn *lhead[LIST_COUNT], *ltail[LIST_COUNT];
    conn *dirty;            /* flush list */
    conn **paused;          /* per shard: connections waiting for its inbox */
    /* Per shard: a FIFO of control messages (struct shard_in) the network thread could not push yet
     * and must not lose (connection gone, drain, admin asks); bounded by the connections and shards
     * that can produce them. */
    fifo *ctl;
    unsigned npaused;       /* connections paused in all */
    uint8_t *kdirty;        /* per shard: pushed to since the last prepare (for wakeups_sent) */
    unsigned conn_objs;     /* connection structs alive, closing ones included */
    fdlimit fdl;            /* the connection cap against the open-file limit (net/fdlimit.h) */
    uint8_t rbuf[NET_READ_BUF];
    uint64_t ids[NET_ID_BATCH];
    unsigned nids;

    /* drain */
    _Atomic int drain_requests; /* set by server_drain/server_restart from any thread */
    _Atomic bool want_restart;  /* server_restart: the first request suspends instead of ending */
    _Atomic int reload_requests; /* server_reload from any thread (SIGHUP) */
    bool restarting;            /* this shutdown is a restart (battles suspended, not ended) */
    _Atomic int finished;       /* the network thread left its loop */
    server_phase drain_phase;   /* read through server_drain_phase outside drain.c */
    unsigned stopped;           /* shards that reported SHARD_OUT_STOPPED */
};

/* Lifetime rule for everything below: no function that takes a `conn *c` frees c. Closing (conn_close,
 * and every function that says "may close c") only starts uv_close; the struct is freed later, from
 * the close callback or from the walk of a list it is still on (conn_flush_dirty, conn_tls_pass),
 * never while a caller up the stack holds c. So c may be used on return, but it may be closing:
 * callers that go on feeding it check c->state (>= CONN_CLOSING: stop). */

/* conn.c */
/* Accepts one connection from the plain or TLS listener (refusing it past max_connections). */
void conn_accept(server *s, bool tls);
/* Accepts a connection from listener l: TLS when tls, WebSocket (HTTP first) when ws. Returns the
 * new connection, or NULL when none was made or it was refused (and is closing). */
conn *conn_accept_on(server *s, uv_stream_t *l, bool tls, bool ws);
/* The connection finished its handshake (hello accepted): its address's handshake count drops.
 * Never closes c. */
void conn_established(conn *c);
/* While c is paused: keeps data[0..len) to be fed again when reads resume. May close c (no
 * memory); not freed. */
void conn_stash_rest(conn *c, const uint8_t *data, size_t len);
/* Reads resume for c (after a pause or a deferred handshake). May close c (read error); not freed. */
void conn_read_start(conn *c);
/* Appends bytes already in wire form to c's output, cutting c off past output_cap. May close c;
 * not freed. */
void conn_out_append(conn *c, const void *bytes, size_t len);
/* Plaintext for c's frame reader: processed now, or kept behind the stash while c is paused. May
 * close c (bad stream, policy, no memory); not freed. */
void conn_deliver(conn *c, const uint8_t *data, size_t len);
/* Frees c's struct once its close callback ran, unless a singly linked list (flush list, deferred
 * handshakes) still holds it: that list's walk frees it then. The one function that frees c. */
void conn_free_struct(conn *c);
/* Queues a complete frame for c (copied). Cuts c off when its unsent output passes output_cap. May
 * close c; not freed. */
void conn_send(conn *c, const void *frame, size_t len);
/* Starts closing c. flush: let queued output leave first (bounded by NET_CLOSE_LINGER_MS). c is not
 * freed on return (its close callback frees it in a later loop phase). */
void conn_close(conn *c, net_close_reason why, bool flush);
/* A frame (or WebSocket message) arrived: c's idle or hello deadline starts again. Never closes c. */
void conn_touch(conn *c);
/* Moves c to the tail of timeout list `list` (LIST_NONE: off every list). Never closes c. */
void conn_set_list(conn *c, enum conn_list_id list);
/* Once per loop pass: writes every connection with new output; frees those closed meanwhile
 * (CONN_FREED) that were waiting on the flush list. */
void conn_flush_dirty(server *s);
/* Closes connections past their timeout list's deadline (freed later, by their close callbacks). */
void conn_sweep(server *s);
/* Once per loop pass: re-pushes the parked message of paused connections whose inbox has room and
 * feeds their stashed input; may close some of them (freed later). */
void conn_resume_paused(server *s);
/* Records a seat or spectator place gained (delta > 0) or lost for battle bid. May close c (no
 * memory); not freed. */
void conn_seat_change(conn *c, uint64_t bid, int delta);
/* Parks msg (shard k's inbox was full) on c and stops reading c until conn_resume_paused. May close
 * c (no memory); not freed. */
void conn_pause(conn *c, unsigned k, const struct shard_in *msg);

/* conn_tls.c */
/* Ciphertext read from c's socket: handshake, decrypt, deliver. May close c; not freed. */
void conn_tls_input(conn *c, const uint8_t *data, size_t len);
/* Encrypts a frame into c's output. May close c; not freed. */
void conn_tls_send(conn *c, const void *frame, size_t len);
/* Queues close_notify before a graceful close. Never closes c itself. */
void conn_tls_close_notify(conn *c);
/* Once per loop pass: resets the handshake budget and feeds deferred handshakes; frees deferred
 * connections that were closed meanwhile. */
void conn_tls_pass(server *s);

/* ws_conn.c: the WebSocket listeners (ws.listen, ws.tls_listen) and their connections. */
/* Creates the listeners and reads the page files. 0, or -1 (logged). */
int ws_server_start(server *s);
/* Closes the listeners (drain); connections stay. */
void ws_server_stop_listening(server *s);
/* True when every configured WebSocket listener is listening (for /readyz). */
bool ws_server_listening(const server *s);
void ws_server_free(server *s);
uint16_t ws_server_port(const server *s);
uint16_t ws_server_tls_port(const server *s);
/* True when l is one of the WebSocket listeners; it then accepted the connection waiting on it. */
bool ws_server_accept(server *s, uv_stream_t *l);
/* Sets up WebSocket state on a new connection (HTTP request first). false: out of memory. */
bool ws_conn_new(conn *c);
void ws_conn_free(conn *c);
/* Plaintext from c's socket (after TLS): HTTP before the upgrade, frames after. */
void ws_conn_input(conn *c, const uint8_t *data, size_t len);
/* Frames for c (one or more, each with its length prefix): one binary message each. */
void ws_conn_send(conn *c, const uint8_t *frames, size_t len);
/* c is closing with flush: a close frame with the code for why (once). */
void ws_conn_closing(conn *c, net_close_reason why);
/* c's request did not arrive within ws.handshake_timeout_ms: 408, then closing. */
void ws_conn_timeout(conn *c);
/* The list a connection joins once its TLS handshake is done (LIST_WS or LIST_HELLO). */
enum conn_list_id ws_conn_after_tls(const conn *c);
/* A refused connection on a WebSocket listener (clear text): an HTTP 503 response. */
void ws_conn_refuse(conn *c, const char *why);

/* route.c */
/* Handles one decoded-or-not frame body. Returns false when the connection must stop processing
 * input for now (paused on a full inbox, or closing). May close c; not freed. */
bool route_frame(conn *c, const uint8_t *body, uint32_t len);
/* Encodes and queues an error reply. May close c (output cap); not freed. */
/* Encodes and queues an event the network thread sends itself (welcome, pong, restarting). */
void route_event(conn *c, const proto_event *ev);
void route_error(conn *c, proto_error code, const char *msg, bool has_rid, uint32_t rid, uint64_t bid);

/* server.c */
/* Binds and listens on hostport ("host:port") with the game listeners' accept callback; *port gets
 * the bound port. 0 or a libuv error. */
int server_listen(server *s, uv_tcp_t *t, const char *hostport, uint16_t *port);
uint64_t server_new_battle_id(server *s);
/* Calls fn for every connection in the table (not those already closing). fn may close c. */
void server_each_conn(server *s, void (*fn)(conn *c, void *arg), void *arg);
/* Closes every handle on the loop (the admin listener, every connection, listeners, timers) so the
 * loop can end; connections are freed through their close callbacks. */
void server_close_all(server *s);

/* dispatch.c */
/* Queues msg for shard k, never losing it (ctl queue when the inbox is full; lost only when no
 * memory is left to park it, counted as ctl_lost). */
void server_push_ctl(server *s, unsigned k, const struct shard_in *msg);
/* Marks shard k as pushed to this pass, so the uv_prepare callback wakes it once. */
void server_mark_pushed(server *s, unsigned k);
/* Once per loop pass: pushes parked control messages, in order, while the inboxes take them. */
void dispatch_ctl_flush(server *s);
/* The shards' wakeup (s->wake): drains every shard's outbox. */
void dispatch_on_wake(uv_async_t *h);
/* Drains every shard's outbox (a budget each; re-signals s->wake when one stops on it). */
void dispatch_drain_outboxes(server *s);
/* Once per loop pass, after the pass's writes: runs sleeping shards' messages here when few
 * (shards_run_inline), drains and writes their replies, wakes every other shard pushed to. */
void dispatch_to_shards(server *s);
/* shards_opts.wake_net: any shard thread; signals s->wake. */
void dispatch_wake_net(void *arg);

/* lobby_remote.c: the lobby's side of cluster matchmaking (server_opts.queue_hook,
 * server_queue_redirect). */
/* Tells the cluster layer that e started waiting. */
void lobby_remote_waiting(server *s, const lobby_entry *e);
/* Tells the cluster layer that the entry ticket of band stopped waiting. */
void lobby_remote_gone(server *s, uint8_t band, uint64_t ticket);
/* The same for every entry of one connection's list (before it is cancelled). */
void lobby_remote_gone_all(server *s, const lobby_entry *list);
/* s->redir_async's callback: answers every entry in the mailbox with `moved`. */
void lobby_remote_on_async(uv_async_t *h);
/* Before the handles close: server_queue_redirect takes nothing more. Any thread. */
void lobby_remote_close(server *s);

/* reload.c: s->reload_async's callback: reloads the TLS certificate and key. */
void reload_on_async(uv_async_t *h);

/* drain.c (the phases are in server.h, server_phase) */
/* s->drain_async's callback: the first request begins the drain, later ones hurry it. */
void drain_on_async(uv_async_t *h);
/* A shard reported SHARD_OUT_STOPPED. */
void drain_shard_stopped(server *s);
/* Once per loop pass, after output was written: stops once flushing found no connection left. */
void drain_pass(server *s);

#endif
