/* The encoder fit over all ranks (dctr_schema_fit_csv_collective): after its own counting pass,
 * each rank receives every other rank's vocabulary counts and dense statistics and adds them to
 * its own, so every rank builds the same vocabularies (ids by sorted key, min_count on the summed
 * counts) and the same transform statistics as a single-process fit on the union. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/fit_internal.h"
#include "dist/dist.h"
#include "feature/vocab.h"

/* Serialised count entries: u32 key length, i64 count, key bytes. */
static dctr_status pack_counts(dctr_dist *d, const dctr_vocab *v, int64_t *bytes) {
    size_t need = 0;
    for (const dctr_vocab_slot *sl = NULL; (sl = dctr_vocab_next(v, sl)) != NULL;)
        need += sizeof(uint32_t) + sizeof(int64_t) + sl->len;
    DCTR_TRY(dctr_dist_reserve_pack(d, need + 1));
    char *p = d->pack;
    for (const dctr_vocab_slot *sl = NULL; (sl = dctr_vocab_next(v, sl)) != NULL;) {
        uint32_t len = sl->len;
        int64_t c = sl->value;
        memcpy(p, &len, sizeof len);
        memcpy(p + sizeof len, &c, sizeof c);
        memcpy(p + sizeof len + sizeof c, dctr_vocab_key(v, sl), len);
        p += sizeof len + sizeof c + len;
    }
    *bytes = (int64_t)need;
    return DCTR_OK;
}

static dctr_status add_counts(dctr_vocab *v, const char *p, int64_t bytes) {
    const char *end = p + bytes;
    while (p < end) {
        uint32_t len;
        int64_t c;
        memcpy(&len, p, sizeof len);
        memcpy(&c, p + sizeof len, sizeof c);
        const char *key = p + sizeof len + sizeof c;
        dctr_vocab_slot *sl;
        DCTR_TRY(dctr_vocab_upsert(v, key, len, dctr_fingerprint64(key, len), &sl));
        sl->value += c;
        p = key + len;
    }
    return DCTR_OK;
}

static dctr_status merge_counts(dctr_dist *d, dctr_vocab *v) {
    int64_t bytes;
    DCTR_TRY(pack_counts(d, v, &bytes));
    const void *all;
    const int64_t *counts;
    DCTR_TRY(dctr_dist_gatherv(d, d->pack, bytes, &all, &counts));
    const char *blk = all;
    for (int32_t r = 0; r < d->c->size; r++) {
        if (r != d->c->rank)
            DCTR_TRY(add_counts(v, blk, counts[r]));
        blk += counts[r];
    }
    return DCTR_OK;
}

/* Dense statistics of every column, gathered as 5 doubles per column and merged in rank order. */
static dctr_status merge_stats(dctr_dist *d, const dctr_schema *s, dctr_dense_stats *stats) {
    const int32_t nc = s->ncols, size = d->c->size;
    double *mine = dctr_calloc((size_t)nc * 5 * ((size_t)size + 1), sizeof(double));
    if (!mine)
        return DCTR_ERR_NOMEM;
    double *all = mine + (size_t)nc * 5;
    for (int32_t i = 0; i < nc; i++) {
        const dctr_dense_stats *st = &stats[i];
        double *m = mine + (size_t)i * 5;
        m[0] = st->min, m[1] = st->max, m[2] = st->sum, m[3] = st->sumsq, m[4] = (double)st->n;
    }
    dctr_status rc = d->c->allgather(d->c->ctx, mine, (int64_t)sizeof(double) * nc * 5, all) == 0
                         ? DCTR_OK
                         : dctr_set_error(DCTR_ERR_IO, "collective allgather failed");
    for (int32_t i = 0; i < nc && rc == DCTR_OK; i++) {
        dctr_dense_stats m = {0, 0, 0, 0, 0};
        for (int32_t r = 0; r < size; r++) {
            const double *x = all + ((size_t)r * (size_t)nc + (size_t)i) * 5;
            if (x[4] <= 0)
                continue;
            if (m.n == 0 || x[0] < m.min)
                m.min = x[0];
            if (m.n == 0 || x[1] > m.max)
                m.max = x[1];
            m.sum += x[2];
            m.sumsq += x[3];
            m.n += (int64_t)x[4];
        }
        stats[i] = m;
    }
    dctr_free(mine);
    return rc;
}

dctr_status dctr_fit_merge_ranks(struct dctr_collective *coll, dctr_status mine, const dctr_schema *s,
                                 dctr_vocab **counts, const int32_t *owner, dctr_dense_stats *stats,
                                 int64_t *rows) {
    dctr_dist d;
    DCTR_TRY(dctr_dist_init(&d, coll));
    dctr_status st = dctr_dist_agree(&d, mine, "encoder fit");
    if (st == DCTR_OK) {
        int64_t total = 0;
        st = dctr_dist_allgather_i64(&d, *rows, d.counts);
        for (int32_t r = 0; r < coll->size && st == DCTR_OK; r++)
            total += d.counts[r];
        *rows = total;
    }
    if (st == DCTR_OK)
        st = merge_stats(&d, s, stats);
    for (int32_t i = 0; i < s->ncols && st == DCTR_OK; i++)
        if (dctr_column_fits_vocab(&s->cols[i]) && owner[i] == i)
            st = merge_counts(&d, counts[i]);
    dctr_dist_release(&d);
    return st;
}
