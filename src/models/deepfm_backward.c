/* DeepFM / FM / LR backward of the last training forward: loss, then the linear part, the DNN
 * and FM into dX, the embedding tables (sparse accumulators, touched rows only) and the L2
 * terms. Dense-tail gradients go to d->grad (layout: deepfm.h). */
#include "models/deepfm_impl.h"

#include <string.h>

#include "core/error.h"
#include "feature/schema_types.h"
#include "layers/fm.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/prediction.h"
#include "layers/sequence_pool.h"
#include "layers/weighted_seq.h"

static dctr_status sg_error(dctr_status st, const dctr_schema *s, int32_t col) {
    return dctr_error_prefix(st, "column '%s' gradient", s->cols[col].name);
}

typedef struct fm_bw_job {
    const dfm *d;
    dfm_ws *ws;
} fm_bw_job;

/* FM backward of rows [begin, end) into dX (row-local). */
static void fm_bw_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const fm_bw_job *j = ctx;
    const dfm *d = j->d;
    const int64_t xw = d->xw;
    for (int32_t g = 0; g < d->nfm; g++)
        dctr_fm_backward(j->ws->dlogit + begin, j->ws->X + begin * xw + d->fm[g].off, xw,
                         end - begin, d->fm[g].F, d->fm[g].k, j->ws->dX + begin * xw + d->fm[g].off,
                         xw);
}

/* Per-table scatter of the plain sparse columns' gradients plus the table's L2: tables share
 * nothing, so each thread takes a contiguous range of tables; a table's rows accumulate in
 * blocks of rows, its columns in order within a block, whatever the thread count. */
typedef struct tab_bw_job {
    const dctr_model *model;
    const dctr_batch *b;
    const float *dlogit, *dX;
    dctr_status *fail; /* per worker */
} tab_bw_job;

/* Rows per block of the table scatter: each thread walks the rows of dX once, a block at a
 * time, and scatters the block into all of its tables while the block is in cache (table by
 * table over all rows would stream the strided dX once per table). */
#define TAB_BW_BLOCK_ROWS 256

static void tab_bw_task(void *ctx, int worker, int64_t begin, int64_t end) {
    const tab_bw_job *j = ctx;
    const dctr_model *model = j->model;
    dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    const dctr_model_config *cfg = &model->cfg;
    const int64_t B = j->b->n;
    for (int64_t t = begin; t < end; t++) {
        dctr_sparse_grad_clear(&d->g_emb[t]);
        dctr_sparse_grad_clear(&d->g_lin[t]);
    }
    for (int64_t r0 = 0; r0 < B; r0 += TAB_BW_BLOCK_ROWS) {
        const int64_t n = B - r0 < TAB_BW_BLOCK_ROWS ? B - r0 : TAB_BW_BLOCK_ROWS;
        for (int64_t t = begin; t < end; t++) {
            if (!s->tables[t].trainable)
                continue;
            dctr_status st = DCTR_OK;
            for (int32_t i = 0; i < d->nlin && st == DCTR_OK; i++)
                if (d->lin[i].table == t)
                    st = dctr_linear_sparse_backward(&d->g_lin[t], j->b->cols[d->lin[i].col].ids + r0,
                                                     n, j->dlogit + r0);
            for (int32_t i = 0; i < d->nemb && st == DCTR_OK; i++)
                if (d->emb[i].table == t)
                    st = dctr_embedding_scatter(&d->g_emb[t], j->b->cols[d->emb[i].col].ids + r0, n,
                                                j->dX + r0 * d->xw + d->emb[i].off, d->xw);
            if (st != DCTR_OK) {
                j->fail[worker] = st;
                return;
            }
        }
    }
    for (int64_t t = begin; t < end; t++) {
        d->reg_tab[2 * t] = d->lin_off[t] >= 0 && cfg->l2_linear > 0
                                ? dctr_l2_sparse(d->params + d->lin_off[t], &d->g_lin[t], cfg->l2_linear)
                                : 0.0;
        d->reg_tab[2 * t + 1] = d->emb_off[t] >= 0 && cfg->l2_embedding > 0
                                    ? dctr_l2_sparse(d->params + d->emb_off[t], &d->g_emb[t],
                                                     cfg->l2_embedding)
                                    : 0.0;
        /* the final gradients are still in cache: their squares for the step's checks */
        d->sq_tab[t] = dctr_sparse_grad_sumsq(&d->g_emb[t]) + dctr_sparse_grad_sumsq(&d->g_lin[t]);
    }
}

/* A per-table failure lost its message on a worker thread: redo the scatter serially, in column
 * order, so the caller gets the same error (naming the column) as the serial path. */
static dctr_status serial_scatter_error(dfm *d, const dctr_schema *s, const dctr_batch *b,
                                        const float *dlogit, const float *dX) {
    for (int32_t t = 0; t < d->ntables; t++) {
        dctr_sparse_grad_clear(&d->g_emb[t]);
        dctr_sparse_grad_clear(&d->g_lin[t]);
    }
    for (int32_t i = 0; i < d->nlin; i++) {
        const dfm_col *c = &d->lin[i];
        if (!s->tables[c->table].trainable)
            continue;
        dctr_status st = dctr_linear_sparse_backward(&d->g_lin[c->table], b->cols[c->col].ids, b->n,
                                                     dlogit);
        if (st != DCTR_OK)
            return sg_error(st, s, c->col);
    }
    for (int32_t i = 0; i < d->nemb; i++) {
        const dfm_col *c = &d->emb[i];
        if (!s->tables[c->table].trainable)
            continue;
        dctr_status st = dctr_embedding_scatter(&d->g_emb[c->table], b->cols[c->col].ids, b->n,
                                                dX + c->off, d->xw);
        if (st != DCTR_OK)
            return sg_error(st, s, c->col);
    }
    return dctr_set_error(DCTR_ERR_INTERNAL, "deepfm: sparse gradient failed on a worker only");
}

/* Table gradient of varlen column c (k = c->k, 1 in the linear part) from the gradient of its
 * pooled output dpool (row stride ldp): pooling backward into scratch dA, weighted-sequence
 * backward into scratch dB when the column has weights, then the scatter into g. v holds what
 * the column's forward kept. */
static dctr_status varlen_backward(const dctr_schema *s, const dfm_col *c, const dctr_column_data *cd,
                                   int64_t B, const float *dpool, int64_t ldp, const dfm_vbuf *v,
                                   float *dA, float *dB, dctr_sparse_grad *g) {
    int64_t BTk = B * c->T * c->k;
    memset(dA, 0, sizeof(float) * (size_t)BTk);
    dctr_seq_pool_backward(c->combiner, dpool, ldp, B, c->T, c->k, cd->ids, cd->lengths, v->argmax, dA);
    float *dE = dA;
    if (c->weighted) {
        dE = dB;
        memset(dE, 0, sizeof(float) * (size_t)BTk);
        dctr_weighted_seq_backward(c->weight_norm, dA, v->E, v->alpha, B, c->T, c->k, cd->ids,
                                   cd->lengths, dE, NULL);
    }
    dctr_status st = dctr_embedding_scatter_seq(g, cd->ids, cd->lengths, B, c->T, dE);
    return st == DCTR_OK ? DCTR_OK : sg_error(st, s, c->col);
}

/* Loss of the last forward and its gradient down to dlogit (and the bias gradient). */
static double loss_backward(const dctr_model *model, dfm_ws *ws, const dctr_batch *b) {
    const dfm *d = model->impl;
    const int64_t B = b->n;
    memset(ws->dpred, 0, sizeof(float) * (size_t)B);
    double loss = model->task == DCTR_TASK_BINARY
                      ? dctr_loss_bce(ws->pred, b->labels, b->sample_weights, B, ws->dpred)
                      : dctr_loss_mse(ws->pred, b->labels, b->sample_weights, B, ws->dpred);
    dfm_dist_scale(model, ws->dpred, B); /* distributed: this rank's share of the step */
    memset(ws->dlogit, 0, sizeof(float) * (size_t)B);
    dctr_prediction_backward(model->task, ws->pred, ws->dpred, B, ws->dlogit,
                             model->cfg.use_bias ? d->grad + (d->bias_off - d->dense_begin) : NULL);
    return loss;
}

/* One part's sparse / varlen columns and what their table gradients come from. */
typedef struct part_grads {
    const dfm_col *cols;
    int32_t n;
    dctr_sparse_grad *g;      /* per schema table */
    int linear;               /* 1-dim tables fed by dlogit, else k-dim tables fed by dX */
    const float *dout;        /* dlogit, or dX (a column's slice at its offset) */
    int64_t ld;               /* row stride of dout */
    const dfm_vbuf *var;      /* the forward's varlen buffers of the part */
    float *dA, *dB;           /* varlen scratch */
} part_grads;

/* The part's table gradients (plain sparse columns only when not per_table: those are scattered
 * per table in tables_l2). */
static dctr_status part_backward(const dctr_schema *s, const dctr_batch *b, const part_grads *p,
                                 int per_table) {
    for (int32_t i = 0; i < p->n; i++) {
        const dfm_col *c = &p->cols[i];
        if (!s->tables[c->table].trainable || (!c->varlen && per_table))
            continue;
        const dctr_column_data *cd = &b->cols[c->col];
        dctr_sparse_grad *g = &p->g[c->table];
        const float *dout = p->dout + (p->linear ? 0 : c->off);
        if (c->varlen) {
            DCTR_TRY(varlen_backward(s, c, cd, b->n, dout, p->ld, &p->var[c->vi], p->dA, p->dB, g));
            continue;
        }
        dctr_status st = p->linear ? dctr_linear_sparse_backward(g, cd->ids, b->n, dout)
                                   : dctr_embedding_scatter(g, cd->ids, b->n, dout, p->ld);
        if (st != DCTR_OK)
            return sg_error(st, s, c->col);
    }
    return DCTR_OK;
}

/* Linear part: the dense kernel's gradient, then the 1-dim tables'. */
static dctr_status linear_backward(const dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                   int per_table) {
    dfm *d = model->impl;
    if (d->dl > 0)
        dctr_linear_dense_backward(ws->dlogit, ws->XL, d->dl, b->n, (int32_t)d->dl,
                                   d->params + d->lin_kernel_off,
                                   d->grad + (d->lin_kernel_off - d->dense_begin), NULL, NULL, 0);
    const part_grads p = {d->lin, d->nlin, d->g_lin, 1, ws->dlogit, 1, ws->var1, ws->d1a, ws->d1b};
    return part_backward(model->schema, b, &p, per_table);
}

/* DNN (with its output layer) and FM gradients into dX. */
static void deep_backward(dfm *d, dfm_ws *ws, int64_t B) {
    const int64_t xw = d->xw, db = d->dense_begin;
    const float *P = d->params;
    float *G = d->grad, *dX = ws->dX;
    /* a DNN over all of X writes every element of dX first: no clearing pass needed */
    const int dnn_writes_dx = d->use_dnn && d->dnn_cfg.num_layers > 0 && d->dnn_cfg.in_dim == xw;
    if (!dnn_writes_dx)
        memset(dX, 0, sizeof(float) * (size_t)(B * xw));
    if (d->use_dnn) {
        if (d->dnn_cfg.num_layers == 0) {
            dctr_dense_backward(ws->X, xw, ws->dlogit, 1, B, d->h, 1, P + d->out_w_off,
                                G + (d->out_w_off - db), NULL, dX, xw);
        } else {
            float *dH = ws->dH; /* written, not accumulated */
            dctr_dense_backward_ex(ws->H, ws->ldh, ws->dlogit, 1, B, d->h, 1, P + d->out_w_off,
                                   G + (d->out_w_off - db), NULL, dH, d->h, 0.0f);
            /* dense inputs follow the embeddings in X and take no gradient */
            int32_t emb_w = d->ndense_x > 0 ? (int32_t)d->dense_x_off[0] : (int32_t)xw;
            dctr_dnn_backward_ex(&d->dnn_cfg, &d->dnnp, &d->dnng, ws->dnn, ws->X, xw, B, dH, d->h,
                                 dX, xw, dnn_writes_dx ? 0.0f : 1.0f, emb_w);
        }
    }
    fm_bw_job fj = {d, ws};
    if (d->pool && d->nfm > 0 && B >= 2 * DFM_ROWS_GRAIN)
        dctr_pool_run_claimed(d->pool, B, DFM_ROWS_GRAIN, fm_bw_task, &fj);
    else if (d->nfm > 0)
        fm_bw_task(&fj, 0, 0, B);
}

/* FM/DNN columns' table gradients from dX. */
static dctr_status embedding_backward(const dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                      int per_table) {
    dfm *d = model->impl;
    const part_grads p = {d->emb, d->nemb, d->g_emb, 0, ws->dX, d->xw, ws->var, ws->dA, ws->dB};
    return part_backward(model->schema, b, &p, per_table);
}

/* Tables' L2 (Keras: λ Σ w², gradient 2λw) lazily on the touched rows. per_table: the plain
 * sparse scatter and the L2 per table (on the pool for large batches), else the L2 only. */
static dctr_status tables_l2(const dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                             int per_table, double *reg) {
    dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    const dctr_model_config *cfg = &model->cfg;
    if (!per_table) {
        for (int32_t t = 0; t < d->ntables; t++) {
            if (d->lin_off[t] >= 0 && cfg->l2_linear > 0)
                *reg += dctr_l2_sparse(d->params + d->lin_off[t], &d->g_lin[t], cfg->l2_linear);
            if (d->emb_off[t] >= 0 && cfg->l2_embedding > 0)
                *reg += dctr_l2_sparse(d->params + d->emb_off[t], &d->g_emb[t], cfg->l2_embedding);
        }
        return DCTR_OK;
    }
    dctr_status fail[DCTR_MAX_THREADS] = {DCTR_OK};
    tab_bw_job tj = {model, b, ws->dlogit, d->nemb > 0 ? ws->dX : NULL, fail};
    if (dfm_tables_on_pool(d, b->n))
        dctr_pool_run(d->pool, d->ntables, tab_bw_task, &tj);
    else
        tab_bw_task(&tj, 0, 0, d->ntables);
    for (int w = 0; w < DCTR_MAX_THREADS; w++)
        if (fail[w] != DCTR_OK)
            return serial_scatter_error(d, s, b, ws->dlogit, tj.dX);
    for (int32_t t = 0; t < d->ntables; t++) {
        *reg += d->reg_tab[2 * t];
        *reg += d->reg_tab[2 * t + 1];
    }
    d->sq_valid = 1;
    return DCTR_OK;
}

/* L2 of the DNN kernels (not biases, BN or the output layer), added to *reg layer by layer. */
static void dnn_l2(dfm *d, double l2, double *reg) {
    int32_t in = d->dnn_cfg.in_dim;
    for (int32_t l = 0; l < d->dnn_cfg.num_layers; l++) {
        int32_t out = d->dnn_cfg.units[l];
        *reg += dctr_l2_dense(d->dnnp.layer[l].W, (int64_t)in * out, l2, d->dnng.layer[l].W);
        in = out;
    }
}

dctr_status dfm_backward(dctr_model *model, dfm_ws *ws, const dctr_batch *b, double *data_loss,
                         double *reg_loss) {
    dfm *d = model->impl;
    const dctr_model_config *cfg = &model->cfg;
    memset(d->grad, 0, sizeof(float) * (size_t)(d->nparams - d->dense_begin));
    /* no varlen column: every table gradient is a plain scatter, done per table (see above),
     * which clears the table's accumulators itself */
    const int per_table = d->nvar == 0 && d->nvar1 == 0 && !model->dist;
    d->sq_valid = 0;
    if (!per_table)
        for (int32_t t = 0; t < d->ntables; t++) {
            dctr_sparse_grad_clear(&d->g_emb[t]);
            dctr_sparse_grad_clear(&d->g_lin[t]);
        }
    double loss = loss_backward(model, ws, b);
    DCTR_TRY(linear_backward(model, ws, b, per_table));
    if (d->nemb > 0 || d->use_dnn) {
        deep_backward(d, ws, b->n);
        DCTR_TRY(embedding_backward(model, ws, b, per_table));
    }
    if (model->dist) /* the data gradients summed over the ranks, before the L2 terms */
        DCTR_TRY(dfm_dist_exchange(model, &loss, b->n));
    /* the sum of the L2 terms in a fixed order: dense kernel, tables, DNN */
    double reg = 0;
    if (d->dl > 0 && cfg->l2_linear > 0)
        reg += dctr_l2_dense(d->params + d->lin_kernel_off, d->dl, cfg->l2_linear,
                             d->grad + (d->lin_kernel_off - d->dense_begin));
    if (dfm_dist_sharded(model)) { /* each owner's rows: summed over the ranks */
        double tab = 0;
        DCTR_TRY(tables_l2(model, ws, b, per_table, &tab));
        DCTR_TRY(dfm_dist_sum_tables(model, &tab));
        reg += tab;
    } else {
        DCTR_TRY(tables_l2(model, ws, b, per_table, &reg));
    }
    if (d->use_dnn && cfg->l2_dnn > 0)
        dnn_l2(d, cfg->l2_dnn, &reg);
    *data_loss = loss;
    *reg_loss = reg;
    return DCTR_OK;
}
