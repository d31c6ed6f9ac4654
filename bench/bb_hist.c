/* bb_hist: log-linear histogram; see bb_hist.h. */
#include "bench/bb_hist.h"

#include <string.h>

#define SUB (1u << BB_HIST_SUB_BITS)
#define EXACT (2u * SUB) /* values below this have a bucket of their own */

void bb_hist_reset(bb_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

unsigned bb_hist_index(uint64_t v)
{
    if (v > BB_HIST_MAX)
        v = BB_HIST_MAX;
    if (v < EXACT)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - BB_HIST_SUB_BITS;  /* keeps the top SUB_BITS+1 bits: 64..127 */
    return (shift + 1u) * SUB + (unsigned)((v >> shift) - SUB);
}

uint64_t bb_hist_low(unsigned i)
{
    if (i < EXACT)
        return i;
    unsigned shift = i / SUB - 1u;
    return (uint64_t)(i % SUB + SUB) << shift;
}

uint64_t bb_hist_high(unsigned i)
{
    if (i < EXACT)
        return i;
    unsigned shift = i / SUB - 1u;
    return ((uint64_t)(i % SUB + SUB + 1u) << shift) - 1u;
}

void bb_hist_add(bb_hist *h, uint64_t v)
{
    if (v > BB_HIST_MAX) {
        h->clamped++;
        v = BB_HIST_MAX;
    }
    h->b[bb_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void bb_hist_merge(bb_hist *dst, const bb_hist *src)
{
    for (unsigned i = 0; i < BB_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    dst->clamped += src->clamped;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

void bb_hist_diff(bb_hist *out, const bb_hist *now, const bb_hist *before)
{
    bb_hist_reset(out);
    unsigned lo = BB_HIST_BUCKETS, hi = 0;
    for (unsigned i = 0; i < BB_HIST_BUCKETS; i++) {
        uint64_t d = now->b[i] >= before->b[i] ? now->b[i] - before->b[i] : 0;
        out->b[i] = d;
        if (d) {
            if (lo == BB_HIST_BUCKETS)
                lo = i;
            hi = i;
        }
    }
    out->count = now->count >= before->count ? now->count - before->count : 0;
    out->sum = now->sum >= before->sum ? now->sum - before->sum : 0;
    out->clamped = now->clamped >= before->clamped ? now->clamped - before->clamped : 0;
    if (lo != BB_HIST_BUCKETS) {
        out->min = bb_hist_low(lo);
        out->max = bb_hist_high(hi) < now->max ? bb_hist_high(hi) : now->max;
    }
}

uint64_t bb_hist_quantile(const bb_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    /* rank of the value sought, 1-based: ceil(q * count) */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BB_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = bb_hist_high(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double bb_hist_mean(const bb_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
