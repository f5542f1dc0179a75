/* Header and type sniffing of a CSV file (see csvpeek.h). */
#include "csvpeek.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "data/csv_tokenizer.h"

static int is_number(const char *s) {
    char *end = NULL;
    double v = strtod(s, &end);
    while (*end == ' ')
        end++;
    return end != s && *end == '\0' && isfinite(v);
}

void cli_csv_peek_free(cli_csv_peek *p) {
    for (int32_t i = 0; i < p->num_columns; i++)
        free(p->names[i]);
    free(p->names);
    free(p->numeric);
    free(p->nonempty);
    free(p->log_counts);
    memset(p, 0, sizeof *p);
}

int32_t cli_csv_peek_find(const cli_csv_peek *p, const char *name) {
    for (int32_t i = 0; i < p->num_columns; i++)
        if (strcmp(p->names[i], name) == 0)
            return i;
    return -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Count-like heavy tail (see csvpeek.h) from the n sampled values of one column (sorts v). */
static int is_heavy_count(double *v, int64_t n) {
    if (n < 2)
        return 0;
    for (int64_t i = 0; i < n; i++)
        if (v[i] < -1.0 || v[i] != floor(v[i]))
            return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double median = v[n / 2], max = v[n - 1];
    return max + 1.0 >= CLI_HEAVY_TAIL_RATIO * ((median > 0 ? median : 0) + 1.0);
}

/* A field as a NUL-terminated copy (numbers are parsed from it); NULL when out of memory. */
static char *field_dup(const dctr_csv_field *f) {
    char *c = malloc(f->len + 1);
    if (c) {
        memcpy(c, f->p, f->len);
        c[f->len] = '\0';
    }
    return c;
}

/* The header through the library's tokenizer: the reader `predict` and `eval` use, so train
 * accepts the same files (UTF-8 BOM, quoted fields with delimiters, "" and newlines) and the
 * field cap (65536) is applied while reading the line, before any per-name work. */
static int read_header(dctr_csv_tok *t, const char *path, int64_t max_rows, cli_csv_peek *out,
                       double **vals) {
    int got = 0;
    if (dctr_csv_tok_next(t, &got) != DCTR_OK)
        return cli_library_error();
    if (!got)
        return cli_runtime_error("%s:1: empty file (expected a header line)", path);
    int32_t n = t->nf;
    out->names = calloc((size_t)n, sizeof *out->names);
    out->numeric = calloc((size_t)n, sizeof *out->numeric);
    out->nonempty = calloc((size_t)n, sizeof *out->nonempty);
    out->log_counts = calloc((size_t)n, sizeof *out->log_counts);
    /* sampled numeric values, column-major [n][max_rows] */
    *vals = malloc(sizeof **vals * (size_t)n * (size_t)(max_rows > 0 ? max_rows : 1));
    if (!out->names || !out->numeric || !out->nonempty || !out->log_counts || !*vals)
        return cli_runtime_error("out of memory");
    out->num_columns = n;
    for (int32_t i = 0; i < n; i++) {
        out->names[i] = field_dup(&t->f[i]);
        out->numeric[i] = 1;
        if (!out->names[i])
            return cli_runtime_error("out of memory");
    }
    return 0;
}

/* Up to max_rows data rows: which columns are numeric, and their sampled values. */
static int sniff_rows(dctr_csv_tok *t, const char *path, int64_t max_rows, cli_csv_peek *out, double *vals) {
    int32_t n = out->num_columns;
    char num[64];
    while (out->rows_sampled < max_rows) {
        int got = 0;
        if (dctr_csv_tok_next(t, &got) != DCTR_OK)
            return cli_library_error();
        if (!got)
            break;
        if (t->nf != n)
            return cli_runtime_error("%s:%lld: %d fields, the header has %d", path, (long long)t->rec_line,
                                     (int)t->nf, (int)n);
        for (int32_t i = 0; i < n; i++) {
            const dctr_csv_field *f = &t->f[i];
            if (f->len == 0)
                continue;
            if (out->numeric[i]) {
                /* a number is short: a longer field is not one */
                size_t len = f->len < sizeof num ? f->len : sizeof num - 1;
                memcpy(num, f->p, len);
                num[len] = '\0';
                if (f->len >= sizeof num || !is_number(num))
                    out->numeric[i] = 0;
                else
                    vals[(size_t)i * (size_t)max_rows + (size_t)out->nonempty[i]] = strtod(num, NULL);
            }
            out->nonempty[i]++;
        }
        out->rows_sampled++;
    }
    return 0;
}

int cli_csv_peek_file(const char *path, char delimiter, int64_t max_rows, cli_csv_peek *out) {
    memset(out, 0, sizeof *out);
    dctr_csv_tok t;
    if (dctr_csv_tok_open(&t, path, delimiter, 0, 0) != DCTR_OK)
        return cli_library_error();
    double *vals = NULL;
    int rc = read_header(&t, path, max_rows, out, &vals);
    if (rc == 0)
        rc = sniff_rows(&t, path, max_rows, out, vals);
    if (rc == 0)
        for (int32_t i = 0; i < out->num_columns; i++)
            out->log_counts[i] =
                out->numeric[i] && is_heavy_count(vals + (size_t)i * (size_t)max_rows, out->nonempty[i]);
    if (rc != 0)
        cli_csv_peek_free(out);
    free(vals);
    dctr_csv_tok_close(&t);
    return rc;
}
