/* The generic model: config defaults and validation against the schema, dispatch to a family
 * (DeepFM/FM/LR or FFM/DeepFFM), accessors, predict / evaluate, and per-thread predictors. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/checked.h"
#include "core/error.h"
#include "feature/schema_types.h"
#include "models/model_internal.h"
#include "core/metrics.h"

#define PREDICT_CHUNK 1024

void dctr_model_config_default(dctr_model_config *cfg, dctr_model_type type) {
    if (!cfg)
        return;
    *cfg = (dctr_model_config){0};
    cfg->struct_size = (uint32_t)sizeof(*cfg);
    cfg->type = type;
    cfg->task = DCTR_TASK_BINARY;
    cfg->num_hidden = -1;
    cfg->activation = DCTR_ACT_RELU;
    cfg->l2_linear = 1e-5f;
    cfg->l2_embedding = 1e-5f;
    cfg->l2_dnn = 0.0f;
    cfg->use_bias = 1;
    cfg->seed = 1024;
    cfg->ffm_k = 4;
    cfg->ffm_linear = 1;
    cfg->ffm_normalize = 1;
    cfg->bn_eps = 1e-3f;
    cfg->bn_momentum = 0.99f;
    cfg->linear_lr_scale = 1.0f;
    if (type == DCTR_MODEL_FFM || type == DCTR_MODEL_DEEPFFM) {
        /* libffm: AdaGrad, eta 0.2, accumulators start at 1 */
        dctr_optimizer_config_default(&cfg->optimizer, DCTR_OPT_ADAGRAD);
        cfg->optimizer.learning_rate = 0.2;
        cfg->optimizer.initial_accumulator = 1.0;
    } else {
        dctr_optimizer_config_default(&cfg->optimizer, DCTR_OPT_ADAM);
    }
}

void dctr_model_config_recommended(dctr_model_config *cfg, dctr_model_type type) {
    static const int32_t hidden[3] = {128, 128, 128};
    dctr_model_config_default(cfg, type);
    if (!cfg)
        return;
    if (type == DCTR_MODEL_FM) {
        /* frappe: test AUC 0.927 vs 0.924 with Adam 1e-3 */
        dctr_optimizer_config_default(&cfg->optimizer, DCTR_OPT_ADAGRAD);
        cfg->optimizer.learning_rate = 0.1;
        return;
    }
    if (type != DCTR_MODEL_DEEPFM)
        return;
    /* frappe, 10-dim embeddings: test AUC 0.946 (mean of 3 seeds) vs 0.924 with the defaults.
     * Adagrad 0.1, FM's rate: at 0.02 the embeddings of heavy-tailed data learn too slowly and
     * DeepFM falls 0.013 AUC behind FM on pairwise-only data (docs/quality.md). */
    dctr_optimizer_config_default(&cfg->optimizer, DCTR_OPT_ADAGRAD);
    cfg->optimizer.learning_rate = 0.1;
    /* The linear part at 2.5x that rate: its weights (rare ids: effectively SGD at lr / sqrt(0.1))
     * otherwise still learn when the embeddings have begun to overfit and early stopping ends the
     * fit (first-order and pairwise cells of the quality matrix; frappe level; docs/quality.md). */
    cfg->linear_lr_scale = 2.5f;
    cfg->hidden_units = hidden;
    cfg->num_hidden = 3;
    cfg->use_bn = 1;
    cfg->dropout = 0.3f;
}

/* ---------------- config copy ---------------- */

static void free_names(const char *const *names, int32_t n) {
    if (!names)
        return;
    for (int32_t i = 0; i < n; i++)
        dctr_free((void *)names[i]);
    dctr_free((void *)names);
}

void dctr_model_config_release(dctr_model_config *cfg) {
    free_names(cfg->linear_columns, cfg->num_linear_columns);
    free_names(cfg->dnn_columns, cfg->num_dnn_columns);
    free_names(cfg->fm_groups, cfg->num_fm_groups);
    dctr_free((void *)cfg->hidden_units);
    cfg->linear_columns = cfg->dnn_columns = cfg->fm_groups = NULL;
    cfg->hidden_units = NULL;
}

static dctr_status copy_names(const char *const *src, int32_t n, const char *const **dst) {
    *dst = NULL;
    if (!src)
        return DCTR_OK;
    if (n < 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: negative list length %d", n);
    char **out = dctr_calloc((size_t)n + 1, sizeof(char *));
    if (!out)
        return DCTR_ERR_NOMEM;
    for (int32_t i = 0; i < n; i++) {
        if (!src[i]) {
            free_names((const char *const *)out, n);
            return dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: NULL name at %d", i);
        }
        out[i] = dctr_strdup(src[i]);
        if (!out[i]) {
            free_names((const char *const *)out, n);
            return DCTR_ERR_NOMEM;
        }
    }
    *dst = (const char *const *)out;
    return DCTR_OK;
}

dctr_status dctr_model_config_copy(const dctr_model_config *src, dctr_model_config *dst) {
    *dst = *src;
    dst->linear_columns = dst->dnn_columns = dst->fm_groups = NULL;
    dst->hidden_units = NULL;
    dctr_status st = copy_names(src->linear_columns, src->num_linear_columns, &dst->linear_columns);
    if (st == DCTR_OK)
        st = copy_names(src->dnn_columns, src->num_dnn_columns, &dst->dnn_columns);
    if (st == DCTR_OK)
        st = copy_names(src->fm_groups, src->num_fm_groups, &dst->fm_groups);
    if (st == DCTR_OK && src->hidden_units && src->num_hidden > 0) {
        int32_t *h = dctr_calloc((size_t)src->num_hidden, sizeof(int32_t));
        if (!h)
            st = DCTR_ERR_NOMEM;
        else {
            memcpy(h, src->hidden_units, sizeof(int32_t) * (size_t)src->num_hidden);
            dst->hidden_units = h;
        }
    }
    if (st == DCTR_OK && !src->hidden_units && src->num_hidden > 0)
        st = dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: num_hidden %d without hidden_units",
                            src->num_hidden);
    if (st != DCTR_OK)
        dctr_model_config_release(dst);
    if (!dst->linear_columns)
        dst->num_linear_columns = 0;
    if (!dst->dnn_columns)
        dst->num_dnn_columns = 0;
    if (!dst->fm_groups)
        dst->num_fm_groups = 0;
    return st;
}

/* ---------------- validation ---------------- */

static dctr_status check_columns(const dctr_schema *s, const char *const *names, int32_t n,
                                 const char *what) {
    for (int32_t i = 0; names && i < n; i++)
        if (dctr_schema_find(s, names[i]) < 0)
            return dctr_set_error(DCTR_ERR_SCHEMA, "model config: unknown column '%s' in %s",
                                  names[i], what);
    return DCTR_OK;
}

static int listed(const char *name, const char *const *list, int32_t n) {
    if (!list)
        return 1;
    for (int32_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* Every FM group's columns must share one embedding dim (reference §1.8). */
static dctr_status check_fm_groups(const dctr_schema *s, const dctr_model_config *cfg) {
    const char *dflt[1] = {"default_group"};
    const char *const *groups = cfg->fm_groups ? cfg->fm_groups : dflt;
    int32_t ng = cfg->fm_groups ? cfg->num_fm_groups : 1;
    for (int32_t g = 0; g < ng; g++) {
        int32_t gi = -1;
        for (int32_t j = 0; j < s->ngroups; j++)
            if (strcmp(s->groups[j], groups[g]) == 0)
                gi = j;
        if (gi < 0) {
            if (cfg->fm_groups)
                return dctr_set_error(DCTR_ERR_SCHEMA,
                                      "model config: fm group '%s' has no sparse or varlen column",
                                      groups[g]);
            continue;
        }
        const dctr_column *first = NULL;
        for (int32_t c = 0; c < s->ncols; c++) {
            const dctr_column *col = &s->cols[c];
            if (col->kind == DCTR_COLUMN_DENSE || col->group != gi ||
                !listed(col->name, cfg->dnn_columns, cfg->num_dnn_columns))
                continue;
            if (!first)
                first = col;
            else if (col->dim != first->dim)
                return dctr_set_error(DCTR_ERR_SCHEMA,
                                      "fm group '%s': column '%s' has embedding_dim %d but '%s' has %d "
                                      "(FM needs one k per group: put them in different group_name)",
                                      groups[g], first->name, first->dim, col->name, col->dim);
        }
    }
    return DCTR_OK;
}

static dctr_status check_config(const dctr_schema *s, const dctr_model_config *cfg) {
    if ((int)cfg->type < DCTR_MODEL_DEEPFM || (int)cfg->type > DCTR_MODEL_DEEPFFM)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: unknown model type %d", (int)cfg->type);
    if (cfg->task != DCTR_TASK_BINARY && cfg->task != DCTR_TASK_REGRESSION)
        return dctr_set_error(DCTR_ERR_SCHEMA, "model config: task %d is not binary or regression",
                              (int)cfg->task);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: dropout %g not in [0, 1)",
                              (double)cfg->dropout);
    if (!(cfg->bn_eps > 0.0f && cfg->bn_momentum >= 0.0f && cfg->bn_momentum <= 1.0f))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: bn_eps %g must be > 0 and bn_momentum %g in [0, 1]",
                              (double)cfg->bn_eps, (double)cfg->bn_momentum);
    if (!(cfg->linear_lr_scale > 0.0f && cfg->linear_lr_scale <= 1e6f))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: linear_lr_scale %g not in (0, 1e6]",
                              (double)cfg->linear_lr_scale);
    if (!(cfg->l2_linear >= 0 && cfg->l2_embedding >= 0 && cfg->l2_dnn >= 0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: negative l2");
    for (int32_t i = 0; cfg->hidden_units && i < cfg->num_hidden; i++)
        if (cfg->hidden_units[i] <= 0)
            return dctr_set_error(DCTR_ERR_INVALID_ARG, "model config: hidden layer %d has %d units",
                                  i, cfg->hidden_units[i]);
    DCTR_TRY(check_columns(s, cfg->linear_columns, cfg->num_linear_columns, "linear_columns"));
    DCTR_TRY(check_columns(s, cfg->dnn_columns, cfg->num_dnn_columns, "dnn_columns"));
    if (cfg->type == DCTR_MODEL_DEEPFM || cfg->type == DCTR_MODEL_FM)
        DCTR_TRY(check_fm_groups(s, cfg));
    return DCTR_OK;
}

/* ---------------- lifecycle ---------------- */

dctr_status dctr_model_create(const dctr_schema *schema, const dctr_model_config *cfg,
                              dctr_schema *owned_schema, int64_t load_param_cap, dctr_model **out) {
    return dctr_model_create_shard(schema, cfg, owned_schema, load_param_cap, 0, 0, out);
}

dctr_status dctr_model_create_shard(const dctr_schema *schema, const dctr_model_config *cfg,
                                    dctr_schema *owned_schema, int64_t load_param_cap,
                                    int32_t shard_rank, int32_t shard_size, dctr_model **out) {
    dctr_model *m = dctr_calloc(1, sizeof(*m));
    if (!m) {
        dctr_schema_free(owned_schema);
        return DCTR_ERR_NOMEM;
    }
    m->shard_rank = shard_rank; /* before the family allocates its tables */
    m->shard_size = shard_size;
    m->schema = owned_schema;
    m->load_param_cap = load_param_cap;
    m->refcount = 1;
    dctr_status st = DCTR_OK;
    if (!m->schema && schema) /* a libffm-native FFM model has no schema */
        st = dctr_schema_clone(schema, &m->schema);
    /* Every model family indexes tables and groups that only a validated, fitted schema has;
     * checked here so the loader (which builds from a file's schema) is covered too. */
    if (st == DCTR_OK && m->schema && (!m->schema->validated || !m->schema->fitted))
        st = dctr_set_error(DCTR_ERR_SCHEMA, "the model's schema is not validated and fitted");
    if (st == DCTR_OK && m->schema)
        st = check_config(m->schema, cfg);
    if (st == DCTR_OK)
        st = dctr_model_config_copy(cfg, &m->cfg);
    if (st == DCTR_OK) {
        m->type = cfg->type;
        m->task = cfg->task;
        if (cfg->type == DCTR_MODEL_FFM || cfg->type == DCTR_MODEL_DEEPFFM)
            st = dctr_ffm_init(m);
        else
            st = dctr_deepfm_init(m);
    }
    if (st != DCTR_OK) {
        dctr_model_free(m);
        return st;
    }
    m->load_param_cap = 0;
    *out = m;
    return DCTR_OK;
}

dctr_status dctr_model_new(const dctr_schema *schema, const dctr_model_config *cfg, dctr_model **out) {
    return dctr_model_new_shard(schema, cfg, 0, 0, out);
}

dctr_status dctr_model_new_shard(const dctr_schema *schema, const dctr_model_config *cfg,
                                 int32_t shard_rank, int32_t shard_size, dctr_model **out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_new: out is NULL");
    *out = NULL;
    if (!schema || !cfg)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_new: NULL schema or config");
    if (cfg->struct_size != sizeof(*cfg) && cfg->struct_size != DCTR_MODEL_CONFIG_SIZE_V1 &&
        cfg->struct_size != DCTR_MODEL_CONFIG_SIZE_V2)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_model_new: config struct_size %u (expected %zu): call "
                              "dctr_model_config_default first", cfg->struct_size, sizeof(*cfg));
    if (!schema->validated || !schema->fitted)
        return dctr_set_error(DCTR_ERR_STATE,
                              "dctr_model_new: the schema must be validated and fitted first");
    /* a caller built against the older struct: its fields, the defaults for the rest */
    dctr_model_config full;
    dctr_model_config_default(&full, cfg->type);
    memcpy(&full, cfg, cfg->struct_size);
    full.struct_size = (uint32_t)sizeof(full);
    return dctr_model_create_shard(schema, &full, NULL, 0, shard_rank, shard_size, out);
}

void dctr_model_free(dctr_model *model) {
    if (!model)
        return;
    /* other holders (predictors, dctr_model_retain) keep it alive: see include/deepctr/model.h */
    if (__atomic_sub_fetch(&model->refcount, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    dctr_model_kv_release(model);
    dctr_model_calib_release(model);
    if (model->ops && model->ops->free_impl)
        model->ops->free_impl(model->impl);
    dctr_model_config_release(&model->cfg);
    dctr_schema_free(model->schema);
    dctr_free(model);
}

const dctr_schema *dctr_model_schema(const dctr_model *model) { return model ? model->schema : NULL; }
dctr_model_type dctr_model_get_type(const dctr_model *model) {
    return model ? model->type : (dctr_model_type)-1;
}
dctr_task dctr_model_get_task(const dctr_model *model) { return model ? model->task : (dctr_task)-1; }

int64_t dctr_model_num_parameters(const dctr_model *model) {
    return model && model->ops->num_parameters ? model->ops->num_parameters(model) : 0;
}
int64_t dctr_model_parameter_bytes(const dctr_model *model) {
    return model && model->ops->parameter_bytes ? model->ops->parameter_bytes(model) : 0;
}
int64_t dctr_model_optimizer_bytes(const dctr_model *model) {
    return model && model->ops->optimizer_bytes ? model->ops->optimizer_bytes(model) : 0;
}

/* ---------------- predict / evaluate ---------------- */

static dctr_status check_batch(const dctr_model *model, const dctr_batch *b) {
    if (!b)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "predict: NULL batch");
    /* a schema-less model (libffm-native FFM) has no columns to compare: its ops refuse batches */
    if (b->schema && model->schema && b->schema != model->schema &&
        b->schema->ncols != model->schema->ncols)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "predict: batch has %d columns, the model's schema %d",
                              b->schema->ncols, model->schema->ncols);
    return DCTR_OK;
}

/* Every predict goes through here: a finite input can still overflow inside a model (huge dense
 * values, extreme weights); such a row is an error with its index, never a NaN returned as OK. */
static dctr_status run_predict(const dctr_model *model, void *ws, const dctr_batch *batch,
                               float *out) {
    DCTR_TRY(model->ops->predict(model, ws, batch, out));
    if (dctr_model_calib_active(model))
        dctr_model_calib_apply(model, batch->n, out, NULL);
    for (int64_t i = 0; i < batch->n; i++)
        if (!isfinite(out[i]))
            return dctr_set_error(DCTR_ERR_NUMERIC,
                                  "prediction of row %lld is not finite: the input values "
                                  "overflow the model's arithmetic",
                                  (long long)i);
    return DCTR_OK;
}

/* Predicts `all` in chunks of cap rows through one workspace; `view` (initialised with
 * dctr_batch_view_init) is only needed when all->n > cap. */
static dctr_status predict_rows(const dctr_model *model, void *ws, int64_t cap, const dctr_batch *all,
                                dctr_batch *view, float *out) {
    if (all->n <= cap)
        return run_predict(model, ws, all, out);
    for (int64_t start = 0; start < all->n; start += cap) {
        int64_t cnt = all->n - start < cap ? all->n - start : cap;
        dctr_batch_view(all, start, cnt, view);
        DCTR_TRY(run_predict(model, ws, view, out + start));
    }
    return DCTR_OK;
}

dctr_status dctr_model_predict_batch(const dctr_model *model, const dctr_batch *batch, float *out) {
    if (!model || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_predict_batch: NULL argument");
    DCTR_TRY(check_batch(model, batch));
    if (batch->n == 0)
        return DCTR_OK;
    int64_t cap = batch->n < PREDICT_CHUNK ? batch->n : PREDICT_CHUNK;
    void *ws = NULL;
    dctr_batch view;
    memset(&view, 0, sizeof(view));
    DCTR_TRY(model->ops->workspace_new(model, (int32_t)cap, &ws));
    dctr_status st = DCTR_OK;
    if (batch->n > cap)
        st = dctr_batch_view_init(&view, batch->schema ? batch->schema : model->schema);
    if (st == DCTR_OK)
        st = predict_rows(model, ws, cap, batch, &view, out);
    dctr_batch_view_release(&view);
    model->ops->workspace_free(ws);
    return st;
}

dctr_status dctr_model_predict(const dctr_model *model, const dctr_dataset *data, float *out) {
    if (!model || !data || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_predict: NULL argument");
    return dctr_model_predict_batch(model, dctr_dataset_rows(data), out);
}

dctr_status dctr_model_evaluate_batch(const dctr_model *model, const dctr_batch *rows, float *pred,
                                      double values[DCTR_METRIC_COUNT]) {
    DCTR_TRY(dctr_model_predict_batch(model, rows, pred));
    DCTR_TRY(dctr_metrics_all(model->task, rows->labels, pred, rows->sample_weights, rows->n, values));
    values[DCTR_METRIC_LOSS] = model->task == DCTR_TASK_BINARY ? values[DCTR_METRIC_LOGLOSS]
                                                               : values[DCTR_METRIC_MSE];
    return DCTR_OK;
}

dctr_status dctr_model_evaluate(const dctr_model *model, const dctr_dataset *data,
                                double values[DCTR_METRIC_COUNT]) {
    if (!model || !data || !values)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_evaluate: NULL argument");
    const dctr_batch *rows = dctr_dataset_rows(data);
    for (int m = 0; m < DCTR_METRIC_COUNT; m++)
        values[m] = NAN;
    if (rows->n == 0)
        return DCTR_OK;
    float *pred = dctr_alloc_floats((size_t)rows->n);
    if (!pred)
        return DCTR_ERR_NOMEM;
    dctr_status st = dctr_model_evaluate_batch(model, rows, pred, values);
    dctr_aligned_free(pred);
    return st;
}

/* ---------------- predictor (serving) ---------------- */

struct dctr_predictor {
    const dctr_model *model;
    void *ws;
    int32_t max_batch;
    dctr_batch *row; /* one-row batch for predict_row */
    dctr_batch view; /* chunks of batches larger than max_batch */
    dctr_batch *typed; /* typed serving (model_services.c): max_batch rows, made at first use */
};

dctr_predictor_parts dctr_predictor_get_parts(dctr_predictor *p) {
    dctr_predictor_parts parts = {p->model, p->ws, p->max_batch, &p->typed};
    return parts;
}

dctr_status dctr_predictor_new(const dctr_model *model, int32_t max_batch, dctr_predictor **out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_predictor_new: out is NULL");
    *out = NULL;
    if (!model || max_batch < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_predictor_new: need a model and max_batch >= 1");
    dctr_predictor *p = dctr_calloc(1, sizeof(*p));
    if (!p)
        return DCTR_ERR_NOMEM;
    p->model = dctr_model_retain((dctr_model *)model); /* released by dctr_predictor_free */
    /* predictions run in blocks of max_batch rows: a larger block than DCTR_MAX_PREDICT_BLOCK
     * only costs memory (INT32_MAX zero-filled terabytes), never speed */
    p->max_batch = max_batch < DCTR_MAX_PREDICT_BLOCK ? max_batch : DCTR_MAX_PREDICT_BLOCK;
    max_batch = p->max_batch;
    dctr_status st = model->ops->workspace_new(model, max_batch, &p->ws);
    if (st == DCTR_OK && model->schema)
        st = dctr_batch_alloc(model->schema, 1, 0, &p->row);
    if (st == DCTR_OK && model->schema)
        st = dctr_batch_view_init(&p->view, model->schema);
    if (st != DCTR_OK) {
        dctr_predictor_free(p);
        return st;
    }
    *out = p;
    return DCTR_OK;
}

void dctr_predictor_free(dctr_predictor *p) {
    if (!p)
        return;
    if (p->ws)
        p->model->ops->workspace_free(p->ws);
    dctr_batch_free(p->row);
    dctr_batch_free(p->typed);
    dctr_batch_view_release(&p->view);
    dctr_model_free((dctr_model *)p->model);
    dctr_free(p);
}

dctr_status dctr_predictor_run(dctr_predictor *p, const dctr_batch *batch, float *out) {
    if (!p || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_predictor_run: NULL argument");
    DCTR_TRY(check_batch(p->model, batch));
    return predict_rows(p->model, p->ws, p->max_batch, batch, &p->view, out);
}

dctr_status dctr_predictor_predict_row(dctr_predictor *p, const char *const *names,
                                       const char *const *values, int32_t count, float *out) {
    if (!p || !out || (count > 0 && !values))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_predictor_predict_row: NULL argument");
    if (!p->row)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "predict_row: the model has no schema");
    p->row->n = 0; /* not dctr_batch_clear: keep the row builder, no allocation per call */
    DCTR_TRY(dctr_batch_add_csv_row(p->row, names, values, count));
    return run_predict(p->model, p->ws, p->row, out);
}
