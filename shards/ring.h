/* ring: bounded single-producer single-consumer rings of fixed-size structs stored by value.
 *
 * RING_DEFINE(name, type) generates a ring type `struct name` holding `struct type` values and these
 * static inline functions (exactly one producer thread and one consumer thread per ring):
 *
 *   int   name_init(struct name *r, unsigned slots)  slots: a power of two, 2..RING_MAX_SLOTS. Holds
 *                                                    slots - 1 values. 0, or -1 on a bad size or no
 *                                                    memory. The buffer is owned by the ring.
 *   void  name_destroy(struct name *r)               frees the buffer; no thread may use r any more.
 *   struct type *name_reserve(struct name *r)        producer: the next free slot to fill in place, or
 *                                                    NULL when full. Nothing is visible until commit.
 *   void  name_commit(struct name *r)                producer: publish the slot from the last reserve.
 *   struct type *name_reserve_at(struct name *r, unsigned k)
 *                                                    producer: the k-th slot past the published tail
 *                                                    (k slots filled but held back), or NULL when full.
 *   void  name_commit_n(struct name *r, unsigned k)  producer: publish k held slots at once (the shard
 *                                                    holds a pass's output until its journal is written).
 *   bool  name_push(struct name *r, const struct type *v)   producer: copy v in; false when full.
 *   bool  name_pop(struct name *r, struct type *out) consumer: copy the oldest value out; false when
 *                                                    empty.
 *   unsigned name_count(const struct name *r)        values queued (exact for either side's own view,
 *                                                    a snapshot for anyone else).
 *   unsigned name_capacity(const struct name *r)     slots - 1.
 *
 * Ordering: a value pushed (or committed) happens-before the pop that returns it. The ring does not
 * wake anyone: after committing, the producer issues ring_fence() and then signals the consumer
 * (uv_async_send), so a consumer that re-checks after waking cannot miss the value.
 *
 * Two implementations with the same semantics: concurrencykit's ck_ring (CK_RING_PROTOTYPE stores
 * structs by value in the slots) in normal builds, and C11 atomics under ThreadSanitizer
 * (BATTLED_TSAN), because ck 0.7.1's barriers are inline assembly that TSan cannot see, so it reports
 * false races. Both keep one slot empty to tell full from empty, hence capacity = slots - 1. */
#ifndef BATTLED_SHARDS_RING_H
#define BATTLED_SHARDS_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Largest ring: 2^24 slots. Bigger rings only hide an overload the policies should handle. */
#define RING_MAX_SLOTS (1u << 24)

/* Full barrier between publishing to a ring and waking its consumer (see the lost-wakeup note in
 * shard.h). uv_async_send does its own atomic exchange, but its pending-flag check may run before our
 * store is visible on weakly ordered machines; the fence makes the order explicit everywhere. */
#ifndef BATTLED_TSAN
static inline void ring_fence(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}
#else
/* GCC's TSan rejects atomic_thread_fence. A seq_cst read-modify-write is a full barrier on the
 * machines we build for (a locked instruction on x86-64, dmb-bracketed on arm64); TSan itself takes
 * its happens-before edges from the ring's release/acquire pair, not from this fence. */
static _Atomic unsigned ring_fence_word;
static inline void ring_fence(void)
{
    atomic_fetch_add_explicit(&ring_fence_word, 0, memory_order_seq_cst);
}
#endif

/* The generated functions are static inline in the file that expands RING_DEFINE; clang warns about
 * unused ones there, and a ring user needs only some of them. */
#define RING_FN static inline __attribute__((unused))

static inline bool ring_slots_ok(unsigned slots)
{
    return slots >= 2 && slots <= RING_MAX_SLOTS && (slots & (slots - 1)) == 0;
}

#ifndef BATTLED_TSAN

#include <ck_ring.h>

#define RING_DEFINE(name, type)                                                                    \
    CK_RING_PROTOTYPE(name, type)                                                                  \
    struct name {                                                                                  \
        ck_ring_t ck;                                                                              \
        struct type *buf;                                                                          \
    };                                                                                             \
    RING_FN int name##_init(struct name *r, unsigned slots)                                        \
    {                                                                                              \
        r->buf = NULL;                                                                             \
        if (!ring_slots_ok(slots))                                                                 \
            return -1;                                                                             \
        r->buf = (struct type *)calloc(slots, sizeof(struct type));                                \
        if (!r->buf)                                                                               \
            return -1;                                                                             \
        ck_ring_init(&r->ck, slots);                                                               \
        return 0;                                                                                  \
    }                                                                                              \
    RING_FN void name##_destroy(struct name *r)                                                    \
    {                                                                                              \
        free(r->buf);                                                                              \
        r->buf = NULL;                                                                             \
    }                                                                                              \
    RING_FN struct type *name##_reserve(struct name *r)                                            \
    {                                                                                              \
        return ck_ring_enqueue_reserve_spsc_##name(&r->ck, r->buf);                                \
    }                                                                                              \
    RING_FN void name##_commit(struct name *r)                                                     \
    {                                                                                              \
        ck_ring_enqueue_commit_spsc(&r->ck);                                                       \
    }                                                                                              \
    RING_FN struct type *name##_reserve_at(struct name *r, unsigned k)                             \
    {                                                                                              \
        unsigned c = ck_pr_load_uint(&r->ck.c_head);                                               \
        unsigned t = r->ck.p_tail + k;                                                             \
        if (((t + 1) & r->ck.mask) == (c & r->ck.mask))                                            \
            return NULL;                                                                           \
        return &r->buf[t & r->ck.mask];                                                            \
    }                                                                                              \
    RING_FN void name##_commit_n(struct name *r, unsigned k)                                       \
    {                                                                                              \
        ck_pr_fence_store();                                                                       \
        ck_pr_store_uint(&r->ck.p_tail, r->ck.p_tail + k);                                         \
    }                                                                                              \
    RING_FN bool name##_push(struct name *r, const struct type *v)                                 \
    {                                                                                              \
        return ck_ring_enqueue_spsc_##name(&r->ck, r->buf, (struct type *)v);                      \
    }                                                                                              \
    RING_FN bool name##_pop(struct name *r, struct type *out)                                      \
    {                                                                                              \
        return ck_ring_dequeue_spsc_##name(&r->ck, r->buf, out);                                   \
    }                                                                                              \
    RING_FN unsigned name##_count(const struct name *r)                                            \
    {                                                                                              \
        return ck_ring_size(&r->ck);                                                               \
    }                                                                                              \
    RING_FN unsigned name##_capacity(const struct name *r)                                         \
    {                                                                                              \
        return ck_ring_capacity(&r->ck) - 1;                                                       \
    }

#else /* BATTLED_TSAN: C11 atomics, acquire/release on the two indices. */

/* Each side keeps its own index on its own cache line and a cached copy of the other side's index,
 * refreshed only when the cached value says full (producer) or empty (consumer). */
#define RING_DEFINE(name, type)                                                                    \
    struct name {                                                                                  \
        _Alignas(64) _Atomic unsigned head; /* consumer's next slot */                             \
        unsigned tail_cache;                /* consumer's copy of tail */                          \
        _Alignas(64) _Atomic unsigned tail; /* producer's next slot */                             \
        unsigned head_cache;                /* producer's copy of head */                          \
        _Alignas(64) unsigned mask;                                                                \
        struct type *buf;                                                                          \
    };                                                                                             \
    RING_FN int name##_init(struct name *r, unsigned slots)                                        \
    {                                                                                              \
        r->buf = NULL;                                                                             \
        if (!ring_slots_ok(slots))                                                                 \
            return -1;                                                                             \
        r->buf = (struct type *)calloc(slots, sizeof(struct type));                                \
        if (!r->buf)                                                                               \
            return -1;                                                                             \
        atomic_init(&r->head, 0);                                                                  \
        atomic_init(&r->tail, 0);                                                                  \
        r->tail_cache = 0;                                                                         \
        r->head_cache = 0;                                                                         \
        r->mask = slots - 1;                                                                       \
        return 0;                                                                                  \
    }                                                                                              \
    RING_FN void name##_destroy(struct name *r)                                                    \
    {                                                                                              \
        free(r->buf);                                                                              \
        r->buf = NULL;                                                                             \
    }                                                                                              \
    RING_FN struct type *name##_reserve(struct name *r)                                            \
    {                                                                                              \
        unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);                         \
        if (((t + 1) & r->mask) == (r->head_cache & r->mask)) {                                    \
            r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);                  \
            if (((t + 1) & r->mask) == (r->head_cache & r->mask))                                  \
                return NULL;                                                                       \
        }                                                                                          \
        return &r->buf[t & r->mask];                                                               \
    }                                                                                              \
    RING_FN void name##_commit(struct name *r)                                                     \
    {                                                                                              \
        unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);                         \
        atomic_store_explicit(&r->tail, t + 1, memory_order_release);                              \
    }                                                                                              \
    RING_FN struct type *name##_reserve_at(struct name *r, unsigned k)                             \
    {                                                                                              \
        unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed) + k;                     \
        if (((t + 1) & r->mask) == (r->head_cache & r->mask)) {                                    \
            r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);                  \
            if (((t + 1) & r->mask) == (r->head_cache & r->mask))                                  \
                return NULL;                                                                       \
        }                                                                                          \
        return &r->buf[t & r->mask];                                                               \
    }                                                                                              \
    RING_FN void name##_commit_n(struct name *r, unsigned k)                                       \
    {                                                                                              \
        unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);                         \
        atomic_store_explicit(&r->tail, t + k, memory_order_release);                              \
    }                                                                                              \
    RING_FN bool name##_push(struct name *r, const struct type *v)                                 \
    {                                                                                              \
        struct type *slot = name##_reserve(r);                                                     \
        if (!slot)                                                                                 \
            return false;                                                                          \
        memcpy(slot, v, sizeof *slot);                                                             \
        name##_commit(r);                                                                          \
        return true;                                                                               \
    }                                                                                              \
    RING_FN bool name##_pop(struct name *r, struct type *out)                                      \
    {                                                                                              \
        unsigned h = atomic_load_explicit(&r->head, memory_order_relaxed);                         \
        if (h == r->tail_cache) {                                                                  \
            r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);                  \
            if (h == r->tail_cache)                                                                \
                return false;                                                                      \
        }                                                                                          \
        memcpy(out, &r->buf[h & r->mask], sizeof *out);                                            \
        atomic_store_explicit(&r->head, h + 1, memory_order_release);                              \
        return true;                                                                               \
    }                                                                                              \
    RING_FN unsigned name##_count(const struct name *r)                                            \
    {                                                                                              \
        unsigned h = atomic_load_explicit(&((struct name *)r)->head, memory_order_acquire);        \
        unsigned t = atomic_load_explicit(&((struct name *)r)->tail, memory_order_acquire);        \
        return (t - h) & r->mask;                                                                  \
    }                                                                                              \
    RING_FN unsigned name##_capacity(const struct name *r)                                         \
    {                                                                                              \
        return r->mask;                                                                            \
    }

#endif /* BATTLED_TSAN */

#endif
