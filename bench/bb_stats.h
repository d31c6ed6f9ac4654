/* bb_stats: what one battle-bench worker counts, in one plain struct that can be copied (a
 * snapshot), merged across workers and diffed between two snapshots (the last second).
 *
 * A battle is counted once, by the client that holds seat 0 (the creator, or the first player the
 * lobby paired): started when its "started" arrives, finished when "ended" says destroyed or draw,
 * failed otherwise (reason below). Seat 1 counts only its own requests and errors. */
#ifndef BATTLED_BENCH_BB_STATS_H
#define BATTLED_BENCH_BB_STATS_H

#include <stdint.h>

#include "bench/bb_hist.h"
#include "proto/msg.h"

/* Why a battle failed. */
typedef enum bb_fail {
    BB_FAIL_TIMEOUT = 0,   /* not ended within --battle-timeout */
    BB_FAIL_ERROR,         /* the server refused one of its requests (code in errors[]) */
    BB_FAIL_DISCONNECT,    /* our connection closed while it ran */
    BB_FAIL_ENDED_BADLY,   /* "ended" with forfeit/timeout/disconnect/abandoned/shutdown */
    BB_FAIL_START,         /* create/join/queue refused or never answered */
    BB_FAIL_COUNT
} bb_fail;

#define BB_ERR_CODES 128   /* error codes counted one by one; larger ones land in errors[0] */
#define BB_SHIP_NAMES 16   /* distinct ship types counted in the outcome table */

typedef struct bb_ship_count {
    char name[PROTO_SHIP_MAX + 1];
    uint64_t battles, wins;
} bb_ship_count;

typedef struct bb_stats {
    /* battles (seat 0's view) */
    uint64_t started, finished, failed;
    uint64_t fail[BB_FAIL_COUNT];
    uint64_t ended_reason[PROTO_END_COUNT];
    uint64_t wins_seat[PROTO_SEATS], draws;
    bb_ship_count ships[BB_SHIP_NAMES];
    /* requests, all seats */
    uint64_t actions;          /* turn actions and reactions answered */
    uint64_t turn_actions, reactions;
    uint64_t other_requests;   /* hello, queue, create, join, leave, ping answered */
    uint64_t errors[BB_ERR_CODES]; /* error replies by code */
    uint64_t stale;            /* refused because the battle moved on while the request flew:
                                * a reaction to a missile already gone, or anything after the end */
    uint64_t turn_timeouts;    /* the server's turn timer played for one of our seats */
    uint64_t frames_in, frames_out;
    /* restarts (--resume) */
    uint64_t restart_notices;  /* "restarting" events received (one per connection) */
    uint64_t resumes;          /* resume requests sent after a lost connection */
    uint64_t resume_failures;  /* resumes refused, or not possible within --resume */
    uint64_t seq_gaps;         /* a battle event (or a resume's state) skipped events we never saw */
    uint64_t seq_repeats;      /* a battle event we had already seen */
    uint64_t max_event_gap_ms; /* longest silence between two events of one battle (a maximum) */
    /* clusters */
    uint64_t moved;            /* `moved` replies received (each followed unless counted below) */
    uint64_t moved_failed;     /* ... not followed: 5 in a row, a bad address, no request of ours */
    /* connections */
    uint64_t connects, connect_errors, disconnects, last_connect_error;
    uint64_t disc_eof, disc_reset, disc_protocol, disc_other; /* why connections were lost */
    /* gauges (current values, not cumulative) */
    uint64_t conns_open, battles_running, seats_waiting;
    /* what the server's welcome said (0 until a welcome arrived) */
    uint64_t srv_rate, srv_burst, srv_max_seats, srv_welcomed;
    /* distributions: latencies in ns, durations in ms, rounds as counts */
    bb_hist lat_action;        /* action request -> first reply echoing its rid */
    bb_hist lat_steady;        /* the same, sent after the ramp and the warm-up */
    bb_hist lat_other;         /* hello/queue/create/join -> first reply */
    bb_hist lat_match;         /* queue/create sent -> "started" (matchmaking wait) */
    bb_hist duration_ms;       /* started -> ended, finished battles */
    bb_hist rounds;            /* rounds of finished battles */
} bb_stats;

/* Empties s (histograms included). */
void bb_stats_reset(bb_stats *s);

/* dst += src: counters and histograms add, gauges add (workers are disjoint). */
void bb_stats_merge(bb_stats *dst, const bb_stats *src);

/* Adds one battle of ship `name` to the outcome table (won or not). */
void bb_stats_ship(bb_stats *s, const char *name, int won);

/* Name of a failure reason ("timeout", "error", ...). */
const char *bb_fail_name(int f);

#endif
