/* Metrics over FFM outputs: logloss straight from the logit (as libffm prints it), AUC from the
 * ranking (ties share their average rank), MSE / RMSE / accuracy on the probabilities. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "models/ffm_model.h"

typedef struct {
    float s;
    float y;
} scored;

static int cmp_scored(const void *a, const void *b) {
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

double dctr_ffm_auc(const float *score, const float *labels, int64_t n) {
    scored *v = dctr_malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v)
        return NAN;
    for (int64_t i = 0; i < n; i++) {
        v[i].s = score[i];
        v[i].y = labels[i];
    }
    qsort(v, (size_t)n, sizeof *v, cmp_scored);
    double pos = 0, neg = 0, rank_sum = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        double p = 0;
        while (j < n && v[j].s == v[i].s) {
            p += v[j].y > 0 ? 1 : 0;
            j++;
        }
        double avg_rank = (double)(i + 1 + j) / 2.0; /* ranks i+1 .. j */
        rank_sum += p * avg_rank;
        pos += p;
        neg += (double)(j - i) - p;
        i = j;
    }
    dctr_free(v);
    if (pos == 0 || neg == 0)
        return NAN;
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

dctr_status dctr_ffm_metrics(const float *t, const float *labels, int64_t n, int regression,
                             double values[DCTR_METRIC_COUNT]) {
    for (int i = 0; i < DCTR_METRIC_COUNT; i++)
        values[i] = NAN;
    if (n <= 0)
        return DCTR_OK;
    double loss = 0, se = 0, correct = 0;
    for (int64_t i = 0; i < n; i++) {
        float kappa;
        if (regression) {
            double d = (double)t[i] - labels[i];
            se += d * d;
            continue;
        }
        loss += dctr_ffm_loss(t[i], labels[i], 0, &kappa);
        double p = 1.0 / (1.0 + exp(-(double)t[i]));
        double y = labels[i] > 0 ? 1.0 : 0.0;
        se += (p - y) * (p - y);
        correct += ((p > 0.5) == (y > 0.5));
    }
    values[DCTR_METRIC_MSE] = se / (double)n;
    values[DCTR_METRIC_RMSE] = sqrt(se / (double)n);
    if (regression) {
        values[DCTR_METRIC_LOSS] = values[DCTR_METRIC_MSE];
        return DCTR_OK;
    }
    values[DCTR_METRIC_LOGLOSS] = loss / (double)n;
    values[DCTR_METRIC_LOSS] = values[DCTR_METRIC_LOGLOSS];
    values[DCTR_METRIC_ACCURACY] = correct / (double)n;
    values[DCTR_METRIC_AUC] = dctr_ffm_auc(t, labels, n);
    return DCTR_OK;
}
