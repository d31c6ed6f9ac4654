/* clock: time helpers. Monotonic values only make sense as differences (timeouts, latencies);
 * wall-clock values are for what outlives the process. */
/* Layer: util/ API. */
#ifndef BATTLED_UTIL_CLOCK_H
#define BATTLED_UTIL_CLOCK_H

#include <stdint.h>

/* Monotonic time (CLOCK_MONOTONIC) in nanoseconds / milliseconds. */
uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);

/* Wall-clock time (CLOCK_REALTIME) in milliseconds since 1970: for what must outlive the process
 * (a journaled end time), never for intervals within it. */
uint64_t clock_wall_ms(void);

#endif
