/* Frame reassembly: see frame.h. */
#include "proto/frame.h"

#include <stdlib.h>
#include <string.h>

void frame_reader_init(frame_reader *r, uint32_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max > PROTO_FRAME_HARD_MAX ? PROTO_FRAME_HARD_MAX : max;
}

void frame_reader_free(frame_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
    r->have = 0;
}

size_t frame_reader_footprint(const frame_reader *r)
{
    return r->cap;
}

/* Makes room for the whole body of the current frame (need <= max, checked by the caller). */
static int reserve(frame_reader *r)
{
    if (r->cap >= r->need)
        return 0;
    /* Small frames get a 64-byte floor so a stream of tiny split frames does not realloc each time,
     * but never past max: the reader's footprint is bounded by the setting. */
    uint32_t cap = r->need < 64 ? 64 : r->need;
    if (cap > r->max)
        cap = r->max;
    uint8_t *nb = realloc(r->buf, cap);
    if (!nb)
        return -1;
    r->buf = nb;
    r->cap = cap;
    return 0;
}

static frame_status fail(frame_reader *r, proto_error code, proto_error *err)
{
    r->failed = (uint8_t)code;
    if (err)
        *err = code;
    return FRAME_ERROR;
}

frame_status frame_reader_feed(frame_reader *r, const uint8_t *data, size_t len, size_t *used,
                               const uint8_t **body, uint32_t *blen, proto_error *err)
{
    size_t pos = 0;
    *used = 0;
    if (r->failed)
        return fail(r, (proto_error)r->failed, err);
    /* The previous READY may have come from the buffer: drop an oversized one now that the caller
     * is done with it, so idle connections stay small. */
    if (r->need == 0 && r->cap > FRAME_KEEP)
        frame_reader_free(r);
    while (pos < len) {
        if (r->need == 0) {
            /* Fast path: a whole frame inside this chunk, nothing buffered: hand it out in place. */
            if (r->hdr_have == 0 && len - pos >= 4) {
                uint32_t n = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
                             (uint32_t)data[pos + 2] << 8 | data[pos + 3];
                if (n == 0)
                    return *used = pos + 4, fail(r, PROTO_E_BAD_FRAME, err);
                if (n > r->max)
                    return *used = pos + 4, fail(r, PROTO_E_FRAME_TOO_LARGE, err);
                if (len - pos - 4 >= n) {
                    *body = data + pos + 4;
                    *blen = n;
                    *used = pos + 4 + n;
                    r->frames++;
                    return FRAME_READY;
                }
                r->need = n;
                pos += 4;
            } else {
                r->hdr[r->hdr_have++] = data[pos++];
                if (r->hdr_have < 4)
                    continue;
                r->hdr_have = 0;
                uint32_t n = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
                             (uint32_t)r->hdr[2] << 8 | r->hdr[3];
                if (n == 0)
                    return *used = pos, fail(r, PROTO_E_BAD_FRAME, err);
                if (n > r->max)
                    return *used = pos, fail(r, PROTO_E_FRAME_TOO_LARGE, err);
                r->need = n;
            }
            if (reserve(r) != 0)
                return *used = pos, fail(r, PROTO_E_INTERNAL, err);
            r->have = 0;
            continue;
        }
        size_t take = r->need - r->have;
        if (take > len - pos)
            take = len - pos;
        memcpy(r->buf + r->have, data + pos, take);
        r->have += (uint32_t)take;
        pos += take;
        if (r->have == r->need) {
            *body = r->buf;
            *blen = r->need;
            *used = pos;
            r->need = 0;
            r->have = 0;
            r->frames++;
            return FRAME_READY;
        }
    }
    *used = pos;
    return FRAME_MORE;
}
