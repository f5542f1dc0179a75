/* DeepFM on Criteo-style data with hashed categories (DeepCTR's
 * examples/run_classification_criteo_hash.py): every sparse column is SparseFeat(use_hash=True,
 * vocabulary_size=1000, dtype=string), so no vocabulary is fitted or stored: a category never
 * seen in training still gets a bucket. Dense I1..I13 are min-max scaled. Adam, 10 epochs,
 * batch 256, validation = last 20% of the training part, test = the file's last 20%.
 *
 *   criteo_hashing [criteo_sample.txt]
 *
 * Hashing is TensorFlow's: FarmHash Fingerprint64(value) mod 1000, so ids match DeepCTR's. */
#include "example_common.h"

#define NUM_DENSE 13
#define NUM_SPARSE 26
#define HASH_BUCKETS 1000

static const char *data_path(int argc, char **argv, char *buf, size_t cap) {
    if (argc > 1)
        return argv[1];
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    o.rows = 50000;
    o.seed = 2021;
    o.max_vocabulary = 1000;
    snprintf(buf, cap, "%s/criteo_synth.csv", ex_temp_dir());
    o.csv_path = buf;
    dctr_synth_report r;
    CHECK(dctr_synth_generate(&o, &r));
    printf("generated %lld synthetic rows in %s (planted model: auc %.4f)\n", (long long)r.rows, buf, r.planted_auc);
    return buf;
}

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    char buf[600];
    const char *path = data_path(argc, argv, buf, sizeof buf);

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
        s.use_hash = 1;
        s.vocabulary_size = HASH_BUCKETS;
        s.dtype = DCTR_DTYPE_STRING;
        s.embedding_dim = 4;
        CHECK(dctr_schema_add_sparse(schema, &s));
    }
    CHECK(dctr_schema_set_label(schema, "label"));
    CHECK(dctr_schema_validate(schema));

    /* Fitting still runs once: it learns the dense columns' min/max (hashed columns need nothing). */
    dctr_csv_options csv;
    dctr_csv_options_default(&csv);
    CHECK(dctr_schema_fit_csv(schema, path, &csv));
    printf("C1: %lld hash buckets, embedding dim %d\n", (long long)dctr_schema_vocabulary_size(schema, "C1"),
           (int)dctr_schema_embedding_dim(schema, "C1"));
    dctr_dataset *all, *train, *test;
    CHECK(dctr_dataset_read_csv(schema, path, &csv, &all));
    CHECK(dctr_dataset_split_tail(all, 0.2, &train, &test));

    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
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
