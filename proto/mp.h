/* proto/mp: a bounded msgpack reader over one frame's bytes (internal to proto/).
 *
 * Why our own reader instead of msgpack_unpack: msgpack-c allocates count x 24 bytes as soon as it
 * reads an array or map header (a 5-byte header can ask for 100+ MB) and mallocs per message. This
 * reader allocates nothing: strings and bins are (pointer, length) views into the frame, and every
 * declared count is checked against the bytes that remain before anything else looks at it. */
#ifndef BATTLED_PROTO_MP_H
#define BATTLED_PROTO_MP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

typedef enum mp_kind {
    MP_NIL,
    MP_BOOL,
    MP_INT,   /* every msgpack integer format; see neg/u/i */
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_ARRAY,
    MP_MAP,
    MP_EXT,
} mp_kind;

typedef struct mp_item {
    mp_kind kind;
    int neg;            /* MP_INT: 1 when the value is negative (then i holds it), else u */
    uint64_t u;
    int64_t i;
    int b;              /* MP_BOOL */
    const uint8_t *p;   /* MP_STR, MP_BIN, MP_EXT: the body inside the frame */
    uint32_t n;         /* body length, or element count of an array / pair count of a map */
} mp_item;

typedef struct mp_cur {
    const uint8_t *p, *end;
} mp_cur;

/* Reads one item header at cur (and skips the body of str/bin/ext/float). Returns PROTO_E_OK,
 * PROTO_E_BAD_MSGPACK (truncated or the reserved byte 0xc1) or PROTO_E_TOO_MANY (an array needs at
 * least one byte per element and a map two per pair: a larger count cannot be honest). */
proto_error mp_next(mp_cur *cur, mp_item *it);

/* Skips one whole value, at nesting depth `depth` (1 = top level); nesting past max_depth gives
 * PROTO_E_TOO_DEEP. Same other errors as mp_next. */
proto_error mp_skip(mp_cur *cur, int depth, int max_depth);

/* Validates that buf[0..len) is exactly one well-formed msgpack object with nesting <= max_depth
 * and honest counts. Nothing is allocated; recursion is bounded by max_depth. */
proto_error mp_check(const uint8_t *buf, size_t len, int max_depth);

#endif
