/* libFuzzer target: the CSV path (src/data/csv_tokenizer.h, then schema fitting and dataset
 * reading through the public API). The reader takes a path, so the input is written to a memfd
 * and read as /proc/self/fd/N.
 * Input: one mode byte, then the file. Mode bits: 0-1 delimiter (',' '\t' ';' '|'), 2 small
 * limits (32-byte lines, 5 fields), 3 no header, 4 allow extra columns.
 * Checks: every tokenized field lies inside the tokenizer's buffer and within the limits;
 * errors name the file; a file that fits the schema also reads into a dataset with finite
 * labels and the same row count as the tokenizer saw. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/csv_tokenizer.h"
#include "deepctr/data.h"
#include "deepctr/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_csv: invariant failed: %s\n", #cond);      \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* label, C1 (string, fitted vocabulary), I1 (dense, min-max), genres (varlen strings, max 3). */
static dctr_schema *make_schema(char sep) {
    dctr_schema *s;
    CHECK(dctr_schema_new(&s) == DCTR_OK);
    dctr_sparse_feat c1;
    dctr_sparse_feat_default(&c1, "C1");
    c1.dtype = DCTR_DTYPE_STRING;
    dctr_dense_feat i1;
    dctr_dense_feat_default(&i1, "I1");
    i1.transform = DCTR_TRANSFORM_MINMAX;
    dctr_varlen_feat g;
    dctr_varlen_feat_default(&g, "genres", 3);
    g.sparse.dtype = DCTR_DTYPE_STRING;
    g.separator = sep;
    CHECK(dctr_schema_add_sparse(s, &c1) == DCTR_OK);
    CHECK(dctr_schema_add_dense(s, &i1) == DCTR_OK);
    CHECK(dctr_schema_add_varlen(s, &g) == DCTR_OK);
    CHECK(dctr_schema_validate(s) == DCTR_OK);
    return s;
}

/* Tokenizes the whole file; returns the status and the number of records. */
static dctr_status tokenize(const char *path, char delim, size_t max_line, int32_t max_fields,
                            int64_t *records) {
    dctr_csv_tok t;
    *records = 0;
    dctr_status st = dctr_csv_tok_open(&t, path, delim, max_line, max_fields);
    CHECK(st == DCTR_OK);
    for (;;) {
        int got = 0;
        st = dctr_csv_tok_next(&t, &got);
        if (st != DCTR_OK || !got)
            break;
        (*records)++;
        CHECK(t.nf >= 1 && t.nf <= max_fields);
        for (int32_t i = 0; i < t.nf; i++) {
            const dctr_csv_field *f = &t.f[i];
            CHECK(f->p >= t.buf && f->p + f->len <= t.buf + t.cap);
            CHECK(f->len <= max_line);
            CHECK(f->line >= 1 && f->col >= 1);
        }
    }
    dctr_csv_tok_close(&t);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size) {
    if (input_size == 0)
        return 0;
    uint8_t mode = input[0];
    static const char delims[4] = {',', '\t', ';', '|'};
    char delim = delims[mode & 3];
    int fd = memfd_create("fuzz.csv", 0);
    CHECK(fd >= 0);
    CHECK(write(fd, input + 1, input_size - 1) == (ssize_t)(input_size - 1));
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    dctr_csv_options o;
    dctr_csv_options_default(&o);
    o.delimiter = delim;
    if (mode & 4) {
        o.max_line_bytes = 32;
        o.max_fields = 5;
    }
    o.has_header = !(mode & 8);
    o.allow_extra_columns = (mode & 16) != 0;

    int64_t records;
    dctr_status st = tokenize(path, delim, o.max_line_bytes, o.max_fields, &records);
    if (st != DCTR_OK)
        CHECK(strstr(dctr_last_error(), path) != NULL);

    dctr_schema *s = make_schema(delim == '|' ? ';' : '|');
    if (dctr_schema_fit_csv(s, path, &o) == DCTR_OK) {
        CHECK(st == DCTR_OK); /* fitting accepted what the tokenizer rejected */
        dctr_dataset *ds;
        st = dctr_dataset_read_csv(s, path, &o, &ds);
        if (st != DCTR_OK) {
            fprintf(stderr, "fit accepted, read failed: %s\n", dctr_last_error());
            abort();
        }
        int64_t rows = dctr_dataset_num_rows(ds);
        CHECK(rows == records - (o.has_header ? 1 : 0));
        const float *labels = dctr_dataset_labels(ds);
        for (int64_t i = 0; i < rows; i++)
            CHECK(isfinite(labels[i]));
        dctr_dataset_free(ds);
    }
    dctr_schema_free(s);
    close(fd);
    return 0;
}
