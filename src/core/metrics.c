/* Metrics: logloss, exact AUC with ties, MSE / RMSE, accuracy (weighted when w != NULL). */
#include "core/metrics.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/radix_sort.h"

static double wt(const float *w, int64_t i) { return w ? (double)w[i] : 1.0; }

double dctr_metric_logloss(const float *y, const float *p, const float *w, int64_t n) {
    double s = 0, sw = 0;
    for (int64_t i = 0; i < n; i++) {
        double q = p[i];
        if (q < DCTR_LOGLOSS_EPS) q = DCTR_LOGLOSS_EPS;
        if (q > 1.0 - DCTR_LOGLOSS_EPS) q = 1.0 - DCTR_LOGLOSS_EPS;
        double yi = y[i], wi = wt(w, i);
        s += wi * -(yi * log(q) + (1.0 - yi) * log(1.0 - q));
        sw += wi;
    }
    return sw > 0 ? s / sw : NAN;
}

double dctr_metric_mse(const float *y, const float *p, const float *w, int64_t n) {
    double s = 0, sw = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)p[i] - y[i], wi = wt(w, i);
        s += wi * d * d;
        sw += wi;
    }
    return sw > 0 ? s / sw : NAN;
}

double dctr_metric_accuracy(const float *y, const float *p, const float *w, int64_t n) {
    double s = 0, sw = 0;
    for (int64_t i = 0; i < n; i++) {
        double wi = wt(w, i);
        s += wi * (((p[i] >= 0.5f) == (y[i] >= 0.5f)) ? 1.0 : 0.0);
        sw += wi;
    }
    return sw > 0 ? s / sw : NAN;
}

double dctr_metric_auc(const float *y, const float *p, const float *w, int64_t n) {
    double v = NAN;
    (void)dctr_metric_auc_checked(y, p, w, n, &v);
    return v;
}

/* The float's bits as an unsigned key in the order of the floats: negatives have every bit
 * flipped, positives only the sign bit, so -0 and +0 are neighbours and NaNs sort to the ends. */
static uint32_t order_key(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

dctr_status dctr_metric_auc_checked(const float *y, const float *p, const float *w, int64_t n,
                                    double *out) {
    *out = NAN;
    if (n <= 0)
        return DCTR_OK;
    if ((uint64_t)n > UINT32_MAX) /* a row index must fit beside its 32-bit key */
        return dctr_set_error(DCTR_ERR_LIMIT, "AUC of %lld rows: at most %lu", (long long)n,
                              (unsigned long)UINT32_MAX);
    /* rows in ascending score order: a radix sort of (key << 32 | row), linear in n (qsort of
     * the epoch's predictions took 1.5 % of a DeepFM run); equal scores keep row order */
    uint64_t *keys = dctr_calloc((size_t)n * 2, sizeof(uint64_t));
    if (!keys)
        return dctr_error_prefix(DCTR_ERR_NOMEM, "AUC of %lld rows", (long long)n);
    for (int64_t i = 0; i < n; i++)
        keys[i] = (uint64_t)order_key(p[i]) << 32 | (uint64_t)i;
    dctr_radix_sort_u64(keys, (size_t)n, UINT64_MAX, keys + n);
    /* Walk groups of equal scores in ascending order: each positive in a group beats every
     * negative seen before the group and ties (1/2) with the group's negatives. */
    double neg_below = 0, pos_total = 0, neg_total = 0, pairs = 0;
    for (int64_t i = 0; i < n;) {
        const float score = p[keys[i] & UINT32_MAX];
        int64_t j = i;
        double gp = 0, gn = 0;
        for (; j < n && p[keys[j] & UINT32_MAX] == score; j++) {
            const int64_t r = (int64_t)(keys[j] & UINT32_MAX);
            if (y[r] >= 0.5f) gp += wt(w, r); else gn += wt(w, r);
        }
        if (j == i) { /* a NaN score equals nothing, not even itself: no ranking, no AUC */
            dctr_free(keys);
            return DCTR_OK;
        }
        pairs += gp * neg_below + 0.5 * gp * gn;
        neg_below += gn;
        pos_total += gp;
        neg_total += gn;
        i = j;
    }
    dctr_free(keys);
    if (pos_total > 0 && neg_total > 0)
        *out = pairs / (pos_total * neg_total);
    return DCTR_OK;
}

dctr_status dctr_metrics_all(dctr_task task, const float *y, const float *p, const float *w, int64_t n,
                             double values[DCTR_METRIC_COUNT]) {
    for (int m = 0; m < DCTR_METRIC_COUNT; m++)
        values[m] = NAN;
    values[DCTR_METRIC_MSE] = dctr_metric_mse(y, p, w, n);
    values[DCTR_METRIC_RMSE] = sqrt(values[DCTR_METRIC_MSE]);
    if (task == DCTR_TASK_BINARY) {
        values[DCTR_METRIC_LOGLOSS] = dctr_metric_logloss(y, p, w, n);
        values[DCTR_METRIC_ACCURACY] = dctr_metric_accuracy(y, p, w, n);
        /* an allocation failure is an error, never a NaN early stopping would read */
        return dctr_metric_auc_checked(y, p, w, n, &values[DCTR_METRIC_AUC]);
    }
    return DCTR_OK;
}
