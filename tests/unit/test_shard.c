/* Shard runtime tests through its public API only (shards/shard.h), no sockets: the test thread
 * plays the network thread. Covers private, matched and solo battles played to their end, resume
 * with exactly the missed events, takeover of a stale connection, spectators, errors, the turn
 * timer, the resume window, idle disposal, the keep period, leave, listing, heartbeat and drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/test_shard_harness.h"

#define A 0x100000001ull /* conn ids: slot | generation << 32 */
#define B 0x100000002ull
#define C 0x100000003ull
#define D 0x100000004ull
#define A2 0x200000001ull

static struct harness *start(struct shards_opts *c)
{
    struct harness *h = h_start(c);
    assert_non_null(h);
    return h;
}

static const proto_event *ev_at(struct harness *h, long i)
{
    assert_true(i >= 0);
    return &h->rx[i].ev;
}

/* Sequence numbers a conn saw increase strictly (they may skip: see shards/events.h). */
static void assert_seq_increasing(struct harness *h, conn_id conn)
{
    uint32_t last = 0;
    for (size_t i = 0; i < h->nrx; i++) {
        const proto_event *e = &h->rx[i].ev;
        if (h->rx[i].conn != conn || e->seq == 0)
            continue;
        if (e->type == PROTO_T_STATE) { /* a full state restates the current number */
            assert_true(e->seq >= last);
            last = e->seq;
            continue;
        }
        assert_true(e->seq > last);
        last = e->seq;
    }
}

/* The (type, seq) list conn received from index from on, skipping errors and replies without seq. */
static size_t seq_list(struct harness *h, conn_id conn, size_t from, uint32_t after, uint8_t *types,
                       uint32_t *seqs, size_t cap)
{
    size_t n = 0;
    for (size_t i = from; i < h->nrx && n < cap; i++) {
        const proto_event *e = &h->rx[i].ev;
        if (h->rx[i].conn != conn || e->seq <= after || e->type == PROTO_T_STATE)
            continue;
        types[n] = e->type;
        seqs[n] = e->seq;
        n++;
    }
    return n;
}

static long expect_error(struct harness *h, conn_id conn, size_t from, proto_error code)
{
    long i = h_wait(h, conn, PROTO_T_ERROR, from);
    assert_true(i >= 0);
    assert_int_equal(ev_at(h, i)->u.error.code, code);
    return i;
}

static void end_turn(struct harness *h, conn_id conn, uint64_t bid, uint32_t rid)
{
    h_request(h, conn, bid, PROTO_T_END, rid, NULL);
}

static void fire(struct harness *h, conn_id conn, uint64_t bid, uint8_t w, uint32_t rid)
{
    proto_request r;
    memset(&r, 0, sizeof r);
    r.u.fire.weapon = w;
    h_request(h, conn, bid, PROTO_T_FIRE, rid, &r);
}

static void resume(struct harness *h, conn_id conn, uint64_t bid, uint8_t seat, const uint8_t *tok,
                   uint32_t last, uint32_t rid)
{
    proto_request r;
    memset(&r, 0, sizeof r);
    r.u.resume.seat = seat;
    memcpy(r.u.resume.token, tok, PROTO_TOKEN_LEN);
    r.u.resume.last = last;
    h_request(h, conn, bid, PROTO_T_RESUME, rid, &r);
}

/* Starts a matched battle of two bricks; returns after both seats have "started". */
static void matched(struct harness *h, uint64_t bid, const char *ship, uint8_t tokens[2][16])
{
    h_create(h, bid, SHARD_CREATE_MATCHED, A, B, ship, ship, PROTO_BAND_SHORT);
    long ia = h_wait(h, A, PROTO_T_STARTED, 0);
    long ib = h_wait(h, B, PROTO_T_STARTED, 0);
    assert_true(ia >= 0 && ib >= 0);
    assert_int_equal(ev_at(h, ia)->u.started.seat, 0);
    assert_int_equal(ev_at(h, ib)->u.started.seat, 1);
    assert_int_equal(ev_at(h, ia)->rid, 100);
    assert_int_equal(ev_at(h, ib)->rid, 200);
    assert_int_equal(ev_at(h, ia)->seq, 1);
    if (tokens) {
        memcpy(tokens[0], ev_at(h, ia)->u.started.token, 16);
        memcpy(tokens[1], ev_at(h, ib)->u.started.token, 16);
    }
    assert_memory_not_equal(ev_at(h, ia)->u.started.token, ev_at(h, ib)->u.started.token, 16);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_private_battle_to_end(void **state)
{
    struct shards_opts c;
    h_config(&c, 2);
    struct harness *h = start(&c);
    uint64_t bid = 0x1111;

    h_create(h, bid, SHARD_CREATE_PRIVATE, A, 0, "glass", NULL, PROTO_BAND_ADJACENT);
    long i = h_wait(h, A, PROTO_T_CREATED, 0);
    assert_true(i >= 0);
    const proto_event *cr = ev_at(h, i);
    assert_int_equal(cr->rid, 100);
    assert_int_equal(cr->bid, bid);
    assert_int_equal(cr->u.created.seat, 0);
    uint8_t tok[16];
    memcpy(tok, cr->u.created.token, 16);
    assert_true(h_find_ctl(h, SHARD_OUT_SEAT, A, 0) >= 0);

    /* an action before anyone joined */
    size_t mark = h->nrx;
    fire(h, A, bid, 0, 5);
    expect_error(h, A, mark, PROTO_E_NOT_STARTED);

    proto_request j;
    memset(&j, 0, sizeof j);
    snprintf(j.u.join.ship, sizeof j.u.join.ship, "glass");
    h_request(h, B, bid, PROTO_T_JOIN, 7, &j);
    long sa = h_wait(h, A, PROTO_T_STARTED, 0), sbi = h_wait(h, B, PROTO_T_STARTED, 0);
    assert_true(sa >= 0 && sbi >= 0);
    assert_memory_equal(ev_at(h, sa)->u.started.token, tok, 16);
    assert_int_equal(ev_at(h, sbi)->rid, 7);
    assert_false(ev_at(h, sa)->has_rid);
    assert_int_equal(ev_at(h, sa)->u.started.first, 0);
    assert_string_equal(ev_at(h, sa)->u.started.ships[1].type, "glass");

    /* seat 1 may not act in round 1 */
    mark = h->nrx;
    fire(h, B, bid, 0, 9);
    i = expect_error(h, B, mark, PROTO_E_NOT_YOUR_TURN);
    assert_int_equal(ev_at(h, i)->rid, 9);

    /* a third party may join neither */
    mark = h->nrx;
    h_request(h, C, bid, PROTO_T_JOIN, 0, &j);
    expect_error(h, C, mark, PROTO_E_BATTLE_FULL);

    mark = h->nrx;
    fire(h, A, bid, 0, 8);
    long ea = h_wait(h, A, PROTO_T_ENDED, mark), eb = h_wait(h, B, PROTO_T_ENDED, mark);
    assert_true(ea >= 0 && eb >= 0);
    long at = h_find(h, A, PROTO_T_ATTACK, mark);
    assert_true(at >= 0 && at < ea);
    assert_int_equal(ev_at(h, at)->rid, 8); /* the requester's copy echoes its id */
    assert_true(ev_at(h, at)->u.attack.hit);
    assert_false(ev_at(h, h_find(h, B, PROTO_T_ATTACK, mark))->has_rid);
    const proto_event *en = ev_at(h, ea);
    assert_int_equal(en->u.ended.winner, 0);
    assert_int_equal(en->u.ended.reason, PROTO_END_DESTROYED);
    assert_int_equal(en->u.ended.hull[1], 0);
    assert_int_equal(ev_at(h, eb)->seq, en->seq);

    /* both seats were released */
    h_settle(h);
    long r1 = h_find_ctl(h, SHARD_OUT_SEAT, A, 0);
    long r2 = h_find_ctl(h, SHARD_OUT_SEAT, A, (size_t)r1 + 1);
    assert_true(r2 > r1);
    assert_int_equal(h->ctl[r2].m.delta, -1);
    assert_true(h_find_ctl(h, SHARD_OUT_SEAT, B, 0) >= 0);

    mark = h->nrx;
    fire(h, A, bid, 0, 0);
    expect_error(h, A, mark, PROTO_E_BATTLE_OVER);

    assert_seq_increasing(h, A);
    assert_seq_increasing(h, B);
    const struct shard_stats *st = shards_stats(h->s, shard_of(bid, 2));
    assert_int_equal(atomic_load(&st->battles_started), 1);
    assert_int_equal(atomic_load(&st->battles_ended[SHARD_END_DESTROYED]), 1);
    assert_int_equal(atomic_load(&st->battles_live), 0);
    assert_int_equal(h->decode_errors, 0);
    h_stop(h);
}

static void test_resume_missed_events(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    struct harness *h = start(&c);
    uint64_t bid = 0x2222;
    uint8_t tok[2][16];
    matched(h, bid, "brick", tok);

    size_t mark = h->nrx;
    end_turn(h, A, bid, 1);
    long t = h_wait(h, A, PROTO_T_TURN, mark);
    assert_true(t >= 0);
    uint32_t last_a = ev_at(h, t)->seq;
    assert_int_equal(ev_at(h, t)->rid, 1);
    h_wait(h, B, PROTO_T_TURN, mark);

    mark = h->nrx;
    h_conn_gone(h, A, bid);
    long aw = h_wait(h, B, PROTO_T_AWAY, mark);
    assert_true(aw >= 0);
    assert_int_equal(ev_at(h, aw)->u.away.seat, 0);

    /* the game goes on without seat 0 */
    mark = h->nrx;
    end_turn(h, B, bid, 0);
    assert_true(h_wait(h, B, PROTO_T_ROUND, mark) >= 0);
    mark = h->nrx;
    end_turn(h, B, bid, 0);
    assert_true(h_wait(h, B, PROTO_T_TURN, mark) >= 0);

    /* a wrong token is refused and changes nothing */
    uint8_t bad[16];
    memcpy(bad, tok[0], 16);
    bad[15] ^= 1;
    mark = h->nrx;
    resume(h, A2, bid, 0, bad, last_a, 4);
    expect_error(h, A2, mark, PROTO_E_BAD_TOKEN);
    mark = h->nrx;
    resume(h, A2, bid, 0, tok[0], 1000, 4);
    expect_error(h, A2, mark, PROTO_E_SEQ_GONE);

    size_t before = h->nrx;
    resume(h, A2, bid, 0, tok[0], last_a, 9);
    assert_true(h_wait(h, A2, PROTO_T_BACK, before) >= 0);
    assert_true(h_wait(h, B, PROTO_T_BACK, before) >= 0);
    h_settle(h);

    /* A2 got exactly what B saw after last_a: away, round, turn, back */
    uint8_t ta[32], tb[32];
    uint32_t qa[32], qb[32];
    size_t na = seq_list(h, A2, before, last_a, ta, qa, 32);
    size_t nb = seq_list(h, B, 0, last_a, tb, qb, 32);
    assert_int_equal(na, nb);
    assert_int_equal(na, 4);
    assert_memory_equal(ta, tb, na);
    assert_memory_equal(qa, qb, na * sizeof qa[0]);
    assert_int_equal(ta[0], PROTO_T_AWAY);
    assert_int_equal(ta[3], PROTO_T_BACK);
    long first = h_find(h, A2, PROTO_T_AWAY, before);
    assert_int_equal(ev_at(h, first)->rid, 9);

    /* the seat works again from the new connection */
    mark = h->nrx;
    end_turn(h, A2, bid, 11);
    long tt = h_wait(h, A2, PROTO_T_ROUND, mark);
    assert_true(tt >= 0);
    assert_int_equal(ev_at(h, tt)->rid, 11);
    assert_seq_increasing(h, A2);
    assert_seq_increasing(h, B);
    assert_int_equal(atomic_load(&shards_stats(h->s, 0)->resumes), 1);
    h_stop(h);
}

static void test_takeover(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    struct harness *h = start(&c);
    uint64_t bid = 0x3333;
    uint8_t tok[2][16];
    matched(h, bid, "brick", tok);

    size_t mark = h->nrx, cmark = h->nctl;
    resume(h, A2, bid, 0, tok[0], 1, 3);
    long left = h_wait(h, A, PROTO_T_LEFT, mark);
    assert_true(left >= 0);
    long st = h_wait(h, A2, PROTO_T_STATE, mark); /* nothing missed: the state acknowledges */
    assert_true(st >= 0);
    assert_int_equal(ev_at(h, st)->rid, 3);
    assert_int_equal(ev_at(h, st)->u.state.seat, 0);
    long lost = h_wait_ctl(h, SHARD_OUT_SEAT, A, cmark);
    assert_true(lost >= 0);
    assert_int_equal(h->ctl[lost].m.delta, -1);
    long got = h_wait_ctl(h, SHARD_OUT_SEAT, A2, cmark);
    assert_true(got >= 0);
    assert_int_equal(h->ctl[got].m.delta, 1);
    assert_int_equal(h->ctl[got].m.role, SHARD_ROLE_SEAT0);

    /* the stale connection lost the seat; its late close changes nothing */
    mark = h->nrx;
    end_turn(h, A, bid, 0);
    expect_error(h, A, mark, PROTO_E_NOT_IN_BATTLE);
    h_conn_gone(h, A, bid);
    mark = h->nrx;
    end_turn(h, A2, bid, 0);
    assert_true(h_wait(h, B, PROTO_T_TURN, mark) >= 0);
    assert_int_equal(h_find(h, B, PROTO_T_AWAY, 0), -1);
    assert_int_equal(atomic_load(&shards_stats(h->s, 0)->takeovers), 1);
    h_stop(h);
}

/* Plays conn's seat by ending its turn whenever it becomes active, until the battle ends. */
static long autoplay(struct harness *h, conn_id conn, uint64_t bid, int seat, bool use_fire)
{
    uint64_t until = clock_mono_ms() + H_WAIT_MS;
    size_t seen = 0;
    int active = -1;
    uint32_t acted_key = 0;
    for (;;) {
        h_pump(h);
        for (; seen < h->nrx; seen++) {
            const proto_event *e = &h->rx[seen].ev;
            if (h->rx[seen].conn != conn)
                continue;
            if (e->type == PROTO_T_ENDED)
                return (long)seen;
            if (e->type == PROTO_T_STARTED)
                active = e->u.started.first;
            else if (e->type == PROTO_T_TURN)
                active = e->u.turn.active;
            else if (e->type == PROTO_T_ROUND)
                active = e->u.round.active;
            else if (e->type == PROTO_T_ERROR)
                fail_msg("unexpected error %u", e->u.error.code);
            if (active == seat && e->seq > acted_key) {
                acted_key = e->seq;
                if (use_fire)
                    fire(h, conn, bid, 0, 0);
                else
                    end_turn(h, conn, bid, 0);
            }
        }
        if (clock_mono_ms() > until)
            return -1;
        h_nap();
    }
}

static void test_solo_battle(void **state)
{
    struct shards_opts c;
    h_config(&c, 2);
    c.game.round_limit = 20;
    struct harness *h = start(&c);
    uint64_t bid = 0x4444;
    h_create(h, bid, SHARD_CREATE_SOLO, A, 0, "scout", NULL, PROTO_BAND_MEDIUM);
    long s = h_wait(h, A, PROTO_T_STARTED, 0);
    assert_true(s >= 0);
    assert_string_equal(ev_at(h, s)->u.started.ships[1].type, "free_trader"); /* the AI's default */
    long e = autoplay(h, A, bid, 0, true);
    assert_true(e >= 0);
    /* the AI fought back: it attacked at least once */
    long ai_attack = -1;
    for (size_t i = 0; i < h->nrx && ai_attack < 0; i++)
        if (h->rx[i].ev.type == PROTO_T_ATTACK && h->rx[i].ev.u.attack.seat == 1)
            ai_attack = (long)i;
    assert_true(ai_attack >= 0);
    assert_seq_increasing(h, A);
    h_stop(h);
}

static void test_spectators(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    c.game.max_spectators = 1;
    struct harness *h = start(&c);
    uint64_t bid = 0x5555;
    matched(h, bid, "brick", NULL);

    size_t mark = h->nrx;
    h_request(h, C, bid, PROTO_T_WATCH, 21, NULL);
    long st = h_wait(h, C, PROTO_T_STATE, mark);
    assert_true(st >= 0);
    assert_int_equal(ev_at(h, st)->u.state.seat, PROTO_SEAT_SPECTATOR);
    assert_int_equal(ev_at(h, st)->rid, 21);
    assert_true(h_wait_ctl(h, SHARD_OUT_SEAT, C, 0) >= 0);

    mark = h->nrx;
    h_request(h, D, bid, PROTO_T_WATCH, 0, NULL);
    expect_error(h, D, mark, PROTO_E_SPECTATORS_FULL);
    mark = h->nrx;
    h_request(h, C, bid, PROTO_T_WATCH, 0, NULL);
    expect_error(h, C, mark, PROTO_E_ALREADY_IN_BATTLE);

    /* spectators see what the seats see, with the same numbers */
    mark = h->nrx;
    end_turn(h, A, bid, 0);
    long tc = h_wait(h, C, PROTO_T_TURN, mark), ta = h_wait(h, A, PROTO_T_TURN, mark);
    assert_true(tc >= 0 && ta >= 0);
    assert_int_equal(ev_at(h, tc)->seq, ev_at(h, ta)->seq);

    /* a spectator may not act */
    mark = h->nrx;
    end_turn(h, C, bid, 0);
    expect_error(h, C, mark, PROTO_E_NOT_IN_BATTLE);

    mark = h->nrx;
    h_request(h, C, bid, PROTO_T_LEAVE, 22, NULL);
    long l = h_wait(h, C, PROTO_T_LEFT, mark);
    assert_true(l >= 0);
    assert_int_equal(ev_at(h, l)->rid, 22);
    mark = h->nrx;
    end_turn(h, B, bid, 0);
    assert_true(h_wait(h, A, PROTO_T_ROUND, mark) >= 0);
    h_settle(h);
    assert_int_equal(h_find(h, C, PROTO_T_ROUND, mark), -1);
    /* room again for another spectator */
    mark = h->nrx;
    h_request(h, D, bid, PROTO_T_WATCH, 0, NULL);
    assert_true(h_wait(h, D, PROTO_T_STATE, mark) >= 0);
    h_stop(h);
}

static void test_errors(void **state)
{
    struct shards_opts c;
    h_config(&c, 2);
    struct harness *h = start(&c);

    size_t mark = h->nrx;
    end_turn(h, A, 0x9999, 31);
    long i = expect_error(h, A, mark, PROTO_E_NO_SUCH_BATTLE);
    assert_int_equal(ev_at(h, i)->rid, 31);
    assert_int_equal(ev_at(h, i)->bid, 0x9999);

    mark = h->nrx;
    h_create(h, 0x7777, SHARD_CREATE_PRIVATE, A, 0, "no_such_ship", NULL, PROTO_BAND_SHORT);
    i = expect_error(h, A, mark, PROTO_E_NO_SUCH_SHIP);
    assert_int_equal(ev_at(h, i)->rid, 100);

    h_create(h, 0x7777, SHARD_CREATE_PRIVATE, A, 0, "scout", NULL, PROTO_BAND_SHORT);
    assert_true(h_wait(h, A, PROTO_T_CREATED, 0) >= 0);
    mark = h->nrx;
    h_create(h, 0x7777, SHARD_CREATE_PRIVATE, B, 0, "scout", NULL, PROTO_BAND_SHORT);
    expect_error(h, B, mark, PROTO_E_INTERNAL); /* id collision: the net thread picks again */

    /* seat 1 of a waiting battle has no token yet */
    uint8_t zero[16] = {0};
    mark = h->nrx;
    resume(h, B, 0x7777, 1, zero, 0, 0);
    expect_error(h, B, mark, PROTO_E_BAD_TOKEN);
    mark = h->nrx;
    h_request(h, B, 0x7777, PROTO_T_WATCH, 0, NULL);
    expect_error(h, B, mark, PROTO_E_NOT_STARTED);

    proto_request j;
    memset(&j, 0, sizeof j);
    snprintf(j.u.join.ship, sizeof j.u.join.ship, "nope");
    mark = h->nrx;
    h_request(h, B, 0x7777, PROTO_T_JOIN, 0, &j);
    expect_error(h, B, mark, PROTO_E_NO_SUCH_SHIP);
    mark = h->nrx;
    h_request(h, A, 0x7777, PROTO_T_JOIN, 0, &j);
    expect_error(h, A, mark, PROTO_E_ALREADY_IN_BATTLE);

    /* engine refusals map to protocol codes */
    matched(h, 0x8888, "free_trader", NULL);
    mark = h->nrx;
    h_request(h, A, 0x8888, PROTO_T_MISSILE, 0, NULL);
    expect_error(h, A, mark, PROTO_E_NOT_EQUIPPED);
    mark = h->nrx;
    fire(h, A, 0x8888, 5, 0);
    expect_error(h, A, mark, PROTO_E_NO_SUCH_WEAPON);
    mark = h->nrx;
    h_request(h, A, 0x8888, PROTO_T_LEAVE + 10, 0, NULL);
    expect_error(h, A, mark, PROTO_E_UNKNOWN_TYPE);

    unsigned shard = shard_of(0x8888, 2);
    assert_true(atomic_load(&shards_stats(h->s, shard)->errors[PROTO_E_NOT_EQUIPPED]) >= 1);
    h_stop(h);
}

static void test_turn_timer(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    c.game.turn_timer_ms = 20;
    struct harness *h = start(&c);
    uint64_t bid = 0x6666;
    matched(h, bid, "brick", NULL);
    /* nobody acts: the timer plays weapon 0 for the active seat; seat 0 reaches three in a row
     * first and loses */
    long e = h_wait(h, A, PROTO_T_ENDED, 0);
    assert_true(e >= 0);
    assert_int_equal(ev_at(h, e)->u.ended.reason, PROTO_END_TIMEOUT);
    assert_int_equal(ev_at(h, e)->u.ended.winner, 1);
    assert_true(h_find(h, B, PROTO_T_ATTACK, 0) >= 0); /* the default action was a shot */
    assert_int_equal(atomic_load(&shards_stats(h->s, 0)->battles_ended[SHARD_END_TIMEOUTS]), 1);
    h_stop(h);
}

static void test_resume_window_forfeit(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    c.game.resume_window_ms = 20;
    struct harness *h = start(&c);
    uint64_t bid = 0x6667;
    uint8_t tok[2][16];
    matched(h, bid, "brick", tok);
    size_t mark = h->nrx;
    h_conn_gone(h, B, bid);
    long e = h_wait(h, A, PROTO_T_ENDED, mark);
    assert_true(e >= 0);
    assert_int_equal(ev_at(h, e)->u.ended.reason, PROTO_END_DISCONNECT);
    assert_int_equal(ev_at(h, e)->u.ended.winner, 0);
    /* within the keep period the loser can still read how it ended, without getting a seat */
    mark = h->nrx;
    size_t cmark = h->nctl;
    resume(h, D, bid, 1, tok[1], 1, 0);
    long r = h_wait(h, D, PROTO_T_ENDED, mark);
    assert_true(r >= 0);
    h_settle(h);
    assert_int_equal(h_find_ctl(h, SHARD_OUT_SEAT, D, cmark), -1);
    h_stop(h);
}

static void test_idle_and_keep(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    c.game.idle_battle_ms = 30;
    c.game.finished_keep_ms = 30;
    struct harness *h = start(&c);

    /* a private battle nobody joins */
    h_create(h, 0xa1, SHARD_CREATE_PRIVATE, A, 0, "scout", NULL, PROTO_BAND_SHORT);
    long e = h_wait(h, A, PROTO_T_ENDED, 0);
    assert_true(e >= 0);
    assert_int_equal(ev_at(h, e)->u.ended.reason, PROTO_END_ABANDONED);
    assert_int_equal(ev_at(h, e)->u.ended.winner, -1);

    /* a running battle nobody plays */
    uint8_t tok[2][16];
    h_create(h, 0xa2, SHARD_CREATE_MATCHED, C, D, "brick", "brick", PROTO_BAND_SHORT);
    long s = h_wait(h, C, PROTO_T_STARTED, 0);
    assert_true(s >= 0);
    memcpy(tok[0], ev_at(h, s)->u.started.token, 16);
    e = h_wait(h, D, PROTO_T_ENDED, 0);
    assert_true(e >= 0);
    assert_int_equal(ev_at(h, e)->u.ended.reason, PROTO_END_ABANDONED);

    /* within the keep period a resume reads the end; after it the battle is gone */
    size_t mark = h->nrx;
    resume(h, C, 0xa2, 0, tok[0], 0, 0);
    assert_true(h_wait(h, C, PROTO_T_ENDED, mark) >= 0);
    uint64_t until = clock_mono_ms() + H_WAIT_MS;
    for (;;) {
        mark = h->nrx;
        resume(h, C, 0xa2, 0, tok[0], 0, 0);
        while (h->nrx == mark) {
            assert_true(clock_mono_ms() < until);
            h_pump(h);
            h_nap();
        }
        h_settle(h);
        long r = h_find(h, C, PROTO_T_ERROR, mark);
        if (r >= 0) {
            assert_int_equal(ev_at(h, r)->u.error.code, PROTO_E_NO_SUCH_BATTLE);
            break;
        }
    }
    assert_int_equal(atomic_load(&shards_stats(h->s, 0)->battles_ended[SHARD_END_ABANDONED]), 2);
    h_stop(h);
}

static void test_leave_running_forfeits(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    struct harness *h = start(&c);
    uint64_t bid = 0xb1;
    matched(h, bid, "brick", NULL);
    size_t mark = h->nrx;
    h_request(h, B, bid, PROTO_T_LEAVE, 41, NULL);
    long l = h_wait(h, B, PROTO_T_LEFT, mark);
    long e = h_wait(h, A, PROTO_T_ENDED, mark);
    assert_true(l >= 0 && e >= 0);
    assert_int_equal(ev_at(h, l)->rid, 41);
    assert_int_equal(ev_at(h, e)->u.ended.reason, PROTO_END_FORFEIT);
    assert_int_equal(ev_at(h, e)->u.ended.winner, 0);
    h_stop(h);
}

static void test_heartbeat_and_list(void **state)
{
    struct shards_opts c;
    h_config(&c, 2);
    struct harness *h = start(&c);
    for (unsigned i = 0; i < 2; i++) {
        struct shard_in m = {.kind = SHARD_IN_HEARTBEAT};
        m.u.token = 77 + i;
        assert_true(shards_push(h->s, i, &m));
    }
    long hb = h_wait_ctl(h, SHARD_OUT_HEARTBEAT, 0, 0);
    long hb2 = h_wait_ctl(h, SHARD_OUT_HEARTBEAT, 0, (size_t)hb + 1);
    assert_true(hb >= 0 && hb2 >= 0);
    assert_int_equal(h->ctl[hb].m.u.token + h->ctl[hb2].m.u.token, 77 + 78);

    /* three battles on shard 0 */
    uint64_t ids[3];
    unsigned n = 0;
    for (uint64_t id = 1; n < 3; id++)
        if (shard_of(id, 2) == 0)
            ids[n++] = id;
    h_create(h, ids[0], SHARD_CREATE_PRIVATE, A, 0, "scout", NULL, PROTO_BAND_SHORT);
    h_create(h, ids[1], SHARD_CREATE_SOLO, B, 0, "scout", NULL, PROTO_BAND_SHORT);
    h_create(h, ids[2], SHARD_CREATE_SOLO, C, 0, "scout", NULL, PROTO_BAND_SHORT);
    assert_true(h_wait(h, C, PROTO_T_STARTED, 0) >= 0);
    struct shard_in m = {.kind = SHARD_IN_LIST};
    m.u.list.token = 5;
    m.u.list.limit = 2;
    assert_true(shards_push(h->s, 0, &m));
    long end = h_wait_ctl(h, SHARD_OUT_LIST_END, 0, 0);
    assert_true(end >= 0);
    assert_int_equal(h->ctl[end].m.u.list_end.token, 5);
    assert_int_equal(h->ctl[end].m.u.list_end.rows, 2);
    assert_int_equal(h->ctl[end].m.u.list_end.total, 3);
    long row = h_find_ctl(h, SHARD_OUT_LIST_ROW, 0, 0);
    assert_true(row >= 0 && row < end);
    h_stop(h);
}

static void test_drain(void **state)
{
    struct shards_opts c;
    h_config(&c, 2);
    struct harness *h = start(&c);
    uint64_t run_id = 0xc1, wait_id = 0xc2;
    matched(h, run_id, "brick", NULL);
    h_create(h, wait_id, SHARD_CREATE_PRIVATE, C, 0, "scout", NULL, PROTO_BAND_SHORT);
    assert_true(h_wait(h, C, PROTO_T_CREATED, 0) >= 0);

    for (unsigned i = 0; i < 2; i++) {
        struct shard_in m = {.kind = SHARD_IN_DRAIN};
        m.u.drain.grace_ms = 50;
        assert_true(shards_push(h->s, i, &m));
    }
    shards_flush(h->s);
    /* the waiting battle ends at once; the running one goes on until the deadline */
    long we = h_wait(h, C, PROTO_T_ENDED, 0);
    assert_true(we >= 0);
    assert_int_equal(ev_at(h, we)->u.ended.reason, PROTO_END_SHUTDOWN);
    size_t mark = h->nrx;
    end_turn(h, A, run_id, 0);
    assert_true(h_wait(h, B, PROTO_T_TURN, mark) >= 0);
    mark = h->nrx;
    h_create(h, 0xc3, SHARD_CREATE_SOLO, D, 0, "scout", NULL, PROTO_BAND_SHORT);
    expect_error(h, D, mark, PROTO_E_SERVER_DRAINING);

    long e = h_wait(h, A, PROTO_T_ENDED, 0);
    assert_true(e >= 0);
    assert_int_equal(ev_at(h, e)->u.ended.reason, PROTO_END_SHUTDOWN);
    assert_int_equal(ev_at(h, e)->u.ended.winner, -1);
    long s1 = h_wait_ctl(h, SHARD_OUT_STOPPED, 0, 0);
    long s2 = h_wait_ctl(h, SHARD_OUT_STOPPED, 0, (size_t)s1 + 1);
    assert_true(s1 >= 0 && s2 >= 0);
    h_stop(h);
}

static void test_bad_ring_size(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    c.ring_slots = 1000;
    ships_table t;
    h_ships(&t);
    struct shards_opts o = c;
    o.ships = &t;
    assert_null(shards_start(&o));
    o.ships = NULL;
    o.ring_slots = 64;
    assert_null(shards_start(&o));
}

static void test_ai_think_delay(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    c.game.ai_think_ms = 40;
    struct harness *h = start(&c);
    uint64_t bid = 0xd1;
    h_create(h, bid, SHARD_CREATE_SOLO, A, 0, "brick", "brick", PROTO_BAND_SHORT);
    assert_true(h_wait(h, A, PROTO_T_STARTED, 0) >= 0);
    size_t mark = h->nrx;
    uint64_t t0 = clock_mono_ms();
    end_turn(h, A, bid, 0);
    assert_true(h_wait(h, A, PROTO_T_TURN, mark) >= 0); /* now the AI's turn */
    long r = h_wait(h, A, PROTO_T_ROUND, mark);         /* the AI acted, after thinking */
    assert_true(r >= 0);
    assert_true(clock_mono_ms() - t0 >= 30); /* 40 ms, less libuv's coarse clock (a few ms) */
    h_stop(h);
}

static void test_inbox_full_then_ready(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    c.ring_slots = 64;
    struct harness *h = start(&c);
    struct shard_in m = {.kind = SHARD_IN_HEARTBEAT};
    unsigned pushed = 0;
    while (shards_push(h->s, 0, &m)) /* no flush yet: the shard has not been woken */
        pushed++;
    assert_int_equal(pushed, 63); /* 64 slots hold 63 */
    assert_int_equal(shards_inbox_free(h->s, 0), 0);
    assert_false(shards_inbox_ready(h->s, 0));
    assert_int_equal(atomic_load(&shards_stats(h->s, 0)->inbox_full), 1);
    unsigned wakes_before = atomic_load(&h->wakes);
    shards_flush(h->s);
    uint64_t until = clock_mono_ms() + H_WAIT_MS;
    while (!shards_inbox_ready(h->s, 0) || atomic_load(&h->wakes) == wakes_before) {
        assert_true(clock_mono_ms() < until);
        h_nap();
    }
    h_settle(h);
    long n = 0;
    for (size_t i = 0; i < h->nctl; i++)
        n += h->ctl[i].m.kind == SHARD_OUT_HEARTBEAT;
    assert_int_equal(n, pushed);
    h_stop(h);
}

/* Pushes m to shard 0 without waking it and runs it inline; true when the calling thread ran it
 * (the shard thread was asleep), else wakes the shard and lets it answer. */
static bool push_inline(struct harness *h, const struct shard_in *m)
{
    assert_true(shards_push(h->s, 0, m));
    if (shards_run_inline(h->s, clock_mono_ms()) == 1)
        return true;
    shards_flush(h->s);
    h_settle(h);
    return false;
}

/* server.inline_max: a sleeping shard's messages run on the caller's thread, the answers are in the
 * outbox as soon as shards_run_inline returns, and the shard thread is not woken; its battles go on
 * as if it had run them (the turn passes, the other seat hears it). */
static void test_run_inline(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    c.inline_max = 32;
    struct harness *h = start(&c);
    uint64_t bid = 0xe1;
    matched(h, bid, "brick", NULL);
    h_settle(h);
    const struct shard_stats *st = shards_stats(h->s, 0);
    struct shard_in hb = {.kind = SHARD_IN_HEARTBEAT};
    bool ran = false;
    for (int i = 0; i < 100 && !ran; i++) { /* the shard thread may be mid-pass: then it answers */
        uint64_t wakes = atomic_load(&st->wakeups), runs = atomic_load(&st->inline_runs);
        hb.u.token = 1000 + (uint64_t)i;
        size_t mark = h->nctl;
        ran = push_inline(h, &hb);
        if (ran) {
            h_pump(h); /* no wait: the answer is already there */
            long k = h_find_ctl(h, SHARD_OUT_HEARTBEAT, 0, mark);
            assert_true(k >= 0);
            assert_int_equal(h->ctl[k].m.u.token, hb.u.token);
            assert_int_equal(atomic_load(&st->wakeups), wakes);
            assert_int_equal(atomic_load(&st->inline_runs), runs + 1);
        }
    }
    assert_true(ran);
    /* A game request: A ends its turn; B hears it at once. Seat 0 (A) moves first. */
    struct shard_in m = h_request_msg(A, bid, PROTO_T_END, 0, NULL);
    size_t mark = h->nrx;
    if (push_inline(h, &m)) {
        h_pump(h);
        assert_true(h_find(h, B, PROTO_T_TURN, mark) >= 0);
    } else {
        assert_true(h_wait(h, B, PROTO_T_TURN, mark) >= 0);
    }
    /* Off: the shard thread is always woken. */
    h_stop(h);
    c.inline_max = 0;
    h = start(&c);
    st = shards_stats(h->s, 0);
    for (int i = 0; i < 20; i++)
        assert_false(push_inline(h, &hb));
    assert_int_equal(atomic_load(&st->inline_runs), 0);
    h_stop(h);
}

static void test_resume_other_seat_refused(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    struct harness *h = start(&c);
    uint64_t bid = 0xd2;
    uint8_t tok[2][16];
    matched(h, bid, "brick", tok);
    size_t mark = h->nrx;
    resume(h, A, bid, 1, tok[1], 1, 0);
    expect_error(h, A, mark, PROTO_E_ALREADY_IN_BATTLE);
    /* B still holds seat 1 */
    mark = h->nrx;
    end_turn(h, A, bid, 0);
    assert_true(h_wait(h, B, PROTO_T_TURN, mark) >= 0);
    end_turn(h, B, bid, 0);
    assert_true(h_wait(h, A, PROTO_T_ROUND, mark) >= 0);
    h_stop(h);
}

/* PROTOCOL.md section 9: resume of the seat this very connection holds is already_in_battle (53).
 * Before the fix it replayed the battle from seq 1 to a connection that had every event already. */
static void test_resume_own_seat_refused(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    struct harness *h = start(&c);
    uint64_t bid = 0xd3;
    uint8_t tok[2][16];
    matched(h, bid, "brick", tok);
    size_t mark = h->nrx;
    resume(h, A, bid, 0, tok[0], 0, 77);
    long i = expect_error(h, A, mark, PROTO_E_ALREADY_IN_BATTLE);
    assert_int_equal(ev_at(h, i)->rid, 77);
    h_settle(h);
    assert_true(h_find(h, A, PROTO_T_STARTED, mark) < 0); /* nothing replayed */
    /* A still plays seat 0 */
    mark = h->nrx;
    end_turn(h, A, bid, 0);
    assert_true(h_wait(h, B, PROTO_T_TURN, mark) >= 0);
    h_stop(h);
}

/* One rule for an ended battle that is still kept: every action, forfeit and leave gets
 * battle_over (49), from a former seat or a stranger alike (everyone leaves it at the end). */
static void test_ended_battle_refuses_with_battle_over(void **state)
{
    struct shards_opts c;
    h_config(&c, 1);
    struct harness *h = start(&c);
    uint64_t bid = 0xd4;
    matched(h, bid, "brick", NULL);
    size_t mark = h->nrx;
    h_request(h, A, bid, PROTO_T_FORFEIT, 5, NULL);
    long e = h_wait(h, B, PROTO_T_ENDED, mark);
    assert_true(e >= 0);
    long ea = h_wait(h, A, PROTO_T_ENDED, mark);
    assert_true(ea >= 0);
    assert_int_equal(ev_at(h, ea)->rid, 5); /* forfeit has no direct reply: its rid is on ended */
    const conn_id who[] = {A, B, C};
    const uint8_t what[] = {PROTO_T_FIRE, PROTO_T_LEAVE, PROTO_T_FORFEIT, PROTO_T_END};
    for (size_t k = 0; k < sizeof who / sizeof who[0]; k++)
        for (size_t t = 0; t < sizeof what; t++) {
            mark = h->nrx;
            h_request(h, who[k], bid, what[t], 9, NULL);
            long i = expect_error(h, who[k], mark, PROTO_E_BATTLE_OVER);
            assert_int_equal(ev_at(h, i)->rid, 9);
        }
    h_stop(h);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Hostile-but-decodable input: requests from the network pass proto's validation, but their values
 * (ids, seats, tokens, weapon and missile numbers, order) are the client's choice. A long random mix
 * over a few battles and connections must never crash, every frame must decode, and the books must
 * balance at the end. Most useful under ASan/UBSan. */
static void test_random_traffic(void **state)
{
    struct shards_opts c;
    h_config(&c, 2);
    c.game.turn_timer_ms = 5;
    c.game.resume_window_ms = 10;
    c.game.finished_keep_ms = 20;
    c.game.max_spectators = 2;
    c.ring_slots = 128;
    struct harness *h = start(&c);
    h->keep_events = false;
    uint64_t x = 0x9e3779b97f4a7c15ull;
#define RND() xorshift(&x)
    static const char *ships[] = {"scout", "free_trader", "glass", "brick", "", "nope"};
    for (int i = 0; i < 20000; i++) {
        struct shard_in m;
        memset(&m, 0, sizeof m);
        uint64_t r = RND();
        m.battle_id = 1 + RND() % 12;
        m.conn = (1 + RND() % 8) | (uint64_t)(1 + RND() % 2) << 32;
        switch (r % 16) {
        case 0:
        case 1:
            m.kind = SHARD_IN_CREATE;
            m.u.create.mode = (uint8_t)(RND() % 5);
            m.u.create.band = (uint8_t)(RND() % 8);
            m.u.create.conn[0] = m.conn;
            m.u.create.conn[1] = (1 + RND() % 8) | (1ull << 32);
            strcpy(m.u.create.ship[0], ships[RND() % 6]);
            strcpy(m.u.create.ship[1], ships[RND() % 6]);
            m.u.create.has_rid[0] = RND() % 2;
            m.u.create.rid[0] = (uint32_t)RND();
            break;
        case 2:
            m.kind = SHARD_IN_CONN_GONE;
            break;
        case 3:
            m.kind = SHARD_IN_LIST;
            m.u.list.limit = (uint32_t)RND();
            break;
        default:
            m.kind = SHARD_IN_REQUEST;
            m.u.req.type = (uint8_t)(r % 3 ? PROTO_T_JOIN + RND() % 10 : RND() % 256);
            m.u.req.bid = m.battle_id;
            m.u.req.has_rid = RND() % 2;
            m.u.req.rid = (uint32_t)RND();
            m.u.req.u.fire.weapon = (uint8_t)(RND() % 20);
            if (m.u.req.type == PROTO_T_PD)
                m.u.req.u.pd.missile = (uint32_t)(RND() % 4 ? RND() % 6 : RND());
            if (m.u.req.type == PROTO_T_JOIN)
                strcpy(m.u.req.u.join.ship, ships[RND() % 6]);
            if (m.u.req.type == PROTO_T_RESUME) {
                m.u.req.u.resume.seat = (uint8_t)(RND() % 3);
                m.u.req.u.resume.last = (uint32_t)(RND() % 4 ? RND() % 40 : RND());
            }
            break;
        }
        h_push(h, &m);
        if (i % 64 == 0)
            h_pump(h);
    }
#undef RND
    h_settle(h);
    assert_int_equal(h->decode_errors, 0);
    assert_true(h->frames > 1000);
    uint64_t started = 0, ended = 0, live = 0;
    for (unsigned i = 0; i < 2; i++) {
        const struct shard_stats *st = shards_stats(h->s, i);
        started += atomic_load(&st->battles_started);
        for (int k = 0; k < SHARD_END_REASONS; k++)
            ended += atomic_load(&st->battles_ended[k]);
        live += atomic_load(&st->battles_live);
    }
    assert_true(started > 0);
    /* every battle that started, or waited and was disposed, ended unless still live */
    assert_true(ended + live >= started);
    h_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_battle_to_end),
        cmocka_unit_test(test_resume_missed_events),
        cmocka_unit_test(test_takeover),
        cmocka_unit_test(test_solo_battle),
        cmocka_unit_test(test_spectators),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_turn_timer),
        cmocka_unit_test(test_resume_window_forfeit),
        cmocka_unit_test(test_idle_and_keep),
        cmocka_unit_test(test_leave_running_forfeits),
        cmocka_unit_test(test_heartbeat_and_list),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_bad_ring_size),
        cmocka_unit_test(test_ai_think_delay),
        cmocka_unit_test(test_inbox_full_then_ready),
        cmocka_unit_test(test_resume_other_seat_refused),
        cmocka_unit_test(test_run_inline),
        cmocka_unit_test(test_resume_own_seat_refused),
        cmocka_unit_test(test_ended_battle_refuses_with_battle_over),
        cmocka_unit_test(test_random_traffic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
