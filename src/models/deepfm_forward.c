/* DeepFM / FM / LR forward (DeepCTR deepfm.py composition, reference §1.11):
 *   logit = linear + Σ_{g ∈ fm_groups} FM(X_g) + Dense(1, no bias)(DNN(X)) ;  ŷ = act(logit + b)
 * The row-local part (gather, pooling, FM, linear) runs on the pool in row chunks; the DNN
 * splits its GEMMs on the same pool. */
#include "models/deepfm_impl.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "feature/schema_types.h"
#include "layers/fm.h"
#include "layers/linear.h"
#include "layers/prediction.h"
#include "layers/sequence_pool.h"
#include "layers/weighted_seq.h"

static dctr_status col_error(dctr_status st, const dctr_schema *s, int32_t col) {
    return dctr_error_prefix(st, "column '%s'", s->cols[col].name);
}

/* Rows [r0, r0 + n) of varlen column c (k = c->k, 1 in the linear part): its T ids' table rows
 * gathered into v->E, weighted into v->Ew (weights v->alpha) when the column has weights,
 * pooled into out (row stride ldo); max pooling's winners kept in v->argmax when training. */
static dctr_status pool_varlen(const dctr_schema *s, const dfm_col *c, const dctr_column_data *cd,
                               const float *table, const dfm_vbuf *v, int training, int64_t r0,
                               int64_t n, float *out, int64_t ldo) {
    const int64_t T = c->T, k = c->k;
    float *E = v->E, *Ew = v->Ew, *alpha = v->alpha;
    int32_t *argmax = training ? v->argmax : NULL;
    const int64_t *ids = cd->ids + r0 * T;
    const int32_t *len = cd->lengths ? cd->lengths + r0 : NULL;
    E += r0 * T * k;
    dctr_status st = dctr_embedding_gather(table, s->tables[c->table].vocab_size, c->k, ids, n * T,
                                           E, k);
    if (st != DCTR_OK)
        return col_error(st, s, c->col);
    const float *src = E;
    if (c->weighted) {
        Ew += r0 * T * k;
        dctr_weighted_seq_forward(c->weight_norm, E, cd->weights + r0 * T, n, c->T, c->k, ids, len,
                                  Ew, alpha + r0 * T);
        src = Ew;
    }
    dctr_seq_pool_forward(c->combiner, src, n, c->T, c->k, ids, len, out, ldo,
                          argmax ? argmax + r0 * k : NULL);
    return DCTR_OK;
}

/* Rows [r0, r0 + n) of the FM/DNN columns: sparse embeddings gathered into their slices of X,
 * varlen ones gathered (weighted) and pooled into them. */
static dctr_status embed_rows(const dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                              int training, int64_t r0, int64_t n) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    const int64_t xw = d->xw;
    float *X = ws->X + r0 * xw;
    for (int32_t i = 0; i < d->nemb; i++) {
        const dfm_col *c = &d->emb[i];
        const dctr_column_data *cd = &b->cols[c->col];
        const float *table = d->params + d->emb_off[c->table];
        int64_t V = s->tables[c->table].vocab_size;
        dctr_status st;
        if (!c->varlen) {
            st = dctr_embedding_gather(table, V, c->k, cd->ids + r0, n, X + c->off, xw);
            if (st != DCTR_OK)
                return col_error(st, s, c->col);
            continue;
        }
        DCTR_TRY(pool_varlen(s, c, cd, table, &ws->var[c->vi], training, r0, n, X + c->off, xw));
    }
    return DCTR_OK;
}

/* n rows of one dense column (dd values a row) into dst (row stride ld). */
static void copy_dense_col(float *dst, int64_t ld, const float *src, int32_t dd, int64_t n) {
    if (dd == 1) { /* scalar column: no per-row libc call */
        for (int64_t r = 0; r < n; r++)
            dst[r * ld] = src[r];
        return;
    }
    for (int64_t r = 0; r < n; r++)
        memcpy(dst + r * ld, src + r * dd, sizeof(float) * (size_t)dd);
}

/* Rows [r0, r0 + n) of the DNN's dense columns copied after the embeddings in X. */
static void copy_dense_rows(const dctr_model *model, dfm_ws *ws, const dctr_batch *b, int64_t r0,
                            int64_t n) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    const int64_t xw = d->xw;
    float *X = ws->X + r0 * xw;
    for (int32_t i = 0; i < d->ndense_x; i++) {
        const dctr_column *sc = &s->cols[d->dense_x[i]];
        int32_t dd = sc->dense_dim;
        copy_dense_col(X + d->dense_x_off[i], xw, b->cols[sc->index].dense + r0 * dd, dd, n);
    }
}

/* Rows [r0, r0 + n) of the linear part added to logit: 1-dim tables (varlen pooled through the
 * workspace's E1 buffers), then the dense kernel over the copied linear dense values XL. */
static dctr_status linear_rows(const dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                               int training, int64_t r0, int64_t n, float *logit) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    const float *P = d->params;
    for (int32_t i = 0; i < d->nlin; i++) {
        const dfm_col *c = &d->lin[i];
        const dctr_column_data *cd = &b->cols[c->col];
        const float *table = P + d->lin_off[c->table];
        int64_t V = s->tables[c->table].vocab_size;
        dctr_status st;
        if (!c->varlen) {
            st = dctr_linear_sparse_forward(table, V, cd->ids + r0, n, logit, 1);
            if (st != DCTR_OK)
                return col_error(st, s, c->col);
            continue;
        }
        float *pooled = ws->tmp + r0;
        DCTR_TRY(pool_varlen(s, c, cd, table, &ws->var1[c->vi], training, r0, n, pooled, 1));
        for (int64_t r = 0; r < n; r++)
            logit[r] += pooled[r];
    }
    if (d->dl > 0) {
        float *XL = ws->XL + r0 * d->dl;
        for (int32_t i = 0; i < d->nlin_dense; i++) {
            const dctr_column *sc = &s->cols[d->lin_dense[i]];
            int32_t dd = sc->dense_dim;
            copy_dense_col(XL + d->lin_dense_off[i], d->dl, b->cols[sc->index].dense + r0 * dd, dd,
                           n);
        }
        dctr_linear_dense_forward(XL, d->dl, n, (int32_t)d->dl, P + d->lin_kernel_off, NULL, logit, 1);
    }
    return DCTR_OK;
}

/* Rows [r0, r1): embeddings into X, FM, and the whole linear logit. Everything here is
 * row-local, so splitting rows across threads gives bit-identical results. */
dctr_status dfm_forward_rows(const dctr_model *model, dfm_ws *ws, const dctr_batch *b, int training,
                             int64_t r0, int64_t r1) {
    const dfm *d = model->impl;
    const int64_t n = r1 - r0, xw = d->xw;
    float *logit = ws->logit + r0;
    float *X = ws->X + r0 * xw;
    memset(logit, 0, sizeof(float) * (size_t)n);
    DCTR_TRY(embed_rows(model, ws, b, training, r0, n));
    copy_dense_rows(model, ws, b, r0, n);
    for (int32_t g = 0; g < d->nfm; g++)
        dctr_fm_forward(X + d->fm[g].off, xw, n, d->fm[g].F, d->fm[g].k, logit, 1);
    return linear_rows(model, ws, b, training, r0, n, logit);
}

typedef struct rows_job {
    const dctr_model *model;
    dfm_ws *ws;
    const dctr_batch *b;
    int training;
    dctr_status st[DCTR_MAX_THREADS];
    char msg[DCTR_MAX_THREADS][256];
} rows_job;

size_t dfm_rows_job_size(void) { return sizeof(rows_job); }

static void rows_task(void *ctx, int worker, int64_t begin, int64_t end) {
    rows_job *j = ctx;
    dctr_status st = dfm_forward_rows(j->model, j->ws, j->b, j->training, begin, end);
    if (st != DCTR_OK && j->st[worker] == DCTR_OK) { /* keep this thread's first failure */
        j->st[worker] = st;
        /* the error message is thread-local: carry it to the caller */
        snprintf(j->msg[worker], sizeof(j->msg[worker]), "%s", dctr_last_error());
    }
}

dctr_status dfm_forward(const dctr_model *model, dfm_ws *ws, const dctr_batch *b, int training,
                        dctr_rng *drop_rng, dctr_pool *pool) {
    const int64_t B = b->n;
    if (model->shard_size > 1 && !model->dist) /* the rows of other ranks are not here */
        return dctr_set_error(DCTR_ERR_STATE,
                              "deepfm: this model holds rank %d of %d's rows of sharded tables: it "
                              "trains under its collective; save it with dctr_model_save_collective "
                              "and load the file to predict", (int)model->shard_rank,
                              (int)model->shard_size);
    if (B > ws->cap)
        return dctr_set_error(DCTR_ERR_INTERNAL, "deepfm: batch of %lld rows > workspace %lld",
                              (long long)B, (long long)ws->cap);
    if (pool && dctr_pool_threads(pool) > 1 && dctr_pool_threads(pool) <= DCTR_MAX_THREADS &&
        B >= 2 * DFM_ROWS_GRAIN) {
        rows_job *j = ws->job;
        j->model = model;
        j->ws = ws;
        j->b = b;
        j->training = training;
        for (int t = 0; t < DCTR_MAX_THREADS; t++)
            j->st[t] = DCTR_OK;
        dctr_pool_run_claimed(pool, B, DFM_ROWS_GRAIN, rows_task, j);
        for (int t = 0; t < dctr_pool_threads(pool); t++)
            if (j->st[t] != DCTR_OK)
                return dctr_set_error(j->st[t], "%s", j->msg[t]);
    } else {
        DCTR_TRY(dfm_forward_rows(model, ws, b, training, 0, B));
    }
    dfm_forward_head(model, ws, 0, B, training, drop_rng);
    return DCTR_OK;
}

void dfm_forward_head(const dctr_model *model, dfm_ws *ws, int64_t r0, int64_t n, int training,
                      dctr_rng *drop_rng) {
    const dfm *d = model->impl;
    float *logit = ws->logit + r0;
    /* DNN -> Dense(1, no bias) */
    if (d->use_dnn) {
        int64_t ldh = 0;
        const float *H = dctr_dnn_forward(&d->dnn_cfg, &d->dnnp, ws->dnn, ws->X + r0 * d->xw, d->xw,
                                          n, training, drop_rng, &ldh);
        ws->H = H;
        ws->ldh = ldh;
        dctr_dense_forward(H, ldh, n, d->h, 1, d->params + d->out_w_off, NULL, ws->tmp + r0, 1);
        for (int64_t r = 0; r < n; r++)
            logit[r] += ws->tmp[r0 + r];
    }
    dctr_prediction_forward(model->task, logit,
                            model->cfg.use_bias ? d->params + d->bias_off : NULL, n, ws->pred + r0);
}
