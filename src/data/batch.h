/* The encoded batch: struct of arrays, one slot per schema column (CONTRACT shared by the input,
 * layers, models and training code; fields may be added, never renamed or removed).
 * Ids stay int64 all the way (never floats: ids above 2^24 would break). A dataset holds all of
 * its rows in the same layout, so a contiguous range of a dataset is a batch view without copy. */
#ifndef DCTR_DATA_BATCH_H
#define DCTR_DATA_BATCH_H

#include <stdint.h>

#include "deepctr/data.h"
#include "feature/schema_types.h"

typedef struct dctr_column_data {
    int64_t *ids;      /* sparse: [n]; varlen: [n * maxlen] row-major, padded with id 0 */
    int32_t *lengths;  /* varlen with a length column: [n]; else NULL (mask is id != 0) */
    float *weights;    /* varlen with a weight column: [n * maxlen]; else NULL */
    float *dense;      /* dense: [n * dense_dim], already transformed */
} dctr_column_data;

struct dctr_batch {
    const dctr_schema *schema;
    int64_t n;                 /* rows filled */
    int64_t capacity;          /* rows allocated */
    float *labels;             /* [n] */
    float *sample_weights;     /* [n], or NULL when every weight is 1 */
    dctr_column_data *cols;    /* [schema->ncols] */
    int owns_memory;           /* 0 for a view into a dataset */
    struct dctr_row_builder *builder; /* serving-path state (src/data/batch_row.c), or NULL */
};

/* Allocates a batch of `capacity` rows for `schema` (internal twin of dctr_batch_new). */
dctr_status dctr_batch_alloc(const dctr_schema *schema, int64_t capacity, int with_weights,
                             dctr_batch **out);
/* Points `view` at rows [start, start + count) of `src` without copying (view->owns_memory = 0). */
void dctr_batch_view(const dctr_batch *src, int64_t start, int64_t count, dctr_batch *view);
/* A view needs its own cols array: dctr_batch_view_init allocates it (view->n = 0, no rows),
 * dctr_batch_view_release frees it (never the viewed data). A view struct may be re-pointed with
 * dctr_batch_view any number of times. */
dctr_status dctr_batch_view_init(dctr_batch *view, const dctr_schema *schema);
void dctr_batch_view_release(dctr_batch *view);
/* Frees the serving-path row state of a batch (batch_row.c); NULL is a no-op. */
void dctr_batch_rowbuilder_free(struct dctr_row_builder *b);
/* Grows an owning batch to hold `capacity` rows (contents kept). */
dctr_status dctr_batch_reserve(dctr_batch *batch, int64_t capacity);
/* Copies the given rows of `src` into `dst` (dst->capacity >= count); dst->n = count. */
dctr_status dctr_batch_gather(dctr_batch *dst, const dctr_batch *src, const int64_t *rows,
                              int64_t count);
/* The same, with the rows split across `pool` (NULL: the calling thread only). */
struct dctr_pool;
dctr_status dctr_batch_gather_on(dctr_batch *dst, const dctr_batch *src, const int64_t *rows,
                                 int64_t count, struct dctr_pool *pool);
/* The same, reading the packed columns, labels and weights from `pack` (a dctr_row_pack_build
 * of rows holding src's rows from pack row pack_base on; NULL = none): the same batch, fewer
 * cache misses. */
struct dctr_row_pack;
dctr_status dctr_batch_gather_packed(dctr_batch *dst, const dctr_batch *src,
                                     const struct dctr_row_pack *pack, int64_t pack_base,
                                     const int64_t *rows, int64_t count, struct dctr_pool *pool);
/* The rows of an in-memory dataset, as one batch (no copy). */
const dctr_batch *dctr_dataset_rows(const dctr_dataset *ds);

#endif
