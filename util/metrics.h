/* metrics: what the admin /metrics endpoint needs, without knowing the server's structs.
 *
 * Two small pieces:
 * - hist_*: a fixed-bucket latency histogram that any thread may observe into with
 *   relaxed atomics (one per shard avoids sharing cache lines); the admin side takes a
 *   snapshot, may merge several (hist_snap_add), and renders it.
 * - prom_*: a writer of Prometheus text exposition format 0.0.4 into a growable buffer
 *   with a hard cap: # HELP / # TYPE headers, counter and gauge samples with escaped label
 *   values, and histograms as cumulative _bucket{le=...}, _sum and _count.
 *
 * Units: histograms take microseconds and render seconds (Prometheus's base unit), so
 * name them *_seconds. Counters should be named *_total (promtool's lint insists).
 * A snapshot taken while other threads observe is not atomic as a whole: a sample may be
 * in its bucket but not yet in the sum. Counts never go backwards, which is what
 * Prometheus's rate() needs.
 */
/* Layer: util/ API. */
#ifndef BATTLED_UTIL_METRICS_H
#define BATTLED_UTIL_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most finite buckets a histogram may have (the +Inf bucket comes on top). */
#define HIST_MAX_BUCKETS 24
/* Default hard cap of one rendered /metrics page; past it the page is marked overflowed. */
#define PROM_OUT_MAX_DEFAULT (4u << 20)
/* Longest label value rendered; a longer one is cut (at a UTF-8 boundary) and counted. */
#define PROM_LABEL_VALUE_MAX 256

/* Upper bounds in microseconds, from 50 us to 10 s: a request or a tick on a shard. */
extern const uint64_t hist_latency_bounds_us[];
extern const size_t hist_latency_nbounds;

typedef struct hist {
    const uint64_t *bounds_us; /* ascending, not owned (usually static) */
    size_t nbounds;
    _Atomic uint64_t buckets[HIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    _Atomic uint64_t sum_us;
} hist;

/* A plain copy of a histogram, cumulative-ready; safe to merge and render. */
typedef struct hist_snap {
    const uint64_t *bounds_us;
    size_t nbounds;
    uint64_t buckets[HIST_MAX_BUCKETS + 1];
    uint64_t sum_us;
} hist_snap;

/* Prepares h with the given bounds (ascending, at most HIST_MAX_BUCKETS, kept by
 * reference). Returns 0, or -1 when the bounds are unsorted, repeated or too many. Not
 * thread-safe: initialize before sharing. */
int hist_init(hist *h, const uint64_t *bounds_us, size_t nbounds);

/* Counts one observation of value_us microseconds into the first bucket whose bound is
 * >= value_us (le semantics). Lock-free, relaxed ordering, any thread. */
void hist_observe(hist *h, uint64_t value_us);

/* Copies h into s. Any thread; concurrent observations may or may not be included. */
void hist_snapshot(const hist *h, hist_snap *s);

/* Adds src into dst (per-shard histograms into one). Returns -1 if their bounds differ. */
int hist_snap_add(hist_snap *dst, const hist_snap *src);

/* Total observations in a snapshot (the +Inf cumulative count). */
uint64_t hist_snap_count(const hist_snap *s);

/* One label: name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"; value is
 * any NUL-terminated text (escaped on output). */
typedef struct prom_label {
    const char *name;
    const char *value;
} prom_label;

/* The output page. The writer functions never fail loudly: a bad name or running past
 * max sets a flag that prom_out_ok() reports, and the caller answers 500 instead. */
typedef struct prom_out {
    char *buf;        /* NUL-terminated text of length len (NULL before the first write) */
    size_t len, cap, max;
    bool overflow;    /* the page would have passed max */
    bool invalid;     /* a metric or label name was malformed, that sample was skipped */
    size_t truncated; /* label values cut at PROM_LABEL_VALUE_MAX */
} prom_out;

/* Prepares an empty page of at most max bytes (0: PROM_OUT_MAX_DEFAULT). */
void prom_out_init(prom_out *o, size_t max);
/* Empties the page and clears its flags, keeping the memory for the next scrape. */
void prom_out_reset(prom_out *o);
/* Frees the memory; o can be initialized again. */
void prom_out_free(prom_out *o);
/* True when everything written so far is on the page. */
bool prom_out_ok(const prom_out *o);

/* Content-Type of this format, for the HTTP response. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Writes "# HELP name help" (help escaped) and "# TYPE name type" once per family;
 * type is "counter", "gauge", "histogram" or "untyped". */
void prom_family(prom_out *o, const char *name, const char *help, const char *type);

/* One sample line "name{labels} value" (labels may be NULL when nlabels is 0). */
void prom_sample_u64(prom_out *o, const char *name, const prom_label *labels, size_t nlabels,
                     uint64_t value);
void prom_sample_i64(prom_out *o, const char *name, const prom_label *labels, size_t nlabels,
                     int64_t value);
/* Doubles print as the shortest exact form; NaN and infinities as NaN, +Inf, -Inf. */
void prom_sample_double(prom_out *o, const char *name, const prom_label *labels,
                        size_t nlabels, double value);

/* A family with one unlabelled sample: the common case of a process-wide number. */
void prom_counter(prom_out *o, const char *name, const char *help, uint64_t value);
void prom_gauge(prom_out *o, const char *name, const char *help, double value);

/* The samples of one histogram series: name_bucket{labels..., le="..."} cumulative for
 * each bound and +Inf, name_sum (seconds), name_count. Call prom_family(..., "histogram")
 * once before the first series of a family. */
void prom_histogram_series(prom_out *o, const char *name, const prom_label *labels,
                           size_t nlabels, const hist_snap *s);

/* prom_family + prom_histogram_series for a histogram with one unlabelled series. */
void prom_histogram(prom_out *o, const char *name, const char *help, const hist_snap *s);

#endif
