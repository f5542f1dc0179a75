/* Multi-value genres on MovieLens (DeepCTR's examples/run_multivalue_movielens.py): the
 * `genres` field "Comedy|Drama" becomes a VarLenSparseFeat (maxlen 5, combiner mean, id 0 =
 * padding) next to the six sparse columns; DeepFM regression on `rating`, Adam, 10 epochs,
 * batch 256, validation = last 20% of the training part, test MSE on the file's last 20%.
 *
 * Two variants:
 *   plain     genres pooled by mean;
 *   weighted  genres pooled with per-genre weights (DeepCTR's weight_name). The files carry
 *             no weights, so this program derives a copy with a `genres_weight` column: the
 *             genre at position t of the list gets weight 1/(t+1) ("1|0.5|0.333", the first
 *             listed genre counts most), in the same "|"-separated form as the genres. With
 *             weight_norm (the default) they are softmax-normalised over the row's genres.
 *
 *   movielens_multivalue [movielens_sample.txt]
 */
#include "example_common.h"

static const char *const SPARSE[] = {"user_id", "movie_id", "gender", "age", "occupation", "zip"};
#define NUM_SPARSE (int)(sizeof SPARSE / sizeof SPARSE[0])
#define MAXLEN 5

/* Copies the columns the weighted variant needs and appends genres_weight. */
static void write_weighted_copy(const char *in_path, const char *out_path) {
    static const char *const keep[] = {"user_id", "movie_id", "gender", "age", "occupation", "zip", "rating", "genres"};
    enum { NKEEP = 8, MAXF = 64 };
    FILE *in = fopen(in_path, "r"), *out = fopen(out_path, "w");
    if (!in || !out) {
        perror(in ? out_path : in_path);
        exit(1);
    }
    char line[65536];
    char *f[MAXF];
    int idx[NKEEP];
    if (!fgets(line, sizeof line, in)) {
        fprintf(stderr, "%s: empty file\n", in_path);
        exit(1);
    }
    int n = ex_csv_split(line, f, MAXF);
    for (int k = 0; k < NKEEP; k++) {
        idx[k] = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(f[i], keep[k]) == 0)
                idx[k] = i;
        if (idx[k] < 0) {
            fprintf(stderr, "%s: no column '%s' in the header\n", in_path, keep[k]);
            exit(1);
        }
        fprintf(out, "%s,", keep[k]);
    }
    fputs("genres_weight\n", out);
    for (long lineno = 2; fgets(line, sizeof line, in); lineno++) {
        if (ex_csv_split(line, f, MAXF) != n) {
            fprintf(stderr, "%s:%ld: expected %d fields\n", in_path, lineno, n);
            exit(1);
        }
        for (int k = 0; k < NKEEP; k++)
            fprintf(out, "%s,", f[idx[k]]);
        const char *g = f[idx[NKEEP - 1]];
        int t = 0;
        for (const char *p = g; *p; p++)
            if (*p == '|' || p == g) {
                fprintf(out, "%s%.4f", t ? "|" : "", 1.0 / (t + 1));
                t++;
            }
        fputc('\n', out);
    }
    fclose(in);
    if (fclose(out) != 0) {
        perror(out_path);
        exit(1);
    }
}

/* Trains one variant; returns its test MSE (and the MSE of predicting 0 in *mse_zero). */
static double run_variant(const char *path, int weighted, double *mse_zero) {
    dctr_schema *schema;
    CHECK(dctr_schema_new(&schema));
    for (int i = 0; i < NUM_SPARSE; i++) {
        dctr_sparse_feat s;
        dctr_sparse_feat_default(&s, SPARSE[i]);
        s.dtype = DCTR_DTYPE_STRING;
        s.vocabulary_size = DCTR_VOCAB_FIT;
        s.embedding_dim = 4;
        CHECK(dctr_schema_add_sparse(schema, &s));
    }
    dctr_varlen_feat g;
    dctr_varlen_feat_default(&g, "genres", MAXLEN);
    g.sparse.dtype = DCTR_DTYPE_STRING;
    g.sparse.vocabulary_size = DCTR_VOCAB_FIT; /* genre -> id 1..G; 0 pads */
    g.sparse.embedding_dim = 4;
    g.combiner = DCTR_COMBINER_MEAN;
    g.separator = '|';
    if (weighted)
        g.weight_name = "genres_weight";
    CHECK(dctr_schema_add_varlen(schema, &g));
    CHECK(dctr_schema_set_label(schema, "rating"));
    CHECK(dctr_schema_validate(schema));

    dctr_csv_options csv;
    dctr_csv_options_default(&csv);
    csv.allow_extra_columns = 1;
    CHECK(dctr_schema_fit_csv(schema, path, &csv));
    dctr_dataset *all, *train, *test;
    CHECK(dctr_dataset_read_csv(schema, path, &csv, &all));
    CHECK(dctr_dataset_split_tail(all, 0.2, &train, &test));
    printf("[%s] genres vocabulary %lld, %lld train rows\n", weighted ? "weighted" : "plain",
           (long long)dctr_schema_vocabulary_size(schema, "genres"), (long long)dctr_dataset_num_rows(train));

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
    fit.progress_user = (void *)1;
    CHECK(dctr_model_fit(model, train, &fit, NULL));
    double m[DCTR_METRIC_COUNT];
    CHECK(dctr_model_evaluate(model, test, m));

    const float *y = dctr_dataset_labels(test);
    int64_t n = dctr_dataset_num_rows(test);
    *mse_zero = 0;
    for (int64_t i = 0; i < n; i++)
        *mse_zero += (double)y[i] * y[i] / (double)n;
    dctr_model_free(model);
    dctr_dataset_free(test);
    dctr_dataset_free(train);
    dctr_dataset_free(all);
    dctr_schema_free(schema);
    return m[DCTR_METRIC_MSE];
}

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    const char *dir = ex_temp_dir();
    char gen[600], weighted_path[600];
    const char *path = argc > 1 ? argv[1] : NULL;
    if (!path) {
        snprintf(gen, sizeof gen, "%s/movielens_like.csv", dir);
        ex_write_movielens_like(gen, 5000);
        printf("generated 5000 MovieLens-shaped rows in %s\n", gen);
        path = gen;
    }
    snprintf(weighted_path, sizeof weighted_path, "%s/movielens_weighted.csv", dir);
    write_weighted_copy(path, weighted_path);

    double zero_plain, zero_weighted;
    double plain = run_variant(path, 0, &zero_plain);
    double weighted = run_variant(weighted_path, 1, &zero_weighted);
    printf("test MSE plain %.4f\ntest MSE weighted %.4f\n(predicting 0: %.4f)\n", plain, weighted, zero_plain);
    int ok = plain >= 0 && plain < zero_plain && weighted >= 0 && weighted < zero_weighted;
    if (!ok)
        fprintf(stderr, "a variant is no better than predicting 0\n");
    return ok ? 0 : 1;
}
