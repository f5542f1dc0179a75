/* Early-stopping bookkeeping (Keras EarlyStopping semantics): an epoch improves when the
 * monitored value beats the best by more than min_delta in the mode's direction; training stops
 * once `patience` consecutive epochs did not improve. A NaN value never improves. */
#ifndef DCTR_TRAIN_EARLY_STOP_H
#define DCTR_TRAIN_EARLY_STOP_H

#include <stdint.h>

#include "deepctr/model.h"

typedef struct dctr_early_stop {
    dctr_metric monitor;
    int direction;      /* +1 maximise, -1 minimise */
    int32_t patience;   /* 0: never stop */
    double min_delta;
    double best;
    int32_t best_epoch; /* 0 until a finite value was seen */
    int32_t wait;       /* epochs since the last improvement */
} dctr_early_stop;

/* mode 0 = auto: AUC and accuracy are maximised, everything else minimised. */
void dctr_early_stop_init(dctr_early_stop *es, dctr_metric monitor, int mode, int32_t patience,
                          double min_delta);
/* Records an epoch's value; returns 1 when it improved. */
int dctr_early_stop_update(dctr_early_stop *es, double value, int32_t epoch);
int dctr_early_stop_should_stop(const dctr_early_stop *es, int32_t epoch);

#endif
