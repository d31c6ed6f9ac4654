/* clock: monotonic and wall-clock time helpers. Monotonic values only make
 * sense as differences (timeouts, latencies); wall time is for logs and
 * timestamps shown to people. */
#ifndef BATTLED_UTIL_CLOCK_H
#define BATTLED_UTIL_CLOCK_H

#include <stdint.h>

/* Monotonic time (CLOCK_MONOTONIC) in nanoseconds / milliseconds. */
uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);
/* Wall-clock time (CLOCK_REALTIME) in milliseconds since the Unix epoch. */
uint64_t clock_wall_ms(void);

#endif
