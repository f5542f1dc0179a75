/* Model quality (docs/quality.md): calibration after negative down-sampling, Platt scaling,
 * calibration metrics (expected calibration error, reliability table) and permutation feature
 * importance. Binary models only where a probability is involved. */
#ifndef DEEPCTR_QUALITY_H
#define DEEPCTR_QUALITY_H

#include "deepctr/common.h"
#include "deepctr/data.h"
#include "deepctr/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- negative down-sampling ---------------- */

/* Records that the model was trained on data whose negatives were kept with probability rate
 * (0 < rate <= 1; 1 = no down-sampling). Every predict path (dataset, batch, predictor, row,
 * typed arrays, logits) then returns the corrected probability p / (p + (1 - p) / rate), i.e.
 * logit + ln(rate). Saved with the model (files without it load with rate 1). Binary task only.
 * Set it after dctr_model_fit when the validation rows are down-sampled too: fit's validation
 * metrics use the model's predictions as they stand. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_set_negative_rate(dctr_model *model, double rate);
DCTR_API double dctr_model_get_negative_rate(const dctr_model *model);

/* A new dataset with every positive row (label > 0.5) of ds and each negative kept with
 * probability rate, decided by a generator seeded with seed (same seed, same rows). The rows
 * keep their order. */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_downsample_negatives(const dctr_dataset *ds, double rate,
                                                                     uint64_t seed, dctr_dataset **out);

/* ---------------- Platt scaling ---------------- */

/* Fits p = sigmoid(a * z + b) on the rows of valid, where z is the model's logit after the
 * negative-rate correction, by Newton's method on the (weighted) logloss, and stores a, b in the
 * model: every predict path applies them from then on, and the model file keeps them.
 * valid_negative_rate is the rate the validation rows' negatives were kept with (1 = rows of the
 * full distribution; the model's own rate when they were down-sampled like the training rows):
 * negatives weigh 1 / valid_negative_rate so the fit targets the full distribution. Replaces any
 * earlier scaling. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_calibrate_platt(dctr_model *model, const dctr_dataset *valid,
                                                              double valid_negative_rate);
/* 1 and *a, *b when the model applies Platt scaling, else 0 (a = 1, b = 0). */
DCTR_API int dctr_model_get_platt(const dctr_model *model, double *a, double *b);
/* Removes Platt scaling (the negative rate stays). */
DCTR_API void dctr_model_clear_platt(dctr_model *model);

/* Isotonic calibration: fits a non-decreasing map from the rate-corrected probability to the
 * observed rate on the rows of valid (pool adjacent violators, weighted as for Platt), stored in
 * the model (at most one point per distinct pooled block) and applied in every predict path by
 * linear interpolation, clamped to [1e-7, 1 - 1e-7] so the logit stays finite. Replaces Platt
 * scaling (and Platt replaces it). */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_calibrate_isotonic(dctr_model *model, const dctr_dataset *valid,
                                                                 double valid_negative_rate);
/* Number of isotonic points (0 = none); dctr_model_clear_isotonic removes them. */
DCTR_API int32_t dctr_model_isotonic_points(const dctr_model *model);
DCTR_API void dctr_model_clear_isotonic(dctr_model *model);

/* ---------------- calibration metrics ---------------- */

typedef struct dctr_reliability_bin {
    double lo, hi;          /* the bin's prediction range [lo, hi) (the last bin includes 1) */
    int64_t count;          /* rows in the bin */
    double weight;          /* sum of sample weights (= count without weights) */
    double mean_prediction; /* weighted mean prediction, NaN when empty */
    double observed_rate;   /* weighted positive rate, NaN when empty */
} dctr_reliability_bin;

/* Expected calibration error over nbins equal-width bins of [0, 1] (10 is customary):
 * sum over bins of weight/total * |mean_prediction - observed_rate|. bins may be NULL, else has
 * room for nbins. weights may be NULL (all 1). */
DCTR_API DCTR_NODISCARD dctr_status dctr_calibration_table(const float *labels, const float *pred,
                                                          const float *weights, int64_t n, int32_t nbins,
                                                          dctr_reliability_bin *bins, double *ece);
/* The same on a model's predictions for a labelled dataset. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_calibration(const dctr_model *model, const dctr_dataset *data,
                                                          int32_t nbins, dctr_reliability_bin *bins,
                                                          double *ece);

/* ---------------- permutation importance ---------------- */

typedef struct dctr_importance_options {
    uint32_t struct_size;
    int32_t repeats;   /* 3: shuffles per column (the results are means over them) */
    uint64_t seed;     /* 1 */
    int missing;       /* 1: also score each column set to its missing value */
} dctr_importance_options;
DCTR_API void dctr_importance_options_default(dctr_importance_options *opts);

typedef struct dctr_importance {
    const char *column;      /* borrowed from the model's schema */
    int32_t column_index;
    /* baseline metric minus metric with the column shuffled (AUC: drop, positive = important)
     * and metric shuffled minus baseline (logloss / MSE: rise, positive = important) */
    double auc_drop;         /* NaN for regression */
    double loss_rise;        /* logloss (binary) or MSE (regression) */
    double auc_drop_sd, loss_rise_sd; /* standard deviation over repeats (0 with one) */
    double missing_auc_drop; /* the same with the column set missing (NaN when not asked) */
    double missing_loss_rise;
} dctr_importance;

typedef struct dctr_importance_result {
    int32_t count;           /* one entry per schema column, sorted most important first
                                (by loss_rise, then auc_drop) */
    dctr_importance *items;
    double base_auc, base_loss;
} dctr_importance_result;

/* Permutation importance of every input column of the model on a labelled dataset: each column
 * in turn is shuffled across the rows (repeats times, seeded) and, with opts->missing, set to its
 * missing value; the model is scored each time. opts may be NULL (defaults). Free the result with
 * dctr_importance_result_free. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_permutation_importance(const dctr_model *model,
                                                                     const dctr_dataset *data,
                                                                     const dctr_importance_options *opts,
                                                                     dctr_importance_result *result);
DCTR_API void dctr_importance_result_free(dctr_importance_result *result);

/* ---------------- hyper-parameter search (docs/quality.md#tuning) ---------------- */

/* One configuration tried by dctr_tune. */
typedef struct dctr_tune_trial {
    int32_t id;               /* 0-based, in sampling order */
    dctr_model_type type;     /* LR, FM or DeepFM */
    dctr_optimizer_kind optimizer; /* Adagrad, or the recommended one for the first trials */
    double learning_rate;
    float l2_embedding;
    float dropout;            /* DeepFM */
    int use_bn;               /* DeepFM */
    int32_t hidden[3];        /* DeepFM layer sizes */
    int32_t num_hidden;       /* 0 for LR / FM */
    int32_t epochs;           /* epochs trained in all */
    int32_t rung;             /* last successive-halving round it took part in (0-based) */
    double valid_auc;         /* at its kept weights (NaN for regression) */
    double valid_loss;        /* logloss (binary) or MSE (regression) */
    double seconds;           /* training time in all */
} dctr_tune_trial;

typedef struct dctr_tune_options {
    uint32_t struct_size;
    int32_t max_trials;           /* 12: configurations sampled (the trial budget) */
    double time_budget_seconds;   /* 0 = none; else no training round starts after it */
    uint64_t seed;                /* 1: sampling and every model's seed */
    int32_t eta;                  /* 3: each round keeps the best 1/eta and gives it eta times the epochs */
    int32_t min_epochs;           /* 3: epochs of the first round */
    int32_t max_epochs;           /* 50: epochs of a trial in all (rounds of 3, 9, 27, 50) */
    int32_t batch_size;           /* 256 */
    int32_t threads;              /* 1 */
    uint32_t model_types;         /* bit (1u << type) per searched type; 0 = LR, FM and DeepFM */
    double validation_split;      /* 0.1 when valid is NULL (fit's Keras split) */
    /* called after every round of every trial (may be NULL) */
    void (*progress)(const dctr_tune_trial *trial, int32_t round, void *user);
    void *progress_user;
} dctr_tune_options;
DCTR_API void dctr_tune_options_default(dctr_tune_options *opts);

typedef struct dctr_tune_result {
    int32_t count;            /* trials run (<= max_trials) */
    dctr_tune_trial *trials;  /* [count], in id order */
    int32_t best;             /* index of the best trial */
    dctr_model *best_model;   /* the best trial's model (owned by the result) */
    dctr_model_config best_config; /* its configuration (hidden_units points into trials[best]) */
} dctr_tune_result;

/* Successive halving over model type, learning rate, L2, dropout, batch norm and DNN layers on
 * the schema's columns: max_trials configurations (the first ones are the recommended LR, FM and
 * DeepFM, which always go on) train min_epochs each, the best 1/eta of them (validation AUC, or
 * MSE for regression) go on to eta times the epochs, and so on up to max_epochs; each round stops
 * early after 4 epochs without improvement. A round that does not improve a trial keeps its
 * earlier weights. Deterministic for a seed (and thread count). `valid` may be
 * NULL (then the last validation_split of `train`). Free with dctr_tune_result_free. */
DCTR_API DCTR_NODISCARD dctr_status dctr_tune(const dctr_schema *schema, const dctr_dataset *train,
                                             const dctr_dataset *valid, dctr_task task,
                                             const dctr_tune_options *opts, dctr_tune_result *result);
DCTR_API void dctr_tune_result_free(dctr_tune_result *result);

#ifdef __cplusplus
}
#endif
#endif
