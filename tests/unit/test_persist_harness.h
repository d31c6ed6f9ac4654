/* test_persist_harness: what the tests that drive the shard runtime with persistence on share
 * (test_persist.c: restarts; test_adopt.c, tests/cluster/test_cl_adopt.c: runtime adoption):
 * starting a runtime, requests a player makes, a spectator's look at a battle (state_digest), the
 * recovery counters, a file-size limit that makes the journal's writes fail, and shards_adopt
 * called from a thread of its own. Include after <cmocka.h>. */
#ifndef BATTLED_TESTS_TEST_PERSIST_HARNESS_H
#define BATTLED_TESTS_TEST_PERSIST_HARNESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "tests/unit/test_persist_util.h"
#include "tests/unit/test_shard_harness.h"

/* h_start that fails the test when the runtime does not start. */
static inline struct harness *ph_start(struct shards_opts *c)
{
    struct harness *h = h_start(c);
    assert_non_null(h);
    return h;
}

/* The i-th event received (i from h_wait or h_find: must be found). */
static inline const proto_event *ph_ev(struct harness *h, long i)
{
    assert_true(i >= 0);
    return &h->rx[i].ev;
}

static inline void ph_fire(struct harness *h, conn_id conn, uint64_t bid, uint32_t rid)
{
    proto_request r;
    memset(&r, 0, sizeof r);
    h_request(h, conn, bid, PROTO_T_FIRE, rid, &r);
}

static inline void ph_resume(struct harness *h, conn_id conn, uint64_t bid, uint8_t seat,
                             const uint8_t *tok, uint32_t last)
{
    proto_request r;
    memset(&r, 0, sizeof r);
    r.u.resume.seat = seat;
    memcpy(r.u.resume.token, tok, PROTO_TOKEN_LEN);
    r.u.resume.last = last;
    h_request(h, conn, bid, PROTO_T_RESUME, 0, &r);
}

/* Spectator conn's look at a battle: its full state's digest and sequence number (seq may be
 * NULL); then it leaves. */
static inline uint64_t ph_look(struct harness *h, conn_id conn, uint64_t bid, uint32_t *seq)
{
    size_t mark = h->nrx;
    h_request(h, conn, bid, PROTO_T_WATCH, 0, NULL);
    long i = h_wait(h, conn, PROTO_T_STATE, mark);
    assert_true(i >= 0);
    uint64_t d = state_digest(ph_ev(h, i));
    if (seq)
        *seq = ph_ev(h, i)->seq;
    mark = h->nrx;
    h_request(h, conn, bid, PROTO_T_LEAVE, 0, NULL);
    assert_true(h_wait(h, conn, PROTO_T_LEFT, mark) >= 0);
    return d;
}

/* A counter of struct shard_stats (its byte offset) summed over the shards. */
static inline uint64_t ph_stat_sum(struct harness *h, size_t off)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < shards_count(h->s); k++)
        n += atomic_load((const _Atomic uint64_t *)((const char *)shards_stats(h->s, k) + off));
    return n;
}
#define PH_STAT(h, field) ph_stat_sum((h), offsetof(struct shard_stats, field))

/* Limits this process's file size to the largest journal log in dir plus extra bytes, so the
 * journal's writes past it fail with EFBIG (SIGXFSZ is ignored by the runtime); *old gets the
 * limit to put back with setrlimit(RLIMIT_FSIZE, old). */
static inline void ph_limit_log(const char *dir, rlim_t extra, struct rlimit *old)
{
    assert_int_equal(getrlimit(RLIMIT_FSIZE, old), 0);
    char log[512];
    largest_journal_file(dir, ".log", log, sizeof log);
    assert_true(log[0]);
    struct stat st;
    assert_int_equal(stat(log, &st), 0);
    struct rlimit lim = *old;
    lim.rlim_cur = (rlim_t)st.st_size + extra;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

struct ph_adopt_call {
    struct shards *s;
    const journal_set *set;
    unsigned timeout_ms;
    struct shards_adopt_result res;
    int rc;
};

static inline void *ph_adopt_main(void *arg)
{
    struct ph_adopt_call *a = arg;
    a->rc = shards_adopt(a->s, a->set, a->timeout_ms, &a->res);
    return NULL;
}

/* shards_adopt from a thread of its own, as the cluster thread calls it (never the thread that
 * plays the network thread). Returns its result. */
static inline int ph_adopt(struct harness *h, const journal_set *set, unsigned timeout_ms,
                           struct shards_adopt_result *res)
{
    struct ph_adopt_call a = {.s = h->s, .set = set, .timeout_ms = timeout_ms};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, ph_adopt_main, &a), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    *res = a.res;
    return a.rc;
}

#endif
