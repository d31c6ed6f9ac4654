/* cli/view: what battle-cli knows about the battle it follows, and how it tells a person.
 *
 * cli_view_event applies one server event to the model (the battle as proto/client/tracker follows
 * it, with the seat's role and the battle's phase) and prints it as readable lines to the view's
 * FILE. The model is plain data: main.c reads it to check commands locally, to wait for a turn and
 * to resume. No sockets, no clock: tests feed events and read the text back.
 *
 * One battle at a time is followed in full (the one last created, started, resumed or watched);
 * events of other battles are printed as one short line each. Replayed events (sequence number
 * not above the last seen, as after a resume) are dropped silently. */
#ifndef BATTLED_CLI_VIEW_H
#define BATTLED_CLI_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/client/tracker.h"
#include "proto/msg.h"

typedef enum cli_role { CLI_ROLE_NONE = 0, CLI_ROLE_SEAT, CLI_ROLE_SPECTATOR } cli_role;
typedef enum cli_phase {
    CLI_PH_NONE = 0,  /* no battle followed */
    CLI_PH_WAITING,   /* created, waiting for the second seat */
    CLI_PH_RUNNING,
    CLI_PH_ENDED,
} cli_phase;

typedef struct cli_view {
    FILE *out;
    /* connection-level */
    bool queued;
    uint32_t turn_ms;          /* from welcome: the server's turn timer */
    uint32_t resume_ms;        /* from welcome: the resume window */
    /* the battle followed: ships, hulls, ammunition, missiles, whose turn, last sequence number
     * applied (proto/client/tracker; b.seat is ours with CLI_ROLE_SEAT) */
    pct_battle b;
    uint8_t role;              /* cli_role */
    uint8_t phase;             /* cli_phase */
    bool dirty;                /* something a resume record holds changed since the last clear */
    /* Resuming from a new process asks for the whole history (to learn the ships) but shows only
     * what the person has not seen: events numbered up to quiet_upto are applied and printed to
     * `quiet` instead of `out` (NULL: printed as usual). */
    uint32_t quiet_upto;
    FILE *quiet;
} cli_view;

/* Starts an empty view printing to out (not owned). */
void cli_view_init(cli_view *v, FILE *out);

/* Applies and prints one event. Returns true when it was applied, false when it was a replay
 * already seen (nothing printed). */
bool cli_view_event(cli_view *v, const proto_event *ev);

/* Prints the compact status of the followed battle: both ships, missiles in flight, whose turn. */
void cli_view_status(const cli_view *v);

/* Forgets the followed battle (after leave, or to follow another). */
void cli_view_forget(cli_view *v);

/* Adopts a battle to resume from a new process: the id, seat, token and last sequence the person
 * saw (from a resume record). The view knows no ships yet, so it asks for the history from the
 * start (last_seq 0) and keeps the events up to `last` quiet. */
void cli_view_adopt(cli_view *v, uint64_t bid, uint8_t seat, const uint8_t token[PROTO_TOKEN_LEN],
                    uint32_t last);

/* True when this view holds a seat in a battle that has not ended (so a resume makes sense). */
bool cli_view_seated(const cli_view *v);
/* True when it is this view's seat's turn in a running battle. */
bool cli_view_my_turn(const cli_view *v);

/* Index of the first weapon of the followed seat that can fire now (laser, missile, gun with
 * ammunition), or -1. */
int cli_view_first_gun(const cli_view *v);
/* Id of the nearest incoming missile without a point-defense try this round, or -1. */
int64_t cli_view_incoming(const cli_view *v);

#endif
