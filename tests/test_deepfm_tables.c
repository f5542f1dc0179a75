/* ctest-label: threads. DeepFM's per-table sparse path (no varlen column: scatter + L2 + update
 * run one table per pool task): finite-difference gradient check with L2 and a table shared by
 * two columns, at 1 and 2 threads, and bit-identical training for the same seed and threads;
 * the DNN's GEMMs split on the pool agree with the serial ones. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "dfm_fixture.h"
#include "models/deepfm.h"
#include "models/deepfm_impl.h"
#include "models/model_types.h"

static const fx_col COLS[] = {
    {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 4, .k = 2, .init_std = 0.3f},
    {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 3, .k = 2, .init_std = 0.3f},
    {.name = "C", .kind = DCTR_COLUMN_SPARSE, .vocab = 4, .k = 2, .emb_name = "A", .init_std = 0.3f},
    {.name = "E", .kind = DCTR_COLUMN_SPARSE, .vocab = 5, .k = 2, .init_std = 0.3f},
    {.name = "D", .kind = DCTR_COLUMN_DENSE, .dense_dim = 2},
    {.name = "F", .kind = DCTR_COLUMN_DENSE},
};

static void config(dctr_model_config *cfg, const int32_t *hidden) {
    dctr_model_config_default(cfg, DCTR_MODEL_DEEPFM);
    cfg->hidden_units = hidden;
    cfg->num_hidden = 2;
    cfg->activation = DCTR_ACT_TANH;
    cfg->l2_linear = 0.01f;
    cfg->l2_embedding = 0.02f;
    cfg->l2_dnn = 0.03f;
}

static double total_loss(dctr_model *m, const dctr_batch *b) {
    double dl = 0, rl = 0;
    assert_int_equal(dctr_deepfm_compute_gradients(m, b, &dl, &rl), DCTR_OK);
    return dl + rl;
}

static void test_gradient_check_per_table(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(COLS, 6);
    const int32_t hidden[2] = {3, 2};
    for (int threads = 1; threads <= 2; threads++) {
        dctr_model_config cfg;
        config(&cfg, hidden);
        dctr_model *m = fx_model(s, &cfg);
        assert_int_equal(m->ops->set_threads(m, threads), DCTR_OK);
        int64_t n = 0;
        float *P = dctr_deepfm_params(m, &n);
        /* non-zero linear weights so their L2 terms show */
        for (int64_t i = 0; i < n; i++)
            if (P[i] == 0.0f)
                P[i] = 0.01f * (float)((i % 7) - 3);
        /* >= DFM_TABLES_POOL_MIN_ROWS (and several 256-row scatter blocks): at 2 threads the
         * tables, the row-split forward and the FM backward all run on the pool */
        dctr_batch *b = fx_batch(s, DFM_TABLES_POOL_MIN_ROWS + 100, 11, 0, 1);
        float *ga = dctr_alloc_floats((size_t)n);
        assert_non_null(ga);
        (void)total_loss(m, b);
        for (int64_t i = 0; i < n; i++)
            ga[i] = dctr_deepfm_grad_at(m, i);
        const char *must[] = {"emb:A", "emb:B", "emb:E", "lin:A", "lin:B", "lin:E"};
        for (int t = 0; t < 6; t++) {
            int64_t cnt = 0, off = dctr_deepfm_tensor(m, must[t], &cnt), nz = 0;
            assert_true(off >= 0);
            for (int64_t i = off; i < off + cnt; i++)
                nz += ga[i] != 0.0f;
            assert_true(nz > 0);
        }
        const float eps = 1e-3f;
        for (int64_t i = 0; i < n; i++) {
            float keep = P[i];
            P[i] = keep + eps;
            double lp = total_loss(m, b);
            P[i] = keep - eps;
            double lm = total_loss(m, b);
            P[i] = keep;
            double num = (lp - lm) / (2.0 * (double)eps);
            double err = fabs(num - ga[i]) / (1e-3 + 0.02 * fmax(fabs(num), fabs(ga[i])));
            if (err > 1.0)
                fail_msg("threads %d param %lld: analytic %.6g numeric %.6g", threads, (long long)i,
                         (double)ga[i], num);
        }
        dctr_aligned_free(ga);
        dctr_batch_free(b);
        dctr_model_free(m);
    }
    dctr_schema_free(s);
}

static void train(dctr_model *m, const dctr_schema *s, int steps, double *reg) {
    for (int i = 0; i < steps; i++) {
        dctr_batch *b = fx_batch(s, DFM_TABLES_POOL_MIN_ROWS, 100 + (uint64_t)i, 0, 0);
        double dl = 0;
        assert_int_equal(m->ops->train_step(m, b, &dl, &reg[i], NULL), DCTR_OK);
        assert_true(isfinite(dl) && reg[i] > 0);
        dctr_batch_free(b);
    }
}

static void test_same_threads_bit_identical(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(COLS, 6);
    const int32_t hidden[2] = {8, 4};
    for (int threads = 1; threads <= 2; threads++) {
        dctr_model_config cfg;
        config(&cfg, hidden);
        cfg.optimizer.kind = DCTR_OPT_ADAM;
        dctr_model *m1 = fx_model(s, &cfg), *m2 = fx_model(s, &cfg);
        assert_int_equal(m1->ops->set_threads(m1, threads), DCTR_OK);
        assert_int_equal(m2->ops->set_threads(m2, threads), DCTR_OK);
        double r1[6], r2[6];
        train(m1, s, 6, r1);
        train(m2, s, 6, r2);
        assert_memory_equal(r1, r2, sizeof r1);
        int64_t n1, n2;
        float *p1 = dctr_deepfm_params(m1, &n1), *p2 = dctr_deepfm_params(m2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(p1, p2, sizeof(float) * (size_t)n1);
        dctr_model_free(m1);
        dctr_model_free(m2);
    }
    dctr_schema_free(s);
}

/* At 2 threads a batch of >= 128 rows splits the DNN's GEMMs on the pool (rows; dW over
 * output columns): gradients agree with the serial ones to rounding, and repeat bit for bit. */
static void test_pooled_dnn_matches_serial(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(COLS, 6);
    const int32_t hidden[2] = {64, 32}; /* >= 32 units: the activation backward splits too */
    dctr_model_config cfg;
    config(&cfg, hidden);
    cfg.activation = DCTR_ACT_RELU;
    dctr_model *m1 = fx_model(s, &cfg), *m2 = fx_model(s, &cfg);
    assert_int_equal(m2->ops->set_threads(m2, 2), DCTR_OK);
    dctr_batch *b = fx_batch(s, 300, 5, 0, 0);
    double l1 = total_loss(m1, b), l2 = total_loss(m2, b);
    assert_true(fabs(l1 - l2) <= 1e-6 * fabs(l1));
    int64_t n = 0;
    (void)dctr_deepfm_params(m1, &n);
    float *g2 = dctr_alloc_floats((size_t)n);
    assert_non_null(g2);
    int64_t dnn = dctr_deepfm_tensor(m1, "dnn", NULL);
    assert_true(dnn >= 0);
    for (int64_t i = 0; i < n; i++) {
        float a = dctr_deepfm_grad_at(m1, i), c = dctr_deepfm_grad_at(m2, i);
        g2[i] = c;
        if (fabsf(a - c) > 1e-5f + 1e-4f * fabsf(a))
            fail_msg("param %lld: serial %.8g pooled %.8g", (long long)i, (double)a, (double)c);
    }
    assert_true(total_loss(m2, b) == l2);
    for (int64_t i = 0; i < n; i++)
        assert_true(dctr_deepfm_grad_at(m2, i) == g2[i]);
    dctr_aligned_free(g2);
    dctr_batch_free(b);
    dctr_model_free(m1);
    dctr_model_free(m2);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_check_per_table),
        cmocka_unit_test(test_same_threads_bit_identical),
        cmocka_unit_test(test_pooled_dnn_matches_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
