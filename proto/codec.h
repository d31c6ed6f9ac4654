/* proto/codec: msgpack encoding and strict decoding of battled messages (proto/msg.h).
 *
 * Decoding never allocates: the frame body is validated in one bounded pass (well-formed, one object,
 * honest array/map counts, nesting <= PROTO_MAX_DEPTH), then the top map is walked against the
 * message's field table. Unknown keys are skipped (forward compatibility); a known key with a wrong
 * msgpack type or an out-of-bounds value, a duplicate key, a missing required key or an unknown "t"
 * is an error with a stable code. Encoding writes one whole frame (4-byte big-endian length, then the
 * map) into a caller buffer through msgpack-c's packer and validates the struct against the same
 * tables first, so everything we send is something we would accept. Thread-safe: no global state. */
#ifndef BATTLED_PROTO_CODEC_H
#define BATTLED_PROTO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

/* What a failed decode knows, so the reply can echo the request id and name the culprit. */
typedef struct proto_derr {
    proto_error code;                /* PROTO_E_OK on success */
    char field[PROTO_KEY_MAX + 1];   /* key at fault, "" when not about one field */
    bool has_rid;                    /* "rid" was found and valid even though decoding failed */
    uint32_t rid;
    uint64_t bid;                    /* "bid" when found and valid, else 0 */
    uint8_t type;                    /* proto_type when "t" was recognised, else PROTO_T_NONE */
} proto_derr;

/* Decodes one frame body (the bytes after the length prefix) as a client->server request.
 * Returns PROTO_E_OK and fills *out, or an error code (also in err->code when err is non-NULL);
 * *out is unspecified on error. Server->client types give PROTO_E_UNKNOWN_TYPE. */
proto_error proto_decode_request(const uint8_t *body, size_t len, proto_request *out, proto_derr *err);

/* Same for a server->client event; client->server types give PROTO_E_UNKNOWN_TYPE. */
proto_error proto_decode_event(const uint8_t *body, size_t len, proto_event *out, proto_derr *err);

/* Encodes one whole frame (length prefix included) into buf[0..cap). Returns PROTO_E_OK and sets
 * *len to the frame size; PROTO_E_BUFFER_TOO_SMALL when cap is too small; PROTO_E_BAD_FIELD /
 * PROTO_E_STRING_TOO_LONG / PROTO_E_TOO_MANY / PROTO_E_UNKNOWN_TYPE when the struct holds something
 * the protocol does not allow. Nothing is allocated. */
proto_error proto_encode_request(uint8_t *buf, size_t cap, const proto_request *r, size_t *len);
proto_error proto_encode_event(uint8_t *buf, size_t cap, const proto_event *e, size_t *len);

/* Convenience for server replies: encodes an "error" event with code, its name, msg (may be NULL,
 * truncated to PROTO_ERRMSG_MAX bytes at a UTF-8 boundary; bytes that are not printable UTF-8 become
 * '?', so quoting client input is safe), the request id when has_rid, and the battle id when
 * bid != 0. Same returns as proto_encode_event. */
proto_error proto_encode_error(uint8_t *buf, size_t cap, proto_error code, const char *msg,
                               bool has_rid, uint32_t rid, uint64_t bid, size_t *len);

/* Parses a wire type name ("fire") into proto_type; PROTO_T_NONE when unknown. */
int proto_type_parse(const char *s, size_t n);

#endif
