/* proto/client/backoff: waits grow and stay within [d/2, d], a `restarting` hint sets the first
 * wait, success starts over, and attempts and total time are bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/client/backoff.h"

static void test_grows_within_jitter_bounds(void **state)
{
    (void)state;
    pcb b;
    pcb_init(&b, 100, 1000, 0, 0, 42);
    uint64_t full[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (unsigned i = 0; i < sizeof full / sizeof full[0]; i++) {
        int64_t d = pcb_next(&b, 0);
        assert_true(d >= (int64_t)(full[i] / 2));
        assert_true(d <= (int64_t)full[i]);
    }
}

static void test_jitter_spreads_clients(void **state)
{
    (void)state;
    /* Clients seeded differently do not all pick the same wait. */
    int64_t first = -1;
    int differ = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        pcb b;
        pcb_init(&b, 1000, 5000, 0, 0, seed);
        int64_t d = pcb_next(&b, 0);
        if (first < 0)
            first = d;
        differ += d != first;
    }
    assert_true(differ > 10);
}

static void test_restarting_hint_and_success(void **state)
{
    (void)state;
    pcb b;
    pcb_init(&b, 100, 1000, 0, 0, 7);
    pcb_next(&b, 0);
    pcb_next(&b, 0);
    pcb_restarting(&b, 2000);
    int64_t d = pcb_next(&b, 0);
    assert_true(d >= 2000 && d <= 3000); /* the hint, plus up to half of it */
    d = pcb_next(&b, 0);                 /* the hint is used once */
    assert_true(d <= 1000);
    pcb_success(&b);
    d = pcb_next(&b, 0);
    assert_true(d >= 50 && d <= 100); /* back to the first wait */
    /* a hint given before the loss is counted as a success survives it */
    pcb_restarting(&b, 1000);
    pcb_success(&b);
    d = pcb_next(&b, 0);
    assert_true(d >= 1000 && d <= 1500);
}

static void test_bounded_attempts_and_time(void **state)
{
    (void)state;
    pcb b;
    pcb_init(&b, 100, 1000, 3, 0, 1);
    assert_true(pcb_next(&b, 0) >= 0);
    assert_true(pcb_next(&b, 0) >= 0);
    assert_true(pcb_next(&b, 0) >= 0);
    assert_int_equal(pcb_next(&b, 0), -1);
    pcb_init(&b, 100, 1000, 0, 5000, 1);
    assert_true(pcb_next(&b, 10000) >= 0); /* the run of attempts begins at 10000 */
    assert_true(pcb_next(&b, 14999) >= 0);
    assert_int_equal(pcb_next(&b, 15000), -1);
    pcb_success(&b);
    assert_true(pcb_next(&b, 20000) >= 0); /* a new run after a success */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_within_jitter_bounds),
        cmocka_unit_test(test_jitter_spreads_clients),
        cmocka_unit_test(test_restarting_hint_and_success),
        cmocka_unit_test(test_bounded_attempts_and_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
