/* outq: pooled chunk queue; see outq.h. */
#include "net/outq.h"

#include <stdlib.h>
#include <string.h>

void outq_pool_init(outq_pool *p, size_t keep_max)
{
    p->spare = NULL;
    p->nspare = 0;
    p->keep_max = keep_max;
    p->allocated = 0;
}

void outq_pool_destroy(outq_pool *p)
{
    while (p->spare) {
        outq_chunk *c = p->spare;
        p->spare = c->next;
        free(c);
        p->allocated--;
    }
    p->nspare = 0;
}

static outq_chunk *chunk_get(outq_pool *p)
{
    outq_chunk *c = p->spare;
    if (c) {
        p->spare = c->next;
        p->nspare--;
    } else {
        c = malloc(sizeof *c);
        if (!c)
            return NULL;
        p->allocated++;
    }
    c->next = NULL;
    c->start = c->end = 0;
    return c;
}

static void chunk_put(outq_pool *p, outq_chunk *c)
{
    if (p->nspare >= p->keep_max) {
        free(c);
        p->allocated--;
        return;
    }
    c->next = p->spare;
    p->spare = c;
    p->nspare++;
}

int outq_append(outq *q, outq_pool *p, const void *data, size_t len)
{
    const char *src = data;
    /* Take every chunk needed first, so a failure leaves the queue as it was. */
    size_t room = q->tail ? sizeof q->tail->data - q->tail->end : 0;
    outq_chunk *first_new = NULL, *last_new = NULL;
    size_t need = len > room ? len - room : 0;
    while (need) {
        outq_chunk *c = chunk_get(p);
        if (!c) {
            while (first_new) {
                outq_chunk *n = first_new->next;
                chunk_put(p, first_new);
                first_new = n;
            }
            return -1;
        }
        if (last_new)
            last_new->next = c;
        else
            first_new = c;
        last_new = c;
        need = need > sizeof c->data ? need - sizeof c->data : 0;
    }
    if (room) {
        size_t n = len < room ? len : room;
        memcpy(q->tail->data + q->tail->end, src, n);
        q->tail->end += (uint32_t)n;
        src += n;
        len -= n;
        q->bytes += n;
    }
    for (outq_chunk *c = first_new; c; c = c->next) {
        size_t n = len < sizeof c->data ? len : sizeof c->data;
        memcpy(c->data, src, n);
        c->end = (uint32_t)n;
        src += n;
        len -= n;
        q->bytes += n;
    }
    if (first_new) {
        if (q->tail)
            q->tail->next = first_new;
        else
            q->head = first_new;
        q->tail = last_new;
    }
    return 0;
}

unsigned outq_bufs(const outq *q, uv_buf_t *bufs, unsigned max)
{
    unsigned n = 0;
    for (outq_chunk *c = q->head; c && n < max; c = c->next) {
        if (c->end == c->start)
            continue;
        bufs[n++] = uv_buf_init(c->data + c->start, c->end - c->start);
    }
    return n;
}

void outq_consume(outq *q, outq_pool *p, size_t n)
{
    q->bytes -= n;
    while (q->head) {
        outq_chunk *c = q->head;
        size_t have = c->end - c->start;
        size_t take = n < have ? n : have;
        c->start += (uint32_t)take;
        n -= take;
        if (c->start < c->end)
            break;
        /* Emptied chunks go back at once, even a tail with room: an idle connection holds none. */
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        chunk_put(p, c);
    }
}

void outq_clear(outq *q, outq_pool *p)
{
    while (q->head) {
        outq_chunk *c = q->head;
        q->head = c->next;
        chunk_put(p, c);
    }
    q->tail = NULL;
    q->bytes = 0;
}
