/* proto codec: every message round-trips; hostile bodies give the documented error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "proto/mp.h"
#include "proto/tools/samples.h"

static uint8_t buf[8192];

/* Decodes a hand-written body as a request and returns the code (and the error detail). */
static proto_error dec_req(const void *body, size_t n, proto_derr *err)
{
    proto_request r;
    return proto_decode_request(body, n, &r, err);
}

static void test_roundtrip_requests(void **state)
{
    (void)state;
    for (int t = PROTO_T_HELLO; t <= PROTO_T_REQ_LAST; t++) {
        proto_request in, out;
        assert_int_equal(sample_request(t, &in), 0);
        size_t len = 0;
        assert_int_equal(proto_encode_request(buf, sizeof buf, &in, &len), PROTO_E_OK);
        assert_true(len > 4);
        uint32_t blen = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
        assert_int_equal(blen, len - 4);
        proto_derr err;
        assert_int_equal(proto_decode_request(buf + 4, len - 4, &out, &err), PROTO_E_OK);
        assert_int_equal(err.code, PROTO_E_OK);
        assert_memory_equal(&in, &out, sizeof in);
        /* The other direction refuses it. */
        proto_event ev;
        assert_int_equal(proto_decode_event(buf + 4, len - 4, &ev, NULL), PROTO_E_UNKNOWN_TYPE);
        /* Without rid the reply has nothing to echo and the frame is shorter. */
        in.has_rid = false;
        in.rid = 0;
        size_t len2 = 0;
        assert_int_equal(proto_encode_request(buf, sizeof buf, &in, &len2), PROTO_E_OK);
        assert_true(len2 < len);
        assert_int_equal(proto_decode_request(buf + 4, len2 - 4, &out, NULL), PROTO_E_OK);
        assert_memory_equal(&in, &out, sizeof in);
    }
}

/* The idempotency key: on create, join and queue, bin of exactly 16 bytes, absent when all zero;
 * anything else is bad_field, and other requests do not know it. */
static void test_idempotency_key(void **state)
{
    (void)state;
    static const int keyed[] = {PROTO_T_CREATE, PROTO_T_JOIN, PROTO_T_QUEUE};
    for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++) {
        proto_request in, out;
        assert_int_equal(sample_request(keyed[i], &in), 0);
        size_t plain = 0, len = 0;
        assert_int_equal(proto_encode_request(buf, sizeof buf, &in, &plain), PROTO_E_OK);
        for (int k = 0; k < PROTO_TOKEN_LEN; k++)
            in.key[k] = (uint8_t)(0xa0 + k);
        assert_true(proto_key_present(in.key));
        assert_int_equal(proto_encode_request(buf, sizeof buf, &in, &len), PROTO_E_OK);
        assert_int_equal(len, plain + 4 + 2 + PROTO_TOKEN_LEN); /* "key" + bin8 header + 16 */
        assert_int_equal(proto_decode_request(buf + 4, len - 4, &out, NULL), PROTO_E_OK);
        assert_memory_equal(out.key, in.key, PROTO_TOKEN_LEN);
    }
    /* {"t":"queue","ship":"scout","band":"short","key":<bin n>} */
    uint8_t body[64] = {0x84, 0xa1, 't', 0xa5, 'q', 'u', 'e', 'u', 'e', 0xa4, 's', 'h', 'i', 'p',
                        0xa5, 's', 'c', 'o', 'u', 't', 0xa4, 'b', 'a', 'n', 'd', 0xa5, 's', 'h',
                        'o', 'r', 't', 0xa3, 'k', 'e', 'y', 0xc4};
    size_t at = 36;
    proto_derr err;
    for (unsigned n = 0; n <= PROTO_TOKEN_LEN + 1; n++) {
        body[at] = (uint8_t)n;
        memset(body + at + 1, 7, n);
        proto_error e = dec_req(body, at + 1 + n, &err);
        assert_int_equal(e, n == PROTO_TOKEN_LEN ? PROTO_E_OK : PROTO_E_BAD_FIELD);
    }
    body[at - 1] = 0xa3; /* a str, not a bin */
    body[at] = 'a';
    body[at + 1] = 'b';
    body[at + 2] = 'c';
    assert_int_equal(dec_req(body, at + 3, &err), PROTO_E_BAD_FIELD);
}

static void test_roundtrip_events(void **state)
{
    (void)state;
    size_t biggest = 0;
    for (int t = PROTO_T_WELCOME; t <= PROTO_T_EVT_LAST; t++) {
        static proto_event in, out;
        assert_int_equal(sample_event(t, &in), 0);
        size_t len = 0;
        assert_int_equal(proto_encode_event(buf, sizeof buf, &in, &len), PROTO_E_OK);
        assert_int_equal(proto_decode_event(buf + 4, len - 4, &out, NULL), PROTO_E_OK);
        assert_memory_equal(&in, &out, sizeof in);
        proto_request rq;
        assert_int_equal(proto_decode_request(buf + 4, len - 4, &rq, NULL), PROTO_E_UNKNOWN_TYPE);
        if (len > biggest)
            biggest = len;
    }
    assert_true(biggest <= PROTO_FRAME_DEFAULT_MAX);
}

/* The largest state the bounds allow must fit the default frame (the reason for the default). */
static void test_max_state_fits_default_frame(void **state)
{
    (void)state;
    static proto_event e, out;
    sample_event(PROTO_T_STATE, &e);
    for (int s = 0; s < 2; s++) {
        struct proto_ship *sh = &e.u.state.ships[s];
        memset(sh->type, 'x', PROTO_SHIP_MAX);
        sh->type[PROTO_SHIP_MAX] = '\0';
        memset(sh->name, 'N', PROTO_LABEL_MAX);
        sh->name[PROTO_LABEL_MAX] = '\0';
        sh->hull = sh->hull_max = 65535;
        sh->nweapons = PROTO_MAX_WEAPONS;
        for (int w = 0; w < PROTO_MAX_WEAPONS; w++) {
            memset(sh->weapons[w].name, 'W', PROTO_LABEL_MAX);
            sh->weapons[w].name[PROTO_LABEL_MAX] = '\0';
            sh->weapons[w].kind = PROTO_WK_MISSILE;
            sh->weapons[w].dice = 12;
            sh->weapons[w].ammo = 32767;
            sh->weapons[w].long_dm = -6;
        }
        for (int c = 0; c < PROTO_LOC_COUNT; c++)
            sh->crits[c] = 255;
    }
    e.u.state.nmissiles = PROTO_MAX_MISSILES;
    for (int m = 0; m < PROTO_MAX_MISSILES; m++)
        e.u.state.missiles[m] = (struct proto_missile){UINT32_MAX - (uint32_t)m, 1, PROTO_BAND_VERY_LONG, true};
    size_t len;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_OK);
    assert_true(len - 4 <= PROTO_FRAME_DEFAULT_MAX);
    assert_true(len - 4 <= PROTO_EVENT_MAX);
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &out, NULL), PROTO_E_OK);
    assert_memory_equal(&e, &out, sizeof e);
    print_message("largest state: %zu bytes\n", len - 4);
}

static void test_encode_small_buffer(void **state)
{
    (void)state;
    static proto_event e;
    sample_event(PROTO_T_STARTED, &e);
    size_t need;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &need), PROTO_E_OK);
    for (size_t cap = 0; cap < need; cap++) {
        size_t len = 12345;
        assert_int_equal(proto_encode_event(buf, cap, &e, &len), PROTO_E_BUFFER_TOO_SMALL);
        assert_int_equal(len, 12345);
    }
}

static void test_encode_refuses_bad_struct(void **state)
{
    (void)state;
    proto_request r;
    size_t len;
    sample_request(PROTO_T_QUEUE, &r);
    r.u.queue.band = PROTO_BAND_COUNT;
    assert_int_equal(proto_encode_request(buf, sizeof buf, &r, &len), PROTO_E_BAD_FIELD);
    sample_request(PROTO_T_QUEUE, &r);
    strcpy(r.u.queue.ship, "Scout");
    assert_int_equal(proto_encode_request(buf, sizeof buf, &r, &len), PROTO_E_BAD_FIELD);
    sample_request(PROTO_T_FIRE, &r);
    r.bid = 0;
    assert_int_equal(proto_encode_request(buf, sizeof buf, &r, &len), PROTO_E_BAD_FIELD);
    r.type = PROTO_T_WELCOME;
    assert_int_equal(proto_encode_request(buf, sizeof buf, &r, &len), PROTO_E_UNKNOWN_TYPE);
    proto_event e;
    sample_event(PROTO_T_ERROR, &e);
    e.u.error.code = 0; /* 0 is "ok", never an error */
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_BAD_FIELD);
    /* a code from a newer server passes through with its number */
    e.u.error.code = 999;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_OK);
    proto_event back;
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &back, NULL), PROTO_E_OK);
    assert_int_equal(back.u.error.code, 999);
}

static void test_truncated_every_prefix(void **state)
{
    (void)state;
    for (int t = PROTO_T_WELCOME; t <= PROTO_T_EVT_LAST; t++) {
        static proto_event e, out;
        sample_event(t, &e);
        size_t len;
        proto_encode_event(buf, sizeof buf, &e, &len);
        for (size_t n = 0; n < len - 4; n++) {
            proto_error code = proto_decode_event(buf + 4, n, &out, NULL);
            assert_true(code == PROTO_E_BAD_MSGPACK || code == PROTO_E_TOO_MANY);
        }
    }
}

static void test_wrong_types(void **state)
{
    (void)state;
    proto_derr err;
    /* {"t":"fire","bid":5,"w":"0","rid":7}: w as a string */
    static const uint8_t w_str[] = {0x84, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05,
                                    0xa1, 'w', 0xa1, '0', 0xa3, 'r', 'i', 'd', 0x07};
    assert_int_equal(dec_req(w_str, sizeof w_str, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "w");
    assert_true(err.has_rid);
    assert_int_equal(err.rid, 7);
    assert_int_equal(err.bid, 5);
    assert_int_equal(err.type, PROTO_T_FIRE);
    /* w = -1 (negative fixint) */
    static const uint8_t w_neg[] = {0x83, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05,
                                    0xa1, 'w', 0xff};
    assert_int_equal(dec_req(w_neg, sizeof w_neg, &err), PROTO_E_BAD_FIELD);
    /* w = 1.0 (float64) */
    static const uint8_t w_flt[] = {0x83, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05,
                                    0xa1, 'w', 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(dec_req(w_flt, sizeof w_flt, &err), PROTO_E_BAD_FIELD);
    /* w = PROTO_MAX_WEAPONS: one past the largest index */
    static const uint8_t w_big[] = {0x83, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05,
                                    0xa1, 'w', PROTO_MAX_WEAPONS};
    assert_int_equal(dec_req(w_big, sizeof w_big, &err), PROTO_E_BAD_FIELD);
    /* w = 1 written as int16 and as uint64: any integer format is accepted */
    static const uint8_t w_i16[] = {0x83, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05,
                                    0xa1, 'w', 0xd1, 0x00, 0x01};
    proto_request r;
    assert_int_equal(proto_decode_request(w_i16, sizeof w_i16, &r, &err), PROTO_E_OK);
    assert_int_equal(r.u.fire.weapon, 1);
    assert_false(r.has_rid);
    static const uint8_t bid_u64[] = {0x83, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd',
                                      0xcf, 0, 0, 0, 0, 0, 0, 0, 9, 0xa1, 'w', 0};
    assert_int_equal(proto_decode_request(bid_u64, sizeof bid_u64, &r, &err), PROTO_E_OK);
    assert_int_equal(r.bid, 9);
    /* bid = 0 and bid >= 2^63 are not battle ids */
    static const uint8_t bid0[] = {0x83, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x00,
                                   0xa1, 'w', 0};
    assert_int_equal(dec_req(bid0, sizeof bid0, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "bid");
    static const uint8_t bidhi[] = {0x83, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd',
                                    0xcf, 0x80, 0, 0, 0, 0, 0, 0, 1, 0xa1, 'w', 0};
    assert_int_equal(dec_req(bidhi, sizeof bidhi, &err), PROTO_E_BAD_FIELD);
    /* "t" not a string; "t" twice */
    static const uint8_t t_int[] = {0x81, 0xa1, 't', 0x01};
    assert_int_equal(dec_req(t_int, sizeof t_int, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "t");
    static const uint8_t t_twice[] = {0x82, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g'};
    assert_int_equal(dec_req(t_twice, sizeof t_twice, &err), PROTO_E_BAD_FIELD);
    /* bool where an integer belongs, token of the wrong length */
    static const uint8_t resume_short_tok[] = {0x85, 0xa1, 't', 0xa6, 'r', 'e', 's', 'u', 'm', 'e',
                                               0xa3, 'b', 'i', 'd', 0x05, 0xa4, 's', 'e', 'a', 't', 0xc3,
                                               0xa3, 't', 'o', 'k', 0xc4, 0x01, 0x00,
                                               0xa4, 'l', 'a', 's', 't', 0x00};
    assert_int_equal(dec_req(resume_short_tok, sizeof resume_short_tok, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "seat");
}

static void test_type_and_field_errors(void **state)
{
    (void)state;
    proto_derr err;
    static const uint8_t unknown[] = {0x82, 0xa1, 't', 0xa4, 'n', 'o', 'p', 'e', 0xa3, 'r', 'i', 'd', 0x2a};
    assert_int_equal(dec_req(unknown, sizeof unknown, &err), PROTO_E_UNKNOWN_TYPE);
    assert_true(err.has_rid);
    assert_int_equal(err.rid, 42);
    static const uint8_t no_t[] = {0x81, 0xa3, 'r', 'i', 'd', 0x01};
    assert_int_equal(dec_req(no_t, sizeof no_t, &err), PROTO_E_MISSING_FIELD);
    assert_string_equal(err.field, "t");
    static const uint8_t no_bid[] = {0x82, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa1, 'w', 0x00};
    assert_int_equal(dec_req(no_bid, sizeof no_bid, &err), PROTO_E_MISSING_FIELD);
    assert_string_equal(err.field, "bid");
    static const uint8_t dup[] = {0x84, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05,
                                  0xa1, 'w', 0x00, 0xa1, 'w', 0x01};
    assert_int_equal(dec_req(dup, sizeof dup, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "w");
    /* unknown keys, even with nested values and non-string keys, are ignored */
    static const uint8_t extra[] = {0x85, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05,
                                    0xa1, 'w', 0x01, 0xa5, 'f', 'u', 't', 'u', 'r', 0x91, 0x80,
                                    0x92, 0x01, 0x02, 0xc0};
    proto_request r;
    assert_int_equal(proto_decode_request(extra, sizeof extra, &r, &err), PROTO_E_OK);
    assert_int_equal(r.u.fire.weapon, 1);
    static const uint8_t not_map[] = {0x92, 0x01, 0x02};
    assert_int_equal(dec_req(not_map, sizeof not_map, &err), PROTO_E_NOT_A_MAP);
    static const uint8_t trailing[] = {0x81, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g', 0xc0};
    assert_int_equal(dec_req(trailing, sizeof trailing, &err), PROTO_E_BAD_MSGPACK);
    static const uint8_t reserved[] = {0x81, 0xa1, 't', 0xc1};
    assert_int_equal(dec_req(reserved, sizeof reserved, &err), PROTO_E_BAD_MSGPACK);
    assert_int_equal(dec_req("", 0, &err), PROTO_E_BAD_MSGPACK);
    /* bad enum strings and keys */
    static const uint8_t band[] = {0x83, 0xa1, 't', 0xa5, 'q', 'u', 'e', 'u', 'e', 0xa4, 's', 'h', 'i', 'p',
                                   0xa5, 's', 'c', 'o', 'u', 't', 0xa4, 'b', 'a', 'n', 'd',
                                   0xa9, 'v', 'e', 'r', 'y', ' ', 'l', 'o', 'n', 'g'};
    assert_int_equal(dec_req(band, sizeof band, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "band");
}

/* Section 2: "t" is a string like any other. Invalid UTF-8 or a control character in it is
 * bad_field (the encoding is broken), not unknown_type (a word we do not know); the request id is
 * still echoed. A well-formed but unknown word stays unknown_type. */
static void test_type_string_is_checked_as_text(void **state)
{
    (void)state;
    proto_derr err;
    static const uint8_t bad_utf8[] = {0x82, 0xa1, 't', 0xa3, 0xa2, 0xff, 0xfe, 0xa3, 'r', 'i', 'd', 0x07};
    assert_int_equal(dec_req(bad_utf8, sizeof bad_utf8, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "t");
    assert_true(err.has_rid);
    assert_int_equal(err.rid, 7);
    assert_int_equal(err.type, PROTO_T_NONE);
    static const uint8_t ctrl[] = {0x81, 0xa1, 't', 0xa5, 'p', 'i', 0x01, 'n', 'g'};
    assert_int_equal(dec_req(ctrl, sizeof ctrl, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "t");
    static const uint8_t del[] = {0x81, 0xa1, 't', 0xa5, 'p', 'i', 'n', 'g', 0x7f};
    assert_int_equal(dec_req(del, sizeof del, &err), PROTO_E_BAD_FIELD);
    static const uint8_t upper[] = {0x81, 0xa1, 't', 0xa4, 'P', 'i', 'n', 'g'};
    assert_int_equal(dec_req(upper, sizeof upper, &err), PROTO_E_UNKNOWN_TYPE);
    /* The type is known once decoding is past it (the net thread's hello check relies on it). */
    static const uint8_t fire_no_bid[] = {0x82, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa1, 'w', 0x00};
    assert_int_equal(dec_req(fire_no_bid, sizeof fire_no_bid, &err), PROTO_E_MISSING_FIELD);
    assert_int_equal(err.type, PROTO_T_FIRE);
}

/* welcome.sframe is a promise: no event body is longer than PROTO_EVENT_MAX; the encoder refuses
 * one that would be, whatever buffer it is given. */
static void test_event_size_bound(void **state)
{
    (void)state;
    static uint8_t big[3 * PROTO_EVENT_MAX];
    static proto_event e;
    sample_event(PROTO_T_ERROR, &e);
    size_t len = 0;
    assert_int_equal(proto_encode_event(big, sizeof big, &e, &len), PROTO_E_OK);
    assert_true(len - 4 <= PROTO_EVENT_MAX);
    /* A welcome announces the bound and it survives a round trip. */
    static proto_event w, out;
    sample_event(PROTO_T_WELCOME, &w);
    assert_int_equal(w.u.welcome.max_out_frame, PROTO_EVENT_MAX);
    assert_int_equal(proto_encode_event(big, sizeof big, &w, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(big + 4, len - 4, &out, NULL), PROTO_E_OK);
    assert_int_equal(out.u.welcome.max_out_frame, PROTO_EVENT_MAX);
    /* An older server's welcome without "sframe" still decodes (0 = not announced). */
    w.u.welcome.max_out_frame = 0;
    assert_int_equal(proto_encode_event(big, sizeof big, &w, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(big + 4, len - 4, &out, NULL), PROTO_E_OK);
    assert_int_equal(out.u.welcome.max_out_frame, 0);
    /* Each weapon carries its long-range DM ("lr"), within -6..6. */
    static proto_event st;
    sample_event(PROTO_T_STARTED, &st);
    assert_int_equal(st.u.started.ships[0].weapons[1].long_dm, 2);
    assert_int_equal(proto_encode_event(big, sizeof big, &st, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(big + 4, len - 4, &out, NULL), PROTO_E_OK);
    assert_int_equal(out.u.started.ships[0].weapons[1].long_dm, 2);
    st.u.started.ships[0].weapons[1].long_dm = 7;
    assert_int_equal(proto_encode_event(big, sizeof big, &st, &len), PROTO_E_BAD_FIELD);
}

/* A body with one string field of n bytes: {"t":"hello","v":1,"name":<n x 'a'>} */
static size_t hello_with_name(uint8_t *out, size_t n, uint8_t fill)
{
    size_t k = 0;
    static const uint8_t head[] = {0x83, 0xa1, 't', 0xa5, 'h', 'e', 'l', 'l', 'o', 0xa1, 'v', 0x01,
                                   0xa4, 'n', 'a', 'm', 'e'};
    memcpy(out, head, sizeof head);
    k = sizeof head;
    out[k++] = 0xd9;
    out[k++] = (uint8_t)n;
    memset(out + k, fill, n);
    return k + n;
}

static void test_strings(void **state)
{
    (void)state;
    uint8_t body[300];
    proto_derr err;
    proto_request r;
    size_t n = hello_with_name(body, PROTO_NAME_MAX, 'a');
    assert_int_equal(proto_decode_request(body, n, &r, &err), PROTO_E_OK);
    assert_int_equal(strlen(r.u.hello.name), PROTO_NAME_MAX);
    n = hello_with_name(body, PROTO_NAME_MAX + 1, 'a');
    assert_int_equal(dec_req(body, n, &err), PROTO_E_STRING_TOO_LONG);
    assert_string_equal(err.field, "name");
    n = hello_with_name(body, 255, 'a');
    assert_int_equal(dec_req(body, n, &err), PROTO_E_STRING_TOO_LONG);
    n = hello_with_name(body, 4, '\n');
    assert_int_equal(dec_req(body, n, &err), PROTO_E_BAD_FIELD);
    n = hello_with_name(body, 3, 0xc3); /* a lead byte with no continuation */
    assert_int_equal(dec_req(body, n, &err), PROTO_E_BAD_FIELD);
    n = hello_with_name(body, 2, 'a');
    body[n - 2] = 0xc3; /* "é" as UTF-8 */
    body[n - 1] = 0xa9;
    assert_int_equal(proto_decode_request(body, n, &r, &err), PROTO_E_OK);
    assert_string_equal(r.u.hello.name, "\xc3\xa9");
    /* str 32 declaring 4 GiB in a 30-byte body */
    static const uint8_t huge_str[] = {0x82, 0xa1, 't', 0xa5, 'h', 'e', 'l', 'l', 'o', 0xa4, 'n', 'a', 'm', 'e',
                                       0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    assert_int_equal(dec_req(huge_str, sizeof huge_str, &err), PROTO_E_BAD_MSGPACK);
    /* ship key over 32 bytes */
    uint8_t q[80];
    static const uint8_t qhead[] = {0x83, 0xa1, 't', 0xa5, 'q', 'u', 'e', 'u', 'e', 0xa4, 'b', 'a', 'n', 'd',
                                    0xa5, 's', 'h', 'o', 'r', 't', 0xa4, 's', 'h', 'i', 'p', 0xd9, 33};
    memcpy(q, qhead, sizeof qhead);
    memset(q + sizeof qhead, 'a', 33);
    assert_int_equal(dec_req(q, sizeof qhead + 33, &err), PROTO_E_STRING_TOO_LONG);
    assert_string_equal(err.field, "ship");
    /* create's optional os: "" is the same as leaving it out (the default opponent); a required
     * key (ship) sent as "" is still bad_field */
    static const uint8_t create_os_empty[] = {0x85, 0xa1, 't', 0xa6, 'c', 'r', 'e', 'a', 't', 'e',
                                              0xa4, 's', 'h', 'i', 'p', 0xa5, 's', 'c', 'o', 'u', 't',
                                              0xa4, 'b', 'a', 'n', 'd', 0xa5, 's', 'h', 'o', 'r', 't',
                                              0xa2, 'v', 's', 0xa2, 'a', 'i', 0xa2, 'o', 's', 0xa0};
    assert_int_equal(proto_decode_request(create_os_empty, sizeof create_os_empty, &r, &err), PROTO_E_OK);
    assert_int_equal(r.type, PROTO_T_CREATE);
    assert_string_equal(r.u.create.oship, "");
    static const uint8_t ship_empty[] = {0x83, 0xa1, 't', 0xa6, 'c', 'r', 'e', 'a', 't', 'e',
                                         0xa4, 's', 'h', 'i', 'p', 0xa0,
                                         0xa4, 'b', 'a', 'n', 'd', 0xa5, 's', 'h', 'o', 'r', 't'};
    assert_int_equal(dec_req(ship_empty, sizeof ship_empty, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "ship");
}

static void test_hostile_counts(void **state)
{
    (void)state;
    proto_derr err;
    /* a map header claiming 2^32-1 entries in 5 bytes */
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(dec_req(map32, sizeof map32, &err), PROTO_E_TOO_MANY);
    static const uint8_t arr32[] = {0x82, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x',
                                    0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(dec_req(arr32, sizeof arr32, &err), PROTO_E_TOO_MANY);
    static const uint8_t map16[] = {0xde, 0x00, 0x04, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g'};
    assert_int_equal(dec_req(map16, sizeof map16, &err), PROTO_E_TOO_MANY);
    /* an honest but over-bound count: PROTO_MAX_WEAPONS + 1 weapons on a ship, in a started event */
    static proto_event e, out;
    sample_event(PROTO_T_STARTED, &e);
    e.u.started.ships[0].nweapons = PROTO_MAX_WEAPONS + 1;
    size_t len;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_TOO_MANY);
    e.u.started.ships[0].nweapons = PROTO_MAX_WEAPONS;
    for (int w = 0; w < PROTO_MAX_WEAPONS; w++)
        e.u.started.ships[0].weapons[w] = e.u.started.ships[0].weapons[0];
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_OK);
    /* Patch the array header ("w": fixarray of 16 is 0xdc 00 10) to claim one more element, and
     * insert a copy of the first weapon map after it. */
    uint8_t *body = buf + 4;
    size_t blen = len - 4;
    size_t at = 0;
    for (; at + 3 < blen; at++)
        if (body[at] == 0xa1 && body[at + 1] == 'w' && body[at + 2] == 0xdc)
            break;
    assert_true(at + 3 < blen);
    assert_int_equal(body[at + 4], PROTO_MAX_WEAPONS);
    body[at + 4] = PROTO_MAX_WEAPONS + 1;
    size_t wstart = at + 5;
    mp_cur wc = {body + wstart, body + blen};
    assert_int_equal(mp_skip(&wc, 1, PROTO_MAX_DEPTH), PROTO_E_OK);
    size_t wlen = (size_t)(wc.p - (body + wstart));
    memmove(body + wstart + wlen, body + wstart, blen - wstart);
    blen += wlen;
    proto_derr derr;
    assert_int_equal(proto_decode_event(body, blen, &out, &derr), PROTO_E_TOO_MANY);
    assert_string_equal(derr.field, "w");
    /* two ships are required, not one */
    sample_event(PROTO_T_STARTED, &e);
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_OK);
    body = buf + 4;
    for (at = 0; at + 6 < len - 4; at++)
        if (memcmp(body + at, "\xa5ships\x92", 7) == 0)
            break;
    body[at + 6] = 0x91; /* claims one ship, and the second ship's bytes are cut out */
    mp_cur c = {body + at + 7, body + len - 4};
    assert_int_equal(mp_skip(&c, 1, PROTO_MAX_DEPTH), PROTO_E_OK); /* first ship */
    size_t cut = (size_t)(c.p - body); /* "ships" is the last key: the frame ends at the cut */
    assert_int_equal(proto_decode_event(body, cut, &out, &derr), PROTO_E_BAD_FIELD);
    assert_string_equal(derr.field, "ships");
}

static void test_nesting(void **state)
{
    (void)state;
    uint8_t body[64];
    proto_derr err;
    /* 33 nested arrays */
    memset(body, 0x91, 32);
    body[32] = 0x90;
    assert_int_equal(dec_req(body, 33, &err), PROTO_E_TOO_DEEP);
    /* a valid ping with an unknown key whose value nests 33 deep in all */
    static const uint8_t head[] = {0x82, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x'};
    memcpy(body, head, sizeof head);
    memset(body + sizeof head, 0x91, 31);
    body[sizeof head + 31] = 0x90;
    assert_int_equal(dec_req(body, sizeof head + 32, &err), PROTO_E_TOO_DEEP);
    /* PROTO_MAX_DEPTH levels in all is fine: top map + 7 arrays (innermost empty) */
    memset(body + sizeof head, 0x91, PROTO_MAX_DEPTH - 2);
    body[sizeof head + PROTO_MAX_DEPTH - 2] = 0x90;
    assert_int_equal(dec_req(body, sizeof head + PROTO_MAX_DEPTH - 1, &err), PROTO_E_OK);
    memset(body + sizeof head, 0x91, PROTO_MAX_DEPTH - 1);
    body[sizeof head + PROTO_MAX_DEPTH - 1] = 0x90;
    assert_int_equal(dec_req(body, sizeof head + PROTO_MAX_DEPTH, &err), PROTO_E_TOO_DEEP);
}

static void test_error_event_and_names(void **state)
{
    (void)state;
    size_t len;
    proto_event e;
    char longmsg[400];
    memset(longmsg, 'x', sizeof longmsg);
    longmsg[PROTO_ERRMSG_MAX - 1] = '\xc3'; /* a 2-byte sequence straddling the cut */
    longmsg[PROTO_ERRMSG_MAX] = '\xa9';
    longmsg[sizeof longmsg - 1] = '\0';
    assert_int_equal(proto_encode_error(buf, sizeof buf, PROTO_E_RATE_LIMITED, longmsg, true, 77, 0, &len),
                     PROTO_E_OK);
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &e, NULL), PROTO_E_OK);
    assert_int_equal(e.type, PROTO_T_ERROR);
    assert_int_equal(e.u.error.code, PROTO_E_RATE_LIMITED);
    assert_int_equal(e.rid, 77);
    assert_int_equal(e.bid, 0);
    assert_int_equal(strlen(e.u.error.msg), PROTO_ERRMSG_MAX - 1);
    /* client bytes quoted in a message: control characters and broken UTF-8 become '?' */
    assert_int_equal(proto_encode_error(buf, sizeof buf, PROTO_E_BAD_FIELD, "key \"a\n\xff\xc3\xa9\xe2\x82\"",
                                        false, 0, 0, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &e, NULL), PROTO_E_OK);
    assert_string_equal(e.u.error.msg, "key \"a??\xc3\xa9??\"");
    assert_int_equal(proto_encode_error(buf, sizeof buf, PROTO_E_INTERNAL, NULL, false, 0, 3, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &e, NULL), PROTO_E_OK);
    assert_false(e.has_rid);
    assert_int_equal(e.bid, 3);
    /* stable numbers that clients hard-code */
    assert_int_equal(PROTO_E_BAD_FRAME, 1);
    assert_int_equal(PROTO_E_TOO_DEEP, 10);
    assert_int_equal(PROTO_E_NOT_YOUR_TURN, 40);
    assert_int_equal(PROTO_E_INTERNAL, 82);
    assert_string_equal(proto_error_name(PROTO_E_TOO_MANY), "too_many");
    assert_null(proto_error_name(12345));
    /* names are unique */
    for (int a = 0; a < 128; a++)
        for (int b = a + 1; b < 128; b++)
            if (proto_error_name(a) && proto_error_name(b))
                assert_string_not_equal(proto_error_name(a), proto_error_name(b));
    for (int t = PROTO_T_HELLO; t <= PROTO_T_EVT_LAST; t++) {
        const char *n = proto_type_name(t);
        if (n)
            assert_int_equal(proto_type_parse(n, strlen(n)), t);
    }
    assert_string_equal(proto_band_name(PROTO_BAND_VERY_LONG), "very_long");
    assert_null(proto_band_name(PROTO_BAND_COUNT));
}

/* ---- moved (cluster): hand-built bodies ---- */
typedef struct mb {
    uint8_t b[512];
    size_t n;
} mb;
static void mb_str(mb *m, const char *s, size_t len)
{
    if (len < 32) {
        m->b[m->n++] = (uint8_t)(0xa0 | len);
    } else {
        m->b[m->n++] = 0xd9;
        m->b[m->n++] = (uint8_t)len;
    }
    memcpy(m->b + m->n, s, len);
    m->n += len;
}
static void mb_cstr(mb *m, const char *s) { mb_str(m, s, strlen(s)); }
static void mb_uint(mb *m, uint64_t v)
{
    m->b[m->n++] = 0xcf;
    for (int i = 7; i >= 0; i--)
        m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

/* {t:"moved", bid, addr, ws} with addr/ws given (NULL: left out), bid 0: left out. */
static proto_error dec_moved(uint64_t bid, const char *addr, size_t alen, const char *ws, proto_event *out,
                             proto_derr *err)
{
    mb m = {.n = 1};
    uint8_t pairs = 1;
    mb_cstr(&m, "t");
    mb_cstr(&m, "moved");
    if (bid) {
        mb_cstr(&m, "bid");
        mb_uint(&m, bid);
        pairs++;
    }
    if (addr) {
        mb_cstr(&m, "addr");
        mb_str(&m, addr, alen);
        pairs++;
    }
    if (ws) {
        mb_cstr(&m, "ws");
        mb_cstr(&m, ws);
        pairs++;
    }
    m.b[0] = (uint8_t)(0x80 | pairs);
    return proto_decode_event(m.b, m.n, out, err);
}

static void test_moved(void **state)
{
    (void)state;
    static proto_event e, out;
    proto_derr err;
    size_t len;
    /* the sample round-trips with its fields, and is not a request */
    sample_event(PROTO_T_MOVED, &e);
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &out, NULL), PROTO_E_OK);
    assert_int_equal(out.type, PROTO_T_MOVED);
    assert_string_equal(proto_type_name(PROTO_T_MOVED), "moved");
    assert_true(out.has_rid);
    assert_int_equal(out.rid, 7);
    assert_int_equal(out.bid, e.bid);
    assert_string_equal(out.u.moved.addr, "10.0.0.2:7400");
    assert_string_equal(out.u.moved.ws, "10.0.0.2:7480");
    proto_request rq;
    assert_int_equal(proto_decode_request(buf + 4, len - 4, &rq, NULL), PROTO_E_UNKNOWN_TYPE);

    /* bounds: addr 1..64 bytes, ws 0..64 */
    char a[PROTO_ADDR_MAX + 2];
    memset(a, 'h', sizeof a);
    assert_int_equal(dec_moved(5, a, PROTO_ADDR_MAX, "", &out, &err), PROTO_E_OK);
    assert_int_equal(strlen(out.u.moved.addr), PROTO_ADDR_MAX);
    assert_string_equal(out.u.moved.ws, "");
    assert_int_equal(dec_moved(5, a, PROTO_ADDR_MAX + 1, "", &out, &err), PROTO_E_STRING_TOO_LONG);
    assert_string_equal(err.field, "addr");
    assert_int_equal(dec_moved(5, a, 0, "", &out, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "addr");
    assert_int_equal(dec_moved(5, "x:1\n", 4, "", &out, &err), PROTO_E_BAD_FIELD); /* control char */
    char w[PROTO_ADDR_MAX + 2];
    memset(w, 'w', sizeof w - 1);
    w[PROTO_ADDR_MAX + 1] = '\0';
    assert_int_equal(dec_moved(5, "h:1", 3, w, &out, &err), PROTO_E_STRING_TOO_LONG);
    assert_string_equal(err.field, "ws");
    w[PROTO_ADDR_MAX] = '\0';
    assert_int_equal(dec_moved(5, "h:1", 3, w, &out, &err), PROTO_E_OK);
    /* addr and ws are required; bid is 1..2^63-1, or absent (the answer to a queue) */
    assert_int_equal(dec_moved(5, "h:1", 3, NULL, &out, &err), PROTO_E_MISSING_FIELD);
    assert_string_equal(err.field, "ws");
    assert_int_equal(dec_moved(5, NULL, 0, "", &out, &err), PROTO_E_MISSING_FIELD);
    assert_string_equal(err.field, "addr");
    assert_int_equal(dec_moved(0, "h:1", 3, "", &out, &err), PROTO_E_OK);
    assert_true(out.bid == 0);
    assert_int_equal(dec_moved((uint64_t)INT64_MAX + 1, "h:1", 3, "", &out, &err), PROTO_E_BAD_FIELD);
    /* wrong types: addr as an integer, ws as nil */
    static const uint8_t addr_int[] = {0x84, 0xa1, 't', 0xa5, 'm', 'o', 'v', 'e', 'd', 0xa3, 'b', 'i', 'd', 0x05,
                                       0xa4, 'a', 'd', 'd', 'r', 0x07, 0xa2, 'w', 's', 0xa0};
    assert_int_equal(proto_decode_event(addr_int, sizeof addr_int, &out, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "addr");
    static const uint8_t ws_nil[] = {0x84, 0xa1, 't', 0xa5, 'm', 'o', 'v', 'e', 'd', 0xa3, 'b', 'i', 'd', 0x05,
                                     0xa4, 'a', 'd', 'd', 'r', 0xa3, 'h', ':', '1', 0xa2, 'w', 's', 0xc0};
    assert_int_equal(proto_decode_event(ws_nil, sizeof ws_nil, &out, &err), PROTO_E_BAD_FIELD);
    assert_string_equal(err.field, "ws");

    /* the encoder refuses what the decoder would: empty or too long addr; no bid is left out */
    sample_event(PROTO_T_MOVED, &e);
    e.u.moved.addr[0] = '\0';
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_BAD_FIELD);
    sample_event(PROTO_T_MOVED, &e);
    memset(e.u.moved.addr, 'h', sizeof e.u.moved.addr); /* no NUL within the bound */
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_STRING_TOO_LONG);
    sample_event(PROTO_T_MOVED, &e);
    e.bid = 0;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &out, NULL), PROTO_E_OK);
    assert_int_equal(out.type, PROTO_T_MOVED);
    assert_true(out.bid == 0);
    sample_event(PROTO_T_MOVED, &e);
    e.u.moved.ws[0] = '\0';
    assert_int_equal(proto_encode_event(buf, sizeof buf, &e, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &out, NULL), PROTO_E_OK);
    assert_string_equal(out.u.moved.ws, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_requests),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_roundtrip_events),
        cmocka_unit_test(test_max_state_fits_default_frame),
        cmocka_unit_test(test_type_string_is_checked_as_text),
        cmocka_unit_test(test_event_size_bound),
        cmocka_unit_test(test_encode_small_buffer),
        cmocka_unit_test(test_encode_refuses_bad_struct),
        cmocka_unit_test(test_truncated_every_prefix),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_type_and_field_errors),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_hostile_counts),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_error_event_and_names),
        cmocka_unit_test(test_moved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
