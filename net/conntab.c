/* conntab: slot/generation table; see conntab.h. */
#include "net/conntab.h"

#include <stdlib.h>
#include <string.h>

int conntab_init(conntab *t, uint32_t max)
{
    memset(t, 0, sizeof *t);
    t->max = max ? max : 1;
    uint32_t cap = CONNTAB_INITIAL_SLOTS < t->max ? CONNTAB_INITIAL_SLOTS : t->max;
    t->ptr = calloc(cap, sizeof *t->ptr);
    t->gen = calloc(cap, sizeof *t->gen);
    t->free = calloc(cap, sizeof *t->free);
    if (!t->ptr || !t->gen || !t->free) {
        conntab_destroy(t);
        return -1;
    }
    t->cap = cap;
    return 0;
}

void conntab_destroy(conntab *t)
{
    free(t->ptr);
    free(t->gen);
    free(t->free);
    memset(t, 0, sizeof *t);
}

static int grow(conntab *t)
{
    uint64_t ncap64 = (uint64_t)t->cap * 2;
    uint32_t ncap = ncap64 > t->max ? t->max : (uint32_t)ncap64;
    if (ncap <= t->cap)
        return -1;
    void **p = realloc(t->ptr, ncap * sizeof *p);
    if (!p)
        return -1;
    t->ptr = p;
    uint32_t *g = realloc(t->gen, ncap * sizeof *g);
    if (!g)
        return -1;
    t->gen = g;
    uint32_t *f = realloc(t->free, ncap * sizeof *f);
    if (!f)
        return -1;
    t->free = f;
    memset(t->ptr + t->cap, 0, (ncap - t->cap) * sizeof *p);
    memset(t->gen + t->cap, 0, (ncap - t->cap) * sizeof *g);
    t->cap = ncap;
    return 0;
}

conn_id conntab_add(conntab *t, void *p)
{
    if (t->live >= t->max)
        return 0;
    uint32_t slot;
    if (t->nfree) {
        slot = t->free[--t->nfree];
    } else {
        if (t->used == t->cap && grow(t) != 0)
            return 0;
        slot = t->used++;
    }
    if (t->gen[slot] == 0) /* a fresh slot; reused ones were bumped by conntab_remove */
        t->gen[slot] = 1;
    t->ptr[slot] = p;
    t->live++;
    return (conn_id)slot | (conn_id)t->gen[slot] << 32;
}

void *conntab_get(const conntab *t, conn_id id)
{
    uint32_t slot = (uint32_t)id;
    uint32_t gen = (uint32_t)(id >> 32);
    if (gen == 0 || slot >= t->used || t->gen[slot] != gen)
        return NULL;
    return t->ptr[slot];
}

void conntab_remove(conntab *t, conn_id id)
{
    uint32_t slot = (uint32_t)id;
    if (!conntab_get(t, id))
        return;
    t->ptr[slot] = NULL;
    /* Bump now, so the gone id fails lookups even before the slot is reused. */
    if (++t->gen[slot] == 0)
        t->gen[slot] = 1;
    t->free[t->nfree++] = slot;
    t->live--;
}
