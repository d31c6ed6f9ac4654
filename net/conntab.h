/* conntab: the network thread's table of connections, addressed by conn_id = slot | generation << 32.
 *
 * Shards hold conn_ids, never pointers; a lookup with an id whose generation has gone (the client
 * disconnected and the slot may already hold someone else) returns NULL, so late output is dropped
 * instead of reaching a stranger. The slot arrays start small and double up to `max` entries (the
 * server.max_connections setting), so an idle server does not reserve memory for a million sockets.
 * Freed slots are reused last-in first-out; each reuse bumps the generation (never 0, so conn_id 0
 * stays "none"). Single-threaded: only the network thread touches it. */
/* Layer: net/ internal: the network thread's files (through net_int.h) and their unit tests. */
#ifndef BATTLED_NET_CONNTAB_H
#define BATTLED_NET_CONNTAB_H

#include <stdint.h>

#include "shards/shard.h"

#define CONNTAB_INITIAL_SLOTS 1024u

typedef struct {
    void **ptr;      /* slot -> owner's object, NULL when free */
    uint32_t *gen;   /* slot -> current generation */
    uint32_t *free;  /* stack of free slots below `used` */
    uint32_t nfree;
    uint32_t used;   /* slots ever handed out (high-water mark) */
    uint32_t cap;    /* allocated slots */
    uint32_t max;    /* ceiling on live entries */
    uint32_t live;
} conntab;

/* Sets up an empty table that holds at most max entries (max >= 1). 0, or -1 when out of memory. */
int conntab_init(conntab *t, uint32_t max);
/* Frees the arrays (not the objects stored). */
void conntab_destroy(conntab *t);

/* Stores p (non-NULL) in a free slot and returns its id, or 0 when the table holds max entries or
 * memory ran out. */
conn_id conntab_add(conntab *t, void *p);
/* The object stored under id, or NULL when id is 0, out of range, or of a generation that has gone. */
void *conntab_get(const conntab *t, conn_id id);
/* Frees id's slot (no-op if already gone); later lookups of id return NULL. */
void conntab_remove(conntab *t, conn_id id);

static inline uint32_t conntab_slot(conn_id id)
{
    return (uint32_t)id;
}

#endif
