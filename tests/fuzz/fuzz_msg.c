/* libFuzzer target: message decoding (proto_decode_request / proto_decode_event) on arbitrary frame
 * bodies. Besides "no crash, no leak, no UB", it checks that whatever decodes re-encodes (every
 * decoded value is within the bounds the encoder enforces) and decodes again to the same struct. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[PROTO_FRAME_HARD_MAX + 8];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_derr err;
    proto_request r, r2;
    if (proto_decode_request(data, size, &r, &err) == PROTO_E_OK) {
        size_t len;
        if (proto_encode_request(buf, sizeof buf, &r, &len) != PROTO_E_OK)
            abort();
        if (proto_decode_request(buf + 4, len - 4, &r2, NULL) != PROTO_E_OK || memcmp(&r, &r2, sizeof r) != 0)
            abort();
    } else if (err.code == PROTO_E_OK || !proto_error_name(err.code)) {
        abort();
    }
    static proto_event e, e2;
    if (proto_decode_event(data, size, &e, &err) == PROTO_E_OK) {
        size_t len;
        if (proto_encode_event(buf, sizeof buf, &e, &len) != PROTO_E_OK)
            abort();
        if (proto_decode_event(buf + 4, len - 4, &e2, NULL) != PROTO_E_OK || memcmp(&e, &e2, sizeof e) != 0)
            abort();
    } else if (err.code == PROTO_E_OK || !proto_error_name(err.code)) {
        abort();
    }
    return 0;
}
