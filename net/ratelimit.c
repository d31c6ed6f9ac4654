/* ratelimit: token bucket with a refusal window; see ratelimit.h. */
#include "net/ratelimit.h"

void ratelimit_init(ratelimit_bucket *b, const ratelimit_cfg *cfg, uint64_t now_ms)
{
    uint32_t burst = cfg->burst ? cfg->burst : 1;
    b->milli_tokens = burst * 1000u;
    b->last_ms = (uint32_t)now_ms;
    b->window_start_ms = (uint32_t)now_ms;
    b->window_refusals = 0;
}

ratelimit_verdict ratelimit_take(ratelimit_bucket *b, const ratelimit_cfg *cfg, uint64_t now_ms)
{
    if (cfg->per_sec == 0)
        return RATELIMIT_OK;
    uint32_t now = (uint32_t)now_ms;
    uint64_t cap = (uint64_t)(cfg->burst ? cfg->burst : 1) * 1000u;
    /* per_sec tokens per second is per_sec milli-tokens per millisecond. */
    uint64_t refill = (uint64_t)(uint32_t)(now - b->last_ms) * cfg->per_sec;
    uint64_t t = (uint64_t)b->milli_tokens + refill;
    b->milli_tokens = (uint32_t)(t > cap ? cap : t);
    b->last_ms = now;
    if (b->milli_tokens >= 1000u) {
        b->milli_tokens -= 1000u;
        return RATELIMIT_OK;
    }
    if ((uint32_t)(now - b->window_start_ms) >= RATELIMIT_ABUSE_WINDOW_MS) {
        b->window_start_ms = now;
        b->window_refusals = 0;
    }
    b->window_refusals++;
    if (cfg->abuse_refusals && b->window_refusals >= cfg->abuse_refusals)
        return RATELIMIT_DISCONNECT;
    return RATELIMIT_REFUSED;
}
