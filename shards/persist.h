/* persist: what a shard writes into its journal about a battle (journal/journal.h carries the bytes)
 * and how recovery reads it back.
 *
 * Payloads (each one msgpack object, as the journal requires):
 *   CREATED  [1, phase, band, seed, timeout_policy, timeout_limit, round_limit, ai_seat,
 *             [token0 | nil, token1 | nil], [ship0 | nil, ship1 | nil]]
 *            phase 0: a private battle waiting for seat 1 (seed 0, ship1 nil), 1: running.
 *            A private battle gets a second CREATED when it starts (the journal's reader lets a
 *            CREATED restart a battle it knows). ai_seat: -1, or the seat the server plays.
 *            ship: [key, name, hull, armour, pilot, thrust, [[name, kind, dice, long_range_dm,
 *            ammo], ...]], copied whole, so a battle replays the same even if the ship file changed.
 *   ACTION   [kind, seat, arg]: one accepted battle_action (player action or server input), in the
 *            order applied; the journal's seq is 1 for the first action after CREATED.
 *   ENDED    nil.
 * The engine is deterministic (core/battle.h): setup + actions rebuild the battle bit for bit, its
 * event history and sequence numbers included. */
#ifndef BATTLED_SHARDS_PERSIST_H
#define BATTLED_SHARDS_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/battle.h"
#include "shards/shard.h"

#define PERSIST_VERSION 1
#define PERSIST_CREATED_MAX 2048 /* bytes of an encoded CREATED payload, at most (two full ships) */
#define PERSIST_ACTION_MAX 16    /* bytes of an encoded ACTION payload, at most */

enum persist_phase { PERSIST_WAITING = 0, PERSIST_RUNNING = 1 };

struct persist_created {
    uint8_t phase;                          /* enum persist_phase */
    int8_t ai_seat;                         /* -1, 0 or 1 */
    bool has_token[2];                      /* a player holds (or held) that seat */
    uint8_t token[2][SHARD_TOKEN_BYTES];
    bool has_ship[2];                       /* waiting: seat 1 has none yet */
    battle_setup setup;                     /* band always; the rest when running */
};

/* Encodes c into buf (cap bytes). Returns the length, or 0 if it does not fit. */
size_t persist_encode_created(uint8_t *buf, size_t cap, const struct persist_created *c);

/* Decodes a CREATED payload. 0, or -1 with a reason in why (whylen bytes) for a payload that is not
 * what persist_encode_created writes (wrong version, types, ranges). */
int persist_decode_created(const uint8_t *p, size_t len, struct persist_created *out, char *why,
                           size_t whylen);

/* Encodes an ACTION payload into buf (at least PERSIST_ACTION_MAX bytes). Returns the length. */
size_t persist_encode_action(uint8_t *buf, const battle_action *a);

/* Decodes an ACTION payload. 0, or -1 when malformed or out of range. */
int persist_decode_action(const uint8_t *p, size_t len, battle_action *out);

#endif
