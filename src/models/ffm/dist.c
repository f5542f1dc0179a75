/* FFM and DeepFFM under dctr_model_fit_collective (docs/distributed.md "FFM"). libffm's
 * per-sample AdaGrad is sequential (each row reads the weights the previous row moved), so it
 * cannot be split over ranks; under a collective the family trains with its synchronous
 * mini-batch form instead:
 *   1. every rank runs the forward of its rows on the weights of the step's start (the pooled
 *      form; rows with one node per field, impl->pair_kernel, libffm's pair kernel);
 *   2. it adds each row's exact gradient into one accumulator row per touched feature (the
 *      feature's m blocks of kp floats, then its linear weight), data gradients only;
 *   3. the accumulators, the bias gradient (and DeepFFM's DNN gradients) are summed over the
 *      ranks in rank order (replicated tables) or sent to the rows' owners (sharded tables);
 *   4. each touched block gets one AdaGrad step, g = lambda w + the summed gradient (a block
 *      whose summed gradient is exactly 0 was not touched: no L2, no accumulator change).
 * Gradients are sums over the step's rows, not means: a feature one row touches moves as in
 * libffm's per-sample step. One thread (the Hogwild pool is not used), so a run is reproducible
 * for a given rank count and a one-rank collective is the single-process reference. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "models/ffm/ffm.h"
#include "models/ffm/dist.h"

void dctr_ffm_dist_free(dctr_ffm_dist_ws *ws) {
    if (!ws)
        return;
    dctr_sparse_grad_destroy(&ws->acc);
    dctr_free(ws->dense);
    dctr_free(ws->fetched);
    dctr_free(ws->rowp);
    dctr_free(ws);
}

int64_t dctr_ffm_dist_rows(const dctr_model *model, int64_t B) {
    return model->dist && model->dist->step_rows > 0 ? model->dist->step_rows : B;
}

static int32_t acc_dim(const dctr_ffm_weights *w) {
    return w->m * w->kp + (w->use_linear ? 1 : 0);
}

dctr_ffm_dist_ws *dctr_ffm_dist_ws_get(dctr_ffm_impl *impl) {
    if (!impl->dws)
        impl->dws = dctr_calloc(1, sizeof *impl->dws);
    return impl->dws;
}

dctr_status dctr_ffm_dist_begin(dctr_model *model, const dctr_batch *b, int64_t ndense) {
    dctr_ffm_impl *impl = model->impl;
    dctr_ffm_dist_ws *ws = dctr_ffm_dist_ws_get(impl);
    if (!ws)
        return DCTR_ERR_NOMEM;
    int64_t cap = b->n * impl->max_nodes;
    cap = cap < impl->w.n ? cap : impl->w.n;
    if (cap < 1)
        cap = 1;
    if (ws->acc.capacity < cap) {
        dctr_sparse_grad_destroy(&ws->acc);
        DCTR_TRY(dctr_sparse_grad_init(&ws->acc, impl->w.n, acc_dim(&impl->w), cap));
    }
    dctr_sparse_grad_clear(&ws->acc);
    if (!ws->rowp) {
        ws->rowp = dctr_malloc(sizeof(float *) * (size_t)impl->max_nodes);
        if (!ws->rowp)
            return DCTR_ERR_NOMEM;
    }
    if (ws->ndense_cap < ndense + 2) {
        dctr_free(ws->dense);
        ws->dense = dctr_malloc(sizeof(float) * (size_t)(ndense + 2));
        if (!ws->dense)
            return DCTR_ERR_NOMEM;
        ws->ndense_cap = ndense + 2;
    }
    memset(ws->dense, 0, sizeof(float) * (size_t)(ndense + 2));
    if (model->dist->fetch) /* sharded: the rows this batch uses, from their owners */
        DCTR_TRY(model->dist->fetch(model, b));
    return DCTR_OK;
}

/* Row x's data gradient (dpairs per field pair, or kappa for every pair) into the accumulator:
 * block (j_a, g) gets dphi r v_a P[g][f_a] (P of the step's weights), the linear weight
 * kappa v_a; the bias gradient goes to dense[ndense]. */
dctr_status dctr_ffm_dist_accumulate(dctr_ffm_impl *impl, const dctr_ffm_node *x, int32_t n, float r,
                                     const dctr_ffm_pooled *ps, float kappa, const float *dpairs,
                                     int64_t ndense) {
    dctr_ffm_dist_ws *ws = impl->dws;
    const dctr_ffm_weights *w = &impl->w;
    const int32_t m = w->m, kp = w->kp;
    const size_t fstride = (size_t)m * (size_t)kp;
    for (int32_t i = 0; i < n; i++) {
        if ((uint32_t)x[i].index >= (uint64_t)w->n || (uint32_t)x[i].field >= (uint32_t)m)
            continue;
        float *gr = dctr_sparse_grad_row(&ws->acc, x[i].index);
        if (!gr)
            return dctr_error_prefix(DCTR_ERR_INTERNAL, "FFM gradient of feature %d", (int)x[i].index);
        /* block (j, g) for every field g of the row but the node's own: c P[g][f] */
        for (int32_t g = 0, f = x[i].field; g < m; g++) {
            const float *other;
            if (g != f && ps->present[g]) {
                const float c = dctr_ffm_pooled_coef(ps, m, kp, f, g, r, x[i].value, kappa, dpairs, &other);
                for (int32_t d = 0; d < kp; d++)
                    gr[(size_t)g * kp + d] += c * other[d];
            }
        }
        if (w->use_linear)
            gr[fstride] += kappa * x[i].value;
    }
    ws->dense[ndense] += kappa;
    return DCTR_OK;
}

/* The pair form of dctr_ffm_dist_accumulate for rows with at most one node per field: pair
 * (a, b) adds kappa r v_a v_b w[j_b, f_a] to block (j_a, f_b) and the mirror to (j_b, f_a). */
static dctr_status accumulate_pairs(dctr_ffm_impl *impl, const dctr_ffm_node *x, int32_t n, float r,
                                    float kappa) {
    dctr_ffm_dist_ws *ws = impl->dws;
    const dctr_ffm_weights *w = &impl->w;
    const int32_t kp = w->kp;
    for (int32_t i = 0; i < n; i++) { /* every node's accumulator row first (NULL: not in the model) */
        ws->rowp[i] = NULL;
        if ((uint32_t)x[i].index >= (uint64_t)w->n || (uint32_t)x[i].field >= (uint32_t)w->m)
            continue;
        if (!(ws->rowp[i] = dctr_sparse_grad_row(&ws->acc, x[i].index)))
            return dctr_error_prefix(DCTR_ERR_INTERNAL, "FFM gradient of feature %d", (int)x[i].index);
        if (w->use_linear)
            ws->rowp[i][(size_t)w->m * kp] += kappa * x[i].value;
    }
    for (int32_t a = 0; a < n; a++) {
        if (!ws->rowp[a])
            continue;
        for (int32_t b = a + 1; b < n; b++) {
            if (!ws->rowp[b])
                continue;
            const int32_t fa = x[a].field, fb = x[b].field;
            const float c = kappa * x[a].value * x[b].value * r;
            const float *wa = w->W + (size_t)x[a].index * w->row + (size_t)fb * w->blk;
            const float *wb = w->W + (size_t)x[b].index * w->row + (size_t)fa * w->blk;
            float *ga = ws->rowp[a] + (size_t)fb * kp, *gb = ws->rowp[b] + (size_t)fa * kp;
            for (int32_t d = 0; d < kp; d++) {
                ga[d] += c * wb[d];
                gb[d] += c * wa[d];
            }
        }
    }
    ws->dense[0] += kappa; /* the bias: plain FFM has no other dense gradient */
    return DCTR_OK;
}

/* One AdaGrad step per touched block, linear weight and the bias (the summed gradients). */
static void apply(dctr_ffm_impl *impl, const dctr_sparse_grad *acc, float gbias) {
    dctr_ffm_weights *w = &impl->w;
    const int32_t m = w->m, kp = w->kp;
    const float eta = impl->eta, lambda = impl->lambda;
    for (int64_t i = 0; i < acc->count; i++) {
        const int64_t id = acc->rows[i];
        const float *g = acc->grad + (size_t)i * (size_t)acc->dim;
        float *row = w->W + (size_t)id * w->row;
        for (int32_t f = 0; f < m; f++) {
            const float *gb = g + (size_t)f * kp;
            int touched = 0;
            for (int32_t d = 0; d < kp && !touched; d++)
                touched = gb[d] != 0.0f;
            if (!touched)
                continue;
            float *wv = row + (size_t)f * w->blk, *G = wv + kp;
            for (int32_t d = 0; d < kp; d++) {
                float gr = lambda * wv[d] + gb[d];
                G[d] += gr * gr;
                wv[d] -= eta * gr / sqrtf(G[d]);
            }
        }
        if (w->use_linear) {
            float *p = &w->lin[2 * (size_t)id];
            float gr = lambda * p[0] + g[(size_t)m * kp];
            p[1] += gr * gr;
            p[0] -= eta * gr / sqrtf(p[1]);
        }
    }
    if (w->use_linear) {
        w->bias_g += gbias * gbias;
        w->bias -= eta * gbias / sqrtf(w->bias_g);
    }
}

dctr_status dctr_ffm_dist_finish(dctr_model *model, double *loss, double *wsum, float *dense,
                                 int64_t ndense) {
    dctr_ffm_impl *impl = model->impl;
    dctr_ffm_dist_ws *ws = impl->dws;
    dctr_dist *dist = model->dist;
    if (dist->failed != DCTR_OK)
        return dctr_set_error(dist->failed, "distributed batch norm: a sum over the ranks failed");
    if (ndense > 0)
        memcpy(ws->dense, dense, sizeof(float) * (size_t)ndense);
    ws->dense[ndense + 1] = (float)*wsum;
    dctr_sparse_grad *gs[1] = {&ws->acc};
    const int sharded = dist->c->table_mode == DCTR_TABLES_SHARDED;
    /* sharded: the dense part and the loss to everyone, the feature rows to their owners */
    dctr_status st = dctr_dist_sum_grads(dist, loss, ws->dense, ndense + 2, gs, sharded ? 0 : 1);
    if (st == DCTR_OK && sharded)
        st = dctr_dist_rows_to_owners(dist, gs, 1);
    /* a non-finite loss on any rank is non-finite in the sum: no rank applies the step */
    if (st == DCTR_OK && !isfinite(*loss))
        st = dctr_set_error(DCTR_ERR_NUMERIC, "FFM training diverged (non-finite loss)");
    if (st == DCTR_OK) {
        if (ndense > 0)
            memcpy(dense, ws->dense, sizeof(float) * (size_t)ndense);
        *wsum = ws->dense[ndense + 1];
        apply(impl, &ws->acc, ws->dense[ndense]);
    }
    if (dist->release) /* the fetched rows this rank does not own go back */
        dist->release(model, 0);
    return st;
}

/* FFM's train step under a collective: forward, gradients, exchange, one update. */
dctr_status dctr_ffm_dist_train_step(dctr_model *model, const dctr_batch *b, double *data_loss,
                                     double *reg_loss, float *pred) {
    dctr_ffm_impl *impl = model->impl;
    DCTR_TRY(dctr_ffm_dist_begin(model, b, 0));
    const int regression = model->task == DCTR_TASK_REGRESSION;
    const float *sw = b->sample_weights;
    dctr_ffm_node *nodes = impl->scratch;
    dctr_ffm_pooled *ps = &impl->pooled[0];
    double loss = 0, wsum = 0;
    dctr_status st = DCTR_OK;
    for (int64_t i = 0; i < b->n && st == DCTR_OK; i++) {
        int32_t n = dctr_ffm_row_nodes(impl, b, i, nodes);
        float r = dctr_ffm_row_inv_norm(impl, nodes, n);
        /* one node per field (impl->pair_kernel): libffm's pair kernel and the pair form of the
         * gradient, the same sums as the pooled form without its m x m matrix */
        float t = impl->pair_kernel ? dctr_ffm_score(&impl->w, nodes, nodes + n, r)
                                    : dctr_ffm_pooled_forward(&impl->w, nodes, n, r, ps, NULL) +
                                          dctr_ffm_linear_of(&impl->w, nodes, n);
        float kappa, wgt = sw ? sw[i] : 1.0f;
        loss += dctr_ffm_loss(t, b->labels[i], regression, &kappa) * wgt;
        wsum += wgt;
        if (pred)
            pred[i] = regression ? t : 1.0f / (1.0f + expf(-t));
        st = impl->pair_kernel ? accumulate_pairs(impl, nodes, n, r, kappa * wgt)
                               : dctr_ffm_dist_accumulate(impl, nodes, n, r, ps, kappa * wgt, NULL, 0);
    }
    if (st == DCTR_OK)
        st = dctr_ffm_dist_finish(model, &loss, &wsum, NULL, 0);
    if (reg_loss)
        *reg_loss = 0.0;
    if (data_loss)
        *data_loss = wsum > 0 ? loss / wsum : 0.0;
    if (st == DCTR_OK)
        model->steps++;
    return st;
}
