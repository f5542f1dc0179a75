/* DeepFM workspaces: per-batch buffers for the forward pass (X, linear inputs, logits, varlen
 * pooling inputs) and, for training, the backward scratch. One per thread for prediction, one
 * (model-owned, dfm->tws) for training. */
#include "models/deepfm_impl.h"

#include "core/alloc.h"
#include "core/error.h"

static float *fl(int64_t n) { return dctr_alloc_floats((size_t)(n > 0 ? n : 1)); }

static int32_t *i32s(int64_t n) {
    return dctr_aligned_alloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
}

static void ws_free_block(dfm_ws *ws);

void dfm_ws_free(dfm_ws *ws) {
    if (!ws)
        return;
    ws_free_block(ws);
    dctr_aligned_free(ws->X);
    dctr_aligned_free(ws->XL);
    dctr_aligned_free(ws->logit);
    dctr_aligned_free(ws->pred);
    dctr_aligned_free(ws->tmp);
    dctr_free(ws->job);
    dctr_aligned_free(ws->dX);
    dctr_aligned_free(ws->dH);
    dctr_aligned_free(ws->dpred);
    dctr_aligned_free(ws->dlogit);
    dctr_aligned_free(ws->dA);
    dctr_aligned_free(ws->dB);
    dctr_aligned_free(ws->d1a);
    dctr_aligned_free(ws->d1b);
    dctr_dnn_workspace_free(ws->dnn);
    dctr_free(ws);
}

/* The workspace with the counts of its per-varlen buffer arrays (ws is the first member). */
typedef struct dfm_ws_block {
    dfm_ws ws;
    int32_t nvar, nvar1;
} dfm_ws_block;

static void free_vec(float **v, int32_t n) {
    if (!v)
        return;
    for (int32_t i = 0; i < n; i++)
        dctr_aligned_free(v[i]);
    dctr_free(v);
}

static void free_ivec(int32_t **v, int32_t n) {
    if (!v)
        return;
    for (int32_t i = 0; i < n; i++)
        dctr_aligned_free(v[i]);
    dctr_free(v);
}

static void ws_free_block(dfm_ws *ws) {
    if (!ws)
        return;
    dfm_ws_block *blk = (dfm_ws_block *)ws;
    free_vec(ws->E, blk->nvar);
    free_vec(ws->Ew, blk->nvar);
    free_vec(ws->alpha, blk->nvar);
    free_ivec(ws->argmax, blk->nvar);
    free_vec(ws->E1, blk->nvar1);
    free_vec(ws->E1w, blk->nvar1);
    free_vec(ws->alpha1, blk->nvar1);
    free_ivec(ws->argmax1, blk->nvar1);
    ws->E = ws->Ew = ws->alpha = ws->E1 = ws->E1w = ws->alpha1 = NULL;
    ws->argmax = ws->argmax1 = NULL;
}


/* Per-varlen-column pooling inputs (gathered rows E, weighted Ew, weights alpha, max argmax) of
 * the FM/DNN part and of the linear part. Returns 0 when out of memory. */
static int alloc_varlen(dfm_ws *ws, const dfm *d, int64_t cap) {
    ws->E = dctr_calloc((size_t)d->nvar + 1, sizeof(float *));
    ws->Ew = dctr_calloc((size_t)d->nvar + 1, sizeof(float *));
    ws->alpha = dctr_calloc((size_t)d->nvar + 1, sizeof(float *));
    ws->argmax = dctr_calloc((size_t)d->nvar + 1, sizeof(int32_t *));
    ws->E1 = dctr_calloc((size_t)d->nvar1 + 1, sizeof(float *));
    ws->E1w = dctr_calloc((size_t)d->nvar1 + 1, sizeof(float *));
    ws->alpha1 = dctr_calloc((size_t)d->nvar1 + 1, sizeof(float *));
    ws->argmax1 = dctr_calloc((size_t)d->nvar1 + 1, sizeof(int32_t *));
    int ok = ws->E && ws->Ew && ws->alpha && ws->argmax && ws->E1 && ws->E1w && ws->alpha1 &&
             ws->argmax1;
    for (int32_t i = 0; ok && i < d->nemb; i++) {
        const dfm_col *c = &d->emb[i];
        if (!c->varlen)
            continue;
        ws->E[c->vi] = fl(cap * c->T * c->k);
        ws->argmax[c->vi] = i32s(cap * c->k);
        ok = ws->E[c->vi] && ws->argmax[c->vi];
        if (ok && c->weighted) {
            ws->Ew[c->vi] = fl(cap * c->T * c->k);
            ws->alpha[c->vi] = fl(cap * c->T);
            ok = ws->Ew[c->vi] && ws->alpha[c->vi];
        }
    }
    for (int32_t i = 0; ok && i < d->nlin; i++) {
        const dfm_col *c = &d->lin[i];
        if (!c->varlen)
            continue;
        ws->E1[c->vi] = fl(cap * c->T);
        ws->argmax1[c->vi] = i32s(cap);
        ok = ws->E1[c->vi] && ws->argmax1[c->vi];
        if (ok && c->weighted) {
            ws->E1w[c->vi] = fl(cap * c->T);
            ws->alpha1[c->vi] = fl(cap * c->T);
            ok = ws->E1w[c->vi] && ws->alpha1[c->vi];
        }
    }
    return ok;
}

/* Backward buffers: dX, dH, the logit / prediction gradients and the varlen scratch. */
static int alloc_training(dfm_ws *ws, const dfm *d, int64_t cap) {
    ws->dX = fl(cap * d->xw);
    ws->dH = fl(cap * d->h);
    ws->dpred = fl(cap);
    ws->dlogit = fl(cap);
    ws->dA = fl(cap * d->max_T * d->max_k);
    ws->dB = fl(cap * d->max_T * d->max_k);
    ws->d1a = fl(cap * d->max_T);
    ws->d1b = fl(cap * d->max_T);
    return ws->dX && ws->dH && ws->dpred && ws->dlogit && ws->dA && ws->dB && ws->d1a && ws->d1b;
}

dctr_status dfm_ws_new(const dctr_model *model, int64_t cap, int training, dfm_ws **out) {
    const dfm *d = model->impl;
    dfm_ws_block *blk = dctr_calloc(1, sizeof(*blk));
    if (!blk)
        return DCTR_ERR_NOMEM;
    dfm_ws *ws = &blk->ws;
    blk->nvar = d->nvar;
    blk->nvar1 = d->nvar1;
    ws->cap = cap;
    ws->training = training;
    ws->X = fl(cap * d->xw);
    ws->XL = fl(cap * d->dl);
    ws->logit = fl(cap);
    ws->pred = fl(cap);
    ws->tmp = fl(cap);
    ws->job = dctr_calloc(1, dfm_rows_job_size());
    int ok = ws->X && ws->XL && ws->logit && ws->pred && ws->tmp && ws->job;
    ok = ok && alloc_varlen(ws, d, cap);
    if (ok && d->use_dnn)
        ok = dctr_dnn_workspace_new(&d->dnn_cfg, cap, &ws->dnn) == DCTR_OK;
    if (ok && training)
        ok = alloc_training(ws, d, cap);
    if (!ok) {
        dfm_ws_free(ws);
        return dctr_set_error(DCTR_ERR_NOMEM, "deepfm: workspace for %lld rows", (long long)cap);
    }
    *out = ws;
    return DCTR_OK;
}
