/* Finite-difference gradient checking for the layer tests.
 *
 * A test wraps a layer's forward in a scalar loss L(theta) = sum_i c_i out_i (c fixed random
 * "upstream gradients", accumulated in double), runs the layer's backward with dout = c to get
 * the analytic gradient, and calls gc_check on every parameter / input array.
 *
 * Central differences in float32: each coordinate x is set to x +- h and L re-evaluated. The
 * truncation error is O(h^2 |L'''|) and the rounding error about eps32 * |L| * sqrt(n_out) / h;
 * with h = 1e-2 .. 3e-3 on O(1) data both stay below ~1e-3, hence the default tolerance
 * |num - ana| <= atol + rtol * max(|num|, |ana|) with atol = 2e-3, rtol = 1e-2. A coordinate that
 * fails at h is retried at h/4 and h/16: a kink (relu at 0, max switching) closer than h to the
 * point spoils only the larger steps, whereas a wrong analytic gradient fails at every step. */
#ifndef DCTR_TESTS_GRADCHECK_H
#define DCTR_TESTS_GRADCHECK_H

#include <stdint.h>

#include "core/rng.h"

typedef double (*gc_loss_fn)(void *ctx);

#define GC_H 5e-3
#define GC_RTOL 1e-2
#define GC_ATOL 2e-3

/* Perturbs every x[i] (restored afterwards), compares with analytic[i]; prints up to 5
 * mismatches naming `what` and returns their count (0 = pass). */
int gc_check(const char *what, gc_loss_fn fn, void *ctx, float *x, const float *analytic,
             int64_t n, double h, double rtol, double atol);
/* gc_check with GC_H / GC_RTOL / GC_ATOL. */
int gc_check_default(const char *what, gc_loss_fn fn, void *ctx, float *x, const float *analytic,
                     int64_t n);

/* Uniform [lo, hi) fill. */
void gc_fill(dctr_rng *rng, float *x, int64_t n, double lo, double hi);
/* sum a[i] * c[i] in double. */
double gc_dot(const float *a, const float *c, int64_t n);
/* Strided form: rows of `cols` floats at stride `lda` against contiguous c [rows x cols]. */
double gc_dot_strided(const float *a, int64_t lda, const float *c, int64_t rows, int64_t cols);
/* max |a - b| / (atol + rtol * |b|) over n elements: <= 1 means "close". */
double gc_max_rel(const float *a, const float *b, int64_t n, double rtol, double atol);

#endif
