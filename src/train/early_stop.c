/* Early stopping: best value, patience counter (see early_stop.h). */
#include "train/early_stop.h"

#include <math.h>

void dctr_early_stop_init(dctr_early_stop *es, dctr_metric monitor, int mode, int32_t patience,
                          double min_delta) {
    es->monitor = monitor;
    if (mode == 0)
        mode = (monitor == DCTR_METRIC_AUC || monitor == DCTR_METRIC_ACCURACY) ? 1 : -1;
    es->direction = mode > 0 ? 1 : -1;
    es->patience = patience;
    es->min_delta = fabs(min_delta);
    es->best = es->direction > 0 ? -INFINITY : INFINITY;
    es->best_epoch = 0;
    es->wait = 0;
}

int dctr_early_stop_update(dctr_early_stop *es, double value, int32_t epoch) {
    int improved = 0;
    if (!isnan(value)) {
        if (es->best_epoch == 0)
            improved = 1;
        else if (es->direction > 0)
            improved = value - es->min_delta > es->best;
        else
            improved = value + es->min_delta < es->best;
    }
    if (improved) {
        es->best = value;
        es->best_epoch = epoch;
        es->wait = 0;
    } else {
        es->wait++;
    }
    return improved;
}

int dctr_early_stop_should_stop(const dctr_early_stop *es, int32_t epoch) {
    (void)epoch;
    return es->patience > 0 && es->wait >= es->patience;
}
