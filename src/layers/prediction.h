/* Prediction layer (DeepCTR PredictionLayer): + global bias, then sigmoid (binary) or identity
 * (regression). The global bias is a single float (init 0) owned by the model. */
#ifndef DCTR_LAYERS_PREDICTION_H
#define DCTR_LAYERS_PREDICTION_H

#include <stdint.h>

#include "deepctr/model.h" /* dctr_task */

/* pred[b] = act(logit[b] + (bias ? *bias : 0)). pred may alias logit. Sigmoid is the stable
 * two-branch form. */
void dctr_prediction_forward(dctr_task task, const float *logit, const float *bias, int64_t B,
                             float *pred);
/* dlogit[b] += dpred[b] * act'(.) (binary: pred (1 - pred)); dbias (nullable) += sum_b of it. */
void dctr_prediction_backward(dctr_task task, const float *pred, const float *dpred, int64_t B,
                              float *dlogit, float *dbias);

#endif
