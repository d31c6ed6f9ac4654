/* Unit tests for util/metrics: histogram bucketing under threads, and Prometheus text
 * output checked both line by line and by promtool (the Prometheus project's own parser
 * and linter, from Debian's prometheus package; skipped with a message when absent). */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/test_promtool.h"
#include "util/metrics.h"

static const uint64_t small_bounds[] = {100, 1000, 250000};

static void test_hist_buckets_are_le(void **state)
{
    hist h;
    assert_int_equal(hist_init(&h, small_bounds, 3), 0);
    uint64_t values[] = {0, 100, 101, 1000, 1001, 250000, 250001, 99000000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        hist_observe(&h, values[i]);
    hist_snap s;
    hist_snapshot(&h, &s);
    assert_int_equal(s.buckets[0], 2); /* 0, 100: a bound is inclusive */
    assert_int_equal(s.buckets[1], 2); /* 101, 1000 */
    assert_int_equal(s.buckets[2], 2); /* 1001, 250000 */
    assert_int_equal(s.buckets[3], 2); /* +Inf */
    assert_int_equal(hist_snap_count(&s), 8);
    assert_int_equal(s.sum_us, 0 + 100 + 101 + 1000 + 1001 + 250000 + 250001 + 99000000);
}

static void test_hist_init_rejects_bad_bounds(void **state)
{
    hist h;
    static const uint64_t unsorted[] = {10, 5};
    static const uint64_t repeated[] = {10, 10};
    static uint64_t many[HIST_MAX_BUCKETS + 1];
    for (size_t i = 0; i < HIST_MAX_BUCKETS + 1; i++)
        many[i] = i + 1;
    assert_int_equal(hist_init(&h, unsorted, 2), -1);
    assert_int_equal(hist_init(&h, repeated, 2), -1);
    assert_int_equal(hist_init(&h, many, HIST_MAX_BUCKETS + 1), -1);
    assert_int_equal(hist_init(&h, many, HIST_MAX_BUCKETS), 0);
    assert_int_equal(hist_init(&h, hist_latency_bounds_us, hist_latency_nbounds), 0);
}

enum { THREADS = 4, PER_THREAD = 200000 };
static hist g_shared;

static void *observer(void *arg)
{
    uint64_t base = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < PER_THREAD; i++)
        hist_observe(&g_shared, (base + i) % 2000);
    return NULL;
}

/* Relaxed atomics still lose nothing: every observation lands exactly once. */
static void test_hist_concurrent_observers(void **state)
{
    assert_int_equal(hist_init(&g_shared, small_bounds, 3), 0);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, observer, (void *)(i * 7)), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    hist_snap s;
    hist_snapshot(&g_shared, &s);
    assert_int_equal(hist_snap_count(&s), (uint64_t)THREADS * PER_THREAD);
    uint64_t want_sum = 0, want_le100 = 0;
    for (uint64_t b = 0; b < THREADS; b++)
        for (uint64_t i = 0; i < PER_THREAD; i++) {
            uint64_t v = (b * 7 + i) % 2000;
            want_sum += v;
            want_le100 += v <= 100;
        }
    assert_int_equal(s.sum_us, want_sum);
    assert_int_equal(s.buckets[0], want_le100);
}

static void test_hist_merge(void **state)
{
    hist a, b, c;
    static const uint64_t other[] = {100, 1000, 250001};
    hist_init(&a, small_bounds, 3);
    hist_init(&b, small_bounds, 3);
    hist_init(&c, other, 3);
    hist_observe(&a, 5);
    hist_observe(&b, 5000);
    hist_observe(&b, 50);
    hist_snap sa, sb, sc;
    hist_snapshot(&a, &sa);
    hist_snapshot(&b, &sb);
    hist_snapshot(&c, &sc);
    assert_int_equal(hist_snap_add(&sa, &sb), 0);
    assert_int_equal(hist_snap_count(&sa), 3);
    assert_int_equal(sa.buckets[0], 2);
    assert_int_equal(sa.sum_us, 5055);
    assert_int_equal(hist_snap_add(&sa, &sc), -1);
}

/* The exact text for a small page: what a scraper will read. */
static void test_exact_text(void **state)
{
    prom_out o;
    prom_out_init(&o, 0);
    prom_counter(&o, "battled_connections_accepted_total", "Connections accepted.", 42);
    prom_gauge(&o, "battled_battles_live", "Battles in progress.", 7);
    prom_family(&o, "battled_frames_total", "Frames by \\direction\nand kind.", "counter");
    prom_label l[] = {{"direction", "in"}, {"kind", "weird \"q\" \\ \n end"}};
    prom_sample_u64(&o, "battled_frames_total", l, 2, 18446744073709551615u);
    prom_family(&o, "battled_temp", NULL, "gauge");
    prom_sample_double(&o, "battled_temp", NULL, 0, -0.25);
    prom_sample_i64(&o, "battled_temp", l, 1, -3);
    prom_sample_double(&o, "battled_temp", NULL, 0, NAN);
    prom_sample_double(&o, "battled_temp", NULL, 0, INFINITY);
    prom_sample_double(&o, "battled_temp", NULL, 0, 0.1);

    hist h;
    hist_init(&h, small_bounds, 3);
    hist_observe(&h, 50);
    hist_observe(&h, 700);
    hist_observe(&h, 3000000);
    hist_snap s;
    hist_snapshot(&h, &s);
    prom_histogram(&o, "battled_tick_seconds", "Shard tick duration.", &s);

    static const char want[] =
        "# HELP battled_connections_accepted_total Connections accepted.\n"
        "# TYPE battled_connections_accepted_total counter\n"
        "battled_connections_accepted_total 42\n"
        "# HELP battled_battles_live Battles in progress.\n"
        "# TYPE battled_battles_live gauge\n"
        "battled_battles_live 7\n"
        "# HELP battled_frames_total Frames by \\\\direction\\nand kind.\n"
        "# TYPE battled_frames_total counter\n"
        "battled_frames_total{direction=\"in\",kind=\"weird \\\"q\\\" \\\\ \\n end\"} "
        "18446744073709551615\n"
        "# TYPE battled_temp gauge\n"
        "battled_temp -0.25\n"
        "battled_temp{direction=\"in\"} -3\n"
        "battled_temp NaN\n"
        "battled_temp +Inf\n"
        "battled_temp 0.1\n"
        "# HELP battled_tick_seconds Shard tick duration.\n"
        "# TYPE battled_tick_seconds histogram\n"
        "battled_tick_seconds_bucket{le=\"0.0001\"} 1\n"
        "battled_tick_seconds_bucket{le=\"0.001\"} 2\n"
        "battled_tick_seconds_bucket{le=\"0.25\"} 2\n"
        "battled_tick_seconds_bucket{le=\"+Inf\"} 3\n"
        "battled_tick_seconds_sum 3.00075\n"
        "battled_tick_seconds_count 3\n";
    assert_true(prom_out_ok(&o));
    assert_string_equal(o.buf, want);
    assert_int_equal(o.len, sizeof want - 1);
    prom_out_free(&o);
}

static void test_labelled_histogram_series(void **state)
{
    prom_out o;
    prom_out_init(&o, 0);
    hist h;
    hist_init(&h, small_bounds, 3);
    hist_snap s;
    hist_snapshot(&h, &s);
    prom_family(&o, "battled_req_seconds", "Request latency.", "histogram");
    prom_label l[] = {{"shard", "0"}};
    prom_histogram_series(&o, "battled_req_seconds", l, 1, &s);
    assert_true(prom_out_ok(&o));
    assert_non_null(strstr(o.buf, "battled_req_seconds_bucket{shard=\"0\",le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(o.buf, "battled_req_seconds_bucket{shard=\"0\",le=\"+Inf\"} 0\n"));
    assert_non_null(strstr(o.buf, "battled_req_seconds_sum{shard=\"0\"} 0\n"));
    assert_non_null(strstr(o.buf, "battled_req_seconds_count{shard=\"0\"} 0\n"));
    /* "le" is the histogram's own label. */
    prom_label bad[] = {{"le", "1"}};
    prom_histogram_series(&o, "battled_req_seconds", bad, 1, &s);
    assert_false(prom_out_ok(&o));
    prom_out_free(&o);
}

static void test_invalid_names_flagged(void **state)
{
    prom_out o;
    prom_out_init(&o, 0);
    prom_counter(&o, "9starts_with_digit_total", "x", 1);
    assert_true(o.invalid);
    assert_int_equal(o.len, 0);
    prom_out_reset(&o);
    prom_label l[] = {{"__reserved", "x"}};
    prom_sample_u64(&o, "ok_total", l, 1, 1);
    assert_true(o.invalid);
    prom_out_reset(&o);
    prom_label l2[] = {{"bad-name", "x"}};
    prom_sample_u64(&o, "ok_total", l2, 1, 1);
    assert_true(o.invalid);
    prom_out_reset(&o);
    prom_family(&o, "ok_total", "x", "summary"); /* not a type we write */
    assert_true(o.invalid);
    prom_out_reset(&o);
    prom_counter(&o, "ns:ok_total", "x", 1);
    assert_true(prom_out_ok(&o));
    prom_out_free(&o);
}

static void test_overflow_and_truncation(void **state)
{
    prom_out o;
    prom_out_init(&o, 100);
    prom_counter(&o, "battled_a_total", "First.", 1);
    assert_true(prom_out_ok(&o));
    size_t len = o.len;
    prom_counter(&o, "battled_b_total", "Second, which no longer fits in one hundred bytes.", 2);
    assert_true(o.overflow);
    assert_false(prom_out_ok(&o));
    assert_true(o.len < 100);
    assert_true(o.len >= len);
    prom_out_reset(&o);
    assert_true(prom_out_ok(&o));
    assert_int_equal(o.len, 0);
    prom_out_free(&o);

    /* A label value past PROM_LABEL_VALUE_MAX is cut, never splitting a UTF-8 sequence. */
    prom_out_init(&o, 0);
    static char v[PROM_LABEL_VALUE_MAX + 10];
    memset(v, 'a', PROM_LABEL_VALUE_MAX - 1);
    memcpy(v + PROM_LABEL_VALUE_MAX - 1, "\xc3\xa9zzz", 5); /* e-acute straddles the cut */
    prom_label l[] = {{"name", v}};
    prom_sample_u64(&o, "battled_x_total", l, 1, 1);
    assert_int_equal(o.truncated, 1);
    const char *q = strchr(o.buf, '"');
    const char *q2 = strchr(q + 1, '"');
    assert_int_equal(q2 - q - 1, PROM_LABEL_VALUE_MAX - 1);
    prom_out_free(&o);
}

static void test_promtool_accepts_output(void **state)
{
    char promtool[512];
    if (!find_promtool(promtool, sizeof promtool)) {
        print_message("promtool not found: install Debian's prometheus package "
                      "(apt-get install -y --no-install-recommends prometheus) to run this test\n");
        skip();
    }
    /* The checker itself must be able to say no, or this test proves nothing. */
    char err[4096];
    const char *bad = "battled_x_total{a=\"b} 1\n";
    assert_int_not_equal(promtool_check(promtool, bad, strlen(bad), err, sizeof err), 0);

    prom_out o;
    prom_out_init(&o, 0);
    prom_counter(&o, "battled_connections_accepted_total", "Connections accepted.", 42);
    prom_gauge(&o, "battled_connections_open", "Open client connections.", 12345);
    prom_family(&o, "battled_queue_drops_total", "Messages refused by a full queue, by "
                "queue.\nSecond line with a \\ backslash.", "counter");
    const char *queues[] = {"shard_inbox", "client \"out\"", "weird\nname", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < 4; i++) {
        prom_label l[] = {{"queue", queues[i]}, {"shard", "3"}};
        prom_sample_u64(&o, "battled_queue_drops_total", l, 2, i * 1000);
    }
    hist h;
    hist_init(&h, hist_latency_bounds_us, hist_latency_nbounds);
    for (uint64_t v = 0; v < 20000000; v = v * 3 + 1)
        hist_observe(&h, v);
    hist_snap s;
    hist_snapshot(&h, &s);
    prom_histogram(&o, "battled_tick_seconds", "Shard tick duration.", &s);
    prom_family(&o, "battled_request_seconds", "Request latency by kind.", "histogram");
    const char *kinds[] = {"fire", "join"};
    for (size_t i = 0; i < 2; i++) {
        prom_label l[] = {{"kind", kinds[i]}};
        prom_histogram_series(&o, "battled_request_seconds", l, 1, &s);
    }
    prom_gauge(&o, "battled_load_ratio", "A ratio.", 0.333333333333333);
    assert_true(prom_out_ok(&o));
    int rc = promtool_check(promtool, o.buf, strlen(o.buf), err, sizeof err);
    if (rc != 0)
        fail_msg("promtool check metrics exited %d (%s) on:\n%s", rc, err, o.buf);
    prom_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets_are_le),
        cmocka_unit_test(test_hist_init_rejects_bad_bounds),
        cmocka_unit_test(test_hist_concurrent_observers),
        cmocka_unit_test(test_hist_merge),
        cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_labelled_histogram_series),
        cmocka_unit_test(test_invalid_names_flagged),
        cmocka_unit_test(test_overflow_and_truncation),
        cmocka_unit_test(test_promtool_accepts_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
