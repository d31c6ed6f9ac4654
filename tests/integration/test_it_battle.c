/* Integration: battles end to end through the real battled binary (matchmaking, private, solo,
 * spectators, resume, takeover). Run with --shards 1 and --shards 4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/itest.h"

#define BATTLE_MS 20000 /* a whole battle at Adjacent ends in well under this */

static itest_server g_srv;

static int setup(void **state)
{
    (void)state;
    static const char *const sets[] = {"game.ai_think_ms=0", "game.turn_timer_ms=10000",
                                       "server.drain_timeout_ms=200", NULL};
    return itest_start(&g_srv, sets) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_finish(&g_srv, 10000);
    return rc == 0 ? 0 : -1;
}

/* Two clients queue for the same band and get one battle; seat 0 is the one who waited. */
static void matched_pair(itest_player *a, itest_player *b, const char *sa, const char *sb, proto_band band)
{
    proto_event ev;
    itest_player_init(a, itest_client(&g_srv, "a"));
    itest_player_init(b, itest_client(&g_srv, "b"));
    assert_true(pc_queue(a->c, sa, band) > 0);
    itest_expect(a->c, PROTO_T_QUEUED, &ev);
    assert_true(pc_queue(b->c, sb, band) > 0);
    itest_expect(b->c, PROTO_T_STARTED, &ev);
    itest_take_started(b, &ev);
    itest_expect(a->c, PROTO_T_STARTED, &ev);
    itest_take_started(a, &ev);
    assert_int_equal(a->t.bid, b->t.bid);
    assert_int_equal(a->t.seat, 0);
    assert_int_equal(b->t.seat, 1);
}

/* A creates a private battle, B joins it by id. */
static void private_pair(itest_player *a, itest_player *b, proto_band band)
{
    proto_event ev;
    itest_player_init(a, itest_client(&g_srv, "host"));
    itest_player_init(b, itest_client(&g_srv, "guest"));
    int64_t rid = pc_create(a->c, "scout", band, PROTO_VS_PLAYER, "");
    assert_true(rid > 0);
    itest_expect(a->c, PROTO_T_CREATED, &ev);
    assert_int_equal(ev.rid, (uint32_t)rid);
    assert_int_not_equal(ev.bid, 0);
    uint64_t bid = ev.bid;
    assert_true(pc_join(b->c, bid, "free_trader") > 0);
    itest_expect(b->c, PROTO_T_STARTED, &ev);
    itest_take_started(b, &ev);
    itest_expect(a->c, PROTO_T_STARTED, &ev);
    itest_take_started(a, &ev);
    assert_int_equal(a->t.bid, bid);
}

static void assert_contiguous(const itest_player *p)
{
    for (uint32_t i = 1; i < p->nseq; i++)
        if (p->seqs[i] != p->seqs[i - 1] + 1)
            fail_msg("seat %d: seq %u follows %u", p->t.seat, p->seqs[i], p->seqs[i - 1]);
}

static void assert_same_history(const itest_player *a, const itest_player *b)
{
    assert_int_equal(a->nseq, b->nseq);
    assert_memory_equal(a->seqs, b->seqs, a->nseq * sizeof a->seqs[0]);
    assert_memory_equal(a->types, b->types, a->nseq);
}

static void close_players(itest_player *a, itest_player *b)
{
    pc_close(a->c);
    pc_close(b->c);
}

static void test_full_battle_to_destruction(void **state)
{
    (void)state;
    itest_player a, b;
    matched_pair(&a, &b, "scout", "free_trader", PROTO_BAND_ADJACENT);
    itest_play(&a, &b, BATTLE_MS);
    assert_int_equal(a.t.end.reason, PROTO_END_DESTROYED);
    int w = a.t.end.winner;
    assert_true(w == 0 || w == 1);
    assert_int_equal(a.t.end.hull[1 - w], 0);
    assert_true(a.t.end.hull[w] > 0);
    assert_memory_equal(&a.t.end, &b.t.end, sizeof a.t.end);
    /* Both seats saw the same events, each battle event once, in sequence order from 1. */
    assert_int_equal(a.seqs[0], 1);
    assert_contiguous(&a);
    assert_same_history(&a, &b);
    assert_true(a.actions + b.actions >= a.t.end.rounds);
    close_players(&a, &b);
}

static void test_solo_battle(void **state)
{
    (void)state;
    proto_event ev;
    itest_player a;
    itest_player_init(&a, itest_client(&g_srv, "solo"));
    assert_true(pc_create(a.c, "free_trader", PROTO_BAND_CLOSE, PROTO_VS_AI, "scout") > 0);
    itest_expect(a.c, PROTO_T_STARTED, &ev);
    itest_take_started(&a, &ev);
    assert_string_equal(ev.u.started.ships[1].type, "scout");
    itest_play(&a, NULL, BATTLE_MS);
    assert_true(a.t.end.reason == PROTO_END_DESTROYED || a.t.end.reason == PROTO_END_DRAW);
    /* The server's opponent acted too: there were events from seat 1's turns. */
    assert_true(a.t.end.rounds >= 1);
    assert_contiguous(&a);
    pc_close(a.c);
}

static void test_spectator_sees_every_event_in_order(void **state)
{
    (void)state;
    itest_player a, b, s;
    proto_event ev;
    private_pair(&a, &b, PROTO_BAND_ADJACENT);
    itest_player_init(&s, itest_client(&g_srv, "spectator"));
    s.t.bid = a.t.bid;
    assert_true(pc_watch(s.c, a.t.bid) > 0);
    itest_expect(s.c, PROTO_T_STATE, &ev);
    assert_int_equal(ev.u.state.seat, PROTO_SEAT_SPECTATOR);
    uint32_t from = ev.seq;
    itest_play(&a, &b, BATTLE_MS);
    /* The spectator's stream, read after the fact, holds every later event once and in order. */
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    while (!s.t.ended && itest_now_ms() < end) {
        if (pc_recv(s.c, &ev, 100) == 1 && ev.type != PROTO_T_STATE)
            itest_track(&s, &ev);
    }
    assert_true(s.t.ended);
    assert_contiguous(&s);
    assert_true(s.nseq > 0);
    /* Same events as the players from the watch point on. */
    uint32_t first = from ? from + 1 : s.seqs[0];
    assert_int_equal(s.seqs[0], first);
    uint32_t off = 0;
    while (off < a.nseq && a.seqs[off] != first)
        off++;
    assert_int_equal(a.nseq - off, s.nseq);
    assert_memory_equal(a.seqs + off, s.seqs, s.nseq * sizeof s.seqs[0]);
    assert_memory_equal(a.types + off, s.types, s.nseq);
    pc_close(s.c);
    close_players(&a, &b);
}

static void test_matchmaking_by_band_and_arrival(void **state)
{
    (void)state;
    proto_event ev;
    /* Connection order c1..c4; queue order c3 (short), c1 (long), c4 (short), c2 (long). */
    pc_conn *c[5];
    for (int i = 1; i <= 4; i++)
        c[i] = itest_client(&g_srv, "mm");
    assert_true(pc_queue(c[3], "scout", PROTO_BAND_SHORT) > 0);
    itest_expect(c[3], PROTO_T_QUEUED, &ev);
    assert_true(pc_queue(c[1], "scout", PROTO_BAND_LONG) > 0);
    itest_expect(c[1], PROTO_T_QUEUED, &ev);
    assert_true(pc_queue(c[4], "seeker", PROTO_BAND_SHORT) > 0);
    itest_expect(c[4], PROTO_T_STARTED, &ev);
    uint64_t bid34 = ev.bid;
    assert_int_equal(ev.u.started.seat, 1);
    assert_int_equal(ev.u.started.band, PROTO_BAND_SHORT);
    itest_expect(c[3], PROTO_T_STARTED, &ev);
    assert_int_equal(ev.bid, bid34);
    assert_int_equal(ev.u.started.seat, 0);
    /* Nobody else hears of that start, and the long-band player still waits. */
    itest_expect_silence(c[1], 200);
    itest_expect_silence(c[2], 50);
    assert_true(pc_queue(c[2], "free_trader", PROTO_BAND_LONG) > 0);
    itest_expect(c[2], PROTO_T_STARTED, &ev);
    uint64_t bid12 = ev.bid;
    assert_int_equal(ev.u.started.seat, 1);
    itest_expect(c[1], PROTO_T_STARTED, &ev);
    assert_int_equal(ev.bid, bid12);
    assert_int_equal(ev.u.started.seat, 0);
    assert_int_not_equal(bid12, bid34);

    /* Cancel takes a player out of the queue. */
    assert_true(pc_queue(c[1], "scout", PROTO_BAND_DISTANT) > 0);
    itest_expect(c[1], PROTO_T_QUEUED, &ev);
    int64_t rid = pc_cancel(c[1]);
    itest_expect(c[1], PROTO_T_UNQUEUED, &ev);
    assert_int_equal(ev.rid, (uint32_t)rid);
    assert_true(pc_queue(c[2], "scout", PROTO_BAND_DISTANT) > 0);
    itest_expect(c[2], PROTO_T_QUEUED, &ev);
    assert_true(pc_cancel(c[1]) > 0);
    itest_expect_error(c[1], PROTO_E_NOT_QUEUED, &ev);
    for (int i = 1; i <= 4; i++)
        pc_close(c[i]);
}

static void test_resume_gets_exactly_missed_events(void **state)
{
    (void)state;
    itest_player a, b;
    proto_event ev;
    private_pair(&a, &b, PROTO_BAND_ADJACENT);
    assert_int_equal(a.t.seat, 0); /* the creator acts first in round 1 */
    uint32_t last = b.seqs[b.nseq - 1];
    pc_close(b.c);
    /* A is told B went away, then takes its turn while B is gone. */
    itest_until(&a, PROTO_T_AWAY, &ev);
    assert_int_equal(ev.u.away.seat, 1);
    assert_true(pc_fire(a.c, a.t.bid, 0) > 0);
    a.fired_round = 1;
    itest_until(&a, PROTO_T_TURN, &ev);
    assert_int_equal(a.t.active, 1);

    /* B comes back on a new connection with its token and the last sequence it saw. */
    pc_conn *b2 = itest_client(&g_srv, "b-again");
    itest_player r;
    itest_player_init(&r, b2);
    r.t.bid = a.t.bid;
    r.t.seat = 1;
    assert_true(pc_resume(b2, a.t.bid, 1, b.t.token, last) > 0);
    itest_until(&a, PROTO_T_BACK, &ev);
    uint32_t back_seq = ev.seq;
    while (r.nseq == 0 || r.seqs[r.nseq - 1] < back_seq) {
        itest_next(b2, &ev);
        itest_track(&r, &ev);
    }
    /* Exactly last+1 .. back, nothing twice, nothing skipped, the same events A saw. */
    assert_int_equal(r.seqs[0], last + 1);
    assert_contiguous(&r);
    assert_int_equal(r.seqs[r.nseq - 1], back_seq);
    uint32_t off = 0;
    while (a.seqs[off] != last + 1)
        off++;
    assert_int_equal(a.nseq - off, r.nseq);
    assert_memory_equal(a.types + off, r.types, r.nseq);
    itest_expect_silence(b2, 100);
    /* And the battle goes on with the resumed seat. */
    memcpy(r.t.token, b.t.token, PROTO_TOKEN_LEN);
    itest_play(&a, &r, BATTLE_MS);
    pc_close(a.c);
    pc_close(b2);
}

static void test_takeover_of_stale_connection(void **state)
{
    (void)state;
    itest_player a, b;
    proto_event ev;
    private_pair(&a, &b, PROTO_BAND_ADJACENT);
    uint32_t last = b.seqs[b.nseq - 1];
    /* B's old connection never closes; a new one presents the token and takes the seat over. */
    pc_conn *b2 = itest_client(&g_srv, "b-new");
    assert_true(pc_resume(b2, b.t.bid, (uint8_t)b.t.seat, b.t.token, last) > 0);
    itest_expect(b.c, PROTO_T_LEFT, &ev);
    assert_int_equal(ev.bid, b.t.bid);
    itest_expect(b2, PROTO_T_STATE, &ev); /* nothing missed: a full state acknowledges */
    /* The stale connection lost the seat; the new one holds it. A acts first (round 1). */
    assert_true(pc_fire(a.c, a.t.bid, 0) > 0);
    a.fired_round = 1;
    itest_player r;
    itest_player_init(&r, b2);
    r.t.bid = b.t.bid;
    r.t.seat = b.t.seat;
    r.t.round = 1;
    r.t.active = 0;
    itest_until(&r, PROTO_T_TURN, &ev);
    assert_int_equal(r.t.active, r.t.seat);
    assert_true(pc_fire(b.c, b.t.bid, 0) > 0);
    itest_expect_error(b.c, PROTO_E_NOT_IN_BATTLE, &ev);
    itest_play(&a, &r, BATTLE_MS);
    pc_close(b2);
    close_players(&a, &b);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_battle_to_destruction),
        cmocka_unit_test(test_solo_battle),
        cmocka_unit_test(test_spectator_sees_every_event_in_order),
        cmocka_unit_test(test_matchmaking_by_band_and_arrival),
        cmocka_unit_test(test_resume_gets_exactly_missed_events),
        cmocka_unit_test(test_takeover_of_stale_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
