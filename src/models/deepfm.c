/* DeepFM / FM / LR: structure from schema + config, parameter arena and initialisation,
 * workspaces, forward and backward (DeepCTR deepfm.py composition, reference §1.11).
 *   logit = linear + Σ_{g ∈ fm_groups} FM(X_g) + Dense(1, no bias)(DNN(X)) ;  ŷ = act(logit + b) */
#include "models/deepfm_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/error.h"
#include "feature/schema_types.h"
#include "layers/fm.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/prediction.h"
#include "layers/sequence_pool.h"
#include "layers/weighted_seq.h"

/* RNG streams of the model seed (one per consumer, so adding one never shifts another). */
enum { STREAM_LIN_KERNEL = 1, STREAM_DNN = 2, STREAM_OUT_W = 3, STREAM_DROPOUT = 4,
       STREAM_TABLE0 = 1000 };

static int in_list(const char *name, const char *const *list, int32_t n) {
    if (!list)
        return 1;
    for (int32_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

static void fill_col(dfm_col *c, const dctr_column *sc, int32_t k) {
    memset(c, 0, sizeof(*c));
    c->col = sc->index;
    c->table = sc->table;
    c->k = k;
    c->varlen = sc->kind == DCTR_COLUMN_VARLEN;
    c->T = c->varlen ? sc->maxlen : 1;
    c->weighted = c->varlen && sc->weight_name != NULL;
    c->weight_norm = sc->weight_norm;
    c->combiner = sc->combiner;
    c->vi = -1;
}

static void dfm_free(void *impl) {
    dfm *d = impl;
    if (!d)
        return;
    dctr_free(d->emb);
    dctr_free(d->dense_x);
    dctr_free(d->dense_x_off);
    dctr_free(d->fm);
    dctr_free(d->lin);
    dctr_free(d->lin_dense);
    dctr_free(d->lin_dense_off);
    dctr_free(d->emb_off);
    dctr_free(d->lin_off);
    dctr_aligned_free(d->params);
    dctr_aligned_free(d->state);
    for (int s = 0; s < DCTR_OPTIM_MAX_SLOTS; s++)
        dctr_aligned_free(d->slots[s]);
    dctr_aligned_free(d->grad);
    if (d->g_emb)
        for (int32_t t = 0; t < d->ntables; t++)
            dctr_sparse_grad_destroy(&d->g_emb[t]);
    if (d->g_lin)
        for (int32_t t = 0; t < d->ntables; t++)
            dctr_sparse_grad_destroy(&d->g_lin[t]);
    dctr_free(d->g_emb);
    dctr_free(d->g_lin);
    dctr_free(d->reg_tab);
    dctr_free(d->sq_tab);
    dfm_ws_free(d->tws);
    dctr_pool_free(d->pool);
    dctr_free(d);
}

/* Decides which columns feed which part and lays out X. */
static dctr_status build_structure(const dctr_model *m, dfm *d) {
    const dctr_schema *s = m->schema;
    const dctr_model_config *cfg = &m->cfg;
    d->use_dnn = m->type == DCTR_MODEL_DEEPFM;
    d->use_fm = m->type != DCTR_MODEL_LR;
    int32_t n = s->ncols;
    d->emb = dctr_calloc((size_t)n + 1, sizeof(dfm_col));
    d->lin = dctr_calloc((size_t)n + 1, sizeof(dfm_col));
    d->dense_x = dctr_calloc((size_t)n + 1, sizeof(int32_t));
    d->dense_x_off = dctr_calloc((size_t)n + 1, sizeof(int64_t));
    d->lin_dense = dctr_calloc((size_t)n + 1, sizeof(int32_t));
    d->lin_dense_off = dctr_calloc((size_t)n + 1, sizeof(int64_t));
    d->fm = dctr_calloc((size_t)s->ngroups + 1, sizeof(dfm_group));
    if (!d->emb || !d->lin || !d->dense_x || !d->dense_x_off || !d->lin_dense ||
        !d->lin_dense_off || !d->fm)
        return DCTR_ERR_NOMEM;

    const char *default_group[1] = {"default_group"};
    const char *const *fm_groups = cfg->fm_groups ? cfg->fm_groups : default_group;
    int32_t nfm_groups = cfg->fm_groups ? cfg->num_fm_groups : 1;

    /* FM/DNN part: groups in schema order, sparse columns first, then varlen (DeepCTR's
     * group_embedding_dict order); FM-only models take just the fm_group columns. */
    if (d->use_fm || d->use_dnn) {
        for (int32_t g = 0; g < s->ngroups; g++) {
            int in_fm = d->use_fm && in_list(s->groups[g], fm_groups, nfm_groups);
            if (!d->use_dnn && !in_fm)
                continue;
            int64_t gstart = d->xw;
            int32_t F = 0, k = -1;
            for (int pass = 0; pass < 2; pass++) {
                dctr_column_kind want = pass == 0 ? DCTR_COLUMN_SPARSE : DCTR_COLUMN_VARLEN;
                for (int32_t c = 0; c < n; c++) {
                    const dctr_column *sc = &s->cols[c];
                    if (sc->kind != want || sc->group != g ||
                        !in_list(sc->name, cfg->dnn_columns, cfg->num_dnn_columns))
                        continue;
                    dfm_col *ec = &d->emb[d->nemb++];
                    fill_col(ec, sc, sc->dim);
                    ec->off = d->xw;
                    if (ec->varlen)
                        ec->vi = d->nvar++;
                    d->xw += sc->dim;
                    if (k < 0)
                        k = sc->dim;
                    F++;
                    if (sc->maxlen > d->max_T)
                        d->max_T = sc->maxlen;
                    if (sc->dim > d->max_k)
                        d->max_k = sc->dim;
                }
            }
            if (in_fm && F > 0) {
                /* equal k is checked by dctr_model_new; recheck defensively */
                for (int32_t i = d->nemb - F; i < d->nemb; i++)
                    if (d->emb[i].k != k)
                        return dctr_set_error(DCTR_ERR_SCHEMA,
                                              "fm group '%s': columns have different embedding dims",
                                              s->groups[g]);
                d->fm[d->nfm++] = (dfm_group){gstart, F, k};
            }
        }
        if (d->use_dnn) {
            for (int32_t c = 0; c < n; c++) {
                const dctr_column *sc = &s->cols[c];
                if (sc->kind != DCTR_COLUMN_DENSE ||
                    !in_list(sc->name, cfg->dnn_columns, cfg->num_dnn_columns))
                    continue;
                d->dense_x[d->ndense_x] = c;
                d->dense_x_off[d->ndense_x++] = d->xw;
                d->xw += sc->dense_dim;
            }
        }
    }
    /* Linear part: sparse / varlen through 1-dim tables, dense through one kernel. */
    for (int32_t c = 0; c < n; c++) {
        const dctr_column *sc = &s->cols[c];
        if (!in_list(sc->name, cfg->linear_columns, cfg->num_linear_columns))
            continue;
        if (sc->kind == DCTR_COLUMN_DENSE) {
            d->lin_dense[d->nlin_dense] = c;
            d->lin_dense_off[d->nlin_dense++] = d->dl;
            d->dl += sc->dense_dim;
        } else {
            dfm_col *lc = &d->lin[d->nlin++];
            fill_col(lc, sc, 1);
            if (lc->varlen) {
                lc->vi = d->nvar1++;
                if (sc->maxlen > d->max_T)
                    d->max_T = sc->maxlen;
            }
        }
    }
    if (d->max_k < 1)
        d->max_k = 1;
    if (d->max_T < 1)
        d->max_T = 1;

    /* DNN */
    dctr_dnn_config_default(&d->dnn_cfg);
    if (d->use_dnn && d->xw > 0) {
        int32_t nh = cfg->num_hidden;
        static const int32_t dflt[3] = {256, 128, 64};
        const int32_t *units = cfg->hidden_units;
        if (nh < 0 || !units) {
            units = dflt;
            nh = nh == 0 ? 0 : 3;
        }
        if (nh > DCTR_DNN_MAX_LAYERS)
            return dctr_set_error(DCTR_ERR_SCHEMA, "deepfm: %d hidden layers (at most %d)", nh,
                                  DCTR_DNN_MAX_LAYERS);
        d->dnn_cfg.in_dim = (int32_t)d->xw;
        d->dnn_cfg.num_layers = nh;
        for (int32_t i = 0; i < nh; i++)
            d->dnn_cfg.units[i] = units[i];
        d->dnn_cfg.activation = cfg->activation;
        d->dnn_cfg.use_bn = cfg->use_bn;
        d->dnn_cfg.dropout = cfg->dropout;
        dctr_status st = dctr_dnn_config_check(&d->dnn_cfg);
        if (st != DCTR_OK)
            return dctr_error_prefix(st, "deepfm DNN");
        d->h = dctr_dnn_out_dim(&d->dnn_cfg);
    } else {
        d->use_dnn = 0;
    }
    return DCTR_OK;
}

static void bind_dnn(dfm *d) {
    if (!d->use_dnn)
        return;
    dctr_dnn_bind(&d->dnn_cfg, d->params + d->dnn_off, d->state, &d->dnnp);
}

static dctr_status alloc_params(const dctr_model *m, dfm *d) {
    const dctr_schema *s = m->schema;
    d->ntables = s->ntables;
    d->emb_off = dctr_malloc(((size_t)s->ntables + 1) * sizeof(int64_t));
    d->lin_off = dctr_malloc(((size_t)s->ntables + 1) * sizeof(int64_t));
    if (!d->emb_off || !d->lin_off)
        return DCTR_ERR_NOMEM;
    for (int32_t t = 0; t < s->ntables; t++)
        d->emb_off[t] = d->lin_off[t] = -1;
    int64_t n = 0;
    for (int32_t i = 0; i < d->nemb; i++) {
        int32_t t = d->emb[i].table;
        if (d->emb_off[t] < 0) {
            d->emb_off[t] = n;
            n += s->tables[t].vocab_size * s->tables[t].dim;
        }
    }
    for (int32_t i = 0; i < d->nlin; i++) {
        int32_t t = d->lin[i].table;
        if (d->lin_off[t] < 0) {
            d->lin_off[t] = n;
            n += s->tables[t].vocab_size;
        }
    }
    d->dense_begin = n;
    d->lin_kernel_off = n;
    n += d->dl;
    d->dnn_off = n;
    if (d->use_dnn)
        n += dctr_dnn_num_params(&d->dnn_cfg);
    d->out_w_off = n;
    if (d->use_dnn)
        n += d->h;
    d->bias_off = n;
    n += 1;
    d->nparams = n;
    if (m->load_param_cap > 0 && n > m->load_param_cap)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "deepfm: the model's structure needs %lld parameters, the file holds %lld",
                              (long long)n, (long long)m->load_param_cap);
    d->params = dctr_alloc_floats((size_t)n);
    d->nstate = d->use_dnn ? dctr_dnn_num_state(&d->dnn_cfg) : 0;
    d->state = dctr_alloc_floats((size_t)d->nstate + 1);
    if (!d->params || !d->state)
        return DCTR_ERR_NOMEM;
    bind_dnn(d);
    return DCTR_OK;
}

static void init_params(const dctr_model *m, dfm *d) {
    const dctr_schema *s = m->schema;
    uint64_t seed = m->cfg.seed;
    dctr_rng rng;
    for (int32_t t = 0; t < s->ntables; t++) {
        if (d->emb_off[t] >= 0) {
            dctr_rng_init(&rng, seed, STREAM_TABLE0 + (uint64_t)t);
            dctr_init_normal(&rng, d->params + d->emb_off[t], s->tables[t].vocab_size * s->tables[t].dim,
                             s->tables[t].init_std);
        }
        /* linear tables: zeros (already) */
    }
    if (d->dl > 0) {
        dctr_rng_init(&rng, seed, STREAM_LIN_KERNEL);
        dctr_init_glorot_normal(&rng, d->params + d->lin_kernel_off, d->dl, d->dl, 1);
    }
    if (d->use_dnn) {
        dctr_rng_init(&rng, seed, STREAM_DNN);
        dctr_dnn_init(&d->dnn_cfg, &d->dnnp, &rng);
        dctr_rng_init(&rng, seed, STREAM_OUT_W);
        dctr_init_glorot_uniform(&rng, d->params + d->out_w_off, d->h, d->h, 1);
    }
    d->params[d->bias_off] = 0.0f;
    dctr_rng_init(&d->drop_rng, seed, STREAM_DROPOUT);
}

/* ---------------- workspaces ---------------- */

static size_t rows_job_size(void);

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
    int ok = 1;
    ws->X = fl(cap * d->xw);
    ws->XL = fl(cap * d->dl);
    ws->logit = fl(cap);
    ws->pred = fl(cap);
    ws->tmp = fl(cap);
    ws->job = dctr_calloc(1, rows_job_size());
    ok = ws->X && ws->XL && ws->logit && ws->pred && ws->tmp && ws->job;
    ws->E = dctr_calloc((size_t)d->nvar + 1, sizeof(float *));
    ws->Ew = dctr_calloc((size_t)d->nvar + 1, sizeof(float *));
    ws->alpha = dctr_calloc((size_t)d->nvar + 1, sizeof(float *));
    ws->argmax = dctr_calloc((size_t)d->nvar + 1, sizeof(int32_t *));
    ws->E1 = dctr_calloc((size_t)d->nvar1 + 1, sizeof(float *));
    ws->E1w = dctr_calloc((size_t)d->nvar1 + 1, sizeof(float *));
    ws->alpha1 = dctr_calloc((size_t)d->nvar1 + 1, sizeof(float *));
    ws->argmax1 = dctr_calloc((size_t)d->nvar1 + 1, sizeof(int32_t *));
    ok = ok && ws->E && ws->Ew && ws->alpha && ws->argmax && ws->E1 && ws->E1w && ws->alpha1 &&
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
    if (ok && d->use_dnn)
        ok = dctr_dnn_workspace_new(&d->dnn_cfg, cap, &ws->dnn) == DCTR_OK;
    if (ok && training) {
        ws->dX = fl(cap * d->xw);
        ws->dH = fl(cap * d->h);
        ws->dpred = fl(cap);
        ws->dlogit = fl(cap);
        ws->dA = fl(cap * d->max_T * d->max_k);
        ws->dB = fl(cap * d->max_T * d->max_k);
        ws->d1a = fl(cap * d->max_T);
        ws->d1b = fl(cap * d->max_T);
        ok = ws->dX && ws->dH && ws->dpred && ws->dlogit && ws->dA && ws->dB && ws->d1a && ws->d1b;
    }
    if (!ok) {
        dfm_ws_free(ws);
        return dctr_set_error(DCTR_ERR_NOMEM, "deepfm: workspace for %lld rows", (long long)cap);
    }
    *out = ws;
    return DCTR_OK;
}

/* ---------------- forward ---------------- */

static dctr_status col_error(dctr_status st, const dctr_schema *s, int32_t col) {
    return dctr_error_prefix(st, "column '%s'", s->cols[col].name);
}

/* Rows [r0, r1): embeddings into X, FM, and the whole linear logit. Everything here is
 * row-local, so splitting rows across threads gives bit-identical results. */
static dctr_status forward_rows(const dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                int training, int64_t r0, int64_t r1) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    const int64_t n = r1 - r0, xw = d->xw;
    const float *P = d->params;
    float *logit = ws->logit + r0;
    float *X = ws->X + r0 * xw;
    memset(logit, 0, sizeof(float) * (size_t)n);
    for (int32_t i = 0; i < d->nemb; i++) {
        const dfm_col *c = &d->emb[i];
        const dctr_column_data *cd = &b->cols[c->col];
        const float *table = P + d->emb_off[c->table];
        int64_t V = s->tables[c->table].vocab_size;
        dctr_status st;
        if (!c->varlen) {
            st = dctr_embedding_gather(table, V, c->k, cd->ids + r0, n, X + c->off, xw);
            if (st != DCTR_OK)
                return col_error(st, s, c->col);
            continue;
        }
        const int64_t T = c->T, k = c->k;
        const int64_t *ids = cd->ids + r0 * T;
        const int32_t *len = cd->lengths ? cd->lengths + r0 : NULL;
        float *E = ws->E[c->vi] + r0 * T * k;
        st = dctr_embedding_gather(table, V, c->k, ids, n * T, E, k);
        if (st != DCTR_OK)
            return col_error(st, s, c->col);
        const float *src = E;
        if (c->weighted) {
            float *Ew = ws->Ew[c->vi] + r0 * T * k;
            dctr_weighted_seq_forward(c->weight_norm, E, cd->weights + r0 * T, n, c->T, c->k, ids,
                                      len, Ew, ws->alpha[c->vi] + r0 * T);
            src = Ew;
        }
        dctr_seq_pool_forward(c->combiner, src, n, c->T, c->k, ids, len, X + c->off, xw,
                              training ? ws->argmax[c->vi] + r0 * k : NULL);
    }
    for (int32_t i = 0; i < d->ndense_x; i++) {
        const dctr_column *sc = &s->cols[d->dense_x[i]];
        int32_t dd = sc->dense_dim;
        const float *src = b->cols[sc->index].dense + r0 * dd;
        float *dst = X + d->dense_x_off[i];
        if (dd == 1) { /* scalar column: no per-row libc call */
            for (int64_t r = 0; r < n; r++)
                dst[r * xw] = src[r];
            continue;
        }
        for (int64_t r = 0; r < n; r++)
            memcpy(dst + r * xw, src + r * dd, sizeof(float) * (size_t)dd);
    }
    for (int32_t g = 0; g < d->nfm; g++)
        dctr_fm_forward(X + d->fm[g].off, xw, n, d->fm[g].F, d->fm[g].k, logit, 1);
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
        const int64_t T = c->T;
        const int64_t *ids = cd->ids + r0 * T;
        const int32_t *len = cd->lengths ? cd->lengths + r0 : NULL;
        float *E1 = ws->E1[c->vi] + r0 * T;
        st = dctr_embedding_gather(table, V, 1, ids, n * T, E1, 1);
        if (st != DCTR_OK)
            return col_error(st, s, c->col);
        const float *src = E1;
        if (c->weighted) {
            float *E1w = ws->E1w[c->vi] + r0 * T;
            dctr_weighted_seq_forward(c->weight_norm, E1, cd->weights + r0 * T, n, c->T, 1, ids, len,
                                      E1w, ws->alpha1[c->vi] + r0 * T);
            src = E1w;
        }
        float *pooled = ws->tmp + r0;
        dctr_seq_pool_forward(c->combiner, src, n, c->T, 1, ids, len, pooled, 1,
                              training ? ws->argmax1[c->vi] + r0 : NULL);
        for (int64_t r = 0; r < n; r++)
            logit[r] += pooled[r];
    }
    if (d->dl > 0) {
        float *XL = ws->XL + r0 * d->dl;
        for (int32_t i = 0; i < d->nlin_dense; i++) {
            const dctr_column *sc = &s->cols[d->lin_dense[i]];
            int32_t dd = sc->dense_dim;
            const float *src = b->cols[sc->index].dense + r0 * dd;
            for (int64_t r = 0; r < n; r++)
                memcpy(XL + r * d->dl + d->lin_dense_off[i], src + r * dd, sizeof(float) * (size_t)dd);
        }
        dctr_linear_dense_forward(XL, d->dl, n, (int32_t)d->dl, P + d->lin_kernel_off, NULL, logit, 1);
    }
    return DCTR_OK;
}

/* Row-local work (gather, FM, linear) is claimed by the threads in chunks of this many rows;
 * a batch of fewer than two chunks stays on the calling thread (handing it over would cost
 * about what the work does). */
#define DFM_ROWS_GRAIN 256

typedef struct rows_job {
    const dctr_model *model;
    dfm_ws *ws;
    const dctr_batch *b;
    int training;
    dctr_status st[DCTR_MAX_THREADS];
    char msg[DCTR_MAX_THREADS][256];
} rows_job;

static size_t rows_job_size(void) { return sizeof(rows_job); }

static void rows_task(void *ctx, int worker, int64_t begin, int64_t end) {
    rows_job *j = ctx;
    dctr_status st = forward_rows(j->model, j->ws, j->b, j->training, begin, end);
    if (st != DCTR_OK && j->st[worker] == DCTR_OK) { /* keep this thread's first failure */
        j->st[worker] = st;
        /* the error message is thread-local: carry it to the caller */
        snprintf(j->msg[worker], sizeof(j->msg[worker]), "%s", dctr_last_error());
    }
}

dctr_status dfm_forward(const dctr_model *model, dfm_ws *ws, const dctr_batch *b, int training,
                        dctr_rng *drop_rng, dctr_pool *pool) {
    const dfm *d = model->impl;
    const int64_t B = b->n;
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
        DCTR_TRY(forward_rows(model, ws, b, training, 0, B));
    }
    float *logit = ws->logit;
    /* DNN -> Dense(1, no bias) */
    if (d->use_dnn) {
        int64_t ldh = 0;
        const float *H = dctr_dnn_forward(&d->dnn_cfg, &d->dnnp, ws->dnn, ws->X, d->xw, B, training,
                                          drop_rng, &ldh);
        ws->H = H;
        ws->ldh = ldh;
        dctr_dense_forward(H, ldh, B, d->h, 1, d->params + d->out_w_off, NULL, ws->tmp, 1);
        for (int64_t r = 0; r < B; r++)
            logit[r] += ws->tmp[r];
    }
    dctr_prediction_forward(model->task, logit,
                            model->cfg.use_bias ? d->params + d->bias_off : NULL, B, ws->pred);
    return DCTR_OK;
}

/* ---------------- backward ---------------- */

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

dctr_status dfm_backward(dctr_model *model, dfm_ws *ws, const dctr_batch *b, double *data_loss,
                         double *reg_loss) {
    dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    const int64_t B = b->n, xw = d->xw;
    const float *P = d->params;
    float *G = d->grad; /* dense tail: index (i - dense_begin) */
    const int64_t db = d->dense_begin;
    memset(G, 0, sizeof(float) * (size_t)(d->nparams - db));
    /* no varlen column: every table gradient is a plain scatter, done per table (see above),
     * which clears the table's accumulators itself */
    const int per_table = d->nvar == 0 && d->nvar1 == 0;
    d->sq_valid = 0;
    if (!per_table)
        for (int32_t t = 0; t < d->ntables; t++) {
            dctr_sparse_grad_clear(&d->g_emb[t]);
            dctr_sparse_grad_clear(&d->g_lin[t]);
        }
    memset(ws->dpred, 0, sizeof(float) * (size_t)B);
    double loss = model->task == DCTR_TASK_BINARY
                      ? dctr_loss_bce(ws->pred, b->labels, b->sample_weights, B, ws->dpred)
                      : dctr_loss_mse(ws->pred, b->labels, b->sample_weights, B, ws->dpred);
    float *dlogit = ws->dlogit;
    memset(dlogit, 0, sizeof(float) * (size_t)B);
    dctr_prediction_backward(model->task, ws->pred, ws->dpred, B, dlogit,
                             model->cfg.use_bias ? G + (d->bias_off - db) : NULL);

    /* linear */
    if (d->dl > 0)
        dctr_linear_dense_backward(dlogit, ws->XL, d->dl, B, (int32_t)d->dl, P + d->lin_kernel_off,
                                   G + (d->lin_kernel_off - db), NULL, NULL, 0);
    for (int32_t i = 0; i < d->nlin; i++) {
        const dfm_col *c = &d->lin[i];
        if (!s->tables[c->table].trainable)
            continue;
        const dctr_column_data *cd = &b->cols[c->col];
        dctr_sparse_grad *g = &d->g_lin[c->table];
        dctr_status st;
        if (!c->varlen && per_table)
            continue;
        if (!c->varlen) {
            st = dctr_linear_sparse_backward(g, cd->ids, B, dlogit);
            if (st != DCTR_OK)
                return sg_error(st, s, c->col);
            continue;
        }
        int64_t BT = B * c->T;
        float *dpool_in = ws->d1a;
        memset(dpool_in, 0, sizeof(float) * (size_t)BT);
        dctr_seq_pool_backward(c->combiner, dlogit, 1, B, c->T, 1, cd->ids, cd->lengths,
                               ws->argmax1[c->vi], dpool_in);
        float *dE = dpool_in;
        if (c->weighted) {
            dE = ws->d1b;
            memset(dE, 0, sizeof(float) * (size_t)BT);
            dctr_weighted_seq_backward(c->weight_norm, dpool_in, ws->E1[c->vi], ws->alpha1[c->vi],
                                       B, c->T, 1, cd->ids, cd->lengths, dE, NULL);
        }
        st = dctr_embedding_scatter_seq(g, cd->ids, cd->lengths, B, c->T, dE);
        if (st != DCTR_OK)
            return sg_error(st, s, c->col);
    }

    /* DNN and FM into dX */
    if (d->nemb > 0 || d->use_dnn) {
        float *dX = ws->dX;
        /* a DNN over all of X writes every element of dX first: no clearing pass needed */
        const int dnn_writes_dx = d->use_dnn && d->dnn_cfg.num_layers > 0 && d->dnn_cfg.in_dim == xw;
        if (!dnn_writes_dx)
            memset(dX, 0, sizeof(float) * (size_t)(B * xw));
        if (d->use_dnn) {
            if (d->dnn_cfg.num_layers == 0) {
                dctr_dense_backward(ws->X, xw, dlogit, 1, B, d->h, 1, P + d->out_w_off,
                                    G + (d->out_w_off - db), NULL, dX, xw);
            } else {
                float *dH = ws->dH; /* written, not accumulated */
                dctr_dense_backward_ex(ws->H, ws->ldh, dlogit, 1, B, d->h, 1, P + d->out_w_off,
                                       G + (d->out_w_off - db), NULL, dH, d->h, 0.0f);
                dctr_dnn_backward_ex(&d->dnn_cfg, &d->dnnp, &d->dnng, ws->dnn, ws->X, xw, B, dH,
                                     d->h, dX, xw, dnn_writes_dx ? 0.0f : 1.0f);
            }
        }
        fm_bw_job fj = {d, ws};
        if (d->pool && d->nfm > 0 && B >= 2 * DFM_ROWS_GRAIN)
            dctr_pool_run_claimed(d->pool, B, DFM_ROWS_GRAIN, fm_bw_task, &fj);
        else if (d->nfm > 0)
            fm_bw_task(&fj, 0, 0, B);
        for (int32_t i = 0; i < d->nemb; i++) {
            const dfm_col *c = &d->emb[i];
            if (!s->tables[c->table].trainable)
                continue;
            const dctr_column_data *cd = &b->cols[c->col];
            dctr_sparse_grad *g = &d->g_emb[c->table];
            dctr_status st;
            if (!c->varlen && per_table)
                continue;
            if (!c->varlen) {
                st = dctr_embedding_scatter(g, cd->ids, B, dX + c->off, xw);
                if (st != DCTR_OK)
                    return sg_error(st, s, c->col);
                continue;
            }
            int64_t BTk = B * c->T * c->k;
            float *dpool_in = ws->dA;
            memset(dpool_in, 0, sizeof(float) * (size_t)BTk);
            dctr_seq_pool_backward(c->combiner, dX + c->off, xw, B, c->T, c->k, cd->ids,
                                   cd->lengths, ws->argmax[c->vi], dpool_in);
            float *dE = dpool_in;
            if (c->weighted) {
                dE = ws->dB;
                memset(dE, 0, sizeof(float) * (size_t)BTk);
                dctr_weighted_seq_backward(c->weight_norm, dpool_in, ws->E[c->vi], ws->alpha[c->vi],
                                           B, c->T, c->k, cd->ids, cd->lengths, dE, NULL);
            }
            st = dctr_embedding_scatter_seq(g, cd->ids, cd->lengths, B, c->T, dE);
            if (st != DCTR_OK)
                return sg_error(st, s, c->col);
        }
    }

    /* L2 (Keras: λ Σ w², gradient 2λw); tables lazily on the touched rows */
    double reg = 0;
    const dctr_model_config *cfg = &model->cfg;
    if (d->dl > 0 && cfg->l2_linear > 0)
        reg += dctr_l2_dense(P + d->lin_kernel_off, d->dl, cfg->l2_linear,
                             G + (d->lin_kernel_off - db));
    if (per_table) {
        dctr_status fail[DCTR_MAX_THREADS] = {DCTR_OK};
        tab_bw_job tj = {model, b, dlogit, d->nemb > 0 ? ws->dX : NULL, fail};
        if (dfm_tables_on_pool(d, B))
            dctr_pool_run(d->pool, d->ntables, tab_bw_task, &tj);
        else
            tab_bw_task(&tj, 0, 0, d->ntables);
        for (int w = 0; w < DCTR_MAX_THREADS; w++)
            if (fail[w] != DCTR_OK)
                return serial_scatter_error(d, s, b, dlogit, tj.dX);
        for (int32_t t = 0; t < d->ntables; t++) {
            reg += d->reg_tab[2 * t];
            reg += d->reg_tab[2 * t + 1];
        }
        d->sq_valid = 1;
    } else {
        for (int32_t t = 0; t < d->ntables; t++) {
            if (d->lin_off[t] >= 0 && cfg->l2_linear > 0)
                reg += dctr_l2_sparse(P + d->lin_off[t], &d->g_lin[t], cfg->l2_linear);
            if (d->emb_off[t] >= 0 && cfg->l2_embedding > 0)
                reg += dctr_l2_sparse(P + d->emb_off[t], &d->g_emb[t], cfg->l2_embedding);
        }
    }
    if (d->use_dnn && cfg->l2_dnn > 0) {
        int32_t in = d->dnn_cfg.in_dim;
        for (int32_t l = 0; l < d->dnn_cfg.num_layers; l++) {
            int32_t out = d->dnn_cfg.units[l];
            reg += dctr_l2_dense(d->dnnp.layer[l].W, (int64_t)in * out, cfg->l2_dnn,
                                 d->dnng.layer[l].W);
            in = out;
        }
    }
    *data_loss = loss;
    *reg_loss = reg;
    return DCTR_OK;
}

/* ---------------- sizes / ops ---------------- */

/* Trainable scalars: frozen tables and an unused bias do not count. */
static int64_t dfm_num_parameters(const dctr_model *m) {
    const dfm *d = m->impl;
    const dctr_schema *s = m->schema;
    int64_t n = d->nparams - (m->cfg.use_bias ? 0 : 1);
    for (int32_t t = 0; t < s->ntables; t++) {
        if (s->tables[t].trainable)
            continue;
        if (d->emb_off[t] >= 0)
            n -= s->tables[t].vocab_size * s->tables[t].dim;
        if (d->lin_off[t] >= 0)
            n -= s->tables[t].vocab_size;
    }
    return n;
}

static int64_t dfm_parameter_bytes(const dctr_model *m) {
    const dfm *d = m->impl;
    return (d->nparams + d->nstate) * (int64_t)sizeof(float);
}

static int64_t dfm_optimizer_bytes(const dctr_model *m) {
    const dfm *d = m->impl;
    return (int64_t)dctr_optim_slots(&d->opt) * d->nparams * (int64_t)sizeof(float);
}

static dctr_status dfm_workspace_new(const dctr_model *m, int32_t max_batch, void **out) {
    dfm_ws *ws = NULL;
    DCTR_TRY(dfm_ws_new(m, max_batch, 0, &ws));
    *out = ws;
    return DCTR_OK;
}

static void dfm_workspace_free(void *ws) { dfm_ws_free(ws); }

static dctr_status dfm_predict(const dctr_model *m, void *wsp, const dctr_batch *b, float *out) {
    dfm_ws *ws = wsp;
    DCTR_TRY(dfm_forward(m, ws, b, 0, NULL, NULL));
    memcpy(out, ws->pred, sizeof(float) * (size_t)b->n);
    return DCTR_OK;
}

/* Per-row work (gather, pooling, FM, linear, per-table updates) and the training DNN's GEMMs
 * are split across a pool of `threads`, with OpenBLAS at 1 thread, so the two never
 * oversubscribe the cores. */
static dctr_status dfm_set_threads(dctr_model *m, int32_t threads) {
    dfm *d = m->impl;
    threads = threads < 1 ? 1 : threads > DCTR_MAX_THREADS ? DCTR_MAX_THREADS : threads;
    if (threads != d->threads || (threads > 1 && !d->pool)) {
        dctr_pool_free(d->pool);
        d->pool = NULL;
        if (threads > 1)
            DCTR_TRY(dctr_pool_new(threads, &d->pool));
        d->threads = threads;
    }
    /* training splits the DNN's GEMMs on the pool itself: OpenBLAS's own workers would only
     * spin (sched_yield) against the pool's threads */
    dctr_blas_set_threads(d->pool ? 1 : threads);
    return DCTR_OK;
}

static struct dctr_pool *dfm_training_pool(const dctr_model *m) {
    const dfm *d = m->impl;
    return d->pool;
}

static const dctr_model_ops dfm_ops = {
    .name = "deepfm",
    .free_impl = dfm_free,
    .workspace_new = dfm_workspace_new,
    .workspace_free = dfm_workspace_free,
    .predict = dfm_predict,
    .train_step = dfm_train_step,
    .training_pool = dfm_training_pool,
    .snapshot = dfm_snapshot,
    .restore = dfm_restore,
    .snapshot_free = dfm_snapshot_free,
    .save = dfm_save,
    .load = dfm_load,
    .num_parameters = dfm_num_parameters,
    .parameter_bytes = dfm_parameter_bytes,
    .optimizer_bytes = dfm_optimizer_bytes,
    .set_threads = dfm_set_threads,
};


dctr_status dctr_deepfm_init(dctr_model *model) {
    dfm *d = dctr_calloc(1, sizeof(*d));
    if (!d)
        return DCTR_ERR_NOMEM;
    model->impl = d;
    model->ops = &dfm_ops;
    dctr_status st = build_structure(model, d);
    if (st == DCTR_OK)
        st = alloc_params(model, d);
    if (st == DCTR_OK)
        st = dctr_optim_init(&d->opt, &model->cfg.optimizer);
    if (st != DCTR_OK) {
        dfm_free(d);
        model->impl = NULL;
        return st;
    }
    d->threads = 1;
    init_params(model, d);
    return DCTR_OK;
}

/* ---------------- test entry points ---------------- */

float *dctr_deepfm_params(dctr_model *model, int64_t *count) {
    dfm *d = model->impl;
    if (count)
        *count = d->nparams;
    return d->params;
}

int64_t dctr_deepfm_tensor(const dctr_model *model, const char *name, int64_t *count) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    int64_t off = -1, n = 0;
    if (strncmp(name, "emb:", 4) == 0 || strncmp(name, "lin:", 4) == 0) {
        for (int32_t t = 0; t < s->ntables; t++) {
            if (strcmp(s->tables[t].name, name + 4) != 0)
                continue;
            int lin = name[0] == 'l';
            off = lin ? d->lin_off[t] : d->emb_off[t];
            n = s->tables[t].vocab_size * (lin ? 1 : s->tables[t].dim);
        }
    } else if (strcmp(name, "lin_kernel") == 0 && d->dl > 0) {
        off = d->lin_kernel_off, n = d->dl;
    } else if (strcmp(name, "dnn") == 0 && d->use_dnn && d->dnn_cfg.num_layers > 0) {
        off = d->dnn_off, n = dctr_dnn_num_params(&d->dnn_cfg);
    } else if (strcmp(name, "out_w") == 0 && d->use_dnn) {
        off = d->out_w_off, n = d->h;
    } else if (strcmp(name, "bias") == 0) {
        off = d->bias_off, n = 1;
    }
    if (count)
        *count = off >= 0 ? n : 0;
    return off;
}

float dctr_deepfm_grad_at(const dctr_model *model, int64_t i) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    if (i >= d->dense_begin)
        return d->grad ? d->grad[i - d->dense_begin] : 0.0f;
    for (int32_t t = 0; t < s->ntables; t++) {
        int32_t k = s->tables[t].dim;
        int64_t V = s->tables[t].vocab_size;
        if (d->emb_off[t] >= 0 && i >= d->emb_off[t] && i < d->emb_off[t] + V * k) {
            int64_t rel = i - d->emb_off[t];
            const float *row = dctr_sparse_grad_find(&d->g_emb[t], rel / k);
            return row ? row[rel % k] : 0.0f;
        }
        if (d->lin_off[t] >= 0 && i >= d->lin_off[t] && i < d->lin_off[t] + V) {
            const float *row = dctr_sparse_grad_find(&d->g_lin[t], i - d->lin_off[t]);
            return row ? row[0] : 0.0f;
        }
    }
    return 0.0f;
}

const void *dctr_deepfm_dnn(const dctr_model *model, const void **cfg) {
    const dfm *d = model->impl;
    if (cfg)
        *cfg = &d->dnn_cfg;
    return d->use_dnn ? &d->dnnp : NULL;
}
