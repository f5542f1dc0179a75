/* FFM / DeepFFM with sharded feature rows (DCTR_TABLES_SHARDED): a shard (dctr_model_new_collective,
 * dctr_model_load_collective, or after a sharded fit) holds its own rows in a lazily committed
 * arena (dctr_ffm_weights_alloc_shard); before a step a rank asks the owners for the feature
 * rows its batch uses and gets their weights (m k floats, padded to kp, and the linear weight;
 * not the AdaGrad accumulators, which only owners use); after the update the rows it does not
 * own are released (madvise: their pages go back to the system). The gradient return is dist.c's
 * (dctr_dist_rows_to_owners), the streamed model file shard_io.c's. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "dist/shard_stream.h"
#include "models/ffm/dist.h"

/* Releases the whole pages, outside the owned rows [lo, hi), of the rows ids[0..cnt) (sorted)
 * of a table of n rows of rowf floats at base; touching pages merged into one madvise. */
static void release_rows(float *base, size_t rowf, const int64_t *ids, int64_t cnt, int64_t lo,
                         int64_t hi, int64_t n) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), b = (uintptr_t)base;
    const uintptr_t rb = rowf * sizeof(float);
    /* the non-owned rows' whole pages: [a0, a1) before the owned range, [b0, b1) after it */
    const uintptr_t a0 = (b + page - 1) / page * page, a1 = (b + (uintptr_t)lo * rb) / page * page;
    const uintptr_t b0 = (b + (uintptr_t)hi * rb + page - 1) / page * page,
                    b1 = (b + (uintptr_t)n * rb) / page * page;
    uintptr_t from = 0, to = 0; /* the run being merged */
    for (int64_t i = 0; i <= cnt; i++) {
        uintptr_t f = 0, t = 0;
        if (i < cnt) {
            f = (b + (uintptr_t)ids[i] * rb) / page * page;
            t = (b + (uintptr_t)(ids[i] + 1) * rb + page - 1) / page * page;
            uintptr_t lo_b = ids[i] < lo ? a0 : b0, hi_b = ids[i] < lo ? a1 : b1;
            f = f > lo_b ? f : lo_b;
            t = t < hi_b ? t : hi_b;
            if (t <= f)
                continue;
            if (to > from && f <= to) { /* touches the run */
                to = t > to ? t : to;
                continue;
            }
        }
        if (to > from) /* anonymous private memory: the pages read back as zeros */
            (void)madvise((void *)from, to - from, MADV_DONTNEED);
        from = f;
        to = t;
    }
}

void dctr_ffm_shard_release(dctr_model *model, int with_slots) {
    dctr_ffm_impl *impl = model->impl;
    const dctr_collective *c = model->dist->c;
    dctr_ffm_weights *w = &impl->w;
    dctr_ffm_dist_ws *ws = impl->dws;
    int64_t lo, hi;
    dctr_shard_range(w->n, c->rank, c->size, &lo, &hi);
    if (!with_slots && ws) { /* between steps only the fetched rows hold anything */
        release_rows(w->W, w->row, ws->fetched, ws->nfetched, lo, hi, w->n);
        if (w->use_linear)
            release_rows(w->lin, 2, ws->fetched, ws->nfetched, lo, hi, w->n);
        ws->nfetched = 0;
        return;
    }
    dctr_shard_release(w->W, 0, lo, (int32_t)w->row);
    dctr_shard_release(w->W, hi, w->n, (int32_t)w->row);
    if (w->use_linear) {
        dctr_shard_release(w->lin, 0, lo, 2);
        dctr_shard_release(w->lin, hi, w->n, 2);
    }
    if (ws)
        ws->nfetched = 0;
}

/* The distinct feature rows of b this rank does not own, sorted (so grouped by owner). */
static dctr_status wanted_rows(dctr_ffm_impl *impl, const dctr_batch *b, int64_t lo, int64_t hi,
                               int64_t **ids, int64_t *n) {
    const int64_t rows = b ? b->n : 0;
    int64_t *v = dctr_malloc(sizeof(int64_t) * (size_t)(rows * impl->max_nodes + 1)), m = 0;
    if (!v)
        return DCTR_ERR_NOMEM;
    for (int64_t i = 0; i < rows; i++) {
        int32_t cnt = dctr_ffm_row_nodes(impl, b, i, impl->scratch);
        for (int32_t j = 0; j < cnt; j++) {
            int64_t id = impl->scratch[j].index;
            if (id >= 0 && id < impl->w.n && (id < lo || id >= hi))
                v[m++] = id;
        }
    }
    *ids = v;
    *n = dctr_shard_sort_unique(v, m);
    return DCTR_OK;
}

/* [a, z) = the part of sorted ids[0..n) rank q owns. */
static void slice(int64_t V, int32_t q, int32_t size, const int64_t *ids, int64_t n, int64_t *a,
                  int64_t *z) {
    int64_t lo, hi, i = 0;
    dctr_shard_range(V, q, size, &lo, &hi);
    while (i < n && ids[i] < lo)
        i++;
    *a = i;
    while (i < n && ids[i] < hi)
        i++;
    *z = i;
}

static int32_t row_floats(const dctr_ffm_weights *w) {
    return w->m * w->kp + (w->use_linear ? 1 : 0);
}

/* Row id's weights to buf (to_arena 0) or from buf into the table. */
static void copy_row(dctr_ffm_weights *w, int64_t id, float *buf, int to_arena) {
    float *row = w->W + (size_t)id * w->row;
    for (int32_t f = 0; f < w->m; f++, buf += w->kp) {
        float *blk = row + (size_t)f * w->blk;
        memcpy(to_arena ? blk : buf, to_arena ? buf : blk, sizeof(float) * (size_t)w->kp);
    }
    if (w->use_linear) {
        float *lw = &w->lin[2 * (size_t)id];
        memcpy(to_arena ? lw : buf, to_arena ? buf : lw, sizeof(float));
    }
}

/* Replies: to each requesting rank the rows it asked for ([count][ids] from each), in its order. */
static dctr_status send_rows(dctr_dist *dist, dctr_ffm_weights *w, const char *in, int64_t *counts,
                             const void **rows, const int64_t **row_counts) {
    const int32_t size = dist->c->size;
    const int32_t rf = row_floats(w);
    size_t total = 0;
    const char *p = in;
    for (int32_t q = 0; q < size; q++) {
        int64_t c;
        memcpy(&c, p, sizeof c);
        counts[q] = (int64_t)sizeof(float) * c * rf;
        total += (size_t)counts[q];
        p += sizeof c + sizeof(int64_t) * (size_t)c;
    }
    DCTR_TRY(dctr_dist_reserve_pack(dist, total + 1));
    float *out = dist->pack;
    p = in;
    for (int32_t q = 0; q < size; q++) {
        int64_t c;
        memcpy(&c, p, sizeof c);
        for (int64_t i = 0; i < c; i++, out += rf) {
            int64_t id;
            memcpy(&id, p + sizeof c + sizeof(int64_t) * (size_t)i, sizeof id);
            copy_row(w, id, out, 0);
        }
        p += sizeof c + sizeof(int64_t) * (size_t)c;
    }
    return dctr_dist_alltoallv(dist, dist->pack, counts, rows, row_counts);
}

/* Requests: to each rank q, [count][ids] of the wanted rows q owns. */
static dctr_status send_requests(dctr_dist *dist, int64_t V, const int64_t *ids, int64_t n,
                                 int64_t *counts, const void **in, const int64_t **in_counts) {
    const int32_t size = dist->c->size;
    size_t total = 0;
    for (int32_t q = 0; q < size; q++) {
        int64_t a, z;
        slice(V, q, size, ids, n, &a, &z);
        counts[q] = (int64_t)sizeof(int64_t) * (1 + z - a);
        total += (size_t)counts[q];
    }
    DCTR_TRY(dctr_dist_reserve_pack(dist, total + 1));
    char *p = dist->pack;
    for (int32_t q = 0; q < size; q++) {
        int64_t a, z;
        slice(V, q, size, ids, n, &a, &z);
        int64_t c = z - a;
        memcpy(p, &c, sizeof c);
        memcpy(p + sizeof c, ids + a, sizeof(int64_t) * (size_t)c);
        p += sizeof c + sizeof(int64_t) * (size_t)c;
    }
    return dctr_dist_alltoallv(dist, dist->pack, counts, in, in_counts);
}

dctr_status dctr_ffm_shard_fetch(dctr_model *model, const dctr_batch *b) {
    dctr_ffm_impl *impl = model->impl;
    dctr_dist *dist = model->dist;
    dctr_ffm_weights *w = &impl->w;
    const int32_t size = dist->c->size;
    dctr_ffm_dist_ws *ws = dctr_ffm_dist_ws_get(impl);
    if (!ws)
        return DCTR_ERR_NOMEM;
    /* the last step's rows go back first (all rows not owned at the first fetch of a fit) */
    dctr_ffm_shard_release(model, !dist->slots_released);
    dist->slots_released = 1;
    int64_t lo, hi, *ids = NULL, n = 0;
    dctr_shard_range(w->n, dist->c->rank, size, &lo, &hi);
    int64_t *counts = dctr_calloc((size_t)size, sizeof *counts);
    dctr_status st = counts ? wanted_rows(impl, b, lo, hi, &ids, &n) : DCTR_ERR_NOMEM;
    const void *in = NULL, *rows = NULL;
    const int64_t *in_counts = NULL, *row_counts = NULL;
    if (st == DCTR_OK)
        st = send_requests(dist, w->n, ids, n, counts, &in, &in_counts);
    if (st == DCTR_OK)
        st = send_rows(dist, w, in, counts, &rows, &row_counts);
    const float *r = rows;
    for (int64_t i = 0; st == DCTR_OK && i < n; i++, r += row_floats(w)) /* owner order = id order */
        copy_row(w, ids[i], (float *)r, 1);
    dctr_free(ws->fetched); /* released after the step (or the validation predict) */
    ws->fetched = ids;
    ws->nfetched = st == DCTR_OK ? n : 0;
    dctr_free(counts);
    if (st == DCTR_OK) /* the peak: the owned rows plus the fetched ones */
        dctr_ffm_shard_note(model, 0);
    return st;
}

void dctr_ffm_shard_note(const dctr_model *model, int64_t in_flight) {
    if (!dctr_shard_probe_on())
        return;
    const dctr_ffm_weights *w = &((const dctr_ffm_impl *)model->impl)->w;
    int64_t bytes = dctr_shard_resident(w->W, 0, w->n, (int32_t)w->row);
    if (w->use_linear)
        bytes += dctr_shard_resident(w->lin, 0, w->n, 2);
    dctr_shard_probe_note(bytes + in_flight);
}

dctr_status dctr_ffm_shard_whole(const dctr_model *model, const char *what) {
    if (model->shard_size <= 1 || model->dist)
        return DCTR_OK;
    return dctr_set_error(DCTR_ERR_STATE,
                          "%s: this FFM model holds rank %d of %d's rows of sharded tables (the "
                          "other rows are not here); it trains only under its collective "
                          "(dctr_model_fit_collective): save it with dctr_model_save_collective on "
                          "every rank and load that file to predict", what,
                          (int)model->shard_rank, (int)model->shard_size);
}

/* Every row (weights, accumulators, linear part) to every rank: the test reference below. */
static dctr_status shard_gather(dctr_model *model) {
    dctr_ffm_impl *impl = model->impl;
    dctr_dist *dist = model->dist;
    dctr_ffm_weights *w = &impl->w;
    const int32_t size = dist->c->size, me = dist->c->rank;
    int64_t lo, hi;
    dctr_shard_range(w->n, me, size, &lo, &hi);
    const size_t nw = w->row * (size_t)(hi - lo), nl = w->use_linear ? 2 * (size_t)(hi - lo) : 0;
    const size_t bytes = sizeof(float) * (nw + nl); /* weights + accumulators */
    dctr_status st = dctr_dist_reserve_pack(dist, bytes + 1);
    if (st == DCTR_OK) {
        float *p = dist->pack;
        memcpy(p, w->W + (size_t)lo * w->row, sizeof(float) * nw);
        if (nl)
            memcpy(p + nw, w->lin + 2 * (size_t)lo, sizeof(float) * nl);
    }
    const void *in = NULL;
    const int64_t *in_counts = NULL;
    if (st == DCTR_OK) /* every rank's rows to every rank */
        st = dctr_dist_gatherv(dist, dist->pack, (int64_t)bytes, &in, &in_counts);
    const char *p = in;
    for (int32_t q = 0; q < size && st == DCTR_OK; q++) {
        int64_t qlo, qhi;
        dctr_shard_range(w->n, q, size, &qlo, &qhi);
        const float *src = (const float *)(const void *)p;
        if (q != me) {
            memcpy(w->W + (size_t)qlo * w->row, src, sizeof(float) * w->row * (size_t)(qhi - qlo));
            if (w->use_linear)
                memcpy(w->lin + 2 * (size_t)qlo, src + w->row * (size_t)(qhi - qlo),
                       sizeof(float) * 2 * (size_t)(qhi - qlo));
        }
        p += in_counts[q];
    }
    return st;
}

dctr_status dctr_ffm_shard_gather_save(dctr_model *model, dctr_collective *coll, const char *path,
                                       int with_optimizer) {
    return dctr_shard_gather_save(model, coll, shard_gather, dctr_ffm_shard_release, path,
                                  with_optimizer);
}
