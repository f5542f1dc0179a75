/* Models (DeepFM, FM, LR, FFM, DeepFFM): build from a fitted schema and a config, fit with
 * validation / early stopping / progress, predict (thread-safe on a const model), evaluate,
 * save and load.
 *
 * Thread safety: dctr_model_predict* and dctr_model_evaluate take a const model and may be
 * called from many threads at once (each call uses its own workspace, or a dctr_predictor per
 * thread for zero allocation in the hot path). dctr_model_fit is single-caller and may use
 * threads internally. */
#ifndef DEEPCTR_MODEL_H
#define DEEPCTR_MODEL_H

#include "deepctr/common.h"
#include "deepctr/data.h"
#include "deepctr/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dctr_model dctr_model;
typedef struct dctr_predictor dctr_predictor;

typedef enum dctr_model_type {
    DCTR_MODEL_DEEPFM = 0,
    DCTR_MODEL_FM = 1,      /* linear + FM (DeepFM without the DNN) */
    DCTR_MODEL_LR = 2,      /* linear only */
    DCTR_MODEL_FFM = 3,     /* field-aware FM (+ optional linear term and bias) */
    DCTR_MODEL_DEEPFFM = 4  /* FFM interaction + DNN on the same columns */
} dctr_model_type;

typedef enum dctr_task { DCTR_TASK_BINARY = 0, DCTR_TASK_REGRESSION = 1 } dctr_task;

typedef enum dctr_activation {
    DCTR_ACT_RELU = 0,
    DCTR_ACT_SIGMOID = 1,
    DCTR_ACT_TANH = 2,
    DCTR_ACT_LINEAR = 3,
    DCTR_ACT_PRELU = 4,
    DCTR_ACT_DICE = 5
} dctr_activation;

typedef enum dctr_optimizer_kind {
    DCTR_OPT_ADAM = 0,    /* Keras defaults: lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7 */
    DCTR_OPT_ADAGRAD = 1, /* lr 1e-3, initial accumulator 0.1, eps 1e-7 */
    DCTR_OPT_SGD = 2,     /* lr 0.01, momentum 0 */
    DCTR_OPT_RMSPROP = 3, /* lr 1e-3, rho 0.9, eps 1e-7 */
    DCTR_OPT_FTRL = 4     /* lr 1e-3, lr_power -0.5, initial accumulator 0.1, l1 0, l2 0 */
} dctr_optimizer_kind;

typedef struct dctr_optimizer_config {
    uint32_t struct_size;
    dctr_optimizer_kind kind;
    double learning_rate;   /* <= 0: the kind's Keras default */
    double beta1, beta2;    /* Adam */
    double epsilon;
    double momentum;        /* SGD */
    double rho;             /* RMSprop */
    double initial_accumulator; /* Adagrad / FTRL */
    double l1, l2;          /* FTRL's own regularization */
    double lr_power;        /* FTRL */
    double clipnorm;        /* > 0: clip the global gradient norm */
} dctr_optimizer_config;
DCTR_API void dctr_optimizer_config_default(dctr_optimizer_config *cfg, dctr_optimizer_kind kind);

typedef struct dctr_model_config {
    uint32_t struct_size;
    dctr_model_type type;
    dctr_task task;
    /* Column names for the linear part and for the FM/DNN part; NULL = every column. */
    const char *const *linear_columns;
    int32_t num_linear_columns;
    const char *const *dnn_columns;
    int32_t num_dnn_columns;
    /* Group names entering FM; NULL = {"default_group"}. */
    const char *const *fm_groups;
    int32_t num_fm_groups;
    const int32_t *hidden_units;  /* NULL = DeepCTR's (256,128,64); with num_hidden 0 = none */
    int32_t num_hidden;           /* -1 = default */
    dctr_activation activation;   /* relu */
    int use_bn;                   /* 0 */
    float dropout;                /* 0 */
    float l2_linear;              /* 1e-5 */
    float l2_embedding;           /* 1e-5 */
    float l2_dnn;                 /* 0 */
    int use_bias;                 /* 1: global bias in the prediction layer */
    uint64_t seed;                /* 1024 */
    /* FFM / DeepFFM; also the libffm-native trainer's model settings (dctr_ffm_options.model,
     * ffm.h), with l2_embedding as libffm's lambda and optimizer.learning_rate as its eta */
    int32_t ffm_k;                /* 4 */
    int ffm_linear;               /* 1: add a linear term (libffm has none) */
    int ffm_normalize;            /* 1: instance-wise normalisation, as libffm */
    dctr_optimizer_config optimizer;
    /* Added after 0.1 (a caller built against the older, smaller struct gets these defaults). */
    float bn_eps;                 /* 1e-3 (Keras); 1e-5 = torch BatchNorm1d */
    float bn_momentum;            /* 0.99 (Keras): moving = m * moving + (1 - m) * batch; torch's 0.1 is 0.9 here */
    /* Added after bn_eps / bn_momentum. DeepFM / FM / LR: the linear part (its 1-wide tables and
     * dense kernel) trains at learning_rate x this; 1 = one rate for every part. */
    float linear_lr_scale;        /* 1 */
} dctr_model_config;
DCTR_API void dctr_model_config_default(dctr_model_config *cfg, dctr_model_type type);
/* Settings measured to beat the DeepCTR defaults on real data (docs/training.md §6), used by the
 * `deepctr` tool: DeepFM gets Adagrad lr 0.1 (2.5x on the linear part: linear_lr_scale 2.5), hidden
 * 128-128-128, batch norm, dropout 0.3 (the tool turns batch norm off for fewer than 100 batches
 * per epoch, docs/quality.md);
 * FM gets Adagrad lr 0.1; other types are dctr_model_config_default. Use embedding dim 10 for the columns and
 * dctr_fit_options_recommended for fit. */
DCTR_API void dctr_model_config_recommended(dctr_model_config *cfg, dctr_model_type type);

/* Builds a model for a validated, fitted schema (the model keeps its own copy of the schema). */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_new(const dctr_schema *schema, const dctr_model_config *cfg,
                                                  dctr_model **out);
DCTR_API void dctr_model_free(dctr_model *model);
DCTR_API const dctr_schema *dctr_model_schema(const dctr_model *model);
/* Type and task of a model; -1 for NULL. */
DCTR_API dctr_model_type dctr_model_get_type(const dctr_model *model);
DCTR_API dctr_task dctr_model_get_task(const dctr_model *model);
/* Number of trainable scalars; bytes of parameters and of optimizer state. */
DCTR_API int64_t dctr_model_num_parameters(const dctr_model *model);
DCTR_API int64_t dctr_model_parameter_bytes(const dctr_model *model);
DCTR_API int64_t dctr_model_optimizer_bytes(const dctr_model *model);

typedef enum dctr_metric {
    DCTR_METRIC_LOGLOSS = 0,
    DCTR_METRIC_AUC = 1,
    DCTR_METRIC_MSE = 2,
    DCTR_METRIC_RMSE = 3,
    DCTR_METRIC_ACCURACY = 4,
    DCTR_METRIC_LOSS = 5, /* the training objective: data loss (+ regularization loss) */
    DCTR_METRIC_COUNT = 6
} dctr_metric;

/* What a progress callback receives: per batch (phase 0) and at each epoch end (phase 1). */
typedef struct dctr_progress {
    int32_t epoch;            /* 1-based */
    int32_t epochs;
    int phase;                /* 0 = batch, 1 = epoch end */
    int64_t rows_done;        /* rows of this epoch done */
    int64_t rows_total;
    double samples_per_sec;
    double eta_seconds;
    double running_loss;      /* mean data loss of this epoch so far */
    double reg_loss;          /* regularization loss of the last batch */
    double seconds;           /* elapsed in this epoch */
    /* epoch end only: train and validation metrics (NaN when not computed) */
    double train[DCTR_METRIC_COUNT];
    double valid[DCTR_METRIC_COUNT];
    int improved;             /* epoch end: the monitored metric improved */
} dctr_progress;
/* Return nonzero to stop training (fit then returns DCTR_ERR_CANCELLED). */
typedef int (*dctr_progress_fn)(const dctr_progress *progress, void *user);

typedef struct dctr_fit_options {
    uint32_t struct_size;
    int32_t epochs;            /* 10 */
    int32_t batch_size;        /* 256 */
    int shuffle;               /* 1, seeded by shuffle_seed */
    uint64_t shuffle_seed;     /* 0 = the model's seed */
    double validation_split;   /* 0; last fraction of rows, before shuffling (Keras) */
    const dctr_dataset *validation; /* overrides validation_split */
    dctr_metric monitor;       /* early stopping metric on validation, default logloss/mse */
    int monitor_mode;          /* 0 = auto, -1 = min, +1 = max */
    int32_t patience;          /* 0 = no early stopping */
    double min_delta;          /* 0 */
    int restore_best;          /* 1 */
    const char *checkpoint_path; /* non-NULL: save the model (with optimizer state) each epoch */
    int32_t threads;           /* 1; 0 = all cores */
    int32_t progress_every;    /* batches between phase-0 callbacks; 0 = epoch ends only */
    dctr_progress_fn progress;
    void *progress_user;
} dctr_fit_options;
DCTR_API void dctr_fit_options_default(dctr_fit_options *opts);
/* Recommended fit settings (need validation data): up to 50 epochs, batch 256, early stopping
 * with patience 4 on validation AUC (binary) or MSE (regression), restoring the best epoch. */
DCTR_API void dctr_fit_options_recommended(dctr_fit_options *opts, dctr_task task);

/* One row of the returned history per epoch run. */
typedef struct dctr_history {
    int32_t epochs_run;
    int32_t best_epoch;        /* 1-based; the weights kept when restore_best */
    double *train;             /* [epochs_run * DCTR_METRIC_COUNT] */
    double *valid;             /* [epochs_run * DCTR_METRIC_COUNT], NaN when no validation */
    double *seconds;           /* [epochs_run] */
} dctr_history;
DCTR_API void dctr_history_free(dctr_history *history);

/* Trains on `train`. history may be NULL; otherwise it is filled (free with dctr_history_free).
 * A NaN/Inf loss stops training with DCTR_ERR_NUMERIC and the weights of the last good epoch.
 * DCTR_ERR_INVALID_ARG for options the CLI rejects too: validation_split outside [0, 1) or NaN,
 * threads < 0, min_delta NaN or < 0, patience > 0 without validation data. batch_size above the
 * training rows is treated as the row count. DCTR_ERR_NOMEM (before any step) when a DNN model's
 * OpenBLAS work buffers cannot fit in the address space (docs/reliability.md). */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_fit(dctr_model *model, const dctr_dataset *train,
                                                  const dctr_fit_options *opts,
                                                  dctr_history *history);

/* Predictions for every row of a dataset / batch: probability (binary) or value (regression).
 * out has room for the row count. Thread-safe on a const model. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_predict(const dctr_model *model, const dctr_dataset *data,
                                                      float *out);
DCTR_API DCTR_NODISCARD dctr_status dctr_model_predict_batch(const dctr_model *model, const dctr_batch *batch,
                                                            float *out);
/* Metrics over a labelled dataset: values[m] for every dctr_metric (NaN where not defined). */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_evaluate(const dctr_model *model, const dctr_dataset *data,
                                                       double values[DCTR_METRIC_COUNT]);

/* Serving: a predictor owns the workspace for one thread (create one per thread); predicting
 * through it never allocates. Batches of any size run in blocks of max_batch rows; max_batch
 * above 4096 is treated as 4096 (same results, bounded memory). */
DCTR_API DCTR_NODISCARD dctr_status dctr_predictor_new(const dctr_model *model, int32_t max_batch,
                                                      dctr_predictor **out);
DCTR_API void dctr_predictor_free(dctr_predictor *predictor);
DCTR_API DCTR_NODISCARD dctr_status dctr_predictor_run(dctr_predictor *predictor, const dctr_batch *batch,
                                                      float *out);
/* One raw row: names/values as CSV text fields; encoded with the model's fitted encoders. names may
 * be NULL: values then follow the header seen at fit time (or the schema's input order). With
 * names, every input column must be named (DCTR_ERR_SCHEMA names the first one left out, as
 * `deepctr predict` rejects a file without it); "" is a missing value. */
DCTR_API DCTR_NODISCARD dctr_status dctr_predictor_predict_row(dctr_predictor *predictor,
                                                              const char *const *names,
                                                              const char *const *values, int32_t count,
                                                              float *out);

/* Model file: versioned, checksummed, written atomically (temp file, fsync, rename).
 * with_optimizer stores the optimizer state too, so training can resume. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_save(const dctr_model *model, const char *path,
                                                   int with_optimizer);
DCTR_API DCTR_NODISCARD dctr_status dctr_model_load(const char *path, dctr_model **out);
DCTR_API DCTR_NODISCARD dctr_status dctr_model_save_to_memory(const dctr_model *model, int with_optimizer,
                                                             void **data, size_t *size);
DCTR_API DCTR_NODISCARD dctr_status dctr_model_load_from_memory(const void *data, size_t size,
                                                               dctr_model **out);
/* Frees memory returned by libdeepctr (e.g. dctr_model_save_to_memory). */
DCTR_API void dctr_free_buffer(void *data);


/* ---------------- state, metadata and lifetime (docs/api.md "Services") ---------------- */

/* 1 when the model's optimizer state holds something: the model was trained in this process, or
 * loaded from a file saved with with_optimizer = 1. (dctr_model_optimizer_bytes is the size the
 * state takes once training runs, present or not.) */
DCTR_API int dctr_model_has_optimizer_state(const dctr_model *model);
/* Epochs run by dctr_model_fit on this model, across save (with optimizer) + load. */
DCTR_API int64_t dctr_model_epochs_trained(const dctr_model *model);

/* Reference counting for hot swap: dctr_model_new / dctr_model_load return a model holding one
 * reference; dctr_model_retain adds one; dctr_model_free drops one and frees the model at zero.
 * Each dctr_predictor holds a reference of its own, so a service may load a new model, point new
 * requests at it, and call dctr_model_free on the old one at once: the old model lives until its
 * last predictor is freed. Retain / free are thread-safe (atomic); using a model after your own
 * last reference is gone is not. Returns model. */
DCTR_API dctr_model *dctr_model_retain(dctr_model *model);

/* User key/value metadata (UTF-8 strings, < 1 MiB each, at most 4096 keys), saved with the model
 * and restored by load. value NULL removes the key. Not thread-safe against concurrent readers
 * of the same model. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_set_metadata(dctr_model *model, const char *key,
                                                           const char *value);
/* The value of a key (borrowed, valid until the key is changed or the model freed), or NULL. */
DCTR_API const char *dctr_model_get_metadata(const dctr_model *model, const char *key);
DCTR_API int32_t dctr_model_metadata_count(const dctr_model *model);
/* Key i (0 <= i < count) in insertion order, or NULL. */
DCTR_API const char *dctr_model_metadata_key(const dctr_model *model, int32_t i);

#ifdef __cplusplus
}
#endif
#endif
