/* The libffm-native FFM path: read libffm text (`label field:index:value ...`), train a
 * field-aware factorization machine exactly as libffm does (AdaGrad with accumulators starting
 * at 1, per-update L2, weights uniform in [0, 1/sqrt(k)), instance normalisation, per-epoch
 * shuffle, auto-stop on validation logloss), in memory or streaming from disk, and predict.
 *
 *   dctr_ffm_data *tr, *va;
 *   dctr_ffm_data_read("tr.ffm", NULL, &tr); dctr_ffm_data_read("va.ffm", NULL, &va);
 *   dctr_ffm_options o; dctr_ffm_options_default(&o); o.auto_stop = 1;
 *   dctr_model *m; dctr_ffm_train(tr, va, &o, NULL, NULL, &m);
 *   dctr_model_save(m, "model.dctr", 0);
 *
 * The model is an ordinary dctr_model (type DCTR_MODEL_FFM): dctr_model_save / load / free,
 * dctr_model_predict / evaluate and a dctr_predictor work on it. Its schema (dctr_model_schema)
 * has one weighted varlen column per libffm field: "f<field>" holds the row's feature indices of
 * that field, its weight column "f<field>_val" their values (docs/ffm.md "The native model as a
 * dctr_model"); dctr_ffm_data_to_dataset turns libffm rows into such a dataset. Predict libffm
 * data directly with dctr_ffm_predict. */
#ifndef DEEPCTR_FFM_H
#define DEEPCTR_FFM_H

#include "deepctr/common.h"
#include "deepctr/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- libffm text data ---- */

typedef struct dctr_ffm_data dctr_ffm_data;

typedef struct dctr_libffm_options {
    uint32_t struct_size;
    size_t max_line_bytes;  /* default 1 MiB: a longer line is DCTR_ERR_LIMIT */
    int32_t max_fields;     /* default 65536: a field index >= this is DCTR_ERR_LIMIT */
    int64_t max_features;   /* default 2^31 - 1: a feature index >= this is DCTR_ERR_LIMIT */
    int skip_blank_lines;   /* default 1: blank lines are skipped (0: DCTR_ERR_PARSE) */
} dctr_libffm_options;
DCTR_API void dctr_libffm_options_default(dctr_libffm_options *opts);

/* Reads a whole libffm file into memory (CSR). Every malformed token is reported as
 * "path:line:column: what" with DCTR_ERR_PARSE (syntax), DCTR_ERR_RANGE (negative or too large
 * number), DCTR_ERR_NUMERIC (NaN/Inf) or DCTR_ERR_LIMIT (line / field caps). opts may be NULL. */
DCTR_API DCTR_NODISCARD dctr_status dctr_ffm_data_read(const char *path, const dctr_libffm_options *opts,
                                                      dctr_ffm_data **out);
/* The same from a text buffer; `name` stands for the file name in error messages. */
DCTR_API DCTR_NODISCARD dctr_status dctr_ffm_data_from_text(const char *text, size_t len, const char *name,
                                                           const dctr_libffm_options *opts,
                                                           dctr_ffm_data **out);
DCTR_API void dctr_ffm_data_free(dctr_ffm_data *data);
DCTR_API int64_t dctr_ffm_data_num_rows(const dctr_ffm_data *data);
DCTR_API int64_t dctr_ffm_data_num_nonzeros(const dctr_ffm_data *data);
/* max field index + 1 and max feature index + 1 over the rows (0 when empty). */
DCTR_API int32_t dctr_ffm_data_num_fields(const dctr_ffm_data *data);
DCTR_API int64_t dctr_ffm_data_num_features(const dctr_ffm_data *data);
/* The labels as written in the file ([num_rows], borrowed). */
DCTR_API const float *dctr_ffm_data_labels(const dctr_ffm_data *data);

/* ---- training ---- */

/* The libffm-native trainer's options. The model itself is described once, by dctr_model_config
 * (model.h), embedded as `model`; libffm's flags map onto it as
 *     -k K -> model.ffm_k          -r ETA -> model.optimizer.learning_rate (AdaGrad)
 *     -l L -> model.l2_embedding   --no-norm -> model.ffm_normalize = 0
 *     --linear -> model.ffm_linear (a linear term and a global bias, which libffm has not)
 *     model.task: binary (logloss; a label is positive when > 0) or regression (MSE)
 *     model.seed: weight init and shuffling
 * dctr_ffm_options_default puts libffm's defaults there (k 4, eta 0.2, lambda 2e-5,
 * normalisation on, no linear term, seed 1); the other dctr_model_config fields are unused.
 * ABI: since 0.2.0 (before: k, eta, lambda, normalize, use_linear, seed and task were fields of
 * this struct, repeating dctr_model_config). struct_size rejects a caller built against the
 * old layout. Fields are only ever added at the end. */
typedef struct dctr_ffm_options {
    uint32_t struct_size;
    dctr_model_config model; /* type DCTR_MODEL_FFM; see above */
    int32_t epochs;         /* default 15 (libffm -t) */
    int auto_stop;          /* default 0: stop when validation logloss rises, keep best epoch */
    int32_t threads;        /* default 1; above 1: per-thread copies merged every few thousand
                             * rows on a model up to 8 MB, Hogwild (like libffm -s) above */
    int shuffle;            /* default 1: shuffle the rows every epoch, the first one too */
    int64_t chunk_rows;     /* on-disk training: rows per chunk, default 65536 */
} dctr_ffm_options;
DCTR_API void dctr_ffm_options_default(dctr_ffm_options *opts);

/* What the epoch callback receives (metrics NaN when not computed). */
typedef struct dctr_ffm_epoch {
    int32_t epoch;          /* 1-based */
    int32_t epochs;
    double train_loss;      /* mean logloss (binary) or MSE (regression) of the training pass */
    double valid_loss;      /* validation logloss / MSE */
    double valid_auc;       /* validation AUC (binary) */
    double seconds;         /* training time of this epoch (wall clock) */
    double cpu_seconds;     /* CPU time of the process during that training pass (all threads) */
    int64_t rows;           /* training rows seen */
    int stopped;            /* auto-stop fired at this epoch: the previous epoch's model is kept */
} dctr_ffm_epoch;
/* Return nonzero to stop (training then returns DCTR_ERR_CANCELLED and no model). */
typedef int (*dctr_ffm_epoch_fn)(const dctr_ffm_epoch *epoch, void *user);

/* Trains on in-memory libffm data (valid may be NULL). The model's field/feature counts come
 * from the training data; unseen fields or features are skipped at prediction, as libffm. */
DCTR_API DCTR_NODISCARD dctr_status dctr_ffm_train(const dctr_ffm_data *train, const dctr_ffm_data *valid,
                                                  const dctr_ffm_options *opts, dctr_ffm_epoch_fn callback,
                                                  void *user, dctr_model **out);
/* Out-of-core training: one counting pass over the file, then every epoch streams it in chunks
 * of opts->chunk_rows rows (shuffled inside each chunk), so memory does not grow with the file.
 * valid_path may be NULL; it is streamed too. */
DCTR_API DCTR_NODISCARD dctr_status dctr_ffm_train_on_disk(const char *train_path, const char *valid_path,
                                                          const dctr_ffm_options *opts,
                                                          dctr_ffm_epoch_fn callback, void *user,
                                                          dctr_model **out);

/* ---- prediction ---- */

/* Probabilities (binary) or values (regression) for every row; out has room for the row count.
 * Thread-safe on a const model. */
DCTR_API DCTR_NODISCARD dctr_status dctr_ffm_predict(const dctr_model *model, const dctr_ffm_data *data,
                                                    float *out);
/* Metrics on labelled libffm data: values[DCTR_METRIC_*] (NaN where undefined). */
DCTR_API DCTR_NODISCARD dctr_status dctr_ffm_evaluate(const dctr_model *model, const dctr_ffm_data *data,
                                                     double values[DCTR_METRIC_COUNT]);
/* Streams a file through the model without loading it: predictions go to `out_path` (one per
 * line, "%.6g"; NULL = none), metrics to values (may be NULL), the row count to rows (may be
 * NULL). Memory stays bounded unless metrics are asked for (then 8 bytes per row). */
DCTR_API DCTR_NODISCARD dctr_status dctr_ffm_predict_file(const dctr_model *model, const char *data_path,
                                                         const char *out_path,
                                                         double values[DCTR_METRIC_COUNT], int64_t *rows);

/* libffm rows as a dataset of a libffm-native model's schema, for dctr_model_predict /
 * dctr_model_evaluate / a dctr_predictor (DCTR_ERR_UNSUPPORTED for another model). Scores equal
 * dctr_ffm_predict's bit for bit when every row lists its nodes by non-decreasing field (as libffm
 * files are written) and names no field >= the model's field count; otherwise the pair sum runs
 * in another order (a few float ulps) and such a field's values leave the instance norm. Binary
 * labels become 0/1 by libffm's rule (> 0 is positive). A row with more nodes in a field than the
 * model's column holds (the most one training row had) is DCTR_ERR_LIMIT. The dataset borrows
 * the model's schema: free it before the model. */
DCTR_API DCTR_NODISCARD dctr_status dctr_ffm_data_to_dataset(const dctr_model *model, const dctr_ffm_data *data,
                                                            dctr_dataset **out);

/* Model facts: 1 for a libffm-native model (trained by dctr_ffm_train*), its fields, features and k. */
DCTR_API int dctr_ffm_is_native(const dctr_model *model);
DCTR_API int32_t dctr_ffm_num_fields(const dctr_model *model);
DCTR_API int64_t dctr_ffm_num_features(const dctr_model *model);
DCTR_API int32_t dctr_ffm_k(const dctr_model *model);

#ifdef __cplusplus
}
#endif
#endif
