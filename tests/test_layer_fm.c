/* FM: the O(Fk) form equals the pairwise sum; gradients by finite differences; strides. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "gradcheck.h"
#include "layers/fm.h"

static double pairwise(const float *v, int F, int k) {
    double s = 0.0;
    for (int f = 0; f < F; f++)
        for (int g = f + 1; g < F; g++)
            for (int j = 0; j < k; j++)
                s += (double)v[f * k + j] * v[g * k + j];
    return s;
}

static void test_fm_equals_pairwise(void **state) {
    (void)state;
    const int Bn = 64, F = 39, k = 8, stride = F * k + 5; /* a slice of a wider row */
    float *V = dctr_alloc_floats((size_t)Bn * stride), *out = dctr_alloc_floats(Bn);
    dctr_rng rng;
    dctr_rng_init(&rng, 42, 0);
    gc_fill(&rng, V, (int64_t)Bn * stride, -1, 1);
    dctr_fm_forward(V + 3, stride, Bn, F, k, out, 0);
    for (int b = 0; b < Bn; b++) {
        double ref = pairwise(V + 3 + (int64_t)b * stride, F, k);
        assert_true(fabs(out[b] - ref) <= 1e-5 * fabs(ref) + 1e-4); /* rtol 1e-5 (+ cancellation floor) */
    }
    /* accumulate adds */
    float before = out[0];
    dctr_fm_forward(V + 3, stride, 1, F, k, out, 1);
    assert_float_equal(out[0], 2 * before, 1e-4 * fabs(before) + 1e-5);
    /* F < 2 gives 0 */
    dctr_fm_forward(V, stride, 1, 1, k, out, 0);
    assert_float_equal(out[0], 0, 0);
    dctr_aligned_free(V);
    dctr_aligned_free(out);
}

static void test_fm_hand_value(void **state) {
    (void)state;
    float V[6] = {1, 2, 3, 4, 5, 6}, out; /* F = 3, k = 2 */
    dctr_fm_forward(V, 6, 1, 3, 2, &out, 0);
    /* <v0,v1> + <v0,v2> + <v1,v2> = 11 + 17 + 39 */
    assert_float_equal(out, 67, 1e-5);
}

#define GB 3
#define GF 4
#define GK 3
#define GS (GF * GK + 2)
typedef struct fm_ctx {
    float V[GB * GS], c[GB], out[GB];
} fm_ctx;

static double fm_loss(void *p) {
    fm_ctx *x = p;
    dctr_fm_forward(x->V + 1, GS, GB, GF, GK, x->out, 0);
    return gc_dot(x->out, x->c, GB);
}

static void test_fm_gradient(void **state) {
    (void)state;
    fm_ctx x;
    float dV[GB * GS] = {0};
    dctr_rng rng;
    dctr_rng_init(&rng, 7, 0);
    gc_fill(&rng, x.V, GB * GS, -1, 1);
    gc_fill(&rng, x.c, GB, -1, 1);
    dctr_fm_backward(x.c, x.V + 1, GS, GB, GF, GK, dV + 1, GS);
    assert_int_equal(gc_check_default("V", fm_loss, &x, x.V, dV, GB * GS), 0);
    /* columns outside the group slice get nothing */
    for (int b = 0; b < GB; b++) {
        assert_float_equal(dV[b * GS], 0, 0);
        assert_float_equal(dV[b * GS + GS - 1], 0, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fm_equals_pairwise),
        cmocka_unit_test(test_fm_hand_value),
        cmocka_unit_test(test_fm_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
