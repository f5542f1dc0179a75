/* A libffm-native FFM model is an ordinary dctr_model (issue 16): it predicts through
 * dctr_model_predict and a dctr_predictor with the scores of the native path (dctr_ffm_predict),
 * evaluates, saves and loads (its schema's column lengths too), and serves from threads.
 * ctest-label: threads (predictors of one model on several threads) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "data/batch.h"
#include "deepctr/ffm.h"
#include "deepctr/services.h"
#include "threads.h"

#define FIELDS 4

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* rows libffm lines: field f has 1..(f % 3) + 1 nodes (field order, libffm style), features
 * below `features`, values in (0, 2]; labels 0/1 or -1/+1. shuffled: fields in reverse order. */
static char *libffm_text(int rows, int features, uint64_t seed, int pm_labels, int shuffled) {
    size_t cap = (size_t)rows * 256, len = 0;
    char *t = malloc(cap);
    uint64_t s = seed;
    for (int r = 0; r < rows; r++) {
        int pos = (int)(lcg(&s) % 2);
        len += (size_t)snprintf(t + len, cap - len, "%d", pos ? 1 : (pm_labels ? -1 : 0));
        for (int ff = 0; ff < FIELDS; ff++) {
            int f = shuffled ? FIELDS - 1 - ff : ff;
            int nodes = 1 + (int)(lcg(&s) % (uint64_t)(f % 3 + 1));
            for (int k = 0; k < nodes; k++) {
                /* the label leaks into field 0 so training learns something */
                int idx = f == 0 && k == 0 ? pos : (int)(lcg(&s) % (uint64_t)features);
                double v = (double)(1 + lcg(&s) % 20) / 10.0;
                len += (size_t)snprintf(t + len, cap - len, " %d:%d:%g", f, idx, v);
            }
        }
        len += (size_t)snprintf(t + len, cap - len, "\n");
    }
    return t;
}

static dctr_ffm_data *data_of(const char *text) {
    dctr_ffm_data *d = NULL;
    assert_int_equal(dctr_ffm_data_from_text(text, strlen(text), "t", NULL, &d), DCTR_OK);
    return d;
}

static dctr_model *train(const dctr_ffm_data *tr, int linear, dctr_task task) {
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    o.epochs = 3;
    o.model.ffm_linear = linear;
    o.model.task = task;
    dctr_model *m = NULL;
    assert_int_equal(dctr_ffm_train(tr, NULL, &o, NULL, NULL, &m), DCTR_OK);
    return m;
}

/* Training rows, test rows (their texts too), a model trained on the first and the test rows as
 * a dataset of its schema. */
typedef struct {
    char *trt, *tet;
    dctr_ffm_data *tr, *te;
    dctr_model *m;
    dctr_dataset *ds;
} ffm_case;

typedef struct {
    int te_rows, te_features; /* the model sees 40 features */
    uint64_t seed;
    int pm_labels, shuffled, linear;
} case_spec;

static ffm_case make_case(case_spec c) {
    ffm_case k = {.trt = libffm_text(300, 40, c.seed, c.pm_labels, 0),
                  .tet = libffm_text(c.te_rows, c.te_features, c.seed + 1, c.pm_labels, c.shuffled)};
    k.tr = data_of(k.trt);
    k.te = data_of(k.tet);
    k.m = train(k.tr, c.linear, DCTR_TASK_BINARY);
    assert_int_equal(dctr_ffm_data_to_dataset(k.m, k.te, &k.ds), DCTR_OK);
    return k;
}

static void free_case(ffm_case *k) {
    dctr_dataset_free(k->ds);
    dctr_model_free(k->m);
    dctr_ffm_data_free(k->tr);
    dctr_ffm_data_free(k->te);
    free(k->trt);
    free(k->tet);
}

/* The three ways to score libffm rows with one model give the same floats. */
static void check_paths_agree(const dctr_model *m, const dctr_ffm_data *te) {
    const int64_t n = dctr_ffm_data_num_rows(te);
    float *native = malloc((size_t)n * sizeof *native), *generic = malloc((size_t)n * sizeof *generic);
    float *served = malloc((size_t)n * sizeof *served);
    assert_int_equal(dctr_ffm_predict(m, te, native), DCTR_OK);
    dctr_dataset *ds = NULL;
    assert_int_equal(dctr_ffm_data_to_dataset(m, te, &ds), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(ds), n);
    assert_int_equal(dctr_model_predict(m, ds, generic), DCTR_OK);
    dctr_predictor *p = NULL;
    assert_int_equal(dctr_predictor_new(m, 7, &p), DCTR_OK); /* blocks of 7 rows */
    assert_int_equal(dctr_predictor_run(p, dctr_dataset_rows(ds), served), DCTR_OK);
    dctr_predictor_free(p);
    assert_memory_equal(native, generic, (size_t)n * sizeof *native);
    assert_memory_equal(native, served, (size_t)n * sizeof *native);
    dctr_dataset_free(ds);
    free(native);
    free(generic);
    free(served);
}

static void test_predict_paths_agree_bit_for_bit(void **state) {
    (void)state;
    char *trt = libffm_text(300, 40, 1, 0, 0), *tet = libffm_text(120, 50, 2, 0, 0); /* 40..49 unseen */
    dctr_ffm_data *tr = data_of(trt), *te = data_of(tet);
    for (int linear = 0; linear <= 1; linear++) {
        dctr_model *m = train(tr, linear, DCTR_TASK_BINARY);
        assert_true(dctr_ffm_is_native(m));
        const dctr_schema *s = dctr_model_schema(m);
        assert_non_null(s);
        assert_int_equal(dctr_schema_num_columns(s), FIELDS);
        assert_string_equal(dctr_schema_column_name(s, 2), "f2");
        assert_int_equal(dctr_schema_column_kind(s, 2), DCTR_COLUMN_VARLEN);
        assert_int_equal(dctr_schema_vocabulary_size(s, "f2"), 41); /* 40 features + "unseen" */
        dctr_column_info ci = {.struct_size = sizeof ci};
        assert_int_equal(dctr_schema_column_info(s, 2, &ci), DCTR_OK);
        assert_int_equal(ci.maxlen, 3); /* field 2 had up to 3 nodes in a training row */
        assert_string_equal(ci.weight_name, "f2_val");
        check_paths_agree(m, te);
        dctr_model_free(m);
    }
    dctr_ffm_data *reg = data_of(trt);
    dctr_model *m = train(reg, 1, DCTR_TASK_REGRESSION);
    check_paths_agree(m, te);
    dctr_model_free(m);
    dctr_ffm_data_free(reg);
    dctr_ffm_data_free(tr);
    dctr_ffm_data_free(te);
    free(trt);
    free(tet);
}

/* Rows whose nodes are not in field order: the pair sum runs in another order, so the scores
 * agree to float rounding (documented in dctr_ffm_data_to_dataset). */
static void test_unordered_rows_within_tolerance(void **state) {
    (void)state;
    ffm_case k = make_case((case_spec){.te_rows = 80, .te_features = 40, .seed = 3, .shuffled = 1});
    float a[80], b[80];
    assert_int_equal(dctr_ffm_predict(k.m, k.te, a), DCTR_OK);
    assert_int_equal(dctr_model_predict(k.m, k.ds, b), DCTR_OK);
    for (int i = 0; i < 80; i++)
        assert_true(fabsf(a[i] - b[i]) <= 1e-6f);
    free_case(&k);
}

/* dctr_model_evaluate on the converted rows reports the metrics dctr_ffm_evaluate does; -1/+1
 * labels become 0/1. AUC: the same ranking; logloss: from clipped probabilities, not from t. */
static void test_evaluate_matches_native(void **state) {
    (void)state;
    ffm_case k = make_case((case_spec){.te_rows = 150, .te_features = 40, .seed = 5, .pm_labels = 1, .linear = 1});
    double nv[DCTR_METRIC_COUNT], gv[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_ffm_evaluate(k.m, k.te, nv), DCTR_OK);
    const float *y = dctr_dataset_labels(k.ds);
    for (int i = 0; i < 150; i++)
        assert_true(y[i] == (dctr_ffm_data_labels(k.te)[i] > 0 ? 1.0f : 0.0f));
    assert_int_equal(dctr_model_evaluate(k.m, k.ds, gv), DCTR_OK);
    assert_true(nv[DCTR_METRIC_AUC] > 0.6);
    assert_true(fabs(nv[DCTR_METRIC_AUC] - gv[DCTR_METRIC_AUC]) <= 1e-12);
    assert_true(fabs(nv[DCTR_METRIC_LOGLOSS] - gv[DCTR_METRIC_LOGLOSS]) <= 1e-6);
    assert_true(fabs(nv[DCTR_METRIC_ACCURACY] - gv[DCTR_METRIC_ACCURACY]) <= 1e-12);
    free_case(&k);
}

/* Two native models have the same column lengths (maxlen) and vocabularies. */
static void assert_same_columns(const dctr_model *a, const dctr_model *b) {
    for (int32_t f = 0; f < FIELDS; f++) {
        dctr_column_info x = {.struct_size = sizeof x}, y = {.struct_size = sizeof y};
        assert_int_equal(dctr_schema_column_info(dctr_model_schema(a), f, &x), DCTR_OK);
        assert_int_equal(dctr_schema_column_info(dctr_model_schema(b), f, &y), DCTR_OK);
        assert_int_equal(x.maxlen, y.maxlen);
        assert_int_equal(x.vocabulary_size, y.vocabulary_size);
    }
}

/* Save + load keeps the schema (column lengths from the "ffm.native" section) and the scores;
 * the loaded model saves the same bytes again. */
static void test_save_load_round_trip(void **state) {
    (void)state;
    ffm_case k = make_case((case_spec){.te_rows = 60, .te_features = 45, .seed = 7, .linear = 1});
    void *b1 = NULL, *b2 = NULL;
    size_t s1 = 0, s2 = 0;
    assert_int_equal(dctr_model_save_to_memory(k.m, 1, &b1, &s1), DCTR_OK);
    dctr_model *l = NULL;
    assert_int_equal(dctr_model_load_from_memory(b1, s1, &l), DCTR_OK);
    assert_true(dctr_ffm_is_native(l));
    assert_same_columns(k.m, l);
    float p1[60], p2[60];
    assert_int_equal(dctr_ffm_predict(k.m, k.te, p1), DCTR_OK);
    assert_int_equal(dctr_ffm_predict(l, k.te, p2), DCTR_OK);
    assert_memory_equal(p1, p2, sizeof p1);
    check_paths_agree(l, k.te);
    assert_int_equal(dctr_model_save_to_memory(l, 1, &b2, &s2), DCTR_OK);
    assert_int_equal(s1, s2);
    assert_memory_equal(b1, b2, s1);
    dctr_free_buffer(b1);
    dctr_free_buffer(b2);
    dctr_model_free(l);
    free_case(&k);
}

/* A row with more nodes in a field than the model's column holds is an error naming it; a model
 * trained on disk records the same column lengths as in memory; dctr_model_fit does not train a
 * native model (dctr_ffm_train does). */
static void test_limits_and_on_disk(void **state) {
    (void)state;
    ffm_case k = make_case((case_spec){.te_rows = 50, .te_features = 40, .seed = 9});
    dctr_ffm_data *bad = data_of("1 0:1:1 0:2:1 0:3:1 1:4:1\n"); /* field 0 had one node a row */
    dctr_dataset *ds = (dctr_dataset *)&ds;
    assert_int_equal(dctr_ffm_data_to_dataset(k.m, bad, &ds), DCTR_ERR_LIMIT);
    assert_null(ds);
    assert_non_null(strstr(dctr_last_error(), "field 0"));
    dctr_ffm_data_free(bad);
    char path[] = "/tmp/dctr_native_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(k.trt, f);
    fclose(f);
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    o.epochs = 1;
    o.chunk_rows = 64; /* field lengths gathered over several chunks */
    dctr_model *d = NULL;
    assert_int_equal(dctr_ffm_train_on_disk(path, NULL, &o, NULL, NULL, &d), DCTR_OK);
    remove(path);
    assert_same_columns(k.m, d);
    check_paths_agree(d, k.tr);
    dctr_model_free(d);
    dctr_fit_options fo;
    dctr_fit_options_default(&fo);
    fo.epochs = 1;
    assert_int_equal(dctr_model_fit(k.m, k.ds, &fo, NULL), DCTR_ERR_UNSUPPORTED);
    free_case(&k);
}

/* ---- serving from threads: one predictor per thread, no allocation once made ---- */

typedef struct {
    const dctr_model *m;
    const dctr_batch *b;
    const float *expect;
    int64_t n;
    int ok;
} job;

static void *worker(void *arg) {
    job *j = arg;
    dctr_predictor *p = NULL;
    j->ok = dctr_predictor_new(j->m, 16, &p) == DCTR_OK;
    float out[200];
    for (int it = 0; j->ok && it < 20; it++)
        if (dctr_predictor_run(p, j->b, out) != DCTR_OK || memcmp(out, j->expect, (size_t)j->n * sizeof *out) != 0)
            j->ok = 0;
    dctr_predictor_free(p);
    return NULL;
}

static void test_threaded_predictors(void **state) {
    (void)state;
    ffm_case k = make_case((case_spec){.te_rows = 200, .te_features = 40, .seed = 11, .linear = 1});
    float expect[200];
    assert_int_equal(dctr_ffm_predict(k.m, k.te, expect), DCTR_OK);
    job jobs[4];
    for (int t = 0; t < 4; t++)
        jobs[t] = (job){.m = k.m, .b = dctr_dataset_rows(k.ds), .expect = expect, .n = 200};
    assert_int_equal(th_run_all(4, worker, jobs, sizeof jobs[0]), 0);
    for (int t = 0; t < 4; t++)
        assert_true(jobs[t].ok);
    /* the hot path allocates nothing: with every library allocation failing it still predicts */
    dctr_predictor *p = NULL;
    assert_int_equal(dctr_predictor_new(k.m, 16, &p), DCTR_OK);
    float out[200];
    dctr_alloc_test_fail_from(1);
    dctr_status st = dctr_predictor_run(p, dctr_dataset_rows(k.ds), out);
    dctr_alloc_test_fail_from(0);
    assert_int_equal(st, DCTR_OK);
    assert_memory_equal(out, expect, sizeof out);
    dctr_predictor_free(p); /* the model outlives its predictors (refcount) */
    free_case(&k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predict_paths_agree_bit_for_bit),
        cmocka_unit_test(test_unordered_rows_within_tolerance),
        cmocka_unit_test(test_evaluate_matches_native),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_limits_and_on_disk),
        cmocka_unit_test(test_threaded_predictors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
