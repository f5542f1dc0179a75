/* The libffm-native FFM model as an ordinary dctr_model: the schema it is given, and libffm rows
 * turned into datasets of that schema (dctr_ffm_data_to_dataset).
 *
 * Schema (synthesized, never stored in the model file): one weighted varlen column per libffm
 * field f, named "f<f>", whose ids are feature indices of one shared table "ffm" and whose
 * weights are the node values ("f<f>_val", used as given: weight_norm 0, combiner sum); the
 * length column "f<f>_len" makes id 0 an ordinary feature. The vocabulary has n + 1 rows: id n
 * stands for a feature the model never saw, which the pair kernel skips (as libffm does) while
 * its value still counts in the row's instance norm. Column f holds at most maxlen[f] nodes per
 * row: the most field f had in one training row, saved in the optional "ffm.native" section
 * (io.c); a file without it serves one node per field.
 *
 * A batch row of this schema becomes the libffm row whose nodes are grouped by field (file order
 * kept inside a field) and runs through the same pair kernel as dctr_ffm_predict. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/libffm_reader.h"
#include "feature/schema_internal.h"
#include "models/ffm/ffm.h"
#include "deepctr/services.h"

static dctr_status add_field(dctr_schema *s, int32_t f, int64_t n, int32_t k, int32_t maxlen) {
    char name[32], len_name[40], val_name[40];
    snprintf(name, sizeof name, "f%d", (int)f);
    snprintf(len_name, sizeof len_name, "f%d_len", (int)f);
    snprintf(val_name, sizeof val_name, "f%d_val", (int)f);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, name, maxlen);
    v.sparse.vocabulary_size = n + 1;
    v.sparse.embedding_dim = k;
    v.sparse.embedding_name = "ffm";
    v.sparse.dtype = DCTR_DTYPE_INT;
    v.combiner = DCTR_COMBINER_SUM;
    v.length_name = len_name;
    v.weight_name = val_name;
    v.weight_norm = 0;
    return dctr_schema_add_varlen(s, &v);
}

static dctr_status native_schema(int32_t m, int64_t n, int32_t k, const int32_t *maxlen, dctr_schema **out) {
    dctr_schema *s = NULL;
    DCTR_TRY(dctr_schema_new(&s));
    dctr_status st = DCTR_OK;
    for (int32_t f = 0; f < m && st == DCTR_OK; f++)
        st = add_field(s, f, n, k, maxlen ? maxlen[f] : 1);
    if (st == DCTR_OK)
        st = dctr_schema_validate(s);
    if (st == DCTR_OK)
        st = dctr_schema_fit_none(s);
    if (st != DCTR_OK) {
        dctr_schema_free(s);
        return st;
    }
    *out = s;
    return DCTR_OK;
}

/* Fields a native model's schema may have: a column costs about 1 KB, so a file's few bytes of
 * weights per field (n = 1, k = 1: 4) cannot make load build gigabytes of columns. The libffm
 * reader's default field cap, and far above real libffm data (tens to hundreds of fields). */
#define NATIVE_MAX_FIELDS 65536

dctr_status dctr_ffm_native_attach(dctr_model *model, const int32_t *maxlen) {
    dctr_ffm_impl *impl = model->impl;
    const int32_t m = impl->w.m;
    if (m > NATIVE_MAX_FIELDS)
        return dctr_set_error(DCTR_ERR_LIMIT, "libffm-native FFM: %d fields (at most %d)", (int)m,
                              NATIVE_MAX_FIELDS);
    int64_t nodes = 0;
    for (int32_t f = 0; maxlen && f < m; f++) {
        if (maxlen[f] < 1 || maxlen[f] > DCTR_MAX_MAXLEN)
            return dctr_set_error(DCTR_ERR_FORMAT, "FFM field %d: %d nodes per row outside [1, %d]", (int)f,
                                  (int)maxlen[f], DCTR_MAX_MAXLEN);
        nodes += maxlen[f];
    }
    if (!maxlen)
        nodes = m;
    if (nodes > INT32_MAX)
        return dctr_set_error(DCTR_ERR_LIMIT, "FFM: %lld nodes per row", (long long)nodes);
    dctr_schema *s = NULL;
    DCTR_TRY(native_schema(m, impl->w.n, impl->w.k, maxlen, &s));
    impl->cols = dctr_calloc((size_t)m, sizeof *impl->cols);
    if (!impl->cols) {
        dctr_schema_free(s);
        return DCTR_ERR_NOMEM;
    }
    for (int32_t f = 0; f < m; f++)
        impl->cols[f] = (dctr_ffm_colmap){f, f, 0, impl->w.n + 1, DCTR_COLUMN_VARLEN};
    model->schema = s;
    impl->schema = s;
    impl->ncols = m;
    impl->max_nodes = (int32_t)nodes;
    impl->pair_kernel = 1; /* libffm rows: libffm's pair loop, whatever the nodes per field */
    return DCTR_OK;
}

dctr_status dctr_ffm_field_maxlen(const dctr_ffm_data *d, int32_t m, int32_t *maxlen) {
    int32_t *cnt = dctr_calloc((size_t)(m > 0 ? m : 1), sizeof *cnt);
    if (!cnt)
        return DCTR_ERR_NOMEM;
    for (int64_t r = 0; r < d->rows; r++) {
        const dctr_ffm_node *b = d->nodes + d->row_ptr[r], *e = d->nodes + d->row_ptr[r + 1];
        for (const dctr_ffm_node *x = b; x < e; x++)
            if (x->field < m && ++cnt[x->field] > maxlen[x->field])
                maxlen[x->field] = cnt[x->field] < DCTR_MAX_MAXLEN ? cnt[x->field] : DCTR_MAX_MAXLEN;
        for (const dctr_ffm_node *x = b; x < e; x++)
            if (x->field < m)
                cnt[x->field] = 0;
    }
    dctr_free(cnt);
    return DCTR_OK;
}

/* ---- libffm rows -> a dataset of the model's schema ---- */

/* Rows [r0, r0 + R) as arrays: field f's values are ids[base[f] ...] with offsets off[f*(R+1) ...]. */
typedef struct {
    int64_t R;
    int64_t *off, *pos, *ids;
    float *val, *labels;
    dctr_array_column *cols;
} chunk_arrays;

static dctr_status count_nodes(const dctr_model *model, const dctr_ffm_data *d, int64_t r0, chunk_arrays *a) {
    const dctr_ffm_impl *impl = model->impl;
    const int32_t m = impl->w.m;
    const int64_t R = a->R;
    memset(a->off, 0, (size_t)m * (size_t)(R + 1) * sizeof *a->off);
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = d->row_ptr[r0 + r]; i < d->row_ptr[r0 + r + 1]; i++)
            if (d->nodes[i].field < m)
                a->off[(size_t)d->nodes[i].field * (size_t)(R + 1) + (size_t)r + 1]++;
    for (int32_t f = 0; f < m; f++) {
        int64_t *o = a->off + (size_t)f * (size_t)(R + 1);
        const int32_t cap = model->schema->cols[f].maxlen;
        for (int64_t r = 0; r < R; r++) {
            if (o[r + 1] > cap)
                return dctr_set_error(DCTR_ERR_LIMIT,
                                      "libffm row %lld has %lld nodes in field %d; the model serves at most %d "
                                      "there (the most one training row had): score such rows with "
                                      "dctr_ffm_predict", (long long)(r0 + r), (long long)o[r + 1], (int)f, cap);
            o[r + 1] += o[r];
        }
    }
    return DCTR_OK;
}

static void fill_chunk(const dctr_model *model, const dctr_ffm_data *d, int64_t r0, chunk_arrays *a) {
    const dctr_ffm_impl *impl = model->impl;
    const int32_t m = impl->w.m;
    const int64_t R = a->R;
    const size_t stride = (size_t)(R + 1);
    int64_t base = 0;
    for (int32_t f = 0; f < m; f++) {
        const int64_t *o = a->off + (size_t)f * stride;
        for (int64_t r = 0; r <= R; r++)
            a->pos[(size_t)f * stride + (size_t)r] = base + o[r];
        a->cols[f] = (dctr_array_column){.column = f, .ids = a->ids + base, .offsets = o, .weights = a->val + base};
        base += o[R];
    }
    for (int64_t r = 0; r < R; r++) {
        for (int64_t i = d->row_ptr[r0 + r]; i < d->row_ptr[r0 + r + 1]; i++) {
            const dctr_ffm_node *x = &d->nodes[i];
            if (x->field >= m)
                continue; /* a field the model never saw: no column (docs/ffm.md) */
            int64_t at = a->pos[(size_t)x->field * stride + (size_t)r]++;
            a->ids[at] = x->index < impl->w.n ? x->index : impl->w.n;
            a->val[at] = x->value;
        }
        float y = d->labels[r0 + r];
        a->labels[r] = model->task == DCTR_TASK_BINARY ? (y > 0 ? 1.0f : 0.0f) : y;
    }
}

/* The chunk's arrays in three blocks: offsets, cursors and ids (int64); values and labels (float);
 * the column descriptors. */
static dctr_status chunk_alloc(chunk_arrays *a, int32_t m, int64_t maxnodes) {
    const size_t offs = (size_t)m * (size_t)(a->R + 1), nodes = (size_t)(maxnodes > 0 ? maxnodes : 1);
    a->off = dctr_realloc_array(NULL, 2 * offs + nodes, sizeof *a->off);
    a->val = dctr_realloc_array(NULL, nodes + (size_t)a->R, sizeof *a->val);
    a->cols = dctr_calloc((size_t)m, sizeof *a->cols);
    if (!a->off || !a->val || !a->cols)
        return DCTR_ERR_NOMEM;
    a->pos = a->off + offs;
    a->ids = a->pos + offs;
    a->labels = a->val + nodes;
    return DCTR_OK;
}

static dctr_status append_rows(const dctr_model *model, const dctr_ffm_data *d, dctr_dataset *ds) {
    const int32_t m = ((const dctr_ffm_impl *)model->impl)->w.m;
    int64_t R = 262144 / m; /* offsets stay a few MB whatever m */
    R = R < 1 ? 1 : (R > 4096 ? 4096 : R);
    int64_t maxnodes = 0;
    for (int64_t r0 = 0; r0 < d->rows; r0 += R) {
        int64_t r1 = r0 + R < d->rows ? r0 + R : d->rows;
        if (d->row_ptr[r1] - d->row_ptr[r0] > maxnodes)
            maxnodes = d->row_ptr[r1] - d->row_ptr[r0];
    }
    chunk_arrays a = {.R = R};
    dctr_status st = chunk_alloc(&a, m, maxnodes);
    for (int64_t r0 = 0; r0 < d->rows && st == DCTR_OK; r0 += R) {
        a.R = d->rows - r0 < R ? d->rows - r0 : R;
        st = count_nodes(model, d, r0, &a);
        if (st != DCTR_OK)
            break;
        fill_chunk(model, d, r0, &a);
        dctr_arrays arr;
        dctr_arrays_init(&arr);
        arr.num_rows = a.R;
        arr.columns = a.cols;
        arr.num_columns = m;
        arr.labels = a.labels;
        st = dctr_dataset_append_arrays(ds, &arr);
    }
    dctr_free(a.off);
    dctr_free(a.val);
    dctr_free(a.cols);
    return st;
}

dctr_status dctr_ffm_data_to_dataset(const dctr_model *model, const dctr_ffm_data *data, dctr_dataset **out) {
    if (out)
        *out = NULL;
    if (!model || !data || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_data_to_dataset: NULL model, data or output");
    if (!dctr_ffm_is_native(model))
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "dctr_ffm_data_to_dataset: not a libffm-native FFM model");
    dctr_dataset *ds = NULL;
    DCTR_TRY(dctr_dataset_new_empty(model->schema, &ds));
    dctr_status st = append_rows(model, data, ds);
    if (st != DCTR_OK) {
        dctr_dataset_free(ds);
        return st;
    }
    *out = ds;
    return DCTR_OK;
}
