/* libFuzzer target for what a cluster node reads back from Redis (cluster/nodeval.c, the node
 * registry's values; cluster/increc.c, an incarnation's record as HGETALL returns it). Redis is
 * shared by every node and by whoever can reach it, so what comes back is checked like network
 * input. The first byte picks the parser; the rest is a registry value, or Redis protocol bytes
 * (RESP) that hiredis's reader turns into replies, each handed to inc_rec_parse. Checks, beyond
 * "no crash, no out-of-bounds read": an accepted value has NUL-terminated tokens within bounds
 * and an incarnation in range; an accepted record has a holder and shard count in range, a split
 * record (holder 0) names its shards, and the pointers into the reply stay inside it. */
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/increc.h"
#include "cluster/nodeval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void check_token(const char *s, int may_be_empty)
{
    size_t n = strnlen(s, CLUSTER_NAME_MAX + 1);
    check(n <= CLUSTER_NAME_MAX);
    check(n > 0 || may_be_empty);
    if (n)
        check(nodeval_token_ok(s, n));
}

static void fuzz_value(const char *v, size_t len)
{
    node_entry e;
    memset(&e, 0x5a, sizeof e);
    if (!nodeval_parse(v, len, &e))
        return;
    check_token(e.name, 0);
    check_token(e.player, 0);
    check_token(e.admin, 0);
    check(strnlen(e.state, sizeof e.state) < sizeof e.state);
    check_token(e.ws, 1);
    check_token(e.tls, 1);
    check_token(e.wss, 1);
    check(e.inc >= 1 && e.inc <= CLUSTER_INC_MAX);
}

static int inside(const redisReply *r, const char *p, size_t n)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->str && p >= e->str && p + n <= e->str + e->len)
            return 1;
    }
    return 0;
}

static void fuzz_reply(const redisReply *r)
{
    inc_rec rec;
    uint16_t taken[CLUSTER_SHARDS_MAX];
    memset(taken, 0, sizeof taken);
    if (!inc_rec_parse(r, &rec, taken, CLUSTER_SHARDS_MAX))
        return;
    check(rec.holder <= CLUSTER_INC_MAX);
    check(rec.shards <= CLUSTER_SHARDS_MAX);
    check(rec.holder != 0 || rec.shards != 0);
    if (rec.node)
        check(inside(r, rec.node, rec.node_len));
    if (rec.prefix)
        check(inside(r, rec.prefix, rec.prefix_len));
}

/* hiredis 0.14 (Debian 12) allocates an array reply's element table as soon as it reads the
 * header, with no upper bound of its own: "*100000000" asks for 800 MB before any element
 * arrives. That is the library trusting its server (battled's Redis is to be reachable by the
 * nodes only: docs/CLUSTER.md, "Deployment"), not a parser of ours, so inputs announcing arrays
 * larger than any record (a few hundred fields) are skipped. */
#define FUZZ_ARRAY_MAX 4096

static int huge_array(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '*')
            continue;
        unsigned long v = 0;
        for (size_t j = i + 1; j < n && p[j] >= '0' && p[j] <= '9'; j++)
            if ((v = v * 10 + (unsigned long)(p[j] - '0')) > FUZZ_ARRAY_MAX)
                return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        fuzz_value((const char *)data + 1, size - 1);
        return 0;
    }
    if (huge_array(data + 1, size - 1))
        return 0;
    redisReader *rd = redisReaderCreate();
    if (!rd)
        return 0;
    if (redisReaderFeed(rd, (const char *)data + 1, size - 1) == REDIS_OK) {
        void *reply = NULL;
        /* Bounded: each reply consumes input, and the input is finite. */
        for (int i = 0; i < 64; i++) {
            reply = NULL;
            if (redisReaderGetReply(rd, &reply) != REDIS_OK || !reply)
                break;
            fuzz_reply(reply);
            freeReplyObject(reply);
        }
    }
    redisReaderFree(rd);
    return 0;
}
