/* Typed serving (caller arrays -> predictions and raw logits), embedding tables and the loaded
 * model's configuration (include/deepctr/services.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/arrays.h"
#include "feature/schema_internal.h"
#include "models/model_internal.h"

/* Predictions and logits of one batch (<= the workspace's rows); non-finite is an error, as in
 * every predict. Families without a logit hook get the inverse sigmoid of the prediction. */
static dctr_status run_logit(const dctr_model *m, void *ws, const dctr_batch *b, float *prob, float *logit) {
    if (logit && m->ops->predict_logit) {
        DCTR_TRY(m->ops->predict_logit(m, ws, b, prob, logit));
    } else {
        DCTR_TRY(m->ops->predict(m, ws, b, prob));
        for (int64_t r = 0; logit && r < b->n; r++)
            logit[r] = m->task == DCTR_TASK_BINARY ? (float)(log((double)prob[r]) - log1p(-(double)prob[r]))
                                                   : prob[r];
    }
    if (dctr_model_calib_active(m))
        dctr_model_calib_apply(m, b->n, prob, logit);
    for (int64_t r = 0; r < b->n; r++)
        if (!isfinite(prob[r]))
            return dctr_set_error(DCTR_ERR_NUMERIC, "prediction of row %lld is not finite: the input values "
                                  "overflow the model's arithmetic", (long long)r);
    return DCTR_OK;
}

dctr_status dctr_predictor_predict_arrays(dctr_predictor *p, const dctr_arrays *rows, float *prob,
                                          float *logit) {
    if (!p || !rows || !prob)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_predictor_predict_arrays: NULL argument");
    dctr_predictor_parts pp = dctr_predictor_get_parts(p);
    const dctr_schema *s = pp.model->schema;
    if (!s)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "predict_arrays: the model has no schema");
    DCTR_TRY(dctr_arrays_check(s, rows, "dctr_predictor_predict_arrays"));
    if (!*pp.typed)
        DCTR_TRY(dctr_batch_alloc(s, pp.max_batch, 0, pp.typed));
    dctr_batch *b = *pp.typed;
    dctr_arrays in = *rows; /* features only: labels and weights play no part in a prediction */
    in.labels = NULL;
    in.sample_weights = NULL;
    for (int64_t start = 0; start < in.num_rows; start += pp.max_batch) {
        int64_t cnt = in.num_rows - start < pp.max_batch ? in.num_rows - start : pp.max_batch;
        b->n = 0;
        DCTR_TRY(dctr_arrays_encode(s, &in, start, cnt, b, 0));
        b->n = cnt;
        dctr_status st = run_logit(pp.model, pp.ws, b, prob + start, logit ? logit + start : NULL);
        if (st != DCTR_OK)
            return dctr_error_prefix(st, "rows from %lld", (long long)start);
    }
    return DCTR_OK;
}

dctr_status dctr_predictor_run_logit(dctr_predictor *p, const dctr_batch *batch, float *prob, float *logit) {
    if (!p || !batch || !prob)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_predictor_run_logit: NULL argument");
    dctr_predictor_parts pp = dctr_predictor_get_parts(p);
    if (batch->schema && pp.model->schema && batch->schema->ncols != pp.model->schema->ncols)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_predictor_run_logit: the batch is of another schema");
    if (batch->n <= pp.max_batch)
        return run_logit(pp.model, pp.ws, batch, prob, logit);
    dctr_batch view;
    DCTR_TRY(dctr_batch_view_init(&view, batch->schema));
    dctr_status st = DCTR_OK;
    for (int64_t start = 0; start < batch->n && st == DCTR_OK; start += pp.max_batch) {
        int64_t cnt = batch->n - start < pp.max_batch ? batch->n - start : pp.max_batch;
        dctr_batch_view(batch, start, cnt, &view);
        st = run_logit(pp.model, pp.ws, &view, prob + start, logit ? logit + start : NULL);
    }
    dctr_batch_view_release(&view);
    return st;
}

/* ---------------- embedding tables ---------------- */

int32_t dctr_model_num_tables(const dctr_model *m) { return m && m->schema ? m->schema->ntables : 0; }

const char *dctr_model_table_name(const dctr_model *m, int32_t t) {
    return m && m->schema && t >= 0 && t < m->schema->ntables ? m->schema->tables[t].name : NULL;
}

int32_t dctr_model_find_table(const dctr_model *m, const char *name) {
    for (int32_t t = 0; name && t < dctr_model_num_tables(m); t++)
        if (strcmp(m->schema->tables[t].name, name) == 0)
            return t;
    return -1;
}

static dctr_status table_of(const dctr_model *m, int32_t t, const char *fn, float **p, int64_t *rows,
                            int32_t *dim) {
    if (!m)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (t < 0 || t >= dctr_model_num_tables(m))
        return dctr_set_error(DCTR_ERR_RANGE, "%s: table %d of %d", fn, (int)t, (int)dctr_model_num_tables(m));
    *p = m->ops->embedding_table ? m->ops->embedding_table(m, t, rows, dim) : NULL;
    if (!*p)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "%s: table '%s' has no embedding in this %s model", fn,
                              m->schema->tables[t].name, m->ops->name);
    return DCTR_OK;
}

dctr_status dctr_model_table_shape(const dctr_model *m, int32_t t, int64_t *rows, int32_t *dim) {
    float *p;
    int64_t r = 0;
    int32_t d = 0;
    DCTR_TRY(table_of(m, t, "dctr_model_table_shape", &p, &r, &d));
    if (rows)
        *rows = r;
    if (dim)
        *dim = d;
    return DCTR_OK;
}

static dctr_status row_range(const char *fn, int64_t first, int64_t count, int64_t rows, const void *buf) {
    if (!buf)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: NULL buffer", fn);
    if (first < 0 || count < 0 || first > rows || count > rows - first)
        return dctr_set_error(DCTR_ERR_RANGE, "%s: rows [%lld, %lld) outside the table's %lld", fn,
                              (long long)first, (long long)(first + count), (long long)rows);
    return DCTR_OK;
}

dctr_status dctr_model_get_embeddings(const dctr_model *m, int32_t t, int64_t first, int64_t count, float *out) {
    float *p;
    int64_t rows;
    int32_t dim;
    DCTR_TRY(table_of(m, t, "dctr_model_get_embeddings", &p, &rows, &dim));
    DCTR_TRY(row_range("dctr_model_get_embeddings", first, count, rows, out));
    memcpy(out, p + first * dim, sizeof(float) * (size_t)(count * dim));
    return DCTR_OK;
}

dctr_status dctr_model_set_embeddings(dctr_model *m, int32_t t, int64_t first, int64_t count,
                                      const float *values) {
    float *p;
    int64_t rows;
    int32_t dim;
    DCTR_TRY(table_of(m, t, "dctr_model_set_embeddings", &p, &rows, &dim));
    DCTR_TRY(row_range("dctr_model_set_embeddings", first, count, rows, values));
    for (int64_t i = 0; i < count * dim; i++)
        if (!isfinite(values[i]))
            return dctr_set_error(DCTR_ERR_NUMERIC, "dctr_model_set_embeddings: value %lld is not finite",
                                  (long long)i);
    memcpy(p + first * dim, values, sizeof(float) * (size_t)(count * dim));
    return DCTR_OK;
}

/* keys[id] = the fitted / file vocabulary key of id (NULL where none), from a column of table t. */
static void table_keys(const dctr_schema *s, int32_t t, int64_t rows, const char **keys, uint32_t *lens) {
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (c->kind == DCTR_COLUMN_DENSE || c->table != t || !c->vocab)
            continue;
        for (const dctr_vocab_slot *sl = NULL; (sl = dctr_vocab_next(c->vocab, sl)) != NULL;)
            if (sl->value >= 0 && sl->value < rows && !keys[sl->value]) {
                keys[sl->value] = dctr_vocab_key(c->vocab, sl);
                lens[sl->value] = sl->len;
            }
        return;
    }
}

/* A key with its tabs and line breaks turned into spaces (one TSV field). */
static void write_key(FILE *f, const char *k, uint32_t len) {
    for (uint32_t i = 0; i < len; i++)
        fputc(k[i] == '\t' || k[i] == '\n' || k[i] == '\r' ? ' ' : k[i], f);
}

dctr_status dctr_model_export_embeddings_tsv(const dctr_model *m, int32_t t, const char *path) {
    float *p;
    int64_t rows;
    int32_t dim;
    DCTR_TRY(table_of(m, t, "dctr_model_export_embeddings_tsv", &p, &rows, &dim));
    if (!path)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_export_embeddings_tsv: path is NULL");
    const char **keys = dctr_calloc((size_t)rows, sizeof *keys);
    uint32_t *lens = dctr_calloc((size_t)rows, sizeof *lens);
    FILE *f = keys && lens ? fopen(path, "w") : NULL;
    dctr_status st = DCTR_OK;
    if (!keys || !lens)
        st = DCTR_ERR_NOMEM;
    else if (!f)
        st = dctr_set_error(DCTR_ERR_IO, "%s: cannot open for writing", path);
    if (st == DCTR_OK) {
        table_keys(m->schema, t, rows, keys, lens);
        for (int64_t r = 0; r < rows; r++) {
            fprintf(f, "%lld\t", (long long)r);
            if (keys[r])
                write_key(f, keys[r], lens[r]);
            for (int32_t k = 0; k < dim; k++)
                fprintf(f, "\t%.9g", (double)p[r * dim + k]);
            fputc('\n', f);
        }
        if (ferror(f))
            st = dctr_set_error(DCTR_ERR_IO, "%s: write failed", path);
    }
    if (f && fclose(f) != 0 && st == DCTR_OK)
        st = dctr_set_error(DCTR_ERR_IO, "%s: write failed", path);
    dctr_free(keys);
    dctr_free(lens);
    return st;
}

/* ---------------- configuration ---------------- */

dctr_status dctr_model_get_config(const dctr_model *m, dctr_model_config *out) {
    if (!m || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_get_config: NULL argument");
    /* a caller built against the older, smaller struct gets just its fields */
    if (out->struct_size == DCTR_MODEL_CONFIG_SIZE_V1 || out->struct_size == DCTR_MODEL_CONFIG_SIZE_V2) {
        uint32_t size = out->struct_size;
        memcpy(out, &m->cfg, size);
        out->struct_size = size;
        return DCTR_OK;
    }
    *out = m->cfg;
    return DCTR_OK;
}

uint32_t dctr_model_format_version(void) { return dctr_container_format_version(); }
