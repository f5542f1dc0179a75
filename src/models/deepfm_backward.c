/* DeepFM / FM / LR backward of the last training forward: loss, then the linear part, the DNN
 * and FM into dX, the embedding tables (sparse accumulators, touched rows only) and the L2
 * terms. Dense-tail gradients go to ws->grad (d->grad, or a lane's: layout deepfm.h). */
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

dctr_status dfm_scatter_rows(const dctr_model *model, const dctr_batch *b, const float *dlogit,
                             const float *dX, int64_t t0, int64_t t1, int64_t r0, int64_t n) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    for (int64_t t = t0; t < t1; t++) {
        if (!s->tables[t].trainable)
            continue;
        for (int32_t i = 0; i < d->nlin; i++)
            if (d->lin[i].table == t) {
                dctr_status st = dctr_linear_sparse_backward(&d->g_lin[t], b->cols[d->lin[i].col].ids + r0,
                                                             n, dlogit + r0);
                if (st != DCTR_OK)
                    return sg_error(st, s, d->lin[i].col);
            }
        for (int32_t i = 0; i < d->nemb; i++)
            if (d->emb[i].table == t) {
                dctr_status st = dctr_embedding_scatter(&d->g_emb[t], b->cols[d->emb[i].col].ids + r0, n,
                                                        dX + r0 * d->xw + d->emb[i].off, d->xw);
                if (st != DCTR_OK)
                    return sg_error(st, s, d->emb[i].col);
            }
    }
    return DCTR_OK;
}

void dfm_tables_finish(const dctr_model *model, int64_t t0, int64_t t1) {
    dfm *d = model->impl;
    const dctr_model_config *cfg = &model->cfg;
    for (int64_t t = t0; t < t1; t++) {
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

void dfm_tables_clear(dfm *d, int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
        dctr_sparse_grad_clear(&d->g_emb[t]);
        dctr_sparse_grad_clear(&d->g_lin[t]);
    }
}

static void tab_bw_task(void *ctx, int worker, int64_t begin, int64_t end) {
    const tab_bw_job *j = ctx;
    dfm_tables_clear(j->model->impl, begin, end);
    for (int64_t r0 = 0; r0 < j->b->n; r0 += DFM_BLOCK_ROWS) {
        const int64_t n = j->b->n - r0 < DFM_BLOCK_ROWS ? j->b->n - r0 : DFM_BLOCK_ROWS;
        dctr_status st = dfm_scatter_rows(j->model, j->b, j->dlogit, j->dX, begin, end, r0, n);
        if (st != DCTR_OK) {
            j->fail[worker] = st;
            return;
        }
    }
    dfm_tables_finish(j->model, begin, end);
}

/* A per-table failure lost its message on a worker thread: redo the scatter serially, in column
 * order, so the caller gets the same error (naming the column) as the serial path. */
static dctr_status serial_scatter_error(dfm *d, const dctr_schema *s, const dctr_batch *b,
                                        const float *dlogit, const float *dX) {
    dfm_tables_clear(d, 0, d->ntables);
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

double dfm_loss_rows(const dctr_model *model, dfm_ws *ws, const dctr_batch *b, int64_t r0,
                     int64_t n, double total) {
    const dfm *d = model->impl;
    float *dpred = ws->dpred + r0, *dlogit = ws->dlogit + r0;
    const float *w = b->sample_weights ? b->sample_weights + r0 : NULL;
    memset(dpred, 0, sizeof(float) * (size_t)n);
    total = model->task == DCTR_TASK_BINARY
                ? dctr_loss_bce_rows(ws->pred + r0, b->labels + r0, w, n, b->n, total, dpred)
                : dctr_loss_mse_rows(ws->pred + r0, b->labels + r0, w, n, b->n, total, dpred);
    dfm_dist_scale(model, dpred, n, b->n); /* distributed: this rank's share of the step */
    memset(dlogit, 0, sizeof(float) * (size_t)n);
    dctr_prediction_backward(model->task, ws->pred + r0, dpred, n, dlogit,
                             model->cfg.use_bias ? ws->grad + (d->bias_off - d->dense_begin) : NULL);
    return total;
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
 * per table in dfm_scatter_tables). */
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

void dfm_linear_dense_rows(const dctr_model *model, dfm_ws *ws, int64_t r0, int64_t n) {
    dfm *d = model->impl;
    if (d->dl > 0)
        dctr_linear_dense_backward(ws->dlogit + r0, ws->XL + r0 * d->dl, d->dl, n, (int32_t)d->dl,
                                   d->params + d->lin_kernel_off,
                                   ws->grad + (d->lin_kernel_off - d->dense_begin), NULL, NULL, 0);
}

/* Linear part: the dense kernel's gradient, then the 1-dim tables'. */
static dctr_status linear_backward(const dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                   int per_table) {
    dfm *d = model->impl;
    dfm_linear_dense_rows(model, ws, 0, b->n);
    const part_grads p = {d->lin, d->nlin, d->g_lin, 1, ws->dlogit, 1, ws->var1, ws->d1a, ws->d1b};
    return part_backward(model->schema, b, &p, per_table);
}

int32_t dfm_dnn_dx_cols(const dfm *d) {
    /* dense inputs follow the embeddings in X and take no gradient */
    return d->ndense_x > 0 ? (int32_t)d->dense_x_off[0] : (int32_t)d->xw;
}

void dfm_deep_backward_rows(dfm *d, dfm_ws *ws, int64_t r0, int64_t n, const float *const *wt,
                            dctr_pool *pool) {
    const int64_t xw = d->xw, db = d->dense_begin;
    const float *P = d->params;
    float *G = ws->grad, *dX = ws->dX + r0 * xw;
    const float *X = ws->X + r0 * xw, *dlogit = ws->dlogit + r0;
    /* a DNN over all of X writes every element of dX first: no clearing pass needed */
    const int dnn_writes_dx = d->use_dnn && d->dnn_cfg.num_layers > 0 && d->dnn_cfg.in_dim == xw;
    if (!dnn_writes_dx)
        memset(dX, 0, sizeof(float) * (size_t)(n * xw));
    if (d->use_dnn) {
        if (d->dnn_cfg.num_layers == 0) {
            dctr_dense_backward(X, xw, dlogit, 1, n, d->h, 1, P + d->out_w_off,
                                G + (d->out_w_off - db), NULL, dX, xw);
        } else {
            float *dH = ws->dH; /* written, not accumulated */
            dctr_dense_backward_ex(ws->H, ws->ldh, dlogit, 1, n, d->h, 1, P + d->out_w_off,
                                   G + (d->out_w_off - db), NULL, dH, d->h, 0.0f);
            const float beta = dnn_writes_dx ? 0.0f : 1.0f;
            if (wt)
                dctr_dnn_backward_rows(&d->dnn_cfg, &d->dnnp, ws->dnng, ws->dnn, wt, X, xw, n, dH,
                                       d->h, dX, xw, beta, dfm_dnn_dx_cols(d));
            else
                dctr_dnn_backward_ex(&d->dnn_cfg, &d->dnnp, ws->dnng, ws->dnn, X, xw, n, dH, d->h,
                                     dX, xw, beta, dfm_dnn_dx_cols(d));
        }
    }
    fm_bw_job fj = {d, ws};
    if (pool && d->nfm > 0 && r0 == 0 && n >= 2 * DFM_ROWS_GRAIN)
        dctr_pool_run_claimed(pool, n, DFM_ROWS_GRAIN, fm_bw_task, &fj);
    else if (d->nfm > 0)
        fm_bw_task(&fj, 0, r0, r0 + n);
}

/* FM/DNN columns' table gradients from dX. */
static dctr_status embedding_backward(const dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                      int per_table) {
    dfm *d = model->impl;
    const part_grads p = {d->emb, d->nemb, d->g_emb, 0, ws->dX, d->xw, ws->var, ws->dA, ws->dB};
    return part_backward(model->schema, b, &p, per_table);
}

/* The plain sparse columns of every table, per table (on the pool for large batches): each
 * task clears its tables, scatters them and takes their L2 terms and squares (tab_bw_task). */
dctr_status dfm_scatter_tables(const dctr_model *model, dfm_ws *ws, const dctr_batch *b) {
    dfm *d = model->impl;
    dctr_status fail[DCTR_MAX_THREADS] = {DCTR_OK};
    tab_bw_job tj = {model, b, ws->dlogit, d->nemb > 0 ? ws->dX : NULL, fail};
    if (dfm_tables_on_pool(d, b->n))
        dctr_pool_run(d->pool, d->ntables, tab_bw_task, &tj);
    else
        tab_bw_task(&tj, 0, 0, d->ntables);
    for (int w = 0; w < DCTR_MAX_THREADS; w++)
        if (fail[w] != DCTR_OK)
            return serial_scatter_error(d, model->schema, b, ws->dlogit, tj.dX);
    return DCTR_OK;
}

/* Tables' L2 (Keras: λ Σ w², gradient 2λw) lazily on the touched rows, added to *reg.
 * per_table: taken already, table by table (dfm_tables_finish), only summed here. */
static void tables_l2(const dctr_model *model, int per_table, double *reg) {
    dfm *d = model->impl;
    const dctr_model_config *cfg = &model->cfg;
    for (int32_t t = 0; t < d->ntables; t++) {
        if (per_table) {
            *reg += d->reg_tab[2 * t];
            *reg += d->reg_tab[2 * t + 1];
            continue;
        }
        if (d->lin_off[t] >= 0 && cfg->l2_linear > 0)
            *reg += dctr_l2_sparse(d->params + d->lin_off[t], &d->g_lin[t], cfg->l2_linear);
        if (d->emb_off[t] >= 0 && cfg->l2_embedding > 0)
            *reg += dctr_l2_sparse(d->params + d->emb_off[t], &d->g_emb[t], cfg->l2_embedding);
    }
    d->sq_valid = per_table; /* sq_tab holds the squares of the finished tables */
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

void dfm_backward_begin(dfm *d, int clear) {
    memset(d->grad, 0, sizeof(float) * (size_t)(d->nparams - d->dense_begin));
    d->sq_valid = 0;
    if (clear)
        dfm_tables_clear(d, 0, d->ntables);
}

dctr_status dfm_backward_reg(dctr_model *model, int per_table, double *reg_loss) {
    dfm *d = model->impl;
    const dctr_model_config *cfg = &model->cfg;
    /* the sum of the L2 terms in a fixed order: dense kernel, tables, DNN */
    double reg = 0;
    if (d->dl > 0 && cfg->l2_linear > 0)
        reg += dctr_l2_dense(d->params + d->lin_kernel_off, d->dl, cfg->l2_linear,
                             d->grad + (d->lin_kernel_off - d->dense_begin));
    if (dfm_dist_sharded(model)) { /* each owner's rows: summed over the ranks */
        double tab = 0;
        tables_l2(model, per_table, &tab);
        DCTR_TRY(dfm_dist_sum_tables(model, &tab));
        reg += tab;
    } else {
        tables_l2(model, per_table, &reg);
    }
    if (d->use_dnn && cfg->l2_dnn > 0)
        dnn_l2(d, cfg->l2_dnn, &reg);
    *reg_loss = reg;
    return DCTR_OK;
}

dctr_status dfm_backward(dctr_model *model, dfm_ws *ws, const dctr_batch *b, double *data_loss,
                         double *reg_loss) {
    dfm *d = model->impl;
    /* no varlen column: every table gradient is a plain scatter, done per table (see above),
     * which clears the table's accumulators itself */
    const int per_table = d->nvar == 0 && d->nvar1 == 0 && !model->dist;
    dfm_backward_begin(d, !per_table);
    double loss = dfm_loss_rows(model, ws, b, 0, b->n, 0.0) / (double)b->n;
    DCTR_TRY(linear_backward(model, ws, b, per_table));
    if (d->nemb > 0 || d->use_dnn) {
        dfm_deep_backward_rows(d, ws, 0, b->n, NULL, d->pool);
        DCTR_TRY(embedding_backward(model, ws, b, per_table));
    }
    if (per_table)
        DCTR_TRY(dfm_scatter_tables(model, ws, b));
    if (model->dist) /* the data gradients summed over the ranks, before the L2 terms */
        DCTR_TRY(dfm_dist_exchange(model, &loss, b->n));
    DCTR_TRY(dfm_backward_reg(model, per_table, reg_loss));
    *data_loss = loss;
    return DCTR_OK;
}
