/* fifo: the growable circular queue (see fifo.h). */
#include "util/fifo.h"

#include <stdlib.h>
#include <string.h>

void fifo_init(fifo *f, size_t esize, uint32_t first_cap)
{
    memset(f, 0, sizeof *f);
    f->esize = esize;
    f->first_cap = first_cap ? first_cap : 1;
}

void fifo_free(fifo *f)
{
    free(f->buf);
    f->buf = NULL;
    f->head = f->count = f->cap = 0;
}

/* Doubles the array, copying the elements in order so the head is at 0 again. */
static bool grow(fifo *f)
{
    uint32_t ncap = f->cap ? f->cap * 2 : f->first_cap;
    unsigned char *n = malloc((size_t)ncap * f->esize);
    if (!n)
        return false;
    for (uint32_t i = 0; i < f->count; i++)
        memcpy(n + (size_t)i * f->esize, fifo_at(f, i), f->esize);
    free(f->buf);
    f->buf = n;
    f->head = 0;
    f->cap = ncap;
    return true;
}

void *fifo_reserve(fifo *f)
{
    if (f->count == f->cap && !grow(f))
        return NULL;
    return fifo_at(f, f->count);
}

bool fifo_push(fifo *f, const void *e)
{
    void *slot = fifo_reserve(f);
    if (!slot)
        return false;
    memcpy(slot, e, f->esize);
    fifo_commit(f);
    return true;
}
