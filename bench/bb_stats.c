/* bb_stats: counters of a run; see bb_stats.h. */
#include "bench/bb_stats.h"

#include <stdio.h>
#include <string.h>

void bb_stats_reset(bb_stats *s)
{
    memset(s, 0, sizeof *s);
    bb_hist_reset(&s->lat_action);
    bb_hist_reset(&s->lat_steady);
    bb_hist_reset(&s->lat_other);
    bb_hist_reset(&s->lat_match);
    bb_hist_reset(&s->duration_ms);
    bb_hist_reset(&s->rounds);
}

void bb_stats_ship(bb_stats *s, const char *name, int won)
{
    for (unsigned i = 0; i < BB_SHIP_NAMES; i++) {
        bb_ship_count *c = &s->ships[i];
        if (!c->name[0])
            snprintf(c->name, sizeof c->name, "%s", name);
        if (strcmp(c->name, name) == 0) {
            c->battles++;
            c->wins += won ? 1u : 0u;
            return;
        }
    }
}

void bb_stats_merge(bb_stats *d, const bb_stats *s)
{
#define ADD(f) d->f += s->f
    ADD(started); ADD(finished); ADD(failed);
    for (int i = 0; i < BB_FAIL_COUNT; i++) ADD(fail[i]);
    for (int i = 0; i < PROTO_END_COUNT; i++) ADD(ended_reason[i]);
    ADD(wins_seat[0]); ADD(wins_seat[1]); ADD(draws);
    ADD(actions); ADD(turn_actions); ADD(reactions); ADD(other_requests);
    for (int i = 0; i < BB_ERR_CODES; i++) ADD(errors[i]);
    ADD(stale); ADD(turn_timeouts); ADD(frames_in); ADD(frames_out);
    ADD(connects); ADD(connect_errors); ADD(disconnects);
    ADD(disc_eof); ADD(disc_reset); ADD(disc_protocol); ADD(disc_other);
    ADD(conns_open); ADD(battles_running); ADD(seats_waiting);
    ADD(restart_notices); ADD(resumes); ADD(resume_failures); ADD(seq_gaps); ADD(seq_repeats);
    ADD(moved); ADD(moved_failed);
#undef ADD
    if (s->max_event_gap_ms > d->max_event_gap_ms)
        d->max_event_gap_ms = s->max_event_gap_ms;
    if (s->srv_welcomed) {
        d->srv_welcomed = 1;
        d->srv_rate = s->srv_rate;
        d->srv_burst = s->srv_burst;
        d->srv_max_seats = s->srv_max_seats;
    }
    if (s->last_connect_error)
        d->last_connect_error = s->last_connect_error;
    for (unsigned i = 0; i < BB_SHIP_NAMES && s->ships[i].name[0]; i++) {
        for (unsigned j = 0; j < BB_SHIP_NAMES; j++) {
            bb_ship_count *c = &d->ships[j];
            if (!c->name[0])
                memcpy(c->name, s->ships[i].name, sizeof c->name);
            if (strcmp(c->name, s->ships[i].name) == 0) {
                c->battles += s->ships[i].battles;
                c->wins += s->ships[i].wins;
                break;
            }
        }
    }
    bb_hist_merge(&d->lat_action, &s->lat_action);
    bb_hist_merge(&d->lat_steady, &s->lat_steady);
    bb_hist_merge(&d->lat_other, &s->lat_other);
    bb_hist_merge(&d->lat_match, &s->lat_match);
    bb_hist_merge(&d->duration_ms, &s->duration_ms);
    bb_hist_merge(&d->rounds, &s->rounds);
}

const char *bb_fail_name(int f)
{
    static const char *const names[BB_FAIL_COUNT] = {"timeout", "error", "disconnect", "ended_badly",
                                                      "start"};
    return f >= 0 && f < BB_FAIL_COUNT ? names[f] : "?";
}
