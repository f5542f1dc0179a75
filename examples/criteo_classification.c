/* DeepFM on Criteo-style click data (DeepCTR's examples/run_classification_criteo.py):
 * sparse C1..C26 label-encoded (a vocabulary fitted on the file), dense I1..I13 min-max
 * scaled, embedding dim 4, Adam, 10 epochs, batch 256, the last 20% of the training part
 * for validation; then test logloss and AUC on a held-out 20%.
 *
 *   criteo_classification [criteo_sample.txt]
 *
 * Without a path it generates Criteo-shaped synthetic data (same column names) first.
 * Differences from the Python script: the test set is the file's last 20% (not a random
 * split), and empty fields are handled by the encoders (docs/input.md) instead of fillna. */
#include "example_common.h"

#define NUM_DENSE 13
#define NUM_SPARSE 26

static const char *data_path(int argc, char **argv, char *buf, size_t cap) {
    if (argc > 1)
        return argv[1];
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    o.rows = 50000;
    o.seed = 2020;
    o.max_vocabulary = 1000;
    snprintf(buf, cap, "%s/criteo_synth.csv", ex_temp_dir());
    o.csv_path = buf;
    dctr_synth_report r;
    CHECK(dctr_synth_generate(&o, &r));
    printf("generated %lld synthetic rows in %s (planted model: auc %.4f, logloss %.4f)\n", (long long)r.rows, buf,
           r.planted_auc, r.planted_logloss);
    return buf;
}

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    char buf[600];
    const char *path = data_path(argc, argv, buf, sizeof buf);

    /* 1. Feature columns. */
    dctr_schema *schema;
    CHECK(dctr_schema_new(&schema));
    for (int i = 1; i <= NUM_DENSE; i++) {
        char name[8];
        snprintf(name, sizeof name, "I%d", i);
        dctr_dense_feat d;
        dctr_dense_feat_default(&d, name);
        d.transform = DCTR_TRANSFORM_MINMAX;
        CHECK(dctr_schema_add_dense(schema, &d));
    }
    for (int i = 1; i <= NUM_SPARSE; i++) {
        char name[8];
        snprintf(name, sizeof name, "C%d", i);
        dctr_sparse_feat s;
        dctr_sparse_feat_default(&s, name);
        s.dtype = DCTR_DTYPE_STRING;
        s.vocabulary_size = DCTR_VOCAB_FIT; /* LabelEncoder: fitted on the file */
        s.embedding_dim = 4;
        CHECK(dctr_schema_add_sparse(schema, &s));
    }
    CHECK(dctr_schema_set_label(schema, "label"));
    CHECK(dctr_schema_validate(schema));

    /* 2. Fit the encoders, read the rows, hold out the last 20% as the test set. */
    dctr_csv_options csv;
    dctr_csv_options_default(&csv);
    CHECK(dctr_schema_fit_csv(schema, path, &csv));
    dctr_dataset *all, *train, *test;
    CHECK(dctr_dataset_read_csv(schema, path, &csv, &all));
    CHECK(dctr_dataset_split_tail(all, 0.2, &train, &test));
    printf("%lld rows: %lld train, %lld test\n", (long long)dctr_dataset_num_rows(all),
           (long long)dctr_dataset_num_rows(train), (long long)dctr_dataset_num_rows(test));

    /* 3. DeepFM with DeepCTR's defaults, Adam. */
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.task = DCTR_TASK_BINARY;
    dctr_optimizer_config_default(&cfg.optimizer, DCTR_OPT_ADAM);
    dctr_model *model;
    CHECK(dctr_model_new(schema, &cfg, &model));

    int ok = ex_fit_and_report_binary(model, train, test, argc <= 1);

    dctr_model_free(model);
    dctr_dataset_free(test);
    dctr_dataset_free(train);
    dctr_dataset_free(all);
    dctr_schema_free(schema);
    return ok ? 0 : 1;
}
