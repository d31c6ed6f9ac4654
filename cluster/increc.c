/* increc: see increc.h. */
#include "cluster/increc.h"

#include <string.h>

#include "cluster/node.h"

bool inc_rec_dec(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is(const redisReply *f, const char *name)
{
    size_t n = strlen(name);
    return f->len == n && memcmp(f->str, name, n) == 0;
}

bool inc_rec_parse(const redisReply *v, inc_rec *rec, uint16_t *taken, size_t cap)
{
    memset(rec, 0, sizeof *rec);
    if (v->type != REDIS_REPLY_ARRAY || v->elements == 0 || v->elements % 2)
        return false;
    bool has_holder = false;
    for (size_t i = 0; i < v->elements; i += 2) {
        const redisReply *f = v->element[i], *val = v->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
            return false;
        uint64_t d;
        if (is(f, "holder")) {
            if (!inc_rec_dec(val->str, val->len, &d) || d > CLUSTER_INC_MAX)
                return false;
            rec->holder = d;
            has_holder = true;
        } else if (is(f, "shards")) {
            if (!inc_rec_dec(val->str, val->len, &d) || d == 0 || d > CLUSTER_SHARDS_MAX)
                return false;
            rec->shards = (unsigned)d;
        } else if (is(f, "released")) {
            rec->released = true;
        } else if (is(f, "node")) {
            rec->node = val->str;
            rec->node_len = val->len;
        } else if (is(f, "prefix")) {
            rec->prefix = val->str;
            rec->prefix_len = val->len;
        } else if (f->len >= 2 && f->str[0] == 'h' && inc_rec_dec(f->str + 1, f->len - 1, &d)) {
            uint64_t y;
            if (d >= cap || !inc_rec_dec(val->str, val->len, &y) || y == 0 || y > CLUSTER_INC_MAX)
                return false;
            taken[d] = (uint16_t)y;
        }
    }
    return has_holder && (rec->holder != 0 || rec->shards != 0);
}
