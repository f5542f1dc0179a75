/* Keras-default initializers over src/core/rng.h. */
#include "layers/init.h"

#include <math.h>

void dctr_init_glorot_normal(dctr_rng *rng, float *w, int64_t n, int64_t fan_in,
                             int64_t fan_out) {
    /* 0.87962566 = stddev of a standard normal truncated at +-2: Keras rescales by it. */
    double sd = sqrt(2.0 / (double)(fan_in + fan_out)) / 0.87962566103423978;
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)dctr_rng_truncated_normal(rng, sd);
}

void dctr_init_glorot_uniform(dctr_rng *rng, float *w, int64_t n, int64_t fan_in,
                              int64_t fan_out) {
    double lim = sqrt(6.0 / (double)(fan_in + fan_out));
    dctr_init_uniform(rng, w, n, -lim, lim);
}

void dctr_init_normal(dctr_rng *rng, float *w, int64_t n, double stddev) {
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)(dctr_rng_normal(rng) * stddev);
}

void dctr_init_uniform(dctr_rng *rng, float *w, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)(lo + (hi - lo) * dctr_rng_uniform(rng));
}

void dctr_init_const(float *w, int64_t n, float value) {
    for (int64_t i = 0; i < n; i++)
        w[i] = value;
}
