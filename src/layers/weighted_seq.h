/* Weighted sequence (DeepCTR WeightedSequenceLayer), run BEFORE dctr_seq_pool_* when a varlen
 * column has a weight column. Same mask modes as sequence_pool.h. w is the batch's weights
 * array [B*T]; E and out are contiguous [B*T x k].
 *  - weight_norm = 1: invalid positions get w = -2^32+1, alpha = softmax over ALL T positions
 *    (so invalid alpha are 0 in float32 unless the whole row is invalid, in which case alpha is
 *    uniform 1/T exactly as upstream; the pooling mask then discards those positions anyway).
 *  - weight_norm = 0: alpha = w at valid positions, 0 at invalid ones.
 *  out[b,t,:] = alpha[b,t] * E[b,t,:].
 * The pooling that follows applies the column's combiner as usual, so combiner "mean" with
 * weight_norm = 1 divides the softmax-weighted sum by n a second time (upstream, replicated). */
#ifndef DCTR_LAYERS_WEIGHTED_SEQ_H
#define DCTR_LAYERS_WEIGHTED_SEQ_H

#include <stdint.h>

#define DCTR_WEIGHTED_SEQ_MASK_VALUE (-4294967295.0f) /* -2^32 + 1 (rounds to -2^32 in float) */

/* out (written) and alpha (written, [B*T], kept for the backward). */
void dctr_weighted_seq_forward(int weight_norm, const float *E, const float *w, int64_t B,
                               int32_t T, int32_t k, const int64_t *ids, const int32_t *lengths,
                               float *out, float *alpha);
/* Given dout [B*T x k]: dE += alpha * dout; dw[b,t] += d/dw (softmax Jacobian for weight_norm
 * = 1, plain <dout, E> for 0); invalid positions get no dw (upstream masks them with a
 * constant). dE or dw may be NULL to skip. */
void dctr_weighted_seq_backward(int weight_norm, const float *dout, const float *E,
                                const float *alpha, int64_t B, int32_t T, int32_t k,
                                const int64_t *ids, const int32_t *lengths, float *dE, float *dw);

#endif
