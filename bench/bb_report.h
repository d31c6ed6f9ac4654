/* bb_report: a run's figures as a table for people and as JSON for tools (bench/plot.py), plus the
 * sweep table (the original load test's columns with latency added) and the median over repeats. */
#ifndef BATTLED_BENCH_BB_REPORT_H
#define BATTLED_BENCH_BB_REPORT_H

#include <stdio.h>

#include "bench/bb_run.h"

/* Prints one run as a table. */
void bb_report_table(FILE *f, const bb_result *r);

/* Prints the sweep table: one row per concurrency, the median of its runs. */
void bb_report_sweep(FILE *f, const bb_result *runs, int nconc, int repeat);

/* Writes every run (nconc * repeat, concurrency-major) with its timeline, the medians and, when
 * sweeping, the sweep rows, as JSON to path. Returns 0 or -1 (errno set). */
int bb_report_json(const char *path, const bb_result *runs, int nconc, int repeat, int argc, char **argv);

#endif
