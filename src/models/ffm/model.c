/* The FFM family's dctr_model ops: construction (libffm-native and from feature columns),
 * batch predict / train_step for the generic fit loop, snapshots, sizes, threads. */
#include "models/ffm/ffm.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "models/ffm/dist.h"

#define FFM_DEFAULT_ETA 0.2f

static void free_pooled(dctr_ffm_impl *impl) {
    for (int32_t i = 0; impl->pooled && i < impl->threads; i++)
        dctr_ffm_pooled_free(&impl->pooled[i]);
    dctr_free(impl->pooled);
    impl->pooled = NULL;
}

/* Per-thread train_step buffers: node lists and pooled vectors. */
static dctr_status alloc_train_buffers(dctr_ffm_impl *impl, int32_t threads) {
    free_pooled(impl);
    dctr_free(impl->scratch);
    impl->threads = threads;
    impl->scratch = dctr_malloc((size_t)threads * (size_t)impl->max_nodes * sizeof(dctr_ffm_node));
    impl->pooled = dctr_calloc((size_t)threads, sizeof *impl->pooled);
    if (!impl->scratch || !impl->pooled)
        return DCTR_ERR_NOMEM;
    for (int32_t i = 0; i < threads; i++)
        DCTR_TRY(dctr_ffm_pooled_alloc(&impl->pooled[i], impl->w.m, impl->w.kp));
    return DCTR_OK;
}

void dctr_ffm_op_free_impl(void *p) {
    dctr_ffm_impl *impl = p;
    if (!impl)
        return;
    dctr_ffm_weights_free(&impl->w);
    dctr_ffm_deep_free(impl->deep);
    dctr_ffm_dist_free(impl->dws);
    dctr_free(impl->cols);
    dctr_free(impl->scratch);
    free_pooled(impl);
    dctr_pool_free(impl->pool);
    dctr_free(impl);
}

void dctr_ffm_model_destroy(dctr_model *model) {
    if (!model)
        return;
    if (model->ops && model->ops->free_impl)
        model->ops->free_impl(model->impl);
    dctr_schema_free(model->schema);
    dctr_free(model);
}

dctr_status dctr_ffm_native_new(int32_t m, int64_t n, int32_t k, int use_linear, int normalize,
                                dctr_task task, const int32_t *maxlen, dctr_model **out) {
    *out = NULL;
    dctr_model *model = dctr_calloc(1, sizeof *model);
    dctr_ffm_impl *impl = dctr_calloc(1, sizeof *impl);
    if (!model || !impl) {
        dctr_free(model);
        dctr_free(impl);
        return DCTR_ERR_NOMEM;
    }
    model->type = DCTR_MODEL_FFM;
    model->task = task;
    model->refcount = 1; /* as dctr_model_create: predictors retain and release it */
    model->cfg.struct_size = sizeof model->cfg;
    model->cfg.type = DCTR_MODEL_FFM;
    model->cfg.task = task;
    model->cfg.ffm_k = k;
    model->cfg.ffm_linear = use_linear;
    model->cfg.ffm_normalize = normalize;
    model->cfg.use_bias = use_linear;
    model->cfg.bn_eps = 1e-3f; /* unused: the config defaults, so the file stays meta version 1 */
    model->cfg.bn_momentum = 0.99f;
    model->cfg.linear_lr_scale = 1.0f; /* the default too (meta version 1) */
    model->ops = &dctr_ffm_native_ops;
    model->impl = impl;
    impl->native = 1;
    impl->normalize = normalize ? 1 : 0;
    impl->eta = FFM_DEFAULT_ETA;
    impl->threads = 1;
    dctr_status s = dctr_ffm_weights_alloc(&impl->w, m, n, k, use_linear);
    if (s == DCTR_OK)
        s = dctr_ffm_native_attach(model, maxlen);
    if (s != DCTR_OK) {
        dctr_ffm_model_destroy(model);
        return s;
    }
    *out = model;
    return DCTR_OK;
}

/* ---- feature-column path: predict / train_step over dctr_batch rows ---- */

/* The reader's rule (dctr_ffm_inv_norm), over every node of the row: a libffm-native row's
 * nodes of features the model never saw count too, as in dctr_ffm_predict. */
float dctr_ffm_row_inv_norm(const dctr_ffm_impl *impl, const dctr_ffm_node *x, int32_t n) {
    if (!impl->normalize)
        return 1.0f;
    double sq = 0;
    for (int32_t i = 0; i < n; i++)
        sq += (double)x[i].value * x[i].value;
    return dctr_ffm_inv_norm(sq);
}

float dctr_ffm_linear_of(const dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n) {
    if (!w->use_linear)
        return 0.0f;
    float s = w->bias;
    for (int32_t i = 0; i < n; i++)
        if ((uint32_t)x[i].index < (uint64_t)w->n)
            s += w->lin[2 * (size_t)x[i].index] * x[i].value;
    return s;
}

void dctr_ffm_linear_update(dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n, float kappa,
                            const dctr_ffm_step *st) {
    if (!w->use_linear)
        return;
    for (int32_t i = 0; i < n; i++) {
        if ((uint32_t)x[i].index >= (uint64_t)w->n)
            continue;
        float *p = &w->lin[2 * (size_t)x[i].index];
        float g = st->lambda * p[0] + kappa * x[i].value;
        p[1] += g * g;
        p[0] -= st->eta * g / sqrtf(p[1]);
    }
    w->bias_g += kappa * kappa;
    w->bias -= st->eta * kappa / sqrtf(w->bias_g);
}

/* The row's model output t: FFM pairs + linear part (with the bias) when enabled. */
static float row_output(const dctr_ffm_impl *impl, const dctr_ffm_node *x, int32_t n, float r,
                        dctr_ffm_pooled *ps) {
    if (impl->pair_kernel) /* the native kernel adds the linear part itself */
        return dctr_ffm_score(&impl->w, x, x + n, r);
    return dctr_ffm_pooled_forward(&impl->w, x, n, r, ps, NULL) + dctr_ffm_linear_of(&impl->w, x, n);
}

static float output_of(float t, dctr_task task) {
    return task == DCTR_TASK_REGRESSION ? t : 1.0f / (1.0f + expf(-t));
}

typedef struct {
    int32_t max_nodes;
    dctr_ffm_pooled pooled;
    dctr_ffm_node nodes[];
} ffm_ws;

static dctr_status ws_new(const dctr_model *model, int32_t max_batch, void **out) {
    const dctr_ffm_impl *impl = model->impl;
    (void)max_batch;
    ffm_ws *ws = dctr_malloc(sizeof *ws + (size_t)impl->max_nodes * sizeof(dctr_ffm_node));
    if (!ws)
        return DCTR_ERR_NOMEM;
    ws->max_nodes = impl->max_nodes;
    memset(&ws->pooled, 0, sizeof ws->pooled); /* the pair kernel needs no pooled matrix */
    dctr_status st = impl->pair_kernel ? DCTR_OK : dctr_ffm_pooled_alloc(&ws->pooled, impl->w.m, impl->w.kp);
    if (st != DCTR_OK) {
        dctr_free(ws);
        return st;
    }
    *out = ws;
    return DCTR_OK;
}

static void ws_free(void *ws) {
    if (ws) {
        dctr_ffm_pooled_free(&((ffm_ws *)ws)->pooled);
        dctr_free(ws);
    }
}

static dctr_status predict_batch(const dctr_model *model, void *wsp, const dctr_batch *batch, float *out) {
    DCTR_TRY(dctr_ffm_shard_whole(model, "predict"));
    const dctr_ffm_impl *impl = model->impl;
    ffm_ws *ws = wsp;
    for (int64_t i = 0; i < batch->n; i++) {
        int32_t n = dctr_ffm_row_nodes(impl, batch, i, ws->nodes);
        float r = dctr_ffm_row_inv_norm(impl, ws->nodes, n);
        out[i] = output_of(row_output(impl, ws->nodes, n, r, &ws->pooled), model->task);
    }
    return DCTR_OK;
}

typedef struct {
    dctr_model *model;
    const dctr_batch *batch;
    double *loss;  /* per worker */
    float *pred;
    dctr_status *status;
} step_ctx;

static void step_worker(void *p, int worker, int64_t begin, int64_t end) {
    step_ctx *c = p;
    dctr_ffm_impl *impl = c->model->impl;
    int regression = c->model->task == DCTR_TASK_REGRESSION;
    dctr_ffm_step st = {impl->eta, impl->lambda};
    dctr_ffm_node *nodes = impl->scratch + (size_t)worker * (size_t)impl->max_nodes;
    dctr_ffm_pooled *ps = &impl->pooled[worker];
    const float *sw = c->batch->sample_weights;
    double loss = 0;
    for (int64_t i = begin; i < end; i++) {
        int32_t n = dctr_ffm_row_nodes(impl, c->batch, i, nodes);
        float r = dctr_ffm_row_inv_norm(impl, nodes, n);
        float t = row_output(impl, nodes, n, r, ps);
        float kappa;
        double l = dctr_ffm_loss(t, c->batch->labels[i], regression, &kappa);
        float wgt = sw ? sw[i] : 1.0f;
        if (!isfinite(l) || !isfinite(kappa * wgt)) {
            /* not applied: the batch's loss becomes non-finite and fit stops, the weights
             * those after the last good row (fit keeps no snapshot to restore) */
            c->loss[worker] = NAN;
            return;
        }
        loss += l * wgt;
        if (c->pred)
            c->pred[i] = output_of(t, c->model->task);
        if (impl->pair_kernel) {
            dctr_ffm_update(&impl->w, nodes, nodes + n, r, kappa * wgt, &st);
        } else {
            dctr_ffm_pooled_update(&impl->w, nodes, n, r, ps, kappa * wgt, NULL, &st);
            dctr_ffm_linear_update(&impl->w, nodes, n, kappa * wgt, &st);
        }
    }
    c->loss[worker] = loss;
}

static dctr_status train_step(dctr_model *model, const dctr_batch *batch, double *data_loss,
                              double *reg_loss, float *pred) {
    if (model->dist) /* under a collective: the synchronous mini-batch form (dist.c) */
        return dctr_ffm_dist_train_step(model, batch, data_loss, reg_loss, pred);
    DCTR_TRY(dctr_ffm_shard_whole(model, "train"));
    dctr_ffm_impl *impl = model->impl;
    int threads = impl->pool ? dctr_pool_threads(impl->pool) : 1;
    double loss[DCTR_MAX_THREADS] = {0};
    dctr_status st = DCTR_OK;
    step_ctx c = {model, batch, loss, pred, &st};
    /* Rows of the batch run one by one with per-sample AdaGrad on the pooled form (libffm's
     * update when every field has one node), split over the pool's threads (Hogwild). */
    dctr_pool_run(impl->pool, batch->n, step_worker, &c);
    double sum = 0;
    for (int i = 0; i < threads; i++)
        sum += loss[i];
    double wsum = (double)batch->n;
    if (batch->sample_weights) {
        wsum = 0;
        for (int64_t i = 0; i < batch->n; i++)
            wsum += batch->sample_weights[i];
    }
    if (data_loss)
        *data_loss = wsum > 0 ? sum / wsum : 0.0;
    if (reg_loss)
        *reg_loss = 0.0; /* libffm applies L2 inside each update and reports none */
    model->steps++;
    if (!isfinite(sum))
        return dctr_set_error(DCTR_ERR_NUMERIC, "FFM training diverged (non-finite loss)");
    return DCTR_OK;
}

dctr_status dctr_ffm_op_set_threads(dctr_model *model, int32_t threads) {
    dctr_ffm_impl *impl = model->impl;
    if (threads < 1)
        threads = 1;
    if (threads > DCTR_MAX_THREADS)
        threads = DCTR_MAX_THREADS;
    if (impl->pool && dctr_pool_threads(impl->pool) == threads)
        return DCTR_OK;
    dctr_pool_free(impl->pool);
    impl->pool = NULL;
    if (impl->scratch) /* feature-column training buffers, per thread */
        DCTR_TRY(alloc_train_buffers(impl, threads));
    impl->threads = threads;
    if (threads > 1)
        DCTR_TRY(dctr_pool_new(threads, &impl->pool));
    return DCTR_OK;
}

struct dctr_pool *dctr_ffm_op_training_pool(const dctr_model *model) {
    const dctr_ffm_impl *impl = model->impl;
    return impl->pool;
}

/* ---- snapshots ---- */

/* Restore-best keeps the weights only, not their AdaGrad accumulators (half the size of the
 * interleaved table): the restored model predicts as the best epoch did. A shard's snapshot
 * holds its own rows [lo, hi) only, in lazily committed arrays (dctr_shard_alloc). */
typedef struct {
    int32_t m, kp, use_linear, lazy;
    int64_t n, lo, hi;
    float *w;       /* [n * m * kp]: the weight half of every block */
    float *lin;     /* use_linear: [n] linear weights */
    float bias;
    float *deep;    /* DeepFFM: DNN params + state */
    int64_t ndeep;
} ffm_snap;

void dctr_ffm_op_snapshot_free(void *state) {
    ffm_snap *sn = state;
    if (!sn)
        return;
    if (sn->lazy) {
        dctr_shard_free(sn->w, (size_t)sn->n * (size_t)sn->m * (size_t)sn->kp);
        dctr_shard_free(sn->lin, (size_t)sn->n);
    } else {
        dctr_aligned_free(sn->w);
        dctr_aligned_free(sn->lin);
    }
    dctr_aligned_free(sn->deep);
    dctr_free(sn);
}

static int snap_fits(const ffm_snap *sn, const dctr_ffm_impl *impl, int64_t ndeep) {
    return sn->m == impl->w.m && sn->n == impl->w.n && sn->kp == impl->w.kp &&
           sn->use_linear == impl->w.use_linear && sn->ndeep == ndeep && sn->lazy == impl->w.lazy;
}

static ffm_snap *snap_new(const dctr_model *model, const dctr_ffm_weights *w, int64_t ndeep) {
    ffm_snap *sn = dctr_calloc(1, sizeof *sn);
    if (!sn)
        return NULL;
    *sn = (ffm_snap){.m = w->m, .n = w->n, .kp = w->kp, .use_linear = w->use_linear,
                     .lazy = w->lazy, .lo = 0, .hi = w->n, .ndeep = ndeep};
    const size_t nw = (size_t)w->n * (size_t)w->m * (size_t)w->kp;
    if (model->shard_size > 1) /* a shard keeps its own rows */
        dctr_shard_range(w->n, model->shard_rank, model->shard_size, &sn->lo, &sn->hi);
    if (w->lazy) {
        sn->w = dctr_shard_alloc(nw);
        sn->lin = w->use_linear ? dctr_shard_alloc((size_t)w->n) : NULL;
    } else {
        sn->w = dctr_alloc_floats(nw);
        sn->lin = w->use_linear ? dctr_alloc_floats((size_t)w->n) : NULL;
    }
    sn->deep = ndeep > 0 ? dctr_alloc_floats((size_t)ndeep) : NULL;
    if (!sn->w || (w->use_linear && !sn->lin) || (ndeep > 0 && !sn->deep)) {
        dctr_ffm_op_snapshot_free(sn);
        return NULL;
    }
    return sn;
}

/* The weights of rows [sn->lo, sn->hi) into the snapshot (to_snap) or back. */
static void snap_copy(ffm_snap *sn, dctr_ffm_weights *w, int to_snap) {
    const size_t kp = (size_t)w->kp;
    for (size_t b = (size_t)sn->lo * (size_t)w->m; b < (size_t)sn->hi * (size_t)w->m; b++) {
        float *live = w->W + b * w->blk, *kept = sn->w + b * kp;
        memcpy(to_snap ? kept : live, to_snap ? live : kept, kp * sizeof(float));
    }
    if (w->use_linear) {
        for (int64_t j = sn->lo; j < sn->hi; j++) {
            if (to_snap)
                sn->lin[j] = w->lin[2 * j];
            else
                w->lin[2 * j] = sn->lin[j];
        }
        if (to_snap)
            sn->bias = w->bias;
        else
            w->bias = sn->bias;
    }
}

/* *state == NULL: allocate a snapshot; otherwise overwrite the given one (fit reuses them). */
dctr_status dctr_ffm_op_snapshot(const dctr_model *model, void **state) {
    dctr_ffm_impl *impl = model->impl;
    ffm_snap *sn = *state;
    int64_t ndeep = dctr_ffm_deep_state_floats(impl->deep);
    if (sn && !snap_fits(sn, impl, ndeep))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "FFM snapshot of another model");
    if (!sn) {
        if (!(sn = snap_new(model, &impl->w, ndeep)))
            return DCTR_ERR_NOMEM;
        *state = sn;
    }
    snap_copy(sn, &impl->w, 1);
    if (ndeep > 0)
        dctr_ffm_deep_copy_out(impl->deep, sn->deep);
    return DCTR_OK;
}

dctr_status dctr_ffm_op_restore(dctr_model *model, const void *state) {
    dctr_ffm_impl *impl = model->impl;
    ffm_snap *sn = (ffm_snap *)state; /* only read: snap_copy copies out of it */
    if (!sn || !snap_fits(sn, impl, dctr_ffm_deep_state_floats(impl->deep)))
        return dctr_set_error(DCTR_ERR_STATE, "FFM restore: snapshot shape differs from the model");
    snap_copy(sn, &impl->w, 0);
    if (sn->ndeep > 0)
        dctr_ffm_deep_copy_in(impl->deep, sn->deep);
    return DCTR_OK;
}

int64_t dctr_ffm_op_num_parameters(const dctr_model *model) {
    const dctr_ffm_impl *impl = model->impl;
    int64_t p = impl->w.n * impl->w.m * impl->w.k;
    if (impl->w.use_linear)
        p += impl->w.n + 1;
    return p + dctr_ffm_deep_num_params(impl->deep);
}

/* The weights and their AdaGrad accumulators are interleaved: each is half of the FFM block. */
int64_t dctr_ffm_op_parameter_bytes(const dctr_model *model) {
    const dctr_ffm_impl *impl = model->impl;
    return (int64_t)(dctr_ffm_weights_floats(&impl->w) * sizeof(float) / 2) +
           dctr_ffm_deep_state_floats(impl->deep) * (int64_t)sizeof(float);
}

int64_t dctr_ffm_op_optimizer_bytes(const dctr_model *model) {
    const dctr_ffm_impl *impl = model->impl;
    return (int64_t)(dctr_ffm_weights_floats(&impl->w) * sizeof(float) / 2) +
           dctr_ffm_deep_opt_floats(impl->deep) * (int64_t)sizeof(float);
}

static dctr_status native_train_step(dctr_model *model, const dctr_batch *batch, double *data_loss,
                                     double *reg_loss, float *pred) {
    (void)model, (void)batch, (void)data_loss, (void)reg_loss, (void)pred;
    return dctr_set_error(DCTR_ERR_UNSUPPORTED,
                          "a libffm-native FFM model trains with dctr_ffm_train on libffm data "
                          "(it predicts and evaluates dctr_batch rows like any model)");
}

/* Both score dctr_batch rows the same way (the native model through its synthesized schema,
 * native_rows.c) and keep the same sections; only training differs. */
#define FFM_BATCH_OPS                                                                         \
    .workspace_new = ws_new, .workspace_free = ws_free, .predict = predict_batch,             \
    .save = dctr_ffm_save_sections, .load = dctr_ffm_load_sections

const dctr_model_ops dctr_ffm_ops = {.name = "ffm", DCTR_FFM_SHARED_OPS, FFM_BATCH_OPS, .train_step = train_step};
const dctr_model_ops dctr_ffm_native_ops = {.name = "ffm", DCTR_FFM_SHARED_OPS, FFM_BATCH_OPS,
                                            .train_step = native_train_step};

int dctr_ffm_family(const dctr_model *model) {
    return model && (model->ops == &dctr_ffm_ops || model->ops == &dctr_ffm_native_ops ||
                     model->ops == &dctr_deepffm_ops);
}

/* Called by the generic dctr_model_new (schema set) and by the generic loader (a libffm-native
 * model has no schema: the impl stays empty until ops->load fills it). */
dctr_status dctr_ffm_init(dctr_model *model) {
    if (model->type != DCTR_MODEL_FFM && model->type != DCTR_MODEL_DEEPFFM)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "model type %d is not built by the FFM family",
                              (int)model->type);
    if (model->type == DCTR_MODEL_DEEPFFM && !model->schema)
        return dctr_set_error(DCTR_ERR_SCHEMA, "DeepFFM needs feature columns (a schema)");
    dctr_ffm_impl *impl = dctr_calloc(1, sizeof *impl);
    if (!impl)
        return DCTR_ERR_NOMEM;
    model->ops = model->type == DCTR_MODEL_DEEPFFM ? &dctr_deepffm_ops
                 : model->schema                  ? &dctr_ffm_ops
                                                  : &dctr_ffm_native_ops;
    model->impl = impl;
    const dctr_model_config *cfg = &model->cfg;
    impl->normalize = cfg->ffm_normalize ? 1 : 0;
    impl->seed = cfg->seed;
    impl->lambda = cfg->l2_embedding > 0 ? cfg->l2_embedding : 0.0f;
    impl->eta = (cfg->optimizer.kind == DCTR_OPT_ADAGRAD && cfg->optimizer.learning_rate > 0)
                    ? (float)cfg->optimizer.learning_rate
                    : FFM_DEFAULT_ETA;
    impl->threads = 1;
    if (!model->schema) {
        impl->native = 1;
        return DCTR_OK;
    }
    int32_t k = cfg->ffm_k > 0 ? cfg->ffm_k : 4;
    int64_t n;
    int32_t m;
    DCTR_TRY(dctr_ffm_columns_build(model, impl, &n, &m));
    if (model->shard_size > 1) { /* sharded tables: this rank's rows only (shard.c) */
        int64_t lo, hi;
        dctr_shard_range(n, model->shard_rank, model->shard_size, &lo, &hi);
        DCTR_TRY(dctr_ffm_weights_alloc_shard(&impl->w, m, n, k, cfg->ffm_linear));
        dctr_ffm_weights_init_rows(&impl->w, cfg->seed, lo, hi);
    } else {
        DCTR_TRY(dctr_ffm_weights_alloc(&impl->w, m, n, k, cfg->ffm_linear));
        dctr_ffm_weights_init(&impl->w, cfg->seed);
    }
    DCTR_TRY(alloc_train_buffers(impl, 1));
    if (model->type == DCTR_MODEL_DEEPFFM)
        DCTR_TRY(dctr_ffm_deep_init(model, impl));
    return DCTR_OK;
}
