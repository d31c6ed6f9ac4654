/* theap: binary min-heap of battle deadlines (see theap.h). */
#include "shards/theap.h"

#include <stdlib.h>

void theap_init(struct theap *h, void (*setpos)(void *ctx, uint32_t idx, uint32_t pos), void *ctx)
{
    h->e = NULL;
    h->n = h->cap = 0;
    h->setpos = setpos;
    h->ctx = ctx;
}

void theap_free(struct theap *h)
{
    free(h->e);
    h->e = NULL;
    h->n = h->cap = 0;
}

static void place(struct theap *h, uint32_t pos, struct theap_entry v)
{
    h->e[pos] = v;
    h->setpos(h->ctx, v.idx, pos);
}

static void sift_up(struct theap *h, uint32_t pos)
{
    struct theap_entry v = h->e[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (h->e[parent].deadline <= v.deadline)
            break;
        place(h, pos, h->e[parent]);
        pos = parent;
    }
    place(h, pos, v);
}

static void sift_down(struct theap *h, uint32_t pos)
{
    struct theap_entry v = h->e[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->e[child + 1].deadline < h->e[child].deadline)
            child++;
        if (v.deadline <= h->e[child].deadline)
            break;
        place(h, pos, h->e[child]);
        pos = child;
    }
    place(h, pos, v);
}

int theap_insert(struct theap *h, uint32_t idx, uint64_t deadline)
{
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        struct theap_entry *e = realloc(h->e, (size_t)cap * sizeof *e);
        if (!e)
            return -1;
        h->e = e;
        h->cap = cap;
    }
    h->e[h->n] = (struct theap_entry){.deadline = deadline, .idx = idx};
    h->n++;
    sift_up(h, h->n - 1);
    return 0;
}

void theap_update(struct theap *h, uint32_t pos, uint64_t deadline)
{
    uint64_t old = h->e[pos].deadline;
    h->e[pos].deadline = deadline;
    if (deadline < old)
        sift_up(h, pos);
    else
        sift_down(h, pos);
}

void theap_remove(struct theap *h, uint32_t pos)
{
    uint32_t idx = h->e[pos].idx;
    h->n--;
    if (pos != h->n) {
        struct theap_entry last = h->e[h->n];
        uint64_t old = h->e[pos].deadline;
        h->e[pos] = last;
        if (last.deadline < old)
            sift_up(h, pos);
        else
            sift_down(h, pos);
    }
    h->setpos(h->ctx, idx, THEAP_NONE);
}
