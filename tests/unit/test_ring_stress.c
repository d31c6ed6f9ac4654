/* Stress test of shards/ring.h between two threads (label "stress"; run it under TSan).
 *
 * 1. spin: a million values through a small ring, the producer retrying when full and the consumer
 *    when empty; every value must arrive once, in order, with its payload intact.
 * 2. wake: the same through the wakeup protocol the runtime uses: the producer commits a batch,
 *    fences, then uv_async_send; the consumer runs a libuv loop, drains at most a budget per
 *    callback and re-signals itself when it stopped on the budget. A lost wakeup hangs the test
 *    (ctest's timeout), a duplicate or reordered value fails it. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <time.h>
#include <uv.h>

#include "shards/ring.h"

#define STRESS_COUNT 1000000u
#define STRESS_SLOTS 256u
#define STRESS_BATCH 16u  /* producer pushes this many between wakes */
#define STRESS_BUDGET 100u /* consumer pops at most this many per callback */

struct msg {
    uint64_t seq;
    uint64_t check; /* derived from seq: a torn copy shows up here */
    uint8_t body[48];
};

RING_DEFINE(msg_ring, msg)

static uint64_t check_of(uint64_t seq)
{
    return seq * 0x9e3779b97f4a7c15ULL ^ 0xdeadbeefULL;
}

static void fill(struct msg *m, uint64_t seq)
{
    m->seq = seq;
    m->check = check_of(seq);
    for (size_t i = 0; i < sizeof m->body; i++)
        m->body[i] = (uint8_t)(seq + i);
}

static void verify(const struct msg *m, uint64_t want)
{
    assert_int_equal(m->seq, want);
    assert_int_equal(m->check, check_of(want));
    assert_int_equal(m->body[0], (uint8_t)want);
    assert_int_equal(m->body[sizeof m->body - 1], (uint8_t)(want + sizeof m->body - 1));
}

/* ---- 1. spin ---- */

static void *spin_producer(void *arg)
{
    struct msg_ring *r = arg;
    for (uint64_t i = 0; i < STRESS_COUNT;) {
        if (i % 2 == 0) {
            struct msg m;
            fill(&m, i);
            if (!msg_ring_push(r, &m)) {
                sched_yield();
                continue;
            }
        } else {
            struct msg *slot = msg_ring_reserve(r);
            if (!slot) {
                sched_yield();
                continue;
            }
            fill(slot, i);
            msg_ring_commit(r);
        }
        i++;
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_spin(void **state)
{
    (void)state;
    double t0 = now_s();
    struct msg_ring r;
    assert_int_equal(msg_ring_init(&r, STRESS_SLOTS), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, spin_producer, &r), 0);
    uint64_t want = 0;
    while (want < STRESS_COUNT) {
        struct msg m;
        if (!msg_ring_pop(&r, &m)) {
            sched_yield();
            continue;
        }
        verify(&m, want);
        want++;
    }
    pthread_join(t, NULL);
    print_message("spin: %u messages of %zu bytes in %.3f s\n", STRESS_COUNT, sizeof(struct msg),
                  now_s() - t0);
    struct msg m;
    assert_false(msg_ring_pop(&r, &m));
    msg_ring_destroy(&r);
}

/* ---- 2. wake ---- */

struct wake_test {
    struct msg_ring ring;
    uv_loop_t loop;
    uv_async_t async;
    uint64_t want;
    uint64_t callbacks;
    uint64_t resignals;
};

static void on_async(uv_async_t *h)
{
    struct wake_test *w = h->data;
    w->callbacks++;
    for (unsigned n = 0; n < STRESS_BUDGET; n++) {
        struct msg m;
        if (!msg_ring_pop(&w->ring, &m))
            goto done;
        verify(&m, w->want);
        w->want++;
    }
    /* Stopped on the budget: libuv already cleared the pending flag, so without this the rest of
     * the ring could wait forever for a producer that has finished. */
    w->resignals++;
    uv_async_send(&w->async);
done:
    if (w->want == STRESS_COUNT)
        uv_close((uv_handle_t *)&w->async, NULL);
}

static void *wake_producer(void *arg)
{
    struct wake_test *w = arg;
    uint64_t i = 0;
    while (i < STRESS_COUNT) {
        unsigned pushed = 0;
        while (pushed < STRESS_BATCH && i < STRESS_COUNT) {
            struct msg m;
            fill(&m, i);
            if (!msg_ring_push(&w->ring, &m))
                break;
            i++;
            pushed++;
        }
        if (pushed) {
            ring_fence();
            uv_async_send(&w->async);
        } else {
            sched_yield();
        }
    }
    return NULL;
}

static void test_wake(void **state)
{
    (void)state;
    struct wake_test w = {0};
    assert_int_equal(msg_ring_init(&w.ring, STRESS_SLOTS), 0);
    assert_int_equal(uv_loop_init(&w.loop), 0);
    assert_int_equal(uv_async_init(&w.loop, &w.async, on_async), 0);
    w.async.data = &w;
    double t0 = now_s();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wake_producer, &w), 0);
    assert_int_equal(uv_run(&w.loop, UV_RUN_DEFAULT), 0); /* returns once the async is closed */
    pthread_join(t, NULL);
    assert_int_equal(w.want, STRESS_COUNT);
    print_message("wake: %u messages in %.3f s, %llu callbacks, %llu budget re-signals\n",
                  STRESS_COUNT, now_s() - t0, (unsigned long long)w.callbacks,
                  (unsigned long long)w.resignals);
    /* Coalescing: far fewer callbacks than messages. */
    assert_true(w.callbacks < STRESS_COUNT);
    assert_int_equal(uv_loop_close(&w.loop), 0);
    msg_ring_destroy(&w.ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spin),
        cmocka_unit_test(test_wake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
