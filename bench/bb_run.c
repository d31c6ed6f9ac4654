/* bb_run: drives one run; see bb_run.h. */
#include "bench/bb_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bench/bb_worker.h"

#define POLL_MS 50 /* how often the main thread looks at the workers */

uint32_t bb_run_connections(const bb_opts *o)
{
    uint32_t total = 0;
    for (int t = 0; t < o->threads; t++) {
        uint32_t share = o->battles / (uint32_t)o->threads + ((uint32_t)t < o->battles % (uint32_t)o->threads);
        if (o->mode == BB_MODE_IDLE)
            total += share;
        else if (bb_opts_seats_per_battle(o) == 2)
            total += 2 * ((share + o->per_conn - 1) / o->per_conn);
        else
            total += (share + o->per_conn - 1) / o->per_conn;
    }
    return total;
}

static void nap(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bb_proc probe(const bb_opts *o, char *source)
{
    bb_proc p;
    memset(&p, 0, sizeof p);
    if (o->server_pid) {
        p = bb_sys_proc(o->server_pid);
        if (p.ok) {
            snprintf(source, 8, "proc");
            return p;
        }
    }
    if (o->admin.sin_port) {
        p = bb_sys_admin(&o->admin);
        if (p.ok)
            snprintf(source, 8, "admin");
    }
    return p;
}

static void merge_all(bb_worker **w, int n, bb_stats *out)
{
    static bb_stats one; /* main thread only; too big for the stack of small threads */
    bb_stats_reset(out);
    for (int i = 0; i < n; i++) {
        bb_worker_snapshot(w[i], &one);
        bb_stats_merge(out, &one);
    }
}

static void progress(const bb_opts *o, double t, const bb_stats *s, const bb_sample *last, bool final)
{
    fprintf(stderr,
            "\r%6.1fs  conn %-6llu run %-7llu fin %-8llu fail %-5llu act/s %-8.0f p99 %7.2f ms (1s) "
            "%7.2f ms (all) ",
            t, (unsigned long long)s->conns_open, (unsigned long long)s->battles_running,
            (unsigned long long)s->finished, (unsigned long long)s->failed,
            last ? last->actions_per_s : 0.0, last ? last->p99_ns / 1e6 : 0.0,
            bb_hist_quantile(&s->lat_action, 0.99) / 1e6);
    if (final)
        fputc('\n', stderr);
    (void)o;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int bb_run(const bb_opts *o, bb_result *res)
{
    memset(res, 0, sizeof *res);
    res->o = *o;
    res->connections = bb_run_connections(o);
    bb_stats_reset(&res->st);
    int show = o->progress < 0 ? isatty(STDERR_FILENO) : o->progress;

    bb_worker *w[BB_MAX_THREADS];
    int nw = 0;
    for (int t = 0; t < o->threads; t++) {
        uint32_t share = o->battles / (uint32_t)o->threads + ((uint32_t)t < o->battles % (uint32_t)o->threads);
        if (share == 0)
            continue;
        if (!(w[nw] = bb_worker_new(&res->o, t, share))) {
            fprintf(stderr, "battle-bench: out of memory creating worker %d\n", t);
            for (int i = 0; i < nw; i++) {
                bb_worker_set_phase(w[i], BB_PHASE_CLOSE);
                bb_worker_start(w[i]);
                bb_worker_join(w[i], NULL);
            }
            return -1;
        }
        nw++;
    }
    res->samples = calloc(BB_MAX_SAMPLES, sizeof *res->samples);

    res->srv_start = probe(o, res->srv_source);
    res->srv_rss_peak = res->srv_start.rss;
    double cpu0 = bb_sys_self_cpu();
    double t0 = bb_sys_now();
    for (int i = 0; i < nw; i++)
        bb_worker_start(w[i]);

    static bb_stats cur, prev;
    bb_stats_reset(&prev);
    bb_phase ph = BB_PHASE_RUN;
    double t_stop = 0, next_sample = BB_SAMPLE_MS / 1000.0, prev_t = 0;
    double ramp_end = o->ramp > 0 ? (double)o->battles / o->ramp : 0;
    res->ramp_s = ramp_end;
    for (;;) {
        nap(POLL_MS);
        double t = bb_sys_now() - t0;
        merge_all(w, nw, &cur);
        if (t >= next_sample && res->samples && res->nsamples < BB_MAX_SAMPLES) {
            next_sample += BB_SAMPLE_MS / 1000.0;
            bb_sample *sm = &res->samples[res->nsamples++];
            static bb_hist d;
            bb_hist_diff(&d, &cur.lat_action, &prev.lat_action);
            double dt = t - prev_t > 0 ? t - prev_t : 1;
            sm->t = t;
            sm->actions_per_s = (double)(cur.actions - prev.actions) / dt;
            sm->msgs_per_s = (double)(cur.frames_in + cur.frames_out - prev.frames_in - prev.frames_out) / dt;
            sm->p50_ns = bb_hist_quantile(&d, 0.5);
            sm->p99_ns = bb_hist_quantile(&d, 0.99);
            sm->max_ns = d.max;
            sm->running = cur.battles_running;
            sm->conns = cur.conns_open;
            sm->finished = cur.finished;
            sm->failed = cur.failed;
            if (o->server_pid) {
                bb_proc p = bb_sys_proc(o->server_pid);
                sm->srv_rss = p.ok ? p.rss : 0;
                if (p.rss > res->srv_rss_peak)
                    res->srv_rss_peak = p.rss;
            }
            prev = cur;
            prev_t = t;
            if (show)
                progress(o, t, &cur, sm, false);
        }
        if (ph == BB_PHASE_RUN) {
            bool done = t >= o->duration_s ||
                        (o->max_battles && cur.finished + cur.failed >= o->max_battles);
            if (!done && t >= BB_CONNECT_GIVEUP_S && cur.connects == 0) {
                fprintf(stderr, "\nbattle-bench: no connection after %.0f s (%llu errors, last: %s): "
                        "is the server running?\n", BB_CONNECT_GIVEUP_S,
                        (unsigned long long)cur.connect_errors,
                        cur.last_connect_error ? uv_err_name(-(int)cur.last_connect_error) : "none");
                res->aborted = true;
                done = true;
            }
            if (done) {
                ph = BB_PHASE_STOP;
                t_stop = t;
                res->run_s = t;
                for (int i = 0; i < nw; i++)
                    bb_worker_set_phase(w[i], ph);
            }
        } else if (ph == BB_PHASE_STOP) {
            /* the workers publish every BB_PUBLISH_MS: give them one period to show the stop */
            bool idle = t - t_stop > 2.0 * BB_PUBLISH_MS / 1000.0 && cur.battles_running == 0 &&
                        cur.seats_waiting == 0;
            if (idle || t - t_stop >= o->grace_s || res->aborted)
                break;
        }
    }
    /* the end of the measured window: resources first, then close */
    res->wall_s = bb_sys_now() - t0;
    res->bench_cpu_s = bb_sys_self_cpu() - cpu0;
    res->srv_end = probe(o, res->srv_source);
    if (res->srv_end.rss > res->srv_rss_peak)
        res->srv_rss_peak = res->srv_end.rss;
    if (res->srv_end.rss_peak > res->srv_rss_peak && o->server_pid && res->srv_start.rss_peak == 0)
        res->srv_rss_peak = res->srv_end.rss_peak;
    for (int i = 0; i < nw; i++)
        bb_worker_set_phase(w[i], BB_PHASE_CLOSE);
    bb_stats_reset(&res->st);
    for (int i = 0; i < nw; i++)
        bb_worker_join(w[i], &res->st);
    if (show)
        progress(o, res->wall_s, &res->st, res->nsamples ? &res->samples[res->nsamples - 1] : NULL, true);

    /* steady throughput: per-second rates after the ramp and before the stop */
    double *v = res->nsamples ? malloc(res->nsamples * sizeof *v) : NULL;
    uint32_t nv = 0;
    for (uint32_t i = 0; v && i < res->nsamples; i++)
        if (res->samples[i].t > ramp_end + 1.0 && res->samples[i].t <= (t_stop > 0 ? t_stop : res->wall_s))
            v[nv++] = res->samples[i].actions_per_s;
    if (nv) {
        qsort(v, nv, sizeof *v, cmp_double);
        res->steady_actions_per_s = v[nv / 2];
    } else if (res->wall_s > 0) {
        res->steady_actions_per_s = (double)cur.actions / res->wall_s;
    }
    free(v);
    return 0;
}

void bb_result_free(bb_result *res)
{
    free(res->samples);
    res->samples = NULL;
    res->nsamples = 0;
}
