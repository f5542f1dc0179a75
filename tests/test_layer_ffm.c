/* FFM interaction: equals the naive triple loop, pair-vector form, gradients to W and x. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "gradcheck.h"
#include "layers/ffm.h"

#define NB 5
#define NF 6
#define NK 4
#define WS (NF * NF * NK + 3)
#define XS (NF + 1)

static double naive(const float *W, const float *x, float r, int F, int k) {
    double s = 0.0;
    for (int f1 = 0; f1 < F; f1++)
        for (int f2 = f1 + 1; f2 < F; f2++)
            for (int j = 0; j < k; j++)
                s += (double)W[(f1 * F + f2) * k + j] * W[(f2 * F + f1) * k + j] * x[f1] * x[f2];
    return s * r;
}

typedef struct ffm_ctx {
    float W[NB * WS], x[NB * XS], r[NB], c[NB], out[NB];
    float cp[NB * NF * (NF - 1) / 2], pairs[NB * NF * (NF - 1) / 2];
    int use_x, use_r, pair_form;
} ffm_ctx;

static void setup(ffm_ctx *c, uint64_t seed) {
    dctr_rng rng;
    dctr_rng_init(&rng, seed, 0);
    memset(c, 0, sizeof *c);
    gc_fill(&rng, c->W, NB * WS, -1, 1);
    gc_fill(&rng, c->x, NB * XS, 0.2, 1.5);
    gc_fill(&rng, c->c, NB, -1, 1);
    gc_fill(&rng, c->cp, NB * NF * (NF - 1) / 2, -1, 1);
    dctr_ffm_instance_norm(c->x, XS, NB, NF, c->r);
}

static void test_ffm_equals_naive(void **state) {
    (void)state;
    static ffm_ctx c;
    setup(&c, 1);
    float out[NB], ones[NF];
    for (int f = 0; f < NF; f++)
        ones[f] = 1;
    dctr_ffm_forward(c.W, WS, c.x, XS, c.r, NB, NF, NK, out, 0);
    for (int b = 0; b < NB; b++) {
        double s2 = 0;
        for (int f = 0; f < NF; f++)
            s2 += (double)c.x[b * XS + f] * c.x[b * XS + f];
        assert_float_equal(c.r[b], 1.0 / s2, 1e-6 / s2);
        double ref = naive(c.W + b * WS, c.x + b * XS, c.r[b], NF, NK);
        assert_true(fabs(out[b] - ref) <= 1e-5 * fabs(ref) + 1e-6);
    }
    dctr_ffm_forward(c.W, WS, NULL, 0, NULL, NB, NF, NK, out, 0);
    for (int b = 0; b < NB; b++) {
        double ref = naive(c.W + b * WS, ones, 1.0f, NF, NK);
        assert_true(fabs(out[b] - ref) <= 1e-5 * fabs(ref) + 1e-6);
    }
    /* the pair vector sums to phi, in (0,1), (0,2), ... order */
    int64_t np = dctr_ffm_num_pairs(NF);
    assert_int_equal(np, 15);
    dctr_ffm_pairs_forward(c.W, WS, c.x, XS, c.r, NB, NF, NK, c.pairs, np);
    dctr_ffm_forward(c.W, WS, c.x, XS, c.r, NB, NF, NK, out, 0);
    for (int b = 0; b < NB; b++) {
        double s = 0;
        for (int p = 0; p < np; p++)
            s += c.pairs[b * np + p];
        assert_float_equal(s, out[b], 1e-5);
        const float *w = c.W + b * WS, *xv = c.x + b * XS;
        double p02 = 0;
        for (int j = 0; j < NK; j++)
            p02 += (double)w[(0 * NF + 2) * NK + j] * w[(2 * NF + 0) * NK + j];
        assert_float_equal(c.pairs[b * np + 1], p02 * xv[0] * xv[2] * c.r[b], 1e-5);
    }
    /* x == NULL normalisation = 1/F; zero row -> 1 */
    float r[1], zero[NF] = {0};
    dctr_ffm_instance_norm(NULL, 0, 1, NF, r);
    assert_float_equal(r[0], 1.0 / NF, 1e-7);
    dctr_ffm_instance_norm(zero, NF, 1, NF, r);
    assert_float_equal(r[0], 1, 0);
}

static double ffm_loss(void *p) {
    ffm_ctx *c = p;
    const float *x = c->use_x ? c->x : NULL;
    const float *r = c->use_r ? c->r : NULL;
    if (c->pair_form) {
        int64_t np = dctr_ffm_num_pairs(NF);
        dctr_ffm_pairs_forward(c->W, WS, x, XS, r, NB, NF, NK, c->pairs, np);
        return gc_dot(c->pairs, c->cp, NB * np);
    }
    dctr_ffm_forward(c->W, WS, x, XS, r, NB, NF, NK, c->out, 0);
    return gc_dot(c->out, c->c, NB);
}

static void test_ffm_gradients(void **state) {
    (void)state;
    static ffm_ctx c;
    static float dW[NB * WS], dx[NB * XS];
    for (int variant = 0; variant < 6; variant++) {
        setup(&c, 10 + variant);
        c.use_x = variant & 1;
        c.use_r = (variant >> 1) & 1;
        c.pair_form = variant >= 4;
        memset(dW, 0, sizeof dW);
        memset(dx, 0, sizeof dx);
        const float *x = c.use_x ? c.x : NULL;
        const float *r = c.use_r ? c.r : NULL;
        if (c.pair_form)
            dctr_ffm_pairs_backward(c.cp, dctr_ffm_num_pairs(NF), c.W, WS, x, XS, r, NB, NF, NK,
                                    dW, WS, c.use_x ? dx : NULL, XS);
        else
            dctr_ffm_backward(c.c, c.W, WS, x, XS, r, NB, NF, NK, dW, WS, c.use_x ? dx : NULL, XS);
        assert_int_equal(gc_check_default("W", ffm_loss, &c, c.W, dW, NB * WS), 0);
        if (c.use_x && !c.use_r) /* r is a constant of the data: check dx without it */
            assert_int_equal(gc_check_default("x", ffm_loss, &c, c.x, dx, NB * XS), 0);
        /* the diagonal blocks W[f][f] are never used */
        for (int b = 0; b < NB; b++)
            for (int f = 0; f < NF; f++)
                for (int j = 0; j < NK; j++)
                    assert_float_equal(dW[b * WS + (f * NF + f) * NK + j], 0, 0);
    }
}

/* With r: dx holds r * d(phi/r)/dx (r constant), checked against a fixed-r loss. */
static void test_ffm_dx_with_constant_r(void **state) {
    (void)state;
    static ffm_ctx c;
    static float dx[NB * XS];
    setup(&c, 99);
    c.use_x = 1;
    c.use_r = 1;
    memset(dx, 0, sizeof dx);
    dctr_ffm_backward(c.c, c.W, WS, c.x, XS, c.r, NB, NF, NK, NULL, 0, dx, XS);
    /* r is not recomputed inside ffm_loss, so it stays constant while x moves */
    assert_int_equal(gc_check_default("x|r", ffm_loss, &c, c.x, dx, NB * XS), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ffm_equals_naive),
        cmocka_unit_test(test_ffm_gradients),
        cmocka_unit_test(test_ffm_dx_with_constant_r),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
