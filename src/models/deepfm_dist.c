/* DeepFM / FM / LR under dctr_model_fit_collective (replicated parameters): the loss gradient is
 * scaled to this rank's share of the global batch, then the dense-tail gradients and every
 * table's touched-row gradients are summed over the ranks (in rank order), so each rank holds
 * the gradient single-process training computes on the global batch and applies the same
 * update. The L2 terms are added after the sum, once, on the union of the touched rows. */
#include "models/deepfm_impl.h"

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "feature/schema_types.h"

void dfm_dist_scale(const dctr_model *model, float *dpred, int64_t n, int64_t B) {
    const dctr_dist *dist = model->dist;
    if (!dist || dist->step_rows <= 0 || dist->step_rows == B)
        return;
    /* each rank's loss is a mean over its B rows; the global one is over step_rows */
    const float f = (float)((double)B / (double)dist->step_rows);
    for (int64_t i = 0; i < n; i++)
        dpred[i] *= f;
}

static dctr_status bn_sum(void *ctx, double *x, int64_t n) {
    dctr_dist *dist = ctx;
    dctr_status st = dctr_dist_sum_f64(dist, x, n);
    if (st != DCTR_OK)
        dist->failed = st;
    return st;
}

const dctr_bn_sync *dfm_dist_bn_sync(const dctr_model *model) {
    dctr_dist *dist = model->dist;
    if (!dist)
        return NULL;
    dist->bn = (dctr_bn_sync){dist->step_rows, bn_sum, dist};
    return &dist->bn;
}

dctr_status dfm_dist_exchange(dctr_model *model, double *loss, int64_t B) {
    dfm *d = model->impl;
    dctr_dist *dist = model->dist;
    const dctr_schema *s = model->schema;
    if (dist->failed != DCTR_OK)
        return dctr_set_error(dist->failed, "distributed batch norm: a sum over the ranks failed");
    if (dfm_dist_sharded(model)) /* a window step's gradient rows become ids again */
        DCTR_TRY(dfm_shard_step_ids(model));
    /* every trainable table's accumulators, in a fixed order */
    dctr_sparse_grad **gs = dctr_calloc(2 * (size_t)d->ntables + 1, sizeof *gs);
    if (!gs)
        return DCTR_ERR_NOMEM;
    int32_t ng = 0;
    for (int32_t t = 0; t < d->ntables; t++) {
        if (!s->tables[t].trainable)
            continue;
        if (d->emb_off[t] >= 0)
            gs[ng++] = &d->g_emb[t];
        if (d->lin_off[t] >= 0)
            gs[ng++] = &d->g_lin[t];
    }
    double l = *loss * (double)B;
    /* sharded: the dense tail and loss to everyone, the table rows to their owners only */
    const int sharded = dfm_dist_sharded(model);
    dctr_status st = dctr_dist_sum_grads(dist, &l, d->grad, d->nparams - d->dense_begin, gs,
                                         sharded ? 0 : ng);
    if (st == DCTR_OK && sharded)
        st = dctr_dist_rows_to_owners(dist, gs, ng);
    dctr_free(gs);
    if (st == DCTR_OK && dist->step_rows > 0)
        *loss = l / (double)dist->step_rows;
    return st;
}

dctr_status dfm_dist_sum_tables(const dctr_model *model, double *x) {
    return dctr_dist_sum_f64(model->dist, x, 1);
}
