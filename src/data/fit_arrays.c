/* dctr_schema_fit_arrays: the encoder fit of fit_encoders.c on caller arrays (the same counting,
 * vocabulary building and dense statistics; values as the CSV text would hold them). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/arrays.h"
#include "data/fit_internal.h"

/* Counts every value of a sparse / varlen column. */
static dctr_status count_column(const dctr_column *c, const dctr_array_column *ac, int64_t rows,
                                dctr_vocab *v) {
    char buf[32];
    int64_t end = c->kind == DCTR_COLUMN_VARLEN ? ac->offsets[rows] : rows;
    int64_t start = c->kind == DCTR_COLUMN_VARLEN ? ac->offsets[0] : 0;
    for (int64_t k = start; k < end; k++) {
        size_t len;
        const char *t = dctr_arrays_text(ac, k, buf, &len);
        if (c->kind == DCTR_COLUMN_VARLEN && len == 0)
            continue; /* empty elements are skipped, as in "a||b" */
        dctr_loc loc = {NULL, k, 0};
        DCTR_TRY(dctr_fit_count_key(c, v, t, len, &loc));
    }
    return DCTR_OK;
}

/* min/max or mean/std over the column's values (missing ones at their fill value, as the CSV
 * fit counts an empty field). */
static void dense_stats(dctr_column *c, const float *x, int64_t rows) {
    double mn = 0, mx = 0, sum = 0, sumsq = 0;
    int64_t n = rows * c->dense_dim;
    for (int64_t k = 0; k < n; k++) {
        double v = isnan(x[k]) ? (double)c->fill_value : (double)x[k];
        if (k == 0 || v < mn)
            mn = v;
        if (k == 0 || v > mx)
            mx = v;
        sum += v;
        sumsq += v * v;
    }
    if (c->transform == DCTR_TRANSFORM_MINMAX) {
        c->stat_a = mn;
        c->stat_b = mx;
    } else {
        double mean = sum / (double)n;
        double var = sumsq / (double)n - mean * mean;
        c->stat_a = mean;
        c->stat_b = var > 0.0 ? sqrt(var) : 1.0;
    }
}

static dctr_status fit_columns(dctr_schema *s, const dctr_arrays *a, dctr_vocab **counts,
                               int32_t *owners, int32_t *next) {
    DCTR_TRY(dctr_fit_table_links(s, owners, next));
    for (int32_t i = 0; i < s->ncols; i++) {
        dctr_column *c = &s->cols[i];
        if (!dctr_fit_needs_data(c))
            continue;
        const dctr_array_column *ac = dctr_arrays_find(s, a, i);
        if (c->kind == DCTR_COLUMN_DENSE) {
            for (int64_t k = 0; k < a->num_rows * c->dense_dim; k++)
                if (isinf(ac->values[k]))
                    return dctr_set_error(DCTR_ERR_NUMERIC, "%s: value %lld is infinite", c->name, (long long)k);
            dense_stats(c, ac->values, a->num_rows);
            continue;
        }
        int32_t owner = owners[i];
        if (!counts[owner])
            DCTR_TRY(dctr_vocab_new(1024, &counts[owner]));
        DCTR_TRY(count_column(c, ac, a->num_rows, counts[owner]));
    }
    for (int32_t i = 0; i < s->ncols; i++)
        if (counts[i])
            DCTR_TRY(dctr_fit_build_vocab(s, i, counts[i], next));
    return DCTR_OK;
}

dctr_status dctr_schema_fit_arrays(dctr_schema *s, const dctr_arrays *a) {
    if (!s || !a)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_fit_arrays: NULL argument");
    if (s->fitted)
        return dctr_set_error(DCTR_ERR_STATE, "dctr_schema_fit_arrays: the schema is already fitted");
    DCTR_TRY(dctr_schema_validate(s));
    DCTR_TRY(dctr_arrays_check(s, a, "dctr_schema_fit_arrays"));
    if (a->num_rows < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_fit_arrays: no rows to fit on");
    DCTR_TRY(dctr_fit_load_vocab_files(s));
    dctr_vocab **counts = dctr_calloc((size_t)s->ncols + 1, sizeof *counts);
    int32_t *links = dctr_malloc(2 * ((size_t)s->ncols + 1) * sizeof *links);
    dctr_status st = counts && links ? fit_columns(s, a, counts, links, links + s->ncols + 1)
                                     : DCTR_ERR_NOMEM;
    for (int32_t i = 0; counts && i < s->ncols; i++)
        dctr_vocab_free(counts[i]);
    dctr_free(counts);
    dctr_free(links);
    if (st == DCTR_OK)
        st = dctr_fit_finish(s);
    return st;
}
