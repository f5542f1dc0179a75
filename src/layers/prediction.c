/* Prediction layer: global bias + sigmoid / identity. */
#include "layers/prediction.h"

#include <math.h>

static inline float sigmoidf_stable(float z) {
    if (z >= 0.0f)
        return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

void dctr_prediction_forward(dctr_task task, const float *logit, const float *bias, int64_t B,
                             float *pred) {
    float b0 = bias ? *bias : 0.0f;
    for (int64_t b = 0; b < B; b++) {
        float z = logit[b] + b0;
        pred[b] = task == DCTR_TASK_BINARY ? sigmoidf_stable(z) : z;
    }
}

void dctr_prediction_backward(dctr_task task, const float *pred, const float *dpred, int64_t B,
                              float *dlogit, float *dbias) {
    float db = 0.0f;
    for (int64_t b = 0; b < B; b++) {
        float d = dpred[b];
        if (task == DCTR_TASK_BINARY)
            d *= pred[b] * (1.0f - pred[b]);
        dlogit[b] += d;
        db += d;
    }
    if (dbias)
        *dbias += db;
}
