/* Integration: the promises of docs/PROTOCOL.md that a client author relies on, through the real
 * battled binary (issue 16): the order of checks before hello, "t" as text, what welcome announces,
 * the encodings of a 64-bit battle id, resume on the connection that holds the seat, one rule for
 * an ended battle, where leave's and forfeit's request ids go, which queue entry becomes seat 0 and
 * the weapons' long-range DMs. Run with --shards 1 and --shards 4. */
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "tests/integration/itest.h"

/* One server with the standard test settings for every test but the one that needs its own. */
static itest_server g_srv;

static int setup(void **state)
{
    (void)state;
    return itest_start(&g_srv, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return itest_finish(&g_srv, 10000) == 0 ? 0 : -1;
}

static void close_pair(itest_player *a, itest_player *b)
{
    pc_close(a->c);
    pc_close(b->c);
}

/* Section 2's order: framing, msgpack, counts, depth, map, type, hello, fields. Before hello a body
 * that fails at or before the type gets that error; a request of a known type other than hello gets
 * not_hello_first whatever its fields; hello's own fields are checked as usual. */
static void test_checks_in_order_before_hello(void **state)
{
    (void)state;
    proto_event ev;
    pc_conn *c = itest_connect(&g_srv);
    static const uint8_t garbage[] = {0xc1};
    itest_send_frame(c, garbage, sizeof garbage);
    itest_expect_error(c, PROTO_E_BAD_MSGPACK, &ev);
    static const uint8_t deep[] = {0x81, 0xa1, 'x', 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x01};
    itest_send_frame(c, deep, sizeof deep);
    itest_expect_error(c, PROTO_E_TOO_DEEP, &ev);
    static const uint8_t arr[] = {0x91, 0x01};
    itest_send_frame(c, arr, sizeof arr);
    itest_expect_error(c, PROTO_E_NOT_A_MAP, &ev);
    static const uint8_t nope[] = {0x81, 0xa1, 't', 0xa4, 'n', 'o', 'p', 'e'};
    itest_send_frame(c, nope, sizeof nope);
    itest_expect_error(c, PROTO_E_UNKNOWN_TYPE, &ev);
    /* fire without its bid and with a bad w: before hello that is not_hello_first, with the rid */
    static const uint8_t fire[] = {0x83, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'r', 'i', 'd', 0x33,
                                   0xa1, 'w', 0xa1, 'x'};
    itest_send_frame(c, fire, sizeof fire);
    itest_expect_error(c, PROTO_E_NOT_HELLO_FIRST, &ev);
    assert_true(ev.has_rid);
    assert_int_equal(ev.rid, 0x33);
    /* hello with a field wrong is that field's error */
    static const uint8_t hello_bad[] = {0x83, 0xa1, 't', 0xa5, 'h', 'e', 'l', 'l', 'o', 0xa1, 'v', 0xa1,
                                        '1', 0xa4, 'n', 'a', 'm', 'e', 0xa0};
    itest_send_frame(c, hello_bad, sizeof hello_bad);
    itest_expect_error(c, PROTO_E_BAD_FIELD, &ev);
    /* and the connection can still say hello */
    assert_true(pc_hello(c, "late") > 0);
    itest_expect(c, PROTO_T_WELCOME, &ev);
    /* after hello the same fire gets its field error */
    itest_send_frame(c, fire, sizeof fire);
    itest_expect_error(c, PROTO_E_BAD_FIELD, &ev);
    pc_close(c);
}

/* "t" with invalid UTF-8 or a control character is bad_field (sections 2 and 9). */
static void test_type_must_be_text(void **state)
{
    (void)state;
    proto_event ev;
    pc_conn *c = itest_client(&g_srv, "texter");
    static const uint8_t bad_utf8[] = {0x82, 0xa1, 't', 0xa3, 0xa2, 0xff, 0xfe, 0xa3, 'r', 'i', 'd', 0x05};
    itest_send_frame(c, bad_utf8, sizeof bad_utf8);
    itest_expect_error(c, PROTO_E_BAD_FIELD, &ev);
    assert_int_equal(ev.rid, 5);
    static const uint8_t ctrl[] = {0x81, 0xa1, 't', 0xa5, 'p', 'i', 0x01, 'n', 'g'};
    itest_send_frame(c, ctrl, sizeof ctrl);
    itest_expect_error(c, PROTO_E_BAD_FIELD, &ev);
    assert_true(pc_ping(c, 1) > 0);
    itest_expect(c, PROTO_T_PONG, &ev);
    pc_close(c);
}

/* welcome.frame bounds what the client sends; welcome.sframe what the server sends, which does not
 * shrink with server.max_frame: a started frame is larger than 256 bytes. */
static void test_welcome_announces_both_frame_limits(void **state)
{
    (void)state;
    itest_server srv; /* its own server: a small max_frame */
    static const char *const sets[] = {"server.max_frame=256", NULL};
    if (!itest_start(&srv, sets))
        fail_msg("battled did not start");
    proto_event ev;
    pc_conn *c = itest_connect(&srv);
    assert_true(pc_hello(c, "sizes") > 0);
    itest_expect(c, PROTO_T_WELCOME, &ev);
    assert_int_equal(ev.u.welcome.max_frame, 256);
    assert_int_equal(ev.u.welcome.max_out_frame, PROTO_EVENT_MAX);
    assert_int_equal(ev.u.welcome.max_watch, ev.u.welcome.max_seats); /* watch counts within seats */
    assert_true(pc_create(c, "scout", PROTO_BAND_LONG, PROTO_VS_AI, "scout") > 0);
    itest_expect(c, PROTO_T_STARTED, &ev);
    uint8_t buf[PROTO_EVENT_MAX + 4];
    size_t len = 0;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &ev, &len), PROTO_E_OK);
    assert_true(len - 4 > 256);
    /* the weapon map carries each weapon's long-range DM: data/ships.toml's missiles have +2 */
    const struct proto_ship *scout = &ev.u.started.ships[1];
    bool seen = false;
    for (unsigned w = 0; w < scout->nweapons; w++)
        if (scout->weapons[w].kind == PROTO_WK_MISSILE) {
            assert_int_equal(scout->weapons[w].long_dm, 2);
            seen = true;
        } else {
            assert_int_equal(scout->weapons[w].long_dm, 0);
        }
    assert_true(seen);
    pc_close(c);
    assert_int_equal(itest_finish(&srv, 10000), 0);
}

/* {"t":"fire","rid":rid,"bid":<bid as `how`>,"w":0}: 'u' uint 64, 'i' int 64, 'f' float 64. */
static void send_fire_bid_as(pc_conn *c, uint64_t bid, char how, uint32_t rid)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    itest_pack_str(&pk, "t");
    itest_pack_str(&pk, "fire");
    itest_pack_str(&pk, "rid");
    msgpack_pack_uint32(&pk, rid);
    itest_pack_str(&pk, "bid");
    if (how == 'u') {
        msgpack_pack_uint64(&pk, bid);
    } else if (how == 'i') {
        /* msgpack-c picks the shortest form; force int 64 (0xd3) by hand */
        uint8_t b[9] = {0xd3};
        for (int k = 0; k < 8; k++)
            b[1 + k] = (uint8_t)(bid >> (56 - 8 * k));
        msgpack_sbuffer_write(&sb, (const char *)b, sizeof b);
    } else {
        msgpack_pack_double(&pk, (double)bid);
    }
    itest_pack_str(&pk, "w");
    msgpack_pack_uint8(&pk, 0);
    itest_send_frame(c, sb.data, (uint32_t)sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* A 64-bit battle id is accepted as uint 64 or int 64; a float (what a JavaScript encoder writes for
 * a large Number) is bad_field. */
static void test_battle_id_encodings(void **state)
{
    (void)state;
    proto_event ev;
    itest_player a, b;
    itest_private_pair(&g_srv, &a, &b, PROTO_BAND_SHORT);
    /* seat 1 is not active in round 1: a correctly routed fire is not_your_turn */
    send_fire_bid_as(b.c, b.t.bid, 'u', 11);
    itest_expect_error(b.c, PROTO_E_NOT_YOUR_TURN, &ev);
    assert_int_equal(ev.rid, 11);
    assert_int_equal(ev.bid, b.t.bid);
    send_fire_bid_as(b.c, b.t.bid, 'i', 12);
    itest_expect_error(b.c, PROTO_E_NOT_YOUR_TURN, &ev);
    assert_int_equal(ev.rid, 12);
    send_fire_bid_as(b.c, b.t.bid, 'f', 13);
    itest_expect_error(b.c, PROTO_E_BAD_FIELD, &ev);
    assert_int_equal(ev.rid, 13);
    assert_string_equal(ev.u.error.msg, "field \"bid\"");
    close_pair(&a, &b);
}

/* resume of the seat this connection already holds: already_in_battle, and nothing replayed. */
static void test_resume_on_the_holding_connection(void **state)
{
    (void)state;
    proto_event ev;
    itest_player a, b;
    itest_private_pair(&g_srv, &a, &b, PROTO_BAND_SHORT);
    int64_t rid = pc_resume(a.c, a.t.bid, (uint8_t)a.t.seat, a.t.token, 0);
    assert_true(rid > 0);
    itest_expect_error(a.c, PROTO_E_ALREADY_IN_BATTLE, &ev);
    assert_int_equal(ev.rid, (uint32_t)rid);
    itest_expect_silence(a.c, 300);
    close_pair(&a, &b);
}

/* leave's rid goes on `left`, forfeit's on `ended`; after the end every action, forfeit and leave
 * is battle_over, whoever sends it. */
static void test_leave_forfeit_and_the_ended_battle(void **state)
{
    (void)state;
    proto_event ev;
    itest_player a, b;
    itest_private_pair(&g_srv, &a, &b, PROTO_BAND_SHORT);
    int64_t rid = pc_leave(b.c, b.t.bid);
    assert_true(rid > 0);
    bool got_left = false, got_ended = false;
    uint64_t until = itest_now_ms() + ITEST_WAIT_MS;
    while (!(got_left && got_ended) && itest_now_ms() < until) {
        itest_next(b.c, &ev);
        if (ev.type == PROTO_T_ENDED) {
            assert_false(ev.has_rid);
            assert_int_equal(ev.u.ended.reason, PROTO_END_FORFEIT);
            got_ended = true;
        } else if (ev.type == PROTO_T_LEFT) {
            assert_true(ev.has_rid);
            assert_int_equal(ev.rid, (uint32_t)rid);
            got_left = true;
        }
    }
    assert_true(got_left && got_ended);
    itest_expect(a.c, PROTO_T_ENDED, &ev);
    pc_conn *x = itest_client(&g_srv, "stranger");
    pc_conn *who[] = {a.c, b.c, x};
    for (int k = 0; k < 3; k++) {
        assert_true(pc_fire(who[k], a.t.bid, 0) > 0);
        itest_expect_error(who[k], PROTO_E_BATTLE_OVER, &ev);
        assert_true(pc_leave(who[k], a.t.bid) > 0);
        itest_expect_error(who[k], PROTO_E_BATTLE_OVER, &ev);
        assert_true(pc_forfeit(who[k], a.t.bid) > 0);
        itest_expect_error(who[k], PROTO_E_BATTLE_OVER, &ev);
    }
    pc_close(x);

    /* forfeit: its rid is on `ended` (it has no direct reply) */
    itest_player c, d;
    itest_private_pair(&g_srv, &c, &d, PROTO_BAND_SHORT);
    rid = pc_forfeit(c.c, c.t.bid);
    itest_expect(c.c, PROTO_T_ENDED, &ev);
    assert_true(ev.has_rid);
    assert_int_equal(ev.rid, (uint32_t)rid);
    assert_int_equal(ev.u.ended.winner, d.t.seat);
    assert_int_equal(ev.u.ended.rounds, 1); /* the round in progress when it ended */
    itest_expect(d.c, PROTO_T_ENDED, &ev);
    assert_false(ev.has_rid);
    close_pair(&a, &b);
    close_pair(&c, &d);
}

/* On a queue match the entry that waited is seat 0, the one that completed the match seat 1. */
static void test_queue_match_seats(void **state)
{
    (void)state;
    proto_event ev;
    pc_conn *first = itest_client(&g_srv, "first");
    pc_conn *second = itest_client(&g_srv, "second");
    assert_true(pc_queue(first, "scout", PROTO_BAND_MEDIUM) > 0);
    itest_expect(first, PROTO_T_QUEUED, &ev);
    assert_true(pc_queue(second, "free_trader", PROTO_BAND_MEDIUM) > 0);
    itest_expect(second, PROTO_T_STARTED, &ev);
    assert_int_equal(ev.u.started.seat, 1);
    assert_string_equal(ev.u.started.ships[0].type, "scout");
    itest_expect(first, PROTO_T_STARTED, &ev);
    assert_int_equal(ev.u.started.seat, 0);
    pc_close(first);
    pc_close(second);
}

/* create vs "ai" without "os": the AI flies a free_trader against a scout, a scout against the rest. */
static void test_default_ai_ship(void **state)
{
    (void)state;
    proto_event ev;
    pc_conn *c = itest_client(&g_srv, "solo");
    assert_true(pc_create(c, "scout", PROTO_BAND_SHORT, PROTO_VS_AI, "") > 0);
    itest_expect(c, PROTO_T_STARTED, &ev);
    assert_string_equal(ev.u.started.ships[1].type, "free_trader");
    assert_true(pc_create(c, "free_trader", PROTO_BAND_SHORT, PROTO_VS_AI, "") > 0);
    itest_expect(c, PROTO_T_STARTED, &ev);
    assert_string_equal(ev.u.started.ships[1].type, "scout");
    assert_true(pc_create(c, "patrol_corvette", PROTO_BAND_SHORT, PROTO_VS_AI, "") > 0);
    itest_expect(c, PROTO_T_STARTED, &ev);
    assert_string_equal(ev.u.started.ships[1].type, "scout");
    pc_close(c);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks_in_order_before_hello),
        cmocka_unit_test(test_type_must_be_text),
        cmocka_unit_test(test_welcome_announces_both_frame_limits),
        cmocka_unit_test(test_battle_id_encodings),
        cmocka_unit_test(test_resume_on_the_holding_connection),
        cmocka_unit_test(test_leave_forfeit_and_the_ended_battle),
        cmocka_unit_test(test_queue_match_seats),
        cmocka_unit_test(test_default_ai_ship),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
