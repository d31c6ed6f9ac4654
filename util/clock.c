/* clock: thin wrappers over clock_gettime, so callers never juggle timespecs. */
#include "util/clock.h"

#include <time.h>

static uint64_t ts_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ns(void)
{
    return ts_ns(CLOCK_MONOTONIC);
}

uint64_t clock_mono_ms(void)
{
    return ts_ns(CLOCK_MONOTONIC) / 1000000u;
}

uint64_t clock_wall_ms(void)
{
    return ts_ns(CLOCK_REALTIME) / 1000000u;
}
