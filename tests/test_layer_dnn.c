/* DNN: sgemm path equals a naive DNN (batch 1 and large batch, BN / dropout / every activation),
 * finite-difference gradients of every parameter and the input (BN in training mode, dropout
 * with a fixed mask, PReLU, Dice), BN train vs inference, dropout semantics, identity, init,
 * and the thread pool's split of a training pass against the serial one.
 * ctest-label: threads */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/gemm_train.h"

#include "core/alloc.h"
#include "core/blas.h"
#include "core/pool.h"
#include "gradcheck.h"
#include "layers/dnn.h"
#include "layers/init.h"

typedef struct net {
    dctr_dnn_config cfg;
    float *params, *state, *grads, *state0;
    dctr_dnn_params p, g;
    dctr_dnn_workspace *ws;
} net;

static void net_make(net *n, int32_t in, int32_t L, const int32_t *units, dctr_activation act,
                     int use_bn, float dropout, int out_act, dctr_activation oact,
                     int64_t max_batch, uint64_t seed) {
    memset(n, 0, sizeof *n);
    dctr_dnn_config_default(&n->cfg);
    n->cfg.in_dim = in;
    n->cfg.num_layers = L;
    for (int i = 0; i < L; i++)
        n->cfg.units[i] = units[i];
    n->cfg.activation = act;
    n->cfg.use_bn = use_bn;
    n->cfg.dropout = dropout;
    n->cfg.has_output_activation = out_act;
    n->cfg.output_activation = oact;
    assert_int_equal(dctr_dnn_config_check(&n->cfg), DCTR_OK);
    int64_t np = dctr_dnn_num_params(&n->cfg), ns = dctr_dnn_num_state(&n->cfg);
    n->params = dctr_alloc_floats((size_t)np + 1);
    n->grads = dctr_alloc_floats((size_t)np + 1);
    n->state = dctr_alloc_floats((size_t)ns + 1);
    n->state0 = dctr_alloc_floats((size_t)ns + 1);
    dctr_dnn_bind(&n->cfg, n->params, n->state, &n->p);
    dctr_dnn_bind(&n->cfg, n->grads, NULL, &n->g);
    dctr_rng rng;
    dctr_rng_init(&rng, seed, 0);
    dctr_dnn_init(&n->cfg, &n->p, &rng);
    /* perturb the zero / one inits so every parameter matters in the checks */
    for (int i = 0; i < L; i++) {
        dctr_dnn_layer_params *l = &n->p.layer[i];
        gc_fill(&rng, l->b, units[i], -0.3, 0.3);
        if (l->gamma) {
            gc_fill(&rng, l->gamma, units[i], 0.5, 1.5);
            gc_fill(&rng, l->beta, units[i], -0.3, 0.3);
            gc_fill(&rng, l->bn_mean, units[i], -0.2, 0.2);
            gc_fill(&rng, l->bn_var, units[i], 0.5, 1.5);
        }
        if (l->alpha)
            gc_fill(&rng, l->alpha, units[i], -0.5, 0.5);
        if (l->dice_mean) {
            gc_fill(&rng, l->dice_mean, units[i], -0.2, 0.2);
            gc_fill(&rng, l->dice_var, units[i], 0.5, 1.5);
        }
    }
    memcpy(n->state0, n->state, (size_t)ns * sizeof(float));
    assert_int_equal(dctr_dnn_workspace_new(&n->cfg, max_batch, &n->ws), DCTR_OK);
}

static void net_free(net *n) {
    dctr_aligned_free(n->params);
    dctr_aligned_free(n->grads);
    dctr_aligned_free(n->state);
    dctr_aligned_free(n->state0);
    dctr_dnn_workspace_free(n->ws);
}

/* ---------------------------------------------------------------- naive reference */

static double act_ref(dctr_activation a, double z, double alpha) {
    switch (a) {
    case DCTR_ACT_RELU: return z > 0 ? z : 0;
    case DCTR_ACT_SIGMOID: return 1 / (1 + exp(-z));
    case DCTR_ACT_TANH: return tanh(z);
    case DCTR_ACT_PRELU: return z > 0 ? z : alpha * z;
    default: return z;
    }
}

/* Column-wise batch statistics (biased variance) in double. */
static void col_stats(const float *Z, int64_t B, int32_t n, int32_t j, double *mu, double *var) {
    double s = 0, s2 = 0;
    for (int64_t b = 0; b < B; b++)
        s += Z[b * n + j];
    *mu = s / B;
    for (int64_t b = 0; b < B; b++)
        s2 += (Z[b * n + j] - *mu) * (Z[b * n + j] - *mu);
    *var = s2 / B;
}

/* Forward with dctr_sgemm_naive and plain loops; masks[i] used when training && dropout. The
 * moving statistics are read from `state0` (the values before any training pass). */
static float *naive_forward(const net *n, const float *X, int64_t B, int training,
                            float *const *masks) {
    dctr_dnn_params p0;
    dctr_dnn_bind(&n->cfg, n->params, n->state0, &p0);
    const float *in = X;
    float *prev = NULL;
    int32_t w = n->cfg.in_dim;
    for (int i = 0; i < n->cfg.num_layers; i++) {
        const dctr_dnn_layer_params *l = &p0.layer[i];
        int32_t o = n->cfg.units[i];
        dctr_activation a = dctr_dnn_layer_activation(&n->cfg, i);
        float *Z = malloc(sizeof(float) * (size_t)(B * o));
        dctr_sgemm_naive(false, false, (int)B, o, w, 1.0f, in, w, l->W, o, 0.0f, Z, o);
        for (int64_t b = 0; b < B; b++)
            for (int j = 0; j < o; j++)
                Z[b * o + j] += l->b[j];
        if (n->cfg.use_bn)
            for (int j = 0; j < o; j++) {
                double mu = l->bn_mean[j], var = l->bn_var[j];
                if (training)
                    col_stats(Z, B, o, j, &mu, &var);
                for (int64_t b = 0; b < B; b++)
                    Z[b * o + j] = (float)(l->gamma[j] * (Z[b * o + j] - mu) /
                                               sqrt(var + n->cfg.bn_eps) + l->beta[j]);
            }
        for (int j = 0; j < o; j++) {
            double mu = 0, var = 0;
            if (a == DCTR_ACT_DICE) {
                mu = l->dice_mean[j];
                var = l->dice_var[j];
                if (training)
                    col_stats(Z, B, o, j, &mu, &var);
            }
            for (int64_t b = 0; b < B; b++) {
                double z = Z[b * o + j];
                double y;
                if (a == DCTR_ACT_DICE) {
                    double pr = 1 / (1 + exp(-(z - mu) / sqrt(var + 1e-9)));
                    y = l->alpha[j] * (1 - pr) * z + pr * z;
                } else {
                    y = act_ref(a, z, l->alpha ? l->alpha[j] : 0);
                }
                if (training && n->cfg.dropout > 0)
                    y *= masks[i][b * o + j];
                Z[b * o + j] = (float)y;
            }
        }
        free(prev);
        prev = Z;
        in = Z;
        w = o;
    }
    return prev;
}

static void compare_with_naive(int32_t in, int32_t L, const int32_t *units, dctr_activation act,
                               int use_bn, float dropout, int out_act, dctr_activation oact,
                               int64_t B, int training) {
    net n;
    net_make(&n, in, L, units, act, use_bn, dropout, out_act, oact, B, 77);
    float *X = dctr_alloc_floats((size_t)(B * in));
    dctr_rng rng;
    dctr_rng_init(&rng, 5, 1);
    gc_fill(&rng, X, B * in, -1, 1);
    int64_t ld;
    const float *out = dctr_dnn_forward(&n.cfg, &n.p, n.ws, X, in, B, training, &rng, &ld);
    float *masks[DCTR_DNN_MAX_LAYERS] = {0};
    for (int i = 0; i < L; i++)
        masks[i] = dctr_dnn_dropout_mask(n.ws, i);
    float *ref = naive_forward(&n, X, B, training, masks);
    int32_t o = dctr_dnn_out_dim(&n.cfg);
    assert_int_equal(ld, o);
    double worst = gc_max_rel(out, ref, B * o, 1e-4, 1e-4);
    if (worst > 1)
        print_message("B=%lld act=%d bn=%d drop=%g train=%d worst %g\n", (long long)B, act,
                      use_bn, (double)dropout, training, worst);
    assert_true(worst <= 1);
    free(ref);
    dctr_aligned_free(X);
    net_free(&n);
}

static void test_sgemm_equals_naive(void **state) {
    (void)state;
    const int32_t u[3] = {32, 16, 7};
    const int64_t batches[2] = {1, 300};
    for (int bi = 0; bi < 2; bi++)
        for (int act = 0; act <= DCTR_ACT_DICE; act++)
            for (int bn = 0; bn <= 1; bn++)
                for (int tr = 0; tr <= 1; tr++) {
                    if (bn && tr && batches[bi] == 1)
                        continue; /* single-row batch stats: z - mu == 0, covered elsewhere */
                    compare_with_naive(20, 3, u, (dctr_activation)act, bn, tr ? 0.3f : 0.0f, 1,
                                       DCTR_ACT_SIGMOID, batches[bi], tr);
                }
}

/* ---------------------------------------------------------------- gradient checks */

#define GB 6
typedef struct gc_net {
    net n;
    float X[GB * 9], c[GB * 8];
    int64_t ldx;
} gc_net;

static double dnn_loss(void *p) {
    gc_net *g = p;
    int64_t ld;
    /* rng NULL: keep the fixed dropout masks */
    const float *out = dctr_dnn_forward(&g->n.cfg, &g->n.p, g->n.ws, g->X, g->ldx, GB, 1, NULL,
                                        &ld);
    return gc_dot_strided(out, ld, g->c, GB, dctr_dnn_out_dim(&g->n.cfg));
}

static void run_dnn_gradcheck(dctr_activation act, int use_bn, float dropout, int out_act,
                              dctr_activation oact, uint64_t seed) {
    static gc_net g;
    const int32_t units[2] = {5, 4};
    const int32_t in = 7;
    net_make(&g.n, in, 2, units, act, use_bn, dropout, out_act, oact, GB, seed);
    g.ldx = 9; /* a slice of a wider matrix */
    dctr_rng rng;
    dctr_rng_init(&rng, seed, 9);
    gc_fill(&rng, g.X, GB * 9, -1.5, 1.5);
    gc_fill(&rng, g.c, GB * 8, -1, 1);
    if (dropout > 0) /* a fixed mask with some zeros in every layer */
        for (int i = 0; i < 2; i++) {
            float *m = dctr_dnn_dropout_mask(g.n.ws, i);
            for (int64_t k = 0; k < GB * units[i]; k++)
                m[k] = (k % 3 == 1) ? 0.0f : 1.0f / (1.0f - dropout);
        }
    int64_t ld;
    dctr_dnn_forward(&g.n.cfg, &g.n.p, g.n.ws, g.X, g.ldx, GB, 1, NULL, &ld);
    int64_t np = dctr_dnn_num_params(&g.n.cfg);
    memset(g.n.grads, 0, (size_t)np * sizeof(float));
    float dX[GB * 9] = {0};
    dctr_dnn_backward(&g.n.cfg, &g.n.p, &g.n.g, g.n.ws, g.X, g.ldx, GB, g.c, units[1], dX, g.ldx);
    /* one check over the whole trainable arena (W, b, gamma, beta, alpha of every layer) */
    assert_int_equal(gc_check_default("params", dnn_loss, &g, g.n.params, g.n.grads, np), 0);
    assert_int_equal(gc_check_default("X", dnn_loss, &g, g.X, dX, GB * 9), 0);
    for (int b = 0; b < GB; b++) /* columns beyond in_dim untouched */
        assert_float_equal(dX[b * 9 + 8], 0, 0);
    net_free(&g.n);
}

static void test_gradients_plain(void **state) {
    (void)state;
    for (int act = 0; act <= DCTR_ACT_DICE; act++)
        run_dnn_gradcheck((dctr_activation)act, 0, 0.0f, 0, DCTR_ACT_RELU, 30 + act);
}

static void test_gradients_bn_train(void **state) {
    (void)state;
    for (int act = 0; act <= DCTR_ACT_DICE; act++)
        run_dnn_gradcheck((dctr_activation)act, 1, 0.0f, 1, DCTR_ACT_TANH, 40 + act);
}

static void test_gradients_dropout_fixed_mask(void **state) {
    (void)state;
    run_dnn_gradcheck(DCTR_ACT_RELU, 0, 0.4f, 0, DCTR_ACT_RELU, 50);
    run_dnn_gradcheck(DCTR_ACT_PRELU, 1, 0.25f, 1, DCTR_ACT_SIGMOID, 51);
    run_dnn_gradcheck(DCTR_ACT_DICE, 1, 0.5f, 1, DCTR_ACT_DICE, 52);
}

/* ---------------------------------------------------------------- semantics */

static void test_bn_train_vs_infer_and_moving_stats(void **state) {
    (void)state;
    net n;
    const int32_t u[1] = {3};
    net_make(&n, 4, 1, u, DCTR_ACT_LINEAR, 1, 0.0f, 0, DCTR_ACT_RELU, 8, 3);
    float X[8 * 4];
    dctr_rng rng;
    dctr_rng_init(&rng, 1, 1);
    gc_fill(&rng, X, 32, -1, 1);
    float inf[8 * 3], tr[8 * 3];
    float mm0[3], mv0[3];
    memcpy(mm0, n.p.layer[0].bn_mean, sizeof mm0);
    memcpy(mv0, n.p.layer[0].bn_var, sizeof mv0);
    memcpy(inf, dctr_dnn_forward(&n.cfg, &n.p, n.ws, X, 4, 8, 0, NULL, NULL), sizeof inf);
    /* inference leaves the state alone */
    assert_memory_equal(mm0, n.p.layer[0].bn_mean, sizeof mm0);
    memcpy(tr, dctr_dnn_forward(&n.cfg, &n.p, n.ws, X, 4, 8, 1, NULL, NULL), sizeof tr);
    assert_true(gc_max_rel(inf, tr, 24, 1e-3, 1e-3) > 1); /* the two paths differ */
    /* training output is normalised: per column mean beta, variance gamma^2 var/(var+eps) */
    float Z[8 * 3];
    dctr_dense_forward(X, 4, 8, 4, 3, n.p.layer[0].W, n.p.layer[0].b, Z, 3);
    for (int j = 0; j < 3; j++) {
        double mu, var, ymu, yvar;
        col_stats(Z, 8, 3, j, &mu, &var);
        col_stats(tr, 8, 3, j, &ymu, &yvar);
        double g = n.p.layer[0].gamma[j];
        assert_float_equal(ymu, n.p.layer[0].beta[j], 1e-5);
        assert_float_equal(yvar, g * g * var / (var + 1e-3), 1e-4);
        /* moving = 0.99 moving + 0.01 batch (biased variance) */
        assert_float_equal(n.p.layer[0].bn_mean[j], 0.99 * mm0[j] + 0.01 * mu, 1e-6);
        assert_float_equal(n.p.layer[0].bn_var[j], 0.99 * mv0[j] + 0.01 * var, 1e-6);
    }
    net_free(&n);
}

static void test_dropout_semantics(void **state) {
    (void)state;
    net a, b;
    const int32_t u[1] = {200};
    net_make(&a, 10, 1, u, DCTR_ACT_SIGMOID, 0, 0.3f, 0, DCTR_ACT_RELU, 50, 8);
    net_make(&b, 10, 1, u, DCTR_ACT_SIGMOID, 0, 0.0f, 0, DCTR_ACT_RELU, 50, 8);
    float X[50 * 10];
    dctr_rng rng;
    dctr_rng_init(&rng, 2, 1);
    gc_fill(&rng, X, 500, -1, 1);
    const float *nod = dctr_dnn_forward(&b.cfg, &b.p, b.ws, X, 10, 50, 1, NULL, NULL);
    const float *inf = dctr_dnn_forward(&a.cfg, &a.p, a.ws, X, 10, 50, 0, &rng, NULL);
    /* off in inference: equal to the no-dropout net's training forward, up to the rounding
     * between the training GEMM (BLAS) and inference's row-exact one */
    assert_true(gc_max_rel(inf, nod, 50 * 200, 1e-5, 1e-6) <= 1);
    const float *tr = dctr_dnn_forward(&a.cfg, &a.p, a.ws, X, 10, 50, 1, &rng, NULL);
    int64_t dropped = 0;
    for (int64_t i = 0; i < 50 * 200; i++) {
        if (tr[i] == 0.0f) {
            dropped++;
        } else {
            assert_float_equal(tr[i], nod[i] / 0.7f, 1e-6); /* kept units scaled 1/(1-p) */
        }
    }
    assert_true(dropped > 2700 && dropped < 3300); /* ~30% of 10000 */
    /* more rows than the workspace holds: refused, nothing read */
    assert_null(dctr_dnn_forward(&a.cfg, &a.p, a.ws, X, 10, 51, 0, NULL, NULL));
    assert_non_null(strstr(dctr_last_error(), "51 rows"));
    net_free(&a);
    net_free(&b);
}

static void test_identity_and_output_activation(void **state) {
    (void)state;
    net n;
    net_make(&n, 5, 0, NULL, DCTR_ACT_RELU, 0, 0.0f, 0, DCTR_ACT_RELU, 4, 1);
    assert_int_equal(dctr_dnn_num_params(&n.cfg), 0);
    assert_int_equal(dctr_dnn_out_dim(&n.cfg), 5);
    float X[4 * 6], dX[4 * 6] = {0}, d[4 * 5];
    for (int i = 0; i < 24; i++)
        X[i] = (float)i;
    for (int i = 0; i < 20; i++)
        d[i] = 1.0f + i;
    int64_t ld;
    const float *out = dctr_dnn_forward(&n.cfg, &n.p, n.ws, X, 6, 4, 1, NULL, &ld);
    assert_ptr_equal(out, X);
    assert_int_equal(ld, 6);
    dctr_dnn_backward(&n.cfg, &n.p, &n.g, n.ws, X, 6, 4, d, 5, dX, 6);
    assert_float_equal(dX[6 + 2], d[5 + 2], 0);
    assert_float_equal(dX[5], 0, 0);
    net_free(&n);
    /* hidden (10,) gives (B, 10); output activation only on the last layer */
    const int32_t u[2] = {10, 3};
    net_make(&n, 5, 2, u, DCTR_ACT_LINEAR, 0, 0.0f, 1, DCTR_ACT_SIGMOID, 4, 2);
    assert_int_equal(dctr_dnn_layer_activation(&n.cfg, 0), DCTR_ACT_LINEAR);
    assert_int_equal(dctr_dnn_layer_activation(&n.cfg, 1), DCTR_ACT_SIGMOID);
    out = dctr_dnn_forward(&n.cfg, &n.p, n.ws, X, 6, 4, 0, NULL, &ld);
    assert_int_equal(ld, 3);
    float Z1[4 * 10], Z2[4 * 3];
    dctr_dense_forward(X, 6, 4, 5, 10, n.p.layer[0].W, n.p.layer[0].b, Z1, 10);
    dctr_dense_forward(Z1, 10, 4, 10, 3, n.p.layer[1].W, n.p.layer[1].b, Z2, 3);
    for (int i = 0; i < 12; i++)
        assert_float_equal(out[i], 1 / (1 + exp(-Z2[i])), 1e-5);
    net_free(&n);
}

static void test_config_check(void **state) {
    (void)state;
    dctr_dnn_config c;
    dctr_dnn_config_default(&c);
    c.in_dim = 3;
    c.num_layers = 1;
    c.units[0] = 0;
    assert_int_equal(dctr_dnn_config_check(&c), DCTR_ERR_SCHEMA);
    c.units[0] = 4;
    c.dropout = 1.0f;
    assert_int_equal(dctr_dnn_config_check(&c), DCTR_ERR_SCHEMA);
    c.dropout = 0.5f;
    c.activation = (dctr_activation)17;
    assert_int_equal(dctr_dnn_config_check(&c), DCTR_ERR_SCHEMA);
    c.activation = DCTR_ACT_PRELU;
    assert_int_equal(dctr_dnn_config_check(&c), DCTR_OK);
    c.use_bn = 1;
    assert_int_equal(dctr_dnn_num_params(&c), 3 * 4 + 4 + 8 + 4);
    assert_int_equal(dctr_dnn_num_state(&c), 8);
}

static void test_init_distributions(void **state) {
    (void)state;
    enum { N = 200000 };
    float *w = dctr_alloc_floats(N);
    dctr_rng rng;
    dctr_rng_init(&rng, 1024, 0);
    dctr_init_glorot_normal(&rng, w, N, 300, 200);
    double sd = sqrt(2.0 / 500) / 0.87962566103423978, s = 0, s2 = 0;
    for (int i = 0; i < N; i++) {
        assert_true(fabs(w[i]) <= 2 * sd + 1e-7); /* truncated at 2 sigma */
        s += w[i];
        s2 += (double)w[i] * w[i];
    }
    /* the 1/0.8796 rescale makes the truncated std equal sqrt(2/(fan_in+fan_out)) */
    assert_float_equal(sqrt(s2 / N), sqrt(2.0 / 500), 0.01 * sqrt(2.0 / 500));
    assert_true(fabs(s / N) < 1e-3);
    dctr_init_glorot_uniform(&rng, w, N, 64, 1);
    double lim = sqrt(6.0 / 65), mx = 0;
    for (int i = 0; i < N; i++)
        mx = fmax(mx, fabs(w[i]));
    assert_true(mx <= lim && mx > 0.99 * lim);
    dctr_aligned_free(w);
}

/* The pool's split of a training pass (row parts, partial dW and bias sums added in order, the
 * activation backward fused into each part when there is no BN) agrees with the serial pass to
 * rounding for every activation, with and without BN; dX_beta 0 overwrites a NaN-filled dX. */
static void test_pooled_backward_matches_serial(void **state) {
    (void)state;
    enum { PB = 300, IN = 19 };
    const int32_t units[2] = {40, 24};
    dctr_pool *pool;
    assert_int_equal(dctr_pool_new(2, &pool), DCTR_OK);
    static float X[PB * IN], dout[PB * 24], dX1[PB * IN], dX2[PB * IN];
    dctr_rng rng;
    dctr_rng_init(&rng, 77, 1);
    gc_fill(&rng, X, PB * IN, -1.5, 1.5);
    gc_fill(&rng, dout, PB * 24, -1, 1);
    for (int bn = 0; bn <= 1; bn++)
        for (int act = 0; act <= DCTR_ACT_DICE; act++) {
            net a, b;
            net_make(&a, IN, 2, units, (dctr_activation)act, bn, 0.0f, 0, DCTR_ACT_RELU, PB, 90 + act);
            net_make(&b, IN, 2, units, (dctr_activation)act, bn, 0.0f, 0, DCTR_ACT_RELU, PB, 90 + act);
            assert_int_equal(dctr_dnn_workspace_set_pool(b.ws, pool), DCTR_OK);
            int64_t np = dctr_dnn_num_params(&a.cfg), ld;
            memset(a.grads, 0, sizeof(float) * (size_t)np);
            memset(b.grads, 0, sizeof(float) * (size_t)np);
            memset(dX1, 0, sizeof dX1);
            for (int i = 0; i < PB * IN; i++)
                dX2[i] = NAN;
            const float *ya = dctr_dnn_forward(&a.cfg, &a.p, a.ws, X, IN, PB, 1, NULL, &ld);
            const float *yb = dctr_dnn_forward(&b.cfg, &b.p, b.ws, X, IN, PB, 1, NULL, &ld);
            for (int i = 0; i < PB * 24; i++)
                assert_true(fabsf(ya[i] - yb[i]) <= 1e-5f + 1e-5f * fabsf(ya[i]));
            dctr_dnn_backward(&a.cfg, &a.p, &a.g, a.ws, X, IN, PB, dout, 24, dX1, IN);
            dctr_dnn_backward_ex(&b.cfg, &b.p, &b.g, b.ws, X, IN, PB, dout, 24, dX2, IN, 0.0f, IN);
            for (int64_t i = 0; i < np; i++)
                if (!(fabsf(a.grads[i] - b.grads[i]) <= 1e-4f + 1e-4f * fabsf(a.grads[i])))
                    fail_msg("act %d bn %d param %lld: serial %.8g pooled %.8g", act, bn,
                             (long long)i, (double)a.grads[i], (double)b.grads[i]);
            for (int i = 0; i < PB * IN; i++)
                if (!(fabsf(dX1[i] - dX2[i]) <= 1e-5f + 1e-4f * fabsf(dX1[i])))
                    fail_msg("act %d bn %d dX[%d]: serial %.8g pooled %.8g", act, bn, i,
                             (double)dX1[i], (double)dX2[i]);
            net_free(&a);
            net_free(&b);
        }
    dctr_pool_free(pool);
}

/* Where training runs the library's own GEMM (core/gemm_train.h), its forward is the row-exact
 * inference forward: the same bits (without BN and dropout, which differ on purpose). */
static void test_training_forward_is_inference_forward_on_own_kernels(void **state) {
    (void)state;
    enum { FB = 70, IN = 29 };
    const int32_t units[2] = {48, 17};
    static float X[FB * IN], inf[FB * 17];
    dctr_rng rng;
    dctr_rng_init(&rng, 78, 1);
    gc_fill(&rng, X, FB * IN, -1.5, 1.5);
    net n;
    net_make(&n, IN, 2, units, DCTR_ACT_RELU, 0, 0.0f, 0, DCTR_ACT_RELU, FB, 5);
    int64_t ld;
    memcpy(inf, dctr_dnn_forward(&n.cfg, &n.p, n.ws, X, IN, FB, 0, NULL, &ld), sizeof inf);
    const float *tr = dctr_dnn_forward(&n.cfg, &n.p, n.ws, X, IN, FB, 1, NULL, &ld);
    if (dctr_gemm_train_own(IN, 48) && dctr_gemm_train_own(48, 17))
        assert_memory_equal(inf, tr, sizeof inf);
    else
        for (int i = 0; i < FB * 17; i++)
            assert_true(fabsf(inf[i] - tr[i]) <= 1e-5f + 1e-5f * fabsf(inf[i]));
    net_free(&n);
}

/* dx_cols: the first dx_cols input gradients equal the full backward's (bit for bit on the
 * library's kernels, to rounding on BLAS); the other
 * columns are never written (NaN stays NaN); the parameter gradients do not change. Serial and
 * on a pool. */
static void test_backward_dx_cols_subset(void **state) {
    (void)state;
    enum { SB = 260, IN = 37, KEEP = 29 };
    const int32_t units[2] = {40, 24};
    static float X[SB * IN], dout[SB * 24], full[SB * IN], part[SB * IN];
    dctr_rng rng;
    dctr_rng_init(&rng, 79, 1);
    gc_fill(&rng, X, SB * IN, -1.5, 1.5);
    gc_fill(&rng, dout, SB * 24, -1, 1);
    dctr_pool *pool;
    assert_int_equal(dctr_pool_new(2, &pool), DCTR_OK);
    for (int pooled = 0; pooled <= 1; pooled++) {
        net a, b;
        net_make(&a, IN, 2, units, DCTR_ACT_RELU, 0, 0.0f, 0, DCTR_ACT_RELU, SB, 9);
        net_make(&b, IN, 2, units, DCTR_ACT_RELU, 0, 0.0f, 0, DCTR_ACT_RELU, SB, 9);
        if (pooled) {
            assert_int_equal(dctr_dnn_workspace_set_pool(a.ws, pool), DCTR_OK);
            assert_int_equal(dctr_dnn_workspace_set_pool(b.ws, pool), DCTR_OK);
        }
        int64_t np = dctr_dnn_num_params(&a.cfg), ld;
        memset(a.grads, 0, sizeof(float) * (size_t)np);
        memset(b.grads, 0, sizeof(float) * (size_t)np);
        for (int i = 0; i < SB * IN; i++)
            part[i] = NAN;
        dctr_dnn_forward(&a.cfg, &a.p, a.ws, X, IN, SB, 1, NULL, &ld);
        dctr_dnn_forward(&b.cfg, &b.p, b.ws, X, IN, SB, 1, NULL, &ld);
        dctr_dnn_backward_ex(&a.cfg, &a.p, &a.g, a.ws, X, IN, SB, dout, 24, full, IN, 0.0f, IN);
        dctr_dnn_backward_ex(&b.cfg, &b.p, &b.g, b.ws, X, IN, SB, dout, 24, part, IN, 0.0f, KEEP);
        assert_memory_equal(a.grads, b.grads, sizeof(float) * (size_t)np);
        /* the library's kernels compute each column alone; BLAS may pick other edge kernels */
        const int exact = dctr_gemm_train_own(IN, 40);
        for (int r = 0; r < SB; r++)
            for (int j = 0; j < IN; j++) {
                float p = part[r * IN + j], f = full[r * IN + j];
                if (j >= KEEP)
                    assert_true(isnan(p));
                else if (exact)
                    assert_true(p == f);
                else
                    assert_true(fabsf(p - f) <= 1e-5f + 1e-5f * fabsf(f));
            }
        net_free(&a);
        net_free(&b);
    }
    dctr_pool_free(pool);
}

/* The serial backward runs a large batch in row blocks (dnn.c, BW_BLOCK_ROWS): its gradients
 * are still the sum of the rows' own gradients (every row passed alone, B = 1), with fixed
 * dropout masks, dX accumulated (beta 1) onto a prefilled dX and a dx_cols subset; a partial
 * last block included. */
static void test_blocked_backward_is_sum_of_rows(void **state) {
    (void)state;
    enum { RB = 600, IN = 23, KEEP = 19, U0 = 40, U1 = 24 };
    const int32_t units[2] = {U0, U1};
    static float X[RB * IN], dout[RB * U1], dX[RB * IN], dXr[RB * IN], masks[2][RB * U0];
    dctr_rng rng;
    dctr_rng_init(&rng, 80, 1);
    gc_fill(&rng, X, RB * IN, -1.5, 1.5);
    gc_fill(&rng, dout, RB * U1, -1, 1);
    gc_fill(&rng, dX, RB * IN, -1, 1);
    memcpy(dXr, dX, sizeof dX);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < RB * units[i]; k++)
            masks[i][k] = (k % 7 == 2) ? 0.0f : 1.0f / (1.0f - 0.2f);
    for (int act = DCTR_ACT_RELU; act <= DCTR_ACT_LINEAR; act++) {
        net a, r;
        net_make(&a, IN, 2, units, (dctr_activation)act, 0, 0.2f, 0, DCTR_ACT_RELU, RB, 11);
        net_make(&r, IN, 2, units, (dctr_activation)act, 0, 0.2f, 0, DCTR_ACT_RELU, 1, 11);
        int64_t np = dctr_dnn_num_params(&a.cfg), ld;
        memset(a.grads, 0, sizeof(float) * (size_t)np);
        memset(r.grads, 0, sizeof(float) * (size_t)np);
        for (int i = 0; i < 2; i++)
            memcpy(dctr_dnn_dropout_mask(a.ws, i), masks[i], sizeof(float) * RB * (size_t)units[i]);
        dctr_dnn_forward(&a.cfg, &a.p, a.ws, X, IN, RB, 1, NULL, &ld);
        dctr_dnn_backward_ex(&a.cfg, &a.p, &a.g, a.ws, X, IN, RB, dout, U1, dX, IN, 1.0f, KEEP);
        for (int b = 0; b < RB; b++) {
            for (int i = 0; i < 2; i++)
                memcpy(dctr_dnn_dropout_mask(r.ws, i), masks[i] + b * units[i],
                       sizeof(float) * (size_t)units[i]);
            dctr_dnn_forward(&r.cfg, &r.p, r.ws, X + b * IN, IN, 1, 1, NULL, &ld);
            dctr_dnn_backward_ex(&r.cfg, &r.p, &r.g, r.ws, X + b * IN, IN, 1, dout + b * U1, U1,
                                 dXr + b * IN, IN, 1.0f, KEEP);
        }
        for (int64_t i = 0; i < np; i++)
            if (!(fabsf(a.grads[i] - r.grads[i]) <= 1e-4f + 1e-4f * fabsf(r.grads[i])))
                fail_msg("act %d param %lld: batch %.8g rows %.8g", act, (long long)i,
                         (double)a.grads[i], (double)r.grads[i]);
        for (int i = 0; i < RB * IN; i++)
            if (!(fabsf(dX[i] - dXr[i]) <= 1e-5f + 1e-4f * fabsf(dXr[i])))
                fail_msg("act %d dX[%d]: batch %.8g rows %.8g", act, i, (double)dX[i],
                         (double)dXr[i]);
        net_free(&a);
        net_free(&r);
    }
}

/* The W transposes of the row-piece backward split into pieces (the lanes' threads run one
 * each): any number of pieces writes exactly what the one-piece _prepare writes. Only CPUs whose
 * training GEMMs are the library's own (AVX-512) transpose at all; elsewhere both give NULL. */
static void test_prepare_parts_equal_whole(void **state) {
    (void)state;
    enum { IN = 37, KEEP = 29, U0 = 45, U1 = 19 };
    const int32_t units[2] = {U0, U1};
    const size_t sizes[2] = {(size_t)U0 * KEEP, (size_t)U1 * U0};
    static float whole[2][U0 * KEEP];
    net a;
    net_make(&a, IN, 2, units, DCTR_ACT_RELU, 0, 0.0f, 0, DCTR_ACT_RELU, 8, 12);
    const float *wt[DCTR_DNN_MAX_LAYERS] = {0}, *wp[DCTR_DNN_MAX_LAYERS] = {0};
    dctr_dnn_backward_prepare(&a.cfg, &a.p, a.ws, 1, KEEP, wt);
    for (int i = 0; i < 2; i++)
        if (wt[i])
            memcpy(whole[i], wt[i], sizes[i] * sizeof(float));
    print_message("layers transposed: %d %d\n", wt[0] != NULL, wt[1] != NULL);
    for (int parts = 1; parts <= 5; parts++) {
        for (int i = 0; i < 2; i++)
            if (wt[i])
                memset((float *)wt[i], 0xff, sizes[i] * sizeof(float)); /* NaN: a missed entry shows */
        for (int part = 0; part < parts; part++)
            dctr_dnn_backward_prepare_part(&a.cfg, &a.p, a.ws, 1, KEEP, wp, part, parts);
        for (int i = 0; i < 2; i++) {
            assert_ptr_equal(wp[i], wt[i]);
            if (wt[i])
                assert_memory_equal(wt[i], whole[i], sizes[i] * sizeof(float));
        }
    }
    net_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_equals_naive),
        cmocka_unit_test(test_gradients_plain),
        cmocka_unit_test(test_gradients_bn_train),
        cmocka_unit_test(test_gradients_dropout_fixed_mask),
        cmocka_unit_test(test_pooled_backward_matches_serial),
        cmocka_unit_test(test_training_forward_is_inference_forward_on_own_kernels),
        cmocka_unit_test(test_backward_dx_cols_subset),
        cmocka_unit_test(test_blocked_backward_is_sum_of_rows),
        cmocka_unit_test(test_prepare_parts_equal_whole),
        cmocka_unit_test(test_bn_train_vs_infer_and_moving_stats),
        cmocka_unit_test(test_dropout_semantics),
        cmocka_unit_test(test_identity_and_output_activation),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_init_distributions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
