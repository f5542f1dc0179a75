/* Sequence pooling and weighted sequences: reference §1.6 / checklist §3.3 "Pooling", and
 * finite-difference gradients for every mode and mask mode. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "gradcheck.h"
#include "layers/sequence_pool.h"
#include "layers/weighted_seq.h"

#define B 4
#define T 3
#define K 2

/* E[b][t] = {10b + t + 1, -(10b + t + 1)} */
static void fill_e(float *E) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            E[(b * T + t) * K] = (float)(10 * b + t + 1);
            E[(b * T + t) * K + 1] = -(float)(10 * b + t + 1);
        }
}

static void test_length_mask(void **state) {
    (void)state;
    float E[B * T * K], out[B * K];
    int32_t am[B * K];
    int64_t ids[B * T] = {0}; /* ids at valid positions are used even when 0 */
    int32_t len[B] = {0, 2, 3, 5};
    fill_e(E);
    dctr_seq_pool_forward(DCTR_COMBINER_SUM, E, B, T, K, ids, len, out, K, NULL);
    assert_float_equal(out[0], 0.0f, 0);          /* len 0 -> 0 */
    assert_float_equal(out[1], 0.0f, 0);
    assert_float_equal(out[2], 11 + 12, 1e-6);    /* first 2 */
    assert_float_equal(out[4], 21 + 22 + 23, 1e-6);
    assert_float_equal(out[6], 31 + 32 + 33, 1e-6); /* len 5 > T: all valid */
    assert_float_equal(out[7], -(31 + 32 + 33), 1e-6);
    dctr_seq_pool_forward(DCTR_COMBINER_MEAN, E, B, T, K, ids, len, out, K, NULL);
    assert_float_equal(out[0], 0.0f, 0);
    assert_float_equal(out[2], 23.0 / (2 + 1e-8), 1e-5);
    assert_float_equal(out[4], 66.0 / 3, 1e-5);
    assert_float_equal(out[6], 96.0 / 5, 1e-5); /* raw len 5 divides, as upstream */
    dctr_seq_pool_forward(DCTR_COMBINER_MAX, E, B, T, K, ids, len, out, K, am);
    assert_float_equal(out[0], 0.0f, 0); /* all padding -> 0 (upstream: about -1e9) */
    assert_float_equal(out[1], 0.0f, 0);
    assert_int_equal(am[0], -1);
    assert_float_equal(out[2], 12, 0);
    assert_float_equal(out[3], -11, 0);
    assert_int_equal(am[2], 1);
    assert_int_equal(am[3], 0);
    assert_float_equal(out[6], 33, 0);
    assert_int_equal(dctr_seq_count(ids, len, 3, T), 5);
}

static void test_id_mask_holes(void **state) {
    (void)state;
    float E[B * T * K], out[B * K];
    int32_t am[B * K];
    int64_t ids[B * T] = {0, 0, 0, /* empty */ 7, 0, 9, /* hole */ 0, 0, 4, /* prefix zeros */
                          1, 2, 3};
    fill_e(E);
    dctr_seq_pool_forward(DCTR_COMBINER_SUM, E, B, T, K, ids, NULL, out, K, NULL);
    assert_float_equal(out[0], 0, 0);
    assert_float_equal(out[2], 11 + 13, 1e-6);
    assert_float_equal(out[4], 23, 1e-6);
    assert_float_equal(out[6], 31 + 32 + 33, 1e-6);
    dctr_seq_pool_forward(DCTR_COMBINER_MEAN, E, B, T, K, ids, NULL, out, K, NULL);
    assert_float_equal(out[0], 0, 0);
    assert_float_equal(out[2], 24 / (2 + 1e-8), 1e-5);
    assert_float_equal(out[4], 23 / (1 + 1e-8), 1e-5);
    assert_float_equal(out[3], -24 / (2 + 1e-8), 1e-5);
    dctr_seq_pool_forward(DCTR_COMBINER_MAX, E, B, T, K, ids, NULL, out, K, am);
    assert_float_equal(out[0], 0, 0);
    assert_float_equal(out[2], 13, 0);
    assert_int_equal(am[2], 2);
    assert_float_equal(out[3], -11, 0);
    assert_float_equal(out[4], 23, 0);
    assert_int_equal(dctr_seq_count(ids, NULL, 1, T), 2);
    /* max backward of an all-padding row routes nothing */
    float dout[B * K], dE[B * T * K];
    for (int i = 0; i < B * K; i++)
        dout[i] = 1.0f;
    memset(dE, 0, sizeof dE);
    dctr_seq_pool_backward(DCTR_COMBINER_MAX, dout, K, B, T, K, ids, NULL, am, dE);
    for (int i = 0; i < T * K; i++)
        assert_float_equal(dE[i], 0, 0);
    assert_float_equal(dE[(1 * T + 2) * K], 1, 0); /* row 1, col 0 -> t = 2 */
    assert_float_equal(dE[(1 * T + 0) * K + 1], 1, 0);
    assert_float_equal(dE[(1 * T + 1) * K], 0, 0); /* the hole */
}

static void test_max_ties_first(void **state) {
    (void)state;
    float E[1 * 3 * 1] = {2.0f, 5.0f, 5.0f}, out[1], dE[3] = {0};
    int64_t ids[3] = {1, 1, 1};
    int32_t am[1];
    float d = 1.0f;
    dctr_seq_pool_forward(DCTR_COMBINER_MAX, E, 1, 3, 1, ids, NULL, out, 1, am);
    assert_float_equal(out[0], 5, 0);
    assert_int_equal(am[0], 1);
    dctr_seq_pool_backward(DCTR_COMBINER_MAX, &d, 1, 1, 3, 1, ids, NULL, am, dE);
    assert_float_equal(dE[1], 1, 0);
    assert_float_equal(dE[2], 0, 0);
}

static void test_out_stride(void **state) {
    (void)state;
    float E[B * T * K], out[B * 5];
    int32_t len[B] = {1, 1, 1, 1};
    int64_t ids[B * T] = {0};
    fill_e(E);
    for (int i = 0; i < B * 5; i++)
        out[i] = -7.0f;
    dctr_seq_pool_forward(DCTR_COMBINER_SUM, E, B, T, K, ids, len, out + 1, 5, NULL);
    for (int b = 0; b < B; b++) {
        assert_float_equal(out[b * 5], -7.0f, 0);
        assert_float_equal(out[b * 5 + 1], 10 * b + 1, 0);
        assert_float_equal(out[b * 5 + 3], -7.0f, 0);
    }
}

/* ---- weighted sequence values ---- */

static void test_weighted_norm_values(void **state) {
    (void)state;
    /* one row, T = 4, k = 1, length 2: softmax over the first two weights only */
    float E[4] = {1, 2, 3, 4}, w[4] = {0.5f, 1.5f, 9.0f, 9.0f}, out[4], alpha[4], pooled;
    int64_t ids[4] = {1, 1, 1, 1};
    int32_t len[1] = {2};
    dctr_weighted_seq_forward(1, E, w, 1, 4, 1, ids, len, out, alpha);
    double a0 = exp(0.5) / (exp(0.5) + exp(1.5)), a1 = 1 - a0;
    assert_float_equal(alpha[0], a0, 1e-6);
    assert_float_equal(alpha[1], a1, 1e-6);
    assert_float_equal(alpha[2], 0, 0);
    assert_float_equal(alpha[3], 0, 0);
    assert_float_equal(out[1], 2 * a1, 1e-6);
    assert_float_equal(out[2], 0, 0);
    /* combiner mean divides by n again (upstream) */
    dctr_seq_pool_forward(DCTR_COMBINER_MEAN, out, 1, 4, 1, ids, len, &pooled, 1, NULL);
    assert_float_equal(pooled, (a0 * 1 + a1 * 2) / 2.0, 1e-6);
    /* id mask with a hole */
    int64_t ids2[4] = {3, 0, 5, 0};
    dctr_weighted_seq_forward(1, E, w, 1, 4, 1, ids2, NULL, out, alpha);
    double b0 = exp(0.5) / (exp(0.5) + exp(9.0));
    assert_float_equal(alpha[0], b0, 1e-6);
    assert_float_equal(alpha[1], 0, 0);
    assert_float_equal(alpha[2], 1 - b0, 1e-6);
    /* all invalid: uniform 1/T as upstream; the pooling mask then yields 0 */
    int32_t len0[1] = {0};
    dctr_weighted_seq_forward(1, E, w, 1, 4, 1, ids, len0, out, alpha);
    for (int t = 0; t < 4; t++)
        assert_float_equal(alpha[t], 0.25, 1e-7);
    dctr_seq_pool_forward(DCTR_COMBINER_SUM, out, 1, 4, 1, ids, len0, &pooled, 1, NULL);
    assert_float_equal(pooled, 0, 0);
}

static void test_weighted_raw_values(void **state) {
    (void)state;
    float E[4] = {1, 2, 3, 4}, w[4] = {0.5f, -1.5f, 9.0f, 2.0f}, out[4], alpha[4], pooled;
    int64_t ids[4] = {3, 0, 5, 6};
    dctr_weighted_seq_forward(0, E, w, 1, 4, 1, ids, NULL, out, alpha);
    assert_float_equal(out[0], 0.5, 0);
    assert_float_equal(out[1], 0, 0); /* invalid weight zeroed */
    assert_float_equal(out[2], 27, 0);
    assert_float_equal(out[3], 8, 0);
    dctr_seq_pool_forward(DCTR_COMBINER_SUM, out, 1, 4, 1, ids, NULL, &pooled, 1, NULL);
    assert_float_equal(pooled, 35.5, 1e-5);
}

/* ---- gradient checks: weighted (optional) -> pooling, loss = sum c * out ---- */

#define GB 3
#define GT 5
#define GK 3
typedef struct pool_ctx {
    dctr_combiner mode;
    int weighted; /* -1: none, 0: raw, 1: softmax */
    const int64_t *ids;
    const int32_t *lengths;
    float E[GB * GT * GK], w[GB * GT], c[GB * GK];
    float WE[GB * GT * GK], alpha[GB * GT], out[GB * GK];
    int32_t am[GB * GK];
} pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *x = p;
    const float *in = x->E;
    if (x->weighted >= 0) {
        dctr_weighted_seq_forward(x->weighted, x->E, x->w, GB, GT, GK, x->ids, x->lengths, x->WE,
                                  x->alpha);
        in = x->WE;
    }
    dctr_seq_pool_forward(x->mode, in, GB, GT, GK, x->ids, x->lengths, x->out, GK, x->am);
    return gc_dot(x->out, x->c, GB * GK);
}

static void run_pool_gradcheck(dctr_combiner mode, int weighted, const int64_t *ids,
                               const int32_t *lengths, uint64_t seed) {
    static pool_ctx x;
    dctr_rng rng;
    dctr_rng_init(&rng, seed, 0);
    memset(&x, 0, sizeof x);
    x.mode = mode;
    x.weighted = weighted;
    x.ids = ids;
    x.lengths = lengths;
    gc_fill(&rng, x.E, GB * GT * GK, -1, 1);
    gc_fill(&rng, x.w, GB * GT, -1, 1);
    gc_fill(&rng, x.c, GB * GK, -1, 1);
    pool_loss(&x);
    float dE[GB * GT * GK] = {0}, dWE[GB * GT * GK] = {0}, dw[GB * GT] = {0};
    if (weighted >= 0) {
        dctr_seq_pool_backward(mode, x.c, GK, GB, GT, GK, ids, lengths, x.am, dWE);
        dctr_weighted_seq_backward(weighted, dWE, x.E, x.alpha, GB, GT, GK, ids, lengths, dE, dw);
    } else {
        dctr_seq_pool_backward(mode, x.c, GK, GB, GT, GK, ids, lengths, x.am, dE);
    }
    assert_int_equal(gc_check_default("E", pool_loss, &x, x.E, dE, GB * GT * GK), 0);
    if (weighted >= 0)
        assert_int_equal(gc_check_default("w", pool_loss, &x, x.w, dw, GB * GT), 0);
}

/* rows: empty, holes, full (id mode); 0, 2, 7 > T (length mode) */
static const int64_t g_ids[GB * GT] = {0, 0, 0, 0, 0, 4, 0, 2, 0, 9, 1, 2, 3, 4, 5};
static const int32_t g_len[GB] = {0, 2, 7};

static void test_pool_gradients(void **state) {
    (void)state;
    for (int m = 0; m < 3; m++)
        for (int wmode = -1; wmode <= 1; wmode++) {
            run_pool_gradcheck((dctr_combiner)m, wmode, g_ids, NULL, 100 + m * 10 + wmode);
            run_pool_gradcheck((dctr_combiner)m, wmode, g_ids, g_len, 200 + m * 10 + wmode);
        }
}

/* Padding positions get exactly zero gradient in every mode. */
static void test_padding_gets_no_gradient(void **state) {
    (void)state;
    float E[GB * GT * GK], dWE[GB * GT * GK], dE[GB * GT * GK], dw[GB * GT], out[GB * GK],
        WE[GB * GT * GK], alpha[GB * GT], w[GB * GT], c[GB * GK];
    int32_t am[GB * GK];
    dctr_rng rng;
    dctr_rng_init(&rng, 5, 0);
    gc_fill(&rng, E, GB * GT * GK, -1, 1);
    gc_fill(&rng, w, GB * GT, -1, 1);
    gc_fill(&rng, c, GB * GK, -1, 1);
    for (int m = 0; m < 3; m++)
        for (int wn = 0; wn <= 1; wn++) {
            memset(dWE, 0, sizeof dWE);
            memset(dE, 0, sizeof dE);
            memset(dw, 0, sizeof dw);
            dctr_weighted_seq_forward(wn, E, w, GB, GT, GK, g_ids, NULL, WE, alpha);
            dctr_seq_pool_forward((dctr_combiner)m, WE, GB, GT, GK, g_ids, NULL, out, GK, am);
            dctr_seq_pool_backward((dctr_combiner)m, c, GK, GB, GT, GK, g_ids, NULL, am, dWE);
            dctr_weighted_seq_backward(wn, dWE, E, alpha, GB, GT, GK, g_ids, NULL, dE, dw);
            for (int i = 0; i < GB * GT; i++)
                if (g_ids[i] == 0) {
                    assert_float_equal(dw[i], 0, 0);
                    for (int j = 0; j < GK; j++)
                        assert_float_equal(dE[i * GK + j], 0, 0);
                }
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_mask),
        cmocka_unit_test(test_id_mask_holes),
        cmocka_unit_test(test_max_ties_first),
        cmocka_unit_test(test_out_stride),
        cmocka_unit_test(test_weighted_norm_values),
        cmocka_unit_test(test_weighted_raw_values),
        cmocka_unit_test(test_pool_gradients),
        cmocka_unit_test(test_padding_gets_no_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
