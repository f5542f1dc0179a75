/* Batches: struct-of-arrays allocation, growth, views and gathers (see batch.h). */
#include "data/batch.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "data/row_pack.h"


/* Reallocates one array of `elem` bytes per row from old_cap to new_cap rows (zero-filled). */
static dctr_status grow_array(void **p, size_t per_row, int64_t old_cap, int64_t new_cap) {
    size_t bytes;
    if (!dctr_mul_size(per_row, (size_t)(new_cap > 0 ? new_cap : 1), &bytes))
        return dctr_set_error(DCTR_ERR_NOMEM, "batch of %lld rows is too large", (long long)new_cap);
    void *n = dctr_aligned_alloc(bytes);
    if (!n)
        return DCTR_ERR_NOMEM;
    if (*p && old_cap > 0)
        memcpy(n, *p, per_row * (size_t)(old_cap < new_cap ? old_cap : new_cap));
    dctr_aligned_free(*p);
    *p = n;
    return DCTR_OK;
}

dctr_status dctr_batch_reserve(dctr_batch *b, int64_t capacity) {
    if (!b->owns_memory)
        return dctr_set_error(DCTR_ERR_STATE, "cannot grow a batch view");
    if (capacity <= b->capacity && b->labels)
        return DCTR_OK;
    const dctr_schema *s = b->schema;
    int64_t old = b->labels ? b->capacity : 0;
    DCTR_TRY(grow_array((void **)&b->labels, sizeof(float), old, capacity));
    if (b->sample_weights || (old == 0 && b->capacity < 0))
        DCTR_TRY(grow_array((void **)&b->sample_weights, sizeof(float), old, capacity));
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        dctr_column_data *d = &b->cols[i];
        switch (c->kind) {
        case DCTR_COLUMN_SPARSE:
            DCTR_TRY(grow_array((void **)&d->ids, sizeof(int64_t), old, capacity));
            break;
        case DCTR_COLUMN_VARLEN:
            DCTR_TRY(grow_array((void **)&d->ids, sizeof(int64_t) * (size_t)c->maxlen, old, capacity));
            if (c->length_name)
                DCTR_TRY(grow_array((void **)&d->lengths, sizeof(int32_t), old, capacity));
            if (c->weight_name)
                DCTR_TRY(grow_array((void **)&d->weights, sizeof(float) * (size_t)c->maxlen, old,
                                    capacity));
            break;
        case DCTR_COLUMN_DENSE:
            DCTR_TRY(grow_array((void **)&d->dense, sizeof(float) * (size_t)c->dense_dim, old,
                                capacity));
            break;
        case DCTR_COLUMN_NONE: /* never stored in a schema */
            break;
        }
    }
    b->capacity = capacity;
    return DCTR_OK;
}

dctr_status dctr_batch_alloc(const dctr_schema *schema, int64_t capacity, int with_weights,
                             dctr_batch **out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_batch_alloc: out is NULL");
    *out = NULL;
    if (!schema || capacity < 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_batch_alloc: bad schema or capacity %lld",
                              (long long)capacity);
    if (!schema->validated)
        return dctr_set_error(DCTR_ERR_STATE, "dctr_batch_alloc: the schema is not validated");
    dctr_batch *b = dctr_calloc(1, sizeof *b);
    if (!b)
        return DCTR_ERR_NOMEM;
    b->schema = schema;
    b->owns_memory = 1;
    b->cols = dctr_calloc((size_t)schema->ncols + 1, sizeof *b->cols);
    dctr_status st = b->cols ? DCTR_OK : DCTR_ERR_NOMEM;
    if (st == DCTR_OK && with_weights) {
        b->sample_weights = dctr_alloc_floats((size_t)(capacity > 0 ? capacity : 1));
        if (!b->sample_weights)
            st = DCTR_ERR_NOMEM;
    }
    if (st == DCTR_OK) {
        b->capacity = 0;
        /* grow from nothing: sample_weights already sized, keep it */
        float *sw = b->sample_weights;
        b->sample_weights = NULL;
        st = dctr_batch_reserve(b, capacity);
        b->sample_weights = sw;
        if (st == DCTR_OK && sw) {
            for (int64_t i = 0; i < capacity; i++)
                sw[i] = 1.0f;
        }
    }
    if (st != DCTR_OK) {
        dctr_batch_free(b);
        return st;
    }
    *out = b;
    return DCTR_OK;
}

dctr_status dctr_batch_new(const dctr_schema *schema, int64_t capacity, dctr_batch **out) {
    return dctr_batch_alloc(schema, capacity, schema && schema->weight_column != NULL, out);
}

static void free_arrays(dctr_batch *b) {
    dctr_aligned_free(b->labels);
    dctr_aligned_free(b->sample_weights);
    if (b->cols && b->schema)
        for (int32_t i = 0; i < b->schema->ncols; i++) {
            dctr_aligned_free(b->cols[i].ids);
            dctr_aligned_free(b->cols[i].lengths);
            dctr_aligned_free(b->cols[i].weights);
            dctr_aligned_free(b->cols[i].dense);
        }
}

void dctr_batch_free(dctr_batch *b) {
    if (!b)
        return;
    if (b->owns_memory)
        free_arrays(b);
    dctr_batch_rowbuilder_free(b->builder);
    dctr_free(b->cols);
    dctr_free(b);
}

int64_t dctr_batch_num_rows(const dctr_batch *b) { return b ? b->n : 0; }

void dctr_batch_clear(dctr_batch *b) {
    if (!b)
        return;
    b->n = 0;
    dctr_batch_rowbuilder_free(b->builder);
    b->builder = NULL;
}

dctr_status dctr_batch_view_init(dctr_batch *view, const dctr_schema *schema) {
    memset(view, 0, sizeof *view);
    view->schema = schema;
    view->cols = dctr_calloc((size_t)schema->ncols + 1, sizeof *view->cols);
    return view->cols ? DCTR_OK : DCTR_ERR_NOMEM;
}

void dctr_batch_view_release(dctr_batch *view) {
    if (!view)
        return;
    dctr_free(view->cols);
    view->cols = NULL;
    view->n = 0;
}

void dctr_batch_view(const dctr_batch *src, int64_t start, int64_t count, dctr_batch *view) {
    const dctr_schema *s = src->schema;
    view->schema = s;
    view->n = count;
    view->capacity = count;
    view->owns_memory = 0;
    view->builder = NULL;
    view->labels = src->labels ? src->labels + start : NULL;
    view->sample_weights = src->sample_weights ? src->sample_weights + start : NULL;
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        const dctr_column_data *a = &src->cols[i];
        dctr_column_data *d = &view->cols[i];
        int64_t T = c->kind == DCTR_COLUMN_VARLEN ? c->maxlen : 1;
        int64_t D = c->kind == DCTR_COLUMN_DENSE ? c->dense_dim : 1;
        d->ids = a->ids ? a->ids + start * T : NULL;
        d->lengths = a->lengths ? a->lengths + start : NULL;
        d->weights = a->weights ? a->weights + start * T : NULL;
        d->dense = a->dense ? a->dense + start * D : NULL;
    }
}

typedef struct gather_job {
    dctr_batch *dst;
    const dctr_batch *src;
    const dctr_row_pack *pack; /* or NULL */
    int64_t pack_base;         /* pack row of src's row 0 */
    const int64_t *rows;
} gather_job;

/* The rows are scattered over the dataset (fit reads a shuffled batch in dataset order, but
 * ~n/batch rows apart), so each element is a cache miss. The one-value columns (sparse ids,
 * scalar dense values) are copied row by row across a group of columns: every row issues one
 * independent miss per column, and the rows a few ahead are prefetched, so many misses are in
 * flight from the first row on. (Column by column, each column's first rows waited on their
 * misses alone: a quarter of a 256-row batch.) */
#define GATHER_AHEAD 4
#define GATHER_GROUP 32

typedef struct gather_col {
    const char *src;
    char *dst;
    size_t size; /* bytes per row: 8 (an id) or 4 (a float) */
} gather_col;

static void gather_group(const gather_col *g, int n, const int64_t *rows, int64_t r0,
                         int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        if (r + GATHER_AHEAD < r1) {
            size_t ahead = (size_t)rows[r + GATHER_AHEAD];
            for (int c = 0; c < n; c++)
                __builtin_prefetch(g[c].src + ahead * g[c].size, 0, 1);
        }
        size_t j = (size_t)rows[r];
        for (int c = 0; c < n; c++) {
            if (g[c].size == sizeof(int64_t))
                memcpy(g[c].dst + (size_t)r * sizeof(int64_t), g[c].src + j * sizeof(int64_t),
                       sizeof(int64_t));
            else
                memcpy(g[c].dst + (size_t)r * sizeof(float), g[c].src + j * sizeof(float),
                       sizeof(float));
        }
    }
}

/* Copies output rows [r0, r1): row-local, so any split gives the same batch. */
static void gather_rows(void *ctx, int worker, int64_t r0, int64_t r1) {
    (void)worker;
    const gather_job *g = ctx;
    dctr_batch *dst = g->dst;
    const dctr_batch *src = g->src;
    const int64_t *rows = g->rows;
    const dctr_schema *s = src->schema;
    if (g->pack)
        dctr_row_pack_gather(g->pack, g->pack_base, dst, rows, r0, r1);
    else
        for (int64_t r = r0; r < r1; r++) {
            int64_t j = rows[r];
            dst->labels[r] = src->labels[j];
            if (dst->sample_weights)
                dst->sample_weights[r] = src->sample_weights ? src->sample_weights[j] : 1.0f;
        }
    gather_col group[GATHER_GROUP];
    int ng = 0;
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        const dctr_column_data *a = &src->cols[i];
        dctr_column_data *d = &dst->cols[i];
        if (g->pack && dctr_row_pack_has_column(g->pack, i)) {
            /* read from the pack above */
        } else if (c->kind == DCTR_COLUMN_SPARSE) {
            group[ng++] = (gather_col){(const char *)a->ids, (char *)d->ids, sizeof(int64_t)};
        } else if (c->kind == DCTR_COLUMN_VARLEN) {
            size_t T = (size_t)c->maxlen;
            for (int64_t r = r0; r < r1; r++) {
                memcpy(d->ids + (size_t)r * T, a->ids + (size_t)rows[r] * T, T * sizeof(int64_t));
                if (d->lengths && a->lengths)
                    d->lengths[r] = a->lengths[rows[r]];
                if (d->weights && a->weights)
                    memcpy(d->weights + (size_t)r * T, a->weights + (size_t)rows[r] * T,
                           T * sizeof(float));
            }
        } else if (c->dense_dim == 1) {
            group[ng++] = (gather_col){(const char *)a->dense, (char *)d->dense, sizeof(float)};
        } else {
            size_t D = (size_t)c->dense_dim;
            for (int64_t r = r0; r < r1; r++)
                memcpy(d->dense + (size_t)r * D, a->dense + (size_t)rows[r] * D, D * sizeof(float));
        }
        if (ng == GATHER_GROUP || (ng > 0 && i == s->ncols - 1)) {
            gather_group(group, ng, rows, r0, r1);
            ng = 0;
        }
    }
}

dctr_status dctr_batch_gather_packed(dctr_batch *dst, const dctr_batch *src,
                                     const dctr_row_pack *pack, int64_t pack_base,
                                     const int64_t *rows, int64_t count, struct dctr_pool *pool) {
    if (!dst || !src || (count > 0 && !rows) || count < 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_batch_gather: bad arguments");
    if (count > dst->capacity)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_batch_gather: %lld rows do not fit a batch of capacity %lld",
                              (long long)count, (long long)dst->capacity);
    if (dst->schema->ncols != src->schema->ncols)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_batch_gather: schemas differ");
    for (int64_t r = 0; r < count; r++)
        if (rows[r] < 0 || rows[r] >= src->n)
            return dctr_set_error(DCTR_ERR_RANGE, "dctr_batch_gather: row %lld outside [0, %lld)",
                                  (long long)rows[r], (long long)src->n);
    if (pack && (pack_base < 0 || pack_base + src->n > dctr_row_pack_rows(pack)))
        return dctr_set_error(DCTR_ERR_INTERNAL, "dctr_batch_gather: the row pack does not cover "
                              "the rows");
    gather_job g = {dst, src, pack, pack_base, rows};
    if (pool && count >= 256 * (int64_t)dctr_pool_threads(pool))
        dctr_pool_run_claimed(pool, count, 512, gather_rows, &g);
    else
        gather_rows(&g, 0, 0, count);
    dst->n = count;
    return DCTR_OK;
}

dctr_status dctr_batch_gather_on(dctr_batch *dst, const dctr_batch *src, const int64_t *rows,
                                 int64_t count, struct dctr_pool *pool) {
    return dctr_batch_gather_packed(dst, src, NULL, 0, rows, count, pool);
}

dctr_status dctr_batch_gather(dctr_batch *dst, const dctr_batch *src, const int64_t *rows,
                              int64_t count) {
    return dctr_batch_gather_on(dst, src, rows, count, NULL);
}
