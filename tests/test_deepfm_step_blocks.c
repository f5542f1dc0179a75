/* The serial training step in row blocks (deepfm_step_blocks.c) against the whole-batch step:
 * same losses and gradients of every parameter, to rounding, for DeepFM and FM, binary with
 * sample weights and regression, a table shared by two columns, dense inputs, and a batch of
 * two full blocks and a ragged one; an id out of range in the last block fails the step the
 * same way. */
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
static void assert_close(double a, double b, const char *what, int64_t i) {
    if (fabs(a - b) > 1e-7 + 1e-4 * fmax(fabs(a), fabs(b)))
        fail_msg("%s %lld: blocked %.9g, whole batch %.9g", what, (long long)i, a, b);
}

static void same_step(dctr_model_type type, dctr_task task, int weights) {
    dctr_schema *s = fx_schema(cols, 5);
    dctr_model_config cfg;
    config(&cfg, type, task);
    dctr_model *blocked = fx_model(s, &cfg), *whole = fx_model(s, &cfg);
    assert_int_equal(blocked->ops->set_threads(blocked, 1), DCTR_OK);
    assert_int_equal(whole->ops->set_threads(whole, 2), DCTR_OK); /* the pool: whole batch */
    dctr_batch *b = fx_batch(s, ROWS, 17, task == DCTR_TASK_REGRESSION, weights);
    assert_true(dfm_step_blocked(blocked, b));
    assert_false(dfm_step_blocked(whole, b));

    double dl1 = 0, rl1 = 0, dl2 = 0, rl2 = 0;
    assert_int_equal(dctr_deepfm_compute_gradients(blocked, b, &dl1, &rl1), DCTR_OK);
    assert_int_equal(dctr_deepfm_compute_gradients(whole, b, &dl2, &rl2), DCTR_OK);
    assert_true(dl1 > 0 && rl1 > 0);
    assert_close(dl1, dl2, "data loss", 0);
    assert_close(rl1, rl2, "regularization", 0);
    int64_t n1 = 0, n2 = 0;
    const float *p1 = dctr_deepfm_params(blocked, &n1), *p2 = dctr_deepfm_params(whole, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(p1, p2, sizeof(float) * (size_t)n1);
    int64_t nonzero = 0;
    for (int64_t i = 0; i < n1; i++) {
        float g1 = dctr_deepfm_grad_at(blocked, i), g2 = dctr_deepfm_grad_at(whole, i);
        assert_close(g1, g2, "gradient of parameter", i);
        nonzero += g1 != 0.0f;
    }
    assert_true(nonzero > n1 / 2); /* the batch touches most of the small tables */

    dctr_batch_free(b);
    dctr_model_free(blocked);
    dctr_model_free(whole);
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
        dctr_model *m = fx_model(s, &cfg);
        assert_false(dfm_step_blocked(m, b));
        dctr_model_free(m);
    }
    dctr_batch_free(b);
    dctr_schema_free(s);
}

static void test_bad_id_in_last_block(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 5);
    dctr_model_config cfg;
    config(&cfg, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY);
    dctr_model *m = fx_model(s, &cfg);
    dctr_batch *b = fx_batch(s, ROWS, 3, 0, 0);
    b->cols[2].ids[ROWS - 1] = 30; /* C's vocabulary is [0, 30) */
    double dl = 0, rl = 0;
    assert_int_equal(dctr_deepfm_compute_gradients(m, b, &dl, &rl), DCTR_ERR_RANGE);
    assert_non_null(strstr(dctr_last_error(), "'C'"));
    b->cols[2].ids[ROWS - 1] = 29; /* fixed: the next step runs from clean accumulators */
    assert_int_equal(dctr_deepfm_compute_gradients(m, b, &dl, &rl), DCTR_OK);
    dctr_batch_free(b);
    dctr_model_free(m);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepfm_binary_weighted),
        cmocka_unit_test(test_deepfm_regression),
        cmocka_unit_test(test_fm_binary),
        cmocka_unit_test(test_batch_coupled_dnn_keeps_whole_batch),
        cmocka_unit_test(test_bad_id_in_last_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
