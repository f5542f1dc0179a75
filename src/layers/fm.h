/* FM second-order term (DeepCTR FM layer) over one group of F fields of equal dimension k.
 * The F embeddings of row b are contiguous: field f at V + b * v_stride + f * k (the group's
 * slice of the model's [B x D] concat matrix).
 *   out[b] = 1/2 sum_j [ (sum_f V[f,j])^2 - sum_f V[f,j]^2 ]  (= sum_{f<g} <V_f, V_g>)
 *   dV[f,j] = dout[b] * (sum_g V[g,j] - V[f,j]).
 * Unequal k within a group is a schema error the model reports at build time. */
#ifndef DCTR_LAYERS_FM_H
#define DCTR_LAYERS_FM_H

#include <stdint.h>

/* out[b] = (accumulate ? out[b] + fm : fm). F < 2 gives 0. */
void dctr_fm_forward(const float *V, int64_t v_stride, int64_t B, int32_t F, int32_t k,
                     float *out, int accumulate);
/* dV[b * dv_stride + f*k + j] += dout[b] * (sum_g V[g,j] - V[f,j]). */
void dctr_fm_backward(const float *dout, const float *V, int64_t v_stride, int64_t B, int32_t F,
                      int32_t k, float *dV, int64_t dv_stride);

#endif
