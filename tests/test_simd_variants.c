/* Every run-time dispatched kernel gives the portable variant's result BIT FOR BIT at every
 * SIMD level this CPU can run (docs/layers.md, "Kernel variants"): each case builds its inputs
 * from a seed, runs at the forced level and appends every output to one buffer, compared with
 * memcmp. Sizes cover vector tails (k = 1, 3, 7, 9, 17, 33, ...), special values (+-0, +-inf,
 * subnormals) and the per-row invariance services rely on (a row alone == the row in a batch). */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "core/simd.h"
#include "core/simd_math.h"
#include "layers/activation.h"
#include "layers/dnn.h"
#include "layers/embedding.h"
#include "layers/fm.h"
#include "layers/linear.h"
#include "layers/sequence_pool.h"
#include "layers/weighted_seq.h"
#include "optim/optim.h"

#define OUT_CAP (1 << 20)

/* Collects a case's outputs: floats, and ints / statuses bit-cast into the same stream. */
typedef struct sink {
    float *v;
    size_t n;
} sink;

static void put(sink *s, const float *x, size_t n) {
    assert_true(s->n + n <= OUT_CAP);
    memcpy(s->v + s->n, x, n * sizeof(float));
    s->n += n;
}

static void put_int(sink *s, int64_t x) {
    float f;
    int32_t i = (int32_t)x;
    memcpy(&f, &i, sizeof f);
    put(s, &f, 1);
}

/* Uniform in [lo, hi), with every 17th value replaced by a special one (when `specials`). */
static float *data(dctr_rng *rng, size_t n, double lo, double hi, int specials) {
    static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, 1e-40f, -1e-40f, 88.0f, -88.0f};
    float *x = dctr_alloc_floats(n ? n : 1);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * dctr_rng_uniform(rng));
    if (specials)
        for (size_t i = 5; i < n; i += 17)
            x[i] = sp[(i / 17) % (sizeof sp / sizeof sp[0])];
    return x;
}

typedef void (*case_fn)(int param, sink *out);

/* Runs `fn` at the portable level and at every other level the CPU has; all must match. */
static void check_variants(const char *what, case_fn fn, int param) {
    sink ref = {dctr_alloc_floats(OUT_CAP), 0}, got = {dctr_alloc_floats(OUT_CAP), 0};
    assert_non_null(ref.v);
    assert_non_null(got.v);
    dctr_kernel_force_level(DCTR_SIMD_PORTABLE);
    assert_int_equal(dctr_kernel_level(), DCTR_SIMD_PORTABLE);
    fn(param, &ref);
    for (int lv = DCTR_SIMD_PORTABLE + 1; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
        if (!dctr_cpu_can_run((dctr_simd_level)lv))
            continue;
        dctr_kernel_force_level(lv);
        assert_int_equal(dctr_kernel_level(), lv);
        got.n = 0;
        fn(param, &got);
        assert_int_equal(got.n, ref.n);
        if (memcmp(got.v, ref.v, ref.n * sizeof(float)) != 0) {
            size_t i = 0;
            while (memcmp(&got.v[i], &ref.v[i], sizeof(float)) == 0)
                i++;
            print_error("%s (param %d): %s differs from portable at output %zu: %.9g vs %.9g\n",
                        what, param, dctr_simd_level_name((dctr_simd_level)lv), i, got.v[i],
                        ref.v[i]);
            fail();
        }
    }
    dctr_kernel_force_level(-1);
    dctr_aligned_free(ref.v);
    dctr_aligned_free(got.v);
}

static const int32_t dims[] = {1, 3, 4, 7, 8, 9, 10, 12, 13, 15, 16, 17, 30, 32, 33, 36, 40, 300};
#define NDIMS ((int)(sizeof dims / sizeof dims[0]))

/* ------------------------------------------------------------------ FM */

static void fm_case(int di, sink *out) {
    const int32_t k = dims[di], F = 5 + di % 4;
    const int64_t B = 37, stride = (int64_t)F * k + 3;
    dctr_rng rng;
    dctr_rng_init(&rng, 100 + (uint64_t)di, 0);
    float *V = data(&rng, (size_t)(B * stride), -1, 1, 0), *d = data(&rng, (size_t)B, -1, 1, 0);
    float *o = data(&rng, (size_t)B, -1, 1, 0), *dV = data(&rng, (size_t)(B * stride), -1, 1, 0);
    dctr_fm_forward(V + 1, stride, B, F, k, o, di & 1);
    put(out, o, (size_t)B);
    /* one row alone gives the bits it had in the batch */
    float alone;
    dctr_fm_forward(V + 1 + 11 * stride, stride, 1, F, k, &alone, 0);
    if (!(di & 1))
        assert_memory_equal(&alone, &o[11], sizeof alone);
    dctr_fm_backward(d, V + 1, stride, B, F, k, dV + 2, stride);
    put(out, dV, (size_t)(B * stride));
    float *bufs[] = {V, d, o, dV};
    for (int i = 0; i < 4; i++)
        dctr_aligned_free(bufs[i]);
}

/* The scalar formula in its documented order (fields in order per dim, dims in order): the
 * vector forms (k a multiple of 4 or 8) must give exactly its bits, not just the variants'. */
static void fm_reference(const float *V, int64_t stride, int64_t B, int32_t F, int32_t k,
                         const float *d, float *out, float *dV) {
    for (int64_t b = 0; b < B; b++) {
        const float *row = V + b * stride;
        float acc = 0.0f;
        for (int32_t j = 0; j < k; j++) {
            float s = 0.0f, sq = 0.0f;
            for (int32_t f = 0; f < F; f++) {
                s += row[f * k + j];
                sq += row[f * k + j] * row[f * k + j];
            }
            acc += s * s - sq;
            for (int32_t f = 0; f < F; f++)
                dV[b * stride + f * k + j] += d[b] * (s - row[f * k + j]);
        }
        out[b] = 0.5f * acc;
    }
}

static void test_fm(void **state) {
    (void)state;
    for (int di = 0; di < NDIMS; di++) {
        check_variants("fm", fm_case, di);
        const int32_t k = dims[di], F = 26;
        const int64_t B = 9, stride = (int64_t)F * k + 1;
        dctr_rng rng;
        dctr_rng_init(&rng, 150 + (uint64_t)di, 0);
        float *V = data(&rng, (size_t)(B * stride), -1, 1, 0), *d = data(&rng, (size_t)B, -1, 1, 0);
        float *o = data(&rng, (size_t)B, 0, 0, 0), *ro = data(&rng, (size_t)B, 0, 0, 0);
        float *dV = data(&rng, (size_t)(B * stride), 0, 0, 0);
        float *rdV = data(&rng, (size_t)(B * stride), 0, 0, 0);
        fm_reference(V, stride, B, F, k, d, ro, rdV);
        for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
            if (!dctr_cpu_can_run((dctr_simd_level)lv))
                continue;
            dctr_kernel_force_level(lv);
            memset(dV, 0, sizeof(float) * (size_t)(B * stride));
            dctr_fm_forward(V, stride, B, F, k, o, 0);
            dctr_fm_backward(d, V, stride, B, F, k, dV, stride);
            assert_memory_equal(o, ro, sizeof(float) * (size_t)B);
            assert_memory_equal(dV, rdV, sizeof(float) * (size_t)(B * stride));
        }
        dctr_kernel_force_level(-1);
        float *bufs[] = {V, d, o, ro, dV, rdV};
        for (int i = 0; i < 6; i++)
            dctr_aligned_free(bufs[i]);
    }
}

/* ------------------------------------------------------------------ activations */

static void act_case(int param, sink *out) {
    const dctr_activation act = (dctr_activation)(param % 8);
    const int32_t n = dims[(param / 8) % NDIMS];
    const int64_t B = 13;
    const size_t N = (size_t)(B * n);
    dctr_rng rng;
    dctr_rng_init(&rng, 200 + (uint64_t)param, 0);
    float *Z = data(&rng, N, -6, 6, 1), *dY = data(&rng, N, -1, 1, 0);
    float *alpha = data(&rng, (size_t)n, 0, 0.5, 0), *bias = data(&rng, (size_t)n, -1, 1, 0);
    float *Y = data(&rng, N, 0, 1, 0), *dZ = data(&rng, N, -1, 1, 0);
    float *dalpha = data(&rng, (size_t)n, -1, 1, 0), *colsum = data(&rng, (size_t)n, -1, 1, 0);
    if (act != DCTR_ACT_DICE) {
        dctr_act_forward(act, Z, B, n, alpha, Y);
        put(out, Y, N);
        dctr_act_backward(act, Z, Y, dY, B, n, alpha, act == DCTR_ACT_PRELU ? dalpha : NULL, dZ);
        put(out, dZ, N);
        /* the fused form: overwrite, column sums, a column sub-range */
        int32_t c0 = n > 2 ? 1 : 0, c1 = n > 2 ? n - 1 : n;
        dctr_act_backward_cols(act, Z, Y, dY, B, n, alpha, act == DCTR_ACT_PRELU ? dalpha : NULL,
                               dZ, 0, colsum, c0, c1);
        put(out, dZ, N);
        put(out, colsum, (size_t)n);
        put(out, dalpha, (size_t)n);
        if (act != DCTR_ACT_PRELU) {
            memcpy(Y, Z, N * sizeof(float));
            dctr_bias_act_inplace(act, bias, B, n, Y);
            put(out, Y, N);
        }
    } else {
        float *P = data(&rng, N, 0, 1, 0), *dx = data(&rng, N, 0, 1, 0);
        dctr_dice_gate_forward(Z, dY, alpha, B, n, P, Y);
        put(out, P, N);
        put(out, Y, N);
        dctr_dice_gate_backward(Z, P, dY, alpha, B, n, dZ, dx, dalpha);
        put(out, dZ, N);
        put(out, dx, N);
        put(out, dalpha, (size_t)n);
        dctr_aligned_free(P);
        dctr_aligned_free(dx);
    }
    float *bufs[] = {Z, dY, alpha, bias, Y, dZ, dalpha, colsum};
    for (int i = 0; i < 8; i++)
        dctr_aligned_free(bufs[i]);
}

static void test_activations(void **state) {
    (void)state;
    const dctr_activation acts[] = {DCTR_ACT_RELU, DCTR_ACT_SIGMOID, DCTR_ACT_TANH,
                                    DCTR_ACT_PRELU, DCTR_ACT_DICE, DCTR_ACT_LINEAR};
    for (int di = 0; di < NDIMS; di++)
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
            check_variants("activation", act_case, di * 8 + (int)acts[a]);
}

/* ------------------------------------------------------------------ optimizers */

/* param = dim index * 10 + variant * 5 + kind; variant 1 adds SGD momentum and FTRL
 * lr_power -0.7 (the pow path), l1, l2; step 2 uses a clipping scale of 0.5 */
static void optim_case(int param, sink *out) {
    const int kind = param % 5, var = (param / 5) % 2;
    const int32_t k = dims[(param / 10) % NDIMS];
    dctr_optimizer_config cfg;
    dctr_optimizer_config_default(&cfg, (dctr_optimizer_kind)(DCTR_OPT_ADAM + kind));
    if (var) {
        cfg.momentum = 0.9;
        cfg.lr_power = -0.7;
        cfg.l1 = 0.01;
        cfg.l2 = 0.1;
    }
    dctr_optim opt;
    assert_int_equal(dctr_optim_init(&opt, &cfg), DCTR_OK);
    const int64_t V = 50, rows[] = {3, 17, 4, 49, 0, 22};
    const size_t N = (size_t)(V * k);
    dctr_rng rng;
    dctr_rng_init(&rng, 300 + (uint64_t)param, 0);
    float *w = data(&rng, N, -1, 1, 0), *g = data(&rng, N, -1, 1, 0);
    float *s0 = data(&rng, N, 0, 1, 0), *s1 = data(&rng, N, 0, 1, 0);
    float *slots[2] = {s0, s1};
    dctr_optim_init_slots(&opt, slots, N);
    for (int64_t t = 1; t <= 3; t++) {
        dctr_optim_step st;
        dctr_optim_begin_step(&opt, t, t == 2 ? 0.5 : 1.0, &st);
        dctr_optim_update(&opt, &st, w, g, slots, N - 1); /* odd length: tails */
        dctr_optim_update_rows(&opt, &st, w, slots, rows, 6, k, g + k);
        dctr_optim_update_row(&opt, &st, w, slots, 7, k, g);
    }
    put(out, w, N);
    put(out, s0, N);
    put(out, s1, N);
    double ss = dctr_sumsq(g, N - 1); /* the step's finite-gradient check: a double, as 2 floats */
    float hi = (float)ss, lo = (float)(ss - (double)hi);
    put(out, &hi, 1);
    put(out, &lo, 1);
    float *bufs[] = {w, g, s0, s1};
    for (int i = 0; i < 4; i++)
        dctr_aligned_free(bufs[i]);
}

static void test_optimizers(void **state) {
    (void)state;
    for (int p = 0; p < 10 * NDIMS; p++)
        check_variants("optimizer", optim_case, p);
}

/* ------------------------------------------------------------------ embeddings, pooling */

static void embedding_case(int di, sink *out) {
    const int32_t k = dims[di];
    const int64_t V = 97, n = 41, T = 6, B = 9;
    dctr_rng rng;
    dctr_rng_init(&rng, 400 + (uint64_t)di, 0);
    float *table = data(&rng, (size_t)(V * k), -1, 1, 1);
    /* dX serves both scatters: [n x (k + 2)] and the sequence's [B*T x k] */
    const size_t ndx = (size_t)(n * (k + 2) > B * T * k ? n * (k + 2) : B * T * k);
    float *X = data(&rng, (size_t)(n * (k + 2)), -1, 1, 0), *dX = data(&rng, ndx, -1, 1, 1);
    int64_t ids[41];
    for (int64_t i = 0; i < n; i++)
        ids[i] = (int64_t)dctr_rng_below(&rng, 12); /* repeats: accumulation order matters */
    put_int(out, dctr_embedding_gather(table, V, k, ids, n, X, k + 2));
    put(out, X, (size_t)(n * (k + 2)));
    dctr_sparse_grad g;
    assert_int_equal(dctr_sparse_grad_init(&g, V, k, 64), DCTR_OK);
    put_int(out, dctr_embedding_scatter(&g, ids, n, dX, k + 2));
    put_int(out, g.count);
    put(out, g.grad, (size_t)(g.count * k));
    /* the sequence form (ids 0 are padding without lengths) */
    int64_t sids[9 * 6];
    for (int64_t i = 0; i < B * T; i++)
        sids[i] = (int64_t)dctr_rng_below(&rng, 8);
    dctr_sparse_grad_clear(&g);
    put_int(out, dctr_embedding_scatter_seq(&g, sids, NULL, B, (int32_t)T, dX));
    put_int(out, g.count);
    put(out, g.grad, (size_t)(g.count * k));
    dctr_sparse_grad_destroy(&g);
    dctr_aligned_free(table);
    dctr_aligned_free(X);
    dctr_aligned_free(dX);
}

static void test_embedding(void **state) {
    (void)state;
    for (int di = 0; di < NDIMS; di++)
        check_variants("embedding", embedding_case, di);
}

static void pool_case(int param, sink *out) {
    const int32_t k = dims[param % NDIMS], T = 7;
    const int mode = (param / NDIMS) % 5; /* 0..2 combiners, 3..4 weighted (raw, softmax) */
    const int64_t B = 11;
    const size_t NE = (size_t)(B * T * k);
    dctr_rng rng;
    dctr_rng_init(&rng, 500 + (uint64_t)param, 0);
    float *E = data(&rng, NE, -2, 2, 0), *dE = data(&rng, NE, -1, 1, 0);
    float *o = data(&rng, (size_t)(B * (k + 1)), -1, 1, 0), *d = data(&rng, (size_t)(B * (k + 1)), -1, 1, 0);
    float *w = data(&rng, (size_t)(B * T), -3, 3, 0), *alpha = data(&rng, (size_t)(B * T), 0, 1, 0);
    float *dw = data(&rng, (size_t)(B * T), -1, 1, 0), *wo = data(&rng, NE, 0, 1, 0);
    int64_t ids[11 * 7];
    int32_t len[11], am[11 * 300];
    for (int64_t b = 0; b < B; b++) {
        len[b] = (int32_t)dctr_rng_below(&rng, (uint64_t)T + 1); /* 0: all padding */
        for (int32_t t = 0; t < T; t++)
            ids[b * T + t] = t < len[b] ? 1 + (int64_t)dctr_rng_below(&rng, 20) : 0;
    }
    if (mode < 3) {
        dctr_combiner c = (dctr_combiner)mode;
        dctr_seq_pool_forward(c, E, B, T, k, ids, param & 1 ? len : NULL, o, k + 1, am);
        put(out, o, (size_t)(B * (k + 1)));
        for (int64_t i = 0; i < B * k; i++)
            put_int(out, c == DCTR_COMBINER_MAX ? am[i] : 0);
        dctr_seq_pool_backward(c, d, k + 1, B, T, k, ids, param & 1 ? len : NULL, am, dE);
    } else {
        int norm = mode == 4;
        dctr_weighted_seq_forward(norm, E, w, B, T, k, ids, len, wo, alpha);
        put(out, wo, NE);
        put(out, alpha, (size_t)(B * T));
        dctr_weighted_seq_backward(norm, wo, E, alpha, B, T, k, ids, len, dE, dw);
        put(out, dw, (size_t)(B * T));
    }
    put(out, dE, NE);
    float *bufs[] = {E, dE, o, d, w, alpha, dw, wo};
    for (int i = 0; i < 8; i++)
        dctr_aligned_free(bufs[i]);
}

static void test_pooling(void **state) {
    (void)state;
    for (int p = 0; p < 5 * NDIMS; p++)
        check_variants("pooling", pool_case, p);
}

static void linear_case(int di, sink *out) {
    const int32_t D = dims[di];
    const int64_t B = 19, stride = D + 4;
    dctr_rng rng;
    dctr_rng_init(&rng, 600 + (uint64_t)di, 0);
    float *x = data(&rng, (size_t)(B * stride), -1, 1, 0), *kern = data(&rng, (size_t)D, -1, 1, 0);
    float *o = data(&rng, (size_t)B, -1, 1, 0), *dk = data(&rng, (size_t)D, -1, 1, 0);
    float *dx = data(&rng, (size_t)(B * stride), -1, 1, 0), bias = 0.25f, db = 0.5f;
    dctr_linear_dense_forward(x, stride, B, D, kern, &bias, o, di & 1);
    put(out, o, (size_t)B);
    float alone;
    dctr_linear_dense_forward(x + 5 * stride, stride, 1, D, kern, &bias, &alone, 0);
    if (!(di & 1))
        assert_memory_equal(&alone, &o[5], sizeof alone);
    dctr_linear_dense_backward(o, x, stride, B, D, kern, dk, &db, dx, stride);
    put(out, dk, (size_t)D);
    put(out, &db, 1);
    put(out, dx, (size_t)(B * stride));
    float *bufs[] = {x, kern, o, dk, dx};
    for (int i = 0; i < 5; i++)
        dctr_aligned_free(bufs[i]);
}

static void test_linear(void **state) {
    (void)state;
    for (int di = 0; di < NDIMS; di++)
        check_variants("linear", linear_case, di);
}

/* ------------------------------------------------------------------ batch norm */

static void bn_case(int di, sink *out) {
    const int32_t n = dims[di];
    const int64_t B = 29;
    dctr_rng rng;
    dctr_rng_init(&rng, 700 + (uint64_t)di, 0);
    float *Z = data(&rng, (size_t)(B * n), -3, 3, 0), *gm = data(&rng, (size_t)n, 0.5, 2, 0);
    float *bt = data(&rng, (size_t)n, -1, 1, 0), *mm = data(&rng, (size_t)n, -1, 1, 0);
    float *mv = data(&rng, (size_t)n, 0.5, 2, 0), *xh = data(&rng, (size_t)(B * n), 0, 1, 0);
    float *is = data(&rng, (size_t)n, 0, 1, 0), *Y = data(&rng, (size_t)(B * n), 0, 1, 0);
    float *dY = data(&rng, (size_t)(B * n), -1, 1, 0), *dZ = data(&rng, (size_t)(B * n), -1, 1, 0);
    float *dg = data(&rng, (size_t)n, -1, 1, 0), *db = data(&rng, (size_t)n, -1, 1, 0);
    /* with and without scale / shift, with and without xhat, and in place (Y = Z) */
    dctr_bn_forward_train(Z, B, n, (di & 1) ? gm : NULL, (di & 1) ? bt : NULL, 1e-3f, 0.99f, mm,
                          mv, (di & 2) ? NULL : xh, is, Y);
    put(out, Y, (size_t)(B * n));
    put(out, mm, (size_t)n);
    put(out, mv, (size_t)n);
    put(out, is, (size_t)n);
    dctr_bn_forward_train(Z, B, n, gm, bt, 1e-3f, 0.99f, NULL, NULL, xh, is, Z);
    put(out, Z, (size_t)(B * n));
    put(out, xh, (size_t)(B * n));
    dctr_bn_backward(dY, xh, is, B, n, (di & 1) ? gm : NULL, dg, (di & 2) ? NULL : db, dZ);
    put(out, dZ, (size_t)(B * n));
    put(out, dg, (size_t)n);
    put(out, db, (size_t)n);
    float *bufs[] = {Z, gm, bt, mm, mv, xh, is, Y, dY, dZ, dg, db};
    for (int i = 0; i < 12; i++)
        dctr_aligned_free(bufs[i]);
}

static void test_batch_norm(void **state) {
    (void)state;
    for (int di = 0; di < NDIMS; di++)
        check_variants("batch norm", bn_case, di);
}

/* ------------------------------------------------------------------ own exp / sigmoid / tanh */

static double rel(double got, double ref) { return fabs(got - ref) / fabs(ref); }

/* The documented maximum errors (core/simd_math.h: measured over every 97th float) hold, with a
 * small margin, on 2^21 evenly spaced points per function plus log-spaced small magnitudes; the
 * reference is double-precision libm, and glibc's expf is checked beside it. */
static void test_poly_accuracy(void **state) {
    (void)state;
    double me = 0, mexpf = 0, ms = 0, msa = 0, mt = 0;
    const int N = 1 << 21;
    for (int i = 0; i <= N; i++) {
        float x = (float)(-103.0 + (88.7 + 103.0) * i / N);
        double ref = exp((double)x);
        if (ref >= FLT_MIN) {
            me = fmax(me, rel(dctr_expf_poly(x), ref));
            mexpf = fmax(mexpf, rel(dctr_expf_poly(x), expf(x)));
        }
        float z = (float)(-110.0 + 220.0 * i / N);
        double rs = 1.0 / (1.0 + exp(-(double)z));
        float gs = dctr_sigmoid_poly(z);
        if (rs >= FLT_MIN)
            ms = fmax(ms, rel(gs, rs));
        msa = fmax(msa, fabs(gs - rs));
        float t = (float)(-12.0 + 24.0 * i / N);
        if (t != 0.0f)
            mt = fmax(mt, rel(dctr_tanh_poly(t), tanh((double)t)));
        float small = (float)pow(10.0, -30.0 + 30.0 * i / N); /* 1e-30 .. 1 */
        mt = fmax(mt, rel(dctr_tanh_poly(small), tanh((double)small)));
        mt = fmax(mt, rel(dctr_tanh_poly(-small), tanh(-(double)small)));
    }
    print_message("max relative error: exp %.3g (vs expf %.3g), sigmoid %.3g (abs %.3g), tanh %.3g\n",
                  me, mexpf, ms, msa, mt);
    assert_true(me <= 1.2e-7);
    assert_true(mexpf <= 1.8e-7);
    assert_true(ms <= 2.2e-7);
    assert_true(msa <= 1.0e-7);
    assert_true(mt <= 3.3e-7);
    /* special values */
    assert_true(isnan(dctr_expf_poly(NAN)) && isnan(dctr_sigmoid_poly(NAN)) &&
                isnan(dctr_tanh_poly(NAN)));
    assert_true(dctr_tanh_poly(0.0f) == 0.0f && !signbit(dctr_tanh_poly(0.0f)));
    assert_true(dctr_tanh_poly(-0.0f) == 0.0f && signbit(dctr_tanh_poly(-0.0f)));
    assert_true(dctr_tanh_poly(INFINITY) == 1.0f && dctr_tanh_poly(-INFINITY) == -1.0f);
    assert_true(dctr_sigmoid_poly(INFINITY) == 1.0f && dctr_sigmoid_poly(0.0f) == 0.5f);
    assert_true(dctr_sigmoid_poly(-INFINITY) <= 1.5e-45f && dctr_sigmoid_poly(-INFINITY) >= 0.0f);
    assert_true(dctr_expf_poly(0.0f) == 1.0f && dctr_expf_poly(-INFINITY) <= 1.5e-45f);
    assert_true(dctr_expf_poly(88.0f) > 1.6e38f && isfinite(dctr_expf_poly(INFINITY)));
}

/* The override never selects a level the CPU lacks, and -1 restores the default. */
static void test_force_level_guard(void **state) {
    (void)state;
    dctr_simd_level def = dctr_cpu_simd_level();
    dctr_kernel_force_level(DCTR_SIMD_LEVEL_COUNT);
    assert_int_equal(dctr_kernel_level(), def);
    for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
        dctr_kernel_force_level(lv);
        assert_int_equal(dctr_kernel_level(), dctr_cpu_can_run((dctr_simd_level)lv) ? lv : (int)def);
    }
    dctr_kernel_force_level(-1);
    assert_int_equal(dctr_kernel_level(), def);
    print_message("simd: detected %s, kernels use %s\n",
                  dctr_simd_level_name(dctr_cpu_simd_detected()), dctr_simd_level_name(def));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_force_level_guard), cmocka_unit_test(test_fm),
        cmocka_unit_test(test_activations),       cmocka_unit_test(test_optimizers),
        cmocka_unit_test(test_embedding),         cmocka_unit_test(test_pooling),
        cmocka_unit_test(test_linear),            cmocka_unit_test(test_poly_accuracy),
        cmocka_unit_test(test_batch_norm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
