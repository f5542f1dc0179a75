/* Parameter initializers (DeepCTR / Keras defaults), drawing from src/core/rng.h only. */
#ifndef DCTR_LAYERS_INIT_H
#define DCTR_LAYERS_INIT_H

#include <stdint.h>

#include "core/rng.h"

/* Keras glorot_normal: truncated normal, sigma = sqrt(2 / (fan_in + fan_out)) / 0.87962566,
 * redrawn beyond 2 sigma. */
void dctr_init_glorot_normal(dctr_rng *rng, float *w, int64_t n, int64_t fan_in, int64_t fan_out);
/* Keras glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)). */
void dctr_init_glorot_uniform(dctr_rng *rng, float *w, int64_t n, int64_t fan_in,
                              int64_t fan_out);
/* RandomNormal(0, stddev) (embedding tables: stddev 1e-4). */
void dctr_init_normal(dctr_rng *rng, float *w, int64_t n, double stddev);
/* Uniform in [lo, hi). */
void dctr_init_uniform(dctr_rng *rng, float *w, int64_t n, double lo, double hi);
void dctr_init_const(float *w, int64_t n, float value);

#endif
