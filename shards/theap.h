/* theap: a binary min-heap of deadlines, one entry per battle with a pending timer.
 *
 * A shard drives all of its battles' timers (turn, resume window, AI think, idle, keep) from one
 * uv_timer_t set to the heap's minimum, instead of one libuv timer per battle: O(log n) per change,
 * no handle per battle, and the expiry sweep touches only battles that are due.
 *
 * Entries are (deadline ms, battle index). The heap tells the owner where each index sits through
 * setpos(ctx, idx, pos) so theap_update/theap_remove run in O(log n); pos THEAP_NONE = not queued.
 * Single-threaded (owned by its shard). Storage grows by doubling, never shrinks. */
#ifndef BATTLED_SHARDS_THEAP_H
#define BATTLED_SHARDS_THEAP_H

#include <stdbool.h>
#include <stdint.h>

#define THEAP_NONE UINT32_MAX

struct theap_entry {
    uint64_t deadline;
    uint32_t idx;
};

struct theap {
    struct theap_entry *e;
    uint32_t n, cap;
    void (*setpos)(void *ctx, uint32_t idx, uint32_t pos);
    void *ctx;
};

/* Empty heap; nothing allocated until the first insert. */
void theap_init(struct theap *h, void (*setpos)(void *ctx, uint32_t idx, uint32_t pos), void *ctx);
void theap_free(struct theap *h);

/* Inserts idx (not queued now) with deadline. -1 when out of memory. */
int theap_insert(struct theap *h, uint32_t idx, uint64_t deadline);
/* Changes the deadline of the entry at pos (as reported by setpos). */
void theap_update(struct theap *h, uint32_t pos, uint64_t deadline);
/* Removes the entry at pos; setpos reports THEAP_NONE for it. */
void theap_remove(struct theap *h, uint32_t pos);

/* The earliest entry, or NULL when empty. */
static inline const struct theap_entry *theap_min(const struct theap *h)
{
    return h->n ? &h->e[0] : 0;
}

#endif
