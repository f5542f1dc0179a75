/* Field-aware FM interaction in batch form (feature-column FFM and DeepFFM).
 *
 * Row b has F fields. Field f's gathered (or pooled) table row holds F*k floats, one k-vector
 * per TARGET field: W[b][f][g] = W + b * w_stride + (f * F + g) * k. Each field has a scale
 * x[b][f] = x + b * x_stride + f (the dense value for a dense field, 1 for a sparse / varlen
 * field); x == NULL means every scale is 1. r[b] is an optional per-row factor (libffm's
 * instance normalisation r = 1 / ||x||^2); r == NULL means 1. r is treated as a constant
 * (no gradient flows into it), as libffm does.
 *
 *   phi[b] = r[b] * sum_{f1<f2} <W[b][f1][f2], W[b][f2][f1]> * x[b][f1] * x[b][f2]
 *
 * The pair vector form (DeepFFM feeding the DNN) keeps each pair's scalar:
 *   pairs[b][p(f1,f2)] = r[b] * <W[b][f1][f2], W[b][f2][f1]> * x[b][f1] * x[b][f2]
 * with p enumerating f1 < f2 row-major: (0,1), (0,2), ..., (0,F-1), (1,2), ... ;
 * npairs = F(F-1)/2. */
#ifndef DCTR_LAYERS_FFM_H
#define DCTR_LAYERS_FFM_H

#include <stdint.h>

static inline int64_t dctr_ffm_num_pairs(int32_t F) { return (int64_t)F * (F - 1) / 2; }

/* out[b] = (accumulate ? out[b] + phi : phi). */
void dctr_ffm_forward(const float *W, int64_t w_stride, const float *x, int64_t x_stride,
                      const float *r, int64_t B, int32_t F, int32_t k, float *out, int accumulate);
/* dW[b][f1][f2] += dout[b] r x1 x2 W[b][f2][f1] (and symmetrically); rows of dW at dw_stride
 * with the same layout as W. dx (nullable) [b * dx_stride + f] += dout[b] r sum_{g != f}
 * <W[f][g], W[g][f]> x[g]. dW == NULL skips the table gradient. */
void dctr_ffm_backward(const float *dout, const float *W, int64_t w_stride, const float *x,
                       int64_t x_stride, const float *r, int64_t B, int32_t F, int32_t k,
                       float *dW, int64_t dw_stride, float *dx, int64_t dx_stride);

/* pairs[b * p_stride + p] written (not accumulated), npairs values per row. */
void dctr_ffm_pairs_forward(const float *W, int64_t w_stride, const float *x, int64_t x_stride,
                            const float *r, int64_t B, int32_t F, int32_t k, float *pairs,
                            int64_t p_stride);
/* Backward of the pair form given dpairs [b * dp_stride + p]; accumulates like
 * dctr_ffm_backward. */
void dctr_ffm_pairs_backward(const float *dpairs, int64_t dp_stride, const float *W,
                             int64_t w_stride, const float *x, int64_t x_stride, const float *r,
                             int64_t B, int32_t F, int32_t k, float *dW, int64_t dw_stride,
                             float *dx, int64_t dx_stride);

/* libffm instance normalisation: r[b] = 1 / sum_f x[b][f]^2 (x == NULL: 1 / F); a row whose
 * squared norm is 0 gets r = 1 (no division by zero). */
void dctr_ffm_instance_norm(const float *x, int64_t x_stride, int64_t B, int32_t F, float *r);

#endif
