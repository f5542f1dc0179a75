/* DNN (DeepCTR DNN layer): a stack of dense layers, each
 *     z = x W + b  ->  [batch norm]  ->  activation  ->  [inverted dropout, training only]
 * computed on whole batches: training with the library's GEMM tiles where they beat BLAS
 * (core/gemm_train.h: forward Z = X.W, backward dW += X^T.dZ and dX += dZ.W^T), else with
 * dctr_sgemm; inference with the row-exact GEMM (core/gemm_rows.h), so a row's prediction never
 * depends on its batch. W is [in x out] row-major (Keras kernel layout).
 *
 * Parameters live in caller-owned arenas, bound to named pointers by dctr_dnn_bind:
 *  - the TRAINABLE arena (optimizer-updated, gradient arena has the same layout), per layer i:
 *      W[in_i*out_i], b[out_i], then gamma[out_i], beta[out_i] if use_bn,
 *      then alpha[out_i] if the layer's activation is PReLU or Dice;
 *  - the STATE arena (non-trainable, saved with the model), per layer i:
 *      bn_mean[out_i], bn_var[out_i] if use_bn, then dice_mean[out_i], dice_var[out_i] if Dice.
 * Init (dctr_dnn_init): W glorot-normal (truncated), b 0, gamma 1, beta 0, alpha 0, moving
 * means 0, moving variances 1.
 *
 * Batch norm (Keras defaults, 2-D input so the non-fused path): training normalises with the
 * batch mean and the BIASED batch variance and updates moving = m*moving + (1-m)*batch with
 * m = 0.99; inference uses the moving statistics. eps 1e-3.
 * Activations: relu, sigmoid, tanh, linear, prelu (x > 0 ? x : alpha x, per-unit alpha),
 * dice (x * (alpha + p (1 - alpha)), p = sigmoid(BN(x)), BN without scale/center, eps 1e-9,
 * momentum 0.99, batch stats in training, moving stats in inference).
 * The LAST layer uses output_activation when has_output_activation is set.
 * Dropout: inverted, keep with probability 1-p, kept units scaled by 1/(1-p), training only.
 * num_layers = 0 is the identity (the output is the input). */
#ifndef DCTR_LAYERS_DNN_H
#define DCTR_LAYERS_DNN_H

#include <stdint.h>

#include "core/rng.h"
#include "deepctr/common.h"
#include "deepctr/model.h" /* dctr_activation */

#define DCTR_DNN_MAX_LAYERS 32
#define DCTR_BN_MOMENTUM 0.99f
#define DCTR_BN_EPS 1e-3f
#define DCTR_DICE_EPS 1e-9f

typedef struct dctr_dnn_config {
    int32_t in_dim;
    int32_t num_layers;                     /* 0 = identity */
    int32_t units[DCTR_DNN_MAX_LAYERS];
    dctr_activation activation;             /* hidden layers */
    int has_output_activation;              /* 1: the last layer uses output_activation */
    dctr_activation output_activation;
    int use_bn;
    float dropout;                          /* rate p in [0, 1) */
    float bn_momentum;                      /* DCTR_BN_MOMENTUM */
    float bn_eps;                           /* DCTR_BN_EPS */
} dctr_dnn_config;

/* relu, no BN, no dropout, Keras BN constants; in_dim and units still to be set. */
void dctr_dnn_config_default(dctr_dnn_config *cfg);
/* DCTR_ERR_SCHEMA for bad dims / counts / dropout rate / activation. */
DCTR_NODISCARD dctr_status dctr_dnn_config_check(const dctr_dnn_config *cfg);
/* The activation of layer i (output_activation for the last one when set). */
dctr_activation dctr_dnn_layer_activation(const dctr_dnn_config *cfg, int32_t i);
/* Output width (in_dim when num_layers = 0). */
int32_t dctr_dnn_out_dim(const dctr_dnn_config *cfg);

/* Float counts of the two arenas described above. */
int64_t dctr_dnn_num_params(const dctr_dnn_config *cfg);
int64_t dctr_dnn_num_state(const dctr_dnn_config *cfg);

typedef struct dctr_dnn_layer_params {
    float *W, *b;              /* always */
    float *gamma, *beta;       /* use_bn, else NULL */
    float *alpha;              /* prelu / dice, else NULL */
    float *bn_mean, *bn_var;   /* state arena, use_bn, else NULL */
    float *dice_mean, *dice_var; /* state arena, dice, else NULL */
} dctr_dnn_layer_params;

typedef struct dctr_dnn_params {
    int32_t num_layers;
    dctr_dnn_layer_params layer[DCTR_DNN_MAX_LAYERS];
} dctr_dnn_params;

/* Points p at `params` (dctr_dnn_num_params floats) and `state` (dctr_dnn_num_state floats;
 * may be NULL, e.g. when binding a GRADIENT arena: the state pointers are then NULL). */
void dctr_dnn_bind(const dctr_dnn_config *cfg, float *params, float *state, dctr_dnn_params *p);
/* Keras/DeepCTR init of a bound parameter set (W glorot-normal drawn from rng layer by layer). */
void dctr_dnn_init(const dctr_dnn_config *cfg, const dctr_dnn_params *p, dctr_rng *rng);

/* Activations kept for the backward pass, sized once for max_batch rows. */
typedef struct dctr_dnn_workspace dctr_dnn_workspace;
DCTR_NODISCARD dctr_status dctr_dnn_workspace_new(const dctr_dnn_config *cfg, int64_t max_batch,
                                                  dctr_dnn_workspace **out);
void dctr_dnn_workspace_free(dctr_dnn_workspace *ws);
int64_t dctr_dnn_workspace_max_batch(const dctr_dnn_workspace *ws);
/* Optional: split each layer's GEMMs (rows of the batch, with per-thread partial dW added in
 * thread order) and the forward bias + activation over `pool` (NULL: one sgemm call on
 * OpenBLAS's own threads). The caller then runs OpenBLAS at 1 thread, so the two never
 * oversubscribe the cores. Allocates the partial dW buffers the first time a pool needs them. */
struct dctr_pool;
DCTR_NODISCARD dctr_status dctr_dnn_workspace_set_pool(dctr_dnn_workspace *ws,
                                                       struct dctr_pool *pool);
/* Layer i's dropout multiplier buffer [max_batch x units_i] (0 or 1/(1-p)). Tests may fill it
 * and then run a training forward with rng == NULL to use that fixed mask. */
float *dctr_dnn_dropout_mask(dctr_dnn_workspace *ws, int32_t layer);

/* Forward over B <= max_batch rows of X (row stride ldx, in_dim columns). Returns the output
 * [B x out_dim] and its row stride in *out_stride: a workspace buffer, or X itself when
 * num_layers = 0. training = 1: batch-norm batch statistics (and the moving statistics in the
 * state arena are UPDATED), Dice batch statistics (moving ones updated), dropout active with a
 * new mask drawn from rng (rng == NULL: reuse the masks already in the workspace). training = 0:
 * moving statistics, no dropout, nothing written through p (so concurrent inference on shared
 * parameters with one workspace per thread is safe). B > max_batch: NULL with DCTR_ERR_LIMIT. */
const float *dctr_dnn_forward(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                              dctr_dnn_workspace *ws, const float *X, int64_t ldx, int64_t B,
                              int training, dctr_rng *rng, int64_t *out_stride);
/* Backward of the LAST training forward on this workspace (same X, B). dout is [B x out_dim]
 * at ld_dout. Accumulates into the bound gradient set g (W, b, gamma, beta, alpha) and, when dX
 * is non-NULL, into dX [B x in_dim] at lddx. Inference-mode backward is not supported. */
void dctr_dnn_backward(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                       const dctr_dnn_params *g, dctr_dnn_workspace *ws, const float *X,
                       int64_t ldx, int64_t B, const float *dout, int64_t ld_dout, float *dX,
                       int64_t lddx);
/* The same, but dX_beta 0 overwrites dX instead of adding into it (dX_beta 1), so the caller
 * need not clear it first: its old contents are never read, NaN included; and only the first
 * dx_cols (<= in_dim) input columns' gradients are computed, the others left untouched (DeepFM
 * needs none for its dense inputs: a GEMM the width of the embeddings, not of X). */
void dctr_dnn_backward_ex(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                          const dctr_dnn_params *g, dctr_dnn_workspace *ws, const float *X,
                          int64_t ldx, int64_t B, const float *dout, int64_t ld_dout, float *dX,
                          int64_t lddx, float dX_beta, int32_t dx_cols);

/* 1 when a training pass over a batch equals passes over its row blocks in turn, gradients
 * summed (to rounding): no batch norm or Dice (batch statistics), no PReLU (its alpha gradient
 * is not summed over passes), no dropout (the masks would come from the stream in another
 * order). */
int dctr_dnn_rows_independent(const dctr_dnn_config *cfg);
/* The backward in row pieces, for a caller that runs each row block's forward and backward back
 * to back, so the block's activations are still in cache: _prepare transposes every layer's W
 * once into ws and fills wt[DCTR_DNN_MAX_LAYERS] (valid until p's weights change); each _rows
 * call is then dctr_dnn_backward_ex on the last forward's B rows (dX wanted iff with_dx),
 * adding to g, without transposing again. */
void dctr_dnn_backward_prepare(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                               dctr_dnn_workspace *ws, int with_dx, int32_t dx_cols,
                               const float **wt);
/* _prepare's work in `parts` disjoint pieces, for a caller that runs them on its threads: piece
 * `part` transposes its share of every W; any piece fills wt alike. */
void dctr_dnn_backward_prepare_part(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                                    dctr_dnn_workspace *ws, int with_dx, int32_t dx_cols,
                                    const float **wt, int part, int parts);
void dctr_dnn_backward_rows(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                            const dctr_dnn_params *g, dctr_dnn_workspace *ws,
                            const float *const *wt, const float *X, int64_t ldx, int64_t B,
                            const float *dout, int64_t ld_dout, float *dX, int64_t lddx,
                            float dX_beta, int32_t dx_cols);

/* ---- building blocks (also used for DeepFM's output Dense(1, no bias)) ---- */

/* Z[b*ldz + o] = X[b,:] . W[:, o] (+ bias[o] if non-NULL); Z written. */
void dctr_dense_forward(const float *X, int64_t ldx, int64_t B, int32_t in, int32_t out,
                        const float *W, const float *bias, float *Z, int64_t ldz);
/* The same through the row-exact GEMM (core/gemm_rows.h): each row's result depends on that
 * row alone, never on B, its position or the CPU's BLAS kernel. Used by every inference
 * forward (training = 0), so batch and single-row predictions are bit-identical. */
void dctr_dense_forward_rows(const float *X, int64_t ldx, int64_t B, int32_t in, int32_t out,
                             const float *W, const float *bias, float *Z, int64_t ldz);
/* dW += X^T dZ, dbias (nullable) += column sums of dZ, dX (nullable) += dZ W^T. */
void dctr_dense_backward(const float *X, int64_t ldx, const float *dZ, int64_t ldz, int64_t B,
                         int32_t in, int32_t out, const float *W, float *dW, float *dbias,
                         float *dX, int64_t lddx);
/* The same; dX_beta 1 adds into dX, 0 overwrites it (old contents never read). */
void dctr_dense_backward_ex(const float *X, int64_t ldx, const float *dZ, int64_t ldz, int64_t B,
                            int32_t in, int32_t out, const float *W, float *dW, float *dbias,
                            float *dX, int64_t lddx, float dX_beta);

/* Batch norm on a contiguous [B x n] matrix. Training: Y = gamma (Z - mu) * istd + beta with
 * batch mean mu and biased variance var (istd = 1/sqrt(var + eps)); saves xhat [B x n]
 * (nullable) and istd [n] for the backward, and updates the moving statistics (nullable).
 * gamma / beta NULL mean 1 / 0 (Dice's BN). Y may alias Z. */
void dctr_bn_forward_train(const float *Z, int64_t B, int32_t n, const float *gamma,
                           const float *beta, float eps, float momentum, float *moving_mean,
                           float *moving_var, float *xhat, float *istd, float *Y);
void dctr_bn_forward_infer(const float *Z, int64_t B, int32_t n, const float *gamma,
                           const float *beta, float eps, const float *moving_mean,
                           const float *moving_var, float *Y);
/* From dY, the saved xhat / istd: dZ += ..., dgamma / dbeta (nullable) +=. */
void dctr_bn_backward(const float *dY, const float *xhat, const float *istd, int64_t B, int32_t n,
                      const float *gamma, float *dgamma, float *dbeta, float *dZ);

/* Batch norm over a batch split across replicas (distributed training): `sum` adds a vector
 * over the replicas in place (the same result on each), `rows` is the global batch. The column
 * sums are summed, so the mean, variance and backward means are the global batch's; dgamma /
 * dbeta get this replica's share only (the replicas' gradients are summed afterwards). A failed
 * sum is reported by the sum callback's owner (the backward has no status). */
typedef struct dctr_bn_sync {
    int64_t rows;
    dctr_status (*sum)(void *ctx, double *x, int64_t n);
    void *ctx;
} dctr_bn_sync;
dctr_status dctr_bn_forward_train_sync(const dctr_bn_sync *sync, const float *Z, int64_t B, int32_t n,
                                       const float *gamma, const float *beta, float eps,
                                       float momentum, float *moving_mean, float *moving_var,
                                       float *xhat, float *istd, float *Y);
void dctr_bn_backward_sync(const dctr_bn_sync *sync, const float *dY, const float *xhat,
                           const float *istd, int64_t B, int32_t n, const float *gamma,
                           float *dgamma, float *dbeta, float *dZ);
/* Training forward / backward of the workspace use the sync (NULL: this batch alone). */
void dctr_dnn_workspace_set_bn_sync(dctr_dnn_workspace *ws, const dctr_bn_sync *sync);

/* Elementwise activations on [B x n] (not for Dice, which needs BN: see the DNN). Y may alias
 * Z. alpha is per unit (PReLU), ignored otherwise. */
void dctr_act_forward(dctr_activation act, const float *Z, int64_t B, int32_t n,
                      const float *alpha, float *Y);
/* dZ += dY * act'(Z) (Z the pre-activation, Y the output); dalpha (PReLU, nullable) +=.
 * dZ must not alias Z, Y or dY. */
void dctr_act_backward(dctr_activation act, const float *Z, const float *Y, const float *dY,
                       int64_t B, int32_t n, const float *alpha, float *dalpha, float *dZ);

/* Dropout multipliers: mask[i] = 0 with probability p, else 1/(1-p) (Keras keeps a unit when
 * uniform >= p; here a 32-bit uniform, two per draw of rng). */
void dctr_dropout_mask(dctr_rng *rng, float p, float *mask, int64_t count);

#endif
