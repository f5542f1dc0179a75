/* Embedding gather and the sparse (touched-rows) gradient accumulator. */
#include "layers/embedding.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "layers/sequence_pool.h"

static dctr_status bad_id(int64_t pos, int64_t id, int64_t vocab) {
    return dctr_set_error(DCTR_ERR_RANGE, "embedding id %lld at position %lld outside [0, %lld)",
                          (long long)id, (long long)pos, (long long)vocab);
}

dctr_status dctr_embedding_gather(const float *table, int64_t vocab, int32_t dim,
                                  const int64_t *ids, int64_t n, float *out,
                                  int64_t out_stride) {
/* Fixed-size copies for the common dims compile to a few vector moves instead of a libc call. */
#define GATHER_FIXED(K)                                                                  \
    for (int64_t i = 0; i < n; i++) {                                                    \
        int64_t id = ids[i];                                                             \
        if (id < 0 || id >= vocab)                                                       \
            return bad_id(i, id, vocab);                                                 \
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

/* Fibonacci hashing: ids are often small consecutive integers, which this spreads well. */
static inline int64_t slot_of(int64_t id, int64_t mask) {
    return (int64_t)(((uint64_t)id * 0x9E3779B97F4A7C15ULL) >> 17) & mask;
}

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
    int64_t size = 16;
    while (size < 2 * capacity)
        size *= 2;
    g->dim = dim;
    g->vocab = vocab;
    g->capacity = capacity;
    g->map_size = size;
    size_t nfloats;
    if (!dctr_mul_size((size_t)capacity, (size_t)dim, &nfloats))
        return dctr_set_error(DCTR_ERR_LIMIT, "sparse gradient: capacity x dim overflows");
    g->rows = dctr_calloc((size_t)capacity, sizeof(int64_t));
    g->grad = dctr_alloc_floats(nfloats);
    g->map_keys = dctr_calloc((size_t)size, sizeof(int64_t));
    g->map_slot = dctr_calloc((size_t)size, sizeof(int32_t));
    if (!g->rows || !g->grad || !g->map_keys || !g->map_slot) {
        dctr_sparse_grad_destroy(g);
        return DCTR_ERR_NOMEM;
    }
    for (int64_t i = 0; i < size; i++)
        g->map_keys[i] = -1;
    return DCTR_OK;
}

void dctr_sparse_grad_destroy(dctr_sparse_grad *g) {
    if (!g)
        return;
    dctr_free(g->rows);
    dctr_aligned_free(g->grad);
    dctr_free(g->map_keys);
    dctr_free(g->map_slot);
    memset(g, 0, sizeof *g);
}

void dctr_sparse_grad_clear(dctr_sparse_grad *g) {
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
    int64_t mask = g->map_size - 1;
    for (int64_t s = slot_of(id, mask);; s = (s + 1) & mask) {
        int64_t key = g->map_keys[s];
        if (key == id)
            return g->grad + (int64_t)g->map_slot[s] * g->dim;
        if (key < 0)
            return NULL;
    }
}

float *dctr_sparse_grad_row(dctr_sparse_grad *g, int64_t id) {
    if (id < 0 || id >= g->vocab) {
        dctr_set_error(DCTR_ERR_RANGE, "sparse gradient: id %lld outside [0, %lld)",
                       (long long)id, (long long)g->vocab);
        return NULL;
    }
    int64_t mask = g->map_size - 1;
    int64_t s = slot_of(id, mask);
    for (;; s = (s + 1) & mask) {
        int64_t key = g->map_keys[s];
        if (key == id)
            return g->grad + (int64_t)g->map_slot[s] * g->dim;
        if (key < 0)
            break;
    }
    if (g->count >= g->capacity) {
        dctr_set_error(DCTR_ERR_LIMIT, "sparse gradient: more than %lld distinct rows in one step",
                       (long long)g->capacity);
        return NULL;
    }
    int64_t slot = g->count++;
    g->map_keys[s] = id;
    g->map_slot[s] = (int32_t)slot;
    g->rows[slot] = id;
    float *row = g->grad + slot * g->dim;
    memset(row, 0, (size_t)g->dim * sizeof(float));
    return row;
}

static dctr_status add_row(dctr_sparse_grad *g, int64_t id, const float *d) {
    float *row = dctr_sparse_grad_row(g, id);
    if (!row)
        return id < 0 || id >= g->vocab ? DCTR_ERR_RANGE : DCTR_ERR_LIMIT;
    for (int32_t j = 0; j < g->dim; j++)
        row[j] += d[j];
    return DCTR_OK;
}

dctr_status dctr_embedding_scatter(dctr_sparse_grad *g, const int64_t *ids, int64_t n,
                                   const float *dout, int64_t dout_stride) {
    for (int64_t i = 0; i < n; i++)
        DCTR_TRY(add_row(g, ids[i], dout + i * dout_stride));
    return DCTR_OK;
}

dctr_status dctr_embedding_scatter_seq(dctr_sparse_grad *g, const int64_t *ids,
                                       const int32_t *lengths, int64_t B, int32_t T,
                                       const float *dE) {
    for (int64_t b = 0; b < B; b++)
        for (int32_t t = 0; t < T; t++)
            if (dctr_seq_valid(ids, lengths, b, T, t))
                DCTR_TRY(add_row(g, ids[b * T + t], dE + (b * T + t) * g->dim));
    return DCTR_OK;
}
