/* fdlimit: the connection caps against the process's open-file limit, and accept failures.
 *
 * Every connection is a file descriptor. A cap above what RLIMIT_NOFILE allows does not limit
 * anything: the kernel refuses accept() first, silently for the client, and the admin listener
 * starves with the game listener, so /healthz and /metrics go dark exactly when an operator needs
 * them. So at start (fdlimit_apply) the soft limit is raised to the hard one, a reserve is set
 * aside for everything that is not a game connection (FDLIMIT_RESERVE: the admin listener and its
 * connections, each shard's loop and journal files, listeners, TLS and log files, a margin for
 * refusing connections politely) and server.max_connections is lowered to what is left, with one
 * warning naming both numbers and how to raise the limit. While running, every accept failure is
 * counted by errno (battled_accept_failures_total{listener,errno}) and logged at most once per
 * FDLIMIT_LOG_MS with the number suppressed since.
 *
 * Network thread only, except the counters, which any thread may read (relaxed atomics). */
#ifndef BATTLED_NET_FDLIMIT_H
#define BATTLED_NET_FDLIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/metrics.h"

#define FDLIMIT_BASE 64          /* stdio, log, the net loop's epoll/eventfd/signals, thread pool,
                                  * files read at start, /proc reads for /metrics */
#define FDLIMIT_PER_SHARD 8      /* a shard's loop and journal: dir, lock, log, compaction, reads */
#define FDLIMIT_LISTENERS 5      /* game, TLS, WebSocket, WebSocket-TLS and admin listeners */
#define FDLIMIT_ADMIN_CONNS 128  /* admin connections held at once (2 x ADMIN_MAX_CONNS: past the
                                  * cap it answers 503, past twice the cap it closes at once) */
#define FDLIMIT_REFUSING 64      /* game connections over the cap held open to be told server_busy;
                                  * beyond that many, a new one is closed without the frame */
#define FDLIMIT_MIN_CONNS 16     /* below this many game connections the server refuses to start */
#define FDLIMIT_LOG_MS 10000     /* at most one accept-failure log line per listener this often */

/* Descriptors kept for everything but game connections, for nshards shards. */
#define FDLIMIT_RESERVE(nshards) \
    (FDLIMIT_BASE + FDLIMIT_PER_SHARD * (uint64_t)(nshards) + FDLIMIT_LISTENERS + \
     FDLIMIT_ADMIN_CONNS + FDLIMIT_REFUSING)

typedef enum {
    FDLIMIT_L_GAME = 0, /* the game listeners: clear text, TLS, WebSocket and WebSocket-TLS */
    FDLIMIT_L_ADMIN,
    FDLIMIT_LISTENER_COUNT
} fdlimit_listener;

/* Accept failures are counted by errno; the ones an operator acts on have their own row. */
typedef enum {
    FDLIMIT_E_EMFILE = 0, /* the process's open-file limit */
    FDLIMIT_E_ENFILE,     /* the system's open-file limit */
    FDLIMIT_E_ENOBUFS,    /* ENOBUFS or ENOMEM: kernel memory */
    FDLIMIT_E_ECONNABORTED,
    FDLIMIT_E_OTHER,
    FDLIMIT_E_COUNT
} fdlimit_errno;

typedef struct fdlimit {
    uint64_t nofile;         /* soft RLIMIT_NOFILE after raising it; UINT64_MAX when unlimited */
    uint64_t reserve;        /* FDLIMIT_RESERVE for this server */
    int64_t wanted;          /* server.max_connections as configured */
    int64_t cap;             /* the cap in force (wanted, or lowered) */
    _Atomic uint64_t accept_failures[FDLIMIT_LISTENER_COUNT][FDLIMIT_E_COUNT];
    uint64_t log_last_ms[FDLIMIT_LISTENER_COUNT];
    uint64_t log_suppressed[FDLIMIT_LISTENER_COUNT];
    bool logged_once[FDLIMIT_LISTENER_COUNT];
} fdlimit;

/* The largest connection cap that fits nofile descriptors with reserve kept aside: wanted when it
 * fits, else nofile - reserve; -1 when that leaves fewer than FDLIMIT_MIN_CONNS. Pure. */
int64_t fdlimit_cap_for(uint64_t nofile, uint64_t reserve, int64_t wanted);

/* At start, before the connection table is sized: raises the soft open-file limit to the hard one,
 * computes the cap for `wanted` connections and nshards shards, logs one warning when it had to
 * lower it (naming the configured cap, the lowered one, the limit and how to raise it) and records
 * all of it in *f. Returns the cap to use, or -1 (logged as an error) when the limit leaves too
 * few descriptors to run at all. */
int64_t fdlimit_apply(fdlimit *f, int64_t wanted, unsigned nshards);

/* An accept on listener `l` failed with libuv status `status` (< 0): counted by errno, logged at
 * most once per FDLIMIT_LOG_MS (the first failure at once), with the failures suppressed since. */
void fdlimit_accept_failed(fdlimit *f, fdlimit_listener l, int status, uint64_t now_ms);

/* Appends the open-file figures and the accept-failure counters to a /metrics page. */
void fdlimit_metrics(const fdlimit *f, prom_out *o);

#endif
