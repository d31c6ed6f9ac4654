/* mix: the splitmix64 finaliser, the one integer mixer battled uses everywhere an id or counter must be
 * spread evenly (shard placement, hash tables, battle ids, dice seeding). One copy, because shard_of()
 * must map an id to the same shard in every thread, tool and restart: a second, slightly different
 * mixer would silently move battles. */
/* Layer: util/ API. */
#ifndef BATTLED_UTIL_MIX_H
#define BATTLED_UTIL_MIX_H

#include <stdint.h>

/* Returns a well-mixed 64-bit value of x (a bijection: distinct inputs give distinct outputs). */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* The splitmix64 generator's step: advances *state by the golden-ratio increment and returns the
 * mixed value. */
static inline uint64_t mix64_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return mix64(*state);
}

#endif
