/* Evaluation metrics over whole prediction vectors, accumulated in double: the one
 * implementation every model, the fit loop and the synthetic generator use.
 * w (sample weights) may be NULL for unweighted metrics; weighted metrics are Σw·term / Σw. */
#ifndef DCTR_CORE_METRICS_H
#define DCTR_CORE_METRICS_H

#include <stdint.h>

#include "deepctr/model.h"

#define DCTR_LOGLOSS_EPS 1e-7

/* Mean binary cross-entropy, predictions clipped to [1e-7, 1 - 1e-7] (Keras). */
double dctr_metric_logloss(const float *y, const float *p, const float *w, int64_t n);
double dctr_metric_mse(const float *y, const float *p, const float *w, int64_t n);
/* Share of rows with (p >= 0.5) == (y >= 0.5). */
double dctr_metric_accuracy(const float *y, const float *p, const float *w, int64_t n);
/* Exact ROC AUC (Mann-Whitney): sorts by score, tied scores share their average rank, i.e. a
 * tied positive/negative pair counts 1/2 (-0 ties +0). Weighted: pairs weigh w_i·w_j. NaN when a
 * class is missing, a score is NaN, or scratch memory (16 bytes a row) cannot be allocated. */
double dctr_metric_auc(const float *y, const float *p, const float *w, int64_t n);
/* The same into *out (NaN when a class is missing or a score is NaN); DCTR_ERR_NOMEM when the
 * scratch memory cannot be allocated, DCTR_ERR_LIMIT above 2^32 - 1 rows. */
dctr_status dctr_metric_auc_checked(const float *y, const float *p, const float *w, int64_t n,
                                    double *out);

/* Every dctr_metric for a task into values[] (NaN where not defined: AUC / logloss / accuracy
 * for regression; LOSS is left NaN, the caller knows the regularization). DCTR_ERR_NOMEM when
 * AUC's scratch memory cannot be allocated. */
dctr_status dctr_metrics_all(dctr_task task, const float *y, const float *p, const float *w, int64_t n,
                             double values[DCTR_METRIC_COUNT]);

#endif
