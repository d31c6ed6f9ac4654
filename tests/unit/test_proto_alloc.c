/* proto allocation bounds: decoding allocates nothing, whatever the input claims; the frame reader
 * allocates only while a split frame needs it, never more than the frame's size, and nothing in the
 * steady state. Counts come from link-time wrappers (-Wl,--wrap=malloc,...) around every allocation
 * made by code linked into this binary, proto's included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "proto/frame.h"
#include "proto/tools/samples.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static int counting;
static size_t n_allocs, biggest;

static void note(size_t n)
{
    if (counting) {
        n_allocs++;
        if (n > biggest)
            biggest = n;
    }
}

void *__wrap_malloc(size_t n) { note(n); return __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { note(a * b); return __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { note(n); return __real_realloc(p, n); }
void __wrap_free(void *p) { __real_free(p); }

static void start(void) { n_allocs = biggest = 0; counting = 1; }
static void stop(void) { counting = 0; }

/* The wrappers must see proto's allocations, or the other tests prove nothing: a split frame makes
 * the reader allocate its buffer exactly once, of the frame's size. */
static void test_wrapper_counts(void **state)
{
    (void)state;
    static const uint8_t frame[4 + 300] = {0, 0, 0x01, 0x2c};
    frame_reader fr;
    size_t used;
    const uint8_t *body;
    uint32_t blen;
    proto_error err;
    frame_reader_init(&fr, PROTO_FRAME_DEFAULT_MAX);
    start();
    assert_int_equal(frame_reader_feed(&fr, frame, 10, &used, &body, &blen, &err), FRAME_MORE);
    stop();
    assert_int_equal(n_allocs, 1);
    assert_int_equal(biggest, 300);
    frame_reader_free(&fr);
}

static void test_decode_allocates_nothing(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    static proto_event e, out;
    proto_request r, rout;
    start();
    for (int t = PROTO_T_HELLO; t <= PROTO_T_EVT_LAST; t++) {
        size_t len;
        if (sample_request(t, &r) == 0) {
            assert_int_equal(proto_encode_request(buf, sizeof buf, &r, &len), PROTO_E_OK);
            assert_int_equal(proto_decode_request(buf + 4, len - 4, &rout, NULL), PROTO_E_OK);
        } else if (sample_event(t, &e) == 0) {
            assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_OK);
            assert_int_equal(proto_decode_event(buf + 4, len - 4, &out, NULL), PROTO_E_OK);
        }
    }
    stop();
    assert_int_equal(n_allocs, 0);
}

static void test_hostile_headers_allocate_nothing(void **state)
{
    (void)state;
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t arr32[] = {0x81, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t str32[] = {0x81, 0xa1, 't', 0xdb, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t bin32[] = {0x81, 0xa1, 't', 0xc6, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t ext32[] = {0x81, 0xa1, 't', 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint8_t deep[64];
    memset(deep, 0x91, sizeof deep);
    proto_request r;
    proto_event e;
    start();
    assert_int_equal(proto_decode_request(map32, sizeof map32, &r, NULL), PROTO_E_TOO_MANY);
    assert_int_equal(proto_decode_event(map32, sizeof map32, &e, NULL), PROTO_E_TOO_MANY);
    assert_int_equal(proto_decode_request(arr32, sizeof arr32, &r, NULL), PROTO_E_TOO_MANY);
    assert_int_equal(proto_decode_request(str32, sizeof str32, &r, NULL), PROTO_E_BAD_MSGPACK);
    assert_int_equal(proto_decode_request(bin32, sizeof bin32, &r, NULL), PROTO_E_BAD_MSGPACK);
    assert_int_equal(proto_decode_request(ext32, sizeof ext32, &r, NULL), PROTO_E_BAD_MSGPACK);
    assert_int_equal(proto_decode_request(deep, sizeof deep, &r, NULL), PROTO_E_TOO_DEEP);
    stop();
    assert_int_equal(n_allocs, 0);
}

static void test_frame_reader_steady_state(void **state)
{
    (void)state;
    uint8_t frame[4 + 200] = {0, 0, 0, 200};
    frame_reader fr;
    size_t used;
    const uint8_t *body;
    uint32_t blen;
    proto_error err;
    frame_reader_init(&fr, PROTO_FRAME_DEFAULT_MAX);
    /* warm-up: the first split frame allocates its buffer once */
    start();
    assert_int_equal(frame_reader_feed(&fr, frame, 50, &used, &body, &blen, &err), FRAME_MORE);
    assert_int_equal(frame_reader_feed(&fr, frame + 50, sizeof frame - 50, &used, &body, &blen, &err),
                     FRAME_READY);
    stop();
    assert_int_equal(n_allocs, 1);
    assert_true(biggest <= 200);
    /* steady state: 1000 more split frames of that size, no allocation */
    start();
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(frame_reader_feed(&fr, frame, 3, &used, &body, &blen, &err), FRAME_MORE);
        assert_int_equal(frame_reader_feed(&fr, frame + 3, sizeof frame - 3, &used, &body, &blen, &err),
                         FRAME_READY);
    }
    /* a header announcing more than max allocates nothing */
    frame_reader fr2;
    frame_reader_init(&fr2, PROTO_FRAME_DEFAULT_MAX);
    static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(frame_reader_feed(&fr2, huge, 4, &used, &body, &blen, &err), FRAME_ERROR);
    stop();
    assert_int_equal(n_allocs, 0);
    frame_reader_free(&fr);
    frame_reader_free(&fr2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrapper_counts),
        cmocka_unit_test(test_decode_allocates_nothing),
        cmocka_unit_test(test_hostile_headers_allocate_nothing),
        cmocka_unit_test(test_frame_reader_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
