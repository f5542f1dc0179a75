/* Elementwise activation kernels of the DNN (dnn.c), dispatched per SIMD level (core/simd.h).
 * dctr_act_forward / dctr_act_backward (declared in dnn.h) are the public-facing pair; these
 * are the fused pieces the DNN's threaded passes call. Every level gives the same bits: the
 * loops are elementwise or sum over the batch in row order, and sigmoid / tanh use the own exp
 * of core/simd_math.h (plain float arithmetic; its error bounds are documented there). */
#ifndef DCTR_LAYERS_ACTIVATION_H
#define DCTR_LAYERS_ACTIVATION_H

#include <stdint.h>

#include "layers/dnn.h"

/* Columns [c0, c1) of rows 0..B-1 (row stride n): dZ = (accumulate ? dZ + : ) dY * act'(Z).
 * colsum (nullable, only with accumulate = 0) [j] += sum over b of the written gradient, in
 * row order (the bias gradient of a layer without BN). dalpha (PReLU, nullable) +=. */
void dctr_act_backward_cols(dctr_activation act, const float *Z, const float *Y, const float *dY,
                            int64_t B, int32_t n, const float *alpha, float *dalpha, float *dZ,
                            int accumulate, float *colsum, int32_t c0, int32_t c1);
/* Z[b, j] = act(Z[b, j] + bias[j]) for relu / sigmoid / tanh / linear (in-place activations). */
void dctr_bias_act_inplace(dctr_activation act, const float *bias, int64_t B, int32_t n,
                           float *Z);
/* Dice's gate after its BN: P = sigmoid(xhat), H = A (alpha + P (1 - alpha)). */
void dctr_dice_gate_forward(const float *A, const float *xhat, const float *alpha, int64_t B,
                            int32_t n, float *P, float *H);
/* Its backward: dA += dH (alpha + P (1 - alpha)); dxhat = dH (1 - alpha) A P (1 - P) (written);
 * dalpha (nullable) [j] += sum over b of dH A (1 - P), in row order. */
void dctr_dice_gate_backward(const float *A, const float *P, const float *dH, const float *alpha,
                             int64_t B, int32_t n, float *dA, float *dxhat, float *dalpha);

#endif
