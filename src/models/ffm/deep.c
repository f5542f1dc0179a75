/* DeepFFM (DCTR_MODEL_DEEPFFM): the FFM of the feature-column path plus a DNN on the same
 * columns. The DNN input of a row is its m(m-1)/2 field-pair values (each pair's
 * r v_a v_b <w[j_a,f_b], w[j_b,f_a]>, the terms FFM sums) followed by the dense values:
 *     logit = sum(pairs) [+ linear + bias] + Dense(1, no bias)(DNN(pairs ++ dense))
 * (the ONN/NFFM shape with reduce_sum, plus FFM's own sum). The DNN and the output kernel are
 * trained on the batch-mean loss with the configured optimizer (dctr_optim); the FFM weights keep
 * libffm's per-sample AdaGrad, where pair (f1, f2) of row i moves with
 *     dloss_i/dpair = kappa_i + B * dX_dnn[i, pair]   (B undoes the batch mean).
 * Training runs on the calling thread. Under a collective the FFM part takes the synchronous
 * mini-batch step of ffm/dist.c and B is the step's rows over all ranks. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "layers/dnn.h"
#include "models/deepfm_impl.h"
#include "models/ffm/dist.h"
#include "models/ffm/ffm.h"
#include "models/model_internal.h"
#include "optim/optim.h"

#define DEEP_IO_VERSION 1u

struct dctr_ffm_deep {
    dctr_dnn_config dc;
    int32_t npairs, ndense, in_dim, out_dim;
    int64_t ndnn, nparams, nstate; /* nparams = ndnn + out_dim (the output kernel) */
    float *params, *state, *grad;
    float *slots[DCTR_OPTIM_MAX_SLOTS];
    int nslots;
    dctr_dnn_params P, G;
    dctr_optim opt;
    dctr_rng rng;
    /* training workspace, grown to the largest batch seen */
    int64_t cap;
    dctr_dnn_workspace *ws;
    float *X, *dX, *dout, *base, *rr, *dp;
    int32_t *nn;
    dctr_ffm_node *nodes;
    dctr_ffm_pooled pooled;
};

typedef struct {
    int32_t max_batch;
    dctr_dnn_workspace *ws;
    float *X, *base, *rr;
    dctr_ffm_node *nodes;
    dctr_ffm_pooled pooled;
} deep_ws;

static void free_train_ws(dctr_ffm_deep *d) {
    dctr_dnn_workspace_free(d->ws);
    dctr_aligned_free(d->X);
    dctr_aligned_free(d->dX);
    dctr_aligned_free(d->dout);
    dctr_free(d->base);
    dctr_free(d->rr);
    dctr_free(d->dp);
    dctr_free(d->nn);
    dctr_free(d->nodes);
    d->ws = NULL;
    d->X = d->dX = d->dout = d->base = d->rr = d->dp = NULL;
    d->nn = NULL;
    d->nodes = NULL;
    d->cap = 0;
}

void dctr_ffm_deep_free(dctr_ffm_deep *d) {
    if (!d)
        return;
    free_train_ws(d);
    dctr_ffm_pooled_free(&d->pooled);
    dctr_aligned_free(d->params);
    dctr_aligned_free(d->state);
    dctr_aligned_free(d->grad);
    for (int s = 0; s < DCTR_OPTIM_MAX_SLOTS; s++)
        dctr_aligned_free(d->slots[s]);
    dctr_free(d);
}

/* The DNN of a DeepFFM over m fields: input = the m(m-1)/2 pair values + the dense values. */
static dctr_status deep_dnn_config(const dctr_model_config *cfg, int32_t m, int32_t ndense,
                                   dctr_dnn_config *dc) {
    int32_t in_dim = (int32_t)((int64_t)m * (m - 1) / 2) + ndense;
    if (in_dim < 1)
        return dctr_set_error(DCTR_ERR_SCHEMA, "DeepFFM needs two fields or a dense column");
    dctr_dnn_config_default(dc);
    dc->in_dim = in_dim;
    static const int32_t dflt[3] = {256, 128, 64};
    const int32_t *units = cfg->hidden_units ? cfg->hidden_units : dflt;
    int32_t nl = cfg->hidden_units ? cfg->num_hidden : (cfg->num_hidden == 0 ? 0 : 3);
    if (nl < 0 || nl > DCTR_DNN_MAX_LAYERS)
        return dctr_set_error(DCTR_ERR_SCHEMA, "DeepFFM: %d hidden layers (max %d)", nl, DCTR_DNN_MAX_LAYERS);
    dc->num_layers = nl;
    for (int32_t i = 0; i < nl; i++)
        dc->units[i] = units[i];
    dc->activation = cfg->activation;
    dc->use_bn = cfg->use_bn;
    dc->bn_eps = cfg->bn_eps;
    dc->bn_momentum = cfg->bn_momentum;
    dc->dropout = cfg->dropout;
    return dctr_dnn_config_check(dc);
}

dctr_status dctr_ffm_deep_check_section(const dctr_schema *s, const dctr_model_config *cfg,
                                        const dctr_container *c) {
    dctr_dnn_config dc;
    DCTR_TRY(deep_dnn_config(cfg, s->ncols, s->total_dense_dim, &dc));
    double need = ((double)dctr_dnn_num_params(&dc) + dctr_dnn_out_dim(&dc) +
                   (double)dctr_dnn_num_state(&dc)) * sizeof(float);
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "ffm.dnn", &r));
    if (need > (double)dctr_rbuf_remaining(&r))
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "ffm.dnn: the config implies %.0f bytes of DNN weights, the section has %zu",
                              need, dctr_rbuf_remaining(&r));
    return DCTR_OK;
}

dctr_status dctr_ffm_deep_init(dctr_model *model, dctr_ffm_impl *impl) {
    const dctr_model_config *cfg = &model->cfg;
    dctr_ffm_deep *d = dctr_calloc(1, sizeof *d);
    if (!d)
        return DCTR_ERR_NOMEM;
    impl->deep = d;
    d->npairs = (int32_t)((int64_t)impl->w.m * (impl->w.m - 1) / 2);
    d->ndense = model->schema->total_dense_dim;
    d->in_dim = d->npairs + d->ndense;
    DCTR_TRY(deep_dnn_config(cfg, impl->w.m, d->ndense, &d->dc));
    d->out_dim = dctr_dnn_out_dim(&d->dc);
    d->ndnn = dctr_dnn_num_params(&d->dc);
    d->nparams = d->ndnn + d->out_dim;
    d->nstate = dctr_dnn_num_state(&d->dc);
    d->params = dctr_alloc_floats((size_t)d->nparams);
    d->grad = dctr_alloc_floats((size_t)d->nparams);
    d->state = dctr_alloc_floats((size_t)d->nstate + 1);
    if (!d->params || !d->grad || !d->state)
        return DCTR_ERR_NOMEM;
    dctr_dnn_bind(&d->dc, d->params, d->state, &d->P);
    dctr_dnn_bind(&d->dc, d->grad, NULL, &d->G);
    dctr_rng_init(&d->rng, cfg->seed, 0x444e4e /* "DNN" */);
    dctr_dnn_init(&d->dc, &d->P, &d->rng);
    float *wout = d->params + d->ndnn;
    double std = sqrt(2.0 / (d->out_dim + 1)); /* glorot normal of Dense(1) */
    for (int32_t o = 0; o < d->out_dim; o++)
        wout[o] = (float)dctr_rng_truncated_normal(&d->rng, std);
    DCTR_TRY(dctr_ffm_pooled_alloc(&d->pooled, impl->w.m, impl->w.kp));
    DCTR_TRY(dctr_optim_init(&d->opt, &cfg->optimizer));
    d->nslots = dctr_optim_slots(&d->opt);
    for (int s = 0; s < d->nslots; s++) {
        d->slots[s] = dctr_alloc_floats((size_t)d->nparams);
        if (!d->slots[s])
            return DCTR_ERR_NOMEM;
    }
    dctr_optim_init_slots(&d->opt, d->slots, (size_t)d->nparams);
    return DCTR_OK;
}

int64_t dctr_ffm_deep_num_params(const dctr_ffm_deep *d) { return d ? d->nparams : 0; }
int64_t dctr_ffm_deep_state_floats(const dctr_ffm_deep *d) { return d ? d->nparams + d->nstate : 0; }
int64_t dctr_ffm_deep_opt_floats(const dctr_ffm_deep *d) { return d ? d->nparams * d->nslots : 0; }

void dctr_ffm_deep_copy_out(const dctr_ffm_deep *d, float *dst) {
    memcpy(dst, d->params, (size_t)d->nparams * sizeof(float));
    memcpy(dst + d->nparams, d->state, (size_t)d->nstate * sizeof(float));
}

void dctr_ffm_deep_copy_in(dctr_ffm_deep *d, const float *src) {
    memcpy(d->params, src, (size_t)d->nparams * sizeof(float));
    memcpy(d->state, src + d->nparams, (size_t)d->nstate * sizeof(float));
}

/* ---- forward pieces ---- */

/* Row i's nodes, r, the FFM sum (+ linear part) into base[i], and its DNN input row. */
static int32_t build_row(const dctr_ffm_impl *impl, const dctr_batch *b, int64_t row, dctr_ffm_node *nodes,
                         dctr_ffm_pooled *ps, float *x, float *r_out, float *base_out) {
    const dctr_ffm_deep *d = impl->deep;
    const dctr_ffm_weights *w = &impl->w;
    int32_t n = dctr_ffm_row_nodes(impl, b, row, nodes);
    double sq = 0;
    for (int32_t i = 0; i < n; i++)
        sq += (double)nodes[i].value * nodes[i].value;
    float r = impl->normalize && sq > 0 ? (float)(1.0 / sq) : 1.0f;
    memset(x, 0, (size_t)d->npairs * sizeof(float));
    float phi = dctr_ffm_pooled_forward(w, nodes, n, r, ps, x);
    if (w->use_linear) {
        phi += w->bias;
        for (int32_t i = 0; i < n; i++)
            phi += w->lin[2 * (size_t)nodes[i].index] * nodes[i].value;
    }
    const dctr_schema *s = impl->schema;
    float *xd = x + d->npairs;
    for (int32_t c = 0; c < s->ncols; c++) {
        const dctr_column *col = &s->cols[c];
        if (col->kind == DCTR_COLUMN_DENSE)
            memcpy(xd + col->dense_offset, b->cols[c].dense + row * col->dense_dim,
                   (size_t)col->dense_dim * sizeof(float));
    }
    *r_out = r;
    *base_out = phi;
    return n;
}

static float dnn_logit(const dctr_ffm_deep *d, const float *h) {
    const float *wout = d->params + d->ndnn;
    float z = 0;
    for (int32_t o = 0; o < d->out_dim; o++)
        z += h[o] * wout[o];
    return z;
}

/* ---- inference ---- */

static void deep_ws_free(void *p);

static dctr_status deep_ws_new(const dctr_model *model, int32_t max_batch, void **out) {
    const dctr_ffm_impl *impl = model->impl;
    const dctr_ffm_deep *d = impl->deep;
    if (max_batch < 1)
        max_batch = 1;
    deep_ws *w = dctr_calloc(1, sizeof *w);
    if (!w)
        return DCTR_ERR_NOMEM;
    w->max_batch = max_batch;
    dctr_status s = dctr_dnn_workspace_new(&d->dc, max_batch, &w->ws);
    w->X = dctr_alloc_floats((size_t)max_batch * (size_t)d->in_dim);
    w->base = dctr_malloc((size_t)max_batch * sizeof(float));
    w->rr = dctr_malloc((size_t)max_batch * sizeof(float));
    w->nodes = dctr_malloc((size_t)impl->max_nodes * sizeof(dctr_ffm_node));
    if (s == DCTR_OK && (!w->X || !w->base || !w->rr || !w->nodes))
        s = DCTR_ERR_NOMEM;
    if (s == DCTR_OK)
        s = dctr_ffm_pooled_alloc(&w->pooled, impl->w.m, impl->w.kp);
    if (s != DCTR_OK) {
        deep_ws_free(w);
        return s;
    }
    *out = w;
    return DCTR_OK;
}

static void deep_ws_free(void *p) {
    deep_ws *w = p;
    if (!w)
        return;
    dctr_dnn_workspace_free(w->ws);
    dctr_aligned_free(w->X);
    dctr_free(w->base);
    dctr_free(w->rr);
    dctr_free(w->nodes);
    dctr_ffm_pooled_free(&w->pooled);
    dctr_free(w);
}

static dctr_status deep_predict(const dctr_model *model, void *wsp, const dctr_batch *b, float *out) {
    DCTR_TRY(dctr_ffm_shard_whole(model, "predict"));
    const dctr_ffm_impl *impl = model->impl;
    const dctr_ffm_deep *d = impl->deep;
    deep_ws *w = wsp;
    for (int64_t start = 0; start < b->n; start += w->max_batch) {
        int64_t B = b->n - start < w->max_batch ? b->n - start : w->max_batch;
        for (int64_t i = 0; i < B; i++)
            build_row(impl, b, start + i, w->nodes, &w->pooled, w->X + i * d->in_dim, &w->rr[i], &w->base[i]);
        int64_t hs;
        const float *H = dctr_dnn_forward(&d->dc, &d->P, w->ws, w->X, d->in_dim, B, 0, NULL, &hs);
        if (!H)
            return dctr_set_error(DCTR_ERR_INTERNAL, "DeepFFM: DNN forward failed");
        for (int64_t i = 0; i < B; i++) {
            float z = w->base[i] + dnn_logit(d, H + i * hs);
            out[start + i] = model->task == DCTR_TASK_REGRESSION ? z : 1.0f / (1.0f + expf(-z));
        }
    }
    return DCTR_OK;
}

/* ---- training ---- */

static dctr_status grow_train_ws(dctr_ffm_deep *d, const dctr_ffm_impl *impl, int64_t B) {
    if (B <= d->cap)
        return DCTR_OK;
    free_train_ws(d);
    DCTR_TRY(dctr_dnn_workspace_new(&d->dc, B, &d->ws));
    d->X = dctr_alloc_floats((size_t)B * (size_t)d->in_dim);
    d->dX = dctr_alloc_floats((size_t)B * (size_t)d->in_dim);
    d->dout = dctr_alloc_floats((size_t)B * (size_t)d->out_dim);
    d->base = dctr_malloc((size_t)B * sizeof(float));
    d->rr = dctr_malloc((size_t)B * sizeof(float));
    d->dp = dctr_malloc(((size_t)d->npairs + 1) * sizeof(float));
    d->nn = dctr_malloc((size_t)B * sizeof(int32_t));
    d->nodes = dctr_malloc((size_t)B * (size_t)impl->max_nodes * sizeof(dctr_ffm_node));
    if (!d->X || !d->dX || !d->dout || !d->base || !d->rr || !d->dp || !d->nn || !d->nodes) {
        free_train_ws(d);
        return DCTR_ERR_NOMEM;
    }
    d->cap = B;
    return DCTR_OK;
}

/* The batch's outputs, losses and kappa_i = dloss_i/dlogit_i (weighted, kept in base[]), and the
 * output layer's gradient and dout of the DNN. Returns the weighted loss; *wsum the weights. */
static double deep_loss_rows(const dctr_model *model, const dctr_batch *b, const float *H, int64_t hs,
                             float *pred, double *wsum, int64_t R) {
    dctr_ffm_deep *d = ((const dctr_ffm_impl *)model->impl)->deep;
    const int64_t B = b->n;
    const int regression = model->task == DCTR_TASK_REGRESSION;
    const float *sw = b->sample_weights;
    const float *wout = d->params + d->ndnn;
    float *gout = d->grad + d->ndnn;
    double loss = 0;
    *wsum = 0;
    for (int64_t i = 0; i < B; i++) {
        const float *h = H + i * hs;
        float z = d->base[i] + dnn_logit(d, h);
        float kappa;
        float wi = sw ? sw[i] : 1.0f;
        loss += wi * dctr_ffm_loss(z, b->labels[i], regression, &kappa);
        *wsum += wi;
        if (pred)
            pred[i] = regression ? z : 1.0f / (1.0f + expf(-z));
        kappa *= wi;
        d->base[i] = kappa;
        float km = kappa / (float)R; /* the mean over the step's R rows (all ranks) */
        for (int32_t o = 0; o < d->out_dim; o++) {
            d->dout[i * d->out_dim + o] = km * wout[o];
            gout[o] += km * h[o];
        }
    }
    return loss;
}

/* Under a collective (ffm/dist.c): every row's FFM gradient, at the step's weights, into the
 * accumulators; the DNN's and the rows' gradients summed over the ranks; one update of each. */
static dctr_status deep_dist_update(dctr_model *model, int64_t B, double *loss, double *wsum) {
    dctr_ffm_impl *impl = model->impl;
    dctr_ffm_deep *d = impl->deep;
    const int64_t mn = impl->max_nodes, R = dctr_ffm_dist_rows(model, B);
    dctr_status st = DCTR_OK;
    for (int64_t i = 0; i < B && st == DCTR_OK; i++) {
        const dctr_ffm_node *nodes = d->nodes + i * mn;
        for (int32_t p = 0; p < d->npairs; p++)
            d->dp[p] = d->base[i] + (float)R * d->dX[i * d->in_dim + p];
        dctr_ffm_pooled_forward(&impl->w, nodes, d->nn[i], d->rr[i], &d->pooled, NULL);
        st = dctr_ffm_dist_accumulate(impl, nodes, d->nn[i], d->rr[i], &d->pooled, d->base[i], d->dp,
                                      d->nparams);
    }
    if (st == DCTR_OK)
        st = dctr_ffm_dist_finish(model, loss, wsum, d->grad, d->nparams);
    if (st == DCTR_OK) {
        dctr_optim_step os;
        dctr_optim_begin_step(&d->opt, model->steps + 1, 1.0, &os);
        dctr_optim_update(&d->opt, &os, d->params, d->grad, d->slots, (size_t)d->nparams);
    }
    return st;
}

/* FFM: per-sample AdaGrad with a per-pair derivative (kappa + the DNN's input gradient). */
static void deep_ffm_update(dctr_ffm_impl *impl, int64_t B) {
    dctr_ffm_deep *d = impl->deep;
    const int64_t mn = impl->max_nodes;
    dctr_ffm_step fs = {impl->eta, impl->lambda};
    for (int64_t i = 0; i < B; i++) {
        const dctr_ffm_node *nodes = d->nodes + i * mn;
        const float kappa = d->base[i];
        for (int32_t p = 0; p < d->npairs; p++)
            d->dp[p] = kappa + (float)B * d->dX[i * d->in_dim + p];
        /* the pooled vectors of this row (rows before it in the batch already moved the weights,
         * as in per-sample SGD) */
        dctr_ffm_pooled_forward(&impl->w, nodes, d->nn[i], d->rr[i], &d->pooled, NULL);
        dctr_ffm_pooled_update(&impl->w, nodes, d->nn[i], d->rr[i], &d->pooled, kappa, d->dp, &fs);
        dctr_ffm_linear_update(&impl->w, nodes, d->nn[i], kappa, &fs);
    }
}

static dctr_status deep_train_step(dctr_model *model, const dctr_batch *b, double *data_loss, double *reg_loss,
                                     float *pred) {
    DCTR_TRY(dctr_ffm_shard_whole(model, "train"));
    dctr_ffm_impl *impl = model->impl;
    dctr_ffm_deep *d = impl->deep;
    const int64_t B = b->n;
    if (reg_loss)
        *reg_loss = 0;
    if (B < 1) {
        if (data_loss)
            *data_loss = 0;
        return DCTR_OK;
    }
    DCTR_TRY(grow_train_ws(d, impl, B));
    if (model->dist) /* sharded: fetches the batch's rows; batch norm over the global batch */
        DCTR_TRY(dctr_ffm_dist_begin(model, b, d->nparams));
    dctr_dnn_workspace_set_bn_sync(d->ws, dfm_dist_bn_sync(model));
    const int64_t R = dctr_ffm_dist_rows(model, B);
    const int64_t mn = impl->max_nodes;
    for (int64_t i = 0; i < B; i++)
        d->nn[i] = build_row(impl, b, i, d->nodes + i * mn, &d->pooled, d->X + i * d->in_dim, &d->rr[i],
                             &d->base[i]);
    int64_t hs;
    const float *H = dctr_dnn_forward(&d->dc, &d->P, d->ws, d->X, d->in_dim, B, 1, &d->rng, &hs);
    if (!H)
        return dctr_set_error(DCTR_ERR_INTERNAL, "DeepFFM: DNN forward failed");
    memset(d->grad, 0, (size_t)d->nparams * sizeof(float));
    double wsum;
    double loss = deep_loss_rows(model, b, H, hs, pred, &wsum, R);
    if (!isfinite(loss) && !model->dist) /* distributed: every rank learns it in the exchange */
        return dctr_set_error(DCTR_ERR_NUMERIC, "DeepFFM training diverged (non-finite loss)");
    memset(d->dX, 0, (size_t)B * (size_t)d->in_dim * sizeof(float));
    if (d->dc.num_layers > 0)
        dctr_dnn_backward(&d->dc, &d->P, &d->G, d->ws, d->X, d->in_dim, B, d->dout, d->out_dim, d->dX, d->in_dim);
    else
        memcpy(d->dX, d->dout, (size_t)B * (size_t)d->in_dim * sizeof(float));
    if (model->dist) {
        DCTR_TRY(deep_dist_update(model, B, &loss, &wsum));
    } else {
        dctr_optim_step st;
        dctr_optim_begin_step(&d->opt, model->steps + 1, 1.0, &st);
        dctr_optim_update(&d->opt, &st, d->params, d->grad, d->slots, (size_t)d->nparams);
        deep_ffm_update(impl, B);
    }
    model->steps++;
    if (data_loss)
        *data_loss = wsum > 0 ? loss / wsum : 0;
    return DCTR_OK;
}

/* ---- serialization: "ffm.dnn" (params + state) and "ffm.dnn_opt" (optimizer slots) ---- */

dctr_status dctr_ffm_deep_save(const dctr_ffm_deep *d, dctr_container_writer *cw, int with_optimizer) {
    dctr_wbuf b;
    dctr_wbuf_init(&b);
    dctr_wbuf_u32(&b, DEEP_IO_VERSION);
    dctr_wbuf_i32(&b, d->in_dim);
    dctr_wbuf_i32(&b, d->out_dim);
    dctr_wbuf_i64(&b, d->nparams);
    dctr_wbuf_i64(&b, d->nstate);
    dctr_wbuf_f32s(&b, d->params, (size_t)d->nparams);
    dctr_wbuf_f32s(&b, d->state, (size_t)d->nstate);
    dctr_status s = dctr_model_section_put(cw, "ffm.dnn", &b);
    if (s != DCTR_OK || !with_optimizer)
        return s;
    dctr_wbuf_init(&b);
    dctr_wbuf_u32(&b, DEEP_IO_VERSION);
    dctr_wbuf_i32(&b, d->nslots);
    dctr_wbuf_i64(&b, d->nparams);
    for (int i = 0; i < d->nslots; i++)
        dctr_wbuf_f32s(&b, d->slots[i], (size_t)d->nparams);
    return dctr_model_section_put(cw, "ffm.dnn_opt", &b);
}

static dctr_status all_finite(const float *v, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return dctr_set_error(DCTR_ERR_FORMAT, "%s: non-finite value at %lld", what, (long long)i);
    return DCTR_OK;
}

dctr_status dctr_ffm_deep_load(dctr_ffm_deep *d, const dctr_container *c) {
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "ffm.dnn", &r));
    uint32_t version;
    int32_t in_dim, out_dim;
    int64_t np, ns;
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "ffm.dnn version"));
    DCTR_TRY(dctr_rbuf_i32(&r, &in_dim, "DNN input width"));
    DCTR_TRY(dctr_rbuf_i32(&r, &out_dim, "DNN output width"));
    DCTR_TRY(dctr_rbuf_i64(&r, &np, "DNN parameter count"));
    DCTR_TRY(dctr_rbuf_i64(&r, &ns, "DNN state count"));
    if (version != DEEP_IO_VERSION || in_dim != d->in_dim || out_dim != d->out_dim || np != d->nparams ||
        ns != d->nstate)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.dnn: version or shape (%d -> %d, %lld params, %lld state) does "
                              "not match the model's (%d -> %d, %lld, %lld)", in_dim, out_dim, (long long)np,
                              (long long)ns, d->in_dim, d->out_dim, (long long)d->nparams, (long long)d->nstate);
    DCTR_TRY(dctr_rbuf_f32s(&r, d->params, (size_t)np, "DNN parameters"));
    DCTR_TRY(dctr_rbuf_f32s(&r, d->state, (size_t)ns, "DNN state"));
    if (dctr_rbuf_remaining(&r) != 0)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.dnn: trailing bytes");
    DCTR_TRY(all_finite(d->params, np, "ffm.dnn parameters"));
    DCTR_TRY(all_finite(d->state, ns, "ffm.dnn state"));
    if (!dctr_container_has(c, "ffm.dnn_opt")) {
        dctr_optim_init_slots(&d->opt, d->slots, (size_t)d->nparams);
        return DCTR_OK;
    }
    DCTR_TRY(dctr_container_section(c, "ffm.dnn_opt", &r));
    int32_t nslots;
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "ffm.dnn_opt version"));
    DCTR_TRY(dctr_rbuf_i32(&r, &nslots, "optimizer slot count"));
    DCTR_TRY(dctr_rbuf_i64(&r, &np, "optimizer slot size"));
    if (version != DEEP_IO_VERSION || nslots != d->nslots || np != d->nparams)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.dnn_opt: optimizer state does not match the model");
    for (int i = 0; i < nslots; i++) {
        DCTR_TRY(dctr_rbuf_f32s(&r, d->slots[i], (size_t)np, "optimizer slot"));
        DCTR_TRY(all_finite(d->slots[i], np, "ffm.dnn_opt"));
    }
    if (dctr_rbuf_remaining(&r) != 0)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.dnn_opt: trailing bytes");
    return DCTR_OK;
}

static dctr_status deep_save(const dctr_model *model, dctr_container_writer *cw, int with_optimizer) {
    DCTR_TRY(dctr_ffm_save_sections(model, cw, with_optimizer));
    return dctr_ffm_deep_save(((const dctr_ffm_impl *)model->impl)->deep, cw, with_optimizer);
}

static dctr_status deep_load(dctr_model *model, const dctr_container *c) {
    DCTR_TRY(dctr_ffm_load_sections(model, c));
    return dctr_ffm_deep_load(((dctr_ffm_impl *)model->impl)->deep, c);
}

/* DeepFFM's ops: its own batch predict / train step / sections, the FFM ones for the rest (the
 * snapshot and sizes include the DNN through dctr_ffm_deep_*). */
const dctr_model_ops dctr_deepffm_ops = {
    .name = "deepffm", DCTR_FFM_SHARED_OPS,
    .workspace_new = deep_ws_new, .workspace_free = deep_ws_free, .predict = deep_predict,
    .train_step = deep_train_step, .save = deep_save, .load = deep_load,
};
