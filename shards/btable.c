/* btable: battle id -> pool index, open addressing with backward-shift deletion (see btable.h). */
#include "shards/btable.h"

#include <stdlib.h>

#include "util/mix.h"

static uint32_t hash(uint64_t x)
{
    return (uint32_t)mix64(x);
}

int btable_init(struct btable *t, uint32_t hint)
{
    uint32_t slots = 16;
    while (slots < hint + hint / 2 && slots < (1u << 30))
        slots *= 2;
    t->s = calloc(slots, sizeof *t->s);
    if (!t->s)
        return -1;
    t->mask = slots - 1;
    t->n = 0;
    return 0;
}

void btable_free(struct btable *t)
{
    free(t->s);
    t->s = NULL;
    t->n = 0;
}

uint32_t btable_get(const struct btable *t, uint64_t key)
{
    if (key == 0)
        return BTABLE_MISSING;
    for (uint32_t i = hash(key) & t->mask;; i = (i + 1) & t->mask) {
        if (t->s[i].key == key)
            return t->s[i].val;
        if (t->s[i].key == 0)
            return BTABLE_MISSING;
    }
}

static void raw_put(struct btable_slot *s, uint32_t mask, uint64_t key, uint32_t val)
{
    uint32_t i = hash(key) & mask;
    while (s[i].key != 0)
        i = (i + 1) & mask;
    s[i].key = key;
    s[i].val = val;
}

static int grow(struct btable *t)
{
    uint32_t slots = (t->mask + 1) * 2;
    if (slots == 0 || slots > (1u << 31))
        return -1;
    struct btable_slot *s = calloc(slots, sizeof *s);
    if (!s)
        return -1;
    for (uint32_t i = 0; i <= t->mask; i++)
        if (t->s[i].key)
            raw_put(s, slots - 1, t->s[i].key, t->s[i].val);
    free(t->s);
    t->s = s;
    t->mask = slots - 1;
    return 0;
}

int btable_put(struct btable *t, uint64_t key, uint32_t val)
{
    if ((uint64_t)(t->n + 1) * 10 > (uint64_t)(t->mask + 1) * 7 && grow(t) != 0)
        return -1;
    raw_put(t->s, t->mask, key, val);
    t->n++;
    return 0;
}

void btable_del(struct btable *t, uint64_t key)
{
    if (key == 0)
        return;
    uint32_t i = hash(key) & t->mask;
    while (t->s[i].key != key) {
        if (t->s[i].key == 0)
            return;
        i = (i + 1) & t->mask;
    }
    /* Backward shift: move each later entry of the probe run into the hole when its home slot
     * does not lie (cyclically) between the hole and its current slot. */
    uint32_t hole = i;
    for (uint32_t j = (hole + 1) & t->mask; t->s[j].key != 0; j = (j + 1) & t->mask) {
        uint32_t home = hash(t->s[j].key) & t->mask;
        if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
            t->s[hole] = t->s[j];
            hole = j;
        }
    }
    t->s[hole].key = 0;
    t->n--;
}
