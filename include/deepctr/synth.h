/* The synthetic data generator: deterministic Criteo-shaped data with a planted model.
 * (Implemented by the input module; see docs/synthetic-data.md.) */
#ifndef DEEPCTR_SYNTH_H
#define DEEPCTR_SYNTH_H

#include "deepctr/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The planted model's structure (docs/synthetic-data.md). LEGACY is the original model (signal on
 * 5 frequent ids per column, FM over 4 small columns, non-linear dense terms); the others plant
 * signal on the first 1000 ids of every column, so rare-id regularisation matters. */
typedef enum dctr_synth_structure {
    DCTR_SYNTH_LEGACY = 0,
    DCTR_SYNTH_FIRST_ORDER = 1,    /* first-order terms only */
    DCTR_SYNTH_PAIRWISE = 2,       /* + pairwise terms in FM form (one vector per id) */
    DCTR_SYNTH_FIELD_PAIRWISE = 3, /* + field-aware pairwise terms (one vector per id and field) */
    DCTR_SYNTH_NONLINEAR = 4       /* + FM-form pairwise + non-linear terms (dense and 3-way) */
} dctr_synth_structure;

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
    int32_t structure;        /* dctr_synth_structure; default DCTR_SYNTH_LEGACY (same files as before) */
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
/* "legacy", "first-order", "pairwise", "field-pairwise", "nonlinear" -> structure; -1 if unknown. */
DCTR_API int32_t dctr_synth_structure_from_name(const char *name);
DCTR_API const char *dctr_synth_structure_name(int32_t structure);
DCTR_API DCTR_NODISCARD dctr_status dctr_synth_generate(const dctr_synth_options *opts,
                                                       dctr_synth_report *report);

#ifdef __cplusplus
}
#endif
#endif
