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
    static proto_event pe, back;
    for (int step = 0; step < 40 && !battle_is_over(&b); step++) {
        for (size_t i = 0; i < n; i++) {
            assert_true(events_xlate(&b, 123, &ev[i], &pe));
            assert_int_equal(pe.seq, ev[i].seq);
            size_t len = 0;
            assert_int_equal(proto_encode_event(buf, sizeof buf, &pe, &len), PROTO_E_OK);
            assert_int_equal(proto_decode_event(buf + 4, len - 4, &back, NULL), PROTO_E_OK);
            assert_int_equal(back.type, pe.type);
            assert_int_equal(back.seq, pe.seq);
        }
        battle_action a = {.kind = step % 3 == 0 ? BATTLE_ACT_LAUNCH : BATTLE_ACT_FIRE,
                           .seat = (uint8_t)battle_active_seat(&b)};
        if (battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n) != BATTLE_OK) {
            a.kind = BATTLE_ACT_END_TURN;
            assert_int_equal(battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n), BATTLE_OK);
        }
    }
    events_state(&b, 123, PROTO_SEAT_SPECTATOR, 500, &pe);
    size_t len = 0;
    assert_int_equal(proto_encode_event(buf, sizeof buf, &pe, &len), PROTO_E_OK);
    assert_int_equal(pe.u.state.ships[0].nweapons, 2);
    assert_int_equal(pe.u.state.ships[0].weapons[1].kind, PROTO_WK_RACK);
    assert_int_equal(events_err(BATTLE_ERR_NOT_YOUR_TURN), PROTO_E_NOT_YOUR_TURN);
    assert_int_equal(events_err(BATTLE_ERR_SAND_OUT_OF_BAND), PROTO_E_OUT_OF_BAND);
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
        cmocka_unit_test(test_srand_tokens_and_seeds),
        cmocka_unit_test(test_events_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
