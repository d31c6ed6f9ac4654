/* srand: getrandom-backed tokens and xoshiro256** seeds (see srand.h). */
#include "shards/srand.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static int fill(uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(buf + got, n - got, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

int srand_init(struct srand *r)
{
    if (fill((uint8_t *)r->s, sizeof r->s) != 0 || fill(r->pool, sizeof r->pool) != 0)
        return -1;
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1; /* xoshiro's one forbidden state */
    r->used = 0;
    return 0;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t srand_u64(struct srand *r)
{
    for (;;) {
        uint64_t *s = r->s;
        uint64_t out = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        if (out != 0)
            return out;
    }
}

int srand_token(struct srand *r, uint8_t *out, size_t n)
{
    while (n > 0) {
        if (r->used == sizeof r->pool) {
            if (fill(r->pool, sizeof r->pool) != 0)
                return -1;
            r->used = 0;
        }
        size_t k = sizeof r->pool - r->used;
        if (k > n)
            k = n;
        memcpy(out, r->pool + r->used, k);
        memset(r->pool + r->used, 0, k); /* a token's bytes live in one place only */
        r->used += k;
        out += k;
        n -= k;
    }
    return 0;
}
