/* Input throughput on a synthetic Criteo-shaped file (default 500k rows): CSV parse+encode
 * (MB/s and rows/s, the schema already fitted: label-encoded C1..C26, min-max I1..I13), the
 * fitting pass itself, streaming reads, and binary-cache write / read (GB/s of cache bytes).
 * Usage: bench_input [--rows N] [--dir DIR] [--json FILE] [--keep]
 * (libffm text throughput is measured by bench_ffm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/batch.h"
#include "deepctr/deepctr.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this process: the input path is single-threaded, so this is the per-core cost
 * even when other work shares the machine. */
static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

#define CHECK(expr)                                                                        \
    do {                                                                                   \
        dctr_status s_ = (expr);                                                           \
        if (s_ != DCTR_OK) {                                                               \
            fprintf(stderr, "%s failed: %s: %s\n", #expr, dctr_status_name(s_),            \
                    dctr_last_error());                                                    \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static dctr_schema *criteo_schema(void) {
    dctr_schema *s;
    CHECK(dctr_schema_new(&s));
    char name[8];
    for (int i = 1; i <= 13; i++) {
        snprintf(name, sizeof name, "I%d", i);
        dctr_dense_feat d;
        dctr_dense_feat_default(&d, name);
        d.transform = DCTR_TRANSFORM_MINMAX;
        CHECK(dctr_schema_add_dense(s, &d));
    }
    for (int i = 1; i <= 26; i++) {
        snprintf(name, sizeof name, "C%d", i);
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, name);
        f.dtype = DCTR_DTYPE_STRING;
        CHECK(dctr_schema_add_sparse(s, &f));
    }
    return s;
}

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    int64_t rows = 500000;
    const char *json = NULL, *dir = NULL;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            rows = atoll(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: bench_input [--rows N] [--dir DIR] [--json FILE] [--keep]\n");
            return 2;
        }
    }
    char tmpl[] = "/tmp/bench_input_XXXXXX";
    if (!dir) {
        dir = mkdtemp(tmpl);
        if (!dir) {
            perror("mkdtemp");
            return 1;
        }
    }
    char csv[1024], cache[1024];
    snprintf(csv, sizeof csv, "%s/synth.csv", dir);
    snprintf(cache, sizeof cache, "%s/synth.dcc", dir);

    dctr_synth_options so;
    dctr_synth_options_default(&so);
    so.rows = rows;
    so.csv_path = csv;
    dctr_synth_report rep;
    double t0 = now();
    CHECK(dctr_synth_generate(&so, &rep));
    double t_gen = now() - t0;
    double mb = (double)file_size(csv) / 1e6;

    dctr_schema *s = criteo_schema();
    t0 = now();
    CHECK(dctr_schema_fit_csv(s, csv, NULL));
    double t_fit = now() - t0;

    double t_read = 1e30, c_read = 1e30;
    dctr_dataset *ds = NULL;
    for (int rep_i = 0; rep_i < 2; rep_i++) { /* best of 2 (the page cache is warm after fit) */
        dctr_dataset_free(ds);
        t0 = now();
        double c0 = cpu();
        CHECK(dctr_dataset_read_csv(s, csv, NULL, &ds));
        double t = now() - t0, c = cpu() - c0;
        t_read = t < t_read ? t : t_read;
        c_read = c < c_read ? c : c_read;
    }

    dctr_stream *st;
    dctr_batch *b;
    CHECK(dctr_stream_open_csv(s, csv, NULL, &st));
    CHECK(dctr_batch_new(s, 4096, &b));
    t0 = now();
    int64_t got, total = 0;
    do {
        CHECK(dctr_stream_next(st, b, &got));
        total += got;
    } while (got > 0);
    double t_stream = now() - t0;
    dctr_stream_free(st);
    dctr_batch_free(b);

    t0 = now();
    CHECK(dctr_dataset_save_cache(ds, cache));
    double t_wcache = now() - t0;
    double gb = (double)file_size(cache) / 1e9;
    double t_rcache = 1e30, c_rcache = 1e30;
    for (int k = 0; k < 3; k++) {
        dctr_dataset *c;
        t0 = now();
        double c0 = cpu();
        CHECK(dctr_dataset_load_cache(s, cache, &c));
        /* touch one value per 4 KiB page of each array so the mapping is really read */
        const dctr_batch *rb = dctr_dataset_rows(c);
        volatile int64_t sink = 0;
        for (int32_t i = 0; i < s->ncols; i++)
            if (rb->cols[i].ids)
                for (int64_t r = 0; r < rb->n; r += 512)
                    sink += rb->cols[i].ids[r];
        (void)sink;
        double t = now() - t0, cc = cpu() - c0;
        t_rcache = t < t_rcache ? t : t_rcache;
        c_rcache = cc < c_rcache ? cc : c_rcache;
        dctr_dataset_free(c);
    }

    printf("## bench_input (%lld rows, %.1f MB CSV, %.1f MB cache; planted AUC %.4f)\n\n",
           (long long)rows, mb, gb * 1e3, rep.planted_auc);
    printf("| step | seconds | MB/s | rows/s |\n|---|---|---|---|\n");
    printf("| synth generate (CSV) | %.2f | %.0f | %.0f |\n", t_gen, mb / t_gen, rows / t_gen);
    printf("| fit (vocab + min/max) | %.2f | %.0f | %.0f |\n", t_fit, mb / t_fit, rows / t_fit);
    printf("| CSV parse+encode (dataset) | %.2f | %.0f | %.0f |\n", t_read, mb / t_read,
           rows / t_read);
    printf("| CSV parse+encode, CPU time (per core) | %.2f | %.0f | %.0f |\n", c_read,
           mb / c_read, rows / c_read);
    printf("| CSV streaming (4096-row batches) | %.2f | %.0f | %.0f |\n", t_stream,
           mb / t_stream, total / t_stream);
    printf("| cache write | %.3f | %.0f | %.0f |\n", t_wcache, gb * 1e3 / t_wcache,
           rows / t_wcache);
    printf("| cache read (mmap + CRC + range check) | %.3f | %.0f | %.0f |\n", t_rcache,
           gb * 1e3 / t_rcache, rows / t_rcache);
    printf("| cache read, CPU time | %.3f | %.0f | %.0f |\n", c_rcache, gb * 1e3 / c_rcache,
           rows / c_rcache);
    printf("\n(MB/s of CSV text for the CSV rows; MB/s of cache bytes for the cache rows.)\n");
    if (json) {
        FILE *f = fopen(json, "w");
        if (f) {
            fprintf(f,
                    "{\"rows\": %lld, \"csv_mb\": %.3f, \"cache_mb\": %.3f, \"planted_auc\": %.5f,\n"
                    " \"synth_s\": %.4f, \"fit_s\": %.4f, \"csv_read_s\": %.4f,\n"
                    " \"csv_read_mb_per_s\": %.2f, \"csv_read_rows_per_s\": %.1f,\n"
                    " \"csv_read_cpu_mb_per_s\": %.2f, \"cache_read_cpu_gb_per_s\": %.3f,\n"
                    " \"stream_mb_per_s\": %.2f, \"cache_write_gb_per_s\": %.3f,\n"
                    " \"cache_read_gb_per_s\": %.3f}\n",
                    (long long)rows, mb, gb * 1e3, rep.planted_auc, t_gen, t_fit, t_read,
                    mb / t_read, rows / t_read, mb / c_read, gb / c_rcache, mb / t_stream, gb / t_wcache, gb / t_rcache);
            fclose(f);
        }
    }
    dctr_dataset_free(ds);
    dctr_schema_free(s);
    if (!keep) {
        unlink(csv);
        unlink(cache);
        if (dir == tmpl)
            rmdir(dir);
    }
    return 0;
}
