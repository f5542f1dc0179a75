/* xoshiro256** (Blackman & Vigna) with SplitMix64 seeding, written from the published algorithm. */
#include "core/rng.h"

#include <math.h>

uint64_t dctr_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *state) { return dctr_mix64(*state += 0x9E3779B97F4A7C15ULL); }

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void dctr_rng_init(dctr_rng *rng, uint64_t seed, uint64_t stream) {
    /* Mix the stream id through its own SplitMix64 step so nearby ids land far apart. */
    uint64_t mix = stream;
    uint64_t state = seed ^ splitmix64(&mix);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&state);
}

void dctr_rng_split(dctr_rng *parent, uint64_t stream, dctr_rng *child) {
    dctr_rng_init(child, dctr_rng_next(parent), stream);
}

uint64_t dctr_rng_next(dctr_rng *rng) {
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t dctr_rng_below(dctr_rng *rng, uint64_t n) {
    /* Rejection sampling on the top of the range keeps every residue equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = dctr_rng_next(rng);
    } while (x >= limit);
    return x % n;
}

double dctr_rng_uniform(dctr_rng *rng) {
    return (double)(dctr_rng_next(rng) >> 11) * 0x1.0p-53;
}

double dctr_rng_normal(dctr_rng *rng) {
    double u1 = 1.0 - dctr_rng_uniform(rng); /* (0, 1]: log never sees 0 */
    double u2 = dctr_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double dctr_rng_truncated_normal(dctr_rng *rng, double stddev) {
    double z;
    do {
        z = dctr_rng_normal(rng);
    } while (z < -2.0 || z > 2.0);
    return z * stddev;
}

void dctr_rng_shuffle_u32(dctr_rng *rng, uint32_t *values, int64_t count) {
    for (int64_t i = count - 1; i > 0; i--) { /* the draws of dctr_rng_shuffle_i64 */
        int64_t j = (int64_t)dctr_rng_below(rng, (uint64_t)i + 1);
        uint32_t t = values[i];
        values[i] = values[j];
        values[j] = t;
    }
}

void dctr_rng_shuffle_i64(dctr_rng *rng, int64_t *values, int64_t count) {
    for (int64_t i = count - 1; i > 0; i--) {
        int64_t j = (int64_t)dctr_rng_below(rng, (uint64_t)i + 1);
        int64_t t = values[i];
        values[i] = values[j];
        values[j] = t;
    }
}
