/* A step's gradients summed over the ranks (dctr_dist_sum_grads): each rank sends its loss, dense
 * gradients and touched table rows (ids, then gradients); every rank adds all ranks' blocks in
 * rank order, the table rows into cleared accumulators, so the union of touched rows and their
 * summed gradients are identical everywhere (replicated tables: every rank then applies the same
 * lazy update). Also the exact metrics over all ranks' rows. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/metrics.h"
#include "dist/dist.h"

static dctr_status grow(dctr_sparse_grad *g, int64_t rows) {
    int64_t V = g->vocab;
    int32_t dim = g->dim;
    int64_t cap = rows < V ? rows : V;
    if (cap <= g->capacity)
        return DCTR_OK;
    dctr_sparse_grad_destroy(g);
    return dctr_sparse_grad_init(g, V, dim, cap);
}

/* One row of a metric gather: label, prediction, weight. */
typedef struct metric_row {
    float y, p, w;
} metric_row;

dctr_status dctr_dist_metrics(dctr_dist *d, dctr_task task, const float *y, const float *p,
                              const float *w, int64_t n, double values[DCTR_METRIC_COUNT]) {
    if (d->c->size == 1)
        return dctr_metrics_all(task, y, p, w, n, values);
    DCTR_TRY(dctr_dist_reserve_pack(d, sizeof(metric_row) * (size_t)n + 1));
    metric_row *mine = d->pack;
    for (int64_t i = 0; i < n; i++)
        mine[i] = (metric_row){y[i], p[i], w ? w[i] : 1.0f};
    /* every rank must say whether it has weights: a weighted and an unweighted shard mix as
     * weight 1 rows, so the weights array is passed whenever any rank has one */
    int64_t any_w = w != NULL;
    DCTR_TRY(dctr_dist_allgather_i64(d, any_w, d->counts));
    for (int32_t r = 0; r < d->c->size; r++)
        any_w |= d->counts[r];
    const void *all;
    const int64_t *counts;
    DCTR_TRY(dctr_dist_gatherv(d, mine, (int64_t)(sizeof(metric_row) * (size_t)n), &all, &counts));
    int64_t total = 0;
    for (int32_t r = 0; r < d->c->size; r++)
        total += counts[r] / (int64_t)sizeof(metric_row);
    float *cols = dctr_malloc(sizeof(float) * 3 * (size_t)(total + 1));
    if (!cols)
        return DCTR_ERR_NOMEM;
    const metric_row *rows = all;
    for (int64_t i = 0; i < total; i++) {
        cols[i] = rows[i].y;
        cols[total + i] = rows[i].p;
        cols[2 * total + i] = rows[i].w;
    }
    dctr_status st = dctr_metrics_all(task, cols, cols + total, any_w ? cols + 2 * total : NULL,
                                      total, values);
    dctr_free(cols);
    return st;
}

/* One rank's block of dctr_dist_sum_grads: the loss (double), per accumulator its row count,
 * ids and gradients, then its dense part (every dense gradient, or after the reduce-scatter the
 * summed slice it owns). Parsed with memcpy (the blocks are unaligned). */
static size_t pack_size(int64_t ndense, dctr_sparse_grad *const *gs, int32_t ng) {
    size_t n = sizeof(double) + sizeof(float) * (size_t)ndense;
    for (int32_t t = 0; t < ng; t++)
        n += sizeof(int64_t) + (sizeof(int64_t) + sizeof(float) * (size_t)gs[t]->dim) * (size_t)gs[t]->count;
    return n;
}

static void pack_grads(char *p, double loss, const float *dense, int64_t ndense,
                       dctr_sparse_grad *const *gs, int32_t ng) {
    memcpy(p, &loss, sizeof loss);
    p += sizeof loss;
    for (int32_t t = 0; t < ng; t++) {
        const dctr_sparse_grad *g = gs[t];
        memcpy(p, &g->count, sizeof g->count);
        p += sizeof g->count;
        memcpy(p, g->rows, sizeof(int64_t) * (size_t)g->count);
        p += sizeof(int64_t) * (size_t)g->count;
        memcpy(p, g->grad, sizeof(float) * (size_t)g->count * (size_t)g->dim);
        p += sizeof(float) * (size_t)g->count * (size_t)g->dim;
    }
    memcpy(p, dense, sizeof(float) * (size_t)ndense);
}

/* Adds one rank's rows of accumulator g from *p (advanced past them). */
static dctr_status add_rows(dctr_sparse_grad *g, const char **p, int32_t rank) {
    int64_t n;
    memcpy(&n, *p, sizeof n);
    const char *ids = *p + sizeof n, *gr = ids + sizeof(int64_t) * (size_t)n;
    for (int64_t i = 0; i < n; i++) {
        int64_t id;
        memcpy(&id, ids + sizeof(int64_t) * (size_t)i, sizeof id);
        float *row = dctr_sparse_grad_row(g, id);
        if (!row)
            return dctr_error_prefix(DCTR_ERR_RANGE, "merging rank %d's sparse gradient", (int)rank);
        for (int32_t j = 0; j < g->dim; j++) {
            float v;
            memcpy(&v, gr + sizeof(float) * ((size_t)i * (size_t)g->dim + (size_t)j), sizeof v);
            row[j] += v;
        }
    }
    *p = gr + sizeof(float) * (size_t)n * (size_t)g->dim;
    return DCTR_OK;
}

/* Before the rank blocks (each: `head` bytes, then per accumulator [count][ids][gradients]) are
 * added: every accumulator cleared and grown to the union's size. */
static dctr_status prepare_union(dctr_sparse_grad *const *gs, int32_t ng, const char *blk,
                                 const int64_t *counts, int32_t size, size_t head) {
    int64_t *total = dctr_calloc((size_t)ng + 1, sizeof *total);
    if (!total)
        return DCTR_ERR_NOMEM;
    for (int32_t r = 0; r < size; r++) {
        const char *p = blk + head;
        for (int32_t t = 0; t < ng; t++) {
            int64_t n;
            memcpy(&n, p, sizeof n);
            total[t] += n;
            p += sizeof n + (sizeof(int64_t) + sizeof(float) * (size_t)gs[t]->dim) * (size_t)n;
        }
        blk += counts[r];
    }
    dctr_status st = DCTR_OK;
    for (int32_t t = 0; t < ng && st == DCTR_OK; t++) {
        st = grow(gs[t], total[t]);
        dctr_sparse_grad_clear(gs[t]);
    }
    dctr_free(total);
    return st;
}

/* The dense gradients go through a reduce-scatter first when it saves bytes: from 3 ranks on, a
 * gather of every rank's whole dense part costs (N - 1) 4 D bytes per rank, a reduce-scatter and
 * then the gather of the summed slices 2 (N - 1) / N 4 D. */
static int scatter_dense(const dctr_dist *d, int64_t ndense) {
    return d->c->size >= 3 && d->c->alltoallv && ndense >= 16 * (int64_t)d->c->size;
}

/* Reduce-scatter: rank r gets every rank's slice r of dense (dctr_shard_range) and sums it in
 * rank order into dense[*lo, *hi) (the other elements are left as they were). Each element is
 * added in the same order as the whole gather does, so the sums have the same bits. */
static dctr_status reduce_scatter_dense(dctr_dist *d, float *dense, int64_t ndense, int64_t *lo,
                                        int64_t *hi) {
    const int32_t n = d->c->size;
    int64_t *send_counts = dctr_calloc((size_t)n, sizeof *send_counts);
    if (!send_counts)
        return DCTR_ERR_NOMEM;
    for (int32_t q = 0; q < n; q++) {
        int64_t a, b;
        dctr_shard_range(ndense, q, n, &a, &b);
        send_counts[q] = (int64_t)sizeof(float) * (b - a); /* the slices lie in rank order */
    }
    const void *in = NULL;
    const int64_t *in_counts = NULL;
    dctr_status st = dctr_dist_alltoallv(d, dense, send_counts, &in, &in_counts);
    dctr_free(send_counts);
    DCTR_TRY(st);
    dctr_shard_range(ndense, d->c->rank, n, lo, hi);
    const char *blk = in;
    for (int32_t r = 0; r < n; r++) {
        for (int64_t i = *lo; i < *hi; i++) {
            float v;
            memcpy(&v, blk + sizeof(float) * (size_t)(i - *lo), sizeof v);
            dense[i] = r == 0 ? v : dense[i] + v;
        }
        blk += in_counts[r];
    }
    return DCTR_OK;
}

dctr_status dctr_dist_sum_grads(dctr_dist *d, double *loss, float *dense, int64_t ndense,
                                dctr_sparse_grad *const *gs, int32_t ng) {
    if (d->c->size == 1)
        return DCTR_OK;
    const int32_t size = d->c->size;
    const int rs = scatter_dense(d, ndense);
    int64_t lo = 0, hi = ndense;
    if (rs)
        DCTR_TRY(reduce_scatter_dense(d, dense, ndense, &lo, &hi));
    const size_t bytes = pack_size(hi - lo, gs, ng);
    DCTR_TRY(dctr_dist_reserve_pack(d, bytes));
    pack_grads(d->pack, *loss, dense + lo, hi - lo, gs, ng);
    const void *all;
    const int64_t *counts;
    DCTR_TRY(dctr_dist_gatherv(d, d->pack, (int64_t)bytes, &all, &counts));
    /* union sizes first (an accumulator may need to grow), then the sums in rank order */
    dctr_status st = prepare_union(gs, ng, all, counts, size, sizeof(double));
    double l = 0;
    const char *blk = all;
    for (int32_t r = 0; r < size && st == DCTR_OK; r++) {
        double lr;
        memcpy(&lr, blk, sizeof lr);
        l += lr;
        const char *p = blk + sizeof(double);
        for (int32_t t = 0; t < ng && st == DCTR_OK; t++)
            st = add_rows(gs[t], &p, r);
        int64_t a = 0, b = ndense; /* this block's dense part: all of it, or rank r's sums */
        if (rs)
            dctr_shard_range(ndense, r, size, &a, &b);
        for (int64_t i = a; i < b; i++) {
            float v;
            memcpy(&v, p + sizeof(float) * (size_t)(i - a), sizeof v);
            dense[i] = rs ? v : r == 0 ? v : dense[i] + v;
        }
        blk += counts[r];
    }
    *loss = l;
    return st;
}

/* Packs, for each destination rank in order, each accumulator's rows that rank owns:
 * [count][ids][gradients] per accumulator (the layout add_rows reads). */
static dctr_status pack_for_owners(dctr_dist *d, dctr_sparse_grad *const *gs, int32_t ng,
                                   int64_t *send_counts) {
    const int32_t n = d->c->size;
    size_t total = 0;
    for (int32_t q = 0; q < n; q++)
        send_counts[q] = 0;
    for (int32_t t = 0; t < ng; t++) {
        const size_t row = sizeof(int64_t) + sizeof(float) * (size_t)gs[t]->dim;
        for (int32_t q = 0; q < n; q++)
            send_counts[q] += (int64_t)sizeof(int64_t);
        for (int64_t i = 0; i < gs[t]->count; i++)
            send_counts[dctr_shard_owner(gs[t]->vocab, n, gs[t]->rows[i])] += (int64_t)row;
    }
    for (int32_t q = 0; q < n; q++)
        total += (size_t)send_counts[q];
    DCTR_TRY(dctr_dist_reserve_pack(d, total + 1));
    char *p = d->pack;
    for (int32_t q = 0; q < n; q++)
        for (int32_t t = 0; t < ng; t++) {
            const dctr_sparse_grad *g = gs[t];
            int64_t lo, hi, cnt = 0;
            dctr_shard_range(g->vocab, q, n, &lo, &hi);
            for (int64_t i = 0; i < g->count; i++)
                cnt += g->rows[i] >= lo && g->rows[i] < hi;
            memcpy(p, &cnt, sizeof cnt);
            char *ids = p + sizeof cnt, *gr = ids + sizeof(int64_t) * (size_t)cnt;
            for (int64_t i = 0, k = 0; i < g->count; i++) {
                if (g->rows[i] < lo || g->rows[i] >= hi)
                    continue;
                memcpy(ids + sizeof(int64_t) * (size_t)k, &g->rows[i], sizeof(int64_t));
                memcpy(gr + sizeof(float) * (size_t)k * (size_t)g->dim,
                       g->grad + (size_t)i * (size_t)g->dim, sizeof(float) * (size_t)g->dim);
                k++;
            }
            p = gr + sizeof(float) * (size_t)cnt * (size_t)g->dim;
        }
    return DCTR_OK;
}

dctr_status dctr_dist_rows_to_owners(dctr_dist *d, dctr_sparse_grad *const *gs, int32_t ng) {
    const int32_t n = d->c->size;
    int64_t *send_counts = dctr_calloc((size_t)n, sizeof *send_counts);
    if (!send_counts)
        return DCTR_ERR_NOMEM;
    dctr_status st = pack_for_owners(d, gs, ng, send_counts);
    const void *all = NULL;
    const int64_t *counts = NULL;
    if (st == DCTR_OK)
        st = dctr_dist_alltoallv(d, d->pack, send_counts, &all, &counts);
    dctr_free(send_counts);
    DCTR_TRY(st);
    /* the union sizes first (an accumulator may need to grow), then the sums in rank order */
    st = prepare_union(gs, ng, all, counts, n, 0);
    const char *blk = all;
    for (int32_t r = 0; r < n && st == DCTR_OK; r++) {
        const char *p = blk;
        for (int32_t t = 0; t < ng && st == DCTR_OK; t++)
            st = add_rows(gs[t], &p, r);
        blk += counts[r];
    }
    return st;
}
