/* outq: a connection's queue of unsent output, in fixed-size chunks from a pool owned by the network
 * thread.
 *
 * Frames from the shards arrive inline in ring slots that are reused at once, so their bytes are copied
 * here; copying a few hundred bytes beats a malloc and lets several frames leave in one writev. Chunks
 * come from an outq_pool free list and go back to it when written, so the steady state allocates
 * nothing; the pool keeps at most `keep_max` spare chunks and frees the rest, so a burst does not pin
 * memory forever. Bytes already handed to a write stay put while more are appended behind them.
 * Single-threaded (network thread). */
/* Layer: net/ internal: the network thread's files (through net_int.h) and their unit tests. */
#ifndef BATTLED_NET_OUTQ_H
#define BATTLED_NET_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define OUTQ_CHUNK_BYTES 4096u /* one pool allocation, header included */

typedef struct outq_chunk {
    struct outq_chunk *next;
    uint32_t start; /* first unsent byte */
    uint32_t end;   /* one past the last byte appended */
    char data[OUTQ_CHUNK_BYTES - sizeof(void *) - 2 * sizeof(uint32_t)];
} outq_chunk;

typedef struct {
    outq_chunk *spare;
    size_t nspare;
    size_t keep_max;   /* spare chunks kept; beyond it chunks are freed */
    size_t allocated;  /* chunks currently allocated (in queues or spare), for the memory gauge */
} outq_pool;

typedef struct {
    outq_chunk *head, *tail;
    size_t bytes; /* unsent bytes queued */
} outq;

void outq_pool_init(outq_pool *p, size_t keep_max);
/* Frees the spare chunks; queues must have been cleared first. */
void outq_pool_destroy(outq_pool *p);

static inline void outq_init(outq *q)
{
    q->head = q->tail = NULL;
    q->bytes = 0;
}

/* Appends len bytes. 0, or -1 when out of memory (the queue is unchanged then). */
int outq_append(outq *q, outq_pool *p, const void *data, size_t len);

/* Fills up to max buffers describing the unsent bytes in order; returns how many. */
unsigned outq_bufs(const outq *q, uv_buf_t *bufs, unsigned max);

/* Marks the first n unsent bytes as sent (n <= q->bytes) and returns emptied chunks to the pool. */
void outq_consume(outq *q, outq_pool *p, size_t n);

/* Drops everything queued. */
void outq_clear(outq *q, outq_pool *p);

#endif
