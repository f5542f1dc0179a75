/* Embedding tables: row gather for sparse / varlen ids, and the sparse gradient accumulator.
 *
 * A table is a caller-owned float array of vocab rows of `dim` floats (row-major, row r at
 * table + r * dim). dim is k for DNN/FM tables, 1 for linear tables and F*k for FFM tables.
 * The layer never owns parameters: the model owns the table and its accumulator.
 *
 * Backward is sparse: dctr_sparse_grad keeps one gradient row per DISTINCT id touched in the
 * step (touched-row list + an id -> slot index: a direct [V] array for tables up to 2^20 rows,
 * an open-addressing map above that), never a dense V x dim gradient.
 * Several columns sharing one embedding_name scatter into the SAME accumulator. Clearing costs
 * O(touched rows). Frozen tables (trainable = 0): the caller simply skips the scatter and the
 * optimizer update for that table (the layer has no notion of trainability). */
#ifndef DCTR_LAYERS_EMBEDDING_H
#define DCTR_LAYERS_EMBEDDING_H

#include <stdint.h>

#include "deepctr/common.h"

/* Gathers n rows: out[i * out_stride + j] = table[ids[i] * dim + j], j < dim.
 * Sparse columns: n = B, out points at the column's slice of the [B x D] concat matrix and
 * out_stride = D. Varlen columns: n = B * T with out_stride = dim (a [B*T x dim] workspace for
 * the pooling layers). Every id must be in [0, vocab): otherwise DCTR_ERR_RANGE naming the
 * position and the id (the caller prefixes the feature name with dctr_error_prefix), and the
 * output is unspecified. Padding id 0 is a real row (upstream mask_zero keeps row 0). */
DCTR_NODISCARD dctr_status dctr_embedding_gather(const float *table, int64_t vocab, int32_t dim,
                                                 const int64_t *ids, int64_t n, float *out,
                                                 int64_t out_stride);

/* Sparse gradient of one table (or of one shared table). All fields are read-only for callers;
 * iterate with: for (i = 0; i < g->count; i++) row id g->rows[i], gradient g->grad + i * g->dim. */
typedef struct dctr_sparse_grad {
    int32_t dim;       /* floats per row */
    int64_t vocab;     /* table rows (for range checks) */
    int64_t capacity;  /* max distinct rows per step (fixed at init) */
    int64_t count;     /* distinct rows touched since the last clear */
    int64_t *rows;     /* [capacity]: touched row ids in first-touch order */
    float *grad;       /* [capacity * dim]: gradient of rows[i] at grad + i * dim */
    int32_t *index;    /* [vocab]: slot of each row, -1 if untouched (tables up to 2^20 rows);
                        * NULL for larger tables, which use the map below */
    int64_t map_size;  /* power of two >= 2 * capacity (0 with a direct index) */
    int64_t *map_keys; /* [map_size]: row id, or -1 for an empty slot */
    int32_t *map_slot; /* [map_size]: index into rows / grad */
} dctr_sparse_grad;

/* Allocates an accumulator for up to `capacity` distinct rows per step (use min(vocab, the
 * number of ids a step can scatter: sum over users of max_batch or max_batch * T)). */
DCTR_NODISCARD dctr_status dctr_sparse_grad_init(dctr_sparse_grad *g, int64_t vocab, int32_t dim,
                                                 int64_t capacity);
/* Frees the arrays (NULL-safe, idempotent: the struct is zeroed). */
void dctr_sparse_grad_destroy(dctr_sparse_grad *g);
/* Forgets every touched row: O(count), not O(vocab) or O(capacity). */
void dctr_sparse_grad_clear(dctr_sparse_grad *g);
/* The gradient row of `id`, created zero-filled on first touch. NULL (with DCTR_ERR_LIMIT set)
 * when the accumulator is full, or DCTR_ERR_RANGE when id is outside [0, vocab). */
float *dctr_sparse_grad_row(dctr_sparse_grad *g, int64_t id);
/* The existing gradient row of `id`, or NULL if it was not touched (never creates). */
float *dctr_sparse_grad_find(const dctr_sparse_grad *g, int64_t id);

/* Sum of squares of the touched rows' gradients (double accumulation). */
double dctr_sparse_grad_sumsq(const dctr_sparse_grad *g);

/* Backward of dctr_embedding_gather: grad[ids[i]] += dout[i * dout_stride + 0..dim). */
DCTR_NODISCARD dctr_status dctr_embedding_scatter(dctr_sparse_grad *g, const int64_t *ids,
                                                  int64_t n, const float *dout,
                                                  int64_t dout_stride);
/* Varlen backward that skips the padding positions, i.e. positions invalid under the same mask
 * as the pooling layers (lengths != NULL: t >= lengths[b]; lengths == NULL: id == 0), so the
 * padding row 0 is not touched (and not lazily L2-regularised) by padding. dE is [B*T x dim]
 * with row stride dim (the pooling layers' dE). */
DCTR_NODISCARD dctr_status dctr_embedding_scatter_seq(dctr_sparse_grad *g, const int64_t *ids,
                                                      const int32_t *lengths, int64_t B,
                                                      int32_t T, const float *dE);

#endif
