/* proto/client/backoff: when a client should try to connect again (docs/PROTOCOL.md, "Restarts and
 * lost connections: a client's checklist").
 *
 * Exponential backoff with jitter, so that thousands of clients cut off at the same moment (a
 * restart) do not all come back in the same millisecond: attempt n waits a random time in
 * [d/2, d] where d = min(max_ms, first_ms * 2^n). After a `restarting` event the server's retry_ms
 * is the first wait instead, plus up to half of it again at random. Attempts and total time are
 * bounded by the caller's settings: pcb_next returns -1 once either is spent. Pure: no I/O, no
 * clock (the caller passes the time), no allocation; one pcb per connection, not thread-safe. */
#ifndef BATTLED_PROTO_CLIENT_BACKOFF_H
#define BATTLED_PROTO_CLIENT_BACKOFF_H

#include <stdint.h>

#define PCB_FIRST_MS 250   /* default first wait */
#define PCB_MAX_MS 5000    /* default longest wait */

typedef struct pcb {
    uint32_t first_ms, max_ms; /* wait bounds (0: the defaults above) */
    uint32_t max_attempts;     /* give up after this many attempts in a row; 0 = no limit */
    uint64_t max_total_ms;     /* give up this long after the first loss; 0 = no limit */
    uint32_t attempts;         /* attempts since the last success */
    uint64_t since_ms;         /* the caller's clock when the current run of attempts began */
    uint32_t hint_ms;          /* retry_ms of a `restarting` event, for the next wait; 0 = none */
    uint64_t rng;              /* jitter state; any seed (0 is replaced) */
} pcb;

/* Sets the bounds and a jitter seed (different per client, e.g. from the pid and the time) and
 * clears the attempts. */
void pcb_init(pcb *b, uint32_t first_ms, uint32_t max_ms, uint32_t max_attempts,
              uint64_t max_total_ms, uint64_t seed);

/* A `restarting` event said retry_ms: the next wait is about that long. */
void pcb_restarting(pcb *b, uint32_t retry_ms);

/* The connection is up and the session resumed (or lived long enough): the next loss starts from
 * the first wait. A `restarting` hint already given is kept for that next wait. */
void pcb_success(pcb *b);

/* One more attempt is wanted at now_ms (the caller's monotonic clock): returns how many ms to wait
 * before it, or -1 when max_attempts or max_total_ms is spent (the caller gives up and says so). */
int64_t pcb_next(pcb *b, uint64_t now_ms);

#endif
