/* ctest-label: threads. The training step in row blocks (deepfm_step_blocks.c), serial and in
 * per-thread lanes, against the whole-batch step: same losses and gradients of every
 * parameter, to rounding, for DeepFM and FM, binary with sample weights and regression, a table
 * shared by two columns, dense inputs, and a batch of two full blocks and a ragged one; lanes
 * repeat bit for bit; an id out of range fails the step the same way (the first in row order). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/common.h"
#include "dfm_fixture.h"
#include "models/deepfm.h"
#include "models/deepfm_impl.h"
#include "models/model_types.h"

#define ROWS (2 * DFM_BLOCK_ROWS + 88)

static const fx_col cols[] = {
    {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 50, .k = 4},
    {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 50, .k = 4, .emb_name = "A"},
    {.name = "C", .kind = DCTR_COLUMN_SPARSE, .vocab = 30, .k = 4},
    {.name = "D", .kind = DCTR_COLUMN_DENSE},
    {.name = "E", .kind = DCTR_COLUMN_DENSE, .dense_dim = 3},
};

static void config(dctr_model_config *cfg, dctr_model_type type, dctr_task task) {
    static const int32_t hidden[2] = {16, 8};
    dctr_model_config_default(cfg, type);
    cfg->task = task;
    cfg->hidden_units = hidden;
    cfg->num_hidden = 2;
    cfg->l2_linear = 1e-3f;
    cfg->l2_embedding = 1e-3f;
    cfg->l2_dnn = 1e-3f;
}

/* |a - b| within rounding of sums taken in another order */
static void assert_close(double a, double b, const char *what, int64_t i, int threads) {
    if (fabs(a - b) > 1e-7 + 1e-4 * fmax(fabs(a), fabs(b)))
        fail_msg("%s %lld (%d threads): blocked %.9g, whole batch %.9g", what, (long long)i,
                 threads, a, b);
}

/* A model of cfg on s training on `threads` (whole: always the whole-batch pass). */
static dctr_model *model_on(const dctr_schema *s, const dctr_model_config *cfg, int threads,
                            int whole) {
    dctr_model *m = fx_model(s, cfg);
    assert_int_equal(m->ops->set_threads(m, threads), DCTR_OK);
    dctr_deepfm_set_whole_batch(m, whole);
    return m;
}

/* The blocked step (1 thread) and the lanes (2, 3 and 7 threads: a full block and a ragged one
 * per lane, one ragged block, lanes of 85 / 86 rows) against the whole-batch pass. */
static void same_step(dctr_model_type type, dctr_task task, int weights) {
    dctr_schema *s = fx_schema(cols, 5);
    dctr_model_config cfg;
    config(&cfg, type, task);
    dctr_batch *b = fx_batch(s, ROWS, 17, task == DCTR_TASK_REGRESSION, weights);
    dctr_model *whole = model_on(s, &cfg, 1, 1);
    assert_false(dfm_step_blocked(whole, b));
    assert_false(dfm_step_lanes(whole, b));
    double dl2 = 0, rl2 = 0;
    assert_int_equal(dctr_deepfm_compute_gradients(whole, b, &dl2, &rl2), DCTR_OK);
    int64_t n2 = 0;
    const float *p2 = dctr_deepfm_params(whole, &n2);
    static const int threads[] = {1, 2, 3, 7};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        dctr_model *m = model_on(s, &cfg, threads[t], 0);
        assert_true(threads[t] == 1 ? dfm_step_blocked(m, b) : dfm_step_lanes(m, b));
        double dl1 = 0, rl1 = 0;
        assert_int_equal(dctr_deepfm_compute_gradients(m, b, &dl1, &rl1), DCTR_OK);
        assert_true(dl1 > 0 && rl1 > 0);
        assert_close(dl1, dl2, "data loss", 0, threads[t]);
        assert_close(rl1, rl2, "regularization", 0, threads[t]);
        int64_t n1 = 0;
        const float *p1 = dctr_deepfm_params(m, &n1);
        assert_int_equal(n1, n2);
        assert_memory_equal(p1, p2, sizeof(float) * (size_t)n1);
        int64_t nonzero = 0;
        for (int64_t i = 0; i < n1; i++) {
            float g1 = dctr_deepfm_grad_at(m, i), g2 = dctr_deepfm_grad_at(whole, i);
            assert_close(g1, g2, "gradient of parameter", i, threads[t]);
            nonzero += g1 != 0.0f;
        }
        assert_true(nonzero > n1 / 2); /* the batch touches most of the small tables */
        dctr_model_free(m);
    }
    dctr_batch_free(b);
    dctr_model_free(whole);
    dctr_schema_free(s);
}

/* Same threads, same data: the lanes' sums are taken in a fixed order (the docs promise
 * bit-identical training for an unchanged setup). */
static void test_lanes_repeat_bit_for_bit(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 5);
    dctr_model_config cfg;
    config(&cfg, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY);
    dctr_batch *b = fx_batch(s, ROWS, 23, 0, 1);
    dctr_model *m1 = model_on(s, &cfg, 3, 0), *m2 = model_on(s, &cfg, 3, 0);
    double dl1 = 0, rl1 = 0, dl2 = 0, rl2 = 0;
    for (int step = 0; step < 3; step++) { /* the pool's threads pick up other lanes each time */
        assert_int_equal(m1->ops->train_step(m1, b, &dl1, &rl1, NULL), DCTR_OK);
        assert_int_equal(m2->ops->train_step(m2, b, &dl2, &rl2, NULL), DCTR_OK);
        assert_true(dl1 == dl2 && rl1 == rl2);
    }
    assert_int_equal(dctr_deepfm_compute_gradients(m1, b, &dl1, &rl1), DCTR_OK);
    assert_int_equal(dctr_deepfm_compute_gradients(m2, b, &dl2, &rl2), DCTR_OK);
    int64_t n = 0;
    const float *p1 = dctr_deepfm_params(m1, &n), *p2 = dctr_deepfm_params(m2, NULL);
    assert_memory_equal(p1, p2, sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        assert_true(dctr_deepfm_grad_at(m1, i) == dctr_deepfm_grad_at(m2, i));
    dctr_batch_free(b);
    dctr_model_free(m1);
    dctr_model_free(m2);
    dctr_schema_free(s);
}

static void test_deepfm_binary_weighted(void **state) {
    (void)state;
    same_step(DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY, 1);
}

static void test_deepfm_regression(void **state) {
    (void)state;
    same_step(DCTR_MODEL_DEEPFM, DCTR_TASK_REGRESSION, 0);
}

static void test_fm_binary(void **state) {
    (void)state;
    same_step(DCTR_MODEL_FM, DCTR_TASK_BINARY, 0);
}

/* A DNN whose rows share batch statistics (BN) or draw dropout masks keeps the whole batch. */
static void test_batch_coupled_dnn_keeps_whole_batch(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 5);
    dctr_batch *b = fx_batch(s, ROWS, 5, 0, 0);
    for (int variant = 0; variant < 2; variant++) {
        dctr_model_config cfg;
        config(&cfg, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY);
        if (variant == 0)
            cfg.use_bn = 1;
        else
            cfg.dropout = 0.2f;
        dctr_model *m = fx_model(s, &cfg), *m2 = model_on(s, &cfg, 2, 0);
        assert_false(dfm_step_blocked(m, b));
        assert_false(dfm_step_lanes(m2, b));
        dctr_model_free(m);
        dctr_model_free(m2);
    }
    dctr_batch_free(b);
    dctr_schema_free(s);
}

/* An id out of range fails the step naming its column, and the next step runs from clean
 * accumulators; with lanes, the failure first in row order is the one reported. */
static void test_bad_id_in_last_block(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 5);
    dctr_model_config cfg;
    config(&cfg, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY);
    for (int threads = 1; threads <= 2; threads++) {
        dctr_model *m = model_on(s, &cfg, threads, 0);
        dctr_batch *b = fx_batch(s, ROWS, 3, 0, 0);
        b->cols[2].ids[ROWS - 1] = 30; /* C's vocabulary is [0, 30) */
        double dl = 0, rl = 0;
        assert_int_equal(dctr_deepfm_compute_gradients(m, b, &dl, &rl), DCTR_ERR_RANGE);
        assert_non_null(strstr(dctr_last_error(), "'C'"));
        b->cols[0].ids[1] = 50; /* A's vocabulary is [0, 50): in the first block and lane */
        assert_int_equal(dctr_deepfm_compute_gradients(m, b, &dl, &rl), DCTR_ERR_RANGE);
        assert_non_null(strstr(dctr_last_error(), "'A'"));
        b->cols[0].ids[1] = 49;
        b->cols[2].ids[ROWS - 1] = 29; /* fixed */
        if (dctr_deepfm_compute_gradients(m, b, &dl, &rl) != DCTR_OK)
            fail_msg("%d threads: %s", threads, dctr_last_error());
        dctr_model *ref = model_on(s, &cfg, 1, 1);
        double dl2 = 0, rl2 = 0;
        assert_int_equal(dctr_deepfm_compute_gradients(ref, b, &dl2, &rl2), DCTR_OK);
        int64_t n = 0;
        dctr_deepfm_params(m, &n);
        for (int64_t i = 0; i < n; i++)
            assert_close(dctr_deepfm_grad_at(m, i), dctr_deepfm_grad_at(ref, i), "gradient", i,
                         threads);
        dctr_model_free(ref);
        dctr_batch_free(b);
        dctr_model_free(m);
    }
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepfm_binary_weighted),
        cmocka_unit_test(test_deepfm_regression),
        cmocka_unit_test(test_fm_binary),
        cmocka_unit_test(test_batch_coupled_dnn_keeps_whole_batch),
        cmocka_unit_test(test_bad_id_in_last_block),
        cmocka_unit_test(test_lanes_repeat_bit_for_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
