/* Per-layer forward+backward time per sample for a Criteo-shaped configuration
 * (26 sparse + 13 dense fields, k = 8, DNN 221 -> 256 -> 128 -> Dense(1)) at batch 1, 256 and
 * 4096, and the DNN's GFLOP/s against plain cblas_sgemm on the same shapes in the same run.
 * Usage: bench_layers [--json FILE] [--seconds S] [--threads N] [--cpu-time] [--variants]
 * (S = time per measurement, default 0.2; N = OpenBLAS threads, default OpenBLAS's own).
 * --variants instead times each run-time dispatched kernel at every SIMD level this CPU runs
 * (portable, avx2, avx512; see core/simd.h) and prints each level's speed-up over portable. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/rng.h"
#include "deepctr/runtime.h"
#include "core/simd.h"
#include "layers/activation.h"
#include "layers/dnn.h"
#include "layers/embedding.h"
#include "layers/fm.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/prediction.h"
#include "layers/sequence_pool.h"
#include "optim/optim.h"

#define NSPARSE 26
#define NDENSE 13
#define K 8
#define VOCAB 20000
#define DIN (NSPARSE * K + NDENSE)
#define H1 256
#define H2 128
#define SEQ_T 10

/* --cpu-time measures process CPU time instead of wall time: on a loaded machine with one BLAS
 * thread it is far less disturbed by other processes than the wall clock. */
static clockid_t g_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(g_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double g_min_seconds = 0.2;

/* Runs fn until `seconds` elapsed (and at least 3 times); returns seconds per call. */
typedef void (*bench_fn)(void *ctx);
static double time_for(bench_fn fn, void *ctx, double seconds) {
    int64_t iters = 0;
    double t0 = now(), t = t0;
    while (iters < 3 || t - t0 < seconds) {
        fn(ctx);
        iters++;
        t = now();
    }
    return (t - t0) / (double)iters;
}

#define ROUNDS 5
/* Best of ROUNDS short runs: the machine is shared, and the minimum is the least disturbed. */
static double time_it(bench_fn fn, void *ctx) {
    fn(ctx); /* warm-up */
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double t = time_for(fn, ctx, g_min_seconds / ROUNDS);
        best = t < best ? t : best;
    }
    return best;
}

/* The DNN and its plain-cblas twin alternate round by round so both see the same load. */
static void time_pair(bench_fn a, bench_fn b, void *ctx, double *ta, double *tb) {
    a(ctx);
    b(ctx);
    *ta = *tb = 1e30;
    for (int r = 0; r < 2 * ROUNDS; r++) {
        double x = time_for(a, ctx, g_min_seconds / ROUNDS);
        double y = time_for(b, ctx, g_min_seconds / ROUNDS);
        *ta = x < *ta ? x : *ta;
        *tb = y < *tb ? y : *tb;
    }
}

static void check(dctr_status s) {
    if (s != DCTR_OK) {
        fprintf(stderr, "bench_layers: %s\n", dctr_last_error());
        exit(1);
    }
}

typedef struct ctx {
    int64_t B;
    float *tables[NSPARSE], *lin_tables[NSPARSE], *dense_kernel;
    dctr_sparse_grad grads[NSPARSE], lin_grads[NSPARSE];
    int64_t *ids; /* [NSPARSE][B] column-major by field (struct of arrays, like a batch) */
    float *dense; /* [B x NDENSE] */
    float *X, *dX; /* [B x DIN] the concat matrix */
    float *logit, *dlogit, *pred, *dpred, *label, *ddense;
    /* sequence */
    int64_t *seq_ids;
    int32_t *seq_len;
    float *seq_E, *seq_dE, *seq_out, *seq_dout;
    /* dnn */
    dctr_dnn_config cfg;
    float *params, *grads_arena, *state, *out_w, *dout_w, *h2, *dh2;
    dctr_dnn_params p, g;
    dctr_dnn_workspace *ws;
    /* plain cblas buffers of the same shapes */
    float *cZ1, *cZ2, *cD1, *cD2, *cW1, *cW2, *cdW1, *cdW2, *cdX;
} ctx;

static void bench_embedding(void *p) {
    ctx *c = p;
    for (int f = 0; f < NSPARSE; f++)
        check(dctr_embedding_gather(c->tables[f], VOCAB, K, c->ids + f * c->B, c->B, c->X + f * K,
                                    DIN));
    for (int f = 0; f < NSPARSE; f++) {
        dctr_sparse_grad_clear(&c->grads[f]);
        check(dctr_embedding_scatter(&c->grads[f], c->ids + f * c->B, c->B, c->dX + f * K, DIN));
    }
}

static void bench_linear(void *p) {
    ctx *c = p;
    dctr_linear_dense_forward(c->dense, NDENSE, c->B, NDENSE, c->dense_kernel, NULL, c->logit, 0);
    for (int f = 0; f < NSPARSE; f++)
        check(dctr_linear_sparse_forward(c->lin_tables[f], VOCAB, c->ids + f * c->B, c->B,
                                         c->logit, 1));
    dctr_linear_dense_backward(c->dlogit, c->dense, NDENSE, c->B, NDENSE, c->dense_kernel,
                               c->ddense, NULL, NULL, 0);
    for (int f = 0; f < NSPARSE; f++) {
        dctr_sparse_grad_clear(&c->lin_grads[f]);
        check(dctr_linear_sparse_backward(&c->lin_grads[f], c->ids + f * c->B, c->B, c->dlogit));
    }
}

static void bench_fm(void *p) {
    ctx *c = p;
    dctr_fm_forward(c->X, DIN, c->B, NSPARSE, K, c->logit, 1);
    dctr_fm_backward(c->dlogit, c->X, DIN, c->B, NSPARSE, K, c->dX, DIN);
}

static void bench_seq(void *p) {
    ctx *c = p;
    check(dctr_embedding_gather(c->tables[0], VOCAB, K, c->seq_ids, c->B * SEQ_T, c->seq_E, K));
    dctr_seq_pool_forward(DCTR_COMBINER_MEAN, c->seq_E, c->B, SEQ_T, K, c->seq_ids, c->seq_len,
                          c->seq_out, K, NULL);
    memset(c->seq_dE, 0, sizeof(float) * (size_t)(c->B * SEQ_T * K));
    dctr_seq_pool_backward(DCTR_COMBINER_MEAN, c->seq_dout, K, c->B, SEQ_T, K, c->seq_ids,
                           c->seq_len, NULL, c->seq_dE);
    dctr_sparse_grad_clear(&c->grads[0]);
    check(dctr_embedding_scatter_seq(&c->grads[0], c->seq_ids, c->seq_len, c->B, SEQ_T,
                                     c->seq_dE));
}

static void bench_dnn(void *p) {
    ctx *c = p;
    int64_t ld;
    const float *h = dctr_dnn_forward(&c->cfg, &c->p, c->ws, c->X, DIN, c->B, 1, NULL, &ld);
    dctr_dense_forward(h, ld, c->B, H2, 1, c->out_w, NULL, c->logit, 1);
    memset(c->dh2, 0, sizeof(float) * (size_t)(c->B * H2));
    dctr_dense_backward(h, ld, c->dlogit, 1, c->B, H2, 1, c->out_w, c->dout_w, NULL, c->dh2, H2);
    dctr_dnn_backward(&c->cfg, &c->p, &c->g, c->ws, c->X, DIN, c->B, c->dh2, H2, c->dX, DIN);
}

/* The two hidden layers alone (what bench_cblas mirrors): forward, backward incl. dX. */
static void bench_dnn_hidden(void *p) {
    ctx *c = p;
    int64_t ld;
    dctr_dnn_forward(&c->cfg, &c->p, c->ws, c->X, DIN, c->B, 1, NULL, &ld);
    dctr_dnn_backward(&c->cfg, &c->p, &c->g, c->ws, c->X, DIN, c->B, c->dh2, H2, c->dX, DIN);
}

/* The same GEMMs with no bias / activation / bookkeeping: Z = X W, dW = X^T dZ, dX = dZ W^T
 * per hidden layer (the output Dense(1) is left out of both sides). */
static void bench_cblas(void *p) {
    ctx *c = p;
    int B = (int)c->B;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H1, DIN, 1, c->X, DIN, c->cW1, H1,
                0, c->cZ1, H1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H2, H1, 1, c->cZ1, H1, c->cW2, H2,
                0, c->cZ2, H2);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H1, H2, B, 1, c->cZ1, H1, c->cD2, H2, 1,
                c->cdW2, H2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H1, H2, 1, c->cD2, H2, c->cW2, H2, 1,
                c->cD1, H1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, DIN, H1, B, 1, c->X, DIN, c->cD1, H1, 1,
                c->cdW1, H1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, DIN, H1, 1, c->cD1, H1, c->cW1, H1, 1,
                c->cdX, DIN);
}

static void bench_pred_loss(void *p) {
    ctx *c = p;
    float bias = 0.1f, db = 0.0f;
    dctr_prediction_forward(DCTR_TASK_BINARY, c->logit, &bias, c->B, c->pred);
    memset(c->dpred, 0, sizeof(float) * (size_t)c->B);
    volatile double l = dctr_loss_bce(c->pred, c->label, NULL, c->B, c->dpred);
    (void)l;
    memset(c->dlogit, 0, sizeof(float) * (size_t)c->B);
    dctr_prediction_backward(DCTR_TASK_BINARY, c->pred, c->dpred, c->B, c->dlogit, &db);
}

static float *fl(int64_t n, dctr_rng *rng, double scale) {
    float *x = dctr_alloc_floats((size_t)n);
    if (!x) {
        fprintf(stderr, "bench_layers: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((dctr_rng_uniform(rng) * 2 - 1) * scale);
    return x;
}

static void setup(ctx *c, int64_t B) {
    dctr_rng rng;
    dctr_rng_init(&rng, 1, 0);
    memset(c, 0, sizeof *c);
    c->B = B;
    for (int f = 0; f < NSPARSE; f++) {
        c->tables[f] = fl((int64_t)VOCAB * K, &rng, 1e-2);
        c->lin_tables[f] = fl(VOCAB, &rng, 1e-2);
        check(dctr_sparse_grad_init(&c->grads[f], VOCAB, K, B * SEQ_T));
        check(dctr_sparse_grad_init(&c->lin_grads[f], VOCAB, 1, B));
    }
    c->dense_kernel = fl(NDENSE, &rng, 0.3);
    c->ids = malloc(sizeof(int64_t) * (size_t)(NSPARSE * B));
    for (int64_t i = 0; i < NSPARSE * B; i++)
        c->ids[i] = (int64_t)dctr_rng_below(&rng, VOCAB);
    c->dense = fl(B * NDENSE, &rng, 1);
    c->X = fl(B * DIN, &rng, 0.5);
    c->dX = fl(B * DIN, &rng, 0.5);
    c->logit = fl(B, &rng, 1);
    c->dlogit = fl(B, &rng, 1);
    c->pred = fl(B, &rng, 1);
    c->dpred = fl(B, &rng, 1);
    c->label = fl(B, &rng, 1);
    for (int64_t b = 0; b < B; b++)
        c->label[b] = c->label[b] > 0;
    c->ddense = fl(NDENSE, &rng, 1);
    c->seq_ids = malloc(sizeof(int64_t) * (size_t)(B * SEQ_T));
    c->seq_len = malloc(sizeof(int32_t) * (size_t)B);
    for (int64_t b = 0; b < B; b++) {
        c->seq_len[b] = 1 + (int32_t)dctr_rng_below(&rng, SEQ_T);
        for (int t = 0; t < SEQ_T; t++)
            c->seq_ids[b * SEQ_T + t] = t < c->seq_len[b] ? 1 + (int64_t)dctr_rng_below(&rng, VOCAB - 1) : 0;
    }
    c->seq_E = fl(B * SEQ_T * K, &rng, 1);
    c->seq_dE = fl(B * SEQ_T * K, &rng, 1);
    c->seq_out = fl(B * K, &rng, 1);
    c->seq_dout = fl(B * K, &rng, 1);
    dctr_dnn_config_default(&c->cfg);
    c->cfg.in_dim = DIN;
    c->cfg.num_layers = 2;
    c->cfg.units[0] = H1;
    c->cfg.units[1] = H2;
    c->params = fl(dctr_dnn_num_params(&c->cfg), &rng, 0.05);
    c->grads_arena = fl(dctr_dnn_num_params(&c->cfg), &rng, 0);
    dctr_dnn_bind(&c->cfg, c->params, NULL, &c->p);
    dctr_dnn_bind(&c->cfg, c->grads_arena, NULL, &c->g);
    check(dctr_dnn_workspace_new(&c->cfg, B, &c->ws));
    c->out_w = fl(H2, &rng, 0.1);
    c->dout_w = fl(H2, &rng, 0);
    c->dh2 = fl(B * H2, &rng, 0);
    c->cZ1 = fl(B * H1, &rng, 0.1);
    c->cZ2 = fl(B * H2, &rng, 0.1);
    c->cD1 = fl(B * H1, &rng, 0.1);
    c->cD2 = fl(B * H2, &rng, 0.1);
    c->cW1 = fl(DIN * H1, &rng, 0.1);
    c->cW2 = fl(H1 * H2, &rng, 0.1);
    c->cdW1 = fl(DIN * H1, &rng, 0.1);
    c->cdW2 = fl(H1 * H2, &rng, 0.1);
    c->cdX = fl(B * DIN, &rng, 0.1);
}

static void teardown(ctx *c) {
    for (int f = 0; f < NSPARSE; f++) {
        dctr_aligned_free(c->tables[f]);
        dctr_aligned_free(c->lin_tables[f]);
        dctr_sparse_grad_destroy(&c->grads[f]);
        dctr_sparse_grad_destroy(&c->lin_grads[f]);
    }
    float *bufs[] = {c->dense_kernel, c->dense, c->X, c->dX, c->logit, c->dlogit, c->pred,
                     c->dpred, c->label, c->ddense, c->seq_E, c->seq_dE, c->seq_out,
                     c->seq_dout, c->params,
                     c->grads_arena, c->out_w, c->dout_w, c->dh2, c->cZ1, c->cZ2, c->cD1,
                     c->cD2, c->cW1, c->cW2, c->cdW1, c->cdW2, c->cdX};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        dctr_aligned_free(bufs[i]);
    free(c->ids);
    free(c->seq_ids);
    free(c->seq_len);
    dctr_dnn_workspace_free(c->ws);
}

/* ------------------------------------------------------------ kernel variants (--variants) */

#define VB 4096          /* batch rows */
#define VN 256           /* DNN units for the activation kernels */
#define VROWS 4096       /* distinct rows per sparse optimizer update */
#define VVOCAB 200000    /* embedding table rows for the sparse optimizer update */

typedef struct vctx {
    ctx *c; /* the layer benchmark's buffers at batch VB */
    float *Z, *Y, *dY, *dZ, *alpha, *dalpha, *bias, *colsum, *P, *dxh;
    float *w, *g, *s0, *s1; /* dense update: DIN x H1 weights */
    float *tw, *ts0, *ts1, *tg; /* sparse update: VVOCAB x K table, VROWS x K gradient */
    int64_t rows[VROWS];
    dctr_optim opt[5];
    dctr_optim_step st;
    int kind; /* optimizer of the current row */
} vctx;

static void v_fm(void *p) {
    ctx *c = ((vctx *)p)->c;
    dctr_fm_forward(c->X, DIN, c->B, NSPARSE, K, c->logit, 0);
    dctr_fm_backward(c->dlogit, c->X, DIN, c->B, NSPARSE, K, c->dX, DIN);
}

static void v_seq(void *p) {
    ctx *c = ((vctx *)p)->c;
    dctr_seq_pool_forward(DCTR_COMBINER_MEAN, c->seq_E, c->B, SEQ_T, K, c->seq_ids, c->seq_len,
                          c->seq_out, K, NULL);
    dctr_seq_pool_backward(DCTR_COMBINER_MEAN, c->seq_dout, K, c->B, SEQ_T, K, c->seq_ids,
                           c->seq_len, NULL, c->seq_dE);
}

static void v_linear(void *p) {
    ctx *c = ((vctx *)p)->c;
    dctr_linear_dense_forward(c->dense, NDENSE, c->B, NDENSE, c->dense_kernel, NULL, c->logit, 0);
    dctr_linear_dense_backward(c->dlogit, c->dense, NDENSE, c->B, NDENSE, c->dense_kernel,
                               c->ddense, NULL, NULL, 0);
}

/* relu as the DNN runs it: bias + relu in place, then the backward writing dZ + bias sums */
static void v_relu(void *p) {
    vctx *v = p;
    memcpy(v->Y, v->Z, sizeof(float) * VB * VN);
    dctr_bias_act_inplace(DCTR_ACT_RELU, v->bias, VB, VN, v->Y);
    dctr_act_backward_cols(DCTR_ACT_RELU, v->Y, v->Y, v->dY, VB, VN, NULL, NULL, v->dZ, 0,
                           v->colsum, 0, VN);
}

static void v_act(void *p, dctr_activation act) {
    vctx *v = p;
    dctr_act_forward(act, v->Z, VB, VN, v->alpha, v->Y);
    dctr_act_backward(act, v->Z, v->Y, v->dY, VB, VN, v->alpha,
                      act == DCTR_ACT_PRELU ? v->dalpha : NULL, v->dZ);
}
static void v_sigmoid(void *p) { v_act(p, DCTR_ACT_SIGMOID); }
static void v_tanh(void *p) { v_act(p, DCTR_ACT_TANH); }
static void v_prelu(void *p) { v_act(p, DCTR_ACT_PRELU); }

static void v_dice(void *p) {
    vctx *v = p;
    dctr_dice_gate_forward(v->Z, v->dxh, v->alpha, VB, VN, v->P, v->Y);
    dctr_dice_gate_backward(v->Z, v->P, v->dY, v->alpha, VB, VN, v->dZ, v->dxh, v->dalpha);
}

static void v_embedding(void *p) { bench_embedding(((vctx *)p)->c); }

static void v_dense_update(void *p) {
    vctx *v = p;
    float *slots[2] = {v->s0, v->s1};
    dctr_optim_update(&v->opt[v->kind], &v->st, v->w, v->g, slots, (size_t)DIN * H1);
}

static void v_rows_update(void *p) {
    vctx *v = p;
    float *slots[2] = {v->ts0, v->ts1};
    dctr_optim_update_rows(&v->opt[v->kind], &v->st, v->tw, slots, v->rows, VROWS, K, v->tg);
}

typedef struct variant_row {
    const char *name, *shape;
    bench_fn fn;
    int kind; /* optimizer kind, -1 for the layers */
} variant_row;

/* Each kernel at every level, the levels alternating round by round (same load for all). */
static void bench_variants(void) {
    ctx c;
    setup(&c, VB);
    vctx v = {.c = &c};
    dctr_rng rng;
    dctr_rng_init(&rng, 7, 0);
    const int64_t na = (int64_t)VB * VN;
    v.Z = fl(na, &rng, 3);
    v.Y = fl(na, &rng, 1);
    v.dY = fl(na, &rng, 1);
    v.dZ = fl(na, &rng, 1);
    v.P = fl(na, &rng, 1);
    v.dxh = fl(na, &rng, 1);
    v.alpha = fl(VN, &rng, 0.25);
    v.dalpha = fl(VN, &rng, 0);
    v.bias = fl(VN, &rng, 0.1);
    v.colsum = fl(VN, &rng, 0);
    v.w = fl((int64_t)DIN * H1, &rng, 0.05);
    v.g = fl((int64_t)DIN * H1, &rng, 0.01);
    v.s0 = fl((int64_t)DIN * H1, &rng, 0);
    v.s1 = fl((int64_t)DIN * H1, &rng, 0);
    v.tw = fl((int64_t)VVOCAB * K, &rng, 0.01);
    v.ts0 = fl((int64_t)VVOCAB * K, &rng, 0);
    v.ts1 = fl((int64_t)VVOCAB * K, &rng, 0);
    v.tg = fl((int64_t)VROWS * K, &rng, 0.01);
    for (int i = 0; i < VROWS; i++) /* distinct rows in random order, as a step's touched rows */
        v.rows[i] = (int64_t)i * (VVOCAB / VROWS) + (int64_t)dctr_rng_below(&rng, VVOCAB / VROWS);
    for (int i = VROWS - 1; i > 0; i--) {
        int j = (int)dctr_rng_below(&rng, (uint64_t)i + 1);
        int64_t t = v.rows[i];
        v.rows[i] = v.rows[j];
        v.rows[j] = t;
    }
    for (int k = 0; k < 5; k++) {
        dctr_optimizer_config cfg;
        dctr_optimizer_config_default(&cfg, (dctr_optimizer_kind)k);
        check(dctr_optim_init(&v.opt[k], &cfg));
    }
    for (int i = 0; i < (int64_t)VVOCAB * K; i++) /* accumulators > 0 (Adagrad, FTRL) */
        v.ts0[i] = 0.1f;
    for (int i = 0; i < DIN * H1; i++)
        v.s0[i] = 0.1f;
    dctr_optim_begin_step(&v.opt[0], 1000, 1.0, &v.st);
    static const char *kinds[5] = {"adam", "adagrad", "sgd", "rmsprop", "ftrl"};
    static const variant_row krows[] = {
        {"fm", "fwd+bwd, 26 fields x k=8", v_fm, -1},
        {"embedding", "gather + scatter, 26 fields, k=8", v_embedding, -1},
        {"sequence_pool", "mean fwd+bwd, T=10, k=8", v_seq, -1},
        {"linear_dense", "fwd+bwd, 13 dense", v_linear, -1},
        {"relu", "bias+relu, bwd + bias grad, 256 units", v_relu, -1},
        {"sigmoid", "fwd+bwd, 256 units", v_sigmoid, -1},
        {"tanh", "fwd+bwd, 256 units", v_tanh, -1},
        {"prelu", "fwd+bwd, 256 units", v_prelu, -1},
        {"dice gate", "fwd+bwd (after its BN), 256 units", v_dice, -1},
    };
    enum { NK = sizeof krows / sizeof krows[0], NR = NK + 10 };
    variant_row all[NR];
    static char names[10][48], shapes[10][64];
    for (int i = 0; i < NK; i++)
        all[i] = krows[i];
    for (int k = 0; k < 5; k++) {
        snprintf(names[2 * k], sizeof names[0], "%s dense", kinds[k]);
        snprintf(shapes[2 * k], sizeof shapes[0], "%d weights (221 x 256 kernel)", DIN * H1);
        snprintf(names[2 * k + 1], sizeof names[0], "%s rows", kinds[k]);
        snprintf(shapes[2 * k + 1], sizeof shapes[0], "%d random rows of %d x k=8", VROWS, VVOCAB);
        all[NK + 2 * k] = (variant_row){names[2 * k], shapes[2 * k], v_dense_update, k};
        all[NK + 2 * k + 1] = (variant_row){names[2 * k + 1], shapes[2 * k + 1], v_rows_update, k};
    }
    double best[NR][DCTR_SIMD_LEVEL_COUNT];
    for (int r = 0; r < NR; r++) {
        v.kind = all[r].kind < 0 ? 0 : all[r].kind;
        for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++)
            best[r][lv] = 1e30;
        for (int round = 0; round < 2 * ROUNDS; round++)
            for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
                if (!dctr_cpu_can_run((dctr_simd_level)lv))
                    continue;
                dctr_kernel_force_level(lv);
                if (round == 0)
                    all[r].fn(&v); /* warm-up */
                double t = time_for(all[r].fn, &v, g_min_seconds / ROUNDS);
                best[r][lv] = t < best[r][lv] ? t : best[r][lv];
            }
    }
    dctr_kernel_force_level(-1);
    printf("# bench_layers --variants (detected %s, DCTR_SIMD default %s, %s)\n\n",
           dctr_simd_level_name(dctr_cpu_simd_detected()),
           dctr_simd_level_name(dctr_cpu_simd_level()),
           g_clock == CLOCK_MONOTONIC ? "wall clock" : "process CPU time");
    printf("| kernel | shape (batch %d) | portable (us) | avx2 (us, speed-up) | avx512 (us, "
           "speed-up) |\n|---|---|---:|---:|---:|\n", VB);
    for (int r = 0; r < NR; r++) {
        printf("| %s | %s | %.1f |", all[r].name, all[r].shape, 1e6 * best[r][0]);
        for (int lv = 1; lv < DCTR_SIMD_LEVEL_COUNT; lv++)
            if (best[r][lv] < 1e30)
                printf(" %.1f (%.2fx) |", 1e6 * best[r][lv], best[r][0] / best[r][lv]);
            else
                printf(" n/a |");
        printf("\n");
    }
    float *bufs[] = {v.Z,  v.Y, v.dY, v.dZ, v.P,  v.dxh, v.alpha, v.dalpha, v.bias,
                     v.colsum, v.w, v.g, v.s0, v.s1, v.tw, v.ts0, v.ts1, v.tg};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        dctr_aligned_free(bufs[i]);
    teardown(&c);
}

typedef struct layer_row {
    const char *name;
    const char *shape;
    bench_fn fn;
} layer_row;

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    const char *json = NULL;
    int variants = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--cpu-time"))
            g_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            dctr_blas_set_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            g_min_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--variants"))
            variants = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--json FILE] [--seconds S] [--threads N] [--cpu-time] "
                    "[--variants]\n",
                    argv[0]);
            return 2;
        }
    }
    if (variants) {
        bench_variants();
        return 0;
    }
    static const layer_row rows[] = {
        {"embedding", "26 sparse fields, k=8, gather + sparse scatter", bench_embedding},
        {"linear", "26 one-dim tables + 13 dense kernel", bench_linear},
        {"fm", "26 fields x k=8", bench_fm},
        {"sequence_pool", "1 varlen, T=10, k=8, mean, gather+pool+scatter", bench_seq},
        {"dnn", "221 -> 256 -> 128 relu -> Dense(1)", bench_dnn},
        {"prediction+bce", "sigmoid + clipped BCE", bench_pred_loss},
    };
    enum { NROWS = sizeof rows / sizeof rows[0] };
    const int64_t batches[3] = {1, 256, 4096};
    double us[NROWS][3], dnn_gflops[3], blas_gflops[3];
    for (int bi = 0; bi < 3; bi++) {
        ctx c;
        setup(&c, batches[bi]);
        for (int r = 0; r < NROWS; r++)
            us[r][bi] = 1e6 * time_it(rows[r].fn, &c) / (double)batches[bi];
        double flops = 2.0 * 3.0 * (double)batches[bi] * ((double)DIN * H1 + (double)H1 * H2);
        double t_dnn, t_blas;
        time_pair(bench_dnn_hidden, bench_cblas, &c, &t_dnn, &t_blas);
        dnn_gflops[bi] = flops / t_dnn * 1e-9;
        blas_gflops[bi] = flops / t_blas * 1e-9;
        teardown(&c);
    }
    printf("# bench_layers (OpenBLAS %s, %d thread(s), %s)\n\n", dctr_blas_corename(),
           dctr_blas_get_threads(), g_clock == CLOCK_MONOTONIC ? "wall clock" : "process CPU time");
    printf("| layer | configuration | batch 1 (us/sample) | batch 256 | batch 4096 |\n");
    printf("|---|---|---:|---:|---:|\n");
    for (int r = 0; r < NROWS; r++)
        printf("| %s | %s | %.3f | %.3f | %.3f |\n", rows[r].name, rows[r].shape, us[r][0],
               us[r][1], us[r][2]);
    printf("\nForward+backward, per sample (best of %d short runs). DNN throughput: the two hidden "
           "layers (bias, relu, backward incl. dX) vs the same 6 plain cblas_sgemm calls:\n\n",
           ROUNDS);
    printf("| batch | DNN GFLOP/s | plain cblas_sgemm GFLOP/s | DNN / cblas |\n");
    printf("|---:|---:|---:|---:|\n");
    for (int bi = 0; bi < 3; bi++)
        printf("| %lld | %.2f | %.2f | %.0f%% |\n", (long long)batches[bi], dnn_gflops[bi],
               blas_gflops[bi], 100.0 * dnn_gflops[bi] / blas_gflops[bi]);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        fprintf(f,
                "{\n  \"blas_core\": \"%s\",\n  \"blas_threads\": %d,\n  \"clock\": \"%s\",\n"
                "  \"layers\": [\n",
                dctr_blas_corename(), dctr_blas_get_threads(),
                g_clock == CLOCK_MONOTONIC ? "wall" : "process_cpu");
        for (int r = 0; r < NROWS; r++)
            fprintf(f,
                    "    {\"name\": \"%s\", \"us_per_sample\": {\"1\": %.6g, \"256\": %.6g, "
                    "\"4096\": %.6g}}%s\n",
                    rows[r].name, us[r][0], us[r][1], us[r][2], r + 1 < NROWS ? "," : "");
        fprintf(f, "  ],\n  \"dnn\": [\n");
        for (int bi = 0; bi < 3; bi++)
            fprintf(f,
                    "    {\"batch\": %lld, \"gflops\": %.6g, \"cblas_gflops\": %.6g, "
                    "\"ratio\": %.4f}%s\n",
                    (long long)batches[bi], dnn_gflops[bi], blas_gflops[bi],
                    dnn_gflops[bi] / blas_gflops[bi], bi < 2 ? "," : "");
        fprintf(f, "  ]\n}\n");
        fclose(f);
    }
    return 0;
}
