/* Sequence pooling (DeepCTR SequencePoolingLayer): [B x T x k] -> [B x k] with sum / mean / max.
 *
 * E is a contiguous [B*T x k] array (position t of row b at E + (b*T + t) * k), usually the
 * output of dctr_embedding_gather on the varlen ids. The validity mask has two modes:
 *  - lengths != NULL (a length column): position t of row b is valid iff t < lengths[b]; the
 *    ids at valid positions are used even when 0. lengths[b] > T: every position is valid, and
 *    mean still divides by the RAW length (upstream behaviour, replicated). lengths[b] <= 0:
 *    nothing is valid.
 *  - lengths == NULL (mask_zero): valid iff ids[b*T + t] != 0; zeros may be holes anywhere;
 *    n[b] = number of valid positions.
 * mean = sum / (n + 1e-8) (n = 0 gives exactly 0).
 * max over valid positions; a row with NO valid position gives 0 (documented fix: upstream gives
 * about -1e9). Max backward routes the gradient to the argmax position (first max on ties).
 *
 * Outputs are written (not accumulated) into out at a row stride, so a pooled column can land
 * directly in its slice of the model's [B x D] concat matrix. Backward ACCUMULATES into dE. */
#ifndef DCTR_LAYERS_SEQUENCE_POOL_H
#define DCTR_LAYERS_SEQUENCE_POOL_H

#include <stdint.h>

#include "deepctr/schema.h" /* dctr_combiner: SUM / MEAN / MAX */

#define DCTR_SEQ_MEAN_EPS 1e-8f

/* 1 iff position t of row b is valid (see the two mask modes above). */
static inline int dctr_seq_valid(const int64_t *ids, const int32_t *lengths, int64_t b, int32_t T,
                                 int32_t t) {
    return lengths ? t < lengths[b] : ids[b * T + t] != 0;
}
/* The mean divisor n of row b: the raw length, or the count of non-zero ids. */
int64_t dctr_seq_count(const int64_t *ids, const int32_t *lengths, int64_t b, int32_t T);

/* out[b * out_stride + j] = pool_t(E[b, t, j]) over valid t.
 * argmax: for MAX in training, an int32 [B x k] workspace receiving the routed position per
 * output (-1 when the row has no valid position); may be NULL for inference or SUM / MEAN. */
void dctr_seq_pool_forward(dctr_combiner mode, const float *E, int64_t B, int32_t T, int32_t k,
                           const int64_t *ids, const int32_t *lengths, float *out,
                           int64_t out_stride, int32_t *argmax);
/* dE[b, t, j] += d(out[b, j]) / dE[b, t, j] * dout[b * dout_stride + j]. dE is [B*T x k]
 * contiguous. MAX needs the argmax filled by the forward; SUM / MEAN ignore it. */
void dctr_seq_pool_backward(dctr_combiner mode, const float *dout, int64_t dout_stride, int64_t B,
                            int32_t T, int32_t k, const int64_t *ids, const int32_t *lengths,
                            const int32_t *argmax, float *dE);

#endif
