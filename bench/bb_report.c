/* bb_report: tables and JSON; see bb_report.h. */
#include "bench/bb_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

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

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* The figures of one run. */
static bb_figures report_figures(const bb_result *r)
{
    const bb_stats *s = &r->st;
    bb_figures f;
    memset(&f, 0, sizeof f);
    uint64_t ended = s->finished + s->failed;
    f.success_pct = ended ? 100.0 * (double)s->finished / (double)ended : 100.0;
    f.duration_mean_s = bb_hist_mean(&s->duration_ms) / 1e3;
    f.duration_median_s = (double)bb_hist_quantile(&s->duration_ms, 0.5) / 1e3;
    f.p50_ms = ms(bb_hist_quantile(&s->lat_action, 0.5));
    f.p90_ms = ms(bb_hist_quantile(&s->lat_action, 0.9));
    f.p99_ms = ms(bb_hist_quantile(&s->lat_action, 0.99));
    f.p999_ms = ms(bb_hist_quantile(&s->lat_action, 0.999));
    f.max_ms = ms(s->lat_action.count ? s->lat_action.max : 0);
    f.sp50_ms = ms(bb_hist_quantile(&s->lat_steady, 0.5));
    f.sp99_ms = ms(bb_hist_quantile(&s->lat_steady, 0.99));
    f.sp999_ms = ms(bb_hist_quantile(&s->lat_steady, 0.999));
    f.smax_ms = ms(s->lat_steady.count ? s->lat_steady.max : 0);
    double wall = r->wall_s > 0 ? r->wall_s : 1;
    f.actions_per_s = (double)s->actions / wall;
    f.steady_actions_per_s = r->steady_actions_per_s;
    f.msgs_per_s = (double)(s->frames_in + s->frames_out) / wall;
    f.bench_cpu_pct = 100.0 * r->bench_cpu_s / wall;
    bool srv = r->srv_start.ok && r->srv_end.ok;
    f.srv_cpu_pct = srv ? 100.0 * (r->srv_end.cpu_s - r->srv_start.cpu_s) / wall : -1;
    f.srv_rss_mb = r->srv_end.ok ? (double)r->srv_end.rss / 1048576.0 : -1;
    f.srv_rss_peak_mb = r->srv_rss_peak ? (double)r->srv_rss_peak / 1048576.0 : -1;
    f.started = (double)s->started;
    f.finished = (double)s->finished;
    f.failed = (double)s->failed;
    f.unfinished = (double)s->battles_running;
    return f;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of each figure over n runs (n >= 1), and the minimum and maximum. */
static void report_median(const bb_figures *runs, int n, bb_figures *med, bb_figures *lo, bb_figures *hi)
{
    enum { NF = sizeof(bb_figures) / sizeof(double) };
    double v[BB_MAX_REPEAT];
    if (n > BB_MAX_REPEAT)
        n = BB_MAX_REPEAT;
    for (unsigned k = 0; k < NF; k++) {
        for (int i = 0; i < n; i++)
            v[i] = ((const double *)&runs[i])[k];
        qsort(v, (size_t)n, sizeof *v, cmp_double);
        /* the middle run; for an even count the mean of the two middle runs */
        ((double *)med)[k] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        ((double *)lo)[k] = v[0];
        ((double *)hi)[k] = v[n - 1];
    }
}

static const char *err_label(int code, char *buf, size_t n)
{
    const char *name = proto_error_name(code);
    if (name)
        return name;
    snprintf(buf, n, "code_%d", code);
    return buf;
}

void bb_report_table(FILE *f, const bb_result *r)
{
    const bb_stats *s = &r->st;
    const bb_opts *o = &r->o;
    bb_figures g = report_figures(r);
    fprintf(f, "\nbattle-bench%s%s%s: %u battles (%s), %u per connection, %u connections, %d thread(s), "
               "think %u ms +-%u%%, ramp %.0f/s, %.1f s\n",
            o->label[0] ? " [" : "", o->label, o->label[0] ? "]" : "", o->battles, bb_mode_name(o->mode),
            o->per_conn, r->connections, o->threads, o->think_ms, o->jitter_pct, o->ramp, r->wall_s);
    if (o->ws)
        fprintf(f, "  WebSocket (%s)\n", o->tls ? "wss" : "ws");
    if (o->tls || o->nsources)
        fprintf(f, "  %s%s%s%d source address(es)\n", o->tls ? "TLS" : "clear text",
                o->tls && o->tls_insecure ? " (no certificate verification)" : "", ", ",
                o->nsources ? o->nsources : 1);
    if (r->aborted)
        fprintf(f, "  ABORTED: no connection could be made\n");
    fprintf(f, "  battles     started %llu  finished %llu  failed %llu  cut off at the end %llu  "
               "success %.3f%%\n",
            (unsigned long long)s->started, (unsigned long long)s->finished, (unsigned long long)s->failed,
            (unsigned long long)s->battles_running, g.success_pct);
    if (s->failed) {
        fprintf(f, "  failures   ");
        for (int i = 0; i < BB_FAIL_COUNT; i++)
            if (s->fail[i])
                fprintf(f, " %s %llu", bb_fail_name(i), (unsigned long long)s->fail[i]);
        fputc('\n', f);
    }
    bool anyerr = false;
    for (int i = 0; i < BB_ERR_CODES; i++)
        anyerr |= s->errors[i] != 0;
    if (anyerr) {
        char buf[32];
        fprintf(f, "  errors     ");
        for (int i = 0; i < BB_ERR_CODES; i++)
            if (s->errors[i])
                fprintf(f, " %s %llu", err_label(i, buf, sizeof buf), (unsigned long long)s->errors[i]);
        fputc('\n', f);
    }
    fprintf(f, "  duration    mean %.2f s  median %.2f s  (finished battles)\n", g.duration_mean_s,
            g.duration_median_s);
    fprintf(f, "  latency     p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (%llu actions)\n",
            g.p50_ms, g.p90_ms, g.p99_ms, g.p999_ms, g.max_ms, (unsigned long long)s->lat_action.count);
    fprintf(f, "  steady      p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (%llu actions sent %.0f s after "
               "the ramp or later)\n",
            g.sp50_ms, g.sp99_ms, g.sp999_ms, g.smax_ms, (unsigned long long)s->lat_steady.count,
            o->warmup_s);
    fprintf(f, "  other req   p50 %.3f  p99 %.3f ms (hello/queue/create/join)  match wait p50 %.3f  p99 "
               "%.3f ms\n",
            ms(bb_hist_quantile(&s->lat_other, 0.5)), ms(bb_hist_quantile(&s->lat_other, 0.99)),
            ms(bb_hist_quantile(&s->lat_match, 0.5)), ms(bb_hist_quantile(&s->lat_match, 0.99)));
    fprintf(f, "  throughput  %.0f actions/s (steady %.0f)  %.0f messages/s  turn actions %llu  "
               "reactions %llu  stale %llu  turn timeouts %llu\n",
            g.actions_per_s, g.steady_actions_per_s, g.msgs_per_s, (unsigned long long)s->turn_actions,
            (unsigned long long)s->reactions, (unsigned long long)s->stale,
            (unsigned long long)s->turn_timeouts);
    fprintf(f, "  connections %llu made  %llu connect errors%s%s%s  %llu lost\n",
            (unsigned long long)s->connects, (unsigned long long)s->connect_errors,
            s->last_connect_error ? " (last " : "",
            s->last_connect_error ? uv_err_name(-(int)s->last_connect_error) : "",
            s->last_connect_error ? ")" : "", (unsigned long long)s->disconnects);
    if (s->restart_notices || s->resumes || s->resume_failures || s->seq_gaps || s->seq_repeats)
        fprintf(f, "  restarts    notices %llu  resumes %llu  resume failures %llu  seq gaps %llu  "
                   "seq repeats %llu  longest gap between events %llu ms\n",
                (unsigned long long)s->restart_notices, (unsigned long long)s->resumes,
                (unsigned long long)s->resume_failures, (unsigned long long)s->seq_gaps,
                (unsigned long long)s->seq_repeats, (unsigned long long)s->max_event_gap_ms);
    if (s->moved)
        fprintf(f, "  cluster     moved %llu  followed %llu  not followed %llu\n",
                (unsigned long long)s->moved, (unsigned long long)(s->moved - s->moved_failed),
                (unsigned long long)s->moved_failed);
    if (s->disconnects)
        fprintf(f, "  lost        closed by server %llu  reset %llu  undecodable %llu  other %llu\n",
                (unsigned long long)s->disc_eof, (unsigned long long)s->disc_reset,
                (unsigned long long)s->disc_protocol, (unsigned long long)s->disc_other);
    fprintf(f, "  outcomes    seat0 wins %llu  seat1 wins %llu  draws %llu  rounds mean %.1f median %llu "
               "max %llu\n",
            (unsigned long long)s->wins_seat[0], (unsigned long long)s->wins_seat[1],
            (unsigned long long)s->draws, bb_hist_mean(&s->rounds),
            (unsigned long long)bb_hist_quantile(&s->rounds, 0.5),
            (unsigned long long)(s->rounds.count ? s->rounds.max : 0));
    for (int i = 0; i < BB_SHIP_NAMES && s->ships[i].name[0]; i++)
        if (s->ships[i].battles)
            fprintf(f, "              %-20s battles %llu  wins %llu\n", s->ships[i].name,
                    (unsigned long long)s->ships[i].battles, (unsigned long long)s->ships[i].wins);
    fprintf(f, "  bench CPU   %.1f%% of a core (%.2f s)\n", g.bench_cpu_pct, r->bench_cpu_s);
    if (g.srv_cpu_pct >= 0)
        fprintf(f, "  server      CPU %.1f%% of a core  RSS %.1f MB at start, %.1f MB at end, %.1f MB peak "
                   "(from %s)\n",
                g.srv_cpu_pct, (double)r->srv_start.rss / 1048576.0, g.srv_rss_mb, g.srv_rss_peak_mb,
                r->srv_source);
    else
        fprintf(f, "  server      CPU/RSS unknown (give --server-pid or --admin)\n");
    if (s->srv_welcomed && s->srv_rate && o->think_ms < 1000u * o->per_conn / (unsigned)s->srv_rate)
        fprintf(f, "  note        the server limits each connection to %llu actions/s (burst %llu): this "
                   "pace exceeds it (rate_limited refusals are retried)\n",
                (unsigned long long)s->srv_rate, (unsigned long long)s->srv_burst);
}

void bb_report_sweep(FILE *f, const bb_result *runs, int nconc, int repeat)
{
    fprintf(f, "\n| concurrency | success %% | avg battle s | p50 ms | p99 ms | p99.9 ms | max ms | "
               "steady p99 ms | actions/s | bench CPU %% | server CPU %% | server RSS MB |\n");
    fprintf(f, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    bb_figures g[BB_MAX_REPEAT], med, lo, hi;
    for (int c = 0; c < nconc; c++) {
        for (int i = 0; i < repeat; i++)
            g[i] = report_figures(&runs[c * repeat + i]);
        report_median(g, repeat, &med, &lo, &hi);
        fprintf(f, "| %u | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f | ",
                runs[c * repeat].o.battles, med.success_pct, med.duration_mean_s, med.p50_ms, med.p99_ms,
                med.p999_ms, med.max_ms, med.sp99_ms, med.steady_actions_per_s, med.bench_cpu_pct);
        if (med.srv_cpu_pct >= 0)
            fprintf(f, "%.0f | %.1f |\n", med.srv_cpu_pct, med.srv_rss_peak_mb);
        else
            fprintf(f, "- | - |\n");
    }
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void jhist_ms(FILE *f, const bb_hist *h, double scale)
{
    fprintf(f, "{\"count\": %llu, \"mean\": %.6g, \"p50\": %.6g, \"p90\": %.6g, \"p99\": %.6g, "
               "\"p99.9\": %.6g, \"max\": %.6g}",
            (unsigned long long)h->count, bb_hist_mean(h) / scale, bb_hist_quantile(h, 0.5) / scale,
            bb_hist_quantile(h, 0.9) / scale, bb_hist_quantile(h, 0.99) / scale,
            bb_hist_quantile(h, 0.999) / scale, (h->count ? h->max : 0) / scale);
}

static void jfigures(FILE *f, const bb_figures *g)
{
    fprintf(f, "{\"success_pct\": %.4f, \"duration_mean_s\": %.4f, \"duration_median_s\": %.4f, "
               "\"p50_ms\": %.4f, \"p90_ms\": %.4f, \"p99_ms\": %.4f, \"p99.9_ms\": %.4f, \"max_ms\": %.4f, "
               "\"steady_p50_ms\": %.4f, \"steady_p99_ms\": %.4f, \"steady_p99.9_ms\": %.4f, "
               "\"steady_max_ms\": %.4f, "
               "\"actions_per_s\": %.1f, \"steady_actions_per_s\": %.1f, \"messages_per_s\": %.1f, "
               "\"bench_cpu_pct\": %.1f, \"server_cpu_pct\": %.1f, \"server_rss_mb\": %.2f, "
               "\"server_rss_peak_mb\": %.2f, \"started\": %.0f, \"finished\": %.0f, \"failed\": %.0f, "
               "\"unfinished\": %.0f}",
            g->success_pct, g->duration_mean_s, g->duration_median_s, g->p50_ms, g->p90_ms, g->p99_ms,
            g->p999_ms, g->max_ms, g->sp50_ms, g->sp99_ms, g->sp999_ms, g->smax_ms, g->actions_per_s, g->steady_actions_per_s, g->msgs_per_s,
            g->bench_cpu_pct, g->srv_cpu_pct, g->srv_rss_mb, g->srv_rss_peak_mb, g->started, g->finished,
            g->failed, g->unfinished);
}

static void jrun(FILE *f, const bb_result *r)
{
    const bb_stats *s = &r->st;
    const bb_opts *o = &r->o;
    bb_figures g = report_figures(r);
    fprintf(f, "{\"label\": ");
    jstr(f, o->label);
    fprintf(f, ", \"mode\": \"%s\", \"battles\": %u, \"per_conn\": %u, \"connections\": %u, "
               "\"think_ms\": %u, \"jitter_pct\": %u, \"ramp_per_s\": %.1f, \"duration_s\": %.1f, "
               "\"threads\": %d, ",
            bb_mode_name(o->mode), o->battles, o->per_conn, r->connections, o->think_ms, o->jitter_pct,
            o->ramp, o->duration_s, o->threads);
    fprintf(f, "\"ws\": %s, ", o->ws ? "true" : "false");
    fprintf(f, "\"tls\": %s, \"sources\": %d, \"ship\": ", o->tls ? "true" : "false",
            o->nsources ? o->nsources : 1);
    jstr(f, o->ship);
    fprintf(f, ", \"band\": \"%s\", \"aborted\": %s, \"wall_s\": %.3f, \"run_s\": %.3f, \"ramp_s\": %.3f,\n",
            proto_band_name(o->band), r->aborted ? "true" : "false", r->wall_s, r->run_s, r->ramp_s);
    fprintf(f, "  \"figures\": ");
    jfigures(f, &g);
    fprintf(f, ",\n  \"battles_started\": %llu, \"battles_finished\": %llu, \"battles_failed\": %llu, "
               "\"battles_unfinished\": %llu, \"failures\": {",
            (unsigned long long)s->started, (unsigned long long)s->finished, (unsigned long long)s->failed,
            (unsigned long long)s->battles_running);
    for (int i = 0; i < BB_FAIL_COUNT; i++)
        fprintf(f, "%s\"%s\": %llu", i ? ", " : "", bb_fail_name(i), (unsigned long long)s->fail[i]);
    fprintf(f, "}, \"errors\": {");
    bool first = true;
    char buf[32];
    for (int i = 0; i < BB_ERR_CODES; i++)
        if (s->errors[i]) {
            fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", err_label(i, buf, sizeof buf),
                    (unsigned long long)s->errors[i]);
            first = false;
        }
    fprintf(f, "},\n  \"stale\": %llu, \"turn_timeouts\": %llu, \"actions\": %llu, "
               "\"turn_actions\": %llu, \"reactions\": %llu, \"other_requests\": %llu, \"frames_in\": %llu, "
               "\"frames_out\": %llu,\n",
            (unsigned long long)s->stale, (unsigned long long)s->turn_timeouts,
            (unsigned long long)s->actions, (unsigned long long)s->turn_actions,
            (unsigned long long)s->reactions, (unsigned long long)s->other_requests,
            (unsigned long long)s->frames_in, (unsigned long long)s->frames_out);
    fprintf(f, "  \"latency_ms\": ");
    jhist_ms(f, &s->lat_action, 1e6);
    fprintf(f, ",\n  \"steady_latency_ms\": ");
    jhist_ms(f, &s->lat_steady, 1e6);
    fprintf(f, ",\n  \"other_latency_ms\": ");
    jhist_ms(f, &s->lat_other, 1e6);
    fprintf(f, ",\n  \"match_wait_ms\": ");
    jhist_ms(f, &s->lat_match, 1e6);
    fprintf(f, ",\n  \"battle_duration_s\": ");
    jhist_ms(f, &s->duration_ms, 1e3);
    fprintf(f, ",\n  \"connects\": %llu, \"connect_errors\": %llu, \"last_connect_error\": ",
            (unsigned long long)s->connects, (unsigned long long)s->connect_errors);
    jstr(f, s->last_connect_error ? uv_err_name(-(int)s->last_connect_error) : "");
    fprintf(f, ", \"disconnects\": %llu, \"lost\": {\"closed_by_server\": %llu, \"reset\": %llu, "
               "\"undecodable\": %llu, \"other\": %llu},\n",
            (unsigned long long)s->disconnects, (unsigned long long)s->disc_eof,
            (unsigned long long)s->disc_reset, (unsigned long long)s->disc_protocol,
            (unsigned long long)s->disc_other);
    fprintf(f, "  \"restart_notices\": %llu, \"resumes\": %llu, \"resume_failures\": %llu, "
               "\"seq_gaps\": %llu, \"seq_repeats\": %llu, \"max_event_gap_ms\": %llu,\n",
            (unsigned long long)s->restart_notices, (unsigned long long)s->resumes,
            (unsigned long long)s->resume_failures, (unsigned long long)s->seq_gaps,
            (unsigned long long)s->seq_repeats, (unsigned long long)s->max_event_gap_ms);
    fprintf(f, "  \"moved\": %llu, \"moved_failed\": %llu,\n", (unsigned long long)s->moved,
            (unsigned long long)s->moved_failed);
    fprintf(f, "  \"outcomes\": {\"wins_seat0\": %llu, \"wins_seat1\": %llu, \"draws\": %llu, \"ended\": {",
            (unsigned long long)s->wins_seat[0], (unsigned long long)s->wins_seat[1],
            (unsigned long long)s->draws);
    first = true;
    for (int i = 1; i < PROTO_END_COUNT; i++) {
        fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", proto_reason_name(i) ? proto_reason_name(i) : "?",
                (unsigned long long)s->ended_reason[i]);
        first = false;
    }
    fprintf(f, "}, \"ships\": [");
    first = true;
    for (int i = 0; i < BB_SHIP_NAMES && s->ships[i].name[0]; i++) {
        if (!s->ships[i].battles)
            continue;
        fprintf(f, "%s{\"ship\": ", first ? "" : ", ");
        jstr(f, s->ships[i].name);
        fprintf(f, ", \"battles\": %llu, \"wins\": %llu}", (unsigned long long)s->ships[i].battles,
                (unsigned long long)s->ships[i].wins);
        first = false;
    }
    fprintf(f, "], \"rounds\": ");
    jhist_ms(f, &s->rounds, 1.0);
    fprintf(f, "},\n  \"bench_cpu_s\": %.3f, \"server\": {\"source\": ", r->bench_cpu_s);
    jstr(f, r->srv_source);
    fprintf(f, ", \"cpu_s\": %.3f, \"rss_start\": %llu, \"rss_end\": %llu, \"rss_peak\": %llu, "
               "\"threads\": %d},\n",
            r->srv_end.ok && r->srv_start.ok ? r->srv_end.cpu_s - r->srv_start.cpu_s : -1.0,
            (unsigned long long)r->srv_start.rss, (unsigned long long)r->srv_end.rss,
            (unsigned long long)r->srv_rss_peak, r->srv_end.threads);
    fprintf(f, "  \"server_limits\": {\"rate\": %llu, \"burst\": %llu, \"max_seats\": %llu},\n",
            (unsigned long long)s->srv_rate, (unsigned long long)s->srv_burst,
            (unsigned long long)s->srv_max_seats);
    fprintf(f, "  \"timeline\": [");
    for (uint32_t i = 0; i < r->nsamples; i++) {
        const bb_sample *m = &r->samples[i];
        fprintf(f, "%s\n    {\"t\": %.2f, \"actions_per_s\": %.1f, \"messages_per_s\": %.1f, \"p50_ms\": %.4f, "
                   "\"p99_ms\": %.4f, \"max_ms\": %.4f, \"running\": %llu, \"conns\": %llu, "
                   "\"finished\": %llu, \"failed\": %llu, \"server_rss\": %llu}",
                i ? "," : "", m->t, m->actions_per_s, m->msgs_per_s, ms(m->p50_ns), ms(m->p99_ns),
                ms(m->max_ns), (unsigned long long)m->running, (unsigned long long)m->conns,
                (unsigned long long)m->finished, (unsigned long long)m->failed,
                (unsigned long long)m->srv_rss);
    }
    fprintf(f, "]}");
}

int bb_report_json(const char *path, const bb_result *runs, int nconc, int repeat, int argc, char **argv)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    fprintf(f, "{\"tool\": \"battle-bench\", \"format\": 1, \"argv\": [");
    for (int i = 0; i < argc; i++) {
        if (i)
            fputs(", ", f);
        jstr(f, argv[i]);
    }
    fprintf(f, "],\n \"host\": {\"cpus\": %ld, \"nofile\": %llu},\n \"repeat\": %d, \"runs\": [\n",
            sysconf(_SC_NPROCESSORS_ONLN), (unsigned long long)rl.rlim_cur, repeat);
    for (int i = 0; i < nconc * repeat; i++) {
        if (i)
            fputs(",\n", f);
        jrun(f, &runs[i]);
    }
    fprintf(f, "],\n \"summary\": [");
    bb_figures g[BB_MAX_REPEAT], med, lo, hi;
    for (int c = 0; c < nconc; c++) {
        for (int i = 0; i < repeat; i++)
            g[i] = report_figures(&runs[c * repeat + i]);
        report_median(g, repeat, &med, &lo, &hi);
        fprintf(f, "%s\n  {\"concurrency\": %u, \"runs\": %d, \"median\": ", c ? "," : "",
                runs[c * repeat].o.battles, repeat);
        jfigures(f, &med);
        fprintf(f, ",\n   \"min\": ");
        jfigures(f, &lo);
        fprintf(f, ",\n   \"max\": ");
        jfigures(f, &hi);
        fputc('}', f);
    }
    fprintf(f, "],\n \"sweep\": %s}\n", nconc > 1 ? "true" : "false");
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}
