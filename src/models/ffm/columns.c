/* Feature columns -> FFM fields: every column is one field. A sparse column's id selects a row
 * of its table (global row = table offset + id; columns sharing an embedding_name share rows);
 * a dense column of dimension D owns D rows scaled by its values; a varlen column contributes its
 * valid ids with value 1 (sum) or 1/len (mean), times the element weight when it has one. Nodes
 * of the same field never pair with each other, so a varlen field acts as the pooled vector
 * sum/mean of its rows for every other field — the pooling of its per-target-field vectors. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hogwild.h"
#include "feature/schema_types.h"
#include "models/ffm/ffm.h"

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
    impl->pair_kernel = 1;
    for (int32_t i = 0; i < s->ncols; i++)
        if (s->cols[i].kind == DCTR_COLUMN_VARLEN ||
            (s->cols[i].kind == DCTR_COLUMN_DENSE && s->cols[i].dense_dim != 1))
            impl->pair_kernel = 0;
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

/* ---- the pooled form ----
 * The pooled FFM form of the feature-column path (FFM and DeepFFM models built from a schema).
 * Field f's vector toward target field g is P[f][g] = sum over f's nodes of v_a w[j_a, g] (one
 * node for a sparse column; the sum / mean of a varlen column's rows; a dense row scaled by its
 * value), and
 *     phi = r sum_{f<g} <P[f][g], P[g][f]>.
 * The update is the exact gradient of that pooled phi, one AdaGrad step per (node, target field)
 * block: g = lambda w + dphi_{fg} r v_a P[g][f], with every P taken before the row's update. With
 * one node per field this is exactly libffm's per-pair update.
 */

dctr_status dctr_ffm_pooled_alloc(dctr_ffm_pooled *ps, int32_t m, int32_t kp) {
    memset(ps, 0, sizeof *ps);
    ps->P = dctr_alloc_floats((size_t)m * (size_t)m * (size_t)kp);
    ps->present = dctr_calloc((size_t)m, 1);
    ps->fields = dctr_calloc((size_t)m, sizeof(int32_t));
    if (!ps->P || !ps->present || !ps->fields) {
        dctr_ffm_pooled_free(ps);
        return DCTR_ERR_NOMEM;
    }
    return DCTR_OK;
}

void dctr_ffm_pooled_free(dctr_ffm_pooled *ps) {
    if (!ps)
        return;
    dctr_aligned_free(ps->P);
    dctr_free(ps->present);
    dctr_free(ps->fields);
    memset(ps, 0, sizeof *ps);
}

static inline int in_model(const dctr_ffm_weights *w, const dctr_ffm_node *x) {
    return (uint32_t)x->index < (uint64_t)w->n && (uint32_t)x->field < (uint32_t)w->m;
}

DCTR_HOGWILD float dctr_ffm_pooled_forward(const dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n, float r,
                                             dctr_ffm_pooled *ps, float *pairs) {
    const int32_t m = w->m, kp = w->kp;
    const size_t fstride = (size_t)m * (size_t)kp;
    memset(ps->present, 0, (size_t)m);
    ps->nf = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!in_model(w, &x[i]))
            continue;
        int32_t f = x[i].field;
        if (!ps->present[f]) {
            ps->present[f] = 1;
            ps->fields[ps->nf++] = f;
            memset(ps->P + (size_t)f * fstride, 0, fstride * sizeof(float));
        }
        const float *row = w->W + (size_t)x[i].index * w->row;
        float *Pf = ps->P + (size_t)f * fstride;
        const float v = x[i].value;
        for (int32_t g = 0; g < m; g++) {
            if (g == f)
                continue;
            const float *blk = row + (size_t)g * w->blk;
            float *dst = Pf + (size_t)g * kp;
            for (int32_t d = 0; d < kp; d++)
                dst[d] += v * blk[d];
        }
    }
    float phi = 0;
    for (int32_t a = 0; a < ps->nf; a++)
        for (int32_t b = a + 1; b < ps->nf; b++) {
            int32_t f = ps->fields[a] < ps->fields[b] ? ps->fields[a] : ps->fields[b];
            int32_t g = ps->fields[a] < ps->fields[b] ? ps->fields[b] : ps->fields[a];
            const float *p1 = ps->P + (size_t)f * fstride + (size_t)g * kp;
            const float *p2 = ps->P + (size_t)g * fstride + (size_t)f * kp;
            float dot = 0;
            for (int32_t d = 0; d < kp; d++)
                dot += p1[d] * p2[d];
            dot *= r;
            if (pairs)
                pairs[dctr_ffm_pair_index(m, f, g)] = dot;
            phi += dot;
        }
    return phi;
}

DCTR_HOGWILD void dctr_ffm_pooled_update(dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n, float r,
                                           const dctr_ffm_pooled *ps, float kappa, const float *dpairs,
                                           const dctr_ffm_step *st) {
    const int32_t m = w->m, kp = w->kp;
    for (int32_t i = 0; i < n; i++) {
        if (!in_model(w, &x[i]))
            continue;
        const int32_t f = x[i].field;
        float *row = w->W + (size_t)x[i].index * w->row;
        for (int32_t a = 0; a < ps->nf; a++) {
            const int32_t g = ps->fields[a];
            if (g == f)
                continue;
            const float *other; /* P[g][f] */
            const float c = dctr_ffm_pooled_coef(ps, m, kp, f, g, r, x[i].value, kappa, dpairs, &other);
            float *wv = row + (size_t)g * w->blk, *G = wv + kp;
            for (int32_t d = 0; d < kp; d++) {
                float gr = st->lambda * wv[d] + c * other[d];
                G[d] += gr * gr;
                wv[d] -= st->eta * gr / sqrtf(G[d]);
            }
        }
    }
}
