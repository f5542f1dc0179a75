/* Losses (Keras semantics) and L2 regularisation.
 *
 * Binary cross-entropy, as Keras computes it from a probability (the DeepFM output carries
 * Keras history, so Keras does NOT take the from-logits shortcut):
 *   p_c = clip(p, 1e-7, 1 - 1e-7);  l = -[ y log(p_c + 1e-7) + (1 - y) log(1 - p_c + 1e-7) ]
 * and the gradient w.r.t. p is 0 where the clip is active (p < 1e-7 or p > 1 - 1e-7), as TF's
 * clip_by_value. Chain through dctr_prediction_backward to reach the logit. The clip and the two
 * additions are done in float32 as Keras does (1 - 1e-7 is 1 - 2^-23 in float32), the logs and
 * the batch sum in double.
 * MSE: l = (p - y)^2.
 * Reduction (Keras SUM_OVER_BATCH_SIZE): loss = sum_b s_b l_b / B, s = per-sample weights
 * (NULL = all 1); note the divisor is B, not sum(s).
 * L2 (Keras regularizer): lambda * sum w^2 (no 1/2), gradient 2 lambda w. */
#ifndef DCTR_LAYERS_LOSS_H
#define DCTR_LAYERS_LOSS_H

#include <stdint.h>

#include "layers/embedding.h"

#define DCTR_BCE_EPS 1e-7

/* Returns the mean loss (double accumulation). dpred (nullable) [b] += dloss/dpred[b]. */
double dctr_loss_bce(const float *pred, const float *label, const float *sample_weight, int64_t B,
                     float *dpred);
double dctr_loss_mse(const float *pred, const float *label, const float *sample_weight, int64_t B,
                     float *dpred);
/* n rows of a B-row batch, for a caller that walks the batch in row blocks: returns total plus
 * the rows' weighted losses (added in row order, so blocks in order sum exactly like the whole
 * batch; divide the final total by B for the mean); dpred [b] += dloss/dpred[b] of the B-row
 * mean. */
double dctr_loss_bce_rows(const float *pred, const float *label, const float *sample_weight,
                          int64_t n, int64_t B, double total, float *dpred);
double dctr_loss_mse_rows(const float *pred, const float *label, const float *sample_weight,
                          int64_t n, int64_t B, double total, float *dpred);

/* lambda * sum w^2 over n floats; grad (nullable) [i] += 2 lambda w[i]. */
double dctr_l2_dense(const float *w, int64_t n, float lambda, float *grad);
/* Lazy L2 on the rows touched in this step: for each row of g, lambda * sum table[row]^2 and
 * g's row += 2 lambda table[row]. (Upstream regularises the whole table every step.) */
double dctr_l2_sparse(const float *table, dctr_sparse_grad *g, float lambda);

#endif
