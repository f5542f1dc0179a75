/* ctest-label: threads. Prediction paths: 8 threads on one const model give bit-identical results to the serial
 * call, predictors (batches larger than max_batch are chunked), predict_row from raw strings,
 * evaluate. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "threads.h"

#include "dfm_fixture.h"
#include "models/model_types.h"

#define ROWS 300

static const fx_col cols[] = {
    {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 20, .k = 4},
    {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 15, .k = 4},
    {.name = "G", .kind = DCTR_COLUMN_VARLEN, .vocab = 9, .k = 4, .maxlen = 3,
     .combiner = DCTR_COMBINER_MAX},
    {.name = "D", .kind = DCTR_COLUMN_DENSE},
};

typedef struct {
    const dctr_model *m;
    const dctr_batch *b;
    const float *expect;
    int ok;
    int use_predictor;
} job;

static void *worker(void *arg) {
    job *j = arg;
    float out[ROWS];
    j->ok = 1;
    dctr_predictor *p = NULL;
    if (j->use_predictor && dctr_predictor_new(j->m, 64, &p) != DCTR_OK) {
        j->ok = 0;
        return NULL;
    }
    for (int it = 0; it < 20 && j->ok; it++) {
        memset(out, 0, sizeof(out));
        dctr_status st = j->use_predictor ? dctr_predictor_run(p, j->b, out)
                                          : dctr_model_predict_batch(j->m, j->b, out);
        if (st != DCTR_OK || memcmp(out, j->expect, sizeof(out)) != 0)
            j->ok = 0;
    }
    dctr_predictor_free(p);
    return NULL;
}

static void test_threads_bit_exact(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.use_bn = 1;
    dctr_model *m = fx_model(s, &cfg);
    for (int i = 0; i < 3; i++) {
        dctr_batch *tb = fx_batch(s, 64, 50 + (uint64_t)i, 0, 0);
        double dl, rl;
        assert_int_equal(m->ops->train_step(m, tb, &dl, &rl, NULL), DCTR_OK);
        dctr_batch_free(tb);
    }
    dctr_batch *b = fx_batch(s, ROWS, 9, 0, 0);
    float serial[ROWS];
    assert_int_equal(dctr_model_predict_batch(m, b, serial), DCTR_OK);
    for (int i = 0; i < ROWS; i++)
        assert_true(serial[i] > 0.0f && serial[i] < 1.0f);
    job jobs[8];
    for (int t = 0; t < 8; t++)
        jobs[t] = (job){.m = m, .b = b, .expect = serial, .use_predictor = t % 2};
    assert_int_equal(th_run_all(8, worker, jobs, sizeof jobs[0]), 0);
    for (int t = 0; t < 8; t++)
        assert_true(jobs[t].ok);
    /* evaluate = metrics of predict */
    dctr_dataset *ds = fx_dataset(s, b);
    double v[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_model_evaluate(m, ds, v), DCTR_OK);
    assert_true(v[DCTR_METRIC_AUC] >= 0 && v[DCTR_METRIC_AUC] <= 1);
    assert_true(v[DCTR_METRIC_LOSS] == v[DCTR_METRIC_LOGLOSS]);
    float again[ROWS];
    assert_int_equal(dctr_model_predict(m, ds, again), DCTR_OK);
    assert_memory_equal(again, serial, sizeof(again));
    dctr_dataset_free(ds);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static void test_predict_row(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    dctr_model *m = fx_model(s, &cfg);
    dctr_predictor *p = NULL;
    assert_int_equal(dctr_predictor_new(m, 8, &p), DCTR_OK);
    const char *names[4] = {"A", "B", "G", "D"};
    const char *values[4] = {"3", "5", "1|4", "0.25"};
    float row = -1;
    if (dctr_predictor_predict_row(p, names, values, 4, &row) != DCTR_OK)
        fail_msg("predict_row: %s", dctr_last_error());
    dctr_batch *b = fx_batch(s, 1, 1, 0, 0);
    b->cols[0].ids[0] = 3;
    b->cols[1].ids[0] = 5;
    b->cols[2].ids[0] = 1;
    b->cols[2].ids[1] = 4;
    b->cols[2].ids[2] = 0;
    b->cols[3].dense[0] = 0.25f;
    float expect = -2;
    assert_int_equal(dctr_predictor_run(p, b, &expect), DCTR_OK);
    assert_true(row == expect);
    /* repeated calls reuse the row buffer and give the same value */
    float again = -3;
    assert_int_equal(dctr_predictor_predict_row(p, names, values, 4, &again), DCTR_OK);
    assert_true(again == row);
    /* out-of-range id: an error naming the column, never a crash */
    b->cols[0].ids[0] = 20;
    assert_int_equal(dctr_predictor_run(p, b, &expect), DCTR_ERR_RANGE);
    assert_non_null(strstr(dctr_last_error(), "'A'"));
    dctr_predictor *bad = NULL;
    assert_int_equal(dctr_predictor_new(m, 0, &bad), DCTR_ERR_INVALID_ARG);
    dctr_batch_free(b);
    dctr_predictor_free(p);
    dctr_model_free(m);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_bit_exact),
        cmocka_unit_test(test_predict_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
