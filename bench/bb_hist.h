/* bb_hist: an HDR-style latency histogram for battle-bench.
 *
 * Log-linear buckets: values below 128 are exact, above that each power of two is split into 64
 * buckets, so any recorded value is known to within 1/64 (1.6%) up to BB_HIST_MAX (2^48-1, about
 * 78 hours in nanoseconds; larger values are clamped and counted). Fixed size, no allocation, so a
 * histogram can be copied, merged (add) and diffed (sub, for "the last second" out of two
 * cumulative snapshots). Not thread-safe: one owner writes, others read copies. */
#ifndef BATTLED_BENCH_BB_HIST_H
#define BATTLED_BENCH_BB_HIST_H

#include <stdint.h>

#define BB_HIST_SUB_BITS 6                        /* 64 buckets per power of two */
#define BB_HIST_MAX ((UINT64_C(1) << 48) - 1)     /* largest value kept as is */
#define BB_HIST_BUCKETS (43 * (1 << BB_HIST_SUB_BITS)) /* covers 0..BB_HIST_MAX */

typedef struct bb_hist {
    uint64_t count;
    uint64_t sum;      /* of recorded (clamped) values, for the mean */
    uint64_t min, max; /* exact; min is UINT64_MAX while empty */
    uint64_t clamped;  /* values above BB_HIST_MAX */
    uint64_t b[BB_HIST_BUCKETS];
} bb_hist;

/* Empties h. */
void bb_hist_reset(bb_hist *h);

/* Records one value. */
void bb_hist_add(bb_hist *h, uint64_t v);

/* dst += src (bucket-wise; min/max combined). */
void bb_hist_merge(bb_hist *dst, const bb_hist *src);

/* out = now - before, where before is an earlier snapshot of the same histogram. min/max of the
 * difference are bucket bounds (the exact ones are not recoverable), clamped to now's max. */
void bb_hist_diff(bb_hist *out, const bb_hist *now, const bb_hist *before);

/* The value at quantile q (0..1): the highest value equivalent to the bucket holding it (never
 * above the recorded maximum), so a reported percentile is never optimistic. 0 when empty. */
uint64_t bb_hist_quantile(const bb_hist *h, double q);

/* Mean of the recorded values; 0 when empty. */
double bb_hist_mean(const bb_hist *h);

/* Bucket index of v, and the lowest / highest value of bucket i (exposed for tests). */
unsigned bb_hist_index(uint64_t v);
uint64_t bb_hist_low(unsigned i);
uint64_t bb_hist_high(unsigned i);

#endif
