/* DeepFM / FM / LR structure: which schema columns feed the linear, FM and DNN parts, the layout
 * of the input matrix X, the parameter arena (layout: deepfm.h) and its initialisation. */
#include "models/deepfm_impl.h"

#include <string.h>

#include "core/alloc.h"
#include "core/checked.h"
#include "core/error.h"
#include "dist/dist.h"
#include "feature/schema_types.h"
#include "layers/init.h"

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

void dfm_free(void *impl) {
    dfm *d = impl;
    if (!d)
        return;
    void *const arrays[] = {d->emb,    d->dense_x, d->dense_x_off, d->fm,    d->lin,
                            d->lin_dense, d->lin_dense_off, d->emb_off, d->lin_off,
                            d->g_emb,  d->g_lin,   d->reg_tab,     d->sq_tab};
    void *const floats[] = {d->params, d->state, d->grad, d->slots[0], d->slots[1]};
    _Static_assert(DCTR_OPTIM_MAX_SLOTS == 2, "free every optimizer slot");
    for (int32_t t = 0; t < d->ntables; t++) {
        if (d->g_emb)
            dctr_sparse_grad_destroy(&d->g_emb[t]);
        if (d->g_lin)
            dctr_sparse_grad_destroy(&d->g_lin[t]);
    }
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        dctr_free(arrays[i]);
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        if (!d->lazy || i == 1 || i == 2) /* state and grad are ordinary arrays */
            dctr_aligned_free(floats[i]);
        else /* sharded: the parameter arena has the step's window as a second half */
            dctr_shard_free(floats[i], (size_t)d->nparams * (i == 0 ? 2 : 1));
    }
    dfm_ws_free(d->tws);
    dfm_lanes_free(d->lanes);
    dfm_shard_step_free(d);
    dfm_free_tensors(d);
    dctr_pool_free(d->pool);
    dctr_free(d);
}

/* One group's columns of the FM/DNN part, appended to X: sparse first, then varlen (DeepCTR's
 * group_embedding_dict order). A group in fm_groups becomes an FM group. */
static dctr_status place_group(const dctr_model *m, dfm *d, int32_t g, int in_fm) {
    const dctr_schema *s = m->schema;
    const dctr_model_config *cfg = &m->cfg;
    int64_t gstart = d->xw;
    int32_t F = 0, k = -1;
    for (int pass = 0; pass < 2; pass++) {
        dctr_column_kind want = pass == 0 ? DCTR_COLUMN_SPARSE : DCTR_COLUMN_VARLEN;
        for (int32_t c = 0; c < s->ncols; c++) {
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
    if (!in_fm || F == 0)
        return DCTR_OK;
    /* equal k is checked by dctr_model_new; recheck defensively */
    for (int32_t i = d->nemb - F; i < d->nemb; i++)
        if (d->emb[i].k != k)
            return dctr_set_error(DCTR_ERR_SCHEMA,
                                  "fm group '%s': columns have different embedding dims",
                                  s->groups[g]);
    d->fm[d->nfm++] = (dfm_group){gstart, F, k};
    return DCTR_OK;
}

/* An FM part that the fm_groups leave empty while embedded columns exist (every column in
 * group "g", fm_groups the default {"default_group"}) would silently train no interaction at
 * all: an FM model with no embedding table. An explicitly empty list (fm_groups non-NULL,
 * num_fm_groups 0) asks for that and is allowed. */
static dctr_status check_fm_groups_used(const dctr_model *m, const dfm *d, const char *const *fm_groups,
                                        int32_t nfm_groups) {
    const dctr_schema *s = m->schema;
    if (!d->use_fm || d->nfm > 0 || nfm_groups == 0)
        return DCTR_OK;
    for (int32_t c = 0; c < s->ncols; c++) {
        const dctr_column *sc = &s->cols[c];
        if (sc->kind != DCTR_COLUMN_DENSE && in_list(sc->name, m->cfg.dnn_columns, m->cfg.num_dnn_columns))
            return dctr_set_error(DCTR_ERR_SCHEMA,
                                  "fm_groups: no column is in group '%s'%s (column '%s' is in group '%s'): "
                                  "the FM part would be empty; name the columns' groups in fm_groups",
                                  fm_groups[0], nfm_groups > 1 ? " or the others listed" : "", sc->name,
                                  s->groups[sc->group]);
    }
    return DCTR_OK;
}

/* FM/DNN part: groups in schema order (FM-only models take just the fm_group columns), then
 * the DNN's dense columns at the end of X. */
static dctr_status place_fm_dnn(const dctr_model *m, dfm *d) {
    const dctr_schema *s = m->schema;
    const dctr_model_config *cfg = &m->cfg;
    const char *default_group[1] = {"default_group"};
    const char *const *fm_groups = cfg->fm_groups ? cfg->fm_groups : default_group;
    int32_t nfm_groups = cfg->fm_groups ? cfg->num_fm_groups : 1;
    for (int32_t g = 0; g < s->ngroups; g++) {
        int in_fm = d->use_fm && in_list(s->groups[g], fm_groups, nfm_groups);
        if (d->use_dnn || in_fm)
            DCTR_TRY(place_group(m, d, g, in_fm));
    }
    DCTR_TRY(check_fm_groups_used(m, d, fm_groups, nfm_groups));
    if (!d->use_dnn)
        return DCTR_OK;
    for (int32_t c = 0; c < s->ncols; c++) {
        const dctr_column *sc = &s->cols[c];
        if (sc->kind != DCTR_COLUMN_DENSE ||
            !in_list(sc->name, cfg->dnn_columns, cfg->num_dnn_columns))
            continue;
        d->dense_x[d->ndense_x] = c;
        d->dense_x_off[d->ndense_x++] = d->xw;
        d->xw += sc->dense_dim;
    }
    return DCTR_OK;
}

/* Linear part: sparse / varlen through 1-dim tables, dense through one kernel. */
static void place_linear(const dctr_model *m, dfm *d) {
    const dctr_schema *s = m->schema;
    const dctr_model_config *cfg = &m->cfg;
    for (int32_t c = 0; c < s->ncols; c++) {
        const dctr_column *sc = &s->cols[c];
        if (!in_list(sc->name, cfg->linear_columns, cfg->num_linear_columns))
            continue;
        if (sc->kind == DCTR_COLUMN_DENSE) {
            d->lin_dense[d->nlin_dense] = c;
            d->lin_dense_off[d->nlin_dense++] = d->dl;
            d->dl += sc->dense_dim;
            continue;
        }
        dfm_col *lc = &d->lin[d->nlin++];
        fill_col(lc, sc, 1);
        if (lc->varlen) {
            lc->vi = d->nvar1++;
            if (sc->maxlen > d->max_T)
                d->max_T = sc->maxlen;
        }
    }
}

/* The DNN over X (DeepFM with a non-empty X only; otherwise use_dnn is cleared). */
static dctr_status configure_dnn(const dctr_model *m, dfm *d) {
    const dctr_model_config *cfg = &m->cfg;
    dctr_dnn_config_default(&d->dnn_cfg);
    if (!d->use_dnn || d->xw <= 0) {
        d->use_dnn = 0;
        return DCTR_OK;
    }
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
    /* sizes from a schema / file: bounded before the int32 casts and the parameter count */
    if (d->xw > DCTR_MAX_INPUT_WIDTH)
        return dctr_set_error(DCTR_ERR_LIMIT, "deepfm: DNN input width %lld above the limit %lld",
                              (long long)d->xw, (long long)DCTR_MAX_INPUT_WIDTH);
    d->dnn_cfg.in_dim = (int32_t)d->xw;
    d->dnn_cfg.num_layers = nh;
    for (int32_t i = 0; i < nh; i++) {
        if (units[i] > DCTR_MAX_DNN_UNITS)
            return dctr_set_error(DCTR_ERR_LIMIT, "deepfm: hidden layer %d has %d units (at most %d)",
                                  (int)i, (int)units[i], DCTR_MAX_DNN_UNITS);
        d->dnn_cfg.units[i] = units[i];
    }
    d->dnn_cfg.activation = cfg->activation;
    d->dnn_cfg.use_bn = cfg->use_bn;
    d->dnn_cfg.bn_eps = cfg->bn_eps;
    d->dnn_cfg.bn_momentum = cfg->bn_momentum;
    d->dnn_cfg.dropout = cfg->dropout;
    dctr_status st = dctr_dnn_config_check(&d->dnn_cfg);
    if (st != DCTR_OK)
        return dctr_error_prefix(st, "deepfm DNN");
    d->h = dctr_dnn_out_dim(&d->dnn_cfg);
    return DCTR_OK;
}

/* Decides which columns feed which part and lays out X. */
static dctr_status build_structure(const dctr_model *m, dfm *d) {
    const dctr_schema *s = m->schema;
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
    if (d->use_fm || d->use_dnn)
        DCTR_TRY(place_fm_dnn(m, d));
    place_linear(m, d);
    if (d->max_k < 1)
        d->max_k = 1;
    if (d->max_T < 1)
        d->max_T = 1;
    return configure_dnn(m, d);
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
    /* Every size below comes from the schema (a file or API argument): checked arithmetic,
     * bounded by DCTR_MAX_PARAMS (or the weights the file holds) before allocating. */
    int64_t n = 0;
    bool ok = true;
    for (int32_t i = 0; ok && i < d->nemb; i++) {
        int32_t t = d->emb[i].table;
        if (d->emb_off[t] < 0) {
            d->emb_off[t] = n;
            ok = dctr_size_acc(&n, s->tables[t].vocab_size, s->tables[t].dim, DCTR_MAX_PARAMS);
        }
    }
    for (int32_t i = 0; ok && i < d->nlin; i++) {
        int32_t t = d->lin[i].table;
        if (d->lin_off[t] < 0) {
            d->lin_off[t] = n;
            ok = dctr_size_acc(&n, s->tables[t].vocab_size, 1, DCTR_MAX_PARAMS);
        }
    }
    d->dense_begin = n;
    d->lin_kernel_off = n;
    ok = ok && dctr_size_acc(&n, d->dl, 1, DCTR_MAX_PARAMS);
    d->dnn_off = n;
    if (d->use_dnn)
        ok = ok && dctr_size_acc(&n, dctr_dnn_num_params(&d->dnn_cfg), 1, DCTR_MAX_PARAMS);
    d->out_w_off = n;
    if (d->use_dnn)
        ok = ok && dctr_size_acc(&n, d->h, 1, DCTR_MAX_PARAMS);
    d->bias_off = n;
    ok = ok && dctr_size_acc(&n, 1, 1, DCTR_MAX_PARAMS);
    if (!ok && m->load_param_cap > 0)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "deepfm: the model's structure needs more than %lld parameters, the file holds %lld",
                              (long long)DCTR_MAX_PARAMS, (long long)m->load_param_cap);
    if (!ok)
        return dctr_set_error(DCTR_ERR_LIMIT,
                              "deepfm: the schema's tables and layers need more than %lld parameters",
                              (long long)DCTR_MAX_PARAMS);
    d->nparams = n;
    if (m->load_param_cap > 0 && n > m->load_param_cap)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "deepfm: the model's structure needs %lld parameters, the file holds %lld",
                              (long long)n, (long long)m->load_param_cap);
    d->lazy = m->shard_size > 1; /* sharded: only the rows this rank writes take memory */
    /* sharded: a second half of address space holds a step's rows compactly (deepfm_shard_step.c) */
    d->params = d->lazy ? dctr_shard_alloc(2 * (size_t)n) : dctr_alloc_floats((size_t)n);
    d->nstate = d->use_dnn ? dctr_dnn_num_state(&d->dnn_cfg) : 0;
    d->state = dctr_alloc_floats((size_t)d->nstate + 1);
    if (!d->params || !d->state)
        return DCTR_ERR_NOMEM;
    bind_dnn(d);
    return DCTR_OK;
}

void dfm_init_params(const dctr_model *m, dfm *d) {
    const dctr_schema *s = m->schema;
    uint64_t seed = m->cfg.seed;
    dctr_rng rng;
    for (int32_t t = 0; t < s->ntables; t++) {
        if (d->emb_off[t] >= 0) {
            dctr_rng_init(&rng, seed, STREAM_TABLE0 + (uint64_t)t);
            if (d->lazy) /* sharded: the owned rows only, their values from the same stream */
                dfm_shard_init_table(m, d, t, &rng);
            else
                dctr_init_normal(&rng, d->params + d->emb_off[t],
                                 s->tables[t].vocab_size * s->tables[t].dim, s->tables[t].init_std);
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

dctr_status dfm_build(const dctr_model *m, dfm *d) {
    DCTR_TRY(build_structure(m, d));
    DCTR_TRY(alloc_params(m, d));
    return dfm_build_tensors(m, d);
}
