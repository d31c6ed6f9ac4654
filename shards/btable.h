/* btable: open-addressing hash table from battle id (nonzero uint64) to a pool index (uint32).
 *
 * Linear probing over a power-of-two array, keys mixed with the splitmix64 finaliser (ids are random,
 * but a client may choose the ids it asks about). Deletion shifts later entries back instead of
 * leaving tombstones, so lookups never degrade with churn. Grows by doubling at 70% load; never
 * shrinks. Single-threaded (owned by its shard). */
#ifndef BATTLED_SHARDS_BTABLE_H
#define BATTLED_SHARDS_BTABLE_H

#include <stdint.h>

#define BTABLE_MISSING UINT32_MAX

struct btable_slot {
    uint64_t key; /* 0 = empty */
    uint32_t val;
};

struct btable {
    struct btable_slot *s;
    uint32_t mask; /* slots - 1 */
    uint32_t n;
};

/* An empty table with room for about `hint` keys before it grows. 0, or -1 when out of memory. */
int btable_init(struct btable *t, uint32_t hint);
void btable_free(struct btable *t);

/* The value for key, or BTABLE_MISSING. key 0 is never present. */
uint32_t btable_get(const struct btable *t, uint64_t key);
/* Inserts key (nonzero, not present). 0, or -1 when out of memory (the table is unchanged). */
int btable_put(struct btable *t, uint64_t key, uint32_t val);
/* Removes key if present. */
void btable_del(struct btable *t, uint64_t key);

#endif
