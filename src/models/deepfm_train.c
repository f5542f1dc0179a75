/* DeepFM family training: buffers sized once per batch size, one optimizer step (dense tail as
 * whole tensors, tables lazily on the touched rows only), gradient-only entry for tests, and
 * restore-best snapshots. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/error.h"
#include "dist/dist.h"
#include "feature/schema_types.h"
#include "models/deepfm_impl.h"

/* Rows each table's sparse gradient may touch per batch of `rows`, into cap[table] (one pass
 * over the columns: a per-table scan made wide schemas quadratic). */
static void table_capacities(const dfm_col *cols, int32_t n, int64_t rows, int64_t *cap) {
    for (int32_t i = 0; i < n; i++)
        cap[cols[i].table] += rows * cols[i].T;
}

/* The optimizer slots at their initial values, allocated at the first step (all or none: a
 * loaded optimizer section overwrites them whole). */
static dctr_status alloc_slots(const dctr_model *model, dfm *d) {
    int ns = dctr_optim_slots(&d->opt);
    if (ns == 0 || d->slots[0])
        return DCTR_OK;
    for (int k = 0; k < ns; k++) {
        d->slots[k] = d->lazy ? dctr_shard_alloc((size_t)d->nparams) : dctr_alloc_floats((size_t)d->nparams);
        if (!d->slots[k]) {
            for (int j = 0; j <= k; j++) {
                if (d->lazy)
                    dctr_shard_free(d->slots[j], (size_t)d->nparams);
                else
                    dctr_aligned_free(d->slots[j]);
                d->slots[j] = NULL;
            }
            return dctr_set_error(DCTR_ERR_NOMEM, "deepfm: optimizer state (%lld floats)",
                                  (long long)d->nparams);
        }
    }
    if (d->lazy) /* sharded: only the owned rows and the dense tail */
        dfm_shard_init_slots(model, d);
    else
        dctr_optim_init_slots(&d->opt, d->slots, (size_t)d->nparams);
    return DCTR_OK;
}

dctr_status dfm_prepare_training(dctr_model *model, int64_t n) {
    dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    DCTR_TRY(alloc_slots(model, d));
    if (!d->grad) {
        d->grad = dctr_alloc_floats((size_t)(d->nparams - d->dense_begin));
        if (!d->grad)
            return DCTR_ERR_NOMEM;
        if (d->use_dnn)
            dctr_dnn_bind(&d->dnn_cfg, d->grad + (d->dnn_off - d->dense_begin), NULL, &d->dnng);
    }
    if (!d->g_emb) {
        d->g_emb = dctr_calloc((size_t)d->ntables + 1, sizeof(dctr_sparse_grad));
        d->g_lin = dctr_calloc((size_t)d->ntables + 1, sizeof(dctr_sparse_grad));
        d->reg_tab = dctr_calloc(2 * (size_t)d->ntables + 2, sizeof(double));
        d->sq_tab = dctr_calloc((size_t)d->ntables + 1, sizeof(double));
        if (!d->g_emb || !d->g_lin || !d->reg_tab || !d->sq_tab)
            return DCTR_ERR_NOMEM;
    }
    DCTR_TRY(dfm_lanes_prepare(d));
    if (d->tws && d->tws->cap >= n)
        return DCTR_OK;
    dfm_ws_free(d->tws);
    d->tws = NULL;
    DCTR_TRY(dfm_ws_new(model, n, 1, &d->tws));
    d->tws->grad = d->grad;
    d->tws->dnng = &d->dnng;
    int64_t *caps = dctr_calloc(2 * ((size_t)d->ntables + 1), sizeof *caps);
    if (!caps)
        return DCTR_ERR_NOMEM;
    table_capacities(d->emb, d->nemb, n, caps);
    table_capacities(d->lin, d->nlin, n, caps + d->ntables + 1);
    dctr_status st = DCTR_OK;
    for (int32_t t = 0; t < d->ntables && st == DCTR_OK; t++) {
        int64_t V = s->tables[t].vocab_size;
        dctr_sparse_grad_destroy(&d->g_emb[t]);
        dctr_sparse_grad_destroy(&d->g_lin[t]);
        int64_t ce = d->emb_off[t] >= 0 ? caps[t] : 0, cl = d->lin_off[t] >= 0 ? caps[d->ntables + 1 + t] : 0;
        ce = ce < V ? ce : V;
        cl = cl < V ? cl : V;
        st = dctr_sparse_grad_init(&d->g_emb[t], V, s->tables[t].dim, ce > 0 ? ce : 1);
        if (st == DCTR_OK)
            st = dctr_sparse_grad_init(&d->g_lin[t], V, 1, cl > 0 ? cl : 1);
    }
    dctr_free(caps);
    return st;
}

static dctr_status forward_backward(dctr_model *model, const dctr_batch *batch, double *data_loss,
                                    double *reg_loss) {
    dfm *d = model->impl;
    if (!batch || batch->n <= 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "deepfm: empty batch");
    if (batch->schema && batch->schema != model->schema && batch->schema->ncols != model->schema->ncols)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "deepfm: batch built for another schema");
    DCTR_TRY(dfm_prepare_training(model, batch->n));
    const dctr_batch *b = batch;
    if (dfm_dist_sharded(model)) /* the rows this batch uses, from their owners */
        DCTR_TRY(dfm_shard_step_begin(model, batch, &b));
    dctr_status st = DCTR_OK;
    const int lanes = dfm_step_lanes(model, b);
    /* the whole-batch pass splits the DNN's GEMMs on the pool (OpenBLAS at 1 thread, see
     * set_threads); in lanes the pool's threads run the rows themselves */
    if (d->tws->dnn)
        st = dctr_dnn_workspace_set_pool(d->tws->dnn, lanes ? NULL : d->pool);
    if (d->tws->dnn) /* distributed: batch norm over the global batch (deepfm_dist.c) */
        dctr_dnn_workspace_set_bn_sync(d->tws->dnn, dfm_dist_bn_sync(model));
    if (st == DCTR_OK && dfm_step_blocked(model, b)) {
        st = dfm_forward_backward_blocks(model, d->tws, b, data_loss, reg_loss);
    } else if (st == DCTR_OK && lanes) {
        st = dfm_forward_backward_lanes(model, d->tws, b, data_loss, reg_loss);
    } else {
        if (st == DCTR_OK)
            st = dfm_forward(model, d->tws, b, 1, &d->drop_rng, d->pool);
        if (st == DCTR_OK)
            st = dfm_backward(model, d->tws, b, data_loss, reg_loss);
    }
    if (dfm_dist_sharded(model))
        dfm_shard_step_end(model);
    return st;
}

dctr_status dctr_deepfm_compute_gradients(dctr_model *model, const dctr_batch *batch,
                                          double *data_loss, double *reg_loss) {
    return forward_backward(model, batch, data_loss, reg_loss);
}

static double grad_sumsq(const dctr_model *model) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    double ss = dctr_sumsq(d->grad, (size_t)(d->nparams - d->dense_begin));
    if (dfm_dist_sharded(model)) { /* each rank holds the gradients of the rows it owns */
        double tab = 0;
        for (int32_t t = 0; t < s->ntables; t++)
            tab += dctr_sparse_grad_sumsq(&d->g_emb[t]) + dctr_sparse_grad_sumsq(&d->g_lin[t]);
        return dfm_dist_sum_tables(model, &tab) == DCTR_OK ? ss + tab : NAN;
    }
    for (int32_t t = 0; t < s->ntables; t++)
        ss += d->sq_valid ? d->sq_tab[t]
                          : dctr_sparse_grad_sumsq(&d->g_emb[t]) + dctr_sparse_grad_sumsq(&d->g_lin[t]);
    return ss;
}

static void update_table(const dfm *d, const dctr_optim *opt, const dctr_optim_step *st, int64_t off,
                         const dctr_sparse_grad *g) {
    float *slots[DCTR_OPTIM_MAX_SLOTS] = {0};
    for (int k = 0; k < DCTR_OPTIM_MAX_SLOTS; k++)
        slots[k] = d->slots[k] ? d->slots[k] + off : NULL;
    dctr_optim_update_rows(opt, st, d->params + off, slots, g->rows, g->count, g->dim, g->grad);
}

/* Dense-tail floats [e0, e1) (offsets from dense_begin) with their gradients. */
static void update_dense(const dfm *d, const dctr_optim *opt, const dctr_optim_step *st, int64_t e0,
                         int64_t e1) {
    if (e1 <= e0)
        return;
    float *slots[DCTR_OPTIM_MAX_SLOTS] = {0};
    for (int k = 0; k < DCTR_OPTIM_MAX_SLOTS; k++)
        slots[k] = d->slots[k] ? d->slots[k] + d->dense_begin + e0 : NULL;
    dctr_optim_update(opt, st, d->params + d->dense_begin + e0, d->grad + e0, slots, (size_t)(e1 - e0));
}

/* Dense-tail floats per update item: element-wise, so any split gives the same weights. */
#define DENSE_UPDATE_GRAIN 16384

typedef struct upd_job {
    const dfm *d;
    const dctr_schema *s;
    const dctr_optim_step *st;
    int64_t ndense; /* dense-tail floats to update */
    /* the linear part's optimizer and step: the model's with the rate x linear_lr_scale */
    dctr_optim lin_opt;
    dctr_optim_step lin_st;
} upd_job;

/* Items [0, ntables) are the tables (they share no rows and no state); the items after them
 * are DENSE_UPDATE_GRAIN-float pieces of the dense tail. */
static void update_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const upd_job *j = ctx;
    const dfm *d = j->d;
    for (int64_t t = begin; t < end; t++) {
        if (t >= d->ntables) {
            int64_t e0 = (t - d->ntables) * DENSE_UPDATE_GRAIN;
            int64_t e1 = e0 + DENSE_UPDATE_GRAIN < j->ndense ? e0 + DENSE_UPDATE_GRAIN : j->ndense;
            /* the tail starts with the linear dense kernel (dl floats, its own rate) */
            int64_t lin_end = e1 < d->dl ? e1 : d->dl;
            update_dense(d, &j->lin_opt, &j->lin_st, e0, lin_end);
            update_dense(d, &d->opt, j->st, e0 > lin_end ? e0 : lin_end, e1);
            continue;
        }
        if (!j->s->tables[t].trainable)
            continue;
        if (d->emb_off[t] >= 0)
            update_table(d, &d->opt, j->st, d->emb_off[t], &d->g_emb[t]);
        if (d->lin_off[t] >= 0)
            update_table(d, &j->lin_opt, &j->lin_st, d->lin_off[t], &d->g_lin[t]);
    }
}

static void apply_update(dctr_model *model, int64_t batch_rows) {
    dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    double scale = d->opt.clipnorm > 0 ? dctr_optim_clip_scale(&d->opt, grad_sumsq(model)) : 1.0;
    model->steps++;
    dctr_optim_step st;
    dctr_optim_begin_step(&d->opt, model->steps, scale, &st);
    int64_t ndense = d->nparams - d->dense_begin;
    if (!model->cfg.use_bias)
        ndense--; /* the bias is the last element: leave it at 0 */
    upd_job j = {d, s, &st, ndense, d->opt, st};
    j.lin_opt.lr *= model->cfg.linear_lr_scale; /* Adagrad, SGD, RMSprop, FTRL read lr */
    j.lin_st.lr_t *= model->cfg.linear_lr_scale; /* Adam reads its bias-corrected lr_t */
    int64_t items = d->ntables + (ndense + DENSE_UPDATE_GRAIN - 1) / DENSE_UPDATE_GRAIN;
    if (dfm_tables_on_pool(d, batch_rows))
        dctr_pool_run_claimed(d->pool, items, 1, update_task, &j);
    else
        update_task(&j, 0, 0, items);
}

dctr_status dfm_train_step(dctr_model *model, const dctr_batch *batch, double *data_loss,
                           double *reg_loss, float *pred) {
    double dl = 0, rl = 0;
    DCTR_TRY(forward_backward(model, batch, &dl, &rl));
    dfm *d = model->impl;
    if (pred)
        memcpy(pred, d->tws->pred, sizeof(float) * (size_t)batch->n);
    if (data_loss)
        *data_loss = dl;
    if (reg_loss)
        *reg_loss = rl;
    if (!isfinite(dl) || !isfinite(rl))
        return dctr_set_error(DCTR_ERR_NUMERIC, "loss is %s (data %g, regularization %g); step not applied",
                              isnan(dl + rl) ? "NaN" : "Inf", dl, rl);
    /* Nor a step that would make a weight non-finite (fit keeps no snapshot to undo it): the
     * gradient must be finite and, for SGD (no per-coordinate normalisation), lr * |g| far
     * below FLT_MAX. One pass over this step's gradients. */
    double gsq = grad_sumsq(model);
    double damp = d->opt.momentum > 0 && d->opt.momentum < 1 ? 1.0 - d->opt.momentum : 1.0;
    double step = d->opt.kind == DCTR_OPT_SGD ? d->opt.lr * sqrt(gsq) / damp : 0.0;
    if (!isfinite(gsq) || !(step < 1e30))
        return dctr_set_error(DCTR_ERR_NUMERIC, "gradient norm %g (learning rate %g) would make the "
                              "weights non-finite; step not applied", sqrt(gsq), d->opt.lr);
    apply_update(model, batch->n);
    if (dfm_dist_sharded(model)) /* the fetched rows this rank does not own go back */
        dfm_shard_release(model, 0);
    return DCTR_OK;
}

typedef struct dfm_snap {
    int64_t nparams, nstate;
    float *params, *state;
    int lazy; /* a shard's snapshot: its own rows and the dense tail only (dctr_shard_alloc) */
} dfm_snap;

void dfm_snapshot_free(void *state) {
    dfm_snap *sn = state;
    if (!sn)
        return;
    if (sn->lazy)
        dctr_shard_free(sn->params, (size_t)sn->nparams);
    else
        dctr_aligned_free(sn->params);
    dctr_aligned_free(sn->state);
    dctr_free(sn);
}

dctr_status dfm_snapshot(const dctr_model *model, void **state) {
    const dfm *d = model->impl;
    dfm_snap *sn = *state;
    if (!sn) {
        sn = dctr_calloc(1, sizeof(*sn));
        if (!sn)
            return DCTR_ERR_NOMEM;
        sn->nparams = d->nparams;
        sn->nstate = d->nstate;
        sn->lazy = d->lazy;
        sn->params = d->lazy ? dctr_shard_alloc((size_t)d->nparams) : dctr_alloc_floats((size_t)d->nparams);
        sn->state = dctr_alloc_floats((size_t)d->nstate + 1);
        if (!sn->params || !sn->state) {
            dfm_snapshot_free(sn);
            return DCTR_ERR_NOMEM;
        }
        *state = sn;
    }
    if (d->lazy)
        dfm_shard_copy_owned(model, sn->params, d->params);
    else
        memcpy(sn->params, d->params, sizeof(float) * (size_t)d->nparams);
    memcpy(sn->state, d->state, sizeof(float) * (size_t)d->nstate);
    return DCTR_OK;
}

dctr_status dfm_restore(dctr_model *model, const void *state) {
    dfm *d = model->impl;
    const dfm_snap *sn = state;
    if (!sn || sn->nparams != d->nparams || sn->nstate != d->nstate)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "deepfm: snapshot of another model");
    if (sn->lazy && d->lazy)
        dfm_shard_copy_owned(model, d->params, sn->params);
    else
        memcpy(d->params, sn->params, sizeof(float) * (size_t)d->nparams);
    memcpy(d->state, sn->state, sizeof(float) * (size_t)d->nstate);
    return DCTR_OK;
}
