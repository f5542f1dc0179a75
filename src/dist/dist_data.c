/* Shards of an in-memory dataset (rows striped by rank) and the public agreement call. */
#include "core/alloc.h"
#include "core/error.h"
#include "data/dataset.h"
#include "dist/dist.h"

dctr_status dctr_dataset_stripe(const dctr_dataset *ds, int32_t part, int32_t parts,
                                dctr_dataset **out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_dataset_stripe: out is NULL");
    *out = NULL;
    if (!ds || parts < 1 || part < 0 || part >= parts)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_dataset_stripe: need a dataset and 0 <= part (%d) < parts (%d)",
                              (int)part, (int)parts);
    const dctr_batch *src = &ds->rows;
    int64_t n = src->n > part ? (src->n - part + parts - 1) / parts : 0;
    int64_t *rows = dctr_calloc((size_t)n + 1, sizeof *rows);
    dctr_ds_store *store = dctr_calloc(1, sizeof *store);
    dctr_status st = rows && store ? DCTR_OK : DCTR_ERR_NOMEM;
    if (store)
        store->fd = -1;
    for (int64_t i = 0; i < n && rows; i++)
        rows[i] = part + i * parts;
    if (st == DCTR_OK)
        st = dctr_batch_alloc(ds->schema, n > 0 ? n : 1, src->sample_weights != NULL, &store->owned);
    if (st == DCTR_OK)
        st = dctr_batch_gather(store->owned, src, rows, n);
    if (st == DCTR_OK)
        st = dctr_dataset_wrap(ds->schema, store, store->owned, 0, n, out);
    if (store) {
        store->refs++; /* the wrap holds its own reference */
        dctr_ds_store_release(store);
    }
    dctr_free(rows);
    return st;
}

dctr_status dctr_collective_agree(dctr_collective *coll, dctr_status mine, const char *what) {
    dctr_dist d;
    DCTR_TRY(dctr_dist_init(&d, coll));
    dctr_status st = dctr_dist_agree(&d, mine, what ? what : "agreement");
    dctr_dist_release(&d);
    return st;
}
