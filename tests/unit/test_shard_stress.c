/* Many battles at once through the shard runtime (label "stress"; .ci runs it under TSan).
 *
 * The test thread plays the network thread for STRESS_BATTLES matched battles on several shards
 * with small rings, so full inboxes (push refused, retried) and parked output are part of the run.
 * Every player fires whenever its seat is active; some battles have a spectator; in some, seat 1's
 * connection drops in round 2 and a new connection resumes the seat with its token and last seen
 * sequence number. Checks: every battle ends, nobody gets an error, every connection sees strictly
 * increasing sequence numbers, spectators see the same ending as the players, and the counters add
 * up. Prints the frame rate it measured (a figure, not an assertion). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/test_shard_harness.h"

#ifdef BATTLED_TSAN
#define STRESS_BATTLES 1000u
#else
#define STRESS_BATTLES 2000u
#endif
#define STRESS_SHARDS 3u
#define STRESS_WAIT_MS 60000u
#define NCONN (STRESS_BATTLES * 3u) /* two seats and a possible spectator per battle */

struct pconn {
    uint64_t bid;
    uint32_t gen;     /* current generation; older generations' output is dropped */
    int seat;         /* 0, 1, or 2 = spectator */
    int active;
    uint32_t last_seq;
    uint32_t acted_key;
    bool started, ended, resumed, watching;
    int8_t winner;
    uint8_t reason;
    uint32_t end_seq;
    uint8_t token[16];
};

struct stress {
    struct harness *h;
    struct pconn c[NCONN];
    struct shard_in pending[16384];
    size_t npending;
    size_t errors, seq_errors, stale_dropped;
    size_t frames;
};

static conn_id cid(struct stress *st, uint32_t slot)
{
    return (uint64_t)slot | (uint64_t)st->c[slot].gen << 32;
}

static void queue(struct stress *st, const struct shard_in *m)
{
    if (st->npending == sizeof st->pending / sizeof st->pending[0])
        fail_msg("pending overflow");
    st->pending[st->npending++] = *m;
}

static void queue_req(struct stress *st, uint32_t slot, uint8_t type, const proto_request *body)
{
    struct shard_in m;
    memset(&m, 0, sizeof m);
    m.kind = SHARD_IN_REQUEST;
    m.conn = cid(st, slot);
    m.battle_id = st->c[slot].bid;
    if (body)
        m.u.req = *body;
    m.u.req.type = type;
    m.u.req.bid = m.battle_id;
    queue(st, &m);
}

static void on_event(struct stress *st, uint32_t slot, const proto_event *e)
{
    struct pconn *p = &st->c[slot];
    if (e->type == PROTO_T_ERROR) {
        st->errors++;
        print_message("error %u on conn %u: %s\n", e->u.error.code, slot, e->u.error.msg);
        return;
    }
    if (e->seq) {
        if (e->type == PROTO_T_STATE ? e->seq < p->last_seq : e->seq <= p->last_seq)
            st->seq_errors++;
        p->last_seq = e->seq;
    }
    switch (e->type) {
    case PROTO_T_STARTED:
        p->started = true;
        p->active = e->u.started.first;
        memcpy(p->token, e->u.started.token, 16);
        if (p->seat == 0 && (slot / 3) % 10 == 0) { /* a spectator for every tenth battle */
            st->c[slot + 2].watching = true;
            queue_req(st, slot + 2, PROTO_T_WATCH, NULL);
        }
        break;
    case PROTO_T_STATE:
        p->started = true;
        p->active = e->u.state.active;
        break;
    case PROTO_T_TURN: p->active = e->u.turn.active; break;
    case PROTO_T_ROUND:
        p->active = e->u.round.active;
        if (p->seat == 1 && !p->resumed && e->u.round.round == 2 && (slot / 3) % 7 == 0) {
            /* drop and resume: the old generation goes, a new one presents the token */
            struct shard_in gone;
            memset(&gone, 0, sizeof gone);
            gone.kind = SHARD_IN_CONN_GONE;
            gone.conn = cid(st, slot);
            gone.battle_id = p->bid;
            queue(st, &gone);
            p->gen++;
            p->resumed = true;
            proto_request r;
            memset(&r, 0, sizeof r);
            r.u.resume.seat = 1;
            memcpy(r.u.resume.token, p->token, 16);
            r.u.resume.last = p->last_seq;
            queue_req(st, slot, PROTO_T_RESUME, &r);
            return;
        }
        break;
    case PROTO_T_ENDED:
        p->ended = true;
        p->winner = e->u.ended.winner;
        p->reason = e->u.ended.reason;
        p->end_seq = e->seq;
        return;
    default: break;
    }
    bool turn_event = e->type == PROTO_T_STARTED || e->type == PROTO_T_STATE ||
                      e->type == PROTO_T_TURN || e->type == PROTO_T_ROUND || e->type == PROTO_T_BACK;
    if (turn_event && p->seat < 2 && p->started && !p->ended && p->active == p->seat &&
        p->last_seq > p->acted_key) {
        p->acted_key = p->last_seq;
        proto_request r;
        memset(&r, 0, sizeof r);
        r.u.fire.weapon = 0;
        queue_req(st, slot, PROTO_T_FIRE, &r);
    }
}

static void on_msg(void *ctx, const struct shard_out *m)
{
    struct stress *st = ctx;
    const uint8_t *p;
    size_t len;
    if (m->kind == SHARD_OUT_SEND) {
        p = m->u.bytes;
        len = m->len;
    } else if (m->kind == SHARD_OUT_SEND_HEAP) {
        p = m->u.heap.ptr;
        len = m->u.heap.len;
    } else {
        return;
    }
    uint32_t slot = (uint32_t)m->conn;
    if (slot >= NCONN || (uint32_t)(m->conn >> 32) != st->c[slot].gen) {
        st->stale_dropped++; /* as the net thread does for a generation that has gone */
        return;
    }
    static proto_event e;
    while (len >= 4) {
        uint32_t n = h_be32(p);
        assert_true(n <= len - 4);
        assert_int_equal(proto_decode_event(p + 4, n, &e, NULL), PROTO_E_OK);
        st->frames++;
        on_event(st, slot, &e);
        p += 4 + n;
        len -= 4 + n;
    }
}

static void push_pending(struct stress *st)
{
    size_t done = 0;
    for (; done < st->npending; done++) {
        const struct shard_in *m = &st->pending[done];
        if (!shards_push(st->h->s, shard_of(m->battle_id, STRESS_SHARDS), m))
            break; /* inbox full: keep it (and everything after it, to keep order) */
    }
    memmove(st->pending, st->pending + done, (st->npending - done) * sizeof st->pending[0]);
    st->npending -= done;
    shards_flush(st->h->s);
}

static void test_many_battles(void **state)
{
    struct shards_opts c;
    h_config(&c, STRESS_SHARDS);
    c.ring_slots = 256;
    c.game.round_limit = 8;
    c.game.max_spectators = 2;
    struct stress *st = calloc(1, sizeof *st);
    st->h = h_start(&c);
    assert_non_null(st->h);
    st->h->keep_events = false;
    for (uint32_t b = 0; b < STRESS_BATTLES; b++) {
        uint64_t bid = 0x5eed0000ull + b * 7919ull;
        for (uint32_t k = 0; k < 3; k++) {
            st->c[b * 3 + k].bid = bid;
            st->c[b * 3 + k].gen = 1;
            st->c[b * 3 + k].seat = (int)k;
        }
    }
    uint64_t t0 = clock_mono_ns();
    for (uint32_t b = 0; b < STRESS_BATTLES; b++) {
        struct shard_in m;
        memset(&m, 0, sizeof m);
        m.kind = SHARD_IN_CREATE;
        m.battle_id = st->c[b * 3].bid;
        m.u.create.mode = SHARD_CREATE_MATCHED;
        m.u.create.band = PROTO_BAND_CLOSE;
        m.u.create.conn[0] = cid(st, b * 3);
        m.u.create.conn[1] = cid(st, b * 3 + 1);
        strcpy(m.u.create.ship[0], b % 2 ? "scout" : "free_trader");
        strcpy(m.u.create.ship[1], "scout");
        queue(st, &m);
        if (st->npending > 1000) {
            push_pending(st);
            h_pump_cb(st->h, on_msg, st);
        }
    }
    uint64_t until = clock_mono_ms() + STRESS_WAIT_MS;
    uint32_t ended = 0;
    while (ended < STRESS_BATTLES) {
        push_pending(st);
        h_pump_cb(st->h, on_msg, st);
        ended = 0;
        for (uint32_t b = 0; b < STRESS_BATTLES; b++)
            ended += st->c[b * 3].ended && st->c[b * 3 + 1].ended;
        if (clock_mono_ms() > until)
            fail_msg("only %u of %u battles ended", ended, STRESS_BATTLES);
        if (st->npending == 0)
            h_nap();
    }
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    h_settle(st->h);
    h_pump_cb(st->h, on_msg, st);

    assert_int_equal(st->errors, 0);
    assert_int_equal(st->seq_errors, 0);
    assert_int_equal(st->h->decode_errors, 0);
    size_t watched = 0, resumed = 0;
    for (uint32_t b = 0; b < STRESS_BATTLES; b++) {
        struct pconn *p0 = &st->c[b * 3], *p1 = &st->c[b * 3 + 1], *sp = &st->c[b * 3 + 2];
        assert_int_equal(p0->end_seq, p1->end_seq);
        assert_int_equal(p0->winner, p1->winner);
        resumed += p1->resumed;
        if (sp->watching) {
            watched++;
            assert_true(sp->ended);
            assert_int_equal(sp->end_seq, p0->end_seq);
            assert_int_equal(sp->winner, p0->winner);
        }
    }
    assert_true(watched >= STRESS_BATTLES / 10);
    assert_true(resumed > 0);
    uint64_t started = 0, fin = 0, live = 0, inbox_full = 0, parked = 0, wakes = 0, resumes = 0;
    for (unsigned i = 0; i < STRESS_SHARDS; i++) {
        const struct shard_stats *s = shards_stats(st->h->s, i);
        started += atomic_load(&s->battles_started);
        for (int r = 0; r < SHARD_END_REASONS; r++)
            fin += atomic_load(&s->battles_ended[r]);
        live += atomic_load(&s->battles_live);
        inbox_full += atomic_load(&s->inbox_full);
        parked += atomic_load(&s->outbox_backlog_msgs);
        wakes += atomic_load(&s->net_wakes);
        resumes += atomic_load(&s->resumes);
    }
    uint64_t lat[SHARD_LATENCY_BUCKETS] = {0}, nlat = 0;
    for (unsigned i = 0; i < STRESS_SHARDS; i++)
        for (int k = 0; k < SHARD_LATENCY_BUCKETS; k++) {
            lat[k] += atomic_load(&shards_stats(st->h->s, i)->action_latency[k]);
            nlat += atomic_load(&shards_stats(st->h->s, i)->action_latency[k]);
        }
    uint64_t acc = 0;
    int p50 = -1, p99 = -1;
    for (int k = 0; k < SHARD_LATENCY_BUCKETS; k++) {
        acc += lat[k];
        if (p50 < 0 && acc * 2 >= nlat)
            p50 = k;
        if (p99 < 0 && acc * 100 >= nlat * 99)
            p99 = k;
    }
    print_message("%llu actions applied: p50 below %u us, p99 below %u us (apply + encode + queue)\n",
                  (unsigned long long)nlat, 1u << p50, 1u << p99);
    assert_int_equal(started, STRESS_BATTLES);
    assert_int_equal(fin, STRESS_BATTLES);
    assert_int_equal(live, 0);
    assert_int_equal(resumes, resumed);
    print_message("%u battles on %u shards in %.2f s: %zu frames (%.0f frames/s), inbox full %llu, "
                  "parked %llu, net wakes %llu, stale dropped %zu\n",
                  STRESS_BATTLES, STRESS_SHARDS, secs, st->frames, (double)st->frames / secs,
                  (unsigned long long)inbox_full, (unsigned long long)parked,
                  (unsigned long long)wakes, st->stale_dropped);
    h_stop(st->h);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_battles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
