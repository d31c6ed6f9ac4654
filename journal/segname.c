/* segname: see segname.h. */
#include "journal/segname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void segname_log(char *buf, unsigned shard, uint64_t gen)
{
    snprintf(buf, SEGNAME_MAX, "shard-%u-%llu.log", shard, (unsigned long long)gen);
}

void segname_snap(char *buf, unsigned shard, uint64_t base, uint64_t gen, bool tmp)
{
    snprintf(buf, SEGNAME_MAX, "shard-%u-%llu-%llu.snap%s", shard, (unsigned long long)base,
             (unsigned long long)gen, tmp ? ".tmp" : "");
}

/* Parses decimal digits at *p (1..20 of them, no overflow); advances *p. */
static bool parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
        n++;
    }
    if (n == 0)
        return false;
    *p = s;
    *out = v;
    return true;
}

bool segname_parse(const char *name, segname *e)
{
    const char *p = name;
    uint64_t k, a, b;
    if (strncmp(p, "shard-", 6) != 0)
        return false;
    p += 6;
    if (!parse_u64(&p, &k) || k > UINT32_MAX || *p++ != '-' || !parse_u64(&p, &a))
        return false;
    if (strcmp(p, ".log") == 0) {
        *e = (segname){.shard = (unsigned)k, .gen = a, .is_log = true, .name = name};
        return a > 0;
    }
    if (*p++ != '-' || !parse_u64(&p, &b) || strcmp(p, ".snap") != 0 || a > b || a == 0)
        return false;
    *e = (segname){.shard = (unsigned)k, .base = a, .gen = b, .is_log = false, .name = name};
    return true;
}

static int cmp_replay(const void *x, const void *y)
{
    const segname *a = x, *b = y;
    if (a->gen != b->gen)
        return a->gen < b->gen ? -1 : 1;
    if (a->is_log != b->is_log)
        return a->is_log ? 1 : -1;
    if (a->shard != b->shard)
        return a->shard < b->shard ? -1 : 1;
    return 0;
}

size_t segname_order(char *const *names, size_t n, segname *es, uint64_t *top)
{
    size_t m = 0;
    *top = 0;
    for (size_t i = 0; i < n; i++)
        if (segname_parse(names[i], &es[m])) {
            if (es[m].gen > *top)
                *top = es[m].gen;
            m++;
        }
    /* A snapshot supersedes its shard's segments whose generation lies in its [base, gen)
     * range: their live battles are in it. */
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            if (!es[j].is_log && es[j].shard == es[i].shard && es[j].base <= es[i].gen &&
                es[i].gen < es[j].gen)
                es[i].superseded = true;
    qsort(es, m, sizeof *es, cmp_replay);
    return m;
}
