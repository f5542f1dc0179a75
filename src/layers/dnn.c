/* DNN stack: dense (sgemm) -> [BN] -> activation (incl. PReLU / Dice) -> [dropout]. */
#include "layers/dnn.h"

#include "core/pool.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/gemm_rows.h"
#include "core/gemm_train.h"
#include "core/error.h"
#include "layers/activation.h"
#include "layers/init.h"


/* ---------------------------------------------------------------- configuration */

void dctr_dnn_config_default(dctr_dnn_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->activation = DCTR_ACT_RELU;
    cfg->output_activation = DCTR_ACT_RELU;
    cfg->bn_momentum = DCTR_BN_MOMENTUM;
    cfg->bn_eps = DCTR_BN_EPS;
}

static int act_ok(dctr_activation a) { return a >= DCTR_ACT_RELU && a <= DCTR_ACT_DICE; }

dctr_status dctr_dnn_config_check(const dctr_dnn_config *cfg) {
    if (cfg->in_dim < 0)
        return dctr_set_error(DCTR_ERR_SCHEMA, "DNN: input width %d < 0", cfg->in_dim);
    if (cfg->num_layers < 0 || cfg->num_layers > DCTR_DNN_MAX_LAYERS)
        return dctr_set_error(DCTR_ERR_SCHEMA, "DNN: %d hidden layers (0..%d allowed)",
                              cfg->num_layers, DCTR_DNN_MAX_LAYERS);
    for (int32_t i = 0; i < cfg->num_layers; i++)
        if (cfg->units[i] <= 0)
            return dctr_set_error(DCTR_ERR_SCHEMA, "DNN: hidden layer %d has %d units", i,
                                  cfg->units[i]);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return dctr_set_error(DCTR_ERR_SCHEMA, "DNN: dropout rate %g outside [0, 1)",
                              (double)cfg->dropout);
    if (!act_ok(cfg->activation) || (cfg->has_output_activation && !act_ok(cfg->output_activation)))
        return dctr_set_error(DCTR_ERR_SCHEMA, "DNN: unknown activation");
    if (cfg->use_bn && !(cfg->bn_eps > 0.0f && cfg->bn_momentum >= 0.0f && cfg->bn_momentum <= 1.0f))
        return dctr_set_error(DCTR_ERR_SCHEMA, "DNN: batch norm eps %g / momentum %g invalid",
                              (double)cfg->bn_eps, (double)cfg->bn_momentum);
    return DCTR_OK;
}

dctr_activation dctr_dnn_layer_activation(const dctr_dnn_config *cfg, int32_t i) {
    if (cfg->has_output_activation && i == cfg->num_layers - 1)
        return cfg->output_activation;
    return cfg->activation;
}

int32_t dctr_dnn_out_dim(const dctr_dnn_config *cfg) {
    return cfg->num_layers > 0 ? cfg->units[cfg->num_layers - 1] : cfg->in_dim;
}

static int32_t layer_in(const dctr_dnn_config *cfg, int32_t i) {
    return i == 0 ? cfg->in_dim : cfg->units[i - 1];
}

static int has_alpha(dctr_activation a) { return a == DCTR_ACT_PRELU || a == DCTR_ACT_DICE; }

int64_t dctr_dnn_num_params(const dctr_dnn_config *cfg) {
    int64_t n = 0;
    for (int32_t i = 0; i < cfg->num_layers; i++) {
        int64_t o = cfg->units[i];
        n += (int64_t)layer_in(cfg, i) * o + o;
        if (cfg->use_bn)
            n += 2 * o;
        if (has_alpha(dctr_dnn_layer_activation(cfg, i)))
            n += o;
    }
    return n;
}

int64_t dctr_dnn_num_state(const dctr_dnn_config *cfg) {
    int64_t n = 0;
    for (int32_t i = 0; i < cfg->num_layers; i++) {
        int64_t o = cfg->units[i];
        if (cfg->use_bn)
            n += 2 * o;
        if (dctr_dnn_layer_activation(cfg, i) == DCTR_ACT_DICE)
            n += 2 * o;
    }
    return n;
}

void dctr_dnn_bind(const dctr_dnn_config *cfg, float *params, float *state, dctr_dnn_params *p) {
    memset(p, 0, sizeof *p);
    p->num_layers = cfg->num_layers;
    for (int32_t i = 0; i < cfg->num_layers; i++) {
        dctr_dnn_layer_params *l = &p->layer[i];
        int64_t o = cfg->units[i];
        dctr_activation act = dctr_dnn_layer_activation(cfg, i);
        l->W = params;
        params += (int64_t)layer_in(cfg, i) * o;
        l->b = params;
        params += o;
        if (cfg->use_bn) {
            l->gamma = params;
            l->beta = params + o;
            params += 2 * o;
        }
        if (has_alpha(act)) {
            l->alpha = params;
            params += o;
        }
        if (state) {
            if (cfg->use_bn) {
                l->bn_mean = state;
                l->bn_var = state + o;
                state += 2 * o;
            }
            if (act == DCTR_ACT_DICE) {
                l->dice_mean = state;
                l->dice_var = state + o;
                state += 2 * o;
            }
        }
    }
}

void dctr_dnn_init(const dctr_dnn_config *cfg, const dctr_dnn_params *p, dctr_rng *rng) {
    for (int32_t i = 0; i < cfg->num_layers; i++) {
        const dctr_dnn_layer_params *l = &p->layer[i];
        int32_t in = layer_in(cfg, i), o = cfg->units[i];
        dctr_init_glorot_normal(rng, l->W, (int64_t)in * o, in, o);
        dctr_init_const(l->b, o, 0.0f);
        if (l->gamma) {
            dctr_init_const(l->gamma, o, 1.0f);
            dctr_init_const(l->beta, o, 0.0f);
        }
        if (l->alpha)
            dctr_init_const(l->alpha, o, 0.0f);
        if (l->bn_mean) {
            dctr_init_const(l->bn_mean, o, 0.0f);
            dctr_init_const(l->bn_var, o, 1.0f);
        }
        if (l->dice_mean) {
            dctr_init_const(l->dice_mean, o, 0.0f);
            dctr_init_const(l->dice_var, o, 1.0f);
        }
    }
}

/* ---------------------------------------------------------------- dense */

/* Dense(1): row dot products (a GEMM with N = 1 wastes most of its time). Row-local, so a
 * row's result never depends on the batch around it. */
static void dense1_forward(const float *X, int64_t ldx, int64_t B, int32_t in, const float *W,
                           const float *bias, float *Z, int64_t ldz) {
    float b0 = bias ? bias[0] : 0.0f;
    enum { LANES = 8 }; /* independent partial sums: one vector, no serial add chain */
    const int32_t vec_end = in / LANES * LANES;
    for (int64_t b = 0; b < B; b++) {
        const float *x = X + b * ldx;
        float acc[LANES] = {0};
        for (int32_t j = 0; j < vec_end; j += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += x[j + l] * W[j + l];
        float s = 0.0f;
        for (int l = 0; l < LANES; l++)
            s += acc[l];
        for (int32_t j = vec_end; j < in; j++)
            s += x[j] * W[j];
        Z[b * ldz] = s + b0;
    }
}

/* Z = X W (+ bias): through the row-exact GEMM for inference (rows_exact), and for training
 * where the library's kernels beat BLAS (core/gemm_train.h: then training's forward equals
 * inference's bit for bit); else through BLAS. */
static void dense_forward(const float *X, int64_t ldx, int64_t B, int32_t in, int32_t out,
                          const float *W, const float *bias, float *Z, int64_t ldz,
                          bool rows_exact) {
    if (B <= 0 || out <= 0)
        return;
    if (out == 1) {
        dense1_forward(X, ldx, B, in, W, bias, Z, ldz);
        return;
    }
    if (rows_exact || dctr_gemm_train_own(in, out)) {
        dctr_gemm_rows(X, ldx, B, in, out, W, Z, ldz);
        for (int64_t b = 0; b < B && bias; b++)
            for (int32_t o = 0; o < out; o++)
                Z[b * ldz + o] += bias[o];
        return;
    }
    if (bias)
        for (int64_t b = 0; b < B; b++)
            memcpy(Z + b * ldz, bias, (size_t)out * sizeof(float));
    if (in <= 0) {
        if (!bias)
            for (int64_t b = 0; b < B; b++)
                memset(Z + b * ldz, 0, (size_t)out * sizeof(float));
        return;
    }
    dctr_sgemm(false, false, (int)B, out, in, 1.0f, X, (int)ldx, W, out, bias ? 1.0f : 0.0f, Z,
               (int)ldz);
}

void dctr_dense_forward_rows(const float *X, int64_t ldx, int64_t B, int32_t in, int32_t out,
                             const float *W, const float *bias, float *Z, int64_t ldz) {
    dense_forward(X, ldx, B, in, out, W, bias, Z, ldz, true);
}

void dctr_dense_forward(const float *X, int64_t ldx, int64_t B, int32_t in, int32_t out,
                        const float *W, const float *bias, float *Z, int64_t ldz) {
    dense_forward(X, ldx, B, in, out, W, bias, Z, ldz, false);
}

/* dW += X^T dZ and dX[:, :dxn] (dX_beta ? += : =) dZ W[:dxn]^T, through the library's kernels
 * when dctr_gemm_train_own() says so (dX then needs Wt = W[:dxn]^T [out x dxn]; NULL keeps it
 * on BLAS). */
static void dense_grads(const float *X, int64_t ldx, const float *dZ, int64_t ldz, int64_t B,
                        int32_t in, int32_t out, const float *W, const float *Wt, float *dW,
                        float dW_beta, float *dX, int64_t lddx, float dX_beta, int32_t dxn) {
    if (dctr_gemm_train_own(in, out)) {
        dctr_gemm_tn(X, ldx, in, out, B, dZ, ldz, dW, out, dW_beta != 0.0f);
        if (dX && Wt) {
            dctr_gemm_nn(dZ, ldz, B, out, dxn, Wt, dX, lddx, dX_beta != 0.0f);
            return;
        }
    } else {
        dctr_sgemm(true, false, in, out, (int)B, 1.0f, X, (int)ldx, dZ, (int)ldz, dW_beta, dW,
                   out);
    }
    if (dX && dxn > 0)
        dctr_sgemm(false, true, (int)B, dxn, out, 1.0f, dZ, (int)ldz, W, out, dX_beta, dX,
                   (int)lddx);
}

/* dX_beta = 0 overwrites dX (internal buffers), 1 accumulates (the public contract). */
static void dense_backward(const float *X, int64_t ldx, const float *dZ, int64_t ldz, int64_t B,
                           int32_t in, int32_t out, const float *W, const float *Wt, float *dW,
                           float *dbias, float *dX, int64_t lddx, float dX_beta, int32_t dxn) {
    if (B <= 0 || out <= 0)
        return;
    if (out == 1) { /* rank-1 updates as plain loops */
        float db = 0.0f;
        for (int64_t b = 0; b < B; b++) {
            const float *x = X + b * ldx;
            float d = dZ[b * ldz];
            db += d;
            for (int32_t j = 0; j < in; j++)
                dW[j] += d * x[j];
            if (dX) {
                float *dx = dX + b * lddx;
                for (int32_t j = 0; j < dxn; j++)
                    dx[j] = dX_beta != 0.0f ? dx[j] + d * W[j] : d * W[j];
            }
        }
        if (dbias)
            dbias[0] += db;
        return;
    }
    if (in > 0)
        dense_grads(X, ldx, dZ, ldz, B, in, out, W, Wt, dW, 1.0f, dX, lddx, dX_beta, dxn);
    if (dbias)
        for (int64_t b = 0; b < B; b++) {
            const float *d = dZ + b * ldz;
            for (int32_t o = 0; o < out; o++)
                dbias[o] += d[o];
        }
}

void dctr_dense_backward_ex(const float *X, int64_t ldx, const float *dZ, int64_t ldz, int64_t B,
                            int32_t in, int32_t out, const float *W, float *dW, float *dbias,
                            float *dX, int64_t lddx, float dX_beta) {
    dense_backward(X, ldx, dZ, ldz, B, in, out, W, NULL, dW, dbias, dX, lddx, dX_beta, in);
}

void dctr_dense_backward(const float *X, int64_t ldx, const float *dZ, int64_t ldz, int64_t B,
                         int32_t in, int32_t out, const float *W, float *dW, float *dbias,
                         float *dX, int64_t lddx) {
    dense_backward(X, ldx, dZ, ldz, B, in, out, W, NULL, dW, dbias, dX, lddx, 1.0f, in);
}

/* ---------------------------------------------------------------- batch norm */

/* ---------------------------------------------------------------- activations */
/* The kernels live in activation.c (one body per SIMD level); these keep the local names. */

static void act_backward(dctr_activation act, const float *Z, const float *Y, const float *dY,
                         int64_t B, int32_t n, const float *alpha, float *dalpha, float *dZ,
                         int accumulate, float *colsum, int32_t c0, int32_t c1) {
    dctr_act_backward_cols(act, Z, Y, dY, B, n, alpha, dalpha, dZ, accumulate, colsum, c0, c1);
}

static void bias_act_inplace(dctr_activation act, const float *bias, int64_t B, int32_t n,
                             float *Z) {
    dctr_bias_act_inplace(act, bias, B, n, Z);
}

void dctr_dropout_mask(dctr_rng *rng, float p, float *mask, int64_t count) {
    /* Two 32-bit uniforms per 64-bit draw (the draw was a sixth of a DeepFM step with
     * dropout): unit i is kept when its u32 >= p * 2^32, i.e. uniform >= p as Keras does. */
    const float keep = 1.0f / (1.0f - p);
    const uint64_t thr = (uint64_t)ceil((double)p * 4294967296.0);
    int64_t i = 0;
    for (; i + 2 <= count; i += 2) {
        uint64_t r = dctr_rng_next(rng);
        mask[i] = (r & 0xFFFFFFFFu) >= thr ? keep : 0.0f;
        mask[i + 1] = (r >> 32) >= thr ? keep : 0.0f;
    }
    if (i < count)
        mask[i] = (dctr_rng_next(rng) & 0xFFFFFFFFu) >= thr ? keep : 0.0f;
}

/* Y = H * mask over count floats (restrict: the loop vectorises). */
static void dropout_apply(const float *restrict H, const float *restrict mask, float *restrict Y,
                          int64_t count) {
    for (int64_t k = 0; k < count; k++)
        Y[k] = H[k] * mask[k];
}

/* ---------------------------------------------------------------- the stack */

typedef struct layer_ws {
    float *Z;     /* X W + b */
    float *A;     /* after BN (== Z without BN) */
    float *H;     /* after the activation */
    float *Y;     /* after dropout (== H without dropout in this pass) */
    float *xhat;  /* BN normalised Z */
    float *istd;  /* BN 1/sqrt(var+eps) [n] */
    float *dxh;   /* Dice: normalised A */
    float *distd; /* Dice: [n] */
    float *p;     /* Dice: sigmoid(dxh) */
    float *mask;  /* dropout multipliers */
    float *Hc;    /* this pass's activation output: H, or A itself for in-place activations */
    const float *out; /* this pass's layer output (Hc, or Y after dropout) */
} layer_ws;

struct dctr_dnn_workspace {
    int64_t max_batch;
    int32_t num_layers;
    layer_ws l[DCTR_DNN_MAX_LAYERS];
    float *g[2]; /* ping-pong dY / dX buffers [max_batch x max width] */
    float *gA, *gZ, *gH;
    float *wt;       /* W[:dxn]^T of every layer, at wt_off[i] (core/gemm_train.h) */
    int64_t wt_off[DCTR_DNN_MAX_LAYERS];
    float *arena;
    dctr_pool *pool; /* NULL: GEMMs on OpenBLAS's own threads */
    float *dw_part;  /* (threads - 1) partial dW of the largest layer, for the pool's split */
    float *db_part;  /* (threads - 1) partial bias gradients of the widest layer */
    int64_t dw_part_cap;
    int64_t max_w;   /* largest in x out of any layer */
    int32_t max_units;
    const dctr_bn_sync *bn_sync; /* distributed training: BN over the global batch */
};

void dctr_dnn_workspace_set_bn_sync(dctr_dnn_workspace *ws, const dctr_bn_sync *sync) {
    ws->bn_sync = sync;
}

dctr_status dctr_dnn_workspace_set_pool(dctr_dnn_workspace *ws, struct dctr_pool *pool) {
    ws->pool = pool;
    int64_t parts = pool ? dctr_pool_threads(pool) - 1 : 0;
    int64_t need = parts * ws->max_w;
    if (need <= ws->dw_part_cap)
        return DCTR_OK;
    dctr_aligned_free(ws->dw_part);
    ws->dw_part_cap = 0;
    ws->dw_part = dctr_alloc_floats((size_t)(need + parts * ws->max_units));
    if (!ws->dw_part)
        return dctr_set_error(DCTR_ERR_NOMEM, "DNN: %lld floats of partial weight gradients",
                              (long long)need);
    ws->db_part = ws->dw_part + need;
    ws->dw_part_cap = need;
    return DCTR_OK;
}

/* Pool splits: batch rows for the forward GEMM (+ bias/activation), and for the backward's dX
 * and dW together: each thread reads only its own rows of X and dZ, and its partial dW (a sum
 * over its rows) is added to dW in thread order afterwards. The split depends only on the
 * pool's thread count, so results are reproducible for a given thread count. */
#define DNN_MIN_ROWS_PER_TASK 64

typedef struct fw_job {
    const float *X;
    int64_t ldx, B;
    int32_t in, out;
    const float *W, *bias;
    float *Z;
    dctr_activation act;
    int rows_exact; /* inference: the row-exact GEMM (dctr_dense_forward_rows) */
} fw_job;

static void chunk(int64_t n, int64_t parts, int64_t i, int64_t *b0, int64_t *b1) {
    *b0 = n * i / parts;
    *b1 = n * (i + 1) / parts;
}

/* Rows per GEMM + bias/activation block: the block's outputs are still in cache when the
 * activation pass reads them back. */
#define FW_BLOCK_ROWS 512

static void fw_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const fw_job *j = ctx;
    for (int64_t r = begin; r < end; r += FW_BLOCK_ROWS) {
        int64_t n = end - r < FW_BLOCK_ROWS ? end - r : FW_BLOCK_ROWS;
        (j->rows_exact ? dctr_dense_forward_rows : dctr_dense_forward)(
            j->X + r * j->ldx, j->ldx, n, j->in, j->out, j->W, NULL, j->Z + r * j->out, j->out);
        bias_act_inplace(j->act, j->bias, n, j->out, j->Z + r * j->out);
    }
}

typedef struct ab_job {
    dctr_activation act;
    const float *Z, *Y, *dY;
    int64_t B;
    int32_t n;
    const float *alpha;
    float *dalpha, *dZ, *colsum;
} ab_job;

static void ab_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const ab_job *j = ctx;
    act_backward(j->act, j->Z, j->Y, j->dY, j->B, j->n, j->alpha, j->dalpha, j->dZ, 0, j->colsum,
                 (int32_t)begin, (int32_t)end);
}

typedef struct bw_job {
    const float *X;
    int64_t ldx;
    float *dZ;
    int64_t B;
    int32_t in, out, parts;
    const float *W, *Wt;
    float *dW, *dX;
    float *dw_part; /* [parts - 1][in x out] */
    int64_t lddx;
    float beta;
    int32_t dxn; /* dX columns wanted */
    /* act_fused: this layer's activation backward (no BN, no per-unit alpha) runs here on each
     * part's own rows first, writing dZ and summing the bias gradient (part 0 into db, the
     * others into their db_part [parts - 1][out], added in order afterwards). */
    int act_fused;
    dctr_activation act;
    const float *A, *Y, *dY;
    float *db, *db_part;
} bw_job;

static void bw_task(void *ctx, int worker, int64_t begin, int64_t end) {
    (void)worker;
    const bw_job *j = ctx;
    for (int64_t p = begin; p < end; p++) {
        int64_t r0, r1;
        chunk(j->B, j->parts, p, &r0, &r1);
        if (j->act_fused) {
            const int64_t o = r0 * j->out;
            float *db = p == 0 ? j->db : j->db_part + (p - 1) * (int64_t)j->out;
            if (p > 0)
                memset(db, 0, sizeof(float) * (size_t)j->out);
            if (r1 > r0)
                act_backward(j->act, j->A + o, j->Y + o, j->dY + o, r1 - r0, j->out, NULL, NULL,
                             j->dZ + o, 0, db, 0, j->out);
        }
        /* part 0 adds into dW itself; the others overwrite their partials */
        float *dW = p == 0 ? j->dW : j->dw_part + (p - 1) * (int64_t)j->in * j->out;
        if (r1 <= r0) {
            if (p > 0)
                memset(dW, 0, sizeof(float) * (size_t)j->in * (size_t)j->out);
            continue;
        }
        /* dW(p) = X[r0:r1]^T dZ[r0:r1], dX[r0:r1] = dZ[r0:r1] W^T */
        dense_grads(j->X + r0 * j->ldx, j->ldx, j->dZ + r0 * j->out, j->out, r1 - r0, j->in,
                    j->out, j->W, j->Wt, dW, p == 0 ? 1.0f : 0.0f,
                    j->dX ? j->dX + r0 * j->lddx : NULL, j->lddx, j->beta, j->dxn);
    }
}

dctr_status dctr_dnn_workspace_new(const dctr_dnn_config *cfg, int64_t max_batch,
                                   dctr_dnn_workspace **out) {
    *out = NULL;
    DCTR_TRY(dctr_dnn_config_check(cfg));
    if (max_batch <= 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "DNN workspace: max batch %lld <= 0",
                              (long long)max_batch);
    dctr_dnn_workspace *ws = dctr_calloc(1, sizeof *ws);
    if (!ws)
        return DCTR_ERR_NOMEM;
    ws->max_batch = max_batch;
    ws->num_layers = cfg->num_layers;
    /* Two passes over the same layout: count, then carve (each buffer 64-byte aligned). */
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        float *base = ws->arena;
#define TAKE(ptr, count)                                                  \
    do {                                                                  \
        (ptr) = base ? base + off : NULL;                                 \
        off += dctr_round_up((size_t)(count), DCTR_ALIGNMENT / sizeof(float)); \
    } while (0)
        int32_t maxw = 1;
        ws->max_w = 0;
        ws->max_units = 0;
        for (int32_t i = 0; i < cfg->num_layers; i++) {
            layer_ws *l = &ws->l[i];
            int64_t o = cfg->units[i], bo = max_batch * o;
            dctr_activation act = dctr_dnn_layer_activation(cfg, i);
            memset(l, 0, sizeof *l);
            if (o > maxw)
                maxw = (int32_t)o;
            if ((int64_t)layer_in(cfg, i) * o > ws->max_w)
                ws->max_w = (int64_t)layer_in(cfg, i) * o;
            if (o > ws->max_units)
                ws->max_units = (int32_t)o;
            TAKE(l->Z, bo);
            TAKE(l->H, bo);
            l->A = l->Z;
            l->Y = l->H;
            if (cfg->use_bn) {
                TAKE(l->A, bo);
                TAKE(l->xhat, bo);
                TAKE(l->istd, o);
            }
            if (act == DCTR_ACT_DICE) {
                TAKE(l->dxh, bo);
                TAKE(l->distd, o);
                TAKE(l->p, bo);
            }
            if (cfg->dropout > 0.0f) {
                TAKE(l->Y, bo);
                TAKE(l->mask, bo);
            }
        }
        if (cfg->in_dim > maxw)
            maxw = cfg->in_dim;
        TAKE(ws->g[0], max_batch * maxw);
        TAKE(ws->g[1], max_batch * maxw);
        TAKE(ws->gA, max_batch * maxw);
        TAKE(ws->gZ, max_batch * maxw);
        TAKE(ws->gH, max_batch * maxw);
        int64_t wt_total = 0;
        for (int32_t i = 0; i < cfg->num_layers; i++) {
            ws->wt_off[i] = wt_total;
            wt_total += dctr_round_up((size_t)layer_in(cfg, i) * (size_t)cfg->units[i],
                                      DCTR_ALIGNMENT / sizeof(float));
        }
        TAKE(ws->wt, wt_total);
#undef TAKE
        if (pass == 0) {
            ws->arena = dctr_alloc_floats(off);
            if (!ws->arena) {
                dctr_free(ws);
                return DCTR_ERR_NOMEM;
            }
        }
    }
    /* dropout masks default to "keep everything" until a training pass draws them */
    for (int32_t i = 0; i < cfg->num_layers; i++)
        if (ws->l[i].mask)
            dctr_init_const(ws->l[i].mask, max_batch * cfg->units[i], 1.0f);
    *out = ws;
    return DCTR_OK;
}

void dctr_dnn_workspace_free(dctr_dnn_workspace *ws) {
    if (!ws)
        return;
    dctr_aligned_free(ws->arena);
    dctr_aligned_free(ws->dw_part);
    dctr_free(ws);
}

int64_t dctr_dnn_workspace_max_batch(const dctr_dnn_workspace *ws) { return ws->max_batch; }

float *dctr_dnn_dropout_mask(dctr_dnn_workspace *ws, int32_t layer) {
    if (layer < 0 || layer >= ws->num_layers)
        return NULL;
    return ws->l[layer].mask;
}

static void dice_forward(const dctr_dnn_layer_params *lp, layer_ws *l, int64_t B, int32_t n,
                         int training) {
    if (training)
        dctr_bn_forward_train(l->A, B, n, NULL, NULL, DCTR_DICE_EPS, DCTR_BN_MOMENTUM,
                              lp->dice_mean, lp->dice_var, l->dxh, l->distd, l->dxh);
    else
        dctr_bn_forward_infer(l->A, B, n, NULL, NULL, DCTR_DICE_EPS, lp->dice_mean, lp->dice_var,
                              l->dxh);
    dctr_dice_gate_forward(l->A, l->dxh, lp->alpha, B, n, l->p, l->H);
}

static void dice_backward(const dctr_dnn_layer_params *lp, const dctr_dnn_layer_params *lg,
                          layer_ws *l, const float *dH, float *scratch, int64_t B, int32_t n,
                          float *dA) {
    /* H = A (alpha + p (1 - alpha)), p = sigmoid(BN(A)) */
    dctr_dice_gate_backward(l->A, l->p, dH, lp->alpha, B, n, dA, scratch, lg->alpha);
    dctr_bn_backward(scratch, l->dxh, l->distd, B, n, NULL, NULL, NULL, dA);
}

const float *dctr_dnn_forward(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                              dctr_dnn_workspace *ws, const float *X, int64_t ldx, int64_t B,
                              int training, dctr_rng *rng, int64_t *out_stride) {
    const float *in = X;
    int64_t ld = ldx;
    if (B > ws->max_batch) {
        dctr_set_error(DCTR_ERR_LIMIT, "DNN: batch of %lld rows exceeds the workspace's %lld",
                       (long long)B, (long long)ws->max_batch);
        return NULL;
    }
    for (int32_t i = 0; i < cfg->num_layers; i++) {
        const dctr_dnn_layer_params *lp = &p->layer[i];
        layer_ws *l = &ws->l[i];
        int32_t n = cfg->units[i];
        dctr_activation act = dctr_dnn_layer_activation(cfg, i);
        /* relu / sigmoid / tanh / linear run in place (their backward needs only the output:
         * relu's input is > 0 exactly where its output is); PReLU and Dice keep A and H. */
        int inplace = act != DCTR_ACT_PRELU && act != DCTR_ACT_DICE;
        if (!cfg->use_bn && inplace) {
            /* one pass for bias + activation after the GEMM */
            fw_job fj = {in, ld, B, layer_in(cfg, i), n, lp->W, lp->b, l->Z, act, !training};
            if (ws->pool && n > 1 && B >= DNN_MIN_ROWS_PER_TASK * dctr_pool_threads(ws->pool))
                dctr_pool_run(ws->pool, B, fw_task, &fj);
            else
                fw_task(&fj, 0, 0, B);
        } else {
            (training ? dctr_dense_forward : dctr_dense_forward_rows)(in, ld, B, layer_in(cfg, i),
                                                                     n, lp->W, lp->b, l->Z, n);
        }
        if (cfg->use_bn) {
            if (training && ws->bn_sync) {
                if (dctr_bn_forward_train_sync(ws->bn_sync, l->Z, B, n, lp->gamma, lp->beta,
                                               cfg->bn_eps, cfg->bn_momentum, lp->bn_mean,
                                               lp->bn_var, l->xhat, l->istd, l->A) != DCTR_OK)
                    return NULL;
            } else if (training)
                dctr_bn_forward_train(l->Z, B, n, lp->gamma, lp->beta, cfg->bn_eps,
                                      cfg->bn_momentum, lp->bn_mean, lp->bn_var, l->xhat, l->istd,
                                      l->A);
            else
                dctr_bn_forward_infer(l->Z, B, n, lp->gamma, lp->beta, cfg->bn_eps, lp->bn_mean,
                                      lp->bn_var, l->A);
        }
        l->Hc = inplace ? l->A : l->H;
        if (act == DCTR_ACT_DICE)
            dice_forward(lp, l, B, n, training);
        else if (cfg->use_bn || !inplace)
            dctr_act_forward(act, l->A, B, n, lp->alpha, l->Hc);
        const float *y = l->Hc;
        if (training && l->mask) {
            if (rng)
                dctr_dropout_mask(rng, cfg->dropout, l->mask, B * n);
            dropout_apply(l->Hc, l->mask, l->Y, B * n);
            y = l->Y;
        }
        l->out = y;
        in = y;
        ld = n;
    }
    if (out_stride)
        *out_stride = ld;
    return in;
}

static int layer_pooled(const dctr_dnn_workspace *ws, int64_t B, int32_t in, int32_t n) {
    return ws->pool && n > 1 && in > 0 &&
           B >= DNN_MIN_ROWS_PER_TASK * dctr_pool_threads(ws->pool) &&
           ws->dw_part_cap >= (int64_t)(dctr_pool_threads(ws->pool) - 1) * in * n;
}

/* Whether layer i's input gradient GEMM also runs layer i-1's relu backward and bias sum
 * (dctr_gemm_nn_relu_backward: one pass over [B x units] less): layer i on the library's
 * kernels, both layers serial (the pool fuses per part instead), relu below without BN or
 * dropout. */
static int gate_below(const dctr_dnn_config *cfg, const dctr_dnn_workspace *ws, int32_t i,
                      int64_t B) {
    if (i == 0 || cfg->use_bn || ws->l[i - 1].mask ||
        dctr_dnn_layer_activation(cfg, i - 1) != DCTR_ACT_RELU)
        return 0;
    int32_t in = layer_in(cfg, i), n = cfg->units[i];
    return dctr_gemm_train_own(in, n) && !layer_pooled(ws, B, in, n) &&
           !layer_pooled(ws, B, layer_in(cfg, i - 1), in);
}

void dctr_dnn_backward(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                       const dctr_dnn_params *g, dctr_dnn_workspace *ws, const float *X,
                       int64_t ldx, int64_t B, const float *dout, int64_t ld_dout, float *dX,
                       int64_t lddx) {
    dctr_dnn_backward_ex(cfg, p, g, ws, X, ldx, B, dout, ld_dout, dX, lddx, 1.0f, cfg->in_dim);
}

/* dY through the dropout mask (or just made contiguous [B x n]); dY itself when neither. */
static const float *dropout_backward(dctr_dnn_workspace *ws, const layer_ws *l, const float *dY,
                                     int64_t ldy, int64_t B, int32_t n) {
    if (!l->mask && ldy == n)
        return dY;
    float *t = ws->gH;
    for (int64_t b = 0; b < B; b++) {
        const float *src = dY + b * ldy;
        float *dst = t + b * n;
        if (l->mask) {
            const float *m = l->mask + b * n;
            for (int32_t j = 0; j < n; j++)
                dst[j] = src[j] * m[j];
        } else {
            memcpy(dst, src, (size_t)n * sizeof(float));
        }
    }
    return t;
}

/* Through BN when the stack has it: dZ in ws->gZ; else dA is dZ. */
static float *bn_backward(const dctr_dnn_config *cfg, const dctr_dnn_layer_params *lp,
                          const dctr_dnn_layer_params *lg, dctr_dnn_workspace *ws,
                          const layer_ws *l, float *dA, int64_t B, int32_t n) {
    if (!cfg->use_bn)
        return dA;
    float *dZ = ws->gZ;
    memset(dZ, 0, (size_t)(B * n) * sizeof(float));
    if (ws->bn_sync) /* distributed: the statistics of the global batch */
        dctr_bn_backward_sync(ws->bn_sync, dA, l->xhat, l->istd, B, n, lp->gamma, lg->gamma,
                              lg->beta, dZ);
    else
        dctr_bn_backward(dA, l->xhat, l->istd, B, n, lp->gamma, lg->gamma, lg->beta, dZ);
    return dZ;
}

/* dH back through the activation into dA (the bias gradient summed there without BN), then
 * through BN; returns dZ, the gradient of X W + b. */
static float *activation_backward(const dctr_dnn_config *cfg, const dctr_dnn_layer_params *lp,
                                  const dctr_dnn_layer_params *lg, dctr_dnn_workspace *ws,
                                  layer_ws *l, dctr_activation act, const float *dH, float *dA,
                                  int64_t B, int32_t n) {
    if (act == DCTR_ACT_DICE) {
        memset(dA, 0, (size_t)(B * n) * sizeof(float));
        dice_backward(lp, lg, l, dH, ws->gZ, B, n, dA);
    } else {
        /* in-place activations saw A == Hc; without BN the bias gradient is summed here */
        ab_job aj = {act, l->A, l->Hc, dH, B, n, lp->alpha, lg->alpha, dA,
                     cfg->use_bn ? NULL : lg->b};
        /* split over columns: each column's sums keep the serial row order (bit-identical) */
        if (ws->pool && n >= 16 * dctr_pool_threads(ws->pool) &&
            B >= DNN_MIN_ROWS_PER_TASK * dctr_pool_threads(ws->pool))
            dctr_pool_run(ws->pool, n, ab_task, &aj);
        else
            ab_task(&aj, 0, 0, n);
    }
    return bn_backward(cfg, lp, lg, ws, l, dA, B, n);
}

/* The pool's split of one layer's gradients (bw_task), then the partial dW (and, act fused,
 * bias) sums added in part order: reproducible for a thread count. */
static void pooled_layer_grads(dctr_dnn_workspace *ws, const bw_job *proto, float *db) {
    bw_job bj = *proto;
    bj.parts = dctr_pool_threads(ws->pool);
    dctr_pool_run(ws->pool, bj.parts, bw_task, &bj);
    const size_t nw = (size_t)bj.in * (size_t)bj.out;
    for (int q = 1; q < bj.parts; q++) {
        const float *part = ws->dw_part + (size_t)(q - 1) * nw;
        for (size_t e = 0; e < nw; e++)
            bj.dW[e] += part[e];
        if (bj.act_fused)
            for (int32_t e = 0; e < bj.out; e++)
                bj.db[e] += ws->db_part[(size_t)(q - 1) * (size_t)bj.out + (size_t)e];
    }
    /* the bias when it was not summed in the parts */
    dense_backward(bj.X, bj.ldx, bj.dZ, bj.out, bj.B, 0, bj.out, bj.W, NULL, NULL, db, NULL, 0,
                   bj.beta, 0);
}

/* Layers L-1 .. 0 of the backward over rows 0..B-1 of ws's buffers (a whole batch, or a view
 * of one row block: rows_view). wt[i]: layer i's W[:dxn]^T when its dX GEMM runs on the
 * library's kernels, else NULL. */
static void backward_layers(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                            const dctr_dnn_params *g, dctr_dnn_workspace *ws,
                            const float *const *wt, const float *X, int64_t ldx, int64_t B,
                            const float *dout, int64_t ld_dout, float *dX, int64_t lddx,
                            float dX_beta, int32_t dx_cols) {
    const float *dY = dout;
    int64_t ldy = ld_dout;
    int gated = 0; /* dY is already this layer's dZ, its bias gradient summed (gate_below) */
    for (int32_t i = cfg->num_layers - 1; i >= 0; i--) {
        const dctr_dnn_layer_params *lp = &p->layer[i], *lg = &g->layer[i];
        layer_ws *l = &ws->l[i];
        int32_t n = cfg->units[i], in = layer_in(cfg, i);
        dctr_activation act = dctr_dnn_layer_activation(cfg, i);
        const float *dH = gated ? dY : dropout_backward(ws, l, dY, ldy, B, n);
        const int pooled = layer_pooled(ws, B, in, n);
        /* without BN or a per-unit alpha, each thread runs the activation backward on its own
         * rows right before its GEMMs (one pass over the pool, rows still in cache) */
        const int act_fused = pooled && !cfg->use_bn && act != DCTR_ACT_DICE &&
                              act != DCTR_ACT_PRELU;
        float *dZ = gated ? (float *)dY /* done by the layer above's dX GEMM */
                    : act_fused ? bn_backward(cfg, lp, lg, ws, l, ws->gA, B, n) /* bw_task */
                                : activation_backward(cfg, lp, lg, ws, l, act, dH, ws->gA, B, n);
        /* else summed above (activation backward, or the gated GEMM) */
        float *db = (cfg->use_bn || act == DCTR_ACT_DICE) ? lg->b : NULL;
        const float *xin = i == 0 ? X : ws->l[i - 1].out;
        int64_t ldin = i == 0 ? ldx : in;
        /* ping-pong: never the buffer dY currently points into; overwritten (beta 0) */
        float *dXin = i > 0 ? ((dY == ws->g[0]) ? ws->g[1] : ws->g[0]) : dX;
        int64_t ldxin = i > 0 ? in : lddx;
        float beta = i > 0 ? 0.0f : dX_beta;
        int32_t dxn = i > 0 ? in : dx_cols;
        const float *Wt = dXin ? wt[i] : NULL;
        const int gate = !pooled && Wt && gate_below(cfg, ws, i, B);
        if (pooled) {
            bw_job bj = {xin,   ldin,  dZ,        B,    in,   n,   0, lp->W, Wt,
                         lg->W, dXin,  ws->dw_part, ldxin, beta, dxn, act_fused, act, l->A,
                         l->Hc, dH,    lg->b, ws->db_part};
            pooled_layer_grads(ws, &bj, db);
        } else if (gate) { /* dXin is layer i-1's dZ */
            dense_backward(xin, ldin, dZ, n, B, in, n, lp->W, Wt, lg->W, db, NULL, 0, beta, 0);
            dctr_gemm_nn_relu_backward(dZ, n, B, n, in, Wt, ws->l[i - 1].Hc, dXin, in,
                                       g->layer[i - 1].b);
        } else {
            dense_backward(xin, ldin, dZ, n, B, in, n, lp->W, Wt, lg->W, db, dXin, ldxin, beta, dxn);
        }
        gated = gate;
        if (i > 0)
            dY = dXin;
        ldy = in;
    }
}

/* Rows per block of the serial backward: one block's activations, gradients and X rows stay
 * in L2 through every layer (whole-batch layers at batch 4096 stream MBs per buffer through
 * L3, and the GEMMs ran ~7 % slower). */
#define BW_BLOCK_ROWS 256

/* Whether the backward may run in row blocks: rows independent (no BN, no Dice: batch
 * statistics), every parameter gradient a sum over rows (no PReLU alpha), serial (the pool
 * splits rows itself). */
static int rows_apart(const dctr_dnn_config *cfg) {
    if (cfg->use_bn)
        return 0;
    for (int32_t i = 0; i < cfg->num_layers; i++) {
        dctr_activation act = dctr_dnn_layer_activation(cfg, i);
        if (act == DCTR_ACT_DICE || act == DCTR_ACT_PRELU)
            return 0;
    }
    return 1;
}

static int backward_blocked(const dctr_dnn_config *cfg, const dctr_dnn_workspace *ws, int64_t B) {
    return B > BW_BLOCK_ROWS && !ws->pool && rows_apart(cfg);
}

int dctr_dnn_rows_independent(const dctr_dnn_config *cfg) {
    return rows_apart(cfg) && !(cfg->dropout > 0.0f);
}

/* ws's per-layer [rows x units] buffers from row r0 on (the scratch buffers are shared). */
static void rows_view(const dctr_dnn_config *cfg, const dctr_dnn_workspace *ws, int64_t r0,
                      dctr_dnn_workspace *view) {
    *view = *ws;
    for (int32_t i = 0; i < cfg->num_layers; i++) {
        const int64_t o = r0 * cfg->units[i];
        const layer_ws *l = &ws->l[i];
        layer_ws *v = &view->l[i];
#define SHIFT(f) v->f = l->f ? l->f + o : NULL
        SHIFT(Z);
        SHIFT(A);
        SHIFT(H);
        SHIFT(Y);
        SHIFT(xhat);
        SHIFT(dxh);
        SHIFT(p);
        SHIFT(mask);
        SHIFT(Hc);
#undef SHIFT
        v->out = l->out ? l->out + o : NULL;
    }
}

/* Each layer's W[:dxn]^T into ws (wt[i]), for the library's dX GEMMs; NULL where OpenBLAS runs
 * the layer's dX or no dX is wanted. */
/* Piece `part` of `parts`: columns [n part / parts, n (part + 1) / parts) of each W, i.e. those
 * rows of its transpose (whole rows: two pieces never write one cache line but at the seam). */
static void transpose_weights_part(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                                   dctr_dnn_workspace *ws, int with_dx, int32_t dx_cols,
                                   const float **wt, int part, int parts) {
    for (int32_t i = 0; i < cfg->num_layers; i++) {
        int32_t n = cfg->units[i], in = layer_in(cfg, i), dxn = i > 0 ? in : dx_cols;
        wt[i] = NULL;
        if ((i > 0 || with_dx) && in > 0 && dctr_gemm_train_own(in, n)) {
            const int32_t c0 = (int32_t)((int64_t)n * part / parts);
            const int32_t c1 = (int32_t)((int64_t)n * (part + 1) / parts);
            float *T = ws->wt + ws->wt_off[i]; /* [n x dxn] */
            if (c1 > c0)
                dctr_transpose(p->layer[i].W + c0, n, dxn, c1 - c0, T + (size_t)c0 * (size_t)dxn, dxn);
            wt[i] = T;
        }
    }
}

static void transpose_weights(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                              dctr_dnn_workspace *ws, int with_dx, int32_t dx_cols,
                              const float **wt) {
    transpose_weights_part(cfg, p, ws, with_dx, dx_cols, wt, 0, 1);
}

static int32_t clamp_dx_cols(const dctr_dnn_config *cfg, int32_t dx_cols) {
    return dx_cols < 0 || dx_cols > cfg->in_dim ? cfg->in_dim : dx_cols;
}

void dctr_dnn_backward_prepare(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                               dctr_dnn_workspace *ws, int with_dx, int32_t dx_cols,
                               const float **wt) {
    transpose_weights(cfg, p, ws, with_dx, clamp_dx_cols(cfg, dx_cols), wt);
}

void dctr_dnn_backward_prepare_part(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                                    dctr_dnn_workspace *ws, int with_dx, int32_t dx_cols,
                                    const float **wt, int part, int parts) {
    transpose_weights_part(cfg, p, ws, with_dx, clamp_dx_cols(cfg, dx_cols), wt, part, parts);
}

void dctr_dnn_backward_ex(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                          const dctr_dnn_params *g, dctr_dnn_workspace *ws, const float *X,
                          int64_t ldx, int64_t B, const float *dout, int64_t ld_dout, float *dX,
                          int64_t lddx, float dX_beta, int32_t dx_cols) {
    int32_t L = cfg->num_layers;
    dx_cols = clamp_dx_cols(cfg, dx_cols);
    if (B > ws->max_batch)
        return; /* the forward refused it already */
    if (L == 0) { /* identity */
        if (dX)
            for (int64_t b = 0; b < B; b++)
                for (int32_t j = 0; j < dx_cols; j++)
                    dX[b * lddx + j] = (dX_beta != 0.0f ? dX[b * lddx + j] : 0.0f) +
                                       dout[b * ld_dout + j];
        return;
    }
    /* each layer's W[:dxn]^T once per step, for the library's dX GEMMs */
    const float *wt[DCTR_DNN_MAX_LAYERS] = {0};
    transpose_weights(cfg, p, ws, dX != NULL, dx_cols, wt);
    if (!backward_blocked(cfg, ws, B)) {
        backward_layers(cfg, p, g, ws, wt, X, ldx, B, dout, ld_dout, dX, lddx, dX_beta, dx_cols);
        return;
    }
    dctr_dnn_workspace view;
    for (int64_t r0 = 0; r0 < B; r0 += BW_BLOCK_ROWS) {
        const int64_t n = B - r0 < BW_BLOCK_ROWS ? B - r0 : BW_BLOCK_ROWS;
        rows_view(cfg, ws, r0, &view);
        backward_layers(cfg, p, g, &view, wt, X + r0 * ldx, ldx, n, dout + r0 * ld_dout, ld_dout,
                        dX ? dX + r0 * lddx : NULL, lddx, dX_beta, dx_cols);
    }
}

void dctr_dnn_backward_rows(const dctr_dnn_config *cfg, const dctr_dnn_params *p,
                            const dctr_dnn_params *g, dctr_dnn_workspace *ws,
                            const float *const *wt, const float *X, int64_t ldx, int64_t B,
                            const float *dout, int64_t ld_dout, float *dX, int64_t lddx,
                            float dX_beta, int32_t dx_cols) {
    if (cfg->num_layers == 0 || B > ws->max_batch) { /* the identity; or refused by the forward */
        dctr_dnn_backward_ex(cfg, p, g, ws, X, ldx, B, dout, ld_dout, dX, lddx, dX_beta, dx_cols);
        return;
    }
    backward_layers(cfg, p, g, ws, wt, X, ldx, B, dout, ld_dout, dX, lddx, dX_beta,
                    clamp_dx_cols(cfg, dx_cols));
}
