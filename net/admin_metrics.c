/* admin_metrics: the /metrics page (Prometheus text 0.0.4) from the network thread's counters,
 * every shard's counters, the admin's own probes and the process. O(shards x (action types + error
 * codes)) per scrape, all relaxed loads; the names are listed in docs/OPERATIONS.md. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "net/admin_int.h"
#include "net/fdlimit.h"

#ifndef BATTLED_VERSION
#define BATTLED_VERSION "0.1.0"
#endif

#define LD(p) atomic_load_explicit(&(p), memory_order_relaxed)

/* Shard action-latency buckets: bucket i counts latencies below 2^i us (shards/game.c), so its
 * upper bound is 2^i us; the last bucket is the +Inf one. */
static const uint64_t action_bounds_us[SHARD_LATENCY_BUCKETS - 1] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};

static const char *const end_names[SHARD_END_REASONS] = {
    "destroyed", "forfeit", "disconnect", "timeouts", "draw", "abandoned", "shutdown"};

static void process_metrics(prom_out *o)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        prom_family(o, "process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
                    "counter");
        prom_sample_double(o, "process_cpu_seconds_total", NULL, 0, cpu);
    }
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long size = 0, resident = 0;
        if (fscanf(f, "%lu %lu", &size, &resident) == 2) {
            long page = sysconf(_SC_PAGESIZE);
            prom_gauge(o, "process_resident_memory_bytes", "Resident memory size in bytes.",
                       (double)resident * (double)(page > 0 ? page : 4096));
            prom_gauge(o, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       (double)size * (double)(page > 0 ? page : 4096));
        }
        fclose(f);
    }
}

/* The per-address caps and the WebSocket listeners (net/addrcap.h, net/ws_conn.c). */
static void ws_metrics(prom_out *o, const net_stats *st)
{
    prom_counter(o, "battled_connections_refused_by_address_total",
                 "Game connections refused over server.max_conns_per_addr.",
                 NET_STAT_GET(st, addr_conns_refused));
    prom_counter(o, "battled_handshakes_refused_by_address_total",
                 "Game connections refused over server.max_handshakes_per_addr.",
                 NET_STAT_GET(st, addr_handshakes_refused));
    prom_gauge(o, "battled_source_addresses", "Source addresses with a game connection.",
               (double)NET_STAT_GET(st, addr_tracked));
    prom_counter(o, "battled_ws_upgrades_total", "WebSocket upgrades accepted (101 sent).",
                 NET_STAT_GET(st, ws_upgrades));
    prom_family(o, "battled_ws_upgrades_refused_total", "WebSocket upgrades refused, by reason.",
                "counter");
    for (int r = 1; r < WS_HS_REFUSALS; r++) {
        prom_label l = {"reason", ws_hs_name(r)};
        prom_sample_u64(o, "battled_ws_upgrades_refused_total", &l, 1,
                        NET_STAT_GET(st, ws_refused[r]));
    }
    prom_counter(o, "battled_ws_http_errors_total",
                 "Malformed HTTP requests on the WebSocket listeners (400, 405, 413, 505).",
                 NET_STAT_GET(st, ws_http_errors));
    prom_counter(o, "battled_ws_http_too_large_total",
                 "HTTP request heads over the limits on the WebSocket listeners (431, 414).",
                 NET_STAT_GET(st, ws_http_too_large));
    prom_counter(o, "battled_ws_handshake_timeouts_total",
                 "Requests not received within ws.handshake_timeout_ms (408).",
                 NET_STAT_GET(st, ws_handshake_timeouts));
    prom_family(o, "battled_ws_closes_total",
                "WebSocket sessions ended by the client's close or a protocol violation, by reason.",
                "counter");
    for (int r = 1; r < WS_END_REASONS; r++) {
        prom_label l = {"reason", ws_end_name(r)};
        prom_sample_u64(o, "battled_ws_closes_total", &l, 1, NET_STAT_GET(st, ws_closes[r]));
    }
    prom_counter(o, "battled_ws_files_served_total", "Web page files served (200).",
                 NET_STAT_GET(st, ws_files_served));
    prom_counter(o, "battled_ws_files_not_found_total", "Web page requests answered 404.",
                 NET_STAT_GET(st, ws_files_not_found));
}

static void net_metrics(prom_out *o, const net_stats *st)
{
    prom_gauge(o, "battled_connections_current", "Open game connections (plain and TLS).",
               (double)NET_STAT_GET(st, conns_current));
    prom_counter(o, "battled_connections_accepted_total", "Game connections accepted.",
                 NET_STAT_GET(st, conns_total));
    prom_counter(o, "battled_connections_refused_total",
                 "Game connections refused over server.max_connections.",
                 NET_STAT_GET(st, conns_refused));
    prom_family(o, "battled_connections_closed_total", "Game connections closed, by reason.",
                "counter");
    for (int r = 0; r < NET_CLOSE_REASONS; r++) {
        prom_label l = {"reason", net_close_reason_name(r)};
        prom_sample_u64(o, "battled_connections_closed_total", &l, 1,
                        NET_STAT_GET(st, conns_closed[r]));
    }
    prom_counter(o, "battled_frames_received_total", "Frames read from clients.",
                 NET_STAT_GET(st, frames_in));
    prom_counter(o, "battled_frames_sent_total", "Messages queued to clients.",
                 NET_STAT_GET(st, frames_out));
    prom_counter(o, "battled_received_bytes_total", "Bytes read from game connections.",
                 NET_STAT_GET(st, bytes_in));
    prom_counter(o, "battled_sent_bytes_total", "Bytes queued to game connections.",
                 NET_STAT_GET(st, bytes_out));
    prom_counter(o, "battled_ratelimit_refusals_total",
                 "Actions refused by the per-connection rate limit.",
                 NET_STAT_GET(st, ratelimit_refusals));
    prom_counter(o, "battled_moved_replies_total",
                 "Battle-scoped requests answered with moved: the battle is held by another node.",
                 NET_STAT_GET(st, moved_replies));
    prom_counter(o, "battled_output_cap_cuts_total",
                 "Connections cut off because their unsent output passed server.output_cap.",
                 NET_STAT_GET(st, output_cap_cuts));
    prom_counter(o, "battled_output_dropped_gone_total",
                 "Shard output dropped because its connection had left.",
                 NET_STAT_GET(st, output_dropped_gone));
    prom_gauge(o, "battled_lobby_waiting", "Entries in the matchmaking queues.",
               (double)NET_STAT_GET(st, lobby_waiting));
    prom_counter(o, "battled_lobby_matches_total", "Pairs matched by the lobby.",
                 NET_STAT_GET(st, lobby_matches));
    prom_counter(o, "battled_queue_moved_total",
                 "Queue entries answered with moved: matched with a player of another node.",
                 NET_STAT_GET(st, queue_moved));
    prom_counter(o, "battled_queue_redirect_lost_total",
                 "Cross-node matches for an entry that had stopped waiting here meanwhile.",
                 NET_STAT_GET(st, queue_redirect_lost));
    prom_counter(o, "battled_queue_redirect_dropped_total",
                 "Cross-node matches refused: the network thread's redirect mailbox was full.",
                 NET_STAT_GET(st, queue_redirect_dropped));
    prom_counter(o, "battled_battles_created_total",
                 "Battles asked of the shards (matches, private and solo creates).",
                 NET_STAT_GET(st, battles_created));
    prom_counter(o, "battled_net_inbox_full_total",
                 "Pushes that found a shard inbox full (the connection's reads pause).",
                 NET_STAT_GET(st, inbox_full));
    prom_counter(o, "battled_net_ctl_parked_total",
                 "Control messages parked behind a full shard inbox.", NET_STAT_GET(st, ctl_parked));
    prom_counter(o, "battled_net_ctl_lost_total",
                 "Control messages lost: no memory to park them behind a full shard inbox.",
                 NET_STAT_GET(st, ctl_lost));
    prom_counter(o, "battled_net_reads_paused_total",
                 "Connections whose reads stopped on a full shard inbox.",
                 NET_STAT_GET(st, reads_paused));
    prom_counter(o, "battled_net_reads_resumed_total", "Paused connections resumed.",
                 NET_STAT_GET(st, reads_resumed));
    prom_counter(o, "battled_net_wakeups_sent_total",
                 "Wakeups sent by the network thread to shards.", NET_STAT_GET(st, wakeups_sent));
    prom_counter(o, "battled_net_wakeups_received_total",
                 "Wakeups the network thread received from shards.",
                 NET_STAT_GET(st, outbox_wakeups));
    prom_counter(o, "battled_tls_handshakes_total", "TLS handshakes completed.",
                 NET_STAT_GET(st, tls_handshakes));
    prom_counter(o, "battled_tls_handshakes_deferred_total",
                 "TLS handshake steps put off to the next loop pass.",
                 NET_STAT_GET(st, tls_handshakes_deferred));
    prom_counter(o, "battled_tls_reloads_total", "TLS certificate reloads (SIGHUP) that took effect.",
                 NET_STAT_GET(st, tls_reloads));
    prom_counter(o, "battled_tls_reload_failures_total",
                 "TLS certificate reloads refused (bad new pair; the old one stays).",
                 NET_STAT_GET(st, tls_reload_failures));
    prom_gauge(o, "battled_restarting", "1 once a restart (battles kept) began.",
               (double)NET_STAT_GET(st, restarting));
    ws_metrics(o, st);
    prom_gauge(o, "battled_draining", "1 once a graceful drain began.",
               (double)NET_STAT_GET(st, draining));
    prom_gauge(o, "battled_net_loop_lag_max_seconds",
               "Worst network-loop lag seen since start, in seconds.",
               (double)NET_STAT_GET(st, loop_lag_max_us) / 1e6);
}

/* Per-shard samples of one counter or gauge family. */
#define PER_SHARD(o, name, help, type, field)                                                      \
    do {                                                                                           \
        prom_family(o, name, help, type);                                                          \
        for (unsigned k_ = 0; k_ < n; k_++) {                                                      \
            prom_label l_ = {"shard", sid[k_]};                                                    \
            prom_sample_u64(o, name, &l_, 1, LD(ss[k_]->field));                                   \
        }                                                                                          \
    } while (0)

static void shard_metrics(admin *a, prom_out *o, const struct shard_stats *const *ss, unsigned n,
                          char (*sid)[12])
{
    uint64_t live = 0, started = 0, recovered = 0, adopted = 0, spect = 0, resumes = 0,
             takeovers = 0;
    uint64_t repeats = 0;
    uint64_t ended[SHARD_END_REASONS] = {0};
    uint64_t jdeg = 0, jrec = 0, jbytes = 0, jsync = 0, jwerr = 0, jserr = 0, jdrop = 0, jcomp = 0,
             jqueued = 0;
    uint64_t jcerr = 0, jfull = 0, jtorn = 0, jdmg = 0, jskip = 0;
    hist_snap lat = {.bounds_us = action_bounds_us, .nbounds = SHARD_LATENCY_BUCKETS - 1};
    uint64_t lat_sum_ns = 0;
    for (unsigned k = 0; k < n; k++) {
        const struct shard_stats *s = ss[k];
        live += LD(s->battles_live);
        started += LD(s->battles_started);
        recovered += LD(s->battles_recovered);
        adopted += LD(s->battles_adopted);
        spect += LD(s->spectators);
        resumes += LD(s->resumes);
        takeovers += LD(s->takeovers);
        repeats += LD(s->repeats);
        for (int r = 0; r < SHARD_END_REASONS; r++)
            ended[r] += LD(s->battles_ended[r]);
        jdeg += LD(s->journal_degraded) ? 1 : 0;
        jrec += LD(s->journal_records);
        jbytes += LD(s->journal_bytes);
        jsync += LD(s->journal_syncs);
        jwerr += LD(s->journal_write_errors);
        jserr += LD(s->journal_sync_errors);
        jdrop += LD(s->journal_records_dropped);
        jcomp += LD(s->journal_compactions);
        jcerr += LD(s->journal_compaction_errors);
        jfull += LD(s->journal_buffer_full_writes);
        jtorn += LD(s->journal_torn_tails);
        jdmg += LD(s->journal_damaged_regions);
        jskip += LD(s->journal_battles_skipped);
        jqueued += LD(s->journal_queued_bytes);
        for (int b = 0; b < SHARD_LATENCY_BUCKETS; b++)
            lat.buckets[b] += LD(s->action_latency[b]);
        lat_sum_ns += LD(s->action_latency_sum_ns);
    }
    lat.sum_us = lat_sum_ns / 1000;

    prom_gauge(o, "battled_battles_live", "Battles waiting for a second seat or running.",
               (double)live);
    prom_counter(o, "battled_battles_started_total", "Battles started.", started);
    prom_counter(o, "battled_battles_recovered_total", "Battles put back from the journal at start.",
                 recovered);
    prom_counter(o, "battled_battles_adopted_total",
                 "Battles of a failed node taken over from its journal (cluster failover).",
                 adopted);
    prom_family(o, "battled_battles_ended_total", "Battles ended, by reason.", "counter");
    for (int r = 0; r < SHARD_END_REASONS; r++) {
        prom_label l = {"reason", end_names[r]};
        prom_sample_u64(o, "battled_battles_ended_total", &l, 1, ended[r]);
    }
    prom_gauge(o, "battled_spectators", "Spectators attached.", (double)spect);
    prom_counter(o, "battled_resumes_total", "Seats taken back by token.", resumes);
    prom_counter(o, "battled_key_repeats_total",
                 "Create, join or queue requests repeated with their key: answered again.", repeats);
    prom_counter(o, "battled_takeovers_total", "Resumes that displaced a still-open connection.",
                 takeovers);

    prom_family(o, "battled_actions_total", "Battle-scoped requests handled by the shards, by type.",
                "counter");
    for (int t = 1; t < SHARD_ACTION_KINDS; t++) {
        const char *name = proto_type_name(t);
        uint64_t v = 0;
        for (unsigned k = 0; k < n; k++)
            v += LD(ss[k]->actions[t]);
        if (!name)
            continue;
        prom_label l = {"type", name};
        prom_sample_u64(o, "battled_actions_total", &l, 1, v);
    }

    /* Error replies from both sides, by code: the net thread's (before routing) and the shards'. */
    const net_stats *st = server_stats(a->srv);
    prom_family(o, "battled_errors_total", "Error replies sent to clients, by code.", "counter");
    uint64_t other = 0;
    for (int code = 1; code < NET_ERROR_CODES; code++) {
        uint64_t v = NET_STAT_GET(st, errors[code]);
        if (code < SHARD_ERROR_CODES)
            for (unsigned k = 0; k < n; k++)
                v += LD(ss[k]->errors[code]);
        const char *name = proto_error_name(code);
        if (!name) {
            other += v;
            continue;
        }
        prom_label l = {"code", name};
        prom_sample_u64(o, "battled_errors_total", &l, 1, v);
    }
    prom_label lo = {"code", "other"};
    prom_sample_u64(o, "battled_errors_total", &lo, 1, other);

    prom_family(o, "battled_action_latency_seconds",
                "Server-side time to handle a battle action on its shard, in seconds.",
                "histogram");
    prom_histogram_series(o, "battled_action_latency_seconds", NULL, 0, &lat);

    prom_gauge(o, "battled_shard_inbox_capacity", "Usable slots of each shard inbox.",
               (double)a->ring_capacity);
    prom_family(o, "battled_shard_inbox_depth", "Messages waiting in a shard's inbox.", "gauge");
    for (unsigned k = 0; k < n; k++) {
        unsigned free_slots = server_shards(a->srv) ? shards_inbox_free(server_shards(a->srv), k) : 0;
        prom_label l = {"shard", sid[k]};
        prom_sample_u64(o, "battled_shard_inbox_depth", &l, 1,
                        a->ring_capacity > free_slots ? a->ring_capacity - free_slots : 0);
    }
    PER_SHARD(o, "battled_shard_inbox_full_total", "Pushes that found the shard's inbox full.",
              "counter", inbox_full);
    PER_SHARD(o, "battled_shard_inbox_messages_total", "Messages the shard took from its inbox.",
              "counter", inbox_msgs);
    PER_SHARD(o, "battled_shard_inbox_pauses_total",
              "Times the shard stopped reading its inbox because its output was parked.", "counter",
              inbox_pauses);
    PER_SHARD(o, "battled_shard_outbox_messages_total", "Messages the shard put in its outbox.",
              "counter", outbox_msgs);
    PER_SHARD(o, "battled_shard_outbox_backlog", "Messages parked while the shard's outbox is full.",
              "gauge", outbox_backlog);
    PER_SHARD(o, "battled_shard_outbox_backlog_total", "Messages ever parked behind a full outbox.",
              "counter", outbox_backlog_msgs);
    PER_SHARD(o, "battled_shard_outbox_overflow_total",
              "Connections closed because the shard's outbox backlog was full.", "counter",
              outbox_overflow);
    PER_SHARD(o, "battled_shard_outbox_close_lost_total",
              "Frames lost without a close because the shard's close list was full.", "counter",
              outbox_close_lost);
    PER_SHARD(o, "battled_shard_outbox_nomem_total",
              "Frames too big for a slot dropped because memory ran out.", "counter", outbox_nomem);
    PER_SHARD(o, "battled_shard_wakeups_total", "Inbox wakeups the shard ran.", "counter", wakeups);
    PER_SHARD(o, "battled_shard_net_wakes_total", "Wakeups the shard sent to the network thread.",
              "counter", net_wakes);
    PER_SHARD(o, "battled_shard_inline_runs_total",
              "Times the network thread ran the shard's messages itself while the shard slept.",
              "counter", inline_runs);
    PER_SHARD(o, "battled_shard_inline_messages_total",
              "Messages the network thread handled for the shard (also in inbox_messages).",
              "counter", inline_msgs);
    PER_SHARD(o, "battled_shard_inline_busy_total",
              "Inline runs not done because the shard thread was running (it was woken).",
              "counter", inline_busy);
    PER_SHARD(o, "battled_shard_inline_wakes_total",
              "Inline runs after which the shard thread was woken anyway (timer, parked output).",
              "counter", inline_wakes);
    PER_SHARD(o, "battled_shard_timers_fired_total", "Battle timers fired on the shard.", "counter",
              timers_fired);
    prom_family(o, "battled_shard_loop_lag_max_seconds",
                "Worst timer lateness seen on the shard's loop, in seconds.", "gauge");
    for (unsigned k = 0; k < n; k++) {
        prom_label l = {"shard", sid[k]};
        prom_sample_double(o, "battled_shard_loop_lag_max_seconds", &l, 1,
                           (double)LD(ss[k]->loop_lag_us_max) / 1e6);
    }

    prom_gauge(o, "battled_journal_degraded_shards",
               "Shards whose journal fails (they refuse new battles).", (double)jdeg);
    prom_counter(o, "battled_journal_records_total", "Journal records appended.", jrec);
    prom_counter(o, "battled_journal_written_bytes_total", "Journal bytes written.", jbytes);
    prom_counter(o, "battled_journal_syncs_total", "Journal fdatasyncs done.", jsync);
    prom_counter(o, "battled_journal_write_errors_total", "Journal write failures.", jwerr);
    prom_counter(o, "battled_journal_sync_errors_total", "Journal sync failures.", jserr);
    prom_counter(o, "battled_journal_records_dropped_total", "Journal records lost while degraded.",
                 jdrop);
    prom_counter(o, "battled_journal_compactions_total", "Journal compactions.", jcomp);
    prom_counter(o, "battled_journal_compaction_errors_total",
                 "Journal compactions that failed (each retried after 10 s).", jcerr);
    prom_counter(o, "battled_journal_buffer_full_writes_total",
                 "Journal writes made early because the group-commit buffer was full.", jfull);
    prom_counter(o, "battled_journal_torn_tails_total",
                 "Log segment tails cut at start (a crash mid-write).", jtorn);
    prom_counter(o, "battled_journal_damaged_regions_total",
                 "Damaged journal regions skipped at start (persistence.skip_damaged).", jdmg);
    prom_counter(o, "battled_journal_battles_skipped_total",
                 "Battles left out at start as damaged (persistence.skip_damaged).", jskip);
    prom_gauge(o, "battled_journal_queued_bytes",
               "Journal bytes buffered or not yet acknowledged by the backend (Redis).",
               (double)jqueued);
}

static void admin_own_metrics(admin *a, prom_out *o, unsigned n, char (*sid)[12])
{
    prom_family(o, "battled_loop_lag_seconds",
                "Network-loop lag: lateness of a timer due every 250 ms, in seconds.", "histogram");
    hist_snap hs;
    hist_snapshot(&a->lag, &hs);
    prom_label net = {"thread", "net"};
    prom_histogram_series(o, "battled_loop_lag_seconds", &net, 1, &hs);
    prom_family(o, "battled_shard_heartbeat_seconds",
                "Round trip of a heartbeat through a shard's inbox, loop and outbox, in seconds: the "
                "shard's loop lag as the network thread sees it.",
                "histogram");
    for (unsigned k = 0; k < n; k++) {
        hist_snapshot(&a->hb_rtt[k], &hs);
        prom_label l = {"shard", sid[k]};
        prom_histogram_series(o, "battled_shard_heartbeat_seconds", &l, 1, &hs);
    }
    prom_gauge(o, "battled_admin_connections_current", "Open admin HTTP connections.",
               (double)a->nconns);
    prom_counter(o, "battled_admin_connections_accepted_total", "Admin HTTP connections served.",
                 a->conns_total);
    prom_counter(o, "battled_admin_connections_refused_total",
                 "Admin HTTP connections refused over the connection cap.", a->conns_refused);
    prom_counter(o, "battled_admin_timeouts_total",
                 "Admin HTTP connections closed for not finishing a request in time.", a->timeouts);
    prom_counter(o, "battled_admin_listing_timeouts_total",
                 "Battle listings abandoned because a shard did not answer in time.",
                 a->listing_timeouts);
    prom_family(o, "battled_admin_requests_total", "Admin HTTP responses, by status code.",
                "counter");
    char code[8];
    for (unsigned i = 0; i <= ADMIN_CODES; i++) {
        if (i < ADMIN_CODES)
            snprintf(code, sizeof code, "%d", admin_codes[i]);
        else
            snprintf(code, sizeof code, "other");
        prom_label l = {"code", code};
        prom_sample_u64(o, "battled_admin_requests_total", &l, 1, a->requests[i]);
    }
}

/* Matchmaking across cluster nodes (the cluster layer's counters; docs/CLUSTER.md). */
static void match_metrics(const admin *a, prom_out *o)
{
    if (!a->match_counters)
        return;
    struct server_match_counters m;
    memset(&m, 0, sizeof m);
    a->match_counters(a->match_arg, &m);
    prom_counter(o, "battled_cluster_queue_published_total",
                 "Queue entries of this node offered to the other nodes in Redis.", m.published);
    prom_counter(o, "battled_cluster_queue_matched_total",
                 "Entries of other nodes taken from Redis for a player waiting here.", m.matched);
    prom_counter(o, "battled_cluster_queue_stale_total",
                 "Entries of nodes no longer alive removed from the queues in Redis.", m.stale);
    prom_counter(o, "battled_cluster_queue_events_dropped_total",
                 "Queue events the cluster layer could not take: its queue was full.",
                 m.events_dropped);
    prom_counter(o, "battled_cluster_queue_errors_total",
                 "Matchmaking round trips to Redis that failed.", m.errors);
}

bool admin_render_metrics(admin *a)
{
    prom_out *o = &a->page;
    prom_out_reset(o);
    server *s = a->srv;
    unsigned n = a->nshards;
    /* Shards are gone only in the last moments of a stop; then report no shard. */
    const struct shard_stats *ss[SHARD_MAX_SHARDS];
    char sid[SHARD_MAX_SHARDS][12];
    for (unsigned k = 0; k < n; k++) {
        ss[k] = server_shard_stats(s, k);
        if (!ss[k])
            n = 0;
        snprintf(sid[k], sizeof sid[k], "%u", k);
    }
    prom_family(o, "battled_build_info", "Build information; the value is always 1.", "gauge");
    prom_label v = {"version", BATTLED_VERSION};
    prom_sample_u64(o, "battled_build_info", &v, 1, 1);
    prom_gauge(o, "battled_shards", "Shard threads.", (double)n);
    process_metrics(o);
    net_metrics(o, server_stats(s));
    fdlimit_metrics(server_fdlimit(s), o);
    shard_metrics(a, o, ss, n, sid);
    admin_own_metrics(a, o, n, sid);
    if (a->cluster_metrics)
        a->cluster_metrics(a->cluster_metrics_arg, o);
    match_metrics(a, o);
    return prom_out_ok(o);
}
