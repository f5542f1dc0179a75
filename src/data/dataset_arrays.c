/* In-memory datasets from caller arrays, whole or appended in chunks (streaming ingestion). */
#include "core/alloc.h"
#include "core/error.h"
#include "data/arrays.h"
#include "data/dataset.h"

dctr_status dctr_dataset_new_empty(const dctr_schema *schema, dctr_dataset **out) {
    if (out)
        *out = NULL;
    DCTR_TRY(dctr_reader_check_args("dctr_dataset_new_empty", out != NULL, schema, "(arrays)"));
    dctr_ds_store *store = dctr_calloc(1, sizeof *store);
    if (!store)
        return DCTR_ERR_NOMEM;
    store->fd = -1;
    dctr_status st = dctr_batch_new(schema, 1024, &store->owned);
    if (st == DCTR_OK)
        st = dctr_dataset_wrap(schema, store, store->owned, 0, 0, out);
    store->refs++; /* balance the release below whether wrap took a reference or not */
    dctr_ds_store_release(store);
    return st;
}

dctr_status dctr_dataset_append_arrays(dctr_dataset *ds, const dctr_arrays *arrays) {
    if (!ds)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_dataset_append_arrays: dataset is NULL");
    DCTR_TRY(dctr_arrays_check(ds->schema, arrays, "dctr_dataset_append_arrays"));
    dctr_ds_store *store = ds->store;
    dctr_batch *b = store ? store->owned : NULL;
    /* only a dataset that alone views all of its own heap rows may grow */
    if (!b || store->refs != 1 || ds->rows.n != b->n)
        return dctr_set_error(DCTR_ERR_STATE, "dctr_dataset_append_arrays: the dataset is split, shared or "
                              "loaded from a cache; append before splitting");
    const int64_t n = b->n, k = arrays->num_rows;
    if (n + k > b->capacity) {
        int64_t cap = b->capacity;
        while (cap < n + k)
            cap *= 2;
        DCTR_TRY(dctr_batch_reserve(b, cap));
    }
    dctr_status st = dctr_arrays_encode(ds->schema, arrays, 0, k, b, n);
    if (st != DCTR_OK)
        return st; /* b->n unchanged: the partial rows are not part of the dataset */
    b->n = n + k;
    dctr_batch_view(b, 0, b->n, &ds->rows);
    return DCTR_OK;
}

dctr_status dctr_dataset_from_arrays(const dctr_schema *schema, const dctr_arrays *arrays,
                                     dctr_dataset **out) {
    if (out)
        *out = NULL;
    DCTR_TRY(dctr_reader_check_args("dctr_dataset_from_arrays", out != NULL, schema, "(arrays)"));
    DCTR_TRY(dctr_arrays_check(schema, arrays, "dctr_dataset_from_arrays"));
    dctr_dataset *ds = NULL;
    DCTR_TRY(dctr_dataset_new_empty(schema, &ds));
    dctr_status st = dctr_dataset_append_arrays(ds, arrays);
    if (st != DCTR_OK) {
        dctr_dataset_free(ds);
        return st;
    }
    *out = ds;
    return DCTR_OK;
}
