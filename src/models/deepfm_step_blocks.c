/* The training step in row blocks: forward and backward of DFM_BLOCK_ROWS rows back to back,
 * so the backward reads the block's embeddings and activations from L2 (a whole-batch forward
 * at batch 4096 leaves MBs of them in L3, and every GEMM of the backward ran ~15 % slower per
 * row than at batch 256). Gradients add up over the blocks; the update is still one per batch.
 *
 * On one thread the blocks run in row order (blocked). With a pool, each thread runs the blocks
 * of its own contiguous share of the batch (its lane) with its own DNN scratch and dense-tail
 * gradients; the lanes' gradients are then added in lane order and the tables scattered per
 * table. One hand-over per step: the whole-batch pooled pass split each of the DNN's six GEMMs
 * and the row-local work, and each thread's rows left its cache between them. */
#include "models/deepfm_impl.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "models/model_types.h"

/* Fewest rows a lane takes: below it the lanes' gradient sum (the dense tail once per extra
 * thread) costs about what the second thread gains, and the whole-batch pass runs. */
#define DFM_LANE_MIN_ROWS 64

typedef struct dfm_lane {
    dctr_dnn_workspace *dnn; /* DFM_BLOCK_ROWS rows */
    float *dH;               /* [DFM_BLOCK_ROWS x h] */
    float *grad;             /* the lane's dense-tail gradients */
    dctr_dnn_params dnng;    /* the DNN's part of grad */
    double loss;             /* the lane's rows' loss, summed in row order */
    dctr_status st;
    char msg[256];           /* the error message is thread-local: carried to the caller */
} dfm_lane;

/* lane 0 is the calling thread's and adds into the model's own buffers (d->tws, d->grad): its
 * entry keeps only the loss and status */
struct dfm_lanes {
    int n;
    dfm_lane lane[];
};

/* Rows may be blocked: rows independent of each other in every layer, one process, no varlen
 * column (their scatter takes the general path). */
static int blockable(const dctr_model *model) {
    const dfm *d = model->impl;
    return !d->whole_batch && !model->dist && model->shard_size <= 1 && d->nvar == 0 &&
           d->nvar1 == 0 && (!d->use_dnn || dctr_dnn_rows_independent(&d->dnn_cfg));
}

int dfm_step_blocked(const dctr_model *model, const dctr_batch *b) {
    const dfm *d = model->impl;
    return b->n > DFM_BLOCK_ROWS && !d->pool && blockable(model);
}

int dfm_step_lanes(const dctr_model *model, const dctr_batch *b) {
    const dfm *d = model->impl;
    const int n = d->pool ? dctr_pool_threads(d->pool) : 1; /* lanes: dfm_lanes_prepare */
    return n > 1 && n <= DCTR_MAX_THREADS && b->n >= (int64_t)n * DFM_LANE_MIN_ROWS &&
           blockable(model);
}

static int64_t dense_tail(const dfm *d) { return d->nparams - d->dense_begin; }

void dfm_lanes_free(struct dfm_lanes *lanes) {
    if (!lanes)
        return;
    for (int l = 1; l < lanes->n; l++) {
        dctr_dnn_workspace_free(lanes->lane[l].dnn);
        dctr_aligned_free(lanes->lane[l].dH);
        dctr_aligned_free(lanes->lane[l].grad);
    }
    dctr_free(lanes);
}

static dctr_status lane_alloc(const dfm *d, dfm_lane *ln) {
    ln->grad = dctr_alloc_floats((size_t)dense_tail(d));
    if (!ln->grad)
        return DCTR_ERR_NOMEM;
    if (!d->use_dnn)
        return DCTR_OK;
    ln->dH = dctr_alloc_floats((size_t)DFM_BLOCK_ROWS * (size_t)d->h);
    if (!ln->dH)
        return DCTR_ERR_NOMEM;
    dctr_dnn_bind(&d->dnn_cfg, ln->grad + (d->dnn_off - d->dense_begin), NULL, &ln->dnng);
    return dctr_dnn_workspace_new(&d->dnn_cfg, DFM_BLOCK_ROWS, &ln->dnn);
}

dctr_status dfm_lanes_prepare(dfm *d) {
    const int n = d->pool ? dctr_pool_threads(d->pool) : 1;
    if (d->lanes && d->lanes->n == n)
        return DCTR_OK;
    dfm_lanes_free(d->lanes);
    d->lanes = NULL;
    if (n < 2 || n > DCTR_MAX_THREADS)
        return DCTR_OK;
    struct dfm_lanes *lanes = dctr_calloc(1, sizeof *lanes + (size_t)n * sizeof(dfm_lane));
    if (!lanes)
        return DCTR_ERR_NOMEM;
    lanes->n = n;
    for (int l = 1; l < n; l++) {
        dctr_status st = lane_alloc(d, &lanes->lane[l]);
        if (st != DCTR_OK) {
            dfm_lanes_free(lanes);
            return dctr_set_error(st, "deepfm: training buffers of %d threads", n);
        }
    }
    d->lanes = lanes;
    return DCTR_OK;
}

/* Rows [r0, r0 + n) forward and backward: the loss added to *total, the dense-tail gradients
 * to ws->grad, dX / dlogit written; the tables scattered too when scatter is set. */
static dctr_status step_block(dctr_model *model, dfm_ws *ws, const dctr_batch *b, int64_t r0,
                              int64_t n, const float *const *wt, int scatter, double *total) {
    dfm *d = model->impl;
    DCTR_TRY(dfm_forward_rows(model, ws, b, 1, r0, r0 + n));
    dfm_forward_head(model, ws, r0, n, 1, &d->drop_rng);
    *total = dfm_loss_rows(model, ws, b, r0, n, *total);
    dfm_linear_dense_rows(model, ws, r0, n);
    if (d->nemb > 0 || d->use_dnn)
        dfm_deep_backward_rows(d, ws, r0, n, wt, NULL);
    if (!scatter)
        return DCTR_OK;
    return dfm_scatter_rows(model, b, ws->dlogit, d->nemb > 0 ? ws->dX : NULL, 0, d->ntables, r0, n);
}

/* The DNN's W transposes for the backward (dctr_dnn_backward_prepare). The weights do not
 * change within the step, so each layer's W^T is made once, into ws->dnn: on this thread, or
 * split over the lanes' threads (on the calling thread alone they took ~5 % of its step at batch
 * 256 on 2 threads and held the other lanes back). Returns wt, or NULL without a DNN layer. */
typedef struct transpose_job {
    dfm *d;
    dfm_ws *ws;
    const float **wt;
    int parts;
} transpose_job;

static void transpose_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const transpose_job *t = ctx;
    const float *wt[DCTR_DNN_MAX_LAYERS];
    for (int64_t part = begin; part < end; part++) /* every piece fills wt alike: part 0 keeps it */
        dctr_dnn_backward_prepare_part(&t->d->dnn_cfg, &t->d->dnnp, t->ws->dnn, 1, dfm_dnn_dx_cols(t->d),
                                       part == 0 ? t->wt : wt, (int)part, t->parts);
}

static const float *const *transpose_weights(dfm *d, dfm_ws *ws, const float **wt, dctr_pool *pool) {
    if (!d->use_dnn || d->dnn_cfg.num_layers == 0)
        return NULL;
    transpose_job t = {d, ws, wt, dctr_pool_threads(pool)};
    dctr_pool_run(pool, t.parts, transpose_task, &t);
    return wt;
}

static int64_t block_len(int64_t r, int64_t end) {
    return end - r < DFM_BLOCK_ROWS ? end - r : DFM_BLOCK_ROWS;
}

dctr_status dfm_forward_backward_blocks(dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                        double *data_loss, double *reg_loss) {
    dfm *d = model->impl;
    const int64_t B = b->n;
    dfm_backward_begin(d, 1);
    const float *wt[DCTR_DNN_MAX_LAYERS] = {0};
    const float *const *wtp = transpose_weights(d, ws, wt, NULL);
    double total = 0.0;
    for (int64_t r0 = 0; r0 < B; r0 += DFM_BLOCK_ROWS)
        DCTR_TRY(step_block(model, ws, b, r0, block_len(r0, B), wtp, 1, &total));
    dfm_tables_finish(model, 0, d->ntables);
    DCTR_TRY(dfm_backward_reg(model, 1, reg_loss));
    *data_loss = total / (double)B;
    return DCTR_OK;
}

typedef struct lanes_job {
    dctr_model *model;
    dfm_ws *ws;
    const dctr_batch *b;
    const float *const *wt;
} lanes_job;

/* Lane l's rows [B l / L, B (l + 1) / L) in blocks; lanes after the first on a copy of the
 * batch workspace with their own DNN scratch, dH and gradients (the row arrays are shared:
 * the lanes' rows are disjoint). */
static void lane_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const lanes_job *j = ctx;
    dfm *d = j->model->impl;
    const int64_t B = j->b->n, L = d->lanes->n;
    for (int64_t l = begin; l < end; l++) {
        dfm_lane *ln = &d->lanes->lane[l];
        dfm_ws ws = *j->ws;
        if (l > 0) {
            ws.dnn = ln->dnn;
            ws.dH = ln->dH;
            ws.grad = ln->grad;
            ws.dnng = &ln->dnng;
        }
        memset(ws.grad, 0, sizeof(float) * (size_t)dense_tail(d));
        ln->loss = 0.0;
        ln->st = DCTR_OK;
        const int64_t r1 = B * (l + 1) / L;
        for (int64_t r0 = B * l / L; r0 < r1 && ln->st == DCTR_OK; r0 += DFM_BLOCK_ROWS) {
            ln->st = step_block(j->model, &ws, j->b, r0, block_len(r0, r1), j->wt, 0, &ln->loss);
            if (ln->st != DCTR_OK)
                snprintf(ln->msg, sizeof ln->msg, "%s", dctr_last_error());
        }
    }
}

/* d->grad += the other lanes' gradients, in lane order (element-wise: any split of the range
 * gives the same sums). */
static void lanes_sum_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const dfm *d = ctx;
    for (int l = 1; l < d->lanes->n; l++) {
        const float *restrict g = d->lanes->lane[l].grad;
        float *restrict out = d->grad;
        for (int64_t i = begin; i < end; i++)
            out[i] += g[i];
    }
}

dctr_status dfm_forward_backward_lanes(dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                       double *data_loss, double *reg_loss) {
    dfm *d = model->impl;
    /* dfm_backward_begin's work, split: each lane clears its dense-tail gradients on its own
     * thread (lane 0: d->grad; serially it measured 1-3 % slower at batch 256 on 2 threads),
     * the scatter below each table */
    d->sq_valid = 0;
    const float *wt[DCTR_DNN_MAX_LAYERS] = {0};
    lanes_job j = {model, ws, b, transpose_weights(d, ws, wt, d->pool)};
    dctr_pool_run(d->pool, d->lanes->n, lane_task, &j);
    double total = 0.0;
    for (int l = 0; l < d->lanes->n; l++) { /* the first failure in row order */
        const dfm_lane *ln = &d->lanes->lane[l];
        if (ln->st != DCTR_OK)
            return dctr_set_error(ln->st, "%s", ln->msg);
        total += ln->loss;
    }
    dctr_pool_run(d->pool, dense_tail(d), lanes_sum_task, d);
    DCTR_TRY(dfm_scatter_tables(model, ws, b));
    DCTR_TRY(dfm_backward_reg(model, 1, reg_loss));
    *data_loss = total / (double)b->n;
    return DCTR_OK;
}
