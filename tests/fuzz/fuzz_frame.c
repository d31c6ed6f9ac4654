/* libFuzzer target: frame reassembly (proto/frame) plus decoding of every frame it yields.
 * Input: byte 0 picks the maximum frame size, byte 1 seeds the chunking, the rest is the stream.
 * The stream is fed twice, whole and in pseudo-random chunks (1..64 bytes); both runs must yield
 * the same frames and the same final status, and the reader must never buffer more than max. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 4096

typedef struct run {
    size_t nframes;
    uint32_t len[MAX_FRAMES];
    uint64_t hash[MAX_FRAMES];
    int status;       /* last status: FRAME_MORE or FRAME_ERROR */
    proto_error err;
} run;

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void feed(const uint8_t *s, size_t n, uint32_t max, uint32_t seed, run *out)
{
    frame_reader r;
    frame_reader_init(&r, max);
    memset(out, 0, sizeof *out);
    size_t off = 0;
    while (off < n && out->status != FRAME_ERROR) {
        size_t chunk = n - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t c = 1 + (seed >> 16) % 64;
            if (c < chunk)
                chunk = c;
        }
        const uint8_t *p = s + off;
        size_t left = chunk;
        while (left > 0) {
            size_t used;
            const uint8_t *body;
            uint32_t blen;
            proto_error err = PROTO_E_OK;
            frame_status st = frame_reader_feed(&r, p, left, &used, &body, &blen, &err);
            if (used > left || frame_reader_footprint(&r) > max)
                abort();
            p += used;
            left -= used;
            if (st == FRAME_ERROR) {
                out->status = FRAME_ERROR;
                out->err = err;
                break;
            }
            if (st == FRAME_MORE) {
                if (left != 0)
                    abort();
                break;
            }
            if (blen == 0 || blen > max)
                abort();
            if (out->nframes < MAX_FRAMES) {
                out->len[out->nframes] = blen;
                out->hash[out->nframes] = fnv(body, blen);
            }
            out->nframes++;
            proto_request rq;
            static proto_event ev;
            (void)proto_decode_request(body, blen, &rq, NULL);
            (void)proto_decode_event(body, blen, &ev, NULL);
        }
        off += chunk;
    }
    frame_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const uint32_t maxes[] = {1, 16, 64, 256, 1024, PROTO_FRAME_DEFAULT_MAX};
    uint32_t max = maxes[data[0] % (sizeof maxes / sizeof maxes[0])];
    uint32_t seed = data[1] | 1u;
    static run whole, chunked;
    feed(data + 2, size - 2, max, 0, &whole);
    feed(data + 2, size - 2, max, seed, &chunked);
    if (whole.nframes != chunked.nframes || whole.status != chunked.status || whole.err != chunked.err)
        abort();
    size_t n = whole.nframes < MAX_FRAMES ? whole.nframes : MAX_FRAMES;
    for (size_t i = 0; i < n; i++)
        if (whole.len[i] != chunked.len[i] || whole.hash[i] != chunked.hash[i])
            abort();
    return 0;
}
