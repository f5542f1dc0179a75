/* Training on the real DeepCTR sample files (reference §3.3): Criteo classification (dense
 * minmax + fitted label encoders, k = 4, Adam, 10 epochs, batch 256, validation 0.2), MovieLens
 * regression (MSE falls) and MovieLens multi-value genres (maxlen 5, mean). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/model.h"
#include "test_env.h"

static dctr_dataset *read_fit(dctr_schema *s, const char *rel) {
    char path[1024];
    dctr_test_data_path(path, sizeof(path), rel);
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    o.allow_extra_columns = 1;
    if (dctr_schema_fit_csv(s, path, &o) != DCTR_OK)
        fail_msg("fit_csv: %s", dctr_last_error());
    dctr_dataset *ds = NULL;
    if (dctr_dataset_read_csv(s, path, &o, &ds) != DCTR_OK)
        fail_msg("read_csv: %s", dctr_last_error());
    return ds;
}

static void add_sparse(dctr_schema *s, const char *name, int32_t k) {
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, name);
    f.dtype = DCTR_DTYPE_STRING;
    f.vocabulary_size = DCTR_VOCAB_FIT;
    f.embedding_dim = k;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
}

static void test_criteo(void **state) {
    (void)state;
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    char name[16];
    for (int i = 1; i <= 26; i++) {
        snprintf(name, sizeof(name), "C%d", i);
        add_sparse(s, name, 4);
    }
    for (int i = 1; i <= 13; i++) {
        snprintf(name, sizeof(name), "I%d", i);
        dctr_dense_feat d;
        dctr_dense_feat_default(&d, name);
        d.transform = DCTR_TRANSFORM_MINMAX;
        assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    }
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    dctr_dataset *ds = read_fit(s, "deepctr-samples/criteo_sample.txt");
    assert_int_equal(dctr_dataset_num_rows(ds), 200);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 10;
    o.batch_size = 256;
    o.validation_split = 0.2;
    dctr_history h;
    if (dctr_model_fit(m, ds, &o, &h) != DCTR_OK)
        fail_msg("fit: %s", dctr_last_error());
    assert_int_equal(h.epochs_run, 10);
    double first = h.train[DCTR_METRIC_LOSS], last = h.train[9 * DCTR_METRIC_COUNT + DCTR_METRIC_LOSS];
    if (!(last < first))
        fail_msg("loss %g -> %g", first, last);
    for (int e = 0; e < 10; e++) {
        assert_true(isfinite(h.valid[e * DCTR_METRIC_COUNT + DCTR_METRIC_AUC]));
        assert_true(isfinite(h.valid[e * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS]));
    }
    dctr_history_free(&h);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static void movielens(int with_genres) {
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    const char *sp[] = {"movie_id", "user_id", "gender", "age", "occupation", "zip"};
    for (int i = 0; i < 6; i++)
        add_sparse(s, sp[i], 4);
    if (with_genres) {
        dctr_varlen_feat g;
        dctr_varlen_feat_default(&g, "genres", 5);
        g.sparse.dtype = DCTR_DTYPE_STRING;
        g.sparse.vocabulary_size = DCTR_VOCAB_FIT;
        g.sparse.embedding_dim = 4;
        g.combiner = DCTR_COMBINER_MEAN;
        g.separator = '|';
        assert_int_equal(dctr_schema_add_varlen(s, &g), DCTR_OK);
    }
    assert_int_equal(dctr_schema_set_label(s, "rating"), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    dctr_dataset *ds = read_fit(s, "deepctr-samples/movielens_sample.txt");
    if (with_genres) /* 17 distinct genres + padding/OOV rows */
        assert_true(dctr_schema_vocabulary_size(s, "genres") >= 18);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.task = DCTR_TASK_REGRESSION;
    cfg.optimizer.learning_rate = 0.01;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 10;
    o.batch_size = 256;
    o.validation_split = 0.2;
    dctr_history h;
    if (dctr_model_fit(m, ds, &o, &h) != DCTR_OK)
        fail_msg("fit: %s", dctr_last_error());
    double first = h.train[DCTR_METRIC_MSE], last = h.train[9 * DCTR_METRIC_COUNT + DCTR_METRIC_MSE];
    if (!(last < 0.5 * first))
        fail_msg("train MSE %g -> %g", first, last);
    assert_true(isfinite(h.valid[9 * DCTR_METRIC_COUNT + DCTR_METRIC_RMSE]));
    assert_true(isnan(h.valid[DCTR_METRIC_AUC]));
    dctr_history_free(&h);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static void test_movielens_regression(void **state) {
    (void)state;
    movielens(0);
}

static void test_movielens_genres(void **state) {
    (void)state;
    movielens(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_criteo),
        cmocka_unit_test(test_movielens_regression),
        cmocka_unit_test(test_movielens_genres),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
