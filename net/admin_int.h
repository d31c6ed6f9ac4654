/* admin_int: what the admin listener's files (admin.c, admin_metrics.c, admin_battles.c) share.
 * Not a public API; everything here runs on the network thread. */
/* Layer: net/ internal: only admin.c, admin_metrics.c and admin_battles.c include it. */
#ifndef BATTLED_NET_ADMIN_INT_H
#define BATTLED_NET_ADMIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/admin.h"
#include "net/http.h"
#include "shards/shards.h"
#include "util/metrics.h"

/* Status codes counted in battled_admin_requests_total (others count as "other"). */
#define ADMIN_CODES 10

typedef struct admin_conn admin_conn;

struct admin_conn {
    uv_tcp_t tcp; /* tcp.data = this */
    admin *a;
    admin_conn *prev, *next; /* all connections */
    admin_conn *wnext;       /* waiting for a listing */
    http_parser p;
    size_t in_len;
    uint64_t deadline_ms; /* loop time by which the request must be in and answered */
    bool refused;         /* over ADMIN_MAX_CONNS: 503, then close */
    bool reading;
    bool writing;
    bool busy;            /* waiting in line for, or during, a listing */
    bool closing;
    bool peer_eof;        /* the client half-closed: answer what is in, then close */
    bool close_after;     /* close once the write in flight completes */
    bool head_only;       /* the request being answered was HEAD */
    bool keep_alive;
    uint32_t limit;       /* /battles ?limit */
    uv_write_t wreq;
    char *wbuf;           /* malloc'd response in flight */
    char in[HTTP_MAX_HEAD];
};

/* One listing of battles across every shard, answered to conn (NULL when it left). */
typedef struct {
    bool active;
    admin_conn *conn;
    uint64_t token;
    uint64_t started_ms;
    uint32_t limit;
    unsigned pending;            /* shards that have not sent their LIST_END */
    uint8_t *done;               /* per shard */
    uint32_t nrows;
    uint64_t total;              /* battles the shards hold, from their LIST_END */
    uint64_t dropped;            /* rows beyond limit */
    struct shard_battle_row *rows;
    uint16_t *row_shard;
} admin_listing;

struct admin {
    server *srv;
    uv_tcp_t listener;
    uv_timer_t tick;
    uint16_t port;
    bool listening;
    bool closing;
    unsigned handles;           /* open handles; a is freed when the last one is closed */
    unsigned nconns;            /* connection structs alive (refused ones included) */
    admin_conn *conns;
    unsigned nshards;
    uint64_t ring_capacity;     /* usable slots of one inbox */

    /* heartbeats */
    uint64_t hb_seq;
    uint64_t *hb_token;         /* per shard: token of the heartbeat in flight */
    uint64_t *hb_sent_ns;
    uint64_t *hb_last_ms;       /* loop time of the last answer; 0 = none yet */
    uint8_t *hb_out;            /* a heartbeat is in flight */
    hist *hb_rtt;               /* per shard: heartbeat round trip */
    hist lag;                   /* net loop lag, from the tick's lateness */
    uint64_t tick_expect_ns;

    /* listings */
    admin_listing ls;
    admin_conn *wait_head, *wait_tail;
    uint32_t *owed;             /* per shard: LIST_ENDs still due for abandoned listings */
    uint64_t list_seq;

    /* the admin's own counters (net thread only) */
    uint64_t conns_total;
    uint64_t conns_refused;
    uint64_t timeouts;
    uint64_t requests[ADMIN_CODES + 1];
    uint64_t listing_timeouts;

    prom_out page;              /* /metrics, reused between scrapes */

    size_t (*cluster_view)(void *arg, char *buf, size_t cap); /* server_opts; NULL: no cluster */
    void *cluster_arg;
    void (*cluster_metrics)(void *arg, prom_out *o); /* server_opts; NULL: none */
    void *cluster_metrics_arg;
    void (*match_counters)(void *arg, struct server_match_counters *out); /* server_opts */
    void *match_arg;
};

#define ADMIN_CLUSTER_MAX (64 * 1024) /* bytes of the /cluster page */

/* Status codes of battled_admin_requests_total, in index order. */
extern const int admin_codes[ADMIN_CODES];

/* admin.c */
/* Sends a complete response to c (copied): status, content type, body. Closes after it when
 * !c->keep_alive. */
void admin_respond(admin_conn *c, int status, const char *ctype, const char *body, size_t len);

/* admin_metrics.c */
/* Renders the /metrics page into a->page. false when it did not fit (answer 500). */
bool admin_render_metrics(admin *a);

/* admin_battles.c */
/* Queues c for a listing of up to c->limit battles (c->busy until answered). */
void admin_battles_request(admin_conn *c);
/* A LIST_ROW or LIST_END from shard k. */
void admin_battles_reply(admin *a, unsigned k, const struct shard_out *m);
/* On every tick: fails a listing that waited past ADMIN_SHARD_REPLY_MS. */
void admin_battles_tick(admin *a);
/* c is closing: it no longer waits for (or receives) a listing. */
void admin_battles_forget(admin_conn *c);
/* Frees the listing state. */
void admin_battles_free(admin *a);

#endif
