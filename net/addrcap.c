/* addrcap: per-source-address connection and handshake counts (see addrcap.h). Linear probing
 * with backward-shift deletion, so there are no tombstones and a lookup stops at the first free
 * slot; the table stays at most half full. */
#include "net/addrcap.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/mix.h"

#define ADDRCAP_MIN_SLOTS 256u

addrcap_key addrcap_key_of(const struct sockaddr *sa)
{
    addrcap_key k;
    memset(&k, 0, sizeof k);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        k.b[10] = k.b[11] = 0xff;
        memcpy(&k.b[12], &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(k.b, &in6->sin6_addr, 16);
    }
    return k;
}

static uint32_t hash_of(const addrcap_key *k)
{
    uint64_t a, b;
    memcpy(&a, k->b, 8);
    memcpy(&b, k->b + 8, 8);
    return (uint32_t)mix64(a ^ mix64(b));
}

/* The slot holding k, or the free slot where it would go. */
static addrcap_slot *find(const addrcap *t, const addrcap_key *k)
{
    uint32_t i = hash_of(k) & t->mask;
    for (;;) {
        addrcap_slot *s = &t->slots[i];
        if (!s->conns || memcmp(&s->key, k, sizeof *k) == 0)
            return s;
        i = (i + 1) & t->mask;
    }
}

static int grow(addrcap *t)
{
    uint32_t n = t->mask ? (t->mask + 1) * 2 : ADDRCAP_MIN_SLOTS;
    addrcap_slot *ns = calloc(n, sizeof *ns);
    if (!ns)
        return -1;
    addrcap old = *t;
    t->slots = ns;
    t->mask = n - 1;
    for (uint32_t i = 0; old.mask && i <= old.mask; i++)
        if (old.slots[i].conns)
            *find(t, &old.slots[i].key) = old.slots[i];
    free(old.slots);
    return 0;
}

addrcap_result addrcap_acquire(addrcap *t, const addrcap_key *k, uint32_t max_conns,
                               uint32_t max_handshakes)
{
    if (!t->mask || (t->used + 1) * 2 > t->mask + 1) {
        if (grow(t) != 0)
            return ADDRCAP_NOMEM;
    }
    addrcap_slot *s = find(t, k);
    if (s->conns) {
        if (max_conns && s->conns >= max_conns)
            return ADDRCAP_CONNS;
        if (max_handshakes && s->handshakes >= max_handshakes)
            return ADDRCAP_HANDSHAKES;
        s->conns++;
        s->handshakes++;
        return ADDRCAP_OK;
    }
    /* max_conns and max_handshakes are at least 1 when set, so a first connection always fits. */
    s->key = *k;
    s->conns = 1;
    s->handshakes = 1;
    t->used++;
    return ADDRCAP_OK;
}

void addrcap_handshake_done(addrcap *t, const addrcap_key *k)
{
    if (!t->mask)
        return;
    addrcap_slot *s = find(t, k);
    if (s->conns && s->handshakes)
        s->handshakes--;
}

void addrcap_release(addrcap *t, const addrcap_key *k, bool in_handshake)
{
    if (!t->mask)
        return;
    addrcap_slot *s = find(t, k);
    if (!s->conns)
        return;
    if (in_handshake && s->handshakes)
        s->handshakes--;
    if (--s->conns)
        return;
    /* Backward-shift deletion: pull later entries of the probe run into the hole. */
    t->used--;
    uint32_t hole = (uint32_t)(s - t->slots);
    uint32_t i = hole;
    for (;;) {
        i = (i + 1) & t->mask;
        addrcap_slot *e = &t->slots[i];
        if (!e->conns)
            break;
        uint32_t home = hash_of(&e->key) & t->mask;
        /* e may move to the hole if its home is not in (hole, i] cyclically. */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays)
            continue;
        t->slots[hole] = *e;
        hole = i;
    }
    memset(&t->slots[hole], 0, sizeof t->slots[hole]);
}

uint32_t addrcap_addresses(const addrcap *t)
{
    return t->used;
}

void addrcap_destroy(addrcap *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}
