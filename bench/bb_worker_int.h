/* bb_worker_int: what the three rooms of a battle-bench worker share (private to bench/).
 *
 * A worker is three files: bb_worker.c is the thread (its loop, the tick that ramps, reconnects,
 * pings, scans for timeouts and publishes statistics, and the public API of bb_worker.h);
 * bb_conn.c is the connections (connect, hello, request ids, routing each event to its seat,
 * losing a connection); bb_seat.c is the seat state machine (starting a battle, playing it with
 * bb_policy's script, failures and restarts). Everything here runs on the worker's loop thread,
 * except the phase and the published copy (see bb_worker.h). */
#ifndef BATTLED_BENCH_BB_WORKER_INT_H
#define BATTLED_BENCH_BB_WORKER_INT_H

#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bench/bb_policy.h"
#include "bench/bb_worker.h"
#include "proto/client/backoff.h"
#include "proto/client/pcuv.h"

/* Request ids: the low bits name the seat on its connection, the rest count, so a reply finds its
 * seat without a search. CONN_SLOT marks requests of the connection itself (hello, ping). */
#define RID_SLOT_BITS 10
#define RID_SLOT_MASK ((1u << RID_SLOT_BITS) - 1u)
#define CONN_SLOT RID_SLOT_MASK
_Static_assert(BB_MAX_PER_CONN < CONN_SLOT, "seat index must fit below CONN_SLOT");

#define NO_SHIP 0xff

typedef enum seat_state {
    SEAT_OFF = 0,   /* not activated yet, or stopped */
    SEAT_READY,     /* activated; starts a battle when its connection is open and its timer fires */
    SEAT_STARTING,  /* queue / create / join sent, waiting for "started" (or "created") */
    SEAT_WAITJOIN,  /* create mode, creator: "created" came, waiting for the partner's join */
    SEAT_PLAYING,   /* in a running battle */
    SEAT_LEAVING,   /* leave sent after a failure; waiting for "left" */
    SEAT_RESUMING,  /* its connection was lost mid-battle: resumed (token, last seq) once it is back */
} seat_state;

typedef enum conn_state { CONN_DOWN = 0, CONN_CONNECTING, CONN_HELLO, CONN_OPEN } conn_state;

typedef struct bb_conn bb_conn;

typedef struct bb_seat {
    uv_timer_t timer;        /* think time and restart delay */
    bb_conn *conn;
    struct bb_seat *partner; /* create mode: the creator's and the joiner's seats point at each other */
    uint64_t bid;
    uint64_t pending_join;   /* create mode, joiner: battle to join once our connection is open */
    uint64_t out_ns;         /* send time of the outstanding request */
    uint64_t start_ns;       /* queue/create/join sent */
    uint64_t started_ns;     /* "started" arrived */
    uint64_t lost_ns;        /* SEAT_RESUMING since */
    uint64_t last_ev_ns;     /* the battle's last event reached us (for the longest gap) */
    uint32_t out_rid;        /* outstanding request id; 0 = none */
    uint32_t rseq;
    uint16_t idx;            /* index on its connection */
    uint8_t state;           /* seat_state */
    uint8_t out_type;        /* proto_type of the outstanding request */
    uint8_t out_class;       /* bb_act_class of an outstanding action */
    uint8_t ship[PROTO_SEATS]; /* indices into stats.ships, NO_SHIP if the table is full */
    bool leader;             /* counts start failures of its battle slot */
    bool activated;
    bool timer_on;
    bool counted;            /* seat 0 of a battle counted in battles_running */
    bool queued;             /* match mode: "queued" came, the seat waits in the lobby */
    bool key_live;           /* key belongs to a queue/create/join that has no battle yet */
    uint8_t key[PROTO_TOKEN_LEN]; /* its idempotency key: every retry of it sends the same one */
    bb_view view;
    /* Cluster (`moved`): the seat's battle may be held by another node than its connection's. It
     * then plays over `away`, its own connection to that node, and comes back to `home` (the
     * connection it was made with) when the battle is over. */
    bb_conn *home;
    bb_conn *away;           /* NULL until the seat first follows a `moved` */
    proto_request out_req;   /* the outstanding request as sent, for sending it again */
    uint8_t moved_hops;      /* `moved` followed for the current battle or request */
    bool resend;             /* out_req goes again once `away` is open */
} bb_seat;

struct bb_conn {
    bb_worker *w;
    pcuv_conn *pc;
    bb_seat *seats;
    uint32_t nseats;
    uint32_t target;
    uint8_t state;           /* conn_state */
    bool wanted;             /* some seat is activated: keep it connected */
    uint32_t rseq;
    uint64_t retry_at;       /* uv_now ms before which no reconnect is tried */
    pcb backoff;             /* reconnect waits (proto/client/backoff) */
    bool restarting;         /* the server said "restarting": the coming close is not a failure */
    uint64_t ping_at;
    /* Cluster: a seat's own connection to the node a `moved` named (bb_seat.away). Its seats array
     * is its home connection's (so request ids find their seat), of which only the seats whose
     * conn is this one belong to it. */
    bool away;
    bool retiring;           /* closed on purpose (the seat went home, or follows elsewhere) */
    bool has_addr;           /* connect to addr, not to the --target */
    struct sockaddr_storage addr;
    char ws_host[PROTO_ADDR_MAX + 1]; /* --ws: the Host of the upgrade (moved's ws) */
};

struct bb_worker {
    const bb_opts *o;
    int id;
    uint32_t battles;        /* this worker's share */
    uint32_t activated;      /* battle slots activated by the ramp so far */
    bool two_player;
    pc_tls_config *tls;      /* --tls: this loop's own config (not thread-safe); NULL: clear text */
    uv_loop_t loop;
    uv_timer_t tick;
    bb_conn *conns;
    uint32_t nconns;
    bb_seat *seats;
    uint32_t nseats;
    uint64_t t0;             /* uv_now at start */
    uint64_t steady_ns;      /* uv_hrtime from which latencies count as steady state */
    uint64_t last_publish, last_scan;
    uint64_t rng;
    int phase_seen;
    bool closing;
    uint32_t naway;          /* away connections allocated (bb_seat.away) */
    _Atomic int phase;
    pthread_t th;
    pthread_mutex_t mu;
    bb_stats pub;            /* published copy, under mu */
    bb_stats st;             /* live, loop thread only */
};

/* The phase the main thread last set (a bb_phase). */
static inline int bb_worker_phase(bb_worker *w)
{
    return atomic_load_explicit(&w->phase, memory_order_acquire);
}

/* Counts one error reply by its code (codes the table does not know count under 0). */
static inline void bb_count_error(bb_worker *w, int code)
{
    w->st.errors[code > 0 && code < BB_ERR_CODES ? code : 0]++;
}

/* ---- bb_conn.c: connections ---- */

/* Sends r for seat s (or for the connection itself when s is NULL) with the next request id, and
 * notes it as s's outstanding request. Returns false if it could not be queued (the connection is
 * not up, is closing or is over its output cap). */
bool bb_conn_send(bb_conn *c, bb_seat *s, proto_request *r);

/* Sets c->retry_at: the next reconnect attempt after a backoff with jitter (after a `restarting`
 * event, about its retry_ms). */
void bb_conn_schedule_retry(bb_conn *c);

/* Starts connecting c to its target (from its source address, if any). A failure to even start
 * is counted; the tick retries after BB_RECONNECT_MS. */
void bb_conn_connect(bb_conn *c);

/* Cluster: s's battle is over (or cannot be followed): s goes back to its home connection, and
 * the away connection it used is closed. No-op for a seat at home. */
void bb_conn_seat_home(bb_seat *s);

/* ---- bb_seat.c: the seat state machine ---- */

/* Sends the request that starts a battle for s if its connection is open and the run goes on;
 * when it cannot be sent, tries again after BB_RETRY_MS. */
void bb_seat_begin(bb_seat *s);

/* The ramp reached s: it plays from now on, starting at once if its connection is open. */
void bb_seat_activate(bb_seat *s);

/* Applies one event of s's connection to s (NULL when it matched no seat): an error reply to s's
 * outstanding request (req_type and bb_act_class req_class; req_type 0 when the event answers no
 * request of s), the start and end of its battle, and the battle's events. */
void bb_seat_on_event(bb_worker *w, bb_seat *s, const proto_event *ev, uint8_t req_type,
                      uint8_t req_class);

/* s's connection is gone: a running battle waits to be resumed (--resume) or is cut off (a
 * failure); s starts again once the connection is back. */
void bb_seat_conn_lost(bb_seat *s);

/* s's connection is open again: a seat in SEAT_RESUMING sends resume (token, last seq). */
void bb_seat_reconnected(bb_seat *s);

/* Gives s up when it has played, or waited to start or leave, longer than limit_ns (now_ns and
 * the seat's times are uv_hrtime). */
void bb_seat_check_timeout(bb_seat *s, uint64_t now_ns, uint64_t limit_ns);

/* The run stops: s, between battles, stays off; a battle it created that nobody joined is left. */
void bb_seat_stop(bb_seat *s);

/* Cluster: s's outstanding request (req_type, req_class) was answered with `moved` that cannot be
 * followed (too many in a row, an unusable address): the request failed as if its battle did not
 * exist (no error code is counted). */
void bb_seat_moved_failed(bb_seat *s, uint8_t req_type, uint8_t req_class);

#endif
