/* Prediction layer, BCE / MSE (Keras values, clipping, sample weights) and L2, with
 * finite-difference gradients through prediction + loss. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "gradcheck.h"
#include "layers/embedding.h"
#include "layers/loss.h"
#include "layers/prediction.h"

static void test_prediction_values(void **state) {
    (void)state;
    float logit[4] = {0.0f, 2.0f, -100.0f, 100.0f}, pred[4], bias = 0.5f;
    dctr_prediction_forward(DCTR_TASK_BINARY, logit, NULL, 4, pred);
    assert_float_equal(pred[0], 0.5, 0);
    assert_float_equal(pred[1], 1 / (1 + exp(-2.0)), 1e-7);
    assert_true(pred[2] >= 0.0f && pred[2] < 1e-30f); /* no NaN / overflow at the extremes */
    assert_float_equal(pred[3], 1.0, 0);
    dctr_prediction_forward(DCTR_TASK_BINARY, logit, &bias, 2, pred);
    assert_float_equal(pred[0], 1 / (1 + exp(-0.5)), 1e-7);
    dctr_prediction_forward(DCTR_TASK_REGRESSION, logit, &bias, 4, pred);
    assert_float_equal(pred[1], 2.5, 0);
    assert_float_equal(pred[2], -99.5, 0);
    dctr_prediction_forward(DCTR_TASK_REGRESSION, logit, NULL, 1, pred);
    assert_float_equal(pred[0], 0.0, 0);
}

static void test_bce_keras_values(void **state) {
    (void)state;
    /* Keras docs: BinaryCrossentropy()([0,0,1,1], [1,1,1,0]) = 11.522857 (float32 clipping) */
    float y[4] = {0, 0, 1, 1}, p[4] = {1, 1, 1, 0}, d[4] = {0};
    assert_float_equal(dctr_loss_bce(p, y, NULL, 4, d), 11.522857, 2e-5);
    for (int i = 0; i < 4; i++) /* clipped everywhere: no gradient */
        assert_float_equal(d[i], 0, 0);
    float y2[2] = {1, 0}, p2[2] = {0.3f, 0.6f};
    double ref = -(log(0.3f + 1e-7f) + log(1.0f - 0.6f + 1e-7f)) / 2;
    assert_float_equal(dctr_loss_bce(p2, y2, NULL, 2, NULL), ref, 1e-6);
    /* sample weights: sum w l / B (Keras SUM_OVER_BATCH_SIZE, divisor B not sum w) */
    float w[2] = {2.0f, 0.5f};
    ref = -(2 * log(0.3f + 1e-7f) + 0.5 * log(1.0f - 0.6f + 1e-7f)) / 2;
    assert_float_equal(dctr_loss_bce(p2, y2, w, 2, NULL), ref, 1e-6);
    assert_float_equal(dctr_loss_bce(p2, y2, NULL, 0, NULL), 0, 0);
}

static void test_mse_and_l2_values(void **state) {
    (void)state;
    float y[3] = {1, 2, 3}, p[3] = {1.5f, 2, 1}, w[3] = {1, 3, 2}, d[3] = {0};
    assert_float_equal(dctr_loss_mse(p, y, NULL, 3, d), (0.25 + 0 + 4) / 3, 1e-7);
    assert_float_equal(d[0], 2 * 0.5 / 3, 1e-7);
    assert_float_equal(d[2], 2 * -2.0 / 3, 1e-7);
    assert_float_equal(dctr_loss_mse(p, y, w, 3, NULL), (0.25 + 0 + 8) / 3, 1e-7);
    float v[3] = {1, -2, 0.5f}, g[3] = {0};
    assert_float_equal(dctr_l2_dense(v, 3, 0.1f, g), 0.1 * 5.25, 1e-7);
    assert_float_equal(g[1], 2 * 0.1 * -2, 1e-7);
    assert_float_equal(dctr_l2_dense(v, 3, 0.0f, g), 0, 0);
    /* lazy L2: only the touched rows */
    float table[4 * 2] = {1, 1, 2, 2, 3, 3, 4, 4};
    dctr_sparse_grad sg;
    assert_int_equal(dctr_sparse_grad_init(&sg, 4, 2, 4), DCTR_OK);
    float *r = dctr_sparse_grad_row(&sg, 2);
    r[0] = 1.0f;
    assert_float_equal(dctr_l2_sparse(table, &sg, 0.5f), 0.5 * 18, 1e-6);
    assert_float_equal(r[0], 1 + 2 * 0.5 * 3, 1e-6);
    assert_float_equal(r[1], 2 * 0.5 * 3, 1e-6);
    assert_int_equal(sg.count, 1);
    dctr_sparse_grad_destroy(&sg);
    /* k = 8 (the lane-per-column path) and k = 1 (rows rotate over the eight sums): the value
     * is λ Σ w² over the touched rows, the gradient 2λw added to each */
    for (int dim = 1; dim <= 8; dim += 7) {
        float big[40 * 8];
        for (int i = 0; i < 40 * dim; i++)
            big[i] = 0.25f * (float)((i * 7) % 11) - 1.0f;
        assert_int_equal(dctr_sparse_grad_init(&sg, 40, dim, 40), DCTR_OK);
        double want = 0;
        for (int64_t id = 3; id < 40; id += 3) {
            float *row = dctr_sparse_grad_row(&sg, id);
            for (int j = 0; j < dim; j++) {
                row[j] = 0.5f;
                want += (double)big[id * dim + j] * big[id * dim + j];
            }
        }
        assert_float_equal(dctr_l2_sparse(big, &sg, 0.25f), 0.25 * want, 1e-9);
        for (int64_t i = 0; i < sg.count; i++)
            for (int j = 0; j < dim; j++)
                assert_true(sg.grad[i * dim + j] == 0.5f + 2.0f * 0.25f * big[sg.rows[i] * dim + j]);
        dctr_sparse_grad_destroy(&sg);
    }
}

#define B 6
typedef struct chain {
    dctr_task task;
    int mse;
    float logit[B], bias, y[B], w[B], pred[B];
} chain;

static double chain_loss(void *p) {
    chain *c = p;
    dctr_prediction_forward(c->task, c->logit, &c->bias, B, c->pred);
    return c->mse ? dctr_loss_mse(c->pred, c->y, c->w, B, NULL)
                  : dctr_loss_bce(c->pred, c->y, c->w, B, NULL);
}

static void run_chain(dctr_task task, int mse, uint64_t seed) {
    chain c;
    dctr_rng rng;
    dctr_rng_init(&rng, seed, 0);
    c.task = task;
    c.mse = mse;
    gc_fill(&rng, c.logit, B, -3, 3);
    gc_fill(&rng, c.w, B, 0.2, 2);
    for (int b = 0; b < B; b++)
        c.y[b] = task == DCTR_TASK_BINARY ? (float)(b % 2) : (float)(b * 0.3);
    c.bias = 0.2f;
    chain_loss(&c);
    float dpred[B] = {0}, dlogit[B] = {0}, dbias = 0;
    if (mse)
        dctr_loss_mse(c.pred, c.y, c.w, B, dpred);
    else
        dctr_loss_bce(c.pred, c.y, c.w, B, dpred);
    dctr_prediction_backward(task, c.pred, dpred, B, dlogit, &dbias);
    /* BCE in float32 has rounding ~1e-7 * loss / h: use a larger h there */
    assert_int_equal(gc_check("logit", chain_loss, &c, c.logit, dlogit, B, 2e-2, 1e-2, 1e-3), 0);
    assert_int_equal(gc_check("bias", chain_loss, &c, &c.bias, &dbias, 1, 2e-2, 1e-2, 1e-3), 0);
    chain_loss(&c); /* gc_check leaves pred at its last perturbed evaluation */
    if (task == DCTR_TASK_BINARY && !mse) /* near p - y for unclipped predictions */
        for (int b = 0; b < B; b++)
            assert_float_equal(dlogit[b], c.w[b] * (c.pred[b] - c.y[b]) / B, 1e-5);
}

static void test_gradients(void **state) {
    (void)state;
    run_chain(DCTR_TASK_BINARY, 0, 1);
    run_chain(DCTR_TASK_BINARY, 1, 2);
    run_chain(DCTR_TASK_REGRESSION, 1, 3);
}

static void test_saturated_sigmoid_kills_gradient(void **state) {
    (void)state;
    /* Keras: a saturated sigmoid (p == 1.0f) is clipped, so even a wrong label gets no gradient */
    float logit[1] = {40.0f}, pred[1], y[1] = {0}, dpred[1] = {0}, dlogit[1] = {0};
    dctr_prediction_forward(DCTR_TASK_BINARY, logit, NULL, 1, pred);
    assert_float_equal(pred[0], 1.0f, 0);
    double l = dctr_loss_bce(pred, y, NULL, 1, dpred);
    assert_float_equal(l, -log((double)(1.0f - (1.0f - 1e-7f) + 1e-7f)), 1e-6);
    dctr_prediction_backward(DCTR_TASK_BINARY, pred, dpred, 1, dlogit, NULL);
    assert_float_equal(dlogit[0], 0, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prediction_values),
        cmocka_unit_test(test_bce_keras_values),
        cmocka_unit_test(test_mse_and_l2_values),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_saturated_sigmoid_kills_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
