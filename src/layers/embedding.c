/* Embedding gather and the sparse (touched-rows) gradient accumulator. */
#include "layers/embedding.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/simd.h"
#include "layers/sequence_pool.h"
#include "optim/optim.h"

static dctr_status bad_id(int64_t pos, int64_t id, int64_t vocab) {
    return dctr_set_error(DCTR_ERR_RANGE, "embedding id %lld at position %lld outside [0, %lld)",
                          (long long)id, (long long)pos, (long long)vocab);
}

/* Ids ahead whose rows are prefetched: a row's work is a few cycles, an L3 or DRAM miss
 * hundreds, so the distance must span many rows (8 left the misses mostly exposed). */
#define ROW_AHEAD 16

DCTR_KERNEL_BODY dctr_status gather_body(const float *table, int64_t vocab, int32_t dim,
                                         const int64_t *ids, int64_t n, float *out,
                                         int64_t out_stride) {
/* Fixed-size copies for the common dims compile to a few vector moves instead of a libc call.
 * The rows a few ids ahead are prefetched: a cold table row is a cache miss. */
#define GATHER_FIXED(K)                                                                  \
    for (int64_t i = 0; i < n; i++) {                                                    \
        int64_t id = ids[i];                                                             \
        if (id < 0 || id >= vocab)                                                       \
            return bad_id(i, id, vocab);                                                 \
        if (i + ROW_AHEAD < n && ids[i + ROW_AHEAD] >= 0 && ids[i + ROW_AHEAD] < vocab)  \
            __builtin_prefetch(table + ids[i + ROW_AHEAD] * (K));                        \
        memcpy(out + i * out_stride, table + id * (K), (K) * sizeof(float));             \
    }                                                                                    \
    return DCTR_OK
    switch (dim) {
    case 1:
        GATHER_FIXED(1);
    case 4:
        GATHER_FIXED(4);
    case 8:
        GATHER_FIXED(8);
    case 16:
        GATHER_FIXED(16);
    default:
        break;
    }
#undef GATHER_FIXED
    for (int64_t i = 0; i < n; i++) {
        int64_t id = ids[i];
        if (id < 0 || id >= vocab)
            return bad_id(i, id, vocab);
        memcpy(out + i * out_stride, table + id * dim, (size_t)dim * sizeof(float));
    }
    return DCTR_OK;
}
DCTR_SIMD_CLONES_RET(dctr_status, gather, (const float *table, int64_t vocab, int32_t dim,
                                           const int64_t *ids, int64_t n, float *out,
                                           int64_t out_stride),
                     (table, vocab, dim, ids, n, out, out_stride));

dctr_status dctr_embedding_gather(const float *table, int64_t vocab, int32_t dim,
                                  const int64_t *ids, int64_t n, float *out,
                                  int64_t out_stride) {
    return DCTR_SIMD_PICK(gather)(table, vocab, dim, ids, n, out, out_stride);
}

/* Fibonacci hashing: ids are often small consecutive integers, which this spreads well. */
static inline int64_t slot_of(int64_t id, int64_t mask) {
    return (int64_t)(((uint64_t)id * 0x9E3779B97F4A7C15ULL) >> 17) & mask;
}

/* Tables up to this many rows index their touched rows directly: 4 bytes a row, at most 4 MiB
 * an accumulator. Larger ones, hashed tables of up to 2^40 buckets included, use the
 * open-addressing map sized by the step's capacity, so their extra memory stays proportional
 * to a step's rows, not to the table (a [V] index would be 10-40 % of a big table's own
 * weights + optimizer state with small k and plain SGD). */
#define DIRECT_INDEX_MAX_ROWS (INT64_C(1) << 20)

dctr_status dctr_sparse_grad_init(dctr_sparse_grad *g, int64_t vocab, int32_t dim,
                                  int64_t capacity) {
    memset(g, 0, sizeof *g);
    if (vocab <= 0 || dim <= 0 || capacity <= 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "sparse gradient: vocab %lld, dim %d, capacity %lld must be > 0",
                              (long long)vocab, dim, (long long)capacity);
    if (capacity > vocab)
        capacity = vocab;
    if (capacity > INT32_MAX / 2)
        return dctr_set_error(DCTR_ERR_LIMIT, "sparse gradient: capacity %lld too large",
                              (long long)capacity);
    g->dim = dim;
    g->vocab = vocab;
    g->capacity = capacity;
    size_t nfloats;
    if (!dctr_mul_size((size_t)capacity, (size_t)dim, &nfloats))
        return dctr_set_error(DCTR_ERR_LIMIT, "sparse gradient: capacity x dim overflows");
    g->rows = dctr_calloc((size_t)capacity, sizeof(int64_t));
    g->grad = dctr_alloc_floats(nfloats);
    int ok = g->rows && g->grad;
    if (ok && vocab <= DIRECT_INDEX_MAX_ROWS) {
        g->index = dctr_malloc((size_t)vocab * sizeof(int32_t));
        ok = g->index != NULL;
        if (ok)
            memset(g->index, 0xff, (size_t)vocab * sizeof(int32_t)); /* every entry -1 */
    } else if (ok) {
        int64_t size = 16;
        while (size < 2 * capacity)
            size *= 2;
        g->map_size = size;
        g->map_keys = dctr_malloc((size_t)size * sizeof(int64_t));
        g->map_slot = dctr_calloc((size_t)size, sizeof(int32_t));
        ok = g->map_keys && g->map_slot;
        if (ok)
            for (int64_t i = 0; i < size; i++)
                g->map_keys[i] = -1;
    }
    if (!ok) {
        dctr_sparse_grad_destroy(g);
        return DCTR_ERR_NOMEM;
    }
    return DCTR_OK;
}

void dctr_sparse_grad_destroy(dctr_sparse_grad *g) {
    if (!g)
        return;
    dctr_free(g->rows);
    dctr_aligned_free(g->grad);
    dctr_free(g->index);
    dctr_free(g->map_keys);
    dctr_free(g->map_slot);
    memset(g, 0, sizeof *g);
}

void dctr_sparse_grad_clear(dctr_sparse_grad *g) {
    if (g->index) {
        for (int64_t i = 0; i < g->count; i++)
            g->index[g->rows[i]] = -1;
        g->count = 0;
        return;
    }
    int64_t mask = g->map_size - 1;
    for (int64_t i = 0; i < g->count; i++) {
        /* Linear probing: deleting every key of the table at once needs no tombstones. */
        int64_t s = slot_of(g->rows[i], mask);
        while (g->map_keys[s] != g->rows[i])
            s = (s + 1) & mask;
        g->map_keys[s] = -1;
    }
    g->count = 0;
}

float *dctr_sparse_grad_find(const dctr_sparse_grad *g, int64_t id) {
    if (id < 0 || id >= g->vocab)
        return NULL;
    if (g->index) {
        int32_t slot = g->index[id];
        return slot >= 0 ? g->grad + (int64_t)slot * g->dim : NULL;
    }
    int64_t mask = g->map_size - 1;
    for (int64_t s = slot_of(id, mask);; s = (s + 1) & mask) {
        int64_t key = g->map_keys[s];
        if (key == id)
            return g->grad + (int64_t)g->map_slot[s] * g->dim;
        if (key < 0)
            return NULL;
    }
}

/* The slot of `id` (in range), created on first touch (*fresh = 1: its gradient row holds
 * garbage, the caller writes it whole); -1 when full. Inlined into the scatter loops, which run
 * once per id of every step. */
static inline int64_t row_slot(dctr_sparse_grad *g, int64_t id, int *fresh) {
    *fresh = 0;
    int64_t *key_at = NULL;
    int32_t *slot_at;
    if (g->index) {
        slot_at = &g->index[id];
        if (*slot_at >= 0)
            return *slot_at;
    } else {
        int64_t mask = g->map_size - 1;
        int64_t s = slot_of(id, mask);
        for (;; s = (s + 1) & mask) {
            int64_t key = g->map_keys[s];
            if (key == id)
                return g->map_slot[s];
            if (key < 0)
                break;
        }
        key_at = &g->map_keys[s];
        slot_at = &g->map_slot[s];
    }
    if (g->count >= g->capacity)
        return -1;
    int64_t slot = g->count++;
    if (key_at)
        *key_at = id;
    *slot_at = (int32_t)slot;
    g->rows[slot] = id;
    *fresh = 1;
    return slot;
}

double dctr_sparse_grad_sumsq(const dctr_sparse_grad *g) {
    return g->count > 0 ? dctr_sumsq(g->grad, (size_t)(g->count * g->dim)) : 0.0;
}

static dctr_status row_error(const dctr_sparse_grad *g, int64_t id) {
    if (id < 0 || id >= g->vocab)
        return dctr_set_error(DCTR_ERR_RANGE, "sparse gradient: id %lld outside [0, %lld)",
                              (long long)id, (long long)g->vocab);
    return dctr_set_error(DCTR_ERR_LIMIT, "sparse gradient: more than %lld distinct rows in one step",
                          (long long)g->capacity);
}

float *dctr_sparse_grad_row(dctr_sparse_grad *g, int64_t id) {
    int fresh;
    int64_t slot = id >= 0 && id < g->vocab ? row_slot(g, id, &fresh) : -1;
    if (slot < 0) {
        row_error(g, id);
        return NULL;
    }
    float *row = g->grad + slot * g->dim;
    if (fresh)
        memset(row, 0, (size_t)g->dim * sizeof(float));
    return row;
}

/* row += d over k floats. row and d may alias as far as the compiler knows, so a plain loop
 * stays scalar (a load, add and store per float: 8 dependent store-load pairs were 6 % of a
 * DeepFM step); d is first copied into a local, which nothing aliases. Same adds, same bits. */
DCTR_KERNEL_BODY void add_row(float *row, const float *d, int32_t k) {
    float t[16];
    for (int32_t j0 = 0; j0 < k; j0 += 16) {
        int32_t n = k - j0 < 16 ? k - j0 : 16;
        memcpy(t, d + j0, (size_t)n * sizeof(float));
        for (int32_t j = 0; j < n; j++)
            row[j0 + j] += t[j];
    }
}

/* grad[ids[i]] += dout[i * stride + 0..K): K a compile-time constant for the common dims, so
 * the add is a few vector instructions; the next rows of dout are prefetched (a strided walk
 * through the [B x D] concat gradient, one table at a time). */
#define SCATTER_FIXED(K)                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                       \
        int64_t id = ids[i];                                                                \
        int fresh;                                                                          \
        int64_t slot = id >= 0 && id < g->vocab ? row_slot(g, id, &fresh) : -1;             \
        if (slot < 0)                                                                       \
            return row_error(g, id);                                                        \
        if (i + ROW_AHEAD < n) {                                                            \
            __builtin_prefetch(dout + (i + ROW_AHEAD) * dout_stride);                       \
            if (g->index && ids[i + ROW_AHEAD] >= 0 && ids[i + ROW_AHEAD] < g->vocab)       \
                __builtin_prefetch(g->index + ids[i + ROW_AHEAD]);                          \
        }                                                                                   \
        float *row = g->grad + slot * (K);                                                  \
        const float *d = dout + i * dout_stride;                                            \
        if (fresh) /* first touch: the sum so far is this row */                            \
            memcpy(row, d, (K) * sizeof(float));                                            \
        else                                                                                \
            add_row(row, d, (K));                                                           \
    }                                                                                       \
    return DCTR_OK

DCTR_KERNEL_BODY dctr_status scatter_body(dctr_sparse_grad *g, const int64_t *ids, int64_t n,
                                          const float *dout, int64_t dout_stride) {
    switch (g->dim) {
    case 1:
        SCATTER_FIXED(1);
    case 4:
        SCATTER_FIXED(4);
    case 8:
        SCATTER_FIXED(8);
    case 16:
        SCATTER_FIXED(16);
    default:
        break;
    }
    const int32_t dim = g->dim;
    for (int64_t i = 0; i < n; i++) {
        int64_t id = ids[i];
        int fresh;
        int64_t slot = id >= 0 && id < g->vocab ? row_slot(g, id, &fresh) : -1;
        if (slot < 0)
            return row_error(g, id);
        float *row = g->grad + slot * dim;
        const float *d = dout + i * dout_stride;
        if (fresh)
            memcpy(row, d, (size_t)dim * sizeof(float));
        else
            for (int32_t j = 0; j < dim; j++)
                row[j] += d[j];
    }
    return DCTR_OK;
}
#undef SCATTER_FIXED
DCTR_SIMD_CLONES_RET(dctr_status, scatter, (dctr_sparse_grad *g, const int64_t *ids, int64_t n,
                                            const float *dout, int64_t dout_stride),
                     (g, ids, n, dout, dout_stride));

dctr_status dctr_embedding_scatter(dctr_sparse_grad *g, const int64_t *ids, int64_t n,
                                   const float *dout, int64_t dout_stride) {
    return DCTR_SIMD_PICK(scatter)(g, ids, n, dout, dout_stride);
}

dctr_status dctr_embedding_scatter_seq(dctr_sparse_grad *g, const int64_t *ids,
                                       const int32_t *lengths, int64_t B, int32_t T,
                                       const float *dE) {
    dctr_status (*const scatter)(dctr_sparse_grad *, const int64_t *, int64_t, const float *,
                                 int64_t) = DCTR_SIMD_PICK(scatter); /* once, not per id */
    for (int64_t b = 0; b < B; b++)
        for (int32_t t = 0; t < T; t++)
            if (dctr_seq_valid(ids, lengths, b, T, t))
                DCTR_TRY(scatter(g, ids + b * T + t, 1, dE + (b * T + t) * g->dim, g->dim));
    return DCTR_OK;
}
