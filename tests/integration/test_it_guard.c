/* Integration: the network thread's guards, through the real battled binary: rate limit, idle and
 * hello timeouts, hostile frames (garbage, oversized, wrong types) that must not disturb other
 * battles, out-of-turn actions, and the connection cap. Run with --shards 1 and --shards 4. */
#include <arpa/inet.h>
#include <msgpack.h>
#include <sys/socket.h>
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

#define BATTLE_MS 20000

static void start(itest_server *s, const char *const *sets)
{
    if (!itest_start(s, sets))
        fail_msg("battled did not start");
}

static void stop(itest_server *s)
{
    assert_int_equal(itest_finish(s, 10000), 0);
}


static void test_rate_limit(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"ratelimit.actions_per_sec=2", "ratelimit.burst=4",
                                       "ratelimit.abuse_refusals=10", NULL};
    start(&srv, sets);
    proto_event ev;
    pc_conn *c = itest_client(&srv, "spammer");
    /* Eight actions at once: the burst of four passes (to a shard, which knows no such battle),
     * the rest are refused softly with rate_limited and their request ids. */
    int64_t rids[8];
    for (int i = 0; i < 8; i++)
        rids[i] = pc_fire(c, 0x1234, 0);
    int passed = 0, limited = 0;
    for (int i = 0; i < 8; i++) {
        itest_expect(c, PROTO_T_ERROR, &ev);
        if (ev.u.error.code == PROTO_E_NO_SUCH_BATTLE)
            passed++;
        else if (ev.u.error.code == PROTO_E_RATE_LIMITED)
            limited++;
        assert_true(ev.has_rid);
        assert_true(ev.rid >= (uint32_t)rids[0] && ev.rid <= (uint32_t)rids[7]);
    }
    assert_int_equal(passed, 4);
    assert_int_equal(limited, 4);
    /* Soft: the connection still works. */
    assert_true(pc_ping(c, 7) > 0);
    itest_expect(c, PROTO_T_PONG, &ev);
    assert_int_equal(ev.u.pong.ts, 7);
    /* Persistent abuse (10 refusals within 10 s) disconnects. */
    for (int i = 0; i < 10; i++)
        pc_fire(c, 0x1234, 0);
    assert_true(itest_wait_closed(c, ITEST_WAIT_MS));
    pc_close(c);
    /* Others are unaffected. */
    pc_conn *d = itest_client(&srv, "polite");
    pc_close(d);
    stop(&srv);
}

static void test_idle_and_hello_timeouts(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"server.idle_timeout_ms=1000", "server.hello_timeout_ms=300",
                                       NULL};
    start(&srv, sets);
    proto_event ev;
    /* Pings keep a connection alive well past the idle timeout... */
    pc_conn *c = itest_client(&srv, "pinger");
    uint64_t t0 = itest_now_ms();
    while (itest_now_ms() - t0 < 2500) {
        assert_true(pc_ping(c, 1) > 0);
        itest_expect(c, PROTO_T_PONG, &ev);
        itest_expect_silence(c, 100);
    }
    /* ...and silence ends it. */
    uint64_t t1 = itest_now_ms();
    assert_true(itest_wait_closed(c, 4000));
    /* The last ping left at most a round trip plus 100 ms before t1: allow for a slow machine. */
    assert_true(itest_now_ms() - t1 >= 500);
    pc_close(c);
    /* No hello in time: told why, then closed. */
    pc_conn *h = itest_connect(&srv);
    itest_expect_error(h, PROTO_E_NOT_HELLO_FIRST, &ev);
    assert_true(itest_wait_closed(h, 3000));
    pc_close(h);
    /* A request before hello is refused (and the connection may still say hello). */
    pc_conn *e = itest_connect(&srv);
    assert_true(pc_ping(e, 1) > 0);
    itest_expect_error(e, PROTO_E_NOT_HELLO_FIRST, &ev);
    assert_true(pc_hello(e, "late") > 0);
    itest_expect(e, PROTO_T_WELCOME, &ev);
    assert_true(pc_hello(e, "again") > 0);
    itest_expect_error(e, PROTO_E_ALREADY_HELLO, &ev);
    pc_close(e);
    stop(&srv);
}

static void test_hostile_frames_do_not_disturb_battles(void **state)
{
    (void)state;
    if (itest_ws())
        skip(); /* native length prefixes; test_it_ws covers the WebSocket side */
    itest_server srv;
    static const char *const sets[] = {"server.max_frame=256", NULL};
    start(&srv, sets);
    proto_event ev;
    itest_player a, b;
    itest_private_pair(&srv, &a, &b, PROTO_BAND_ADJACENT);
    /* Take the first turn, then let the attackers loose while the battle waits on seat 1. */
    assert_true(pc_fire(a.c, a.t.bid, 0) > 0);
    a.fired_round = 1;

    pc_conn *x = itest_client(&srv, "attacker");
    /* Garbage body: bad msgpack, the stream stays in step and usable. */
    static const uint8_t garbage[] = {0xc1, 0xff, 0x00, 0x13, 0x37};
    itest_send_frame(x, garbage, sizeof garbage);
    itest_expect_error(x, PROTO_E_BAD_MSGPACK, &ev);
    /* Not a map. */
    static const uint8_t arr[] = {0x92, 0x01, 0x02};
    itest_send_frame(x, arr, sizeof arr);
    itest_expect_error(x, PROTO_E_NOT_A_MAP, &ev);
    /* Wrong-typed field: "bid" as a string, with a request id that must be echoed. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    itest_pack_str(&pk, "t");
    itest_pack_str(&pk, "fire");
    itest_pack_str(&pk, "rid");
    msgpack_pack_uint32(&pk, 4242);
    itest_pack_str(&pk, "bid");
    itest_pack_str(&pk, "not a number");
    itest_send_frame(x, sb.data, (uint32_t)sb.size);
    itest_expect_error(x, PROTO_E_BAD_FIELD, &ev);
    assert_true(ev.has_rid);
    assert_int_equal(ev.rid, 4242);
    /* Unknown type, and a server->client type sent by a client. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    itest_pack_str(&pk, "t");
    itest_pack_str(&pk, "launch_nukes");
    itest_send_frame(x, sb.data, (uint32_t)sb.size);
    itest_expect_error(x, PROTO_E_UNKNOWN_TYPE, &ev);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    itest_pack_str(&pk, "t");
    itest_pack_str(&pk, "welcome");
    itest_send_frame(x, sb.data, (uint32_t)sb.size);
    itest_expect_error(x, PROTO_E_UNKNOWN_TYPE, &ev);
    /* A map claiming 2^32-1 entries in 5 bytes. */
    static const uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    itest_send_frame(x, huge, sizeof huge);
    itest_expect(x, PROTO_T_ERROR, &ev);
    /* Actions on the battle by a stranger. */
    assert_true(pc_fire(x, a.t.bid, 0) > 0);
    itest_expect_error(x, PROTO_E_NOT_IN_BATTLE, &ev);
    assert_true(pc_ping(x, 99) > 0);
    itest_expect(x, PROTO_T_PONG, &ev);
    msgpack_sbuffer_destroy(&sb);

    /* Oversized length prefix: frame_too_large, then the stream is closed. */
    pc_conn *y = itest_client(&srv, "oversize");
    uint8_t hdr[4] = {0, 0, 0x10, 0}; /* 4096 > max_frame 256 */
    assert_int_equal(pc_send_raw(y, hdr, 4), 0);
    itest_expect_error(y, PROTO_E_FRAME_TOO_LARGE, &ev);
    assert_true(itest_wait_closed(y, 3000));
    /* Zero length: bad_frame, closed. */
    pc_conn *z = itest_client(&srv, "zero");
    uint8_t zero[4] = {0, 0, 0, 0};
    assert_int_equal(pc_send_raw(z, zero, 4), 0);
    itest_expect_error(z, PROTO_E_BAD_FRAME, &ev);
    assert_true(itest_wait_closed(z, 3000));

    /* The battle went on untouched and ends normally. */
    itest_play(&a, &b, BATTLE_MS);
    assert_int_equal(a.t.end.reason, PROTO_END_DESTROYED);
    for (uint32_t i = 1; i < a.nseq; i++)
        assert_int_equal(a.seqs[i], a.seqs[i - 1] + 1);
    pc_close(x);
    pc_close(y);
    pc_close(z);
    pc_close(a.c);
    pc_close(b.c);
    stop(&srv);
}

static void test_out_of_turn_actions(void **state)
{
    (void)state;
    itest_server srv;
    start(&srv, NULL);
    proto_event ev;
    itest_player a, b;
    itest_private_pair(&srv, &a, &b, PROTO_BAND_ADJACENT);
    assert_int_equal(a.t.seat, 0);
    /* Round 1 belongs to seat 0: seat 1 may not take a turn action. */
    int64_t rid = pc_fire(b.c, b.t.bid, 0);
    itest_expect_error(b.c, PROTO_E_NOT_YOUR_TURN, &ev);
    assert_int_equal(ev.rid, (uint32_t)rid);
    assert_int_equal(ev.bid, b.t.bid);
    rid = pc_end(b.c, b.t.bid);
    itest_expect_error(b.c, PROTO_E_NOT_YOUR_TURN, &ev);
    /* Seat 0 acts once; a second turn action in the same round is refused. */
    assert_true(pc_end(a.c, a.t.bid) > 0);
    a.fired_round = 1;
    itest_until(&a, PROTO_T_TURN, &ev);
    assert_int_equal(a.t.active, 1);
    rid = pc_fire(a.c, a.t.bid, 0);
    itest_expect(a.c, PROTO_T_ERROR, &ev);
    assert_true(ev.u.error.code == PROTO_E_NOT_YOUR_TURN || ev.u.error.code == PROTO_E_ALREADY_ACTED);
    assert_int_equal(ev.rid, (uint32_t)rid);
    /* A weapon the ship does not have. */
    itest_until(&b, PROTO_T_TURN, &ev);
    rid = pc_fire(b.c, b.t.bid, 9);
    assert_true(rid > 0);
    itest_expect_error(b.c, PROTO_E_NO_SUCH_WEAPON, &ev);
    itest_play(&a, &b, BATTLE_MS);
    pc_close(a.c);
    pc_close(b.c);
    stop(&srv);
}

static void test_connection_cap(void **state)
{
    (void)state;
    if (itest_ws())
        skip(); /* native length prefixes; test_it_ws covers the WebSocket side */
    itest_server srv;
    static const char *const sets[] = {"server.max_connections=3", NULL};
    start(&srv, sets);
    proto_event ev;
    pc_conn *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = itest_client(&srv, "ok");
    /* The fourth is refused with an error frame, then closed; the others are untouched. */
    pc_conn *x = itest_connect(&srv);
    itest_expect_error(x, PROTO_E_SERVER_BUSY, &ev);
    assert_true(itest_wait_closed(x, 3000));
    pc_close(x);
    assert_true(pc_ping(c[0], 5) > 0);
    itest_expect(c[0], PROTO_T_PONG, &ev);
    /* A freed place is available again. */
    pc_close(c[2]);
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    pc_conn *y = NULL;
    while (!y && itest_now_ms() < end) {
        y = itest_connect(&srv);
        assert_true(pc_hello(y, "again") > 0);
        if (pc_recv(y, &ev, ITEST_WAIT_MS) == 1 && ev.type == PROTO_T_WELCOME)
            break;
        pc_close(y);
        y = NULL;
    }
    assert_non_null(y);
    pc_close(y);
    pc_close(c[0]);
    pc_close(c[1]);
    stop(&srv);
}


static bool log_has(const itest_server *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return false;
    char line[1200];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* A flood into a tiny shard inbox: the network thread pauses reading that connection while the
 * inbox is full and resumes it below the low watermark, losing and reordering nothing. */
static void test_full_inbox_pauses_without_loss(void **state)
{
    (void)state;
    if (itest_ws())
        skip(); /* native length prefixes; test_it_ws covers the WebSocket side */
    itest_server srv;
    static const char *const sets[] = {"server.ring_slots=64", "server.output_cap=67108864", NULL};
    start(&srv, sets);
    proto_event ev;
    pc_conn *c = itest_client(&srv, "flood");
    enum { N = 30000 };
    size_t total = 0;
    uint8_t *buf = itest_encode_fires(N, 0x4242, &total);
    assert_int_equal(pc_send_raw(c, buf, total), 0);
    free(buf);
    for (uint32_t i = 1; i <= N; i++) {
        itest_expect_error(c, PROTO_E_NO_SUCH_BATTLE, &ev);
        if (ev.rid != i)
            fail_msg("reply %u carries rid %u", i, ev.rid);
    }
    /* The overload path really ran (the net logs each pause at debug level). */
    assert_true(log_has(&srv, "reads paused"));
    assert_true(log_has(&srv, "reads resumed"));
    assert_true(pc_ping(c, 3) > 0);
    itest_expect(c, PROTO_T_PONG, &ev);
    pc_close(c);
    stop(&srv);
}

/* A client that sends but never reads is cut off once its unsent output passes server.output_cap;
 * others are unaffected. */
static void test_output_cap_cuts_a_client_that_does_not_read(void **state)
{
    (void)state;
    if (itest_ws())
        skip(); /* native length prefixes; test_it_ws covers the WebSocket side */
    itest_server srv;
    static const char *const sets[] = {"server.output_cap=4096", "server.max_frame=256", NULL};
    start(&srv, sets);
    proto_event ev;
    pc_conn *bystander = itest_client(&srv, "bystander");
    pc_conn *c = itest_client(&srv, "deaf");
    enum { N = 200000 };
    size_t total = 0;
    uint8_t *buf = itest_encode_fires(N, 0x4242, &total);
    /* Write until the server hangs up (the write then fails) or everything is sent. */
    (void)pc_send_raw(c, buf, total);
    free(buf);
    assert_true(itest_wait_closed(c, 20000));
    pc_close(c);
    assert_true(log_has(&srv, "output cap: cutting off"));
    assert_true(pc_ping(bystander, 11) > 0);
    itest_expect(bystander, PROTO_T_PONG, &ev);
    assert_int_equal(ev.u.pong.ts, 11);
    pc_close(bystander);
    stop(&srv);
}

/* Frames may arrive in any pieces: one byte at a time, and several frames in one write. */
static void test_split_and_batched_frames(void **state)
{
    (void)state;
    if (itest_ws())
        skip(); /* native length prefixes; test_it_ws covers the WebSocket side */
    itest_server srv;
    start(&srv, NULL);
    proto_event ev;
    pc_conn *c = itest_connect(&srv);
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_HELLO;
    r.u.hello.version = PROTO_VERSION;
    strcpy(r.u.hello.name, "slow");
    uint8_t buf[256];
    size_t len = 0;
    assert_int_equal(proto_encode_request(buf, sizeof buf, &r, &len), PROTO_E_OK);
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(pc_send_raw(c, buf + i, 1), 0);
        if (i % 4 == 0)
            itest_expect_silence(c, 5);
    }
    itest_expect(c, PROTO_T_WELCOME, &ev);
    /* Three pings in one write come back as three pongs, in order. */
    size_t off = 0;
    for (uint64_t ts = 1; ts <= 3; ts++) {
        memset(&r, 0, sizeof r);
        r.type = PROTO_T_PING;
        r.u.ping.ts = ts;
        assert_int_equal(proto_encode_request(buf + off, sizeof buf - off, &r, &len), PROTO_E_OK);
        off += len;
    }
    assert_int_equal(pc_send_raw(c, buf, off), 0);
    for (uint64_t ts = 1; ts <= 3; ts++) {
        itest_expect(c, PROTO_T_PONG, &ev);
        assert_int_equal(ev.u.pong.ts, ts);
    }
    /* A client that half-closes after its requests still gets the replies, then the close. */
    assert_int_equal(pc_send_raw(c, buf, off), 0);
    assert_int_equal(shutdown(pc_fd(c), SHUT_WR), 0);
    for (uint64_t ts = 1; ts <= 3; ts++) {
        itest_expect(c, PROTO_T_PONG, &ev);
        assert_int_equal(ev.u.pong.ts, ts);
    }
    assert_true(itest_wait_closed(c, ITEST_WAIT_MS));
    pc_close(c);
    stop(&srv);
}

/* Seats, spectator places and queue entries together are capped per connection. */
static void test_seat_cap(void **state)
{
    (void)state;
    itest_server srv;
    static const char *const sets[] = {"server.max_seats_per_conn=2", NULL};
    start(&srv, sets);
    proto_event ev;
    pc_conn *c = itest_client(&srv, "greedy");
    assert_true(pc_create(c, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "") > 0);
    itest_expect(c, PROTO_T_CREATED, &ev);
    assert_true(pc_queue(c, "scout", PROTO_BAND_LONG) > 0);
    itest_expect(c, PROTO_T_QUEUED, &ev);
    int64_t rid = pc_create(c, "scout", PROTO_BAND_SHORT, PROTO_VS_AI, "");
    itest_expect_error(c, PROTO_E_TOO_MANY_SEATS, &ev);
    assert_int_equal(ev.rid, (uint32_t)rid);
    assert_true(pc_queue(c, "scout", PROTO_BAND_CLOSE) > 0);
    itest_expect_error(c, PROTO_E_TOO_MANY_SEATS, &ev);
    /* Leaving the queue frees a place. */
    assert_true(pc_cancel(c) > 0);
    itest_expect(c, PROTO_T_UNQUEUED, &ev);
    assert_true(pc_create(c, "scout", PROTO_BAND_SHORT, PROTO_VS_AI, "") > 0);
    itest_expect(c, PROTO_T_STARTED, &ev);
    /* An unknown ship is refused before anyone is matched with it. */
    pc_conn *d = itest_client(&srv, "typo");
    assert_true(pc_queue(d, "scoot", PROTO_BAND_LONG) > 0);
    itest_expect_error(d, PROTO_E_NO_SUCH_SHIP, &ev);
    pc_close(d);
    pc_close(c);
    stop(&srv);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_idle_and_hello_timeouts),
        cmocka_unit_test(test_hostile_frames_do_not_disturb_battles),
        cmocka_unit_test(test_out_of_turn_actions),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_full_inbox_pauses_without_loss),
        cmocka_unit_test(test_split_and_batched_frames),
        cmocka_unit_test(test_seat_cap),
        cmocka_unit_test(test_output_cap_cuts_a_client_that_does_not_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
