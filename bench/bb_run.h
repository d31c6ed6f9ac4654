/* bb_run: one measured run: start the workers, watch them once a second (live progress line, the
 * latency-over-time timeline, the server's memory), move them through RUN -> STOP -> CLOSE, and
 * collect the merged result. */
#ifndef BATTLED_BENCH_BB_RUN_H
#define BATTLED_BENCH_BB_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/bb_opts.h"
#include "bench/bb_stats.h"
#include "bench/bb_sys.h"

#define BB_SAMPLE_MS 1000        /* timeline resolution */
#define BB_MAX_SAMPLES 100000    /* timeline entries kept (a day at one a second) */
#define BB_CONNECT_GIVEUP_S 15.0 /* no connection at all after this long: the run is aborted */

typedef struct bb_sample {
    double t;                    /* seconds since the run started */
    double actions_per_s, msgs_per_s;
    uint64_t p50_ns, p99_ns, max_ns; /* action latency within this second */
    uint64_t running, conns, finished, failed;
    uint64_t srv_rss;            /* 0 when unknown */
} bb_sample;

typedef struct bb_result {
    bb_opts o;                   /* the settings of this run (battles set per sweep step) */
    bb_stats st;                 /* merged over workers, at the end */
    uint32_t connections;        /* connections the layout asks for */
    bool aborted;                /* nothing could connect */
    double wall_s;               /* start to close */
    double run_s;                /* start to the end of new battles (duration or max-battles) */
    double ramp_s;               /* time until every battle slot was active */
    double bench_cpu_s;
    char srv_source[8];          /* "proc", "admin" or "" */
    bb_proc srv_start, srv_end;
    uint64_t srv_rss_peak;       /* highest RSS seen during the run */
    double steady_actions_per_s; /* median of the per-second rates between ramp end and stop */
    bb_sample *samples;
    uint32_t nsamples;
} bb_result;

/* Runs once with o. Returns 0, or -1 when the workers could not be created (res then holds what
 * is known). The caller frees res->samples with bb_result_free. */
int bb_run(const bb_opts *o, bb_result *res);

void bb_result_free(bb_result *res);

/* Connections a run with o opens. */
uint32_t bb_run_connections(const bb_opts *o);

#endif
