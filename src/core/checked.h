/* Checked size arithmetic for every size computed from outside data (a file, a header, an API
 * argument), and the limits those sizes are bounded by before anything is allocated or written.
 * Each limit and the reason for its value: docs/reliability.md, "Limits". */
#ifndef DCTR_CORE_CHECKED_H
#define DCTR_CORE_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

/* Total float parameters of one model (2^38 = 1 TiB of weights): beyond any machine's memory,
 * yet the byte counts of the parameters, gradients and two optimizer slots (16 bytes a
 * parameter) stay far from 2^63, so sums of them cannot wrap. */
#define DCTR_MAX_PARAMS (INT64_C(1) << 38)
/* Width of the DNN input X (one row): the GEMMs take int32 dimensions. */
#define DCTR_MAX_INPUT_WIDTH (INT64_C(1) << 24)
/* Units of one hidden layer: in * units per layer stays below 2^44. */
#define DCTR_MAX_DNN_UNITS (1 << 20)
/* Rows a predictor's workspace holds: larger requests run in blocks of this many rows. */
#define DCTR_MAX_PREDICT_BLOCK 4096

/* a * b into *out for non-negative a, b; false (and *out untouched) on a negative operand or a
 * result above INT64_MAX. */
static inline bool dctr_size_mul(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

/* a + b into *out, the same contract. */
static inline bool dctr_size_add(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

/* *acc += a * b, then bounded by limit; false on overflow or when the sum exceeds limit. */
static inline bool dctr_size_acc(int64_t *acc, int64_t a, int64_t b, int64_t limit) {
    int64_t p, s;
    if (!dctr_size_mul(a, b, &p) || !dctr_size_add(*acc, p, &s) || s > limit)
        return false;
    *acc = s;
    return true;
}

#endif
