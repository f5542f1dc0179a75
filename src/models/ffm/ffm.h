/* The FFM model family behind dctr_model (type DCTR_MODEL_FFM): its impl, the ops vtable, and the
 * helpers shared by the libffm-native trainer (native.c), the feature-column mapping
 * (columns.c) and serialization (io.c). */
#ifndef DCTR_MODELS_FFM_MODEL_H
#define DCTR_MODELS_FFM_MODEL_H

#include "core/pool.h"
#include "models/ffm/kernel.h"
#include "models/model_types.h"

/* How one schema column maps onto FFM fields and feature rows (feature-column path). */
typedef struct dctr_ffm_colmap {
    int32_t col;        /* schema column index */
    int32_t field;      /* FFM field of this column */
    int64_t offset;     /* first global feature row of its table / dense slots */
    int64_t rows;       /* vocabulary size (sparse/varlen) or dense dimension */
    int kind;           /* dctr_column_kind */
} dctr_ffm_colmap;

typedef struct dctr_ffm_deep dctr_ffm_deep; /* DeepFFM's DNN part (deep.c) */
typedef struct dctr_ffm_dist_ws dctr_ffm_dist_ws; /* training under a collective (dist.c) */

/* Per-thread buffers of the pooled form (columns.c): P[f][g] (m*m*kp floats) for the fields
 * present in the current row. */
typedef struct dctr_ffm_pooled {
    float *P;
    uint8_t *present; /* [m] */
    int32_t *fields;  /* [m]: the present fields, in first-seen order */
    int32_t nf;
} dctr_ffm_pooled;

typedef struct dctr_ffm_impl {
    dctr_ffm_weights w;
    int native;         /* libffm-native: no schema, predicts libffm data */
    int normalize;
    float eta, lambda;
    uint64_t seed;
    /* feature-column path */
    const dctr_schema *schema; /* the model's own schema (borrowed) */
    dctr_ffm_colmap *cols;
    int32_t ncols;
    int32_t max_nodes;  /* nodes per row upper bound */
    /* Rows run through the native pair kernels (dctr_ffm_score / dctr_ffm_update: no per-row
     * pooled matrix to fill) when every column is sparse or a 1-dimensional dense column (a row
     * has at most one node per field, where the pooled form IS libffm's pair loop: each block
     * meets one pair; only the float summation order differs from the pooled kernels), and
     * always for a libffm-native model (its rows are libffm rows: libffm's semantics). */
    int pair_kernel;
    dctr_ffm_node *scratch; /* [threads * max_nodes] train_step workspace */
    dctr_ffm_pooled *pooled; /* [threads] train_step workspace */
    dctr_ffm_deep *deep;  /* DCTR_MODEL_DEEPFFM only */
    dctr_ffm_dist_ws *dws; /* made by the first step under a collective (dist.c) */
    struct dctr_dist *save_dist; /* sharded, rank 0: set while a save streams rows (shard_io.c) */
    /* training threads */
    dctr_pool *pool;
    int32_t threads;
} dctr_ffm_impl;

/* Three model ops tables over the same impl (no type branches inside the ops): the
 * feature-column FFM (model.c), the libffm-native FFM (model.c: no dctr_batch predict/train, it
 * has no columns) and DeepFFM (deep.c). The ops they share: */
extern const dctr_model_ops dctr_ffm_ops, dctr_ffm_native_ops, dctr_deepffm_ops;
int dctr_ffm_family(const dctr_model *model); /* one of the three */
void dctr_ffm_op_free_impl(void *impl);
struct dctr_pool *dctr_ffm_op_training_pool(const dctr_model *model);
dctr_status dctr_ffm_op_snapshot(const dctr_model *model, void **state);
dctr_status dctr_ffm_op_restore(dctr_model *model, const void *state);
void dctr_ffm_op_snapshot_free(void *state);
int64_t dctr_ffm_op_num_parameters(const dctr_model *model);
int64_t dctr_ffm_op_parameter_bytes(const dctr_model *model);
int64_t dctr_ffm_op_optimizer_bytes(const dctr_model *model);
dctr_status dctr_ffm_op_set_threads(dctr_model *model, int32_t threads);
/* Those shared ops as designated initializers, for the three tables. */
#define DCTR_FFM_SHARED_OPS                                                                   \
    .free_impl = dctr_ffm_op_free_impl, .training_pool = dctr_ffm_op_training_pool,           \
    .snapshot = dctr_ffm_op_snapshot, .restore = dctr_ffm_op_restore,                         \
    .snapshot_free = dctr_ffm_op_snapshot_free, .num_parameters = dctr_ffm_op_num_parameters, \
    .parameter_bytes = dctr_ffm_op_parameter_bytes,                                           \
    .optimizer_bytes = dctr_ffm_op_optimizer_bytes, .set_threads = dctr_ffm_op_set_threads

/* A new libffm-native model with allocated (uninitialised) weights and its schema (maxlen[m]:
 * nodes per row of each field; see native_rows.c). */
dctr_status dctr_ffm_native_new(int32_t m, int64_t n, int32_t k, int use_linear, int normalize,
                                dctr_task task, const int32_t *maxlen, dctr_model **out);
/* native_rows.c: gives a libffm-native model (weights allocated) its synthesized schema and
 * column map; maxlen NULL = one node per field. */
dctr_status dctr_ffm_native_attach(dctr_model *model, const int32_t *maxlen);
/* Raises maxlen[f] (f < m) to the most nodes field f has in one row of d (capped at the
 * schema's maxlen limit). */
dctr_status dctr_ffm_field_maxlen(const dctr_ffm_data *d, int32_t m, int32_t *maxlen);
/* Frees a model this file family created when the generic dctr_model_free is not wanted. */
void dctr_ffm_model_destroy(dctr_model *model);

/* Metrics of FFM outputs t (native.c): labels binarised at > 0 (libffm's rule), then the shared
 * src/core/metrics.c; logloss exact from t. values[DCTR_METRIC_*]. */
dctr_status dctr_ffm_metrics(const float *t, const float *labels, int64_t n, int regression,
                             double values[DCTR_METRIC_COUNT]);

/* DCTR_ERR_STATE, saying what to do, when the model holds a shard of sharded tables and no fit
 * is running (`what`: the refused operation); DCTR_OK otherwise (shard.c). */
dctr_status dctr_ffm_shard_whole(const dctr_model *model, const char *what);
/* A sharded section's body after its head (shard_io.c, rank 0 while impl->save_dist is set):
 * the weights (acc 0) or accumulators of every row from their owners, then the linear part. */
dctr_status dctr_ffm_shard_produce(const dctr_ffm_impl *impl, int acc, dctr_cw_sink sink, void *sctx);

/* Section payloads "ffm.params" / "ffm.opt" (io.c). */
dctr_status dctr_ffm_save_sections(const dctr_model *model, dctr_container_writer *cw, int with_optimizer);
dctr_status dctr_ffm_load_sections(dctr_model *model, const dctr_container *c);

/* Feature-column path (columns.c): builds the field map from model->schema and the nodes of
 * one batch row. */
dctr_status dctr_ffm_columns_build(dctr_model *model, dctr_ffm_impl *impl, int64_t *num_features,
                                   int32_t *num_fields);
/* For the generic loader, BEFORE dctr_model_create allocates from a (possibly corrupted) schema:
 * DCTR_ERR_FORMAT unless the "ffm.params" section is large enough for the weights the schema and
 * config imply. OK for a schema-less (libffm-native) model. */
dctr_status dctr_ffm_check_sections(const dctr_schema *schema, const dctr_model_config *cfg,
                                    const dctr_container *c);
int32_t dctr_ffm_row_nodes(const dctr_ffm_impl *impl, const dctr_batch *batch, int64_t row,
                           dctr_ffm_node *nodes);

/* The pooled form of the feature-column path (columns.c): the row's FFM output (and, when
 * pairs is non-NULL, every field pair's value at dctr_ffm_pair_index), then the exact-gradient
 * AdaGrad update of its blocks given dphi/dpair (dpairs, or one kappa for every pair). */
dctr_status dctr_ffm_pooled_alloc(dctr_ffm_pooled *ps, int32_t m, int32_t kp);
void dctr_ffm_pooled_free(dctr_ffm_pooled *ps);
float dctr_ffm_pooled_forward(const dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n, float r,
                              dctr_ffm_pooled *ps, float *pairs);
void dctr_ffm_pooled_update(dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n, float r,
                            const dctr_ffm_pooled *ps, float kappa, const float *dpairs,
                            const dctr_ffm_step *st);

/* A row's instance normalisation r (1 when off) and its linear part with the bias (0 without
 * a linear term), model.c. */
float dctr_ffm_row_inv_norm(const dctr_ffm_impl *impl, const dctr_ffm_node *x, int32_t n);
float dctr_ffm_linear_of(const dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n);

/* The pooled gradient of node x (field f) toward field g: c P[g][f], with c returned and *other
 * = P[g][f] (dphi the pair's derivative: dpairs, or kappa for every pair). */
static inline float dctr_ffm_pooled_coef(const dctr_ffm_pooled *ps, int32_t m, int32_t kp, int32_t f,
                                         int32_t g, float r, float v, float kappa, const float *dpairs,
                                         const float **other) {
    float dphi = dpairs ? dpairs[f < g ? dctr_ffm_pair_index(m, f, g) : dctr_ffm_pair_index(m, g, f)] : kappa;
    *other = ps->P + ((size_t)g * (size_t)m + (size_t)f) * (size_t)kp;
    return dphi * r * v;
}

/* The AdaGrad step of the linear part and the bias given kappa (no-op without a linear term;
 * nodes outside the model skipped), model.c. */
void dctr_ffm_linear_update(dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n, float kappa,
                            const dctr_ffm_step *st);

/* DeepFFM (deep.c). */
dctr_status dctr_ffm_deep_init(dctr_model *model, dctr_ffm_impl *impl);
/* Before allocating from a model file: the "ffm.dnn" section can hold the DNN the config implies. */
dctr_status dctr_ffm_deep_check_section(const dctr_schema *s, const dctr_model_config *cfg,
                                        const dctr_container *c);
void dctr_ffm_deep_free(dctr_ffm_deep *d);
int64_t dctr_ffm_deep_num_params(const dctr_ffm_deep *d);
int64_t dctr_ffm_deep_state_floats(const dctr_ffm_deep *d); /* params + non-trainable state */
int64_t dctr_ffm_deep_opt_floats(const dctr_ffm_deep *d);
void dctr_ffm_deep_copy_out(const dctr_ffm_deep *d, float *dst);
void dctr_ffm_deep_copy_in(dctr_ffm_deep *d, const float *src);
dctr_status dctr_ffm_deep_save(const dctr_ffm_deep *d, dctr_container_writer *cw, int with_optimizer);
dctr_status dctr_ffm_deep_load(dctr_ffm_deep *d, const dctr_container *c);

#endif
