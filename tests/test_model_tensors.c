/* Named tensors (dctr_model_tensor_* in services.h) and the config's bn_eps: the table of a
 * DeepFM with BN, get / set round trips and their refusals, a prediction computed by hand from
 * set tensors under torch's eps 1e-5, bn_eps kept by save + load, and a config of the older
 * struct size (before bn_eps) still accepted with the Keras defaults. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/deepctr.h"
#include "sample_schemas.h"
#include "test_env.h"

/* Columns: dense "d", sparse "s" (V 3, k 2). Rows: d = 0.5, s = 1 and d = -2, s = 2. */
static const float dvals[2] = {0.5f, -2.0f};
static const int64_t sids[2] = {1, 2};

static void make_arrays(dctr_arrays *a, dctr_array_column cols[2]) {
    memset(cols, 0, 2 * sizeof cols[0]);
    cols[0] = (dctr_array_column){.column = -1, .name = "d", .values = dvals};
    cols[1] = (dctr_array_column){.column = -1, .name = "s", .ids = sids};
    dctr_arrays_init(a);
    a->num_rows = 2;
    a->columns = cols;
    a->num_columns = 2;
}

static dctr_model *make_model(float bn_eps, uint32_t struct_size) {
    dctr_arrays a;
    dctr_array_column cols[2];
    make_arrays(&a, cols);
    dctr_schema *s = sample_tiny_schema(&a);
    static const int32_t hidden[1] = {1};
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.task = DCTR_TASK_REGRESSION;
    cfg.hidden_units = hidden;
    cfg.num_hidden = 1;
    cfg.use_bn = 1;
    cfg.bn_eps = bn_eps;
    cfg.struct_size = struct_size;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_schema_free(s);
    return m;
}

static void test_tensor_table(void **state) {
    (void)state;
    dctr_model *m = make_model(1e-5f, sizeof(dctr_model_config));
    static const char *const want[] = {"embedding/s", "linear/s", "linear/dense_kernel", "dnn/0/kernel",
                                       "dnn/0/bias", "dnn/0/gamma", "dnn/0/beta", "dnn/0/moving_mean",
                                       "dnn/0/moving_variance", "output/kernel", "bias"};
    static const int64_t shape[][2] = {{3, 2}, {3, 1}, {1, 1}, {3, 1}, {1, 1}, {1, 1},
                                       {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
    const int32_t n = (int32_t)(sizeof want / sizeof want[0]);
    assert_int_equal(dctr_model_num_tensors(m), n);
    for (int32_t i = 0; i < n; i++) {
        assert_string_equal(dctr_model_tensor_name(m, i), want[i]);
        int64_t r = 0, c = 0;
        assert_int_equal(dctr_model_tensor_shape(m, want[i], &r, &c), DCTR_OK);
        assert_int_equal(r, shape[i][0]);
        assert_int_equal(c, shape[i][1]);
    }
    assert_null(dctr_model_tensor_name(m, n));
    assert_null(dctr_model_tensor_name(m, -1));
    /* round trip, and refusals that change nothing */
    const float emb[6] = {1, 2, 3, 4, 5, 6};
    float got[6] = {0};
    assert_int_equal(dctr_model_set_tensor(m, "embedding/s", emb, 6), DCTR_OK);
    assert_int_equal(dctr_model_get_tensor(m, "embedding/s", got, 6), DCTR_OK);
    assert_memory_equal(got, emb, sizeof emb);
    assert_int_equal(dctr_model_set_tensor(m, "embedding/s", emb, 5), DCTR_ERR_INVALID_ARG);
    assert_non_null(strstr(dctr_last_error(), "[3 x 2] = 6 values, got 5"));
    assert_int_equal(dctr_model_get_tensor(m, "embedding/s", got, 7), DCTR_ERR_INVALID_ARG);
    assert_int_equal(dctr_model_set_tensor(m, "embedding/nope", emb, 6), DCTR_ERR_RANGE);
    assert_non_null(strstr(dctr_last_error(), "embedding/nope"));
    const float bad[6] = {1, 2, NAN, 4, 5, 6};
    assert_int_equal(dctr_model_set_tensor(m, "embedding/s", bad, 6), DCTR_ERR_NUMERIC);
    const float neg = -1.0f;
    assert_int_equal(dctr_model_set_tensor(m, "dnn/0/moving_variance", &neg, 1), DCTR_ERR_RANGE);
    assert_int_equal(dctr_model_get_tensor(m, "embedding/s", got, 6), DCTR_OK);
    assert_memory_equal(got, emb, sizeof emb);
    dctr_model_free(m);
}

/* Every tensor set by hand: X = [emb(s), d], z = X . [0, 0, 1] + 0.25, BN(moving 0.1 / 0.01,
 * gamma 2, beta 0.5) with eps, relu, output kernel 3, linear d * 0.5 + table, bias 0.125. */
static void set_all(dctr_model *m) {
    const float zeros6[6] = {0}, lin_s[3] = {0.0f, 0.25f, -0.75f}, kernel[3] = {0, 0, 1};
    struct { const char *name; const float *v; int64_t n; } t[] = {
        {"embedding/s", zeros6, 6}, {"linear/s", lin_s, 3}, {"linear/dense_kernel", (const float[]){0.5f}, 1},
        {"dnn/0/kernel", kernel, 3}, {"dnn/0/bias", (const float[]){0.25f}, 1},
        {"dnn/0/gamma", (const float[]){2.0f}, 1}, {"dnn/0/beta", (const float[]){0.5f}, 1},
        {"dnn/0/moving_mean", (const float[]){0.1f}, 1}, {"dnn/0/moving_variance", (const float[]){0.01f}, 1},
        {"output/kernel", (const float[]){3.0f}, 1}, {"bias", (const float[]){0.125f}, 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(dctr_model_set_tensor(m, t[i].name, t[i].v, t[i].n), DCTR_OK);
}

static double by_hand(int row, double eps) {
    const double lin_s[3] = {0.0, 0.25, -0.75};
    double z = dvals[row] + 0.25;
    double bn = 2.0 * (z - 0.1) / sqrt(0.01 + eps) + 0.5;
    double h = bn > 0 ? bn : 0;
    return 3.0 * h + 0.5 * dvals[row] + lin_s[sids[row]] + 0.125;
}

static void predict2(const dctr_model *m, float out[2]) {
    dctr_predictor *p = NULL;
    assert_int_equal(dctr_predictor_new(m, 8, &p), DCTR_OK);
    dctr_arrays a;
    dctr_array_column cols[2];
    make_arrays(&a, cols);
    assert_int_equal(dctr_predictor_predict_arrays(p, &a, out, NULL), DCTR_OK);
    dctr_predictor_free(p);
}

static void test_prediction_from_set_tensors_uses_bn_eps(void **state) {
    (void)state;
    for (int e = 0; e < 2; e++) {
        const float eps = e == 0 ? 1e-5f : 1e-3f;
        dctr_model *m = make_model(eps, sizeof(dctr_model_config));
        set_all(m);
        float out[2];
        predict2(m, out);
        for (int r = 0; r < 2; r++)
            assert_float_equal(out[r], by_hand(r, eps), 1e-5 * fabs(by_hand(r, eps)) + 1e-6);
        /* save + load keeps bn_eps (meta version 2) and so the predictions */
        char path[512];
        dctr_test_tmp_path(path, sizeof path, "tensors_bn_eps.model");
        assert_int_equal(dctr_model_save(m, path, 0), DCTR_OK);
        dctr_model *l = NULL;
        assert_int_equal(dctr_model_load(path, &l), DCTR_OK);
        dctr_model_config lc;
        dctr_model_config_default(&lc, DCTR_MODEL_DEEPFM);
        assert_int_equal(dctr_model_get_config(l, &lc), DCTR_OK);
        assert_true(lc.bn_eps == eps);
        float out2[2];
        predict2(l, out2);
        assert_memory_equal(out, out2, sizeof out);
        dctr_model_free(l);
        dctr_model_free(m);
    }
    /* the two eps really give different predictions (row 0: 0.01 + eps matters at 1e-3) */
    assert_true(fabs(by_hand(0, 1e-5) - by_hand(0, 1e-3)) > 0.1);
}

static void test_older_config_struct_gets_defaults(void **state) {
    (void)state;
    dctr_model *m = make_model(1e-5f, (uint32_t)offsetof(dctr_model_config, bn_eps));
    dctr_model_config lc;
    memset(&lc, 0, sizeof lc);
    lc.struct_size = sizeof lc;
    assert_int_equal(dctr_model_get_config(m, &lc), DCTR_OK);
    assert_true(lc.bn_eps == 1e-3f); /* the caller's struct had no bn_eps: the default */
    assert_true(lc.bn_momentum == 0.99f);
    /* get_config into the older struct writes no further than its size */
    unsigned char buf[sizeof(dctr_model_config) + 16];
    memset(buf, 0xAB, sizeof buf);
    dctr_model_config *old = (dctr_model_config *)(void *)buf;
    old->struct_size = (uint32_t)offsetof(dctr_model_config, bn_eps);
    assert_int_equal(dctr_model_get_config(m, old), DCTR_OK);
    for (size_t i = offsetof(dctr_model_config, bn_eps); i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAB);
    dctr_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_table),
        cmocka_unit_test(test_prediction_from_set_tensors_uses_bn_eps),
        cmocka_unit_test(test_older_config_struct_gets_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
