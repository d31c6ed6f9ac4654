/* clock: monotonic time helpers. Monotonic values only make
 * sense as differences (timeouts, latencies). */
/* Layer: util/ API. */
#ifndef BATTLED_UTIL_CLOCK_H
#define BATTLED_UTIL_CLOCK_H

#include <stdint.h>

/* Monotonic time (CLOCK_MONOTONIC) in nanoseconds / milliseconds. */
uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);

#endif
