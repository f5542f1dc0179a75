/* Per-thread copies of a small FFM model and their merge (replicas.h says why and what). */
#include "models/ffm/replicas.h"

#include <string.h>

#include "core/alloc.h"

#define MERGED_MANY 255 /* replicas.h: merged[j] when several copies changed row j */
/* Feature rows per claimed chunk of the merge: the changed rows bunch up in parts of the id
 * range (a field's values are numbered together), so a fixed split would leave a thread idle. */
#define MERGE_GRAIN 256

int dctr_ffm_replicas_wanted(const dctr_ffm_weights *w, int threads) {
    const size_t bytes = dctr_ffm_weights_floats(w) * sizeof(float);
    return threads > 1 && threads < MERGED_MANY && bytes <= DCTR_FFM_REPLICA_MAX_BYTES &&
           bytes * (size_t)threads <= DCTR_FFM_REPLICAS_MAX_TOTAL;
}

dctr_status dctr_ffm_replicas_new(const dctr_ffm_weights *w, int threads, dctr_ffm_replicas *r) {
    memset(r, 0, sizeof *r);
    r->threads = threads;
    r->n = w->n;
    r->copy = dctr_calloc((size_t)threads, sizeof *r->copy);
    r->dirty = dctr_calloc((size_t)threads * (size_t)w->n, 1);
    r->merged = dctr_calloc((size_t)w->n, 1);
    dctr_status s = r->copy && r->dirty && r->merged ? DCTR_OK : DCTR_ERR_NOMEM;
    for (int t = 0; t < threads && s == DCTR_OK; t++)
        s = dctr_ffm_weights_alloc(&r->copy[t], w->m, w->n, w->k, w->use_linear);
    if (s != DCTR_OK)
        dctr_ffm_replicas_free(r);
    return s;
}

void dctr_ffm_replicas_free(dctr_ffm_replicas *r) {
    for (int t = 0; r->copy && t < r->threads; t++)
        dctr_ffm_weights_free(&r->copy[t]);
    dctr_free(r->copy);
    dctr_free(r->dirty);
    dctr_free(r->merged);
    memset(r, 0, sizeof *r);
}

void dctr_ffm_replicas_load(dctr_ffm_replicas *r, const dctr_ffm_weights *w) {
    for (int t = 0; t < r->threads; t++)
        dctr_ffm_weights_copy(&r->copy[t], w);
}

/* base := the first changer's values + the other changers' changes (copy - base), in thread
 * order: the old value plus every copy's change, without rounding the first change through a
 * difference. by lists the changers (n >= 1). Two changers (the common case) get a loop the
 * compiler vectorises. */
static void merge_floats(float *restrict base, float *const *copies, const int *by, int n, size_t len) {
    const float *first = copies[by[0]];
    if (n == 1) {
        memcpy(base, first, len * sizeof *base);
    } else if (n == 2) {
        const float *restrict second = copies[by[1]];
        for (size_t x = 0; x < len; x++)
            base[x] = first[x] + (second[x] - base[x]);
    } else {
        for (size_t x = 0; x < len; x++) {
            float acc = first[x];
            for (int i = 1; i < n; i++)
                acc += copies[by[i]][x] - base[x];
            base[x] = acc;
        }
    }
}

typedef struct {
    dctr_ffm_replicas *r;
    dctr_ffm_weights *w;
} merge_ctx;

/* Features [begin, end): into w. */
static void merge_into_base(void *p, int worker, int64_t begin, int64_t end) {
    (void)worker;
    merge_ctx *c = p;
    dctr_ffm_replicas *r = c->r;
    dctr_ffm_weights *w = c->w;
    float *rows[DCTR_MAX_THREADS], *lins[DCTR_MAX_THREADS];
    int by[DCTR_MAX_THREADS];
    for (int64_t j = begin; j < end; j++) {
        int n = 0;
        for (int t = 0; t < r->threads; t++) {
            uint8_t *d = &r->dirty[(size_t)t * (size_t)r->n + (size_t)j];
            if (*d) {
                by[n++] = t;
                *d = 0;
            }
        }
        r->merged[j] = n == 0 ? 0 : n == 1 ? (uint8_t)(1 + by[0]) : MERGED_MANY;
        if (n == 0)
            continue;
        for (int i = 0; i < n; i++) {
            rows[by[i]] = r->copy[by[i]].W + (size_t)j * w->row;
            lins[by[i]] = w->use_linear ? r->copy[by[i]].lin + 2 * (size_t)j : NULL;
        }
        merge_floats(w->W + (size_t)j * w->row, rows, by, n, w->row);
        if (w->use_linear)
            merge_floats(w->lin + 2 * (size_t)j, lins, by, n, 2);
    }
}

/* Items [begin, end): copy t := w on every merged row (but those only copy t changed, already
 * equal). The job has one item per thread, so each copy is refreshed by its own thread. */
static void refresh_copies(void *p, int worker, int64_t begin, int64_t end) {
    (void)worker;
    merge_ctx *c = p;
    const dctr_ffm_replicas *r = c->r;
    const dctr_ffm_weights *w = c->w;
    for (int64_t t = begin; t < end; t++) {
        dctr_ffm_weights *own = &r->copy[t];
        const uint8_t self = (uint8_t)(1 + t);
        for (int64_t j = 0; j < r->n; j++) {
            if (!r->merged[j] || r->merged[j] == self)
                continue;
            memcpy(own->W + (size_t)j * w->row, w->W + (size_t)j * w->row, w->row * sizeof(float));
            if (w->use_linear)
                memcpy(own->lin + 2 * (size_t)j, w->lin + 2 * (size_t)j, 2 * sizeof(float));
        }
        own->bias = w->bias;
        own->bias_g = w->bias_g;
    }
}

/* The bias (every row changes it): copy 0's + the other copies' changes, in thread order. */
static void merge_bias(dctr_ffm_replicas *r, dctr_ffm_weights *w) {
    float b = r->copy[0].bias, g = r->copy[0].bias_g;
    for (int t = 1; t < r->threads; t++) {
        b += r->copy[t].bias - w->bias;
        g += r->copy[t].bias_g - w->bias_g;
    }
    w->bias = b;
    w->bias_g = g;
}

void dctr_ffm_replicas_merge(dctr_ffm_replicas *r, dctr_ffm_weights *w, dctr_pool *pool) {
    merge_ctx c = {r, w};
    dctr_pool_run_claimed(pool, r->n, MERGE_GRAIN, merge_into_base, &c);
    if (w->use_linear)
        merge_bias(r, w);
    dctr_pool_run(pool, r->threads, refresh_copies, &c);
}
