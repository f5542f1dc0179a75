/* Regression tests of issue 14 ("Services and data scientists"): exact resume with shuffling,
 * optimizer state reported only when present, whole rows for predict_row, failed sets drop the
 * row, FM groups that would leave the FM part empty, metadata and model lifetime.
 * ctest-label: threads (the hot-swap test predicts from threads while the owner lets go) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "deepctr/data.h"
#include "deepctr/model.h"
#include "dfm_fixture.h"
#include "test_env.h"

static const fx_col cols[] = {
    {.name = "a", .kind = DCTR_COLUMN_SPARSE, .vocab = 40, .k = 4},
    {.name = "b", .kind = DCTR_COLUMN_SPARSE, .vocab = 30, .k = 4},
    {.name = "v", .kind = DCTR_COLUMN_VARLEN, .vocab = 20, .k = 4, .maxlen = 3,
     .combiner = DCTR_COMBINER_MEAN},
    {.name = "x", .kind = DCTR_COLUMN_DENSE},
};

static dctr_model_config small_config(void) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    static const int32_t hidden[] = {8};
    cfg.hidden_units = hidden;
    cfg.num_hidden = 1;
    cfg.dropout = 0.2f; /* the dropout generator must resume too */
    return cfg;
}

static void fit_epochs(dctr_model *m, const dctr_dataset *ds, int32_t epochs) {
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = epochs;
    o.batch_size = 32;
    o.shuffle = 1;
    assert_int_equal(dctr_model_fit(m, ds, &o, NULL), DCTR_OK);
}

/* fit(3) == fit(2) + save with optimizer + load + fit(1), bit for bit, with shuffling on. */
static void test_resume_with_shuffle_is_exact(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 300, 5, 0, 0));
    dctr_model_config cfg = small_config();
    dctr_model *whole = fx_model(s, &cfg), *part = fx_model(s, &cfg);
    fit_epochs(whole, ds, 3);
    fit_epochs(part, ds, 2);
    char path[512];
    dctr_test_tmp_path(path, sizeof path, "services_resume.dctr");
    assert_int_equal(dctr_model_save(part, path, 1), DCTR_OK);
    dctr_model_free(part);
    dctr_model *resumed = NULL;
    assert_int_equal(dctr_model_load(path, &resumed), DCTR_OK);
    assert_int_equal(dctr_model_epochs_trained(resumed), 2);
    fit_epochs(resumed, ds, 1);
    assert_int_equal(dctr_model_epochs_trained(resumed), 3);
    float p1[300], p2[300];
    assert_int_equal(dctr_model_predict(whole, ds, p1), DCTR_OK);
    assert_int_equal(dctr_model_predict(resumed, ds, p2), DCTR_OK);
    for (int i = 0; i < 300; i++)
        assert_true(p1[i] == p2[i]);
    dctr_model_free(whole);
    dctr_model_free(resumed);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static void test_optimizer_state_reported_only_when_saved(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 100, 6, 0, 0));
    dctr_model_config cfg = small_config();
    dctr_model *m = fx_model(s, &cfg);
    assert_int_equal(dctr_model_has_optimizer_state(m), 0);
    fit_epochs(m, ds, 1);
    assert_int_equal(dctr_model_has_optimizer_state(m), 1);
    char with[512], without[512];
    dctr_test_tmp_path(with, sizeof with, "services_with_opt.dctr");
    dctr_test_tmp_path(without, sizeof without, "services_without_opt.dctr");
    assert_int_equal(dctr_model_save(m, with, 1), DCTR_OK);
    assert_int_equal(dctr_model_save(m, without, 0), DCTR_OK);
    dctr_model *a = NULL, *b = NULL;
    assert_int_equal(dctr_model_load(with, &a), DCTR_OK);
    assert_int_equal(dctr_model_load(without, &b), DCTR_OK);
    assert_int_equal(dctr_model_has_optimizer_state(a), 1);
    assert_int_equal(dctr_model_has_optimizer_state(b), 0);
    dctr_model_free(a);
    dctr_model_free(b);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static dctr_schema *criteo_like(void) {
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    const char *names[] = {"c1", "c2", "c3"};
    for (int i = 0; i < 3; i++) {
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, names[i]);
        f.use_hash = 1;
        f.vocabulary_size = 100;
        f.dtype = DCTR_DTYPE_STRING;
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    }
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "n1");
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(dctr_schema_fit_none(s), DCTR_OK);
    return s;
}

/* predict_row naming 2 of 4 columns is an error; with every column it predicts. */
static void test_predict_row_needs_every_column(void **state) {
    (void)state;
    dctr_schema *s = criteo_like();
    dctr_model_config cfg = small_config();
    dctr_model *m = fx_model(s, &cfg);
    dctr_predictor *p = NULL;
    assert_int_equal(dctr_predictor_new(m, 4, &p), DCTR_OK);
    const char *names[] = {"c1", "c2", "c3", "n1"};
    const char *values[] = {"a", "b", "", "0.5"};
    float out = -1;
    assert_int_equal(dctr_predictor_predict_row(p, names, values, 2, &out), DCTR_ERR_SCHEMA);
    assert_non_null(strstr(dctr_last_error(), "missing column 'c3'"));
    assert_int_equal(dctr_predictor_predict_row(p, names, values, 4, &out), DCTR_OK);
    assert_true(out > 0 && out < 1);
    dctr_predictor_free(p);
    dctr_model_free(m);
    dctr_schema_free(s);
}

/* After a failed set, end_row fails and the batch keeps no row. */
static void test_failed_set_drops_row(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_batch *b = NULL;
    assert_int_equal(dctr_batch_new(s, 4, &b), DCTR_OK);
    assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_set_number(b, "a", 7), DCTR_OK);
    assert_int_equal(dctr_batch_set_number(b, "b", 1e6), DCTR_ERR_RANGE);
    assert_int_equal(dctr_batch_end_row(b), DCTR_ERR_STATE);
    assert_int_equal(dctr_batch_num_rows(b), 0);
    assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_set_number(b, "b", 3), DCTR_OK);
    assert_int_equal(dctr_batch_end_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_num_rows(b), 1);
    dctr_batch_free(b);
    dctr_schema_free(s);
}

/* Every column in group "g" with the default fm_groups: an error, not an FM without tables. */
static void test_fm_group_left_empty_is_an_error(void **state) {
    (void)state;
    static const fx_col gcols[] = {
        {.name = "a", .kind = DCTR_COLUMN_SPARSE, .vocab = 40, .k = 4, .group = "g"},
        {.name = "b", .kind = DCTR_COLUMN_SPARSE, .vocab = 30, .k = 4, .group = "g"},
    };
    dctr_schema *s = fx_schema(gcols, 2);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FM);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_SCHEMA);
    assert_non_null(strstr(dctr_last_error(), "group 'default_group'"));
    const char *groups[] = {"g"};
    cfg.fm_groups = groups;
    cfg.num_fm_groups = 1;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    /* linear (40 + 30) + bias 1 + embeddings (40 + 30) * 4 */
    assert_int_equal(dctr_model_num_parameters(m), 70 + 1 + 280);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static void test_metadata_round_trip(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_model_config cfg = small_config();
    dctr_model *m = fx_model(s, &cfg);
    assert_int_equal(dctr_model_set_metadata(m, "owner", "ranking-team"), DCTR_OK);
    assert_int_equal(dctr_model_set_metadata(m, "data", "2026-12-01"), DCTR_OK);
    assert_int_equal(dctr_model_set_metadata(m, "tmp", "x"), DCTR_OK);
    assert_int_equal(dctr_model_set_metadata(m, "tmp", NULL), DCTR_OK);
    assert_int_equal(dctr_model_set_metadata(m, "", "x"), DCTR_ERR_INVALID_ARG);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    dctr_model *l = NULL;
    assert_int_equal(dctr_model_load_from_memory(buf, size, &l), DCTR_OK);
    assert_int_equal(dctr_model_metadata_count(l), 2);
    assert_string_equal(dctr_model_metadata_key(l, 0), "owner");
    assert_string_equal(dctr_model_get_metadata(l, "data"), "2026-12-01");
    assert_null(dctr_model_get_metadata(l, "tmp"));
    dctr_free_buffer(buf);
    dctr_model_free(l);
    dctr_model_free(m);
    dctr_schema_free(s);
}

/* A predictor keeps its model alive after the owner's dctr_model_free (hot swap). */
static void test_predictor_keeps_model_alive(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 20, 8, 0, 0));
    dctr_model_config cfg = small_config();
    dctr_model *m = fx_model(s, &cfg);
    float before[20], after[20];
    assert_int_equal(dctr_model_predict(m, ds, before), DCTR_OK);
    dctr_predictor *p = NULL;
    assert_int_equal(dctr_predictor_new(m, 32, &p), DCTR_OK);
    assert_ptr_equal(dctr_model_retain(m), m);
    dctr_model_free(m); /* the retain's reference */
    dctr_model_free(m); /* the owner's: the predictor still holds one */
    /* predictions through the predictor after the owner let go (ASan would flag a free) */
    assert_int_equal(dctr_predictor_run(p, dctr_dataset_rows(ds), after), DCTR_OK);
    for (int i = 0; i < 20; i++)
        assert_true(before[i] == after[i]);
    dctr_predictor_free(p); /* frees the model */
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}


typedef struct swap_worker {
    dctr_predictor *p;
    const dctr_batch *rows;
    const float *want;
    int64_t n;
    int bad;
} swap_worker;

static void *swap_predict(void *arg) {
    swap_worker *w = arg;
    float out[64];
    for (int it = 0; it < 200; it++) {
        if (dctr_predictor_run(w->p, w->rows, out) != DCTR_OK)
            w->bad++;
        for (int64_t i = 0; i < w->n; i++)
            w->bad += out[i] != w->want[i];
    }
    dctr_predictor_free(w->p); /* the last one frees the model */
    return NULL;
}

/* Hot swap: the owner frees the model while threads still predict through their predictors. */
static void test_hot_swap_under_threads(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 40, 9, 0, 0));
    dctr_model_config cfg = small_config();
    dctr_model *m = fx_model(s, &cfg);
    float want[40];
    assert_int_equal(dctr_model_predict(m, ds, want), DCTR_OK);
    swap_worker w[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        w[t] = (swap_worker){NULL, dctr_dataset_rows(ds), want, 40, 0};
        assert_int_equal(dctr_predictor_new(m, 64, &w[t].p), DCTR_OK);
    }
    int started = 0;
    while (started < 3 && pthread_create(&th[started], NULL, swap_predict, &w[started]) == 0)
        started++;
    dctr_model_free(m); /* swapped out: the predictors keep it alive */
    for (int t = 0; t < started; t++) /* join all before any assert (tests/support/threads.h) */
        pthread_join(th[t], NULL);
    assert_int_equal(started, 3);
    for (int t = 0; t < 3; t++)
        assert_int_equal(w[t].bad, 0);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_with_shuffle_is_exact),
        cmocka_unit_test(test_optimizer_state_reported_only_when_saved),
        cmocka_unit_test(test_predict_row_needs_every_column),
        cmocka_unit_test(test_failed_set_drops_row),
        cmocka_unit_test(test_fm_group_left_empty_is_an_error),
        cmocka_unit_test(test_metadata_round_trip),
        cmocka_unit_test(test_predictor_keeps_model_alive),
        cmocka_unit_test(test_hot_swap_under_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
