/* Serving: load a model once, then predict single raw rows (strings exactly as they appear in
 * the CSV) from 4 threads, each with its own dctr_predictor (a predictor owns one thread's
 * workspace, so the hot path never allocates and threads never contend). Prints latency
 * percentiles and checks every answer against the batch prediction of the same rows.
 *
 *   serving [DATA.csv [MODEL.dctr]]
 *
 * DATA is Criteo-shaped (label, I1.., C1..). If MODEL exists it is loaded; otherwise a DeepFM
 * is trained on DATA for 2 epochs and saved there (default: a temp file) and then loaded back,
 * as a separate serving process would. Without DATA, synthetic data is generated. */
#include "example_common.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

#define THREADS 4
#define MAX_ROWS 2000
#define PASSES 5
#define MAX_COLS 256

typedef struct rows {
    int ncols;                 /* feature columns (the label is left out) */
    const char *names[MAX_COLS];
    char *text[MAX_ROWS];      /* each row's line, split in place */
    const char *values[MAX_ROWS][MAX_COLS];
    int count;
} rows;

typedef struct worker {
    const dctr_model *model;
    const rows *rows;
    const float *expected;
    int id;
    double *latency;           /* seconds per call */
    int calls;
    int mismatches;
    dctr_status status;
    char error[256];
} worker;

static void *serve(void *arg) {
    worker *w = arg;
    dctr_predictor *pred;
    w->status = dctr_predictor_new(w->model, 1, &pred);
    if (w->status != DCTR_OK) {
        snprintf(w->error, sizeof w->error, "%s", dctr_last_error());
        return NULL;
    }
    for (int pass = 0; pass < PASSES; pass++)
        for (int i = w->id; i < w->rows->count; i += THREADS) {
            float p;
            double t0 = ex_now();
            dctr_status st = dctr_predictor_predict_row(pred, w->rows->names, w->rows->values[i], w->rows->ncols, &p);
            w->latency[w->calls++] = ex_now() - t0;
            if (st != DCTR_OK) {
                w->status = st;
                snprintf(w->error, sizeof w->error, "row %d: %s", i, dctr_last_error());
                dctr_predictor_free(pred);
                return NULL;
            }
            if (fabsf(p - w->expected[i]) > 1e-5f * (1.0f + fabsf(w->expected[i])))
                w->mismatches++;
        }
    dctr_predictor_free(pred);
    return NULL;
}

/* Reads up to MAX_ROWS raw rows, keeping only the columns the model knows. */
static void read_rows(const char *path, const dctr_schema *schema, rows *r) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    char line[65536];
    char *fields[MAX_COLS];
    int keep[MAX_COLS];
    memset(r, 0, sizeof *r);
    if (!fgets(line, sizeof line, f)) {
        fprintf(stderr, "%s: empty\n", path);
        exit(1);
    }
    static char header[65536];
    memcpy(header, line, sizeof header);
    int n = ex_csv_split(header, fields, MAX_COLS);
    for (int i = 0; i < n; i++) {
        keep[i] = dctr_schema_find(schema, fields[i]) >= 0;
        if (keep[i])
            r->names[r->ncols++] = fields[i];
    }
    while (r->count < MAX_ROWS && fgets(line, sizeof line, f)) {
        char *copy = strdup(line);
        if (!copy || ex_csv_split(copy, fields, MAX_COLS) != n) {
            fprintf(stderr, "%s: row %d: wrong field count\n", path, r->count + 1);
            exit(1);
        }
        r->text[r->count] = copy;
        for (int i = 0, j = 0; i < n; i++)
            if (keep[i])
                r->values[r->count][j++] = fields[i];
        r->count++;
    }
    fclose(f);
}

static dctr_model *train_and_save(const char *data, const char *model_path) {
    dctr_schema *schema;
    CHECK(dctr_schema_new(&schema));
    FILE *f = fopen(data, "r");
    char line[65536];
    char *names[MAX_COLS];
    if (!f || !fgets(line, sizeof line, f)) {
        perror(data);
        exit(1);
    }
    fclose(f);
    int n = ex_csv_split(line, names, MAX_COLS);
    for (int i = 0; i < n; i++) {
        if (names[i][0] == 'I') { /* I1..I13: counts */
            dctr_dense_feat d;
            dctr_dense_feat_default(&d, names[i]);
            d.transform = DCTR_TRANSFORM_MINMAX;
            CHECK(dctr_schema_add_dense(schema, &d));
        } else if (names[i][0] == 'C') { /* C1..C26: categories */
            dctr_sparse_feat s;
            dctr_sparse_feat_default(&s, names[i]);
            s.dtype = DCTR_DTYPE_STRING;
            s.vocabulary_size = DCTR_VOCAB_FIT;
            s.embedding_dim = 8;
            CHECK(dctr_schema_add_sparse(schema, &s));
        }
    }
    CHECK(dctr_schema_set_label(schema, "label"));
    CHECK(dctr_schema_validate(schema));
    dctr_csv_options csv;
    dctr_csv_options_default(&csv);
    CHECK(dctr_schema_fit_csv(schema, data, &csv));
    dctr_dataset *ds;
    CHECK(dctr_dataset_read_csv(schema, data, &csv, &ds));
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    dctr_model *model;
    CHECK(dctr_model_new(schema, &cfg, &model));
    dctr_fit_options fit;
    dctr_fit_options_default(&fit);
    fit.epochs = 2;
    CHECK(dctr_model_fit(model, ds, &fit, NULL));
    CHECK(dctr_model_save(model, model_path, 0));
    printf("trained a DeepFM on %lld rows and saved it to %s\n", (long long)dctr_dataset_num_rows(ds), model_path);
    dctr_model_free(model);
    dctr_dataset_free(ds);
    dctr_schema_free(schema);
    /* A server would start here: load the file. */
    CHECK(dctr_model_load(model_path, &model));
    return model;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    char data_buf[600], model_buf[600];
    const char *data = argc > 1 ? argv[1] : NULL;
    const char *model_path = argc > 2 ? argv[2] : NULL;
    const char *dir = (!data || !model_path) ? ex_temp_dir() : NULL;
    if (!data) {
        dctr_synth_options o;
        dctr_synth_options_default(&o);
        o.rows = 20000;
        o.max_vocabulary = 10000;
        snprintf(data_buf, sizeof data_buf, "%s/serving_synth.csv", dir);
        o.csv_path = data_buf;
        dctr_synth_report rep;
        CHECK(dctr_synth_generate(&o, &rep));
        data = data_buf;
    }
    if (!model_path) {
        snprintf(model_buf, sizeof model_buf, "%s/serving.dctr", dir);
        model_path = model_buf;
    }
    dctr_model *model;
    if (access(model_path, R_OK) == 0) {
        CHECK(dctr_model_load(model_path, &model));
        printf("loaded %s\n", model_path);
    } else {
        model = train_and_save(data, model_path);
    }

    /* Expected answers: the batch path over the same file. */
    static rows r;
    read_rows(data, dctr_model_schema(model), &r);
    dctr_dataset *ds;
    dctr_csv_options csv;
    dctr_csv_options_default(&csv);
    csv.allow_extra_columns = 1;
    csv.require_label = 0;
    CHECK(dctr_dataset_read_csv(dctr_model_schema(model), data, &csv, &ds));
    float *expected = malloc((size_t)dctr_dataset_num_rows(ds) * sizeof *expected);
    if (!expected)
        return 1;
    CHECK(dctr_model_predict(model, ds, expected));

    worker w[THREADS];
    pthread_t tid[THREADS];
    double t0 = ex_now();
    for (int t = 0; t < THREADS; t++) {
        w[t] = (worker){.model = model, .rows = &r, .expected = expected, .id = t};
        w[t].latency = malloc(sizeof(double) * (size_t)(PASSES * (MAX_ROWS / THREADS + 1)));
        if (!w[t].latency || pthread_create(&tid[t], NULL, serve, &w[t]) != 0) {
            fprintf(stderr, "cannot start thread %d\n", t);
            return 1;
        }
    }
    int total = 0, mismatches = 0, ok = 1;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tid[t], NULL);
        if (w[t].status != DCTR_OK) {
            fprintf(stderr, "thread %d: %s\n", t, w[t].error);
            ok = 0;
        }
        total += w[t].calls;
        mismatches += w[t].mismatches;
    }
    double wall = ex_now() - t0;
    double *all = malloc(sizeof(double) * (size_t)(total > 0 ? total : 1));
    int k = 0;
    for (int t = 0; t < THREADS; t++) {
        memcpy(all + k, w[t].latency, sizeof(double) * (size_t)w[t].calls);
        k += w[t].calls;
        free(w[t].latency);
    }
    qsort(all, (size_t)total, sizeof *all, cmp_double);
    if (total > 0)
        printf("%d single-row predictions from %d threads in %.2fs (%.0f rows/s)\n"
               "latency p50 %.1f us  p99 %.1f us  max %.1f us\n",
               total, THREADS, wall, total / wall, 1e6 * all[total / 2], 1e6 * all[(int)(total * 0.99)],
               1e6 * all[total - 1]);
    if (mismatches) {
        fprintf(stderr, "%d single-row predictions differ from the batch predictions\n", mismatches);
        ok = 0;
    } else {
        printf("every single-row prediction equals the batch prediction of its row\n");
    }
    free(all);
    free(expected);
    for (int i = 0; i < r.count; i++)
        free(r.text[i]);
    dctr_dataset_free(ds);
    dctr_model_free(model);
    return ok && total > 0 ? 0 : 1;
}
