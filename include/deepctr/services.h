/* For services and data scientists (docs/api.md "Services"): datasets and encoders from caller
 * arrays in memory (also appended in chunks), typed serving (ids and numbers by column index,
 * probability and raw logit), embedding tables (get / set / export), and a loaded model's
 * configuration.
 *
 * Arrays are columnar: one dctr_array_column per schema column, with the values of every row.
 * A value goes through exactly the encoder the CSV reader uses for the same field: an int64 id
 * is the integer the CSV field would hold, a string the field's text; so a model scores array
 * rows exactly as it scores the same rows read from a file. */
#ifndef DEEPCTR_SERVICES_H
#define DEEPCTR_SERVICES_H

#include "deepctr/common.h"
#include "deepctr/data.h"
#include "deepctr/model.h"
#include "deepctr/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values of one column for num_rows rows. Give exactly one of ids / strings (sparse,
 * varlen) or values (dense). */
typedef struct dctr_array_column {
    int32_t column;              /* schema column index; -1: look `name` up (once per call) */
    const char *name;
    /* sparse: [num_rows]; varlen: [offsets[num_rows]] (row r: [offsets[r], offsets[r + 1])) */
    const int64_t *ids;          /* integer values (dtype int, or hashed / looked up as text) */
    const char *const *strings;  /* text values; NULL or "" = missing (sparse) */
    const int64_t *offsets;      /* varlen only: [num_rows + 1], offsets[0] = 0 */
    const float *weights;        /* varlen with a weight column: one per value (NULL = 1) */
    /* dense: [num_rows * dimension]; NaN = missing (the column's fill_value) */
    const float *values;
} dctr_array_column;

typedef struct dctr_arrays {
    uint32_t struct_size;        /* set by dctr_arrays_init */
    int64_t num_rows;
    const dctr_array_column *columns; /* every schema column once, any order */
    int32_t num_columns;
    const float *labels;         /* [num_rows], or NULL (labels 0: prediction) */
    const float *sample_weights; /* [num_rows], or NULL (1) */
} dctr_arrays;
DCTR_API void dctr_arrays_init(dctr_arrays *arrays);

/* Fits the schema's encoders (vocabularies, dense statistics) on arrays and freezes it, as
 * dctr_schema_fit_csv does on a file. */
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_fit_arrays(dctr_schema *schema, const dctr_arrays *arrays);

/* An encoded dataset of the arrays' rows (copied: the arrays may be freed afterwards). */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_from_arrays(const dctr_schema *schema,
                                                            const dctr_arrays *arrays,
                                                            dctr_dataset **out);
/* Streaming ingestion (like LightGBM's PushRows): an empty dataset, then chunks appended in
 * order. Appending to a dataset that dctr_dataset_split_tail has split, or that was loaded
 * from a cache, is DCTR_ERR_STATE. On error the dataset keeps the rows it had before the call. */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_new_empty(const dctr_schema *schema, dctr_dataset **out);
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_append_arrays(dctr_dataset *ds, const dctr_arrays *arrays);

/* Keras's class_weight for binary labels: each row's sample weight is multiplied by weight0
 * (label 0) or weight1 (label 1); a dataset without sample weights gets them (1) first. Call it
 * on a whole dataset before splitting it (DCTR_ERR_STATE for a split or cache-loaded one). */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_apply_class_weights(dctr_dataset *ds, float weight0,
                                                                    float weight1);

/* Typed serving: predicts the arrays' rows (labels ignored). prob gets probabilities (binary)
 * or values (regression); logit (may be NULL) the raw output before the sigmoid (regression:
 * the value). Both have num_rows entries. Any number of rows: larger than the predictor's
 * max_batch runs in chunks. No allocation after the first call of a predictor. */
DCTR_API DCTR_NODISCARD dctr_status dctr_predictor_predict_arrays(dctr_predictor *predictor,
                                                                 const dctr_arrays *rows,
                                                                 float *prob, float *logit);
/* The same for an encoded batch (dctr_batch_* filled by the caller). */
DCTR_API DCTR_NODISCARD dctr_status dctr_predictor_run_logit(dctr_predictor *predictor,
                                                            const dctr_batch *batch, float *prob,
                                                            float *logit);

/* Embedding tables (the schema's tables: one per embedding_name). Rows are ids (row 0 is the
 * padding / OOV row where the column has one). Setting is not thread-safe against concurrent
 * predictions with the same model. DeepFM / FM only (DCTR_ERR_UNSUPPORTED otherwise, or when
 * the table has no embedding in the model, e.g. LR). */
DCTR_API int32_t dctr_model_num_tables(const dctr_model *model);
DCTR_API const char *dctr_model_table_name(const dctr_model *model, int32_t table);
/* Index of a table by embedding name, or -1. */
DCTR_API int32_t dctr_model_find_table(const dctr_model *model, const char *name);
DCTR_API DCTR_NODISCARD dctr_status dctr_model_table_shape(const dctr_model *model, int32_t table,
                                                          int64_t *rows, int32_t *dim);
/* Rows [first, first + count) into / from out[count * dim], row-major. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_get_embeddings(const dctr_model *model, int32_t table,
                                                             int64_t first, int64_t count, float *out);
DCTR_API DCTR_NODISCARD dctr_status dctr_model_set_embeddings(dctr_model *model, int32_t table,
                                                             int64_t first, int64_t count,
                                                             const float *values);
/* A TSV file, one line per id: "id<TAB>value<TAB>v1<TAB>...<TAB>vdim", where value is the
 * fitted or vocabulary-file key of the id ("" for hashed / raw ids, OOV and padding rows). */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_export_embeddings_tsv(const dctr_model *model, int32_t table,
                                                                    const char *path);

/* The loaded model's configuration (lists borrowed from the model, valid while it lives). */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_get_config(const dctr_model *model, dctr_model_config *out);
/* The model file format version this build writes (the container's). */
DCTR_API uint32_t dctr_model_format_version(void);


/* ---------------- named tensors (docs/api.md "Named tensors") ---------------- */

/* Every parameter and non-trainable state array of a DeepFM / FM / LR model under a stable name
 * (0 for other families), so a converter can read or set a whole model: "embedding/<table>"
 * [V x k], "linear/<table>" [V x 1], "linear/dense_kernel" [dense width x 1], per DNN layer i
 * "dnn/<i>/kernel" [in x out] (Keras layout), "dnn/<i>/bias", "dnn/<i>/gamma", "dnn/<i>/beta",
 * "dnn/<i>/moving_mean", "dnn/<i>/moving_variance" (batch norm), "dnn/<i>/alpha" (PReLU / Dice),
 * "dnn/<i>/dice_mean", "dnn/<i>/dice_variance" (all [units x 1]), "output/kernel" [h x 1] and
 * "bias" [1 x 1]. Order: as listed, tables in schema table order. */
DCTR_API int32_t dctr_model_num_tensors(const dctr_model *model);
/* Name of tensor i (borrowed from the model), or NULL when out of range. */
DCTR_API const char *dctr_model_tensor_name(const dctr_model *model, int32_t i);
/* Shape of a tensor by name (DCTR_ERR_RANGE naming it when the model has no such tensor). */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_tensor_shape(const dctr_model *model, const char *name,
                                                           int64_t *rows, int64_t *cols);
/* All rows * cols values, row-major; count must be exactly rows * cols (DCTR_ERR_INVALID_ARG
 * giving both otherwise). Set refuses NaN / Inf (DCTR_ERR_NUMERIC) and a negative moving
 * variance (DCTR_ERR_RANGE), changing nothing then. Setting is not thread-safe against
 * concurrent predictions with the same model. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_get_tensor(const dctr_model *model, const char *name,
                                                         float *out, int64_t count);
DCTR_API DCTR_NODISCARD dctr_status dctr_model_set_tensor(dctr_model *model, const char *name,
                                                         const float *values, int64_t count);

#ifdef __cplusplus
}
#endif
#endif
