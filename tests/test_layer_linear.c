/* Linear part: dense kernel, 1-dim sparse tables, varlen composed from gather + pool, bias;
 * sparse-only, dense-only, both and none; finite-difference gradients. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "gradcheck.h"
#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/sequence_pool.h"

static void test_linear_values(void **state) {
    (void)state;
    /* B = 2, D = 5 (one long dense vector), ld 6 */
    float x[12] = {1, 2, 3, 4, 5, 99, -1, 0, 1, 0, 2, 99}, kern[5] = {0.5f, -1, 2, 0, 1};
    float table[4] = {0.1f, 0.2f, 0.3f, 0.4f}, bias = 0.25f, out[2];
    int64_t ids[2] = {3, 1};
    dctr_linear_dense_forward(x, 6, 2, 5, kern, NULL, out, 0); /* dense only */
    assert_float_equal(out[0], 0.5 - 2 + 6 + 0 + 5, 1e-6);
    assert_float_equal(out[1], -0.5 + 2 + 2, 1e-6);
    assert_int_equal(dctr_linear_sparse_forward(table, 4, ids, 2, out, 1), DCTR_OK); /* both */
    assert_float_equal(out[0], 9.5 + 0.4, 1e-6);
    assert_int_equal(dctr_linear_sparse_forward(table, 4, ids, 2, out, 0), DCTR_OK); /* sparse */
    assert_float_equal(out[1], 0.2, 1e-7);
    dctr_linear_dense_forward(x, 6, 2, 0, kern, NULL, out, 0); /* none -> 0 */
    assert_float_equal(out[0], 0, 0);
    dctr_linear_dense_forward(x, 6, 2, 0, kern, &bias, out, 0); /* none + bias */
    assert_float_equal(out[1], 0.25, 0);
    int64_t bad[1] = {4};
    assert_int_equal(dctr_linear_sparse_forward(table, 4, bad, 1, out, 0), DCTR_ERR_RANGE);
}

#define B 3
#define D 4
#define T 3
#define V 6
typedef struct lin_ctx {
    float x[B * (D + 1)], kern[D], bias, tab_s[V], tab_v[V], c[B], out[B];
    float E[B * T], pooled[B];
    int64_t sid[B], vid[B * T];
    int32_t am[B];
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *l = p;
    dctr_linear_dense_forward(l->x, D + 1, B, D, l->kern, &l->bias, l->out, 0);
    assert_int_equal(dctr_linear_sparse_forward(l->tab_s, V, l->sid, B, l->out, 1), DCTR_OK);
    assert_int_equal(dctr_embedding_gather(l->tab_v, V, 1, l->vid, B * T, l->E, 1), DCTR_OK);
    dctr_seq_pool_forward(DCTR_COMBINER_MAX, l->E, B, T, 1, l->vid, NULL, l->pooled, 1, l->am);
    for (int b = 0; b < B; b++)
        l->out[b] += l->pooled[b];
    return gc_dot(l->out, l->c, B);
}

static void test_linear_gradient(void **state) {
    (void)state;
    static lin_ctx l;
    dctr_rng rng;
    dctr_rng_init(&rng, 11, 0);
    gc_fill(&rng, l.x, B * (D + 1), -1, 1);
    gc_fill(&rng, l.kern, D, -1, 1);
    gc_fill(&rng, l.tab_s, V, -1, 1);
    gc_fill(&rng, l.tab_v, V, -1, 1);
    gc_fill(&rng, l.c, B, -1, 1);
    l.bias = 0.3f;
    int64_t sid[B] = {1, 1, 4}, vid[B * T] = {2, 5, 0, 0, 0, 0, 3, 3, 1};
    memcpy(l.sid, sid, sizeof sid);
    memcpy(l.vid, vid, sizeof vid);
    lin_loss(&l);
    float dkern[D] = {0}, dbias = 0, dx[B * (D + 1)] = {0}, dS[V] = {0}, dVt[V] = {0},
          dE[B * T] = {0};
    dctr_linear_dense_backward(l.c, l.x, D + 1, B, D, l.kern, dkern, &dbias, dx, D + 1);
    dctr_sparse_grad gs, gv;
    assert_int_equal(dctr_sparse_grad_init(&gs, V, 1, B), DCTR_OK);
    assert_int_equal(dctr_sparse_grad_init(&gv, V, 1, B * T), DCTR_OK);
    assert_int_equal(dctr_linear_sparse_backward(&gs, l.sid, B, l.c), DCTR_OK);
    dctr_seq_pool_backward(DCTR_COMBINER_MAX, l.c, 1, B, T, 1, l.vid, NULL, l.am, dE);
    assert_int_equal(dctr_embedding_scatter_seq(&gv, l.vid, NULL, B, T, dE), DCTR_OK);
    for (int64_t i = 0; i < gs.count; i++)
        dS[gs.rows[i]] = gs.grad[i];
    for (int64_t i = 0; i < gv.count; i++)
        dVt[gv.rows[i]] = gv.grad[i];
    assert_int_equal(gc_check_default("kernel", lin_loss, &l, l.kern, dkern, D), 0);
    assert_int_equal(gc_check_default("bias", lin_loss, &l, &l.bias, &dbias, 1), 0);
    assert_int_equal(gc_check_default("x", lin_loss, &l, l.x, dx, B * (D + 1)), 0);
    assert_int_equal(gc_check_default("sparse table", lin_loss, &l, l.tab_s, dS, V), 0);
    assert_int_equal(gc_check_default("varlen table", lin_loss, &l, l.tab_v, dVt, V), 0);
    dctr_sparse_grad_destroy(&gs);
    dctr_sparse_grad_destroy(&gv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_values),
        cmocka_unit_test(test_linear_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
