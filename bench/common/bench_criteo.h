/* The Criteo-shaped benchmark data (issue 7): 13 dense columns I1..I13 (min-max) and 26 string
 * columns C1..C26 (fitted vocabularies, embedding dim k) from dctr_synth_generate, written
 * once per (rows, vocabulary cap) into a directory and reused by every bench program. */
#ifndef DCTR_BENCH_CRITEO_H
#define DCTR_BENCH_CRITEO_H

#include <stdint.h>

#include "deepctr/deepctr.h"

#define BENCH_NDENSE 13
#define BENCH_NSPARSE 26

typedef struct bench_data {
    char csv[1024];
    int64_t rows;
    int64_t max_vocab;
    double csv_mb;
    double gen_seconds;  /* 0 when the CSV was already there */
    double fit_seconds;
    double read_seconds;
    int64_t table_rows;  /* sum of the fitted vocabulary sizes */
    dctr_schema *schema; /* fitted */
    dctr_dataset *data;  /* whole file, in memory (NULL when not read) */
} bench_data;

/* Exits the program with a message when a call fails (bench programs only). */
void bench_check(dctr_status st, const char *what);

/* An unfitted schema for the shape, embedding dim k; hash_buckets > 0 hashes every sparse column
 * into that many rows (use_hash), 0 fits a vocabulary per column. */
dctr_schema *bench_criteo_schema(int32_t k, int64_t hash_buckets);

/* Makes sure dir/synth_<rows>_<vocab>.csv exists (generating it), fits the schema (dim k,
 * hash_buckets as above) and, when `read` is set, reads the whole file into memory. */
void bench_data_prepare(bench_data *d, const char *dir, int64_t rows, int64_t max_vocab, int32_t k,
                        int64_t hash_buckets, int read);
void bench_data_free(bench_data *d);

/* A temporary directory (mkdtemp under /tmp) when dir is NULL; returns dir or the new path. */
const char *bench_workdir(const char *dir, char *buf, size_t len);
/* Removes the files of a directory made by bench_workdir, then the directory. */
void bench_remove_dir(const char *dir);

#endif
