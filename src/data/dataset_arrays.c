/* In-memory datasets from caller arrays, whole or appended in chunks (streaming ingestion). */
#include <math.h>

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
    dctr_dataset_drop_row_pack(ds); /* it no longer covers every row */
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

/* Class weights multiply each row's sample weight by the weight of its label (binary: label
 * 0 or 1; Keras's class_weight). A dataset without a weight column gets sample weights of 1
 * first. Only a dataset that alone owns its heap rows (not split, not a cache) can be changed. */
dctr_status dctr_dataset_apply_class_weights(dctr_dataset *ds, float weight0, float weight1) {
    if (!ds)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_dataset_apply_class_weights: dataset is NULL");
    if (!(weight0 >= 0.0f && weight1 >= 0.0f) || !isfinite(weight0) || !isfinite(weight1))
        return dctr_set_error(DCTR_ERR_RANGE, "dctr_dataset_apply_class_weights: weights %g, %g must be "
                              "finite and >= 0", (double)weight0, (double)weight1);
    dctr_ds_store *store = ds->store;
    dctr_batch *b = store ? store->owned : NULL;
    if (!b || store->refs != 1 || ds->rows.n != b->n)
        return dctr_set_error(DCTR_ERR_STATE, "dctr_dataset_apply_class_weights: the dataset is split, shared "
                              "or loaded from a cache; apply class weights to the whole dataset first");
    for (int64_t r = 0; r < b->n; r++)
        if (b->labels[r] != 0.0f && b->labels[r] != 1.0f)
            return dctr_set_error(DCTR_ERR_RANGE, "dctr_dataset_apply_class_weights: row %lld: label %g is "
                                  "not 0 or 1", (long long)r, (double)b->labels[r]);
    if (!b->sample_weights) {
        b->sample_weights = dctr_alloc_floats((size_t)(b->capacity > 0 ? b->capacity : 1));
        if (!b->sample_weights)
            return DCTR_ERR_NOMEM;
        for (int64_t r = 0; r < b->capacity; r++)
            b->sample_weights[r] = 1.0f;
    }
    for (int64_t r = 0; r < b->n; r++)
        b->sample_weights[r] *= b->labels[r] == 1.0f ? weight1 : weight0;
    dctr_batch_view(b, 0, b->n, &ds->rows);
    dctr_dataset_drop_row_pack(ds); /* its weights are the old ones */
    return DCTR_OK;
}
