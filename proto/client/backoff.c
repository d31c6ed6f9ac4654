/* proto/client/backoff: exponential backoff with jitter for reconnecting (see backoff.h). */
#include "proto/client/backoff.h"

#include "util/mix.h"

void pcb_init(pcb *b, uint32_t first_ms, uint32_t max_ms, uint32_t max_attempts,
              uint64_t max_total_ms, uint64_t seed)
{
    b->first_ms = first_ms ? first_ms : PCB_FIRST_MS;
    b->max_ms = max_ms ? max_ms : PCB_MAX_MS;
    if (b->max_ms < b->first_ms)
        b->max_ms = b->first_ms;
    b->max_attempts = max_attempts;
    b->max_total_ms = max_total_ms;
    b->attempts = 0;
    b->since_ms = 0;
    b->hint_ms = 0;
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

void pcb_restarting(pcb *b, uint32_t retry_ms)
{
    b->hint_ms = retry_ms ? retry_ms : 1;
}

void pcb_success(pcb *b)
{
    b->attempts = 0; /* a pending hint stays: a `restarting` may come before the loss is counted */
}

/* A uniform draw in [0, n]. */
static uint64_t draw(pcb *b, uint64_t n)
{
    uint64_t r = mix64_next(&b->rng);
    return n ? r % (n + 1) : 0;
}

int64_t pcb_next(pcb *b, uint64_t now_ms)
{
    if (b->attempts == 0)
        b->since_ms = now_ms;
    if (b->max_attempts && b->attempts >= b->max_attempts)
        return -1;
    if (b->max_total_ms && now_ms - b->since_ms >= b->max_total_ms)
        return -1;
    uint64_t d;
    if (b->hint_ms) {
        d = b->hint_ms + draw(b, b->hint_ms / 2);
        b->hint_ms = 0;
    } else {
        unsigned shift = b->attempts < 16 ? b->attempts : 16;
        uint64_t full = (uint64_t)b->first_ms << shift;
        if (full > b->max_ms)
            full = b->max_ms;
        d = full / 2 + draw(b, full - full / 2);
    }
    b->attempts++;
    return (int64_t)d;
}
