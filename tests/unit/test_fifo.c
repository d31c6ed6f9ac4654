/* fifo: order is kept across growth and wrap-around, a reserved slot counts only once committed,
 * the first allocation has the asked size, and free leaves a usable empty queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/fifo.h"

struct item {
    uint64_t seq;
    char tag[12];
};

static void test_order_across_wrap_and_growth(void **state)
{
    (void)state;
    fifo f;
    fifo_init(&f, sizeof(struct item), 4);
    uint64_t next_in = 0, next_out = 0;
    /* Push 3, pop 2, repeatedly: the head walks around the array before each growth. */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 3; i++) {
            struct item it = {.seq = next_in++};
            snprintf(it.tag, sizeof it.tag, "i%llu", (unsigned long long)it.seq);
            assert_true(fifo_push(&f, &it));
        }
        for (int i = 0; i < 2; i++) {
            const struct item *it = fifo_at(&f, 0);
            assert_int_equal(it->seq, next_out);
            char want[12];
            snprintf(want, sizeof want, "i%llu", (unsigned long long)next_out);
            assert_string_equal(it->tag, want);
            fifo_pop(&f);
            next_out++;
        }
        assert_int_equal(fifo_count(&f), next_in - next_out);
        for (uint32_t i = 0; i < fifo_count(&f); i++)
            assert_int_equal(((const struct item *)fifo_at(&f, i))->seq, next_out + i);
    }
    assert_true(f.cap >= fifo_count(&f));
    assert_int_equal(f.cap & (f.cap - 1), 0); /* 4 doubled: a power of two */
    fifo_free(&f);
    assert_int_equal(fifo_count(&f), 0);
}

static void test_first_capacity_and_reserve(void **state)
{
    (void)state;
    fifo f;
    fifo_init(&f, sizeof(uint32_t), 64);
    assert_null(f.buf); /* init allocates nothing */
    uint32_t *slot = fifo_reserve(&f);
    assert_non_null(slot);
    assert_int_equal(f.cap, 64);
    *slot = 7;
    assert_int_equal(fifo_count(&f), 0); /* not an element until committed */
    slot = fifo_reserve(&f);             /* the same slot again: the first was abandoned */
    *slot = 8;
    fifo_commit(&f);
    assert_int_equal(fifo_count(&f), 1);
    assert_int_equal(*(uint32_t *)fifo_at(&f, 0), 8);
    for (uint32_t i = 0; i < 64; i++) {
        uint32_t v = 100 + i;
        assert_true(fifo_push(&f, &v));
    }
    assert_int_equal(f.cap, 128);
    assert_int_equal(*(uint32_t *)fifo_at(&f, 0), 8);
    assert_int_equal(*(uint32_t *)fifo_at(&f, 64), 163);
    fifo_free(&f);
    /* Usable again after free. */
    uint32_t v = 1;
    assert_true(fifo_push(&f, &v));
    assert_int_equal(f.cap, 64);
    assert_int_equal(*(uint32_t *)fifo_at(&f, 0), 1);
    fifo_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_across_wrap_and_growth),
        cmocka_unit_test(test_first_capacity_and_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
