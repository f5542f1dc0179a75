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

static void free_vbufs(dfm_vbuf *v, int32_t n) {
    if (!v)
        return;
    for (int32_t i = 0; i < n; i++) {
        dctr_aligned_free(v[i].E);
        dctr_aligned_free(v[i].Ew);
        dctr_aligned_free(v[i].alpha);
        dctr_aligned_free(v[i].argmax);
    }
    dctr_free(v);
}

void dfm_ws_free(dfm_ws *ws) {
    if (!ws)
        return;
    free_vbufs(ws->var, ws->nvar);
    free_vbufs(ws->var1, ws->nvar1);
    float *const floats[] = {ws->X,  ws->XL,     ws->logit, ws->pred, ws->tmp, ws->dX, ws->dH,
                             ws->dpred, ws->dlogit, ws->dA, ws->dB,   ws->d1a, ws->d1b};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        dctr_aligned_free(floats[i]);
    dctr_free(ws->job);
    dctr_dnn_workspace_free(ws->dnn);
    dctr_free(ws);
}

/* The varlen buffers of the nv varlen columns among cols[0, n) into *out. 0 when out of memory
 * (what was allocated is freed with the workspace). */
static int alloc_vbufs(const dfm_col *cols, int32_t n, int32_t nv, int64_t cap, dfm_vbuf **out) {
    dfm_vbuf *v = *out = dctr_calloc((size_t)nv + 1, sizeof *v);
    if (!v)
        return 0;
    for (int32_t i = 0; i < n; i++) {
        const dfm_col *c = &cols[i];
        if (!c->varlen)
            continue;
        dfm_vbuf *b = &v[c->vi];
        b->E = fl(cap * c->T * c->k);
        b->argmax = i32s(cap * c->k);
        if (!b->E || !b->argmax)
            return 0;
        if (c->weighted) {
            b->Ew = fl(cap * c->T * c->k);
            b->alpha = fl(cap * c->T);
            if (!b->Ew || !b->alpha)
                return 0;
        }
    }
    return 1;
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
    dfm_ws *ws = dctr_calloc(1, sizeof(*ws));
    if (!ws)
        return DCTR_ERR_NOMEM;
    ws->nvar = d->nvar;
    ws->nvar1 = d->nvar1;
    ws->cap = cap;
    ws->training = training;
    ws->X = fl(cap * d->xw);
    ws->XL = fl(cap * d->dl);
    ws->logit = fl(cap);
    ws->pred = fl(cap);
    ws->tmp = fl(cap);
    ws->job = dctr_calloc(1, dfm_rows_job_size());
    int ok = ws->X && ws->XL && ws->logit && ws->pred && ws->tmp && ws->job;
    ok = ok && alloc_vbufs(d->emb, d->nemb, d->nvar, cap, &ws->var) &&
         alloc_vbufs(d->lin, d->nlin, d->nvar1, cap, &ws->var1);
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
