/* A seedable, splittable pseudo-random generator (xoshiro256** seeded through SplitMix64).
 * Identical seeds give identical streams on every platform; dctr_rng_init(seed, stream)
 * gives statistically independent streams for different stream ids (one per model part,
 * per thread, ...), so adding a consumer never shifts another consumer's numbers. */
#ifndef DCTR_CORE_RNG_H
#define DCTR_CORE_RNG_H

#include <stdint.h>

typedef struct dctr_rng {
    uint64_t s[4];
} dctr_rng;

void dctr_rng_init(dctr_rng *rng, uint64_t seed, uint64_t stream);
/* A child stream derived from the parent's next output and `stream`; advances the parent. */
void dctr_rng_split(dctr_rng *parent, uint64_t stream, dctr_rng *child);
uint64_t dctr_rng_next(dctr_rng *rng);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t dctr_rng_below(dctr_rng *rng, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double dctr_rng_uniform(dctr_rng *rng);
/* Standard normal (Box-Muller, no cached state). */
double dctr_rng_normal(dctr_rng *rng);
/* Normal(0, stddev) redrawn outside two standard deviations (TF's truncated_normal). */
double dctr_rng_truncated_normal(dctr_rng *rng, double stddev);
/* SplitMix64's finalizer: a bijective 64-bit mix (hashing keys into well-spread bits). */
uint64_t dctr_mix64(uint64_t x);

/* Fisher-Yates shuffle of an int64 array. */
void dctr_rng_shuffle_i64(dctr_rng *rng, int64_t *values, int64_t count);
/* The same permutation of a uint32 array (half the memory for row orders). */
void dctr_rng_shuffle_u32(dctr_rng *rng, uint32_t *values, int64_t count);

#endif
