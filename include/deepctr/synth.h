/* The synthetic data generator: deterministic Criteo-shaped data with a planted model.
 * (Implemented by the input module; see docs/synthetic-data.md.) */
#ifndef DEEPCTR_SYNTH_H
#define DEEPCTR_SYNTH_H

#include "deepctr/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dctr_synth_options {
    uint32_t struct_size;
    int64_t rows;             /* default 200000 */
    uint64_t seed;            /* default 1 */
    int32_t num_dense;        /* default 13 (I1..I13) */
    int32_t num_sparse;       /* default 26 (C1..C26) */
    int64_t max_vocabulary;   /* default 1000000: largest per-column vocabulary */
    double zipf_exponent;     /* default 1.4 */
    double missing_rate;      /* default 0.05 */
    double target_ctr;        /* default 0.25 */
    const char *csv_path;     /* NULL = no CSV */
    const char *libffm_path;  /* NULL = no libffm text (same rows) */
    double holdout_fraction;  /* default 0.1: also report the planted model on the last fraction of
                                 the rows (split as fit's validation_split); 0 = no hold-out report */
} dctr_synth_options;

/* What the generator reports: the planted model's own quality on the rows it wrote
 * (the Bayes limit a trained model is compared against). */
typedef struct dctr_synth_report {
    int64_t rows;
    double positive_rate;
    double planted_auc;
    double planted_logloss;
    /* the same on the last holdout_fraction of the rows (0 rows and NaN when not asked) */
    int64_t holdout_rows;
    double holdout_auc;
    double holdout_logloss;
} dctr_synth_report;

DCTR_API void dctr_synth_options_default(dctr_synth_options *opts);
DCTR_API DCTR_NODISCARD dctr_status dctr_synth_generate(const dctr_synth_options *opts,
                                                       dctr_synth_report *report);

#ifdef __cplusplus
}
#endif
#endif
