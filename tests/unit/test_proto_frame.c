/* proto frame reader: reassembly from any chunking, refusal of bad lengths before buffering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "proto/frame.h"
#include "proto/tools/samples.h"

/* A stream of every event frame back to back; returns its length and the frame count. */
static size_t make_stream(uint8_t *out, size_t cap, int *count)
{
    size_t n = 0;
    *count = 0;
    for (int t = PROTO_T_WELCOME; t <= PROTO_T_EVT_LAST; t++) {
        static proto_event e;
        sample_event(t, &e);
        size_t len;
        assert_int_equal(proto_encode_event(out + n, cap - n, &e, &len), PROTO_E_OK);
        n += len;
        (*count)++;
    }
    return n;
}

/* Feeds the stream in chunks of `step` bytes; checks every frame decodes to its sample. */
static void feed_in_steps(const uint8_t *stream, size_t n, int count, size_t step)
{
    frame_reader r;
    frame_reader_init(&r, PROTO_FRAME_DEFAULT_MAX);
    int got = 0;
    int type = PROTO_T_WELCOME;
    for (size_t off = 0; off < n; off += step) {
        size_t len = n - off < step ? n - off : step;
        const uint8_t *p = stream + off;
        while (len > 0) {
            size_t used;
            const uint8_t *body;
            uint32_t blen;
            proto_error err = PROTO_E_OK;
            frame_status st = frame_reader_feed(&r, p, len, &used, &body, &blen, &err);
            assert_int_not_equal(st, FRAME_ERROR);
            assert_true(used <= len);
            p += used;
            len -= used;
            if (st == FRAME_READY) {
                static proto_event e, want;
                assert_int_equal(proto_decode_event(body, blen, &e, NULL), PROTO_E_OK);
                sample_event(type++, &want);
                assert_memory_equal(&e, &want, sizeof e);
                got++;
            } else {
                assert_int_equal(len, 0);
            }
        }
    }
    assert_int_equal(got, count);
    assert_int_equal(r.frames, (uint64_t)count);
    frame_reader_free(&r);
}

static void test_any_chunking(void **state)
{
    (void)state;
    static uint8_t stream[65536];
    int count;
    size_t n = make_stream(stream, sizeof stream, &count);
    static const size_t steps[] = {1, 2, 3, 4, 5, 7, 13, 64, 100, 1000, 65536};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        feed_in_steps(stream, n, count, steps[i]);
}

static void test_zero_length(void **state)
{
    (void)state;
    frame_reader r;
    frame_reader_init(&r, 64);
    static const uint8_t zero[] = {0, 0, 0, 0, 0x81};
    size_t used;
    const uint8_t *body;
    uint32_t blen;
    proto_error err = PROTO_E_OK;
    assert_int_equal(frame_reader_feed(&r, zero, sizeof zero, &used, &body, &blen, &err), FRAME_ERROR);
    assert_int_equal(err, PROTO_E_BAD_FRAME);
    assert_int_equal(used, 4);
    /* sticky */
    err = PROTO_E_OK;
    assert_int_equal(frame_reader_feed(&r, zero + 4, 1, &used, &body, &blen, &err), FRAME_ERROR);
    assert_int_equal(err, PROTO_E_BAD_FRAME);
    frame_reader_free(&r);
}

static void test_too_large_refused_before_body(void **state)
{
    (void)state;
    frame_reader r;
    frame_reader_init(&r, 100);
    /* length 101, fed byte by byte: the error comes on the 4th byte, nothing was buffered */
    static const uint8_t hdr[] = {0, 0, 0, 101, 'x'};
    size_t used;
    const uint8_t *body;
    uint32_t blen;
    proto_error err = PROTO_E_OK;
    for (int i = 0; i < 3; i++)
        assert_int_equal(frame_reader_feed(&r, hdr + i, 1, &used, &body, &blen, &err), FRAME_MORE);
    assert_int_equal(frame_reader_feed(&r, hdr + 3, 2, &used, &body, &blen, &err), FRAME_ERROR);
    assert_int_equal(err, PROTO_E_FRAME_TOO_LARGE);
    assert_int_equal(frame_reader_footprint(&r), 0);
    frame_reader_free(&r);
    /* 0xffffffff in one chunk */
    frame_reader_init(&r, 100);
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(frame_reader_feed(&r, huge, 4, &used, &body, &blen, &err), FRAME_ERROR);
    assert_int_equal(err, PROTO_E_FRAME_TOO_LARGE);
    assert_int_equal(frame_reader_footprint(&r), 0);
    frame_reader_free(&r);
    /* exactly max is fine */
    frame_reader_init(&r, 100);
    static uint8_t ok[104] = {0, 0, 0, 100};
    assert_int_equal(frame_reader_feed(&r, ok, sizeof ok, &used, &body, &blen, &err), FRAME_READY);
    assert_int_equal(blen, 100);
    assert_ptr_equal(body, ok + 4); /* whole frame in the chunk: returned in place */
    assert_int_equal(frame_reader_footprint(&r), 0);
    frame_reader_free(&r);
    /* the limit is clamped to the hard maximum */
    frame_reader_init(&r, UINT32_MAX);
    assert_int_equal(r.max, PROTO_FRAME_HARD_MAX);
}

static void test_buffer_grows_and_shrinks(void **state)
{
    (void)state;
    frame_reader r;
    frame_reader_init(&r, PROTO_FRAME_DEFAULT_MAX);
    static uint8_t big[4 + 3000] = {0, 0, 0x0b, 0xb8}; /* 3000 */
    size_t used;
    const uint8_t *body;
    uint32_t blen;
    proto_error err;
    /* split: the first half is buffered */
    assert_int_equal(frame_reader_feed(&r, big, 1500, &used, &body, &blen, &err), FRAME_MORE);
    assert_int_equal(frame_reader_footprint(&r), 3000);
    assert_int_equal(frame_reader_feed(&r, big + 1500, sizeof big - 1500, &used, &body, &blen, &err),
                     FRAME_READY);
    assert_int_equal(blen, 3000);
    /* the next call releases the big buffer: idle connections stay small */
    static const uint8_t part[] = {0, 0, 0, 5, 1, 2};
    assert_int_equal(frame_reader_feed(&r, part, sizeof part, &used, &body, &blen, &err), FRAME_MORE);
    assert_true(frame_reader_footprint(&r) <= FRAME_KEEP);
    frame_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_chunking),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_too_large_refused_before_body),
        cmocka_unit_test(test_buffer_grows_and_shrinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
