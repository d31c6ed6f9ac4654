/* events: the engine's events and state (core/battle.h) in the protocol's vocabulary (proto/msg.h).
 *
 * One engine event is one wire event with the same sequence number, so a client's "last seen" is
 * always a number the battle's history can resume from, and a resumed client sees exactly what the
 * others saw. Pure functions; no state. */
#ifndef BATTLED_SHARDS_EVENTS_H
#define BATTLED_SHARDS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/battle.h"
#include "proto/msg.h"

/* Translates engine event e of battle b (id bid) into *pe. STARTED gets seat 0 and no token: the
 * caller sets both per recipient. Returns false for an event kind the protocol does not know. */
bool events_xlate(const battle *b, uint64_t bid, const battle_event *e, proto_event *pe);

/* A full "state" message of b as seen from seat (0, 1 or PROTO_SEAT_SPECTATOR). turn_ms: time left
 * on the active seat's turn timer (0 when off or over). */
void events_state(const battle *b, uint64_t bid, uint8_t seat, uint32_t turn_ms, proto_event *pe);

/* The protocol error for an engine refusal, and a short text for humans. */
proto_error events_err(battle_err e);
const char *events_err_text(battle_err e);

/* The protocol's end reason for an engine end reason. */
uint8_t events_reason(unsigned battle_end_reason);

#endif
