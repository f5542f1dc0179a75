/* The serving path: one row at a time from raw values, through the same encoders as the CSV
 * reader (feature/encode.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/batch.h"
#include "feature/encode.h"
#include "feature/numparse.h"
#include "feature/schema_internal.h"

struct dctr_row_builder {
    int in_row;
    uint8_t *set;     /* per column: a value was given */
    uint8_t *len_set; /* per column: the varlen length column was given */
    uint8_t *w_set;   /* per column: the varlen weight column was given */
    int32_t *counts;  /* per column: varlen elements */
    int label_set, weight_set;
    int failed;       /* a set call of this row failed: end_row refuses the row */
};

void dctr_batch_rowbuilder_free(struct dctr_row_builder *b) {
    if (!b)
        return;
    dctr_free(b->set);
    dctr_free(b->len_set);
    dctr_free(b->w_set);
    dctr_free(b->counts);
    dctr_free(b);
}

dctr_status dctr_batch_begin_row(dctr_batch *batch) {
    if (!batch)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_batch_begin_row: batch is NULL");
    const dctr_schema *s = batch->schema;
    if (!s->fitted)
        return dctr_set_error(DCTR_ERR_STATE, "dctr_batch_begin_row: the schema is not fitted");
    if (!batch->owns_memory)
        return dctr_set_error(DCTR_ERR_STATE, "dctr_batch_begin_row: the batch is a view");
    if (batch->n >= batch->capacity)
        return dctr_set_error(DCTR_ERR_LIMIT, "dctr_batch_begin_row: the batch is full (%lld rows)",
                              (long long)batch->capacity);
    struct dctr_row_builder *b = batch->builder;
    if (!b) {
        size_t n = (size_t)s->ncols + 1;
        b = dctr_calloc(1, sizeof *b);
        if (!b)
            return DCTR_ERR_NOMEM;
        b->set = dctr_calloc(n, 1);
        b->len_set = dctr_calloc(n, 1);
        b->w_set = dctr_calloc(n, 1);
        b->counts = dctr_calloc(n, sizeof(int32_t));
        if (!b->set || !b->len_set || !b->w_set || !b->counts) {
            dctr_batch_rowbuilder_free(b);
            return DCTR_ERR_NOMEM;
        }
        batch->builder = b;
    }
    memset(b->set, 0, (size_t)s->ncols);
    memset(b->len_set, 0, (size_t)s->ncols);
    memset(b->w_set, 0, (size_t)s->ncols);
    b->label_set = b->weight_set = 0;
    b->failed = 0;
    b->in_row = 1;
    return DCTR_OK;
}

static dctr_status in_row(dctr_batch *batch, const char *what) {
    if (!batch || !batch->builder || !batch->builder->in_row)
        return dctr_set_error(DCTR_ERR_STATE, "%s: call dctr_batch_begin_row first", what);
    return DCTR_OK;
}

/* Encodes one raw value of schema column i into the current row. */
static dctr_status put_column(dctr_batch *batch, int32_t i, const char *v, size_t len,
                              const dctr_loc *loc) {
    const dctr_column *c = &batch->schema->cols[i];
    dctr_column_data *d = &batch->cols[i];
    struct dctr_row_builder *b = batch->builder;
    int64_t row = batch->n;
    if (c->kind == DCTR_COLUMN_SPARSE) {
        DCTR_TRY(dctr_encode_id(c, v, len, 0, &d->ids[row], loc));
    } else if (c->kind == DCTR_COLUMN_DENSE) {
        DCTR_TRY(dctr_encode_dense(c, v, len, d->dense + row * c->dense_dim, loc));
    } else {
        int32_t n;
        DCTR_TRY(dctr_encode_varlen(c, v, len, d->ids + row * c->maxlen, &n, loc));
        b->counts[i] = n;
    }
    b->set[i] = 1;
    return DCTR_OK;
}

static dctr_status set_string(dctr_batch *batch, const char *column, const char *value) {
    DCTR_TRY(in_row(batch, "dctr_batch_set_string"));
    if (!column)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_batch_set_string: column is NULL");
    const dctr_schema *s = batch->schema;
    struct dctr_row_builder *b = batch->builder;
    const char *v = value ? value : "";
    size_t len = strlen(v);
    dctr_loc loc = {NULL, batch->n, 0};
    int64_t row = batch->n;
    int32_t i = dctr_schema_find(s, column);
    if (i >= 0)
        return put_column(batch, i, v, len, &loc);
    if (strcmp(column, dctr_schema_label_name(s)) == 0) {
        batch->labels[row] = 0.0f;
        if (len > 0)
            DCTR_TRY(dctr_encode_float(column, v, len, &batch->labels[row], &loc));
        b->label_set = 1;
        return DCTR_OK;
    }
    if (s->weight_column && strcmp(column, s->weight_column) == 0) {
        float w = 1.0f;
        if (len > 0)
            DCTR_TRY(dctr_encode_float(column, v, len, &w, &loc));
        if (w < 0.0f)
            return dctr_loc_error(DCTR_ERR_RANGE, &loc, column, "negative sample weight");
        if (batch->sample_weights)
            batch->sample_weights[row] = w;
        b->weight_set = 1;
        return DCTR_OK;
    }
    int matched = 0;
    for (int32_t j = 0; j < s->ncols; j++) {
        const dctr_column *c = &s->cols[j];
        if (c->kind != DCTR_COLUMN_VARLEN)
            continue;
        dctr_column_data *d = &batch->cols[j];
        if (c->length_name && strcmp(c->length_name, column) == 0) {
            int64_t n = 0;
            if (len > 0) {
                int r = dctr_parse_int64(v, len, &n);
                if (r == DCTR_NUM_SYNTAX)
                    return dctr_loc_error(DCTR_ERR_PARSE, &loc, column, "length '%s' is not an integer", v);
                if (r != DCTR_NUM_OK || n < 0 || n > c->maxlen)
                    return dctr_loc_error(DCTR_ERR_RANGE, &loc, column,
                                          "length '%s' outside [0, maxlen %d]", v, (int)c->maxlen);
            }
            if (d->lengths)
                d->lengths[row] = (int32_t)n;
            b->len_set[j] = 1;
            matched = 1;
        }
        if (c->weight_name && strcmp(c->weight_name, column) == 0) {
            int32_t n;
            if (d->weights)
                DCTR_TRY(dctr_encode_varlen_weights(c, v, len, d->weights + row * c->maxlen, &n, &loc));
            b->w_set[j] = 1;
            matched = 1;
        }
    }
    if (matched)
        return DCTR_OK;
    return dctr_set_error(DCTR_ERR_INVALID_ARG, "row %lld: unknown column '%s'", (long long)row,
                          column);
}

static dctr_status set_number(dctr_batch *batch, const char *column, double value) {
    DCTR_TRY(in_row(batch, "dctr_batch_set_number"));
    if (!column)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_batch_set_number: column is NULL");
    dctr_loc loc = {NULL, batch->n, 0};
    if (!isfinite(value))
        return dctr_loc_error(DCTR_ERR_NUMERIC, &loc, column, "value is not finite");
    const dctr_schema *s = batch->schema;
    int32_t i = dctr_schema_find(s, column);
    if (i >= 0 && s->cols[i].kind == DCTR_COLUMN_DENSE) {
        const dctr_column *c = &s->cols[i];
        if (c->dense_dim != 1)
            return dctr_loc_error(DCTR_ERR_INVALID_ARG, &loc, column,
                                  "dimension %d: pass the values with dctr_batch_set_string",
                                  (int)c->dense_dim);
        float *out = batch->cols[i].dense + batch->n;
        *out = dctr_transform_value(c, value);
        if (!isfinite(*out))
            return dctr_loc_error(DCTR_ERR_NUMERIC, &loc, column, "value is not finite after the transform");
        batch->builder->set[i] = 1;
        return DCTR_OK;
    }
    char buf[40];
    if (value == floor(value) && fabs(value) < 9.2e18)
        dctr_format_int64((int64_t)value, buf);
    else
        snprintf(buf, sizeof buf, "%.17g", value);
    return set_string(batch, column, buf);
}

/* A failed set leaves the row half-written: the row is marked so that end_row refuses it (the
 * caller must begin the row again) rather than keep a row with a silently missing value. */
static dctr_status mark_failed(dctr_batch *batch, dctr_status st) {
    if (st != DCTR_OK && batch && batch->builder && batch->builder->in_row)
        batch->builder->failed = 1;
    return st;
}

dctr_status dctr_batch_set_string(dctr_batch *batch, const char *column, const char *value) {
    return mark_failed(batch, set_string(batch, column, value));
}

dctr_status dctr_batch_set_number(dctr_batch *batch, const char *column, double value) {
    return mark_failed(batch, set_number(batch, column, value));
}

dctr_status dctr_batch_set_label(dctr_batch *batch, float label) {
    DCTR_TRY(in_row(batch, "dctr_batch_set_label"));
    if (!isfinite(label))
        return mark_failed(batch, dctr_set_error(DCTR_ERR_NUMERIC, "row %lld: label is not finite",
                                                 (long long)batch->n));
    batch->labels[batch->n] = label;
    batch->builder->label_set = 1;
    return DCTR_OK;
}

dctr_status dctr_batch_end_row(dctr_batch *batch) {
    DCTR_TRY(in_row(batch, "dctr_batch_end_row"));
    const dctr_schema *s = batch->schema;
    struct dctr_row_builder *b = batch->builder;
    int64_t row = batch->n;
    dctr_loc loc = {NULL, row, 0};
    if (b->failed) {
        b->in_row = 0;
        return dctr_set_error(DCTR_ERR_STATE, "row %lld: a value of this row failed to set; the row is "
                              "dropped (begin it again)", (long long)row);
    }
    for (int32_t i = 0; i < s->ncols; i++)
        if (!b->set[i])
            DCTR_TRY(put_column(batch, i, "", 0, &loc));
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        dctr_column_data *d = &batch->cols[i];
        if (c->kind != DCTR_COLUMN_VARLEN)
            continue;
        if (d->lengths && !b->len_set[i])
            d->lengths[row] = b->counts[i];
        if (d->weights && !b->w_set[i]) {
            float *w = d->weights + row * c->maxlen;
            for (int32_t k = 0; k < c->maxlen; k++)
                w[k] = k < b->counts[i] ? 1.0f : 0.0f;
        }
    }
    if (!b->label_set)
        batch->labels[row] = 0.0f;
    if (batch->sample_weights && !b->weight_set)
        batch->sample_weights[row] = 1.0f;
    b->in_row = 0;
    batch->n++;
    return DCTR_OK;
}

/* A header column of the training file that the schema does not use. */
static int is_fit_extra(const dctr_schema *s, const char *name) {
    if (!*name)
        return 1;
    if (dctr_schema_find(s, name) >= 0 || strcmp(name, dctr_schema_label_name(s)) == 0 ||
        (s->weight_column && strcmp(name, s->weight_column) == 0))
        return 0;
    for (int32_t j = 0; j < s->ncols; j++) {
        const dctr_column *c = &s->cols[j];
        if ((c->length_name && strcmp(c->length_name, name) == 0) ||
            (c->weight_name && strcmp(c->weight_name, name) == 0))
            return 0;
    }
    for (int32_t i = 0; i < s->fit_header_n; i++)
        if (strcmp(s->fit_header[i], name) == 0)
            return 1;
    return 0;
}

dctr_status dctr_batch_add_csv_row(dctr_batch *batch, const char *const *names,
                                   const char *const *values, int32_t count) {
    if (!batch || (count > 0 && !values) || count < 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_batch_add_csv_row: bad arguments");
    const dctr_schema *s = batch->schema;
    const char *const *order = names;
    const char **tmp = NULL;
    int skip_label = 0;
    if (!order) {
        if (s->fit_header_n > 0) {
            order = (const char *const *)s->fit_header;
            if (count == s->fit_header_n - 1)
                skip_label = 1; /* a prediction row without the label */
            else if (count != s->fit_header_n)
                return dctr_set_error(DCTR_ERR_INVALID_ARG,
                                      "dctr_batch_add_csv_row: %d values, the fit header has %d",
                                      (int)count, (int)s->fit_header_n);
        } else {
            int32_t nf = dctr_schema_feature_names(s, NULL, 0);
            if (nf != count)
                return dctr_set_error(DCTR_ERR_INVALID_ARG,
                                      "dctr_batch_add_csv_row: %d values, the schema has %d inputs",
                                      (int)count, (int)nf);
            tmp = dctr_malloc(sizeof(char *) * (size_t)(nf + 1));
            if (!tmp)
                return DCTR_ERR_NOMEM;
            dctr_schema_feature_names(s, tmp, nf);
            order = tmp;
        }
    }
    dctr_status st = dctr_batch_begin_row(batch);
    const char *label = dctr_schema_label_name(s);
    int32_t k = 0;
    for (int32_t i = 0; st == DCTR_OK && k < count; i++) {
        const char *name = order[i];
        if (skip_label && strcmp(name, label) == 0)
            continue;
        if (is_fit_extra(s, name)) { /* an extra column ignored at fit time */
            k++;
            continue;
        }
        st = dctr_batch_set_string(batch, name, values[k]);
        k++;
    }
    /* a whole row names every column, as a CSV header must (an empty value is a missing value;
     * a column left out is an error, not a silent default) */
    for (int32_t i = 0; st == DCTR_OK && names && i < s->ncols; i++)
        if (!batch->builder->set[i])
            st = dctr_set_error(DCTR_ERR_SCHEMA, "row %lld: missing column '%s' (give every column; an "
                                "empty value stands for a missing one)", (long long)batch->n,
                                s->cols[i].name);
    if (st == DCTR_OK)
        st = dctr_batch_end_row(batch);
    else if (batch->builder)
        batch->builder->in_row = 0;
    dctr_free(tmp);
    return st;
}
