/* netstats: the network thread's counters, for the admin endpoint and tests.
 *
 * Written only by the network thread with relaxed atomic stores/adds, so any thread (the admin
 * renderer, a test) may read them at any time without locks; a reader sees each counter whole but
 * not a consistent snapshot across counters, which metrics do not need. Gauges (current values) are
 * marked as such; everything else only grows. */
/* Layer: net/ API: server_stats() hands these counters to the admin listener and tests. */
#ifndef BATTLED_NET_NETSTATS_H
#define BATTLED_NET_NETSTATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "net/ws.h"
#include "proto/msg.h"

/* Why a connection closed; one counter each. */
typedef enum {
    NET_CLOSE_PEER = 0,     /* EOF or reset from the client */
    NET_CLOSE_IDLE,         /* no frame for server.idle_timeout_ms */
    NET_CLOSE_HELLO,        /* no hello within server.hello_timeout_ms */
    NET_CLOSE_BAD_STREAM,   /* bad length prefix or oversized frame */
    NET_CLOSE_PROTOCOL,     /* policy after an error reply (version mismatch) */
    NET_CLOSE_ABUSE,        /* rate-limit refusals reached ratelimit.abuse_refusals */
    NET_CLOSE_OUTPUT_CAP,   /* unsent output passed server.output_cap */
    NET_CLOSE_SHARD,        /* a shard asked for it (SHARD_OUT_CLOSE, e.g. seat taken over) */
    NET_CLOSE_DRAIN,        /* server shutdown */
    NET_CLOSE_ERROR,        /* socket or memory error */
    NET_CLOSE_TLS,          /* TLS handshake failed or timed out, or a bad record */
    NET_CLOSE_WS,           /* WebSocket: refused upgrade, HTTP error, timeout or protocol error */
    NET_CLOSE_ADDR,         /* over server.max_conns_per_addr or max_handshakes_per_addr */
    NET_CLOSE_HTTP,         /* a web page request on a WebSocket port was answered (200, 404) */
    NET_CLOSE_REASONS
} net_close_reason;

#define NET_ERROR_CODES 128 /* proto error codes are < 128 */
#define NET_LAG_BUCKETS 8   /* loop lag histogram: <1, <2, <5, <10, <50, <100, <500 ms, more */

typedef struct net_stats {
    _Atomic uint64_t conns_current;          /* gauge */
    _Atomic uint64_t conns_total;            /* accepted */
    _Atomic uint64_t conns_refused;          /* over server.max_connections: error frame then close */
    _Atomic uint64_t conns_closed[NET_CLOSE_REASONS];
    _Atomic uint64_t frames_in;
    _Atomic uint64_t frames_out;             /* messages queued (a shard message may carry several frames) */
    _Atomic uint64_t bytes_in;
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t errors[NET_ERROR_CODES]; /* error replies sent by the net thread, by code */
    _Atomic uint64_t ratelimit_refusals;
    _Atomic uint64_t output_cap_cuts;
    _Atomic uint64_t output_dropped_gone;    /* shard output for a connection generation that left */
    _Atomic uint64_t inbox_full;             /* a push found a shard inbox full: reads paused */
    _Atomic uint64_t ctl_parked;             /* control messages (conn gone, drain) parked: inbox full */
    _Atomic uint64_t ctl_lost;               /* control messages lost: no memory to park them */
    _Atomic uint64_t reads_paused;           /* connections whose reads were stopped for it */
    _Atomic uint64_t reads_resumed;
    _Atomic uint64_t wakeups_sent;           /* uv_async_send to shards (at most one per shard per pass) */
    _Atomic uint64_t outbox_wakeups;         /* wakeups received from shards */
    _Atomic uint64_t requests_routed;        /* battle-scoped requests pushed to shards */
    _Atomic uint64_t moved_replies;          /* cluster: `moved` sent, the battle held elsewhere */
    _Atomic uint64_t lobby_waiting;          /* gauge: entries in the matchmaking queues */
    _Atomic uint64_t lobby_matches;
    _Atomic uint64_t queue_moved;            /* cluster: queue entries answered `moved` (matched elsewhere) */
    _Atomic uint64_t queue_redirect_lost;    /* cluster: a redirect for an entry no longer waiting */
    _Atomic uint64_t queue_redirect_dropped; /* cluster: a redirect refused, its mailbox full or closed */
    _Atomic uint64_t battles_created;        /* SHARD_IN_CREATE sent (matches, private, solo) */
    _Atomic uint64_t loop_lag_max_us;        /* worst since start */
    _Atomic uint64_t loop_lag_last_us;       /* gauge: last sample */
    _Atomic uint64_t loop_lag_hist[NET_LAG_BUCKETS];
    _Atomic uint64_t out_chunks;             /* gauge: output pool chunks allocated */
    _Atomic uint64_t draining;               /* gauge: 1 once a drain (or a restart) began */
    _Atomic uint64_t restarting;             /* gauge: 1 once a restart began */
    _Atomic uint64_t tls_handshakes;         /* completed */
    _Atomic uint64_t tls_handshakes_deferred; /* past tls.max_handshakes_per_pass: next pass */
    _Atomic uint64_t tls_reloads;            /* SIGHUP loaded a new certificate and key */
    _Atomic uint64_t tls_reload_failures;    /* SIGHUP found a pair that does not load: old kept */
    /* Per source address (net/addrcap.h), every game listener. */
    _Atomic uint64_t addr_conns_refused;     /* over server.max_conns_per_addr */
    _Atomic uint64_t addr_handshakes_refused; /* over server.max_handshakes_per_addr */
    _Atomic uint64_t addr_tracked;           /* gauge: source addresses with a connection */
    /* WebSocket listeners (net/ws_conn.c). */
    _Atomic uint64_t ws_upgrades;            /* 101 sent */
    _Atomic uint64_t ws_refused[WS_HS_REFUSALS]; /* upgrade refused, by reason (index 0 unused) */
    _Atomic uint64_t ws_http_errors;         /* malformed request heads (400/405/413/505) */
    _Atomic uint64_t ws_http_too_large;      /* request heads over the limits (431, 414) */
    _Atomic uint64_t ws_handshake_timeouts;  /* no whole request within ws.handshake_timeout_ms */
    _Atomic uint64_t ws_closes[WS_END_REASONS]; /* sessions ended by the peer or a violation */
    _Atomic uint64_t ws_files_served;        /* 200 for a page file */
    _Atomic uint64_t ws_files_not_found;     /* 404 */
} net_stats;

/* Names for NET_CLOSE_* in metrics labels ("peer", "idle", ...). */
const char *net_close_reason_name(int reason);

#define NET_STAT_ADD(s, field, n) atomic_fetch_add_explicit(&(s)->field, (n), memory_order_relaxed)
#define NET_STAT_SET(s, field, v) atomic_store_explicit(&(s)->field, (v), memory_order_relaxed)
#define NET_STAT_GET(s, field) atomic_load_explicit(&(s)->field, memory_order_relaxed)

#endif
