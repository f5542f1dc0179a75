/* Row-major pack of a batch's one-value columns (see row_pack.h). */
#include "data/row_pack.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "feature/schema_internal.h"

/* Record of a row, in 32-bit words: label, [weight], the scalar dense values, then the ids
 * (one word each, or two: the int64 bits). */
struct dctr_row_pack {
    uint32_t *words; /* [n * stride] */
    int64_t n;
    int32_t stride;
    int32_t has_weights;
    int32_t ndense, nids, id_words;
    int32_t *dense_col, *id_col; /* schema column of each packed value, in record order */
    uint8_t *packed;             /* [ncols]: 1 for a packed column */
};

void dctr_row_pack_free(dctr_row_pack *p) {
    if (!p)
        return;
    dctr_aligned_free(p->words);
    dctr_free(p->dense_col);
    dctr_free(p->id_col);
    dctr_free(p->packed);
    dctr_free(p);
}

int64_t dctr_row_pack_rows(const dctr_row_pack *p) { return p->n; }

int dctr_row_pack_has_column(const dctr_row_pack *p, int32_t col) {
    return p->packed[col];
}

static int is_packed(const dctr_column *c) {
    return c->kind == DCTR_COLUMN_SPARSE || (c->kind == DCTR_COLUMN_DENSE && c->dense_dim == 1);
}

static int ids_fit_32(const dctr_batch *src) {
    const dctr_schema *s = src->schema;
    for (int32_t i = 0; i < s->ncols; i++) {
        if (s->cols[i].kind != DCTR_COLUMN_SPARSE)
            continue;
        const int64_t *ids = src->cols[i].ids;
        for (int64_t r = 0; r < src->n; r++)
            if (ids[r] < INT32_MIN || ids[r] > INT32_MAX)
                return 0;
    }
    return 1;
}

/* Words per record (0 when no column is packed); *id_words = 1 or 2 words per id. */
static int32_t record_words(const dctr_batch *src, int32_t *id_words) {
    const dctr_schema *s = src->schema;
    int32_t nd = 0, ni = 0;
    for (int32_t i = 0; i < s->ncols; i++)
        if (is_packed(&s->cols[i]))
            *(s->cols[i].kind == DCTR_COLUMN_SPARSE ? &ni : &nd) += 1;
    *id_words = ni > 0 && !ids_fit_32(src) ? 2 : 1;
    return nd + ni == 0 ? 0 : 1 + (src->sample_weights != NULL) + nd + ni * *id_words;
}

static void fill(dctr_row_pack *p, const dctr_batch *src) {
    const size_t stride = (size_t)p->stride;
    const int32_t dense0 = 1 + p->has_weights, id0 = dense0 + p->ndense;
    for (int64_t r = 0; r < src->n; r++) {
        uint32_t *rec = p->words + (size_t)r * stride;
        memcpy(rec, &src->labels[r], 4);
        if (p->has_weights)
            memcpy(rec + 1, &src->sample_weights[r], 4);
    }
    /* column by column: each source column is read forward once */
    for (int32_t c = 0; c < p->ndense; c++) {
        const float *v = src->cols[p->dense_col[c]].dense;
        for (int64_t r = 0; r < src->n; r++)
            memcpy(p->words + (size_t)r * stride + dense0 + c, &v[r], 4);
    }
    for (int32_t c = 0; c < p->nids; c++) {
        const int64_t *ids = src->cols[p->id_col[c]].ids;
        for (int64_t r = 0; r < src->n; r++) {
            uint32_t *at = p->words + (size_t)r * stride + id0 + c * p->id_words;
            if (p->id_words == 1) {
                int32_t v = (int32_t)ids[r];
                memcpy(at, &v, 4);
            } else {
                memcpy(at, &ids[r], 8);
            }
        }
    }
}

dctr_status dctr_row_pack_build(const dctr_batch *src, size_t max_bytes, dctr_row_pack **out,
                                size_t *need) {
    *out = NULL;
    *need = 0;
    if (!src->schema || src->n <= 0)
        return DCTR_OK; /* no rows, or a batch that does not name its columns: nothing to pack */
    int32_t id_words, words = record_words(src, &id_words); /* one scan of the ids */
    size_t bytes;
    if (words == 0)
        return DCTR_OK;
    if (!dctr_mul_size((size_t)src->n, (size_t)words * 4, &bytes)) {
        *need = SIZE_MAX; /* beyond any bound */
        return DCTR_OK;
    }
    *need = bytes;
    if (bytes > max_bytes)
        return DCTR_OK;
    const dctr_schema *s = src->schema;
    dctr_row_pack *p = dctr_calloc(1, sizeof *p);
    if (!p)
        return DCTR_ERR_NOMEM;
    p->n = src->n;
    p->has_weights = src->sample_weights != NULL;
    p->stride = words;
    p->id_words = id_words;
    p->dense_col = dctr_calloc((size_t)s->ncols + 1, sizeof(int32_t));
    p->id_col = dctr_calloc((size_t)s->ncols + 1, sizeof(int32_t));
    p->packed = dctr_calloc((size_t)s->ncols + 1, 1);
    p->words = dctr_aligned_alloc(bytes);
    if (!p->dense_col || !p->id_col || !p->packed || !p->words) {
        dctr_row_pack_free(p);
        return DCTR_ERR_NOMEM;
    }
    for (int32_t i = 0; i < s->ncols; i++) {
        if (!is_packed(&s->cols[i]))
            continue;
        if (s->cols[i].kind == DCTR_COLUMN_SPARSE)
            p->id_col[p->nids++] = i;
        else
            p->dense_col[p->ndense++] = i;
        p->packed[i] = 1;
    }
    fill(p, src);
    *out = p;
    return DCTR_OK;
}

#define PACK_AHEAD 8  /* rows prefetched ahead: each is a few independent misses */
#define PACK_CHUNK 64 /* destination columns handled per pass over the rows */

/* One pass over rows [r0, r1) for packed values [v0, v1) (dense first, then ids); the first
 * pass also copies labels and weights and prefetches the records. */
static void gather_pass(const dctr_row_pack *p, int64_t base, dctr_batch *dst,
                        const int64_t *rows, int64_t r0, int64_t r1, int32_t v0, int32_t v1) {
    const size_t stride = (size_t)p->stride;
    const uint32_t *words = p->words + (size_t)base * stride;
    const int32_t dense0 = 1 + p->has_weights, first = v0 == 0;
    float *fd[PACK_CHUNK];
    int64_t *id[PACK_CHUNK];
    int32_t nf = 0, ni = 0, f_word = dense0 + v0, i_word = 0;
    for (int32_t v = v0; v < v1; v++) {
        if (v < p->ndense) {
            fd[nf++] = dst->cols[p->dense_col[v]].dense;
        } else {
            if (ni == 0)
                i_word = dense0 + p->ndense + (v - p->ndense) * p->id_words;
            id[ni++] = dst->cols[p->id_col[v - p->ndense]].ids;
        }
    }
    for (int64_t r = r0; r < r1; r++) {
        if (first && r + PACK_AHEAD < r1) {
            const char *a = (const char *)(words + (size_t)rows[r + PACK_AHEAD] * stride);
            for (size_t b = 0; b < stride * 4; b += 64)
                __builtin_prefetch(a + b, 0, 0);
            __builtin_prefetch(a + stride * 4 - 1, 0, 0);
        }
        const uint32_t *rec = words + (size_t)rows[r] * stride;
        if (first) {
            memcpy(&dst->labels[r], rec, 4);
            if (dst->sample_weights) {
                if (p->has_weights)
                    memcpy(&dst->sample_weights[r], rec + 1, 4);
                else
                    dst->sample_weights[r] = 1.0f;
            }
        }
        for (int32_t c = 0; c < nf; c++)
            memcpy(&fd[c][r], rec + f_word + c, 4);
        if (p->id_words == 1) {
            for (int32_t c = 0; c < ni; c++) {
                int32_t v;
                memcpy(&v, rec + i_word + c, 4);
                id[c][r] = v;
            }
        } else {
            for (int32_t c = 0; c < ni; c++)
                memcpy(&id[c][r], rec + i_word + 2 * c, 8);
        }
    }
}

void dctr_row_pack_gather(const dctr_row_pack *p, int64_t base, dctr_batch *dst,
                          const int64_t *rows, int64_t r0, int64_t r1) {
    const int32_t nv = p->ndense + p->nids;
    for (int32_t v0 = 0; v0 < nv; v0 += PACK_CHUNK)
        gather_pass(p, base, dst, rows, r0, r1, v0, nv - v0 < PACK_CHUNK ? nv : v0 + PACK_CHUNK);
}
