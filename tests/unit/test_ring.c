/* Unit tests of shards/ring.h: FIFO order, full and empty, wraparound of the indices, reserve/commit,
 * and bad sizes. Run in every build; under BATTLED_TSAN they exercise the C11-atomics ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shards/ring.h"

struct item {
    uint64_t seq;
    uint32_t pad[5]; /* a struct bigger than a pointer, stored by value */
};

RING_DEFINE(item_ring, item)

static void test_bad_sizes(void **state)
{
    (void)state;
    struct item_ring r;
    assert_int_equal(item_ring_init(&r, 0), -1);
    assert_int_equal(item_ring_init(&r, 1), -1);
    assert_int_equal(item_ring_init(&r, 3), -1);
    assert_int_equal(item_ring_init(&r, 1000), -1);
    assert_int_equal(item_ring_init(&r, RING_MAX_SLOTS * 2), -1);
    assert_int_equal(item_ring_init(&r, 2), 0);
    assert_int_equal(item_ring_capacity(&r), 1);
    item_ring_destroy(&r);
}

static void test_empty_and_full(void **state)
{
    (void)state;
    struct item_ring r;
    assert_int_equal(item_ring_init(&r, 8), 0);
    struct item out;
    assert_false(item_ring_pop(&r, &out));
    assert_int_equal(item_ring_count(&r), 0);
    assert_int_equal(item_ring_capacity(&r), 7);
    for (uint64_t i = 0; i < 7; i++) {
        struct item v = {.seq = i};
        assert_true(item_ring_push(&r, &v));
        assert_int_equal(item_ring_count(&r), i + 1);
    }
    struct item extra = {.seq = 99};
    assert_false(item_ring_push(&r, &extra)); /* full: refused, not overwritten */
    assert_null(item_ring_reserve(&r));
    for (uint64_t i = 0; i < 7; i++) {
        assert_true(item_ring_pop(&r, &out));
        assert_int_equal(out.seq, i);
    }
    assert_false(item_ring_pop(&r, &out));
    assert_int_equal(item_ring_count(&r), 0);
    item_ring_destroy(&r);
}

/* Indices run far past the slot count, so every slot is reused many times and the masks matter. */
static void test_wraparound(void **state)
{
    (void)state;
    struct item_ring r;
    assert_int_equal(item_ring_init(&r, 4), 0);
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 1000; round++) {
        int n = 1 + round % 3; /* 1..3 = up to capacity */
        for (int i = 0; i < n; i++) {
            struct item v = {.seq = next_in, .pad = {(uint32_t)next_in}};
            assert_true(item_ring_push(&r, &v));
            next_in++;
        }
        assert_int_equal(item_ring_count(&r), n);
        for (int i = 0; i < n; i++) {
            struct item out;
            assert_true(item_ring_pop(&r, &out));
            assert_int_equal(out.seq, next_out);
            assert_int_equal(out.pad[0], (uint32_t)next_out);
            next_out++;
        }
    }
    assert_int_equal(next_in, next_out);
    item_ring_destroy(&r);
}

static void test_reserve_commit(void **state)
{
    (void)state;
    struct item_ring r;
    assert_int_equal(item_ring_init(&r, 4), 0);
    struct item *slot = item_ring_reserve(&r);
    assert_non_null(slot);
    slot->seq = 42;
    struct item out;
    assert_false(item_ring_pop(&r, &out)); /* not visible before commit */
    item_ring_commit(&r);
    assert_true(item_ring_pop(&r, &out));
    assert_int_equal(out.seq, 42);
    /* reserve without commit leaves the ring as it was */
    slot = item_ring_reserve(&r);
    assert_non_null(slot);
    slot->seq = 7;
    assert_int_equal(item_ring_count(&r), 0);
    struct item v = {.seq = 8};
    assert_true(item_ring_push(&r, &v)); /* overwrites the uncommitted slot */
    assert_true(item_ring_pop(&r, &out));
    assert_int_equal(out.seq, 8);
    item_ring_destroy(&r);
}

/* The shard's journal path: a pass fills k slots past the published tail with reserve_at, none is
 * visible until commit_n(k) publishes them all at once, in order; reserve_at refuses the slot that
 * would fill the ring (counting the held ones), and the indices wrap. */
static void test_reserve_at_commit_n(void **state)
{
    (void)state;
    struct item_ring r;
    assert_int_equal(item_ring_init(&r, 8), 0); /* holds 7 */
    uint64_t next = 1, expect = 1;
    for (int round = 0; round < 5; round++) { /* 5 x 5 values through 8 slots: the indices wrap */
        unsigned held = 0;
        for (; held < 5; held++) {
            struct item *slot = item_ring_reserve_at(&r, held);
            assert_non_null(slot);
            slot->seq = next++;
        }
        struct item out;
        assert_int_equal(item_ring_count(&r), 0);
        assert_false(item_ring_pop(&r, &out)); /* held back until the journal is written */
        item_ring_commit_n(&r, held);
        assert_int_equal(item_ring_count(&r), 5);
        for (unsigned i = 0; i < held; i++) {
            assert_true(item_ring_pop(&r, &out));
            assert_int_equal(out.seq, expect++);
        }
        assert_false(item_ring_pop(&r, &out));
    }
    /* Full: 3 published, then 4 held fit (7 in all) and the 8th is refused. */
    struct item v = {.seq = 100};
    for (int i = 0; i < 3; i++)
        assert_true(item_ring_push(&r, &v));
    for (unsigned k = 0; k < 4; k++) {
        struct item *slot = item_ring_reserve_at(&r, k);
        assert_non_null(slot);
        slot->seq = 200 + k;
    }
    assert_null(item_ring_reserve_at(&r, 4));
    item_ring_commit_n(&r, 4);
    assert_int_equal(item_ring_count(&r), 7);
    assert_null(item_ring_reserve(&r));
    struct item out;
    for (int i = 0; i < 3; i++) {
        assert_true(item_ring_pop(&r, &out));
        assert_int_equal(out.seq, 100);
    }
    for (unsigned k = 0; k < 4; k++) {
        assert_true(item_ring_pop(&r, &out));
        assert_int_equal(out.seq, 200 + k);
    }
    /* commit_n(0) publishes nothing */
    item_ring_commit_n(&r, 0);
    assert_int_equal(item_ring_count(&r), 0);
    item_ring_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_empty_and_full),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_reserve_at_commit_n),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
