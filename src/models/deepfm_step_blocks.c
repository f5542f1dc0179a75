/* The serial training step in row blocks: forward and backward of DFM_BLOCK_ROWS rows back to
 * back, so the backward reads the block's embeddings and activations from L2 (a whole-batch
 * forward at batch 4096 leaves MBs of them in L3, and every GEMM of the backward ran ~15 %
 * slower per row than at batch 256). Gradients add up over the blocks; the update is still one
 * per batch. */
#include "models/deepfm_impl.h"

#include "core/error.h"
#include "models/model_types.h"

int dfm_step_blocked(const dctr_model *model, const dctr_batch *b) {
    const dfm *d = model->impl;
    /* the pool splits rows itself; varlen columns and distributed steps take the general path;
     * a DNN whose rows depend on each other (or on dropout draws) needs the whole batch */
    return b->n > DFM_BLOCK_ROWS && !d->pool && !model->dist && model->shard_size <= 1 &&
           d->nvar == 0 && d->nvar1 == 0 &&
           (!d->use_dnn || dctr_dnn_rows_independent(&d->dnn_cfg));
}

dctr_status dfm_forward_backward_blocks(dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                        double *data_loss, double *reg_loss) {
    dfm *d = model->impl;
    const int64_t B = b->n;
    if (B > ws->cap)
        return dctr_set_error(DCTR_ERR_INTERNAL, "deepfm: batch of %lld rows > workspace %lld",
                              (long long)B, (long long)ws->cap);
    dfm_backward_begin(d, 1);
    /* the weights do not change within the step: each layer's W^T once */
    const float *wt[DCTR_DNN_MAX_LAYERS] = {0};
    const int transposed = d->use_dnn && d->dnn_cfg.num_layers > 0;
    if (transposed)
        dctr_dnn_backward_prepare(&d->dnn_cfg, &d->dnnp, ws->dnn, 1, dfm_dnn_dx_cols(d), wt);
    double total = 0.0;
    for (int64_t r0 = 0; r0 < B; r0 += DFM_BLOCK_ROWS) {
        const int64_t n = B - r0 < DFM_BLOCK_ROWS ? B - r0 : DFM_BLOCK_ROWS;
        DCTR_TRY(dfm_forward_rows(model, ws, b, 1, r0, r0 + n));
        dfm_forward_head(model, ws, r0, n, 1, &d->drop_rng);
        total = dfm_loss_rows(model, ws, b, r0, n, total);
        dfm_linear_dense_rows(model, ws, r0, n);
        if (d->nemb > 0 || d->use_dnn)
            dfm_deep_backward_rows(d, ws, r0, n, transposed ? wt : NULL);
        DCTR_TRY(dfm_scatter_rows(model, b, ws->dlogit, d->nemb > 0 ? ws->dX : NULL, 0,
                                  d->ntables, r0, n));
    }
    dfm_tables_finish(model, 0, d->ntables);
    DCTR_TRY(dfm_backward_reg(model, 1, reg_loss));
    *data_loss = total / (double)B;
    return DCTR_OK;
}
