/* Linear ("wide") part (DeepCTR get_linear_logit / Linear).
 *
 * logit[b] = sum_i w_i[x_i] (sparse) + sum_v pool_v(w_v[ids]) (varlen) + dense[b,:] . kernel
 *            (+ bias when use_bias).
 * Composition of the sparse / varlen part from the other layers (1-dim tables, zero init):
 *  - sparse column: dctr_linear_sparse_forward (= gather with dim 1, summed into the logit);
 *    backward dctr_linear_sparse_backward (= scatter of dlogit into the table's accumulator).
 *  - varlen column: dctr_embedding_gather(dim 1) into a [B*T] workspace, optional
 *    dctr_weighted_seq_forward (k = 1), dctr_seq_pool_forward(k = 1) into a [B] scratch, then
 *    add it to the logit; backward in reverse with dctr_embedding_scatter_seq.
 * The dense kernel covers all dense values (B x D).(D x 1), no per-feature bias.
 * With no linear columns the logit is 0. */
#ifndef DCTR_LAYERS_LINEAR_H
#define DCTR_LAYERS_LINEAR_H

#include <stdint.h>

#include "deepctr/common.h"
#include "layers/embedding.h"

/* out[b] (= or += when accumulate) x[b*x_stride + 0..D) . kernel[0..D) (+ *bias if non-NULL).
 * D = 0 gives just the bias (or 0). */
void dctr_linear_dense_forward(const float *x, int64_t x_stride, int64_t B, int32_t D,
                               const float *kernel, const float *bias, float *out,
                               int accumulate);
/* dkernel[j] += sum_b dout[b] x[b,j]; dbias (nullable) += sum_b dout[b];
 * dx (nullable) [b*dx_stride + j] += dout[b] kernel[j]. */
void dctr_linear_dense_backward(const float *dout, const float *x, int64_t x_stride, int64_t B,
                                int32_t D, const float *kernel, float *dkernel, float *dbias,
                                float *dx, int64_t dx_stride);

/* out[b] (= or +=) table[ids[b]] for a 1-dim table (range-checked like the gather). */
DCTR_NODISCARD dctr_status dctr_linear_sparse_forward(const float *table, int64_t vocab,
                                                      const int64_t *ids, int64_t B, float *out,
                                                      int accumulate);
/* Accumulates dout[b] into the gradient row ids[b] of a dim-1 accumulator. */
DCTR_NODISCARD dctr_status dctr_linear_sparse_backward(dctr_sparse_grad *g, const int64_t *ids,
                                                       int64_t B, const float *dout);

#endif
