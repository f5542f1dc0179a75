/* DeepFM regression on MovieLens ratings (DeepCTR's examples/run_regression_movielens.py):
 * user_id, movie_id, gender, age, occupation, zip as label-encoded sparse columns with
 * embedding dim 4, target `rating`, loss MSE, Adam, 10 epochs, batch 256, validation = last
 * 20% of the training part; prints the test MSE on the file's last 20%.
 *
 *   movielens_regression [movielens_sample.txt]
 *
 * Without a path it writes a MovieLens-shaped file with planted ratings first. The file's
 * other columns (timestamp, title, genres) are skipped (allow_extra_columns). */
#include "example_common.h"

static const char *const SPARSE[] = {"movie_id", "user_id", "gender", "age", "occupation", "zip"};
#define NUM_SPARSE (int)(sizeof SPARSE / sizeof SPARSE[0])

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    char buf[600];
    const char *path = argc > 1 ? argv[1] : NULL;
    if (!path) {
        snprintf(buf, sizeof buf, "%s/movielens_like.csv", ex_temp_dir());
        ex_write_movielens_like(buf, 5000);
        printf("generated 5000 MovieLens-shaped rows in %s\n", buf);
        path = buf;
    }

    dctr_schema *schema;
    CHECK(dctr_schema_new(&schema));
    for (int i = 0; i < NUM_SPARSE; i++) {
        dctr_sparse_feat s;
        dctr_sparse_feat_default(&s, SPARSE[i]);
        s.dtype = DCTR_DTYPE_STRING;        /* zip codes like "98107-2117" are not integers */
        s.vocabulary_size = DCTR_VOCAB_FIT; /* LabelEncoder */
        s.embedding_dim = 4;
        CHECK(dctr_schema_add_sparse(schema, &s));
    }
    CHECK(dctr_schema_set_label(schema, "rating"));
    CHECK(dctr_schema_validate(schema));

    dctr_csv_options csv;
    dctr_csv_options_default(&csv);
    csv.allow_extra_columns = 1; /* timestamp, title, genres are not used */
    CHECK(dctr_schema_fit_csv(schema, path, &csv));
    for (int i = 0; i < NUM_SPARSE; i++)
        printf("%-10s vocabulary %lld\n", SPARSE[i], (long long)dctr_schema_vocabulary_size(schema, SPARSE[i]));
    dctr_dataset *all, *train, *test;
    CHECK(dctr_dataset_read_csv(schema, path, &csv, &all));
    CHECK(dctr_dataset_split_tail(all, 0.2, &train, &test));

    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.task = DCTR_TASK_REGRESSION;
    dctr_model *model;
    CHECK(dctr_model_new(schema, &cfg, &model));
    dctr_fit_options fit;
    dctr_fit_options_default(&fit);
    fit.epochs = 10;
    fit.batch_size = 256;
    fit.validation_split = 0.2;
    fit.progress = ex_print_epoch;
    fit.progress_user = (void *)1; /* regression: print MSE */
    CHECK(dctr_model_fit(model, train, &fit, NULL));

    double m[DCTR_METRIC_COUNT];
    CHECK(dctr_model_evaluate(model, test, m));
    printf("test MSE %.4f\ntest RMSE %.4f\n", m[DCTR_METRIC_MSE], m[DCTR_METRIC_RMSE]);
    /* It must beat predicting 0 (the starting point: every weight and the bias near 0). */
    const float *y = dctr_dataset_labels(test);
    int64_t n = dctr_dataset_num_rows(test);
    double mse0 = 0;
    for (int64_t i = 0; i < n; i++)
        mse0 += (double)y[i] * y[i] / (double)n;
    int ok = m[DCTR_METRIC_MSE] >= 0 && m[DCTR_METRIC_MSE] < mse0;
    if (!ok)
        fprintf(stderr, "test MSE %.4f is no better than predicting 0 (%.4f)\n", m[DCTR_METRIC_MSE], mse0);

    dctr_model_free(model);
    dctr_dataset_free(test);
    dctr_dataset_free(train);
    dctr_dataset_free(all);
    dctr_schema_free(schema);
    return ok ? 0 : 1;
}
