/* Training and input faults with documented outcomes (issue 8): an unseen category under each
 * OOV policy, a zero-row training file, NaN / Inf in the input, labels that are not 0/1 for the
 * binary task, and a diverging loss. Each outcome is asserted, status and message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "data/batch.h"
#include "deepctr/deepctr.h"
#include "test_env.h"

/* Writes a temp file; the returned path stays valid for the next three calls. */
static const char *write_file(const char *name, const char *text) {
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    dctr_test_tmp_path(path, sizeof paths[0], name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A schema with one fitted categorical column under `policy` and one dense column. */
static dctr_schema *fitted_schema(dctr_oov_policy policy, const char *train_path) {
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat c;
    dctr_sparse_feat_default(&c, "city");
    c.dtype = DCTR_DTYPE_STRING;
    c.oov_policy = policy;
    c.oov_buckets = 4;
    assert_int_equal(dctr_schema_add_sparse(s, &c), DCTR_OK);
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "x");
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    assert_int_equal(dctr_schema_fit_csv(s, train_path, &o), DCTR_OK);
    return s;
}

static const char *TRAIN = "label,city,x\n1,paris,0.5\n0,rome,0.25\n1,oslo,1\n0,paris,0\n";

/* Encodes one raw row; returns the status and the city id. */
static dctr_status encode_city(dctr_schema *s, const char *city, int64_t *id) {
    dctr_batch *b = NULL;
    assert_int_equal(dctr_batch_new(s, 4, &b), DCTR_OK);
    const char *names[] = {"city", "x"};
    const char *values[] = {city, "0.5"};
    dctr_status st = dctr_batch_add_csv_row(b, names, values, 2);
    if (st == DCTR_OK)
        *id = b->cols[0].ids[0];
    dctr_batch_free(b);
    return st;
}

static void test_oov_under_each_policy(void **state) {
    (void)state;
    const char *train = write_file("faults_train.csv", TRAIN);
    int64_t seen_id = -1, id = -1;

    dctr_schema *s = fitted_schema(DCTR_OOV_ERROR, train);
    assert_int_equal(dctr_schema_vocabulary_size(s, "city"), 3); /* exactly the 3 values */
    assert_int_equal(encode_city(s, "rome", &seen_id), DCTR_OK);
    assert_true(seen_id >= 0 && seen_id < 3);
    assert_int_equal(encode_city(s, "berlin", &id), DCTR_ERR_OOV);
    assert_non_null(strstr(dctr_last_error(), "city"));
    assert_non_null(strstr(dctr_last_error(), "berlin"));
    dctr_schema_free(s);

    s = fitted_schema(DCTR_OOV_RESERVED_ROW, train);
    assert_int_equal(dctr_schema_vocabulary_size(s, "city"), 4); /* row 0 reserved for OOV */
    assert_int_equal(encode_city(s, "berlin", &id), DCTR_OK);
    assert_int_equal(id, 0);
    assert_int_equal(encode_city(s, "rome", &seen_id), DCTR_OK);
    assert_true(seen_id >= 1 && seen_id <= 3);
    dctr_schema_free(s);

    s = fitted_schema(DCTR_OOV_HASH, train);
    int64_t v = dctr_schema_vocabulary_size(s, "city");
    assert_int_equal(v, 3 + 4); /* 3 values + 4 hash buckets */
    assert_int_equal(encode_city(s, "berlin", &id), DCTR_OK);
    assert_true(id >= 3 && id < v);
    int64_t again = -1;
    assert_int_equal(encode_city(s, "berlin", &again), DCTR_OK);
    assert_int_equal(again, id); /* stable: the same unseen value always lands in one bucket */
    dctr_schema_free(s);
}

static void test_zero_row_training_file(void **state) {
    (void)state;
    const char *train = write_file("faults_train.csv", TRAIN);
    const char *empty = write_file("faults_header_only.csv", "label,city,x\n");
    dctr_schema *s = fitted_schema(DCTR_OOV_RESERVED_ROW, train);
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    dctr_dataset *ds = NULL;
    /* Documented outcome: a header-only file is DCTR_ERR_PARSE "no data rows", naming the file,
     * so a training job never starts on nothing. */
    dctr_status st = dctr_dataset_read_csv(s, empty, &o, &ds);
    assert_int_equal(st, DCTR_ERR_PARSE);
    assert_non_null(strstr(dctr_last_error(), "faults_header_only.csv"));
    assert_non_null(strstr(dctr_last_error(), "no data rows"));
    assert_null(ds);

    /* fitting encoders on a zero-row file is an error naming the file */
    dctr_schema *fresh = NULL;
    assert_int_equal(dctr_schema_new(&fresh), DCTR_OK);
    dctr_sparse_feat c;
    dctr_sparse_feat_default(&c, "city");
    c.dtype = DCTR_DTYPE_STRING;
    assert_int_equal(dctr_schema_add_sparse(fresh, &c), DCTR_OK);
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "x");
    assert_int_equal(dctr_schema_add_dense(fresh, &d), DCTR_OK);
    st = dctr_schema_fit_csv(fresh, empty, &o);
    assert_int_not_equal(st, DCTR_OK);
    assert_non_null(strstr(dctr_last_error(), "faults_header_only.csv"));
    dctr_schema_free(fresh);
    dctr_schema_free(s);
}

static void test_nan_inputs_and_bad_labels(void **state) {
    (void)state;
    const char *train = write_file("faults_train.csv", TRAIN);
    dctr_schema *s = fitted_schema(DCTR_OOV_RESERVED_ROW, train);
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    dctr_dataset *ds = NULL;
    const char *nan_file = write_file("faults_nan.csv", "label,city,x\n1,paris,0.5\n0,rome,nan\n");
    assert_int_equal(dctr_dataset_read_csv(s, nan_file, &o, &ds), DCTR_ERR_NUMERIC);
    assert_non_null(strstr(dctr_last_error(), "faults_nan.csv:3:"));
    assert_null(ds);

    /* serving path: a NaN number is refused too */
    dctr_batch *b = NULL;
    assert_int_equal(dctr_batch_new(s, 2, &b), DCTR_OK);
    assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_set_number(b, "x", NAN), DCTR_ERR_NUMERIC);
    dctr_batch_free(b);

    /* label 2 for the binary task: DCTR_ERR_RANGE with the row, before any step */
    const char *bad = write_file("faults_label.csv", "label,city,x\n1,paris,0.5\n2,rome,0.1\n");
    assert_int_equal(dctr_dataset_read_csv(s, bad, &o, &ds), DCTR_OK);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_LR);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_fit_options fo;
    dctr_fit_options_default(&fo);
    fo.epochs = 1;
    assert_int_equal(dctr_model_fit(m, ds, &fo, NULL), DCTR_ERR_RANGE);
    assert_non_null(strstr(dctr_last_error(), "row"));
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static void test_exploding_loss_stops_with_numeric_error(void **state) {
    (void)state;
    /* A huge learning rate on a regression target of 1e30 overflows within a few steps. */
    const char *train = write_file("faults_explode.csv",
                                   "label,city,x\n1e30,paris,0.5\n-1e30,rome,0.25\n1e30,oslo,1\n"
                                   "-1e30,paris,0\n1e30,rome,0.75\n-1e30,oslo,0.1\n");
    dctr_schema *s = fitted_schema(DCTR_OOV_RESERVED_ROW, train);
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    dctr_dataset *ds = NULL;
    assert_int_equal(dctr_dataset_read_csv(s, train, &o, &ds), DCTR_OK);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.task = DCTR_TASK_REGRESSION;
    cfg.optimizer.kind = DCTR_OPT_SGD;
    cfg.optimizer.learning_rate = 1e10;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_fit_options fo;
    dctr_fit_options_default(&fo);
    fo.epochs = 5;
    fo.batch_size = 2;
    assert_int_equal(dctr_model_fit(m, ds, &fo, NULL), DCTR_ERR_NUMERIC);
    assert_non_null(strstr(dctr_last_error(), "epoch"));
    /* the model still predicts finite values (weights restored to the last good state) */
    float pred[6];
    assert_int_equal(dctr_model_predict(m, ds, pred), DCTR_OK);
    for (int i = 0; i < 6; i++)
        assert_true(isfinite(pred[i]));
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oov_under_each_policy),
        cmocka_unit_test(test_zero_row_training_file),
        cmocka_unit_test(test_nan_inputs_and_bad_labels),
        cmocka_unit_test(test_exploding_loss_stops_with_numeric_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
