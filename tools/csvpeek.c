/* Header and type sniffing of a CSV file (see csvpeek.h). */
#include "csvpeek.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

int32_t cli_csv_split(char *line, char delimiter, char **fields, int32_t cap) {
    int32_t n = 0;
    char *r = line;
    for (;;) {
        char *start = r, *w = r;
        if (*r == '"') {
            /* Quoted field: "" is a literal quote; unquote in place. */
            r++;
            for (;;) {
                if (*r == '\0')
                    break;
                if (*r == '"') {
                    if (r[1] == '"') {
                        *w++ = '"';
                        r += 2;
                        continue;
                    }
                    r++;
                    break;
                }
                *w++ = *r++;
            }
            while (*r != '\0' && *r != delimiter)
                r++;
        } else {
            while (*r != '\0' && *r != delimiter)
                r++;
            w = r;
        }
        char end = *r;
        *w = '\0';
        if (n < cap)
            fields[n] = start;
        n++;
        if (end == '\0')
            return n;
        r++;
    }
}

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

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

int cli_csv_peek_file(const char *path, char delimiter, int64_t max_rows, cli_csv_peek *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_runtime_error("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    char **fields = NULL;
    double *vals = NULL;
    int rc = 1;
    if (getline(&line, &cap, f) < 0) {
        cli_runtime_error("%s:1: empty file (expected a header line)", path);
        goto done;
    }
    chomp(line);
    char *copy = strdup(line); /* splitting writes into the line: count on a copy */
    int32_t n = copy ? cli_csv_split(copy, delimiter, NULL, 0) : 0;
    free(copy);
    fields = calloc((size_t)n, sizeof *fields);
    out->names = calloc((size_t)n, sizeof *out->names);
    out->numeric = calloc((size_t)n, sizeof *out->numeric);
    out->nonempty = calloc((size_t)n, sizeof *out->nonempty);
    out->log_counts = calloc((size_t)n, sizeof *out->log_counts);
    /* sampled numeric values, column-major [n][max_rows] */
    vals = malloc(sizeof *vals * (size_t)n * (size_t)(max_rows > 0 ? max_rows : 1));
    if (!fields || !out->names || !out->numeric || !out->nonempty || !out->log_counts || !vals) {
        cli_runtime_error("out of memory");
        goto done;
    }
    cli_csv_split(line, delimiter, fields, n);
    out->num_columns = n;
    for (int32_t i = 0; i < n; i++) {
        out->names[i] = strdup(fields[i]);
        out->numeric[i] = 1;
        if (!out->names[i]) {
            cli_runtime_error("out of memory");
            goto done;
        }
    }
    for (int64_t lineno = 2; out->rows_sampled < max_rows && getline(&line, &cap, f) >= 0; lineno++) {
        chomp(line);
        if (line[0] == '\0')
            continue;
        int32_t m = cli_csv_split(line, delimiter, fields, n);
        if (m != n) {
            cli_runtime_error("%s:%lld: %d fields, the header has %d", path, (long long)lineno, (int)m, (int)n);
            goto done;
        }
        for (int32_t i = 0; i < n; i++) {
            if (fields[i][0] == '\0')
                continue;
            if (out->numeric[i] && !is_number(fields[i]))
                out->numeric[i] = 0;
            if (out->numeric[i])
                vals[(size_t)i * (size_t)max_rows + (size_t)out->nonempty[i]] = strtod(fields[i], NULL);
            out->nonempty[i]++;
        }
        out->rows_sampled++;
    }
    for (int32_t i = 0; i < n; i++)
        out->log_counts[i] =
            out->numeric[i] && is_heavy_count(vals + (size_t)i * (size_t)max_rows, out->nonempty[i]);
    rc = 0;
done:
    if (rc != 0)
        cli_csv_peek_free(out);
    free(fields);
    free(vals);
    free(line);
    fclose(f);
    return rc;
}
