/* admin: the admin HTTP listener (admin.listen) on the network thread's loop.
 *
 * Endpoints (docs/OPERATIONS.md, "Admin endpoint"):
 *   GET /healthz   200 while the process runs.
 *   GET /readyz    200 when the game listeners and the admin listener are up, every shard answered
 *                  a heartbeat within ADMIN_READY_HEARTBEAT_MS, the server is not draining and no
 *                  shard's journal is degraded; else 503. JSON body naming every check.
 *   GET /metrics   Prometheus text format 0.0.4.
 *   GET /battles   JSON list of battles ([?limit=N], 1..ADMIN_BATTLES_MAX, default
 *                  ADMIN_BATTLES_DEFAULT), "truncated": true when more exist than were listed.
 * HEAD works on each. Anything else is 404; what net/http.c refuses gets its 4xx/505 and a close.
 *
 * Never blocks the game path: every handler is O(shards) on the network thread except /battles,
 * which asks each shard through its inbox (SHARD_IN_LIST) and answers when every shard replied
 * (one listing at a time, others wait in line; a shard silent for ADMIN_SHARD_REPLY_MS makes it
 * 503). Shard liveness comes from a heartbeat sent to each shard every ADMIN_TICK_MS (one in
 * flight per shard at most).
 *
 * Bounds: ADMIN_MAX_CONNS connections (more get 503 and a close), request heads of HTTP_MAX_HEAD
 * bytes (net/http.h), ADMIN_TIMEOUT_MS for a connection to send a whole request and take its
 * answer, counted from the accept or from the previous answer (slow or idle clients are closed). */
/* Layer: net/ API (for server.c; admin_int.h is the admin files' internal header). */
#ifndef BATTLED_NET_ADMIN_H
#define BATTLED_NET_ADMIN_H

#include <stdint.h>

#include "net/server.h"

#define ADMIN_MAX_CONNS 64               /* admin connections served at once */
#define ADMIN_TIMEOUT_MS 5000            /* a request must arrive and be answered within this */
#define ADMIN_TICK_MS 250                /* heartbeat, timeout sweep and loop-lag probe period */
#define ADMIN_READY_HEARTBEAT_MS 1000    /* /readyz: a shard's last heartbeat answer at most this old */
#define ADMIN_SHARD_REPLY_MS 2000        /* /battles: longest wait for the shards' listings */
#define ADMIN_BATTLES_DEFAULT 100        /* /battles rows without ?limit */
#define ADMIN_BATTLES_MAX 1000           /* largest ?limit (SHARD_LIST_MAX) */

typedef struct admin admin;

/* Binds opts->admin.listen on s's loop (call before the network thread runs, or on it), writes the
 * bound port to opts->admin.port_file when set, and installs the shard reply hook. Returns 0 with
 * *out set, 0 with *out NULL when admin.listen is "", or -1 (logged) when it cannot listen or write
 * the port file. The admin is owned by the server; end it with admin_close. */
int admin_start(server *s, const struct server_opts *opts, admin **out);

/* The bound port (valid after admin_start). */
uint16_t admin_port(const admin *a);

/* Network thread (or before it runs): closes the listener, the timer and every admin connection
 * and removes the reply hook; a is freed by the loop once the last close callback ran, so keep
 * running the loop. NULL is a no-op. */
void admin_close(admin *a);

#endif
