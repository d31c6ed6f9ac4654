/* dice: PCG32 (O'Neill's XSH-RR output on a 64-bit LCG), written from the
 * published algorithm description. */
#include "core/dice.h"

#define PCG_MULT 6364136223846793005ULL

uint32_t dice_next(dice_rng *rng)
{
    uint64_t old = rng->state;
    rng->state = old * PCG_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void dice_seed(dice_rng *rng, uint64_t seed, uint64_t stream)
{
    rng->state = 0;
    rng->inc = (stream << 1) | 1u;
    (void)dice_next(rng);
    rng->state += seed;
    (void)dice_next(rng);
}

unsigned dice_d6(dice_rng *rng)
{
    /* 2^32 mod 6 == 4: reject the top 4 values so every face is equally likely. */
    uint32_t x;
    do {
        x = dice_next(rng);
    } while (x >= 4294967292u);
    return x % 6u + 1u;
}
