/* dice: the per-battle random generator (PCG32, XSH-RR variant) and the dice
 * source abstraction that lets tests force the dice.
 *
 * Why PCG32: 16 bytes of state that live inside the battle struct, fast, a
 * period of 2^64 per stream, and fully specified, so the same seed gives the
 * same battle on every platform and compiler. Pure: no globals, no clock. */
#ifndef BATTLED_CORE_DICE_H
#define BATTLED_CORE_DICE_H

#include <stdint.h>

typedef struct {
    uint64_t state;
    uint64_t inc; /* always odd */
} dice_rng;

/* Seeds rng from (seed, stream). Different streams with the same seed are
 * independent sequences. */
void dice_seed(dice_rng *rng, uint64_t seed, uint64_t stream);

/* Next uniformly distributed 32-bit value. */
uint32_t dice_next(dice_rng *rng);

/* One fair six-sided die, 1..6 (rejection sampling, no modulo bias). */
unsigned dice_d6(dice_rng *rng);

/* A source of d6 rolls. The engine rolls every die through one of these:
 * by default the battle's own dice_rng; tests pass a scripted source to
 * force exact rolls. d6 must return 1..6 (values outside are clamped). */
typedef struct dice_source {
    unsigned (*d6)(void *ctx);
    void *ctx;
} dice_source;

#endif
