/* Unit tests of the shard runtime's single-threaded parts: the battle id table (btable), the
 * deadline heap (theap), the outbox with its backlog and overflow policy (outbox), the per-shard
 * random source (srand) and the engine-to-protocol event translation (events). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "shards/btable.h"
#include "shards/events.h"
#include "shards/outbox.h"
#include "shards/shards.h"
#include "shards/srand.h"
#include "shards/theap.h"
#include "core/ships.h"

/* ---- btable --------------------------------------------------------------------------------- */

static void test_btable_put_get_del(void **state)
{
    struct btable t;
    assert_int_equal(btable_init(&t, 4), 0);
    assert_int_equal(btable_get(&t, 0), BTABLE_MISSING);
    assert_int_equal(btable_get(&t, 42), BTABLE_MISSING);
    /* enough keys to force several doublings, with clustered (sequential) ids */
    for (uint32_t i = 1; i <= 5000; i++)
        assert_int_equal(btable_put(&t, i, i * 3), 0);
    assert_int_equal(t.n, 5000);
    for (uint32_t i = 1; i <= 5000; i++)
        assert_int_equal(btable_get(&t, i), i * 3);
    /* delete every other key: the rest must stay reachable (backward shift keeps runs intact) */
    for (uint32_t i = 1; i <= 5000; i += 2)
        btable_del(&t, i);
    btable_del(&t, 999999); /* absent: no effect */
    assert_int_equal(t.n, 2500);
    for (uint32_t i = 1; i <= 5000; i++)
        assert_int_equal(btable_get(&t, i), i % 2 ? BTABLE_MISSING : i * 3);
    /* churn: reinsert and delete many times, the table does not fill with tombstones */
    uint32_t mask_before = t.mask;
    for (int round = 0; round < 20; round++) {
        for (uint32_t i = 1; i <= 5000; i += 2)
            assert_int_equal(btable_put(&t, i + 100000u * (uint32_t)round, i), 0);
        for (uint32_t i = 1; i <= 5000; i += 2)
            btable_del(&t, i + 100000u * (uint32_t)round);
    }
    assert_int_equal(t.mask, mask_before);
    assert_int_equal(t.n, 2500);
    for (uint32_t i = 2; i <= 5000; i += 2)
        assert_int_equal(btable_get(&t, i), i * 3);
    btable_free(&t);
}

static void test_btable_random_ids(void **state)
{
    struct btable t;
    assert_int_equal(btable_init(&t, 16), 0);
    uint64_t x = 88172645463325252ull;
    uint64_t keys[2000];
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        keys[i] = x | 1;
        assert_int_equal(btable_put(&t, keys[i], (uint32_t)i), 0);
    }
    for (int i = 0; i < 2000; i += 3)
        btable_del(&t, keys[i]);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(btable_get(&t, keys[i]), i % 3 == 0 ? BTABLE_MISSING : (uint32_t)i);
    btable_free(&t);
}

/* ---- theap ---------------------------------------------------------------------------------- */

#define NH 500
static uint32_t hpos[NH];

static void setpos(void *ctx, uint32_t idx, uint32_t pos)
{
    (void)ctx;
    hpos[idx] = pos;
}

static void test_theap_order_update_remove(void **state)
{
    struct theap h;
    theap_init(&h, setpos, NULL);
    assert_null(theap_min(&h));
    uint64_t dl[NH];
    for (uint32_t i = 0; i < NH; i++) {
        dl[i] = (i * 7919u) % 1000u;
        assert_int_equal(theap_insert(&h, i, dl[i]), 0);
    }
    for (uint32_t i = 0; i < NH; i += 5) { /* move some later, some earlier */
        dl[i] = i % 2 ? dl[i] + 500 : dl[i] / 2;
        theap_update(&h, hpos[i], dl[i]);
    }
    for (uint32_t i = 1; i < NH; i += 7) {
        theap_remove(&h, hpos[i]);
        assert_int_equal(hpos[i], THEAP_NONE);
        dl[i] = UINT64_MAX;
    }
    /* positions reported back are where the entries really are */
    for (uint32_t i = 0; i < NH; i++)
        if (dl[i] != UINT64_MAX)
            assert_int_equal(h.e[hpos[i]].idx, i);
    uint64_t last = 0;
    uint32_t n = 0;
    while (theap_min(&h)) {
        const struct theap_entry *e = theap_min(&h);
        assert_true(e->deadline >= last);
        assert_int_equal(e->deadline, dl[e->idx]);
        last = e->deadline;
        theap_remove(&h, 0);
        n++;
    }
    assert_int_equal(n, NH - (NH + 5) / 7);
    theap_free(&h);
}

/* ---- outbox with a fake ring ---------------------------------------------------------------- */

struct fake_ring {
    struct shard_out slot[8];
    unsigned head, tail, cap; /* cap <= 8 */
};

static struct shard_out *fr_reserve(void *p)
{
    struct fake_ring *r = p;
    return r->tail - r->head < r->cap ? &r->slot[r->tail % 8] : NULL;
}

static void fr_commit(void *p)
{
    ((struct fake_ring *)p)->tail++;
}

static bool fr_pop(struct fake_ring *r, struct shard_out *out)
{
    if (r->head == r->tail)
        return false;
    *out = r->slot[r->head++ % 8];
    return true;
}

static void test_outbox_order_through_backlog(void **state)
{
    static struct shard_stats st;
    memset(&st, 0, sizeof st);
    struct fake_ring r = {.cap = 4};
    struct outbox o;
    outbox_init(&o, fr_reserve, fr_commit, &r, &st);
    uint8_t frame[300];
    /* 20 frames into a ring of 4: the rest park in order; one is too big for a slot */
    for (uint8_t i = 0; i < 20; i++) {
        memset(frame, i, sizeof frame);
        assert_true(outbox_send(&o, 7, frame, i == 10 ? 300 : 10));
    }
    assert_true(outbox_take_committed(&o));
    assert_int_equal(atomic_load(&st.outbox_backlog), 16);
    assert_true(outbox_pending(&o));
    struct shard_out m;
    uint8_t want = 0;
    while (want < 20) {
        while (fr_pop(&r, &m)) {
            assert_int_equal(m.conn, 7);
            if (want == 10) {
                assert_int_equal(m.kind, SHARD_OUT_SEND_HEAP);
                assert_int_equal(m.u.heap.len, 300);
                assert_int_equal(m.u.heap.ptr[299], 10);
                free(m.u.heap.ptr);
            } else {
                assert_int_equal(m.kind, SHARD_OUT_SEND);
                assert_int_equal(m.len, 10);
                assert_int_equal(m.u.bytes[0], want);
            }
            want++;
        }
        outbox_flush(&o);
    }
    assert_false(outbox_pending(&o));
    assert_int_equal(atomic_load(&st.outbox_backlog), 0);
    assert_int_equal(atomic_load(&st.outbox_backlog_msgs), 16);
    assert_int_equal(atomic_load(&st.outbox_msgs), 20);
    outbox_free(&o);
}

/* When more connections overflow at once than the close list holds, the frame is lost without a
 * close: counted, so an operator sees it on /metrics. */
static void test_outbox_close_list_full_counted(void **state)
{
    static struct shard_stats st;
    memset(&st, 0, sizeof st);
    struct fake_ring r = {.cap = 2};
    struct outbox o;
    outbox_init(&o, fr_reserve, fr_commit, &r, &st);
    uint8_t frame[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    while (outbox_send(&o, 5, frame, sizeof frame))
        ;
    for (conn_id c = 6; c < 6 + OUTBOX_CLOSE_MAX - 1; c++)
        assert_false(outbox_send(&o, c, frame, sizeof frame));
    assert_int_equal(atomic_load(&st.outbox_overflow), OUTBOX_CLOSE_MAX);
    assert_int_equal(atomic_load(&st.outbox_close_lost), 0);
    assert_false(outbox_send(&o, 6 + OUTBOX_CLOSE_MAX, frame, sizeof frame));
    assert_int_equal(atomic_load(&st.outbox_close_lost), 1);
    assert_int_equal(atomic_load(&st.outbox_nomem), 0);
    outbox_free(&o);
}

static void test_outbox_overflow_closes(void **state)
{
    static struct shard_stats st;
    memset(&st, 0, sizeof st);
    struct fake_ring r = {.cap = 2};
    struct outbox o;
    outbox_init(&o, fr_reserve, fr_commit, &r, &st);
    uint8_t frame[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t sent = 0;
    while (outbox_send(&o, 5, frame, sizeof frame))
        sent++;
    assert_int_equal(sent, 2 + SHARD_BACKLOG_MAX);
    assert_int_equal(atomic_load(&st.outbox_overflow), 1);
    assert_false(outbox_send(&o, 5, frame, sizeof frame)); /* dropped while marked for closing */
    assert_int_equal(atomic_load(&st.outbox_overflow), 1);
    /* control messages still fit in the reserve */
    struct shard_out seat = {.kind = SHARD_OUT_SEAT, .conn = 5, .delta = -1};
    assert_true(outbox_put(&o, &seat));
    /* once there is room, the close goes out first */
    struct shard_out m;
    while (fr_pop(&r, &m))
        ;
    outbox_flush(&o);
    assert_true(fr_pop(&r, &m));
    assert_int_equal(m.kind, SHARD_OUT_CLOSE);
    assert_int_equal(m.conn, 5);
    assert_int_equal(m.u.close_reason, SHARD_CLOSE_OUTPUT_OVERFLOW);
    /* other connections are unaffected by 5's overflow once the backlog drains */
    size_t got = 0;
    bool seen_seat = false;
    for (;;) {
        outbox_flush(&o);
        bool any = false;
        while (fr_pop(&r, &m)) {
            any = true;
            if (m.kind == SHARD_OUT_SEAT)
                seen_seat = true;
            else
                got++;
        }
        if (!any)
            break;
    }
    assert_true(seen_seat);
    assert_int_equal(got, SHARD_BACKLOG_MAX);
    assert_true(outbox_send(&o, 6, frame, sizeof frame));
    assert_true(fr_pop(&r, &m));
    assert_int_equal(m.conn, 6);
    outbox_free(&o);
}

/* ---- srand ---------------------------------------------------------------------------------- */

static void test_srand_tokens_and_seeds(void **state)
{
    struct srand *r = malloc(sizeof *r);
    assert_int_equal(srand_init(r), 0);
    uint8_t a[16], b[16];
    /* enough tokens to refill the kernel pool several times */
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(srand_token(r, a, 16), 0);
        assert_int_equal(srand_token(r, b, 16), 0);
        assert_memory_not_equal(a, b, 16);
    }
    uint64_t s1 = srand_u64(r), s2 = srand_u64(r);
    assert_true(s1 != 0 && s2 != 0 && s1 != s2);
    free(r);
}

/* ---- events --------------------------------------------------------------------------------- */

/* The one shard-count policy: what was asked for, else one shard per core but one, capped. */
static void test_shards_count_for(void **state)
{
    (void)state;
    assert_int_equal(shards_count_for(5, 8), 5);
    assert_int_equal(shards_count_for(0, 8), 7);
    assert_int_equal(shards_count_for(-3, 8), 7);
    assert_int_equal(shards_count_for(0, 2), 1);
    assert_int_equal(shards_count_for(0, 1), 1);
    assert_int_equal(shards_count_for(0, -1), 1); /* cores unknown */
    assert_int_equal(shards_count_for(300, 8), SHARD_MAX_SHARDS);
    assert_int_equal(shards_count_for(0, 1000), SHARD_MAX_SHARDS);
    assert_int_equal(shards_count_for(SHARD_MAX_SHARDS, 1), SHARD_MAX_SHARDS);
}

/* Every field of the wire event pe against the engine event e it came from (events_xlate), so a
 * field lost in translation or on the wire fails here. STARTED's ships come from the battle. */
static void check_event_fields(const battle_event *e, uint64_t bid, const proto_event *pe)
{
    assert_int_equal(pe->bid, bid);
    assert_int_equal(pe->seq, e->seq);
    switch (e->kind) {
    case BATTLE_EV_STARTED:
        assert_int_equal(pe->type, PROTO_T_STARTED);
        assert_int_equal(pe->u.started.band, e->u.started.band);
        assert_int_equal(pe->u.started.first, e->seat);
        assert_int_equal(pe->u.started.round_limit, e->u.started.round_limit);
        for (int s = 0; s < 2; s++) {
            assert_int_equal(pe->u.started.ships[s].hull, e->u.started.hull[s]);
            for (unsigned l = 0; l < PROTO_LOC_COUNT; l++)
                assert_int_equal(pe->u.started.ships[s].crits[l], 0);
        }
        break;
    case BATTLE_EV_TURN:
        assert_int_equal(pe->type, PROTO_T_TURN);
        assert_int_equal(pe->u.turn.round, e->u.turn.round);
        assert_int_equal(pe->u.turn.active, e->seat);
        break;
    case BATTLE_EV_ROUND:
        assert_int_equal(pe->type, PROTO_T_ROUND);
        assert_int_equal(pe->u.round.round, e->u.round.round);
        assert_int_equal(pe->u.round.active, e->seat);
        assert_int_equal(pe->u.round.hull[0], e->u.round.hull[0]);
        assert_int_equal(pe->u.round.hull[1], e->u.round.hull[1]);
        break;
    case BATTLE_EV_ATTACK:
        assert_int_equal(pe->type, PROTO_T_ATTACK);
        assert_int_equal(pe->u.attack.seat, e->seat);
        assert_int_equal(pe->u.attack.weapon, e->u.attack.weapon);
        assert_int_equal(pe->u.attack.dice[0], e->u.attack.dice[0]);
        assert_int_equal(pe->u.attack.dice[1], e->u.attack.dice[1]);
        assert_int_equal(pe->u.attack.total, e->u.attack.total);
        assert_int_equal(pe->u.attack.effect, e->u.attack.effect);
        assert_int_equal(pe->u.attack.hit, (e->u.attack.flags & BATTLE_ATTACK_HIT) != 0);
        assert_int_equal(pe->u.attack.sand, (e->u.attack.flags & BATTLE_ATTACK_SAND_USED) != 0);
        assert_int_equal(pe->u.attack.damage, e->u.attack.damage);
        assert_int_equal(pe->u.attack.hull, e->u.attack.target_hull);
        break;
    case BATTLE_EV_CRITICAL:
        assert_int_equal(pe->type, PROTO_T_CRIT);
        assert_int_equal(pe->u.crit.seat, e->seat);
        assert_int_equal(pe->u.crit.loc, e->u.critical.location);
        assert_int_equal(pe->u.crit.sev, e->u.critical.severity);
        assert_int_equal(pe->u.crit.crew, e->u.critical.crew_injured != 0);
        assert_int_equal(pe->u.crit.extra, e->u.critical.extra_damage);
        assert_int_equal(pe->u.crit.hull, e->u.critical.target_hull);
        break;
    case BATTLE_EV_MISSILE_LAUNCHED:
        assert_int_equal(pe->type, PROTO_T_MLAUNCH);
        assert_int_equal(pe->u.mlaunch.seat, e->seat);
        assert_int_equal(pe->u.mlaunch.missile, e->u.launched.id);
        assert_int_equal(pe->u.mlaunch.band, e->u.launched.band);
        assert_int_equal(pe->u.mlaunch.left, e->u.launched.ammo_left);
        break;
    case BATTLE_EV_MISSILE_MOVED:
        assert_int_equal(pe->type, PROTO_T_MMOVE);
        assert_int_equal(pe->u.mmove.seat, e->seat);
        assert_int_equal(pe->u.mmove.missile, e->u.moved.id);
        assert_int_equal(pe->u.mmove.band, e->u.moved.new_band);
        break;
    case BATTLE_EV_MISSILE_STRUCK:
        assert_int_equal(pe->type, PROTO_T_MHIT);
        assert_int_equal(pe->u.mhit.seat, e->seat);
        assert_int_equal(pe->u.mhit.missile, e->u.struck.id);
        for (int i = 0; i < 4; i++)
            assert_int_equal(pe->u.mhit.dice[i], e->u.struck.dice[i]);
        assert_int_equal(pe->u.mhit.damage, e->u.struck.damage);
        assert_int_equal(pe->u.mhit.hull, e->u.struck.target_hull);
        break;
    case BATTLE_EV_POINT_DEFENSE:
        assert_int_equal(pe->type, PROTO_T_PD_RESULT);
        assert_int_equal(pe->u.pd_result.seat, e->seat);
        assert_int_equal(pe->u.pd_result.missile, e->u.pd.id);
        assert_int_equal(pe->u.pd_result.dice[0], e->u.pd.dice[0]);
        assert_int_equal(pe->u.pd_result.dice[1], e->u.pd.dice[1]);
        assert_int_equal(pe->u.pd_result.total, e->u.pd.total);
        assert_int_equal(pe->u.pd_result.ok, e->u.pd.destroyed != 0);
        break;
    case BATTLE_EV_SANDCASTER:
        assert_int_equal(pe->type, PROTO_T_SAND_RESULT);
        assert_int_equal(pe->u.sand_result.seat, e->seat);
        assert_int_equal(pe->u.sand_result.dice[0], e->u.sand.dice[0]);
        assert_int_equal(pe->u.sand_result.dice[1], e->u.sand.dice[1]);
        assert_int_equal(pe->u.sand_result.total, e->u.sand.total);
        assert_int_equal(pe->u.sand_result.ok, e->u.sand.success != 0);
        assert_int_equal(pe->u.sand_result.bonus, e->u.sand.armour_bonus);
        assert_int_equal(pe->u.sand_result.left, e->u.sand.ammo_left);
        break;
    case BATTLE_EV_TIMEOUT:
        assert_int_equal(pe->type, PROTO_T_TIMEOUT);
        assert_int_equal(pe->u.timeout.seat, e->seat);
        assert_int_equal(pe->u.timeout.count, e->u.timeout.consecutive);
        break;
    case BATTLE_EV_SEAT_AWAY:
        assert_int_equal(pe->type, PROTO_T_AWAY);
        assert_int_equal(pe->u.away.seat, e->seat);
        break;
    case BATTLE_EV_SEAT_BACK:
        assert_int_equal(pe->type, PROTO_T_BACK);
        assert_int_equal(pe->u.back.seat, e->seat);
        break;
    case BATTLE_EV_ENDED:
        assert_int_equal(pe->type, PROTO_T_ENDED);
        assert_int_equal(pe->u.ended.winner,
                         e->u.ended.winner == BATTLE_NO_SEAT ? -1 : (int)e->u.ended.winner);
        assert_int_equal(pe->u.ended.reason, events_reason(e->u.ended.reason));
        assert_int_equal(pe->u.ended.hull[0], e->u.ended.hull[0]);
        assert_int_equal(pe->u.ended.hull[1], e->u.ended.hull[1]);
        assert_int_equal(pe->u.ended.rounds, e->u.ended.rounds);
        break;
    default:
        fail_msg("event kind %u has no check", e->kind);
    }
}

/* Translates e, checks every field, encodes it, decodes it and checks every field again; the
 * decoded event must also encode to the same bytes. */
static void roundtrip_event(const battle *b, const battle_event *e)
{
    static uint8_t buf[8192], buf2[8192];
    static proto_event pe, back;
    assert_true(events_xlate(b, 123, e, &pe));
    check_event_fields(e, 123, &pe);
    size_t len = 0, len2 = 0;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &pe, &len), PROTO_E_OK);
    assert_int_equal(proto_decode_event(buf + 4, len - 4, &back, NULL), PROTO_E_OK);
    check_event_fields(e, 123, &back);
    assert_int_equal(proto_encode_event(buf2, sizeof buf2, &back, &len2), PROTO_E_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
}

static void test_events_encode(void **state)
{
    ships_ship scout;
    memset(&scout, 0, sizeof scout);
    strcpy(scout.key, "scout");
    strcpy(scout.name, "Scout");
    scout.hull = 40;
    scout.armour = 4;
    scout.pilot = 2;
    scout.thrust = 2;
    scout.nweapons = 2;
    strcpy(scout.weapons[0].name, "Pulse Laser");
    scout.weapons[0].kind = SHIPS_WK_LASER;
    scout.weapons[0].dice = 2;
    scout.weapons[0].ammo = SHIPS_AMMO_UNLIMITED;
    strcpy(scout.weapons[1].name, "Missile Rack");
    scout.weapons[1].kind = SHIPS_WK_RACK;
    scout.weapons[1].ammo = 12;
    battle_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.seed = 99;
    setup.ship[0] = scout;
    setup.ship[1] = scout;
    setup.band = BATTLE_BAND_LONG;
    static battle b;
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    size_t n = 0;
    assert_int_equal(battle_create(&b, &setup, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n), BATTLE_OK);
    /* every event of a short battle translates and encodes; seq is kept 1:1 */
    static uint8_t buf[8192];
    static proto_event pe;
    bool seen[BATTLE_EV_ENDED + 1] = {false};
    for (int step = 0; step < 40 && !battle_is_over(&b); step++) {
        for (size_t i = 0; i < n; i++) {
            roundtrip_event(&b, &ev[i]);
            seen[ev[i].kind] = true;
        }
        battle_action a = {.kind = step % 3 == 0 ? BATTLE_ACT_LAUNCH : BATTLE_ACT_FIRE,
                           .seat = (uint8_t)battle_active_seat(&b)};
        if (battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n) != BATTLE_OK) {
            a.kind = BATTLE_ACT_END_TURN;
            assert_int_equal(battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n), BATTLE_OK);
        }
    }
    assert_true(seen[BATTLE_EV_STARTED] && seen[BATTLE_EV_ATTACK]);
    /* Every kind the battle above may not have produced, with distinct values in every field. */
    static const battle_event made[] = {
        {.seq = 7, .kind = BATTLE_EV_TURN, .seat = 1, .u.turn = {.round = 513}},
        {.seq = 8, .kind = BATTLE_EV_ROUND, .seat = 0, .u.round = {.round = 9, .hull = {40, 41}}},
        {.seq = 9, .kind = BATTLE_EV_ATTACK, .seat = 1,
         .u.attack = {.weapon = 1, .dice = {3, 5}, .total = -2, .effect = -4,
                      .flags = BATTLE_ATTACK_HIT | BATTLE_ATTACK_SAND_USED, .damage = 6,
                      .target_hull = 300}},
        {.seq = 10, .kind = BATTLE_EV_ATTACK, .seat = 0,
         .u.attack = {.weapon = 0, .dice = {1, 2}, .total = 3, .effect = 1, .flags = 0, .damage = 0,
                      .target_hull = 17}},
        {.seq = 11, .kind = BATTLE_EV_CRITICAL, .seat = 1,
         .u.critical = {.location = BATTLE_LOC_J_DRIVE, .severity = 3, .crew_injured = 1,
                        .extra_damage = 12, .target_hull = 280}},
        {.seq = 12, .kind = BATTLE_EV_MISSILE_LAUNCHED, .seat = 0,
         .u.launched = {.id = 777, .band = 2, .ammo_left = 11}},
        {.seq = 13, .kind = BATTLE_EV_MISSILE_MOVED, .seat = 0,
         .u.moved = {.id = 777, .old_band = 2, .new_band = 1}},
        {.seq = 14, .kind = BATTLE_EV_MISSILE_STRUCK, .seat = 1,
         .u.struck = {.id = 777, .dice = {1, 2, 3, 4}, .damage = 10, .target_hull = 270}},
        {.seq = 15, .kind = BATTLE_EV_POINT_DEFENSE, .seat = 1,
         .u.pd = {.id = 778, .dice = {6, 5}, .total = 9, .destroyed = 1}},
        {.seq = 16, .kind = BATTLE_EV_SANDCASTER, .seat = 0,
         .u.sand = {.dice = {4, 4}, .total = 8, .success = 1, .armour_bonus = 5, .ammo_left = 19}},
        {.seq = 17, .kind = BATTLE_EV_TIMEOUT, .seat = 1, .u.timeout = {.consecutive = 2}},
        {.seq = 18, .kind = BATTLE_EV_SEAT_AWAY, .seat = 1},
        {.seq = 19, .kind = BATTLE_EV_SEAT_BACK, .seat = 1},
        {.seq = 20, .kind = BATTLE_EV_ENDED, .seat = 0,
         .u.ended = {.winner = 0, .reason = BATTLE_END_FORFEIT, .rounds = 21, .hull = {5, 0}}},
        {.seq = 21, .kind = BATTLE_EV_ENDED, .seat = 0,
         .u.ended = {.winner = BATTLE_NO_SEAT, .reason = BATTLE_END_DRAW, .rounds = 50,
                     .hull = {7, 8}}},
    };
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
        roundtrip_event(&b, &made[i]);
    events_state(&b, 123, PROTO_SEAT_SPECTATOR, 500, &pe);
    size_t len = 0;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &pe, &len), PROTO_E_OK);
    assert_int_equal(pe.u.state.ships[0].nweapons, 2);
    assert_int_equal(pe.u.state.ships[0].weapons[1].kind, PROTO_WK_RACK);
    assert_int_equal(events_err(BATTLE_ERR_NOT_YOUR_TURN), PROTO_E_NOT_YOUR_TURN);
    assert_int_equal(events_err(BATTLE_ERR_SAND_OUT_OF_BAND), PROTO_E_OUT_OF_BAND);
    /* an empty weapon, rack or sandcaster is 43 out_of_ammo (PROTOCOL.md sections 9 and 10), not
     * 57 too_many_missiles, which is only the in-flight limit */
    assert_int_equal(events_err(BATTLE_ERR_OUT_OF_AMMO), PROTO_E_OUT_OF_AMMO);
    assert_int_equal(events_err(BATTLE_ERR_TOO_MANY_MISSILES), PROTO_E_TOO_MANY_MISSILES);
    assert_int_equal(events_reason(BATTLE_END_TIMEOUTS), PROTO_END_TIMEOUT);
}

/* events.c copies core's weapon kind number onto the wire unchanged, and ships.toml uses the wire's
 * names: both hold only while the two tables agree entry for entry. */
static void test_weapon_kinds_one_vocabulary(void **state)
{
    (void)state;
    assert_int_equal(SHIPS_WK_COUNT, PROTO_WK_COUNT);
    for (int k = 0; k < PROTO_WK_COUNT; k++)
        assert_string_equal(ships_weapon_kind_name((unsigned)k), proto_wkind_name(k));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weapon_kinds_one_vocabulary),
        cmocka_unit_test(test_btable_put_get_del),
        cmocka_unit_test(test_btable_random_ids),
        cmocka_unit_test(test_theap_order_update_remove),
        cmocka_unit_test(test_outbox_order_through_backlog),
        cmocka_unit_test(test_outbox_overflow_closes),
        cmocka_unit_test(test_outbox_close_list_full_counted),
        cmocka_unit_test(test_srand_tokens_and_seeds),
        cmocka_unit_test(test_events_encode),
        cmocka_unit_test(test_shards_count_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
