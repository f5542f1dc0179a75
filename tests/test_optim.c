/* Optimizers: the first three steps of each equal values computed by hand in double precision
 * (gradients 0.1, -0.2, 0.3 on w0 = 0.5, Keras defaults), lazy row updates, clipping. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "optim/optim.h"

static const float grads[3] = {0.1f, -0.2f, 0.3f};

static void run3(dctr_optimizer_config *cfg, const double expect[3], double tol) {
    dctr_optim o;
    assert_int_equal(dctr_optim_init(&o, cfg), DCTR_OK);
    float w = 0.5f, s0 = 0, s1 = 0;
    float *slots[2] = {&s0, &s1};
    dctr_optim_init_slots(&o, slots, 1);
    for (int t = 1; t <= 3; t++) {
        dctr_optim_step st;
        dctr_optim_begin_step(&o, t, 1.0, &st);
        dctr_optim_update(&o, &st, &w, &grads[t - 1], slots, 1);
        assert_true(fabs((double)w - expect[t - 1]) <= tol);
    }
}

static void test_sgd(void **state) {
    (void)state;
    dctr_optimizer_config c;
    dctr_optimizer_config_default(&c, DCTR_OPT_SGD);
    /* w -= 0.01 g */
    run3(&c, (const double[]){0.499, 0.501, 0.498}, 1e-7);
    c.momentum = 0.9; /* v = 0.9 v - 0.01 g; w += v */
    run3(&c, (const double[]){0.499, 0.5001, 0.49809}, 1e-7);
}

static void test_adagrad(void **state) {
    (void)state;
    dctr_optimizer_config c;
    dctr_optimizer_config_default(&c, DCTR_OPT_ADAGRAD);
    /* a = 0.1 + g^2; w -= 1e-3 g / (sqrt(a) + 1e-7) */
    run3(&c, (const double[]){0.4996984887, 0.5002148864, 0.4996025141}, 2e-7);
}

static void test_adam(void **state) {
    (void)state;
    dctr_optimizer_config c;
    dctr_optimizer_config_default(&c, DCTR_OPT_ADAM);
    /* lr_t = 1e-3 sqrt(1 - 0.999^t) / (1 - 0.9^t); w -= lr_t m / (sqrt(v) + 1e-7) */
    run3(&c, (const double[]){0.4990000316, 0.49936613, 0.4990228918}, 2e-7);
}

static void test_rmsprop(void **state) {
    (void)state;
    dctr_optimizer_config c;
    dctr_optimizer_config_default(&c, DCTR_OPT_RMSPROP);
    run3(&c, (const double[]){0.4968377323, 0.4996948711, 0.4971042346}, 2e-7);
}

static void test_ftrl(void **state) {
    (void)state;
    dctr_optimizer_config c;
    dctr_optimizer_config_default(&c, DCTR_OPT_FTRL);
    c.l1 = 0.001;
    c.l2 = 0.01;
    run3(&c, (const double[]){0.02296279421, 0.02347916532, 0.02286681789}, 1e-7);
    /* A large l1 keeps the weight at exactly 0. */
    c.l1 = 10.0;
    run3(&c, (const double[]){0.0, 0.0, 0.0}, 0.0);
}

static void test_defaults_and_validation(void **state) {
    (void)state;
    dctr_optimizer_config c = {0};
    dctr_optim o;
    c.kind = DCTR_OPT_ADAM; /* zeroed struct: Keras defaults */
    assert_int_equal(dctr_optim_init(&o, &c), DCTR_OK);
    assert_true(o.lr == 1e-3 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-7);
    assert_int_equal(dctr_optim_slots(&o), 2);
    c.kind = DCTR_OPT_SGD;
    assert_int_equal(dctr_optim_init(&o, &c), DCTR_OK);
    assert_true(o.lr == 0.01);
    assert_int_equal(dctr_optim_slots(&o), 0);
    c.beta1 = 1.5;
    assert_int_equal(dctr_optim_init(&o, &c), DCTR_ERR_INVALID_ARG);
    c.beta1 = 0;
    c.kind = (dctr_optimizer_kind)42;
    assert_int_equal(dctr_optim_init(&o, &c), DCTR_ERR_INVALID_ARG);
}

/* A lazy row update touches only its row of the table and of the slots, and equals the dense
 * update of that row. */
static void test_row_update_is_lazy(void **state) {
    (void)state;
    dctr_optimizer_config c;
    dctr_optimizer_config_default(&c, DCTR_OPT_ADAM);
    dctr_optim o;
    assert_int_equal(dctr_optim_init(&o, &c), DCTR_OK);
    float table[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8}, m[8] = {0}, v[8] = {0};
    float *slots[2] = {m, v};
    float g[2] = {0.5f, -0.25f};
    dctr_optim_step st;
    dctr_optim_begin_step(&o, 1, 1.0, &st);
    dctr_optim_update_row(&o, &st, table, slots, 2, 2, g);
    float w2[2] = {5, 6}, m2[2] = {0}, v2[2] = {0};
    float *s2[2] = {m2, v2};
    dctr_optim_update(&o, &st, w2, g, s2, 2);
    assert_true(table[4] == w2[0] && table[5] == w2[1]);
    /* first Adam step moves each weight by lr * sign(g) (up to eps) */
    assert_true(fabs(table[4] - (5.0 - 1e-3)) < 1e-6 && fabs(table[5] - (6.0 + 1e-3)) < 1e-6);
    const float untouched[] = {1, 2, 3, 4, 7, 8};
    const int idx[] = {0, 1, 2, 3, 6, 7};
    for (int i = 0; i < 6; i++) {
        assert_true(table[idx[i]] == untouched[i]);
        assert_true(m[idx[i]] == 0 && v[idx[i]] == 0);
    }
}

static void test_clipnorm(void **state) {
    (void)state;
    dctr_optimizer_config c;
    dctr_optimizer_config_default(&c, DCTR_OPT_SGD);
    dctr_optim o;
    assert_int_equal(dctr_optim_init(&o, &c), DCTR_OK);
    assert_true(dctr_optim_clip_scale(&o, 100.0) == 1.0);
    c.clipnorm = 1.0;
    assert_int_equal(dctr_optim_init(&o, &c), DCTR_OK);
    float g[2] = {3, 4};
    double ss = dctr_sumsq(g, 2);
    assert_true(ss == 25.0);
    double scale = dctr_optim_clip_scale(&o, ss);
    assert_true(fabs(scale - 0.2) < 1e-15);
    assert_true(dctr_optim_clip_scale(&o, 0.25) == 1.0);
    /* clipped SGD step: w -= 0.01 * 0.2 * g */
    float w[2] = {0, 0};
    dctr_optim_step st;
    dctr_optim_begin_step(&o, 1, scale, &st);
    dctr_optim_update(&o, &st, w, g, NULL, 2);
    assert_true(fabs(w[0] + 0.006) < 1e-8 && fabs(w[1] + 0.008) < 1e-8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd),          cmocka_unit_test(test_adagrad),
        cmocka_unit_test(test_adam),         cmocka_unit_test(test_rmsprop),
        cmocka_unit_test(test_ftrl),         cmocka_unit_test(test_defaults_and_validation),
        cmocka_unit_test(test_row_update_is_lazy), cmocka_unit_test(test_clipnorm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
