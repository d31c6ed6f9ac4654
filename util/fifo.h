/* fifo: a growable first-in first-out queue of fixed-size elements, stored as a circular array that
 * doubles when full.
 *
 * For queues that must not lose what they hold but grow only under overload (the network thread's
 * control queue, a shard's outbox backlog): the steady state allocates nothing once the array is as
 * large as the worst burst so far. The bound is the caller's: check fifo_count before pushing.
 *
 * Elements are copied in and out as plain bytes; the queue never looks inside them. Not thread-safe:
 * one owner thread. A zeroed struct is not ready: call fifo_init. */
/* Layer: util/ API. */
#ifndef BATTLED_UTIL_FIFO_H
#define BATTLED_UTIL_FIFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fifo {
    unsigned char *buf;  /* cap elements of esize bytes, circular */
    size_t esize;
    uint32_t head, count, cap;
    uint32_t first_cap;  /* capacity of the first allocation */
} fifo;

/* Prepares an empty queue of esize-byte elements; the first push allocates first_cap of them.
 * Allocates nothing. */
void fifo_init(fifo *f, size_t esize, uint32_t first_cap);

/* Frees the array (not anything the elements point to) and leaves the queue empty and usable. */
void fifo_free(fifo *f);

static inline uint32_t fifo_count(const fifo *f)
{
    return f->count;
}

/* Element i from the head (0 is the oldest), i < fifo_count. Valid until the next push or free. */
static inline void *fifo_at(const fifo *f, uint32_t i)
{
    return f->buf + (size_t)((f->head + i) % f->cap) * f->esize;
}

/* The slot one past the tail, for the caller to fill in place, growing the array when full; it
 * becomes an element only with fifo_commit (so a slot filled half-way can be abandoned). NULL when
 * out of memory (the queue is unchanged). */
void *fifo_reserve(fifo *f);

/* Makes the slot fifo_reserve returned the newest element. */
static inline void fifo_commit(fifo *f)
{
    f->count++;
}

/* Copies the element at e to the tail. false when out of memory (nothing queued). */
bool fifo_push(fifo *f, const void *e);

/* Drops the oldest element; the queue must not be empty. */
static inline void fifo_pop(fifo *f)
{
    f->head = (f->head + 1) % f->cap;
    f->count--;
}

#endif
