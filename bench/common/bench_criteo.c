/* Criteo-shaped synthetic data for the bench programs (see bench_criteo.h). */
#include "bench_criteo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

void bench_check(dctr_status st, const char *what) {
    if (st == DCTR_OK)
        return;
    fprintf(stderr, "%s failed: %s: %s\n", what, dctr_status_name(st), dctr_last_error());
    exit(1);
}

dctr_schema *bench_criteo_schema(int32_t k, int64_t hash_buckets) {
    dctr_schema *s;
    bench_check(dctr_schema_new(&s), "dctr_schema_new");
    char name[8];
    for (int i = 1; i <= BENCH_NDENSE; i++) {
        snprintf(name, sizeof name, "I%d", i);
        dctr_dense_feat d;
        dctr_dense_feat_default(&d, name);
        d.transform = DCTR_TRANSFORM_MINMAX;
        bench_check(dctr_schema_add_dense(s, &d), "dctr_schema_add_dense");
    }
    for (int i = 1; i <= BENCH_NSPARSE; i++) {
        snprintf(name, sizeof name, "C%d", i);
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, name);
        f.dtype = DCTR_DTYPE_STRING;
        f.embedding_dim = k;
        if (hash_buckets > 0) {
            f.use_hash = 1;
            f.vocabulary_size = hash_buckets;
        }
        bench_check(dctr_schema_add_sparse(s, &f), "dctr_schema_add_sparse");
    }
    return s;
}

static double file_mb(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (double)sb.st_size / 1e6 : -1;
}

void bench_data_prepare(bench_data *d, const char *dir, int64_t rows, int64_t max_vocab, int32_t k,
                        int64_t hash_buckets, int read) {
    memset(d, 0, sizeof *d);
    d->rows = rows;
    d->max_vocab = max_vocab;
    snprintf(d->csv, sizeof d->csv, "%s/synth_%lld_%lld.csv", dir, (long long)rows,
             (long long)max_vocab);
    struct stat sb;
    if (stat(d->csv, &sb) != 0) {
        /* generate under a temporary name: an interrupted run never leaves a partial file */
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.tmp", d->csv);
        dctr_synth_options so;
        dctr_synth_options_default(&so);
        so.rows = rows;
        so.max_vocabulary = max_vocab;
        so.csv_path = tmp;
        dctr_synth_report rep;
        double t0 = bench_now();
        bench_check(dctr_synth_generate(&so, &rep), "dctr_synth_generate");
        d->gen_seconds = bench_now() - t0;
        if (rename(tmp, d->csv) != 0) {
            perror("rename");
            exit(1);
        }
    }
    d->csv_mb = file_mb(d->csv);
    d->schema = bench_criteo_schema(k, hash_buckets);
    double t0 = bench_now();
    bench_check(dctr_schema_fit_csv(d->schema, d->csv, NULL), "dctr_schema_fit_csv");
    d->fit_seconds = bench_now() - t0;
    char name[8];
    for (int i = 1; i <= BENCH_NSPARSE; i++) {
        snprintf(name, sizeof name, "C%d", i);
        d->table_rows += dctr_schema_vocabulary_size(d->schema, name);
    }
    if (read) {
        t0 = bench_now();
        bench_check(dctr_dataset_read_csv(d->schema, d->csv, NULL, &d->data), "dctr_dataset_read_csv");
        d->read_seconds = bench_now() - t0;
    }
}

void bench_data_free(bench_data *d) {
    dctr_dataset_free(d->data);
    dctr_schema_free(d->schema);
    d->data = NULL;
    d->schema = NULL;
}

const char *bench_workdir(const char *dir, char *buf, size_t len) {
    if (dir) {
        mkdir(dir, 0777);
        return dir;
    }
    snprintf(buf, len, "/tmp/dctr_bench_XXXXXX");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
    return buf;
}

void bench_remove_dir(const char *dir) {
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *e;
    char path[1200];
    while ((e = readdir(dp)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(dp);
    rmdir(dir);
}
