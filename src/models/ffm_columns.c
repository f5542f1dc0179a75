/* Feature columns -> FFM fields: every column is one field. A sparse column's id selects a row
 * of its table (global row = table offset + id; columns sharing an embedding_name share rows);
 * a dense column of dimension D owns D rows scaled by its values; a varlen column contributes its
 * valid ids with value 1 (sum) or 1/len (mean), times the element weight when it has one. Nodes
 * of the same field never pair with each other, so a varlen field acts as the pooled vector
 * sum/mean of its rows for every other field — the pooling of its per-target-field vectors. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "feature/schema_types.h"
#include "models/ffm_model.h"

dctr_status dctr_ffm_columns_build(dctr_model *model, dctr_ffm_impl *impl, int64_t *num_features,
                                   int32_t *num_fields) {
    const dctr_schema *s = model->schema;
    if (s->ncols < 1)
        return dctr_set_error(DCTR_ERR_SCHEMA, "FFM needs at least one feature column");
    int64_t *table_off = dctr_calloc((size_t)(s->ntables > 0 ? s->ntables : 1), sizeof *table_off);
    impl->cols = dctr_calloc((size_t)s->ncols, sizeof *impl->cols);
    if (!table_off || !impl->cols) {
        dctr_free(table_off);
        return DCTR_ERR_NOMEM;
    }
    int64_t total = 0;
    for (int32_t t = 0; t < s->ntables; t++) {
        table_off[t] = total;
        total += s->tables[t].vocab_size > 0 ? s->tables[t].vocab_size : 0;
    }
    int32_t max_nodes = 0;
    dctr_status st = DCTR_OK;
    for (int32_t i = 0; i < s->ncols && st == DCTR_OK; i++) {
        const dctr_column *c = &s->cols[i];
        dctr_ffm_colmap *cm = &impl->cols[i];
        cm->col = i;
        cm->field = i;
        cm->kind = c->kind;
        switch (c->kind) {
        case DCTR_COLUMN_SPARSE:
        case DCTR_COLUMN_VARLEN:
            if (c->table < 0 || c->table >= s->ntables || c->vocab_size < 1) {
                st = dctr_set_error(DCTR_ERR_SCHEMA, "%s: FFM needs a fitted vocabulary size", c->name);
                break;
            }
            if (c->kind == DCTR_COLUMN_VARLEN && c->combiner == DCTR_COMBINER_MAX) {
                st = dctr_set_error(DCTR_ERR_UNSUPPORTED,
                                    "%s: FFM pools a varlen column with sum or mean; max pooling of "
                                    "per-field vectors is not supported (use combiner sum or mean)",
                                    c->name);
                break;
            }
            cm->offset = table_off[c->table];
            cm->rows = s->tables[c->table].vocab_size;
            max_nodes += c->kind == DCTR_COLUMN_SPARSE ? 1 : c->maxlen;
            break;
        case DCTR_COLUMN_DENSE:
            cm->offset = total;
            cm->rows = c->dense_dim;
            total += c->dense_dim;
            max_nodes += c->dense_dim;
            break;
        default:
            st = dctr_set_error(DCTR_ERR_SCHEMA, "%s: unknown column kind %d", c->name, (int)c->kind);
        }
    }
    dctr_free(table_off);
    if (st != DCTR_OK)
        return st;
    if (total < 1 || total > INT32_MAX)
        return dctr_set_error(DCTR_ERR_LIMIT, "FFM: %lld feature rows (must be in [1, 2^31-1])",
                              (long long)total);
    impl->schema = s;
    impl->ncols = s->ncols;
    impl->one_node_per_field = 1;
    for (int32_t i = 0; i < s->ncols; i++)
        if (s->cols[i].kind == DCTR_COLUMN_VARLEN ||
            (s->cols[i].kind == DCTR_COLUMN_DENSE && s->cols[i].dense_dim != 1))
            impl->one_node_per_field = 0;
    impl->max_nodes = max_nodes > 0 ? max_nodes : 1;
    *num_features = total;
    *num_fields = s->ncols;
    return DCTR_OK;
}

int32_t dctr_ffm_row_nodes(const dctr_ffm_impl *impl, const dctr_batch *batch, int64_t row,
                           dctr_ffm_node *nodes) {
    const dctr_schema *s = impl->schema;
    int32_t n = 0;
    for (int32_t i = 0; i < impl->ncols; i++) {
        const dctr_ffm_colmap *cm = &impl->cols[i];
        const dctr_column_data *cd = &batch->cols[cm->col];
        const dctr_column *c = &s->cols[cm->col];
        if (cm->kind == DCTR_COLUMN_SPARSE) {
            int64_t id = cd->ids[row];
            if (id < 0 || id >= cm->rows)
                continue;
            nodes[n++] = (dctr_ffm_node){cm->field, (int32_t)(cm->offset + id), 1.0f};
        } else if (cm->kind == DCTR_COLUMN_DENSE) {
            const float *v = cd->dense + row * c->dense_dim;
            for (int32_t d = 0; d < c->dense_dim; d++)
                nodes[n++] = (dctr_ffm_node){cm->field, (int32_t)(cm->offset + d), v[d]};
        } else {
            const int64_t *ids = cd->ids + row * c->maxlen;
            const float *wt = cd->weights ? cd->weights + row * c->maxlen : NULL;
            int32_t len = c->maxlen;
            if (cd->lengths)
                len = cd->lengths[row] < 0 ? 0 : (cd->lengths[row] > c->maxlen ? c->maxlen : cd->lengths[row]);
            int32_t first = n;
            for (int32_t p = 0; p < len; p++) {
                int64_t id = ids[p];
                if ((!cd->lengths && id == 0) || id < 0 || id >= cm->rows)
                    continue;
                nodes[n++] = (dctr_ffm_node){cm->field, (int32_t)(cm->offset + id), wt ? wt[p] : 1.0f};
            }
            if (c->combiner == DCTR_COMBINER_MEAN && n > first) {
                float inv = 1.0f / (float)(n - first);
                for (int32_t p = first; p < n; p++)
                    nodes[p].value *= inv;
            }
        }
    }
    return n;
}

dctr_status dctr_ffm_check_sections(const dctr_schema *s, const dctr_model_config *cfg, const dctr_container *c) {
    if (!s)
        return DCTR_OK; /* libffm-native: ops->load validates the shape before allocating */
    double rows = 0;
    for (int32_t t = 0; t < s->ntables; t++)
        rows += s->tables[t].vocab_size > 0 ? (double)s->tables[t].vocab_size : 0;
    for (int32_t i = 0; i < s->ncols; i++)
        if (s->cols[i].kind == DCTR_COLUMN_DENSE)
            rows += s->cols[i].dense_dim;
    double k = cfg->ffm_k > 0 ? cfg->ffm_k : 4;
    double need = rows * (double)s->ncols * k * sizeof(float);
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "ffm.params", &r));
    if (need > (double)dctr_rbuf_remaining(&r))
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "ffm.params: the schema implies %.0f bytes of FFM weights, the section has %zu",
                              need, dctr_rbuf_remaining(&r));
    if (cfg->type == DCTR_MODEL_DEEPFFM)
        return dctr_ffm_deep_check_section(s, cfg, c);
    return DCTR_OK;
}
