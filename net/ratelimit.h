/* ratelimit: the per-connection token bucket on battle actions (issue 5).
 *
 * A bucket holds up to `burst` tokens and refills at `per_sec` tokens per second; each battle action
 * takes one. A refused action is a soft refusal (the caller replies rate_limited); refusals are also
 * counted in a fixed ABUSE_WINDOW_MS window, and reaching `abuse_refusals` inside one window tells the
 * caller to disconnect. per_sec == 0 turns limiting off (benchmarks); abuse_refusals == 0 never
 * disconnects. Pure arithmetic on caller-supplied millisecond times: no clock, no allocation. */
/* Layer: net/ internal: the network thread's files (through net_int.h) and their unit tests. */
#ifndef BATTLED_NET_RATELIMIT_H
#define BATTLED_NET_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_ABUSE_WINDOW_MS 10000u /* window over which refusals count towards abuse */

typedef struct {
    uint32_t per_sec;        /* sustained actions per second; 0 = unlimited */
    uint32_t burst;          /* bucket size in actions (at least 1 when per_sec > 0) */
    uint32_t abuse_refusals; /* refusals within the window that disconnect; 0 = never */
} ratelimit_cfg;

/* One connection's bucket: 16 bytes, kept inside the connection. */
typedef struct {
    uint32_t milli_tokens; /* tokens x 1000, so refill needs no floating point */
    uint32_t last_ms;      /* time of the last refill (wraps after 49 days; differences stay right) */
    uint32_t window_start_ms;
    uint32_t window_refusals;
} ratelimit_bucket;

typedef enum {
    RATELIMIT_OK = 0,     /* the action may proceed; one token was taken */
    RATELIMIT_REFUSED,    /* reply rate_limited and drop the action */
    RATELIMIT_DISCONNECT, /* refused, and the abuse threshold was reached: close the connection */
} ratelimit_verdict;

/* Starts a full bucket at now_ms. */
void ratelimit_init(ratelimit_bucket *b, const ratelimit_cfg *cfg, uint64_t now_ms);

/* Decides one action at now_ms (monotonic). Takes a token when it returns RATELIMIT_OK. */
ratelimit_verdict ratelimit_take(ratelimit_bucket *b, const ratelimit_cfg *cfg, uint64_t now_ms);

#endif
