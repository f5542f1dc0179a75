/* Caller arrays -> encoded rows (include/deepctr/services.h): every value goes through the
 * encoder the CSV reader uses for the same field (feature/encode.h), an int64 id as its decimal
 * text, so array rows and file rows encode to the same ids. */
#include "data/arrays.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "feature/encode.h"
#include "feature/numparse.h"
#include "feature/schema_internal.h"

void dctr_arrays_init(dctr_arrays *a) {
    if (!a)
        return;
    memset(a, 0, sizeof(*a));
    a->struct_size = (uint32_t)sizeof(*a);
}

const dctr_array_column *dctr_arrays_find(const dctr_schema *s, const dctr_arrays *a, int32_t col) {
    if (col < a->num_columns && a->columns[col].column == col)
        return &a->columns[col]; /* the usual case: columns in schema order */
    for (int32_t j = 0; j < a->num_columns; j++) {
        const dctr_array_column *ac = &a->columns[j];
        if (ac->column == col || (ac->column < 0 && ac->name && strcmp(ac->name, s->cols[col].name) == 0))
            return ac;
    }
    return NULL;
}

dctr_status dctr_arrays_check(const dctr_schema *s, const dctr_arrays *a, const char *fn) {
    if (!s || !a)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: NULL schema or arrays", fn);
    if (a->struct_size != sizeof(*a))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: arrays struct_size %u: call dctr_arrays_init", fn,
                              a->struct_size);
    if (a->num_rows < 0 || a->num_columns < 0 || (a->num_columns > 0 && !a->columns))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: negative num_rows / num_columns or NULL columns", fn);
    for (int32_t j = 0; j < a->num_columns; j++) {
        const dctr_array_column *ac = &a->columns[j];
        if (ac->column >= s->ncols || (ac->column < 0 && (!ac->name || dctr_schema_find(s, ac->name) < 0)))
            return dctr_set_error(DCTR_ERR_SCHEMA, "%s: array column %d ('%s') is not a schema column", fn,
                                  (int)j, ac->name ? ac->name : "(no name)");
    }
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        const dctr_array_column *ac = dctr_arrays_find(s, a, i);
        if (!ac)
            return dctr_set_error(DCTR_ERR_SCHEMA, "%s: no array for column '%s'", fn, c->name);
        int ok = c->kind == DCTR_COLUMN_DENSE ? ac->values != NULL
                                              : (ac->ids != NULL) != (ac->strings != NULL);
        if (c->kind == DCTR_COLUMN_VARLEN)
            ok = ok && ac->offsets != NULL;
        if (!ok && a->num_rows > 0)
            return dctr_set_error(DCTR_ERR_INVALID_ARG,
                                  "%s: column '%s' (%s) needs %s", fn, c->name,
                                  c->kind == DCTR_COLUMN_DENSE ? "dense" : c->kind == DCTR_COLUMN_SPARSE ? "sparse" : "varlen",
                                  c->kind == DCTR_COLUMN_DENSE ? "values"
                                  : c->kind == DCTR_COLUMN_SPARSE ? "exactly one of ids / strings"
                                                                  : "offsets and exactly one of ids / strings");
        if (c->kind == DCTR_COLUMN_VARLEN && a->num_rows > 0)
            for (int64_t r = 0; r < a->num_rows; r++)
                if (ac->offsets[r + 1] < ac->offsets[r] || ac->offsets[0] < 0)
                    return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: column '%s': offsets decrease at row %lld",
                                          fn, c->name, (long long)r);
    }
    return DCTR_OK;
}

/* The text of value k of an array column: the string, or the id's decimal form in buf. */
const char *dctr_arrays_text(const dctr_array_column *ac, int64_t k, char *buf, size_t *len) {
    if (ac->strings) {
        const char *v = ac->strings[k] ? ac->strings[k] : "";
        *len = strlen(v);
        return v;
    }
    *len = dctr_format_int64(ac->ids[k], buf);
    return buf;
}

static dctr_status encode_varlen(const dctr_column *c, const dctr_array_column *ac, int64_t r,
                                 dctr_column_data *d, int64_t row, const dctr_loc *loc) {
    int64_t *ids = d->ids + row * c->maxlen;
    float *w = d->weights ? d->weights + row * c->maxlen : NULL;
    int32_t n = 0;
    char buf[32];
    for (int64_t k = ac->offsets[r]; k < ac->offsets[r + 1] && n < c->maxlen; k++) {
        size_t len;
        const char *v = dctr_arrays_text(ac, k, buf, &len);
        if (len == 0)
            continue; /* an empty element is skipped, as in "a||b" */
        DCTR_TRY(dctr_encode_id(c, v, len, 1, &ids[n], loc));
        if (w) {
            float x = ac->weights ? ac->weights[k] : 1.0f;
            if (!isfinite(x))
                return dctr_loc_error(DCTR_ERR_NUMERIC, loc, c->weight_name, "weight is not finite");
            w[n] = x;
        }
        n++;
    }
    for (int32_t k = n; k < c->maxlen; k++) {
        ids[k] = 0;
        if (w)
            w[k] = 0.0f;
    }
    if (d->lengths)
        d->lengths[row] = n;
    return DCTR_OK;
}

static dctr_status encode_dense(const dctr_column *c, const float *x, float *out, const dctr_loc *loc) {
    for (int32_t k = 0; k < c->dense_dim; k++) {
        double v = isnan(x[k]) ? (double)c->fill_value : (double)x[k];
        if (!isfinite(v))
            return dctr_loc_error(DCTR_ERR_NUMERIC, loc, c->name, "value is infinite");
        out[k] = dctr_transform_value(c, v);
        if (!isfinite(out[k]))
            return dctr_loc_error(DCTR_ERR_NUMERIC, loc, c->name, "value is not finite after the transform");
    }
    return DCTR_OK;
}

/* Column i of rows [first, first + count) into dst rows [at, at + count). */
static dctr_status encode_column(const dctr_schema *s, int32_t i, const dctr_array_column *ac,
                                 int64_t first, int64_t count, dctr_batch *dst, int64_t at) {
    const dctr_column *c = &s->cols[i];
    dctr_column_data *d = &dst->cols[i];
    char buf[32];
    for (int64_t r = first; r < first + count; r++) {
        const int64_t row = at + (r - first);
        dctr_loc loc = {NULL, r, 0};
        if (c->kind == DCTR_COLUMN_SPARSE) {
            size_t len;
            const char *v = dctr_arrays_text(ac, r, buf, &len);
            DCTR_TRY(dctr_encode_id(c, v, len, 0, &d->ids[row], &loc));
        } else if (c->kind == DCTR_COLUMN_DENSE) {
            DCTR_TRY(encode_dense(c, ac->values + r * c->dense_dim, d->dense + row * c->dense_dim, &loc));
        } else {
            DCTR_TRY(encode_varlen(c, ac, r, d, row, &loc));
        }
    }
    return DCTR_OK;
}

dctr_status dctr_arrays_encode(const dctr_schema *s, const dctr_arrays *a, int64_t first, int64_t count,
                               dctr_batch *dst, int64_t at) {
    if (at + count > dst->capacity)
        return dctr_set_error(DCTR_ERR_INTERNAL, "arrays: %lld rows past the batch capacity",
                              (long long)count);
    if (a->sample_weights && !dst->sample_weights)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "arrays: sample_weights given but the schema has no "
                              "weight column (dctr_schema_set_weight_column)");
    for (int32_t i = 0; i < s->ncols; i++)
        DCTR_TRY(encode_column(s, i, dctr_arrays_find(s, a, i), first, count, dst, at));
    for (int64_t r = 0; r < count; r++) {
        float y = a->labels ? a->labels[first + r] : 0.0f;
        if (!isfinite(y))
            return dctr_set_error(DCTR_ERR_NUMERIC, "arrays: row %lld: label is not finite",
                                  (long long)(first + r));
        dst->labels[at + r] = y;
        if (dst->sample_weights) {
            float w = a->sample_weights ? a->sample_weights[first + r] : 1.0f;
            if (!(w >= 0.0f) || !isfinite(w))
                return dctr_set_error(DCTR_ERR_RANGE, "arrays: row %lld: sample weight %g is negative or "
                                      "not finite", (long long)(first + r), (double)w);
            dst->sample_weights[at + r] = w;
        }
    }
    return DCTR_OK;
}
