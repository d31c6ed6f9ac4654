/* bb_report: a run's figures as a table for people and as JSON for tools (bench/plot.py), plus the
 * sweep table (the original load test's columns with latency added) and the median over repeats. */
#ifndef BATTLED_BENCH_BB_REPORT_H
#define BATTLED_BENCH_BB_REPORT_H

#include <stdio.h>

#include "bench/bb_run.h"

/* Figures a summary compares across runs. */
typedef struct bb_figures {
    double success_pct;      /* finished / (finished + failed); 100 when nothing ended */
    double duration_mean_s, duration_median_s;
    double p50_ms, p90_ms, p99_ms, p999_ms, max_ms;  /* all actions */
    double sp50_ms, sp99_ms, sp999_ms, smax_ms;      /* steady state: after ramp + warm-up */
    double actions_per_s, steady_actions_per_s, msgs_per_s;
    double bench_cpu_pct, srv_cpu_pct; /* percent of one core; srv < 0 when unknown */
    double srv_rss_mb, srv_rss_peak_mb; /* < 0 when unknown */
    double started, finished, failed, unfinished;
} bb_figures;

/* The figures of one run. */
bb_figures bb_report_figures(const bb_result *r);

/* The median of each figure over n runs (n >= 1), and the minimum and maximum. */
void bb_report_median(const bb_figures *runs, int n, bb_figures *med, bb_figures *lo, bb_figures *hi);

/* Prints one run as a table. */
void bb_report_table(FILE *f, const bb_result *r);

/* Prints the sweep table: one row per concurrency, the median of its runs. */
void bb_report_sweep(FILE *f, const bb_result *runs, int nconc, int repeat);

/* Writes every run (nconc * repeat, concurrency-major) with its timeline, the medians and, when
 * sweeping, the sweep rows, as JSON to path. Returns 0 or -1 (errno set). */
int bb_report_json(const char *path, const bb_result *runs, int nconc, int repeat, int argc, char **argv);

#endif
