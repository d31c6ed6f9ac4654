/* battle-bench: the battled load generator. Plays real battles (matchmaking, create/join, or solo
 * against the server's opponent) over many connections, with a scripted legal policy, and reports
 * success, latency percentiles, throughput, outcomes and the CPU and memory both sides used.
 * See docs/BENCHMARKS.md for the scenarios and bench/run-all for the full suite. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench/bb_opts.h"
#include "bench/bb_report.h"
#include "bench/bb_run.h"

/* Connections from one source address to one address:port past which Linux's connect() slows down: it tries one parity of
 * the ephemeral range (28,232 ports by default) first, so about half of it. */
#define BB_CONNECT_SLOW_PER_TARGET 14000u

/* Raises the open-file limit to the hard limit and says when the run needs more than that. */
static void check_files(const bb_opts *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    uint32_t most = 0;
    bb_opts t = *o;
    for (int i = 0; i < (o->nsweep ? o->nsweep : 1); i++) {
        if (o->nsweep)
            t.battles = o->sweep[i];
        uint32_t n = bb_run_connections(&t);
        if (n > most)
            most = n;
    }
    if ((rlim_t)most + 64 > rl.rlim_cur)
        fprintf(stderr, "battle-bench: warning: %u connections but the open-file limit is %llu: use "
                        "--per-conn to multiplex, or run several bench processes\n",
                most, (unsigned long long)rl.rlim_cur);
    uint32_t pairs = (uint32_t)o->ntargets * (uint32_t)(o->nsources ? o->nsources : 1);
    if (most / pairs > BB_CONNECT_SLOW_PER_TARGET)
        fprintf(stderr, "battle-bench: warning: %u connections per source and server address: past "
                        "about %u, connect() searches the ephemeral port range for seconds and stalls "
                        "the bench during the ramp (give --sources N, several --server addresses, or "
                        "--per-conn)\n",
                most / pairs, BB_CONNECT_SLOW_PER_TARGET);
}

int main(int argc, char **argv)
{
    static bb_opts o;
    int rc = bb_opts_parse(&o, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    check_files(&o);

    int nconc = o.nsweep ? o.nsweep : 1;
    bb_result *runs = calloc((size_t)nconc * (size_t)o.repeat, sizeof *runs);
    if (!runs) {
        fprintf(stderr, "battle-bench: out of memory\n");
        return 1;
    }
    int failed = 0;
    for (int c = 0; c < nconc; c++) {
        bb_opts one = o;
        if (o.nsweep)
            one.battles = o.sweep[c];
        for (int i = 0; i < o.repeat; i++) {
            bb_result *r = &runs[c * o.repeat + i];
            if (bb_run(&one, r) != 0)
                failed = 1;
            bb_report_table(stdout, r);
            fflush(stdout);
            if (r->aborted)
                failed = 1;
        }
    }
    if (o.nsweep || o.repeat > 1) {
        if (o.repeat > 1)
            printf("\nmedian of %d runs per row:\n", o.repeat);
        bb_report_sweep(stdout, runs, nconc, o.repeat);
    }
    if (o.json_path[0] && bb_report_json(o.json_path, runs, nconc, o.repeat, argc, argv) != 0) {
        fprintf(stderr, "battle-bench: cannot write %s: %s\n", o.json_path, strerror(errno));
        failed = 1;
    }
    for (int i = 0; i < nconc * o.repeat; i++)
        bb_result_free(&runs[i]);
    free(runs);
    return failed;
}
