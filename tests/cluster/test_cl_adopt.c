/* Runtime adoption (shards_adopt, owner: shards) on the Redis backend, against a redis-server the
 * test starts on a free loopback port (redis_harness.h): node n1 journals battles under its prefix
 * and stops as if it died; the test, playing n2's cluster thread, claims n1's prefix with a link of
 * its own and loads it into a journal_set; n2's runtime, journaling under its own prefix, adopts
 * the set. shards_adopt returns once Redis acknowledged the adopted battles' records (the
 * backend's acked/notify path): read straight from Redis at that moment, n2's prefix holds them,
 * each running battle with its MARK. Players resume on n2 and play on, and a restart of n2 on its
 * prefix recovers them. The test thread plays the network thread (tests/unit/test_persist.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal/journal.h"
#include "journal/store_redis.h"
#include "shards/persist.h"
#include "tests/cluster/redis_harness.h"
#include "tests/unit/test_journal_util.h"
#include "tests/unit/test_shard_harness.h"
#include "tests/unit/test_persist_util.h"
#include "tests/unit/test_persist_harness.h"

#define A 0x100000001ull
#define B 0x100000002ull
#define C 0x100000003ull
#define W 0x100000007ull /* spectator */
#define A2 0x200000001ull
#define C2 0x200000003ull

#define BID_M 0x4001ull /* matched, running */
#define BID_P 0x4002ull /* private, waiting */

#define SEGS_MAX 64

static rh_server g_redis;
static char g_where1[STORE_REDIS_WHERE_MAX], g_where2[STORE_REDIS_WHERE_MAX];

static int redis_up(void **state)
{
    (void)state;
    g_redis.aof = false;
    if (!rh_start(&g_redis))
        return -1;
    store_redis_opts o1 = {.address = g_redis.address, .prefix = "n1:", .node = "n1"};
    store_redis_opts o2 = {.address = g_redis.address, .prefix = "n2:", .node = "n2"};
    return store_redis_where(g_where1, sizeof g_where1, &o1) == 0 &&
                   store_redis_where(g_where2, sizeof g_where2, &o2) == 0
               ? 0
               : -1;
}

static int redis_down(void **state)
{
    (void)state;
    rh_stop(&g_redis);
    return 0;
}

static void cfg_redis(struct shards_opts *c, unsigned shards, const char *where)
{
    h_config(c, shards);
    c->persistence.enabled = true;
    c->persistence.backend = "redis";
    c->persistence.dir = where;
    c->persistence.fsync = JOURNAL_SYNC_ALWAYS;
}

/* Segments in replay order, as journal_load_buffers takes them. */
typedef struct segs {
    uint8_t *bufs[SEGS_MAX];
    size_t lens[SEGS_MAX];
    bool is_log[SEGS_MAX];
    size_t n;
} segs;

static int collect(void *ctx, const char *name, uint8_t *data, size_t len, bool is_log)
{
    (void)name;
    segs *s = ctx;
    assert_true(s->n < SEGS_MAX);
    s->bufs[s->n] = data;
    s->lens[s->n] = len;
    s->is_log[s->n] = is_log;
    s->n++;
    return 0;
}

static journal_set *segs_load(segs *s)
{
    journal_load_opts lo = {.keep_ended = true};
    journal_set *set = NULL;
    journal_error je;
    if (journal_load_buffers((const uint8_t *const *)s->bufs, s->lens, NULL, s->is_log, s->n, &lo,
                             &set, &je) != 0)
        fail_msg("load: %s", je.msg);
    return set;
}

static void segs_free(segs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->bufs[i]);
    s->n = 0;
}

/* What a prefix holds right now, read with plain GETs (its owner keeps it claimed): the log
 * segments of a node that started empty, one per shard. */
static void read_prefix(const char *prefix, segs *s)
{
    redisContext *r = rh_connect(&g_redis);
    assert_non_null(r);
    redisReply *names = redisCommand(r, "SMEMBERS %sfiles", prefix);
    assert_non_null(names);
    assert_int_equal(names->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < names->elements; i++) {
        const char *name = names->element[i]->str;
        size_t nl = strlen(name);
        assert_true(nl > 4 && strcmp(name + nl - 4, ".log") == 0);
        redisReply *seg = redisCommand(r, "GET %sseg:%s", prefix, name);
        assert_non_null(seg);
        assert_int_equal(seg->type, REDIS_REPLY_STRING);
        uint8_t *copy = malloc(seg->len ? seg->len : 1);
        assert_non_null(copy);
        memcpy(copy, seg->str, seg->len);
        collect(s, name, copy, seg->len, true);
        freeReplyObject(seg);
    }
    freeReplyObject(names);
    redisFree(r);
}

static void test_adopt_on_redis(void **state)
{
    (void)state;
    /* n1: a running battle with some history and a private one waiting */
    struct shards_opts c;
    cfg_redis(&c, 2, g_where1);
    struct harness *h = ph_start(&c);
    h_create(h, BID_M, SHARD_CREATE_MATCHED, A, B, "free_trader", "brick", PROTO_BAND_CLOSE);
    long ia = h_wait(h, A, PROTO_T_STARTED, 0);
    uint8_t tok_a[16], tok_c[16];
    memcpy(tok_a, ph_ev(h, ia)->u.started.token, 16);
    for (int i = 0; i < 3; i++) {
        ph_fire(h, A, BID_M, 0);
        ph_fire(h, B, BID_M, 0);
        h_settle(h);
    }
    h_create(h, BID_P, SHARD_CREATE_PRIVATE, C, 0, "scout", NULL, PROTO_BAND_SHORT);
    memcpy(tok_c, ph_ev(h, h_wait(h, C, PROTO_T_CREATED, 0))->u.created.token, 16);
    uint32_t seq_m;
    uint64_t dig_m = ph_look(h, W, BID_M, &seq_m);
    h_stop(h); /* n1 is gone */

    /* n2's cluster thread: claims n1's prefix and loads it */
    store_redis_opts lo = {.address = g_redis.address, .prefix = "n1:", .node = "n2"};
    store_redis_link *link = NULL;
    char err[200];
    assert_int_equal(store_redis_link_start(&lo, &link, err, sizeof err), 0);
    segs s1 = {.n = 0};
    char **names = NULL;
    uint64_t next;
    assert_int_equal(store_redis_load(link, collect, &s1, &names, &next, err, sizeof err), 0);
    journal_set *set = segs_load(&s1);
    assert_int_equal(journal_set_count(set), 2);

    /* n2, running with its own prefix, adopts */
    cfg_redis(&c, 3, g_where2);
    h = ph_start(&c);
    struct shards_adopt_result res;
    assert_int_equal(ph_adopt(h, set, 10000, &res), 0);
    assert_int_equal(res.adopted, 2);
    assert_int_equal(res.failed + res.duplicates + res.over, 0);

    /* acknowledged by Redis when it returned: n2's prefix holds both, M with its MARK last */
    segs s2 = {.n = 0};
    read_prefix("n2:", &s2);
    journal_set *mine = segs_load(&s2);
    assert_int_equal(journal_set_count(mine), 2);
    const journal_battle *jm = journal_set_find(mine, BID_M);
    assert_non_null(jm);
    assert_true(jm->nactions > 0);
    battle_action act;
    struct persist_mark mark;
    const journal_rec *last = &jm->actions[jm->nactions - 1];
    assert_int_equal(persist_decode_step(last->payload, last->payload_len, &act, &mark), 1);
    assert_int_equal(mark.off, PERSIST_SEQ_GAP);
    assert_non_null(journal_set_find(mine, BID_P));
    journal_set_free(mine);
    segs_free(&s2);
    journal_set_free(set);
    segs_free(&s1);
    /* the dead node's segments are retired by whoever adopted them (the cluster thread) */
    assert_int_equal(store_redis_retire(link, names), 0);
    store_redis_names_free(names);
    store_redis_link_stop(link);

    /* players resume on n2 and play on */
    uint32_t seq;
    assert_true(ph_look(h, W, BID_M, &seq) == dig_m);
    assert_int_equal(seq, seq_m);
    size_t from = h->nrx;
    ph_resume(h, A2, BID_M, 0, tok_a, seq_m);
    long i = h_wait(h, A2, PROTO_T_STATE, from);
    assert_int_equal(ph_ev(h, i)->seq, seq_m + 1 + PERSIST_SEQ_GAP);
    from = h->nrx;
    ph_resume(h, C2, BID_P, 0, tok_c, 0);
    assert_true(h_wait(h, C2, PROTO_T_CREATED, from) >= 0);
    h_settle(h);
    uint32_t seq_m2;
    uint64_t dig_m2 = ph_look(h, W, BID_M, &seq_m2);
    assert_int_equal(PH_STAT(h, battles_adopted), 2);
    h_stop(h);

    /* n2 restarts on its prefix: the adopted battles are its own now */
    h = ph_start(&c);
    assert_int_equal(PH_STAT(h, battles_recovered), 2);
    assert_true(ph_look(h, W, BID_M, &seq) == dig_m2);
    assert_int_equal(seq, seq_m2);
    assert_int_equal(h->decode_errors, 0);
    h_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_adopt_on_redis, redis_up, redis_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
