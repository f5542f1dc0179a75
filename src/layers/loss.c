/* Keras binary cross-entropy / MSE with SUM_OVER_BATCH_SIZE reduction, and L2. */
#include "layers/loss.h"

#include <math.h>

double dctr_loss_bce_rows(const float *pred, const float *label, const float *sample_weight,
                          int64_t n, int64_t B, double total, float *dpred) {
    /* float32 like Keras: 1 - 1e-7 rounds to 1 - 2^-23, which shows in the loss value
     * (Keras' documented bce([0,0,1,1], [1,1,1,0]) = 11.522857 relies on it). */
    const float eps = (float)DCTR_BCE_EPS, lo = eps, hi = 1.0f - eps;
    for (int64_t b = 0; b < n; b++) {
        float p = pred[b], y = label[b];
        double s = sample_weight ? sample_weight[b] : 1.0;
        float pc = p < lo ? lo : (p > hi ? hi : p);
        float a = pc + eps, c = 1.0f - pc + eps;
        total += -s * (y * log((double)a) + (1.0 - y) * log((double)c));
        if (dpred) {
            /* clip_by_value passes the gradient only inside [lo, hi] */
            double g = (p < lo || p > hi) ? 0.0 : -((double)y / a - (1.0 - y) / (double)c);
            dpred[b] += (float)(s * g / (double)B);
        }
    }
    return total;
}

double dctr_loss_bce(const float *pred, const float *label, const float *sample_weight, int64_t B,
                     float *dpred) {
    if (B <= 0)
        return 0.0;
    return dctr_loss_bce_rows(pred, label, sample_weight, B, B, 0.0, dpred) / (double)B;
}

double dctr_loss_mse_rows(const float *pred, const float *label, const float *sample_weight,
                          int64_t n, int64_t B, double total, float *dpred) {
    for (int64_t b = 0; b < n; b++) {
        double s = sample_weight ? sample_weight[b] : 1.0;
        double e = (double)pred[b] - label[b];
        total += s * e * e;
        if (dpred)
            dpred[b] += (float)(2.0 * s * e / (double)B);
    }
    return total;
}

double dctr_loss_mse(const float *pred, const float *label, const float *sample_weight, int64_t B,
                     float *dpred) {
    if (B <= 0)
        return 0.0;
    return dctr_loss_mse_rows(pred, label, sample_weight, B, B, 0.0, dpred) / (double)B;
}

double dctr_l2_dense(const float *w, int64_t n, float lambda, float *grad) {
    if (lambda == 0.0f)
        return 0.0;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        s += (double)w[i] * w[i];
        if (grad)
            grad[i] += 2.0f * lambda * w[i];
    }
    return lambda * s;
}

#define L2_AHEAD 24

/* Σw² in eight independent double sums (one chain of dependent adds cost 4 cycles a float, the
 * whole pass latency-bound): float k of the walk goes to sum k mod 8, combined in a fixed tree,
 * so the value does not depend on the thread or the CPU. */
double dctr_l2_sparse(const float *table, dctr_sparse_grad *g, float lambda) {
    if (lambda == 0.0f)
        return 0.0;
    double s[8] = {0};
    const int32_t dim = g->dim;
    const float two_l = 2.0f * lambda;
    size_t k = 0;
    for (int64_t i = 0; i < g->count; i++) {
        /* touched rows are scattered: keep misses in flight, far enough ahead to cover an L3
         * or DRAM latency (8 rows ahead was only ~100 cycles of work) */
        if (i + L2_AHEAD < g->count)
            __builtin_prefetch(table + g->rows[i + L2_AHEAD] * dim);
        const float *w = table + g->rows[i] * dim;
        float *gr = g->grad + i * dim;
        if (dim == 8) { /* the common k: lanes line up with the row */
            for (int32_t j = 0; j < 8; j++) {
                s[j] += (double)w[j] * w[j];
                gr[j] += two_l * w[j];
            }
            continue;
        }
        for (int32_t j = 0; j < dim; j++, k++) {
            s[k & 7] += (double)w[j] * w[j];
            gr[j] += two_l * w[j];
        }
    }
    return lambda * (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])));
}
