/* srand: a shard's random numbers: battle seeds and resume tokens.
 *
 * Tokens are secrets (whoever has one can take a seat), so they come straight from the kernel's
 * CSPRNG (getrandom), read in blocks of SRAND_POOL bytes to keep syscalls off the per-battle path.
 * Seeds only need to be unpredictable enough that a client cannot steer its dice: a xoshiro256**
 * generator seeded from getrandom at start. Single-threaded (one per shard). */
#ifndef BATTLED_SHARDS_SRAND_H
#define BATTLED_SHARDS_SRAND_H

#include <stddef.h>
#include <stdint.h>

#define SRAND_POOL 4096 /* bytes of kernel randomness fetched at once for tokens */

struct srand {
    uint64_t s[4];
    uint8_t pool[SRAND_POOL];
    size_t used;
};

/* Seeds from getrandom. 0, or -1 when the kernel would not give randomness. */
int srand_init(struct srand *r);

/* Next 64-bit seed (never 0). */
uint64_t srand_u64(struct srand *r);

/* Fills out with n bytes of kernel randomness. 0, or -1 on failure (out is then unusable). */
int srand_token(struct srand *r, uint8_t *out, size_t n);

#endif
