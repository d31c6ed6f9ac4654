/* bb_worker: one battle-bench event loop on its own thread, playing its share of the battles.
 *
 * A worker owns its connections (proto/client/pcuv) and seats; nothing in it is shared except the
 * published statistics (a copy under a mutex, refreshed every BB_PUBLISH_MS) and the phase, which
 * the main thread moves forward: RUN (start battles, restart them when they end), STOP (finish the
 * running battles, start no new ones), CLOSE (close everything; the thread then exits).
 *
 * Layout: in match and create mode connections come in pairs (A, B) with per_conn seats each, and
 * battle slot j of the pair is seat j of A with seat j of B (create: A creates, B joins by id; match:
 * both queue and the lobby pairs them, perhaps with other connections' seats). In solo and idle mode
 * each connection holds per_conn seats of its own. */
#ifndef BATTLED_BENCH_BB_WORKER_H
#define BATTLED_BENCH_BB_WORKER_H

#include <stdint.h>

#include "bench/bb_opts.h"
#include "bench/bb_stats.h"

#define BB_PUBLISH_MS 200       /* statistics copied for the main thread this often */
#define BB_TICK_MS 10           /* ramp, timeouts and phase checks run this often */
#define BB_RECONNECT_MS 1000    /* a refused start is retried after this */
#define BB_RESTART_SEQ_JUMP (1u << 20) /* seq jump after a server restart (PROTOCOL.md section 8) */
#define BB_HISTORY_EVENTS 27          /* events a battle keeps for resume (PROTOCOL.md section 8) */
#define BB_BACKOFF_FIRST_MS 200 /* first wait before reconnecting; doubles (with jitter) per attempt */
#define BB_PING_MS 10000        /* idle mode: each connection pings this often */
#define BB_RETRY_MS 250         /* a refused action (rate_limited, server_busy) is retried after this */

typedef enum bb_phase { BB_PHASE_RUN = 0, BB_PHASE_STOP, BB_PHASE_CLOSE } bb_phase;

typedef struct bb_worker bb_worker;

/* Creates worker id playing `battles` battles with options o (o must outlive it). Returns NULL on
 * allocation failure. Nothing runs until bb_worker_start. */
bb_worker *bb_worker_new(const bb_opts *o, int id, uint32_t battles);

/* Starts the worker's thread. Returns 0 or an errno value. */
int bb_worker_start(bb_worker *w);

/* Moves the worker to phase p (never backwards). Thread-safe. */
void bb_worker_set_phase(bb_worker *w, bb_phase p);

/* Copies the worker's latest published statistics into *out. Thread-safe. */
void bb_worker_snapshot(bb_worker *w, bb_stats *out);

/* Waits for the thread to exit (after BB_PHASE_CLOSE), adds its final statistics to *total (when
 * not NULL; gauges as they stood just before the close) and frees the worker. */
void bb_worker_join(bb_worker *w, bb_stats *total);

#endif
