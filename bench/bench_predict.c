/* Prediction on the Criteo shape (issue 7): batch predict samples/s at batch 4096 through
 * dctr_predictor_run (1 thread, and 2 threads with a predictor each; OpenBLAS at 1 thread so a
 * thread is a core), and the serving path's
 * single-row latency p50 / p99 through dctr_predictor_predict_row (raw CSV strings in,
 * probability out) and through the typed path dctr_predictor_predict_arrays (issue 14; columns
 * by index, dense values as numbers), for DeepFM, FM, LR and FFM. The models are freshly initialised (prediction
 * cost does not depend on the weights' values).
 *
 * Usage: bench_predict [--rows N] [--vocab V] [--quick] [--seconds S] [--dir DIR] [--json FILE]
 *   --rows: rows of the synthetic file (default 200000; --quick 20000); batch predict runs over
 *   them repeatedly for S seconds (default 3; --quick 0.5). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_criteo.h"
#include "bench_json.h"
#include "bench_util.h"
#include "deepctr/runtime.h"
#include "core/blas.h"
#include "data/batch.h"
#include "deepctr/services.h"

#define K_EMB 8
#define BATCH 4096
#define NCOLS (BENCH_NDENSE + BENCH_NSPARSE)
static const int HIDDEN[2] = {256, 128};

typedef struct kind {
    const char *name;
    dctr_model_type type;
} kind;
static const kind MODELS[] = {{"deepfm", DCTR_MODEL_DEEPFM},
                              {"fm", DCTR_MODEL_FM},
                              {"lr", DCTR_MODEL_LR},
                              {"ffm", DCTR_MODEL_FFM}};
#define NMODELS 4

typedef struct batch_job {
    const dctr_model *model;
    const dctr_batch *rows;
    double seconds;
    int64_t done;
    double wall, cpu;
    int failed;
} batch_job;

/* Runs batches of BATCH rows over the dataset (wrapping around) for `seconds`. */
static void *batch_worker(void *arg) {
    batch_job *j = arg;
    dctr_predictor *p = NULL;
    dctr_batch view;
    float *out = malloc(sizeof(float) * BATCH);
    if (!out || dctr_predictor_new(j->model, BATCH, &p) != DCTR_OK ||
        dctr_batch_view_init(&view, j->rows->schema) != DCTR_OK) {
        j->failed = 1;
        free(out);
        dctr_predictor_free(p);
        return NULL;
    }
    int64_t n = j->rows->n, start = 0;
    /* warm-up batch: first-touch of the workspace and OpenBLAS buffers */
    dctr_batch_view(j->rows, 0, n < BATCH ? n : BATCH, &view);
    if (dctr_predictor_run(p, &view, out) != DCTR_OK)
        j->failed = 1;
    double t0 = bench_now(), t_end = t0 + j->seconds;
    struct timespec c0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    while (!j->failed && (j->done == 0 || bench_now() < t_end)) {
        int64_t cnt = n - start < BATCH ? n - start : BATCH;
        dctr_batch_view(j->rows, start, cnt, &view);
        if (dctr_predictor_run(p, &view, out) != DCTR_OK)
            j->failed = 1;
        j->done += cnt;
        start = start + cnt >= n ? 0 : start + cnt;
    }
    j->wall = bench_now() - t0;
    struct timespec c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    j->cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    dctr_batch_view_release(&view);
    dctr_predictor_free(p);
    free(out);
    return NULL;
}

/* Samples/s with `threads` predictors running side by side (wall clock, all of them). */
static double batch_rate(const dctr_model *m, const dctr_batch *rows, int threads, double seconds,
                         double *per_cpu_s) {
    batch_job jobs[2];
    pthread_t tid[2];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (batch_job){m, rows, seconds, 0, 0, 0, 0};
        pthread_create(&tid[i], NULL, batch_worker, &jobs[i]);
    }
    double total = 0, wall = 0, cpu = 0;
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += (double)jobs[i].done;
        wall = jobs[i].wall > wall ? jobs[i].wall : wall;
        cpu += jobs[i].cpu;
        failed |= jobs[i].failed;
    }
    if (failed) {
        fprintf(stderr, "batch predict failed: %s\n", dctr_last_error());
        return NAN;
    }
    /* thread CPU time misses OpenBLAS's own threads: a lower bound of the CPU used */
    *per_cpu_s = total / cpu;
    return total / wall;
}

/* The first `n` data lines of the CSV split into fields (the label column dropped). */
typedef struct raw_rows {
    int n;
    char **lines;
    const char *(*values)[NCOLS];
    const char *names[NCOLS];
    char header[1024];
} raw_rows;

static void raw_rows_load(raw_rows *r, const char *csv, int n) {
    memset(r, 0, sizeof *r);
    FILE *f = fopen(csv, "r");
    if (!f) {
        perror(csv);
        exit(1);
    }
    if (!fgets(r->header, sizeof r->header, f)) {
        fprintf(stderr, "%s: empty\n", csv);
        exit(1);
    }
    r->header[strcspn(r->header, "\r\n")] = 0;
    /* header: label first, then the 39 inputs */
    char *save = NULL, *tok = strtok_r(r->header, ",", &save);
    for (int i = 0; i < NCOLS && tok; i++) {
        tok = strtok_r(NULL, ",", &save);
        r->names[i] = tok;
    }
    r->lines = calloc((size_t)n, sizeof(char *));
    r->values = calloc((size_t)n, sizeof *r->values);
    if (!r->lines || !r->values) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    char buf[4096];
    while (r->n < n && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = 0;
        char *line = strdup(buf);
        r->lines[r->n] = line;
        char *p = strchr(line, ','); /* skip the label */
        for (int c = 0; c < NCOLS; c++) {
            if (!p)
                break;
            *p++ = 0;
            r->values[r->n][c] = p; /* empty fields stay "" (missing) */
            p = strchr(p, ',');
        }
        r->n++;
    }
    fclose(f);
}

static void raw_rows_free(raw_rows *r) {
    for (int i = 0; i < r->n; i++)
        free(r->lines[i]);
    free(r->lines);
    free((void *)r->values);
}

typedef struct latency {
    double p50_us, p99_us, mean_us, max_us;
    int calls;
} latency;

/* The same rows for the typed serving path (dctr_predictor_predict_arrays): columns by schema
 * index, dense values already numbers, categorical values as given: what a service fills from
 * its own structs, with no CSV text to split and no column name to look up per call. */
typedef struct typed_rows {
    dctr_array_column *cols; /* [n * NCOLS] */
    float *dense;            /* [n * NCOLS] */
    dctr_arrays *rows;       /* [n], one row each */
} typed_rows;

static void typed_rows_make(typed_rows *t, const raw_rows *rr, const dctr_schema *schema) {
    size_t cells = (size_t)rr->n * NCOLS;
    t->cols = calloc(cells, sizeof *t->cols);
    t->dense = calloc(cells, sizeof *t->dense);
    t->rows = calloc((size_t)rr->n, sizeof *t->rows);
    if (!t->cols || !t->dense || !t->rows) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int c = 0; c < NCOLS; c++) {
        int32_t idx = dctr_schema_find(schema, rr->names[c]);
        int dense = dctr_schema_column_kind(schema, idx) == DCTR_COLUMN_DENSE;
        for (int r = 0; r < rr->n; r++) {
            dctr_array_column *col = &t->cols[(size_t)r * NCOLS + c];
            col->column = idx;
            if (dense) {
                const char *v = rr->values[r][c];
                t->dense[(size_t)r * NCOLS + c] = *v ? strtof(v, NULL) : NAN;
                col->values = &t->dense[(size_t)r * NCOLS + c];
            } else {
                col->strings = &rr->values[r][c];
            }
        }
    }
    for (int r = 0; r < rr->n; r++) {
        dctr_arrays_init(&t->rows[r]);
        t->rows[r].num_rows = 1;
        t->rows[r].columns = &t->cols[(size_t)r * NCOLS];
        t->rows[r].num_columns = NCOLS;
    }
}

static void typed_rows_free(typed_rows *t) {
    free(t->cols);
    free(t->dense);
    free(t->rows);
}

/* Single-row latency through the string path (typed == NULL) or the typed path. */
static int row_latency(const dctr_model *m, const raw_rows *rr, const typed_rows *typed, int calls,
                       latency *out) {
    dctr_predictor *p;
    if (dctr_predictor_new(m, 1, &p) != DCTR_OK)
        return -1;
    double *t = malloc(sizeof(double) * (size_t)calls);
    if (!t) {
        dctr_predictor_free(p);
        return -1;
    }
    float y = 0;
    double sum = 0;
    for (int i = -200; i < calls; i++) { /* 200 warm-up calls */
        int row = (i + 200) % rr->n;
        double t0 = bench_now();
        dctr_status st = typed ? dctr_predictor_predict_arrays(p, &typed->rows[row], &y, NULL)
                               : dctr_predictor_predict_row(p, rr->names, rr->values[row], NCOLS, &y);
        double dt = bench_now() - t0;
        if (st != DCTR_OK) {
            fprintf(stderr, "%s: %s\n", typed ? "predict_arrays" : "predict_row", dctr_last_error());
            free(t);
            dctr_predictor_free(p);
            return -1;
        }
        if (i >= 0) {
            t[i] = dt * 1e6;
            sum += t[i];
        }
    }
    out->calls = calls;
    out->mean_us = sum / calls;
    out->p50_us = bench_quantile(t, (size_t)calls, 0.50);
    out->p99_us = bench_quantile(t, (size_t)calls, 0.99);
    out->max_us = t[calls - 1];
    free(t);
    dctr_predictor_free(p);
    return 0;
}

typedef struct result {
    int ok;
    double sps1, sps1_cpu, sps2, sps2_cpu;
    latency lat, typed;
    int64_t param_bytes;
} result;

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    int64_t rows = -1, vocab = 1000000;
    int quick = 0;
    double seconds = -1;
    const char *dir_opt = NULL, *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            rows = atoll(argv[++i]);
        else if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc)
            vocab = atoll(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir_opt = argv[++i];
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else {
            fprintf(stderr, "usage: bench_predict [--rows N] [--vocab V] [--quick] [--seconds S] "
                            "[--dir DIR] [--json FILE]\n");
            return 2;
        }
    }
    if (rows < 0)
        rows = quick ? 20000 : 200000;
    if (seconds < 0)
        seconds = quick ? 0.5 : 3.0;
    int calls = quick ? 5000 : 50000;
    char dirbuf[64];
    const char *dir = bench_workdir(dir_opt, dirbuf, sizeof dirbuf);
    bench_machine mach;
    bench_machine_info(&mach);
    bench_data d;
    bench_data_prepare(&d, dir, rows, vocab, K_EMB, 0, 1);
    raw_rows rr;
    raw_rows_load(&rr, d.csv, 10000);
    typed_rows tr;
    typed_rows_make(&tr, &rr, d.schema);
    const dctr_batch *all = dctr_dataset_rows(d.data);

    result res[NMODELS];
    memset(res, 0, sizeof res);
    for (int mi = 0; mi < NMODELS; mi++) {
        dctr_model_config cfg;
        dctr_model_config_default(&cfg, MODELS[mi].type);
        cfg.hidden_units = HIDDEN;
        cfg.num_hidden = 2;
        dctr_model *m;
        bench_check(dctr_model_new(d.schema, &cfg, &m), "dctr_model_new");
        result *r = &res[mi];
        r->param_bytes = dctr_model_parameter_bytes(m);
        /* one OpenBLAS thread per caller: "1 thread" is then one core's worth */
        int saved = dctr_blas_get_threads();
        dctr_blas_set_threads(1);
        r->sps1 = batch_rate(m, all, 1, seconds, &r->sps1_cpu);
        r->sps2 = batch_rate(m, all, 2, seconds, &r->sps2_cpu);
        dctr_blas_set_threads(saved);
        r->ok = isfinite(r->sps1) && row_latency(m, &rr, NULL, calls, &r->lat) == 0 &&
                row_latency(m, &rr, &tr, calls, &r->typed) == 0;
        fprintf(stderr, "  %s: %.0f samples/s (1 thread), p99 %.1f us\n", MODELS[mi].name, r->sps1,
                r->lat.p99_us);
        dctr_model_free(m);
    }

    char b1[32], b2[32], b3[32], b4[32];
    printf("## Prediction (bench_predict): %lld rows, batch %d; single rows through "
           "dctr_predictor_predict_row (raw CSV strings by name) and through the typed path "
           "dctr_predictor_predict_arrays (%d calls each over %d distinct rows)\n\n",
           (long long)rows, BATCH, calls, rr.n);
    printf("| model | batch samples/s, 1 thread | per CPU-s | 2 threads | per CPU-s | row p50 us | "
           "row p99 us | row mean us | typed p50 us | typed p99 us | typed / string p50 |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int mi = 0; mi < NMODELS; mi++) {
        result *r = &res[mi];
        if (!r->ok) {
            printf("| %s | failed ||||||||||\n", MODELS[mi].name);
            continue;
        }
        printf("| %s | %s | %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f %% |\n",
               MODELS[mi].name, bench_si(r->sps1, b1, sizeof b1),
               bench_si(r->sps1_cpu, b2, sizeof b2), bench_si(r->sps2, b3, sizeof b3),
               bench_si(r->sps2_cpu, b4, sizeof b4), r->lat.p50_us, r->lat.p99_us, r->lat.mean_us,
               r->typed.p50_us, r->typed.p99_us, 100.0 * r->typed.p50_us / r->lat.p50_us);
    }
    printf("\nBatch figures with OpenBLAS at 1 thread (each caller is one core); 2 threads = two "
           "callers, a predictor each. Per CPU-s = samples per CPU-second of the callers.\n\n");

    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        bench_json j;
        bench_json_init(&j, f);
        bench_json_begin_object(&j, NULL);
        bench_json_str(&j, "bench", "predict");
        bench_json_machine(&j, "machine", &mach);
        bench_json_int(&j, "rows", rows);
        bench_json_int(&j, "table_rows", d.table_rows);
        bench_json_int(&j, "batch", BATCH);
        bench_json_int(&j, "row_calls", calls);
        bench_json_begin_array(&j, "predict");
        for (int mi = 0; mi < NMODELS; mi++) {
            result *r = &res[mi];
            bench_json_begin_object(&j, NULL);
            bench_json_str(&j, "model", MODELS[mi].name);
            bench_json_bool(&j, "ok", r->ok);
            bench_json_int(&j, "parameter_bytes", r->param_bytes);
            bench_json_num(&j, "batch_samples_per_s_1thread", r->sps1);
            bench_json_num(&j, "batch_samples_per_cpu_s_1thread", r->sps1_cpu);
            bench_json_num(&j, "batch_samples_per_s_2threads", r->sps2);
            bench_json_num(&j, "batch_samples_per_cpu_s_2threads", r->sps2_cpu);
            bench_json_num(&j, "row_p50_us", r->lat.p50_us);
            bench_json_num(&j, "row_p99_us", r->lat.p99_us);
            bench_json_num(&j, "row_mean_us", r->lat.mean_us);
            bench_json_num(&j, "row_max_us", r->lat.max_us);
            bench_json_num(&j, "typed_row_p50_us", r->typed.p50_us);
            bench_json_num(&j, "typed_row_p99_us", r->typed.p99_us);
            bench_json_num(&j, "typed_row_mean_us", r->typed.mean_us);
            bench_json_end_object(&j);
        }
        bench_json_end_array(&j);
        bench_json_end_object(&j);
        fclose(f);
    }
    typed_rows_free(&tr);
    raw_rows_free(&rr);
    bench_data_free(&d);
    if (!dir_opt)
        bench_remove_dir(dir);
    return 0;
}
