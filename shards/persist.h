/* persist: what a shard writes into its journal about a battle (journal/journal.h carries the bytes)
 * and how recovery reads it back.
 *
 * Payloads (each one msgpack object, as the journal requires):
 *   CREATED  [1, phase, band, seed, timeout_policy, timeout_limit, round_limit, ai_seat,
 *             [token0 | nil, token1 | nil], [ship0 | nil, ship1 | nil] (, seq_base (, keys))]
 *            seq_base (absent = 0): added to every sequence number of the battle's events until the
 *            first MARK; set when a battle recovered while waiting later starts (see MARK).
 *            keys: [key0 | nil, key1 | nil], the idempotency keys that took the seats (bin 16).
 *            phase 0: a private battle waiting for seat 1 (seed 0, ship1 nil), 1: running.
 *            A private battle gets a second CREATED when it starts (the journal's reader lets a
 *            CREATED restart a battle it knows). ai_seat: -1, or the seat the server plays.
 *            ship: [key, name, hull, armour, pilot, thrust, [[name, kind, dice, long_range_dm,
 *            ammo], ...]], copied whole, so a battle replays the same even if the ship file changed.
 *   ACTION   [kind, seat, arg]: one accepted battle_action (player action or server input), in the
 *            order applied; the journal's seq is 1 for the first action after CREATED.
 *   MARK     [0, split, off], an ACTION record whose kind is 0: written by recovery into the
 *            battle's first snapshot, before anything is sent. From engine seq split + 1 on, the
 *            wire seq is engine seq + off; off grows by PERSIST_SEQ_GAP at every recovery, so a
 *            number a client may have seen before the crash (an event the journal lost) is never
 *            given to another event (docs/PROTOCOL.md section 8).
 *   ENDED    [1, end_ms]: when it ended, wall-clock ms since 1970, so a restart keeps it for what is
 *            left of game.finished_keep_ms (nil from older builds: not kept).
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
#define PERSIST_ACTION_MAX 16    /* bytes of an encoded ACTION or MARK payload, at most */
/* How far a recovered battle's sequence numbers jump: more than the events of one battle that can
 * have been sent but not journaled (a second of page cache under everysec, a torn tail, records a
 * degraded journal dropped). 2^20; the 32-bit seq then allows 4095 recoveries of one battle. */
#define PERSIST_SEQ_GAP (1u << 20)

enum persist_phase { PERSIST_WAITING = 0, PERSIST_RUNNING = 1 };

struct persist_created {
    uint8_t phase;                          /* enum persist_phase */
    int8_t ai_seat;                         /* -1, 0 or 1 */
    bool has_token[2];                      /* a player holds (or held) that seat */
    uint8_t token[2][SHARD_TOKEN_BYTES];
    bool has_ship[2];                       /* waiting: seat 1 has none yet */
    battle_setup setup;                     /* band always; the rest when running */
    uint32_t seq_base;                      /* wire seq = engine seq + this, until a MARK */
    bool has_key[2];                        /* the seat was taken with an idempotency key */
    uint8_t key[2][SHARD_TOKEN_BYTES];
};

/* A MARK record (see above): from engine seq split + 1 on, wire seq = engine seq + off. */
struct persist_mark {
    uint32_t split;
    uint32_t off;
};

/* Encodes c into buf (cap bytes). Returns the length, or 0 if it does not fit. */
size_t persist_encode_created(uint8_t *buf, size_t cap, const struct persist_created *c);

/* Decodes a CREATED payload. 0, or -1 with a reason in why (whylen bytes) for a payload that is not
 * what persist_encode_created writes (wrong version, types, ranges). */
int persist_decode_created(const uint8_t *p, size_t len, struct persist_created *out, char *why,
                           size_t whylen);

/* Encodes an ACTION payload into buf (at least PERSIST_ACTION_MAX bytes). Returns the length. */
size_t persist_encode_action(uint8_t *buf, const battle_action *a);

/* Decodes an ACTION payload. 0, or -1 when malformed or out of range (a MARK is -1 here). */
int persist_decode_action(const uint8_t *p, size_t len, battle_action *out);

#define PERSIST_ENDED_MAX 11 /* bytes of an encoded ENDED payload */

/* Encodes an ENDED payload into buf (at least PERSIST_ENDED_MAX bytes). Returns the length. */
size_t persist_encode_ended(uint8_t *buf, uint64_t end_ms);

/* Decodes an ENDED payload: 0 and *end_ms (0 for nil: unknown), or -1 when malformed. */
int persist_decode_ended(const uint8_t *p, size_t len, uint64_t *end_ms);

/* Encodes a MARK payload into buf (at least PERSIST_ACTION_MAX bytes). Returns the length. */
size_t persist_encode_mark(uint8_t *buf, const struct persist_mark *m);

/* Decodes an ACTION record's payload that is an action (returns 0, *a set) or a MARK (returns 1,
 * *m set); -1 when it is neither. */
int persist_decode_step(const uint8_t *p, size_t len, battle_action *a, struct persist_mark *m);

#endif
