/* metrics: lock-free histograms and a Prometheus text format 0.0.4 writer (see metrics.h).
 * Format reference: https://prometheus.io/docs/instrumenting/exposition_formats/ */
#include "util/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint64_t hist_latency_bounds_us[] = {
    50,     100,    250,    500,     1000,    2500,    5000,    10000,   25000,
    50000,  100000, 250000, 500000,  1000000, 2500000, 5000000, 10000000,
};
const size_t hist_latency_nbounds = sizeof hist_latency_bounds_us / sizeof(uint64_t);

int hist_init(hist *h, const uint64_t *bounds_us, size_t nbounds)
{
    if (nbounds > HIST_MAX_BUCKETS)
        return -1;
    for (size_t i = 1; i < nbounds; i++)
        if (bounds_us[i] <= bounds_us[i - 1])
            return -1;
    h->bounds_us = bounds_us;
    h->nbounds = nbounds;
    for (size_t i = 0; i <= HIST_MAX_BUCKETS; i++)
        atomic_init(&h->buckets[i], 0);
    atomic_init(&h->sum_us, 0);
    return 0;
}

void hist_observe(hist *h, uint64_t value_us)
{
    size_t lo = 0, hi = h->nbounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->bounds_us[mid] >= value_us)
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, value_us, memory_order_relaxed);
}

void hist_snapshot(const hist *h, hist_snap *s)
{
    memset(s, 0, sizeof *s);
    s->bounds_us = h->bounds_us;
    s->nbounds = h->nbounds;
    for (size_t i = 0; i <= h->nbounds; i++)
        s->buckets[i] = atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    s->sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

int hist_snap_add(hist_snap *dst, const hist_snap *src)
{
    if (dst->nbounds != src->nbounds)
        return -1;
    if (dst->bounds_us != src->bounds_us &&
        memcmp(dst->bounds_us, src->bounds_us, src->nbounds * sizeof(uint64_t)) != 0)
        return -1;
    for (size_t i = 0; i <= src->nbounds; i++)
        dst->buckets[i] += src->buckets[i];
    dst->sum_us += src->sum_us;
    return 0;
}

uint64_t hist_snap_count(const hist_snap *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= s->nbounds; i++)
        n += s->buckets[i];
    return n;
}

void prom_out_init(prom_out *o, size_t max)
{
    memset(o, 0, sizeof *o);
    o->max = max ? max : PROM_OUT_MAX_DEFAULT;
}

void prom_out_reset(prom_out *o)
{
    o->len = 0;
    if (o->buf)
        o->buf[0] = '\0';
    o->overflow = o->invalid = false;
    o->truncated = 0;
}

void prom_out_free(prom_out *o)
{
    free(o->buf);
    prom_out_init(o, o->max);
}

bool prom_out_ok(const prom_out *o)
{
    return !o->overflow && !o->invalid;
}

/* Appends n bytes, growing by doubling up to max (the NUL terminator included). */
static void put(prom_out *o, const char *s, size_t n)
{
    if (o->overflow)
        return;
    size_t need = o->len + n + 1;
    if (need > o->max) {
        o->overflow = true;
        return;
    }
    if (need > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < need)
            cap *= 2;
        if (cap > o->max)
            cap = o->max;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->overflow = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void puts_(prom_out *o, const char *s)
{
    put(o, s, strlen(s));
}

static bool is_alpha_(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool valid_metric_name(const char *s)
{
    if (!s || !(is_alpha_(*s) || *s == ':'))
        return false;
    for (; *s; s++)
        if (!(is_alpha_(*s) || is_digit(*s) || *s == ':'))
            return false;
    return true;
}

/* Label names: [a-zA-Z_][a-zA-Z0-9_]*, "__" prefix reserved for Prometheus itself. */
static bool valid_label_name(const char *s)
{
    if (!s || !is_alpha_(*s) || strncmp(s, "__", 2) == 0)
        return false;
    for (; *s; s++)
        if (!(is_alpha_(*s) || is_digit(*s)))
            return false;
    return true;
}

/* Writes s with \\ and \n escaped, plus \" when quoted (label values). */
static void put_escaped(prom_out *o, const char *s, size_t n, bool quoted)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        if (s[i] == '\\')
            esc = "\\\\";
        else if (s[i] == '\n')
            esc = "\\n";
        else if (quoted && s[i] == '"')
            esc = "\\\"";
        if (esc) {
            put(o, s + run, i - run);
            put(o, esc, 2);
            run = i + 1;
        }
    }
    put(o, s + run, n - run);
}

static void put_label_value(prom_out *o, const char *v)
{
    size_t n = strlen(v);
    if (n > PROM_LABEL_VALUE_MAX) {
        n = PROM_LABEL_VALUE_MAX;
        /* Do not split a UTF-8 sequence: back up over continuation bytes. */
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
        o->truncated++;
    }
    put(o, "\"", 1);
    put_escaped(o, v, n, true);
    put(o, "\"", 1);
}

/* Renders microseconds as seconds, exactly and without trailing zeros ("0.00025", "1"). */
static void fmt_seconds(char *out, size_t cap, uint64_t us)
{
    uint64_t whole = us / 1000000u, frac = us % 1000000u;
    if (frac == 0) {
        snprintf(out, cap, "%" PRIu64, whole);
        return;
    }
    int digits = 6;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    snprintf(out, cap, "%" PRIu64 ".%0*" PRIu64, whole, digits, frac);
}

static void fmt_double(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, cap, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, cap, "%.17g", v);
    }
}

/* One line: name+suffix{labels[,le="le"]} value. Bad names skip the line and flag it. */
static void sample(prom_out *o, const char *name, const char *suffix, const prom_label *labels,
                   size_t nlabels, const char *le, const char *value)
{
    if (!valid_metric_name(name)) {
        o->invalid = true;
        return;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_label_name(labels[i].name) || !labels[i].value ||
            (le && strcmp(labels[i].name, "le") == 0)) {
            o->invalid = true;
            return;
        }
    }
    puts_(o, name);
    puts_(o, suffix);
    if (nlabels > 0 || le) {
        put(o, "{", 1);
        for (size_t i = 0; i < nlabels; i++) {
            if (i > 0)
                put(o, ",", 1);
            puts_(o, labels[i].name);
            put(o, "=", 1);
            put_label_value(o, labels[i].value);
        }
        if (le) {
            if (nlabels > 0)
                put(o, ",", 1);
            put(o, "le=\"", 4);
            puts_(o, le);
            put(o, "\"", 1);
        }
        put(o, "}", 1);
    }
    put(o, " ", 1);
    puts_(o, value);
    put(o, "\n", 1);
}

void prom_family(prom_out *o, const char *name, const char *help, const char *type)
{
    if (!valid_metric_name(name) || !type ||
        (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0 &&
         strcmp(type, "histogram") != 0 && strcmp(type, "untyped") != 0)) {
        o->invalid = true;
        return;
    }
    if (help) {
        puts_(o, "# HELP ");
        puts_(o, name);
        put(o, " ", 1);
        put_escaped(o, help, strlen(help), false);
        put(o, "\n", 1);
    }
    puts_(o, "# TYPE ");
    puts_(o, name);
    put(o, " ", 1);
    puts_(o, type);
    put(o, "\n", 1);
}

void prom_sample_u64(prom_out *o, const char *name, const prom_label *labels, size_t nlabels,
                     uint64_t value)
{
    char v[32];
    snprintf(v, sizeof v, "%" PRIu64, value);
    sample(o, name, "", labels, nlabels, NULL, v);
}

void prom_sample_i64(prom_out *o, const char *name, const prom_label *labels, size_t nlabels,
                     int64_t value)
{
    char v[32];
    snprintf(v, sizeof v, "%" PRId64, value);
    sample(o, name, "", labels, nlabels, NULL, v);
}

void prom_sample_double(prom_out *o, const char *name, const prom_label *labels,
                        size_t nlabels, double value)
{
    char v[40];
    fmt_double(v, sizeof v, value);
    sample(o, name, "", labels, nlabels, NULL, v);
}

void prom_counter(prom_out *o, const char *name, const char *help, uint64_t value)
{
    prom_family(o, name, help, "counter");
    prom_sample_u64(o, name, NULL, 0, value);
}

void prom_gauge(prom_out *o, const char *name, const char *help, double value)
{
    prom_family(o, name, help, "gauge");
    prom_sample_double(o, name, NULL, 0, value);
}

void prom_histogram_series(prom_out *o, const char *name, const prom_label *labels,
                           size_t nlabels, const hist_snap *s)
{
    char le[32], v[32];
    uint64_t cum = 0;
    for (size_t i = 0; i < s->nbounds; i++) {
        cum += s->buckets[i];
        fmt_seconds(le, sizeof le, s->bounds_us[i]);
        snprintf(v, sizeof v, "%" PRIu64, cum);
        sample(o, name, "_bucket", labels, nlabels, le, v);
    }
    cum += s->buckets[s->nbounds];
    snprintf(v, sizeof v, "%" PRIu64, cum);
    sample(o, name, "_bucket", labels, nlabels, "+Inf", v);
    fmt_seconds(v, sizeof v, s->sum_us);
    sample(o, name, "_sum", labels, nlabels, NULL, v);
    snprintf(v, sizeof v, "%" PRIu64, cum);
    sample(o, name, "_count", labels, nlabels, NULL, v);
}

void prom_histogram(prom_out *o, const char *name, const char *help, const hist_snap *s)
{
    prom_family(o, name, help, "histogram");
    prom_histogram_series(o, name, NULL, 0, s);
}
