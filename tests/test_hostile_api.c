/* Issue 17 through the C API: the API accepts nothing the CLI rejects (per function), an
 * allocation failure inside AUC is DCTR_ERR_NOMEM (never a NaN early stopping would read), and
 * a huge batch or predictor block costs memory bounded by the data, not by the argument. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "deepctr/deepctr.h"
#include "dfm_fixture.h"
#include "core/metrics.h"

static const fx_col cols[] = {
    {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 20, .k = 4},
    {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 30, .k = 4},
    {.name = "D", .kind = DCTR_COLUMN_DENSE},
};

typedef struct fixture {
    dctr_schema *s;
    dctr_model *m;
    dctr_dataset *ds;
} fixture;

static int setup(void **state) {
    static fixture f;
    f.s = fx_schema(cols, 3);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    const int32_t units[1] = {8};
    cfg.hidden_units = units;
    cfg.num_hidden = 1;
    f.m = fx_model(f.s, &cfg);
    f.ds = fx_dataset(f.s, fx_batch(f.s, 600, 5, 0, 0));
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    dctr_alloc_test_fail_from(0);
    dctr_dataset_free(f->ds);
    dctr_model_free(f->m);
    dctr_schema_free(f->s);
    return 0;
}

static void expect_fit_invalid(fixture *f, const dctr_fit_options *o, const char *needle) {
    assert_int_equal(dctr_model_fit(f->m, f->ds, o, NULL), DCTR_ERR_INVALID_ARG);
    if (!strstr(dctr_last_error(), needle))
        fail_msg("expected '%s' in '%s'", needle, dctr_last_error());
}

/* dctr_model_fit: what `deepctr train` rejects (--valid-split in [0, 0.9], --threads >= 0,
 * --early-stop only with validation data) is INVALID_ARG here too, not silently ignored. */
static void test_fit_options_equal_the_cli(void **state) {
    fixture *f = *state;
    dctr_fit_options o;
    const double bad_split[] = {NAN, -1.0, 1.0, INFINITY};
    for (size_t i = 0; i < sizeof bad_split / sizeof bad_split[0]; i++) {
        dctr_fit_options_default(&o);
        o.epochs = 1;
        o.validation_split = bad_split[i];
        expect_fit_invalid(f, &o, "validation_split");
    }
    dctr_fit_options_default(&o);
    o.threads = -1;
    expect_fit_invalid(f, &o, "threads");
    dctr_fit_options_default(&o);
    o.min_delta = NAN;
    expect_fit_invalid(f, &o, "min_delta");
    dctr_fit_options_default(&o);
    o.patience = 3; /* early stopping with nothing to validate on */
    expect_fit_invalid(f, &o, "validation");
    dctr_fit_options_recommended(&o, DCTR_TASK_BINARY);
    expect_fit_invalid(f, &o, "validation");
    o.validation_split = 0.2;
    o.epochs = 1;
    assert_int_equal(dctr_model_fit(f->m, f->ds, &o, NULL), DCTR_OK);
}

/* dctr_model_new: a NaN learning rate is no "<= 0: the default". */
static void test_model_new_rejects_nan_learning_rate(void **state) {
    fixture *f = *state;
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.optimizer.learning_rate = NAN;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(f->s, &cfg, &m), DCTR_ERR_INVALID_ARG);
    assert_null(m);
    assert_non_null(strstr(dctr_last_error(), "learning_rate"));
}

/* AUC's scratch allocation failing: an error from metrics, evaluate and fit (before, AUC was
 * NaN, and early stopping counted it as an epoch without improvement). */
static void test_auc_allocation_failure_is_an_error(void **state) {
    fixture *f = *state;
    const float y[4] = {0, 1, 0, 1}, p[4] = {0.1f, 0.9f, 0.2f, 0.8f};
    double v[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_metrics_all(DCTR_TASK_BINARY, y, p, NULL, 4, v), DCTR_OK);
    assert_true(v[DCTR_METRIC_AUC] == 1.0);
    /* the AUC scratch of n rows is n * 12 bytes: the largest allocation of an evaluation */
    dctr_alloc_test_fail_from(4 * 12);
    assert_int_equal(dctr_metrics_all(DCTR_TASK_BINARY, y, p, NULL, 4, v), DCTR_ERR_NOMEM);
    dctr_alloc_test_fail_from(600 * 12);
    assert_int_equal(dctr_model_evaluate(f->m, f->ds, v), DCTR_ERR_NOMEM);
    dctr_alloc_test_fail_from(0);
    assert_int_equal(dctr_model_evaluate(f->m, f->ds, v), DCTR_OK);
    assert_true(v[DCTR_METRIC_AUC] >= 0 && v[DCTR_METRIC_AUC] <= 1);
}

/* batch_size 2^31-1 on 600 rows and a predictor of max_batch 2^31-1: memory bounded by the
 * rows (every allocation of 64 MiB or more fails here), results equal to the plain ones. */
static void test_huge_batch_and_predictor_block(void **state) {
    fixture *f = *state;
    float a[600], b[600];
    assert_int_equal(dctr_model_predict(f->m, f->ds, a), DCTR_OK);
    dctr_alloc_test_fail_from((size_t)64 << 20);
    dctr_predictor *p = NULL;
    if (dctr_predictor_new(f->m, INT32_MAX, &p) != DCTR_OK)
        fail_msg("%s", dctr_last_error());
    assert_int_equal(dctr_predictor_run(p, dctr_dataset_rows(f->ds), b), DCTR_OK);
    dctr_predictor_free(p);
    assert_memory_equal(a, b, sizeof a);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 1;
    o.batch_size = INT32_MAX;
    assert_int_equal(dctr_model_fit(f->m, f->ds, &o, NULL), DCTR_OK);
    dctr_alloc_test_fail_from(0);
}

/* NULL where the rest of the API returns INVALID_ARG / a sentinel: these crashed. */
static void test_null_arguments(void **state) {
    (void)state;
    assert_int_equal((int)dctr_model_get_type(NULL), -1);
    assert_int_equal((int)dctr_model_get_task(NULL), -1);
    dctr_libffm_options_default(NULL);
    dctr_ffm_options_default(NULL);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_load(NULL, &m), DCTR_ERR_INVALID_ARG);
    assert_int_equal(dctr_model_fit(NULL, NULL, NULL, NULL), DCTR_ERR_INVALID_ARG);
    assert_int_equal(dctr_predictor_new(NULL, 1, NULL), DCTR_ERR_INVALID_ARG);
    assert_int_equal(dctr_schema_find(NULL, "a"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_options_equal_the_cli),
        cmocka_unit_test(test_model_new_rejects_nan_learning_rate),
        cmocka_unit_test(test_auc_allocation_failure_is_an_error),
        cmocka_unit_test(test_huge_batch_and_predictor_block),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
