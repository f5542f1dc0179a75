/* Negative down-sampling of an in-memory dataset (seeded; positives always kept). */
#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "deepctr/quality.h"

#define DOWNSAMPLE_STREAM 0x6e656773ull /* "negs": keeps the stream apart from shuffling */

dctr_status dctr_dataset_downsample_negatives(const dctr_dataset *ds, double rate, uint64_t seed,
                                              dctr_dataset **out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_dataset_downsample_negatives: out is NULL");
    *out = NULL;
    if (!ds)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_dataset_downsample_negatives: NULL dataset");
    if (!(rate > 0.0 && rate <= 1.0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "negative rate %g not in (0, 1]", rate);
    const dctr_batch *src = &ds->rows;
    int64_t *keep = dctr_calloc((size_t)(src->n > 0 ? src->n : 1), sizeof(int64_t));
    if (!keep)
        return DCTR_ERR_NOMEM;
    dctr_rng rng;
    dctr_rng_init(&rng, seed, DOWNSAMPLE_STREAM);
    int64_t k = 0;
    for (int64_t i = 0; i < src->n; i++) {
        double u = dctr_rng_uniform(&rng); /* drawn for every row: the choice of row i never
                                              depends on the labels of earlier rows */
        if (src->labels[i] > 0.5f || u < rate)
            keep[k++] = i;
    }
    dctr_ds_store *store = dctr_calloc(1, sizeof *store);
    dctr_status st = store ? DCTR_OK : DCTR_ERR_NOMEM;
    if (store)
        store->fd = -1;
    if (st == DCTR_OK)
        st = dctr_batch_alloc(ds->schema, k > 0 ? k : 1, src->sample_weights != NULL, &store->owned);
    if (st == DCTR_OK)
        st = dctr_batch_gather(store->owned, src, keep, k);
    if (st == DCTR_OK)
        st = dctr_dataset_wrap(ds->schema, store, store->owned, 0, k, out);
    if (store && store->refs == 0) { /* not taken by a dataset: free it here */
        store->refs = 1;
        dctr_ds_store_release(store);
    }
    dctr_free(keep);
    return st;
}
