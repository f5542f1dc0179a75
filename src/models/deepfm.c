/* DeepFM / FM / LR as a model family: the ops table the generic model code calls (model_types.h),
 * sizes, threads and the constructor. The work is in deepfm_build.c (structure, parameters),
 * deepfm_workspace.c, deepfm_forward.c, deepfm_backward.c, deepfm_train.c (step, optimizer,
 * snapshots) and deepfm_io.c (model-file sections); test entry points in deepfm_test_hooks.c. */
#include "models/deepfm_impl.h"

#include <string.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/error.h"
#include "feature/schema_types.h"

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
    .predict_logit = dfm_predict_logit,
    .embedding_table = dfm_embedding_table,
    .tensor = dfm_tensor_at,
};


dctr_status dctr_deepfm_init(dctr_model *model) {
    dfm *d = dctr_calloc(1, sizeof(*d));
    if (!d)
        return DCTR_ERR_NOMEM;
    model->impl = d;
    model->ops = &dfm_ops;
    dctr_status st = dfm_build(model, d);
    if (st == DCTR_OK)
        st = dctr_optim_init(&d->opt, &model->cfg.optimizer);
    if (st != DCTR_OK) {
        dfm_free(d);
        model->impl = NULL;
        return st;
    }
    d->threads = 1;
    dfm_init_params(model, d);
    return DCTR_OK;
}
