/* server: the battled runtime: one network thread (libuv) in front of N shard threads.
 *
 * server_start binds the game port (server.listen; port 0 picks a free one) and, when tls.listen is
 * set, the TLS game port, writes them to server.port_file (the port on the first line, the TLS port
 * on a second line when TLS is on), starts the shards, the admin HTTP listener (admin.listen, net/admin.h)
 * and the network thread, and returns. The network thread owns
 * every socket, the lobby and the connection table; shards own battles (shards/shard.h).
 *
 * Shutdown is a graceful drain: server_drain (from any thread, e.g. main after sigwait) makes the
 * network thread stop accepting, refuse new battles and queue entries (server_draining), tell every
 * client that the server is going away, and send SHARD_IN_DRAIN so running battles may finish within
 * server.drain_timeout_ms and are then ended as "shutdown". Once every shard reports it has ended its
 * battles, output is flushed (bounded by SERVER_FLUSH_MS), connections are closed, the shards are
 * stopped and the network thread exits; server_wait then returns 0.
 *
 * See docs/ARCHITECTURE.md for the thread shape and docs/OPERATIONS.md for the limits. */
#ifndef BATTLED_NET_SERVER_H
#define BATTLED_NET_SERVER_H

#include <signal.h>
#include <stdint.h>
#include <uv.h>

#include "net/netstats.h"
#include "util/config.h"

#define SERVER_FLUSH_MS 2000        /* at the end of a drain: longest wait for output to leave */
#define SERVER_DRAIN_MARGIN_MS 5000 /* drain: wait this long past drain_timeout_ms for the shards */

typedef struct server server;

/* Starts the server for cfg (copied). Returns NULL on failure, already logged (cannot bind, bad ship
 * file, no memory). The caller ends it with server_drain + server_wait. */
server *server_start(const battled_config *cfg);

/* Asks for a graceful drain. Thread-safe; a second call makes the drain skip its remaining waits
 * (battles still end as "shutdown", output is still flushed within SERVER_FLUSH_MS). */
void server_drain(server *s);

/* Blocks until the network thread has exited, frees s, and returns the exit status: 0 after a clean
 * drain, 1 after a runtime failure. */
int server_wait(server *s);

/* The bound game port (valid after server_start). */
uint16_t server_port(const server *s);
/* The bound TLS game port (tls.listen), or 0 when TLS is off. */
uint16_t server_tls_port(const server *s);
/* The bound WebSocket ports (ws.listen, ws.tls_listen), 0 when off. */
uint16_t server_ws_port(const server *s);
uint16_t server_wss_port(const server *s);

/* The network thread's counters (any thread may read them; valid until server_wait returns). */
const net_stats *server_stats(const server *s);

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

/* The whole lifetime for battled's main: start, wait for a signal in `signals` (which the caller has
 * blocked in every thread), drain on the first, hurry the drain on a second, and return the exit
 * status (0 clean, 1 runtime failure). */
int server_run(const battled_config *cfg, const sigset_t *signals);

#endif
