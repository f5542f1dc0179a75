/* Whole-file CSV reads into a dataset, dataset accessors and the Keras-style tail split. */
#include "data/dataset.h"

#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/csv_input.h"
#include "data/row_pack.h"

void dctr_ds_store_release(dctr_ds_store *st) {
    if (!st || --st->refs > 0)
        return;
    dctr_batch_free(st->owned);
    dctr_row_pack_free(st->pack);
    if (st->map)
        munmap(st->map, st->map_len);
    if (st->fd >= 0)
        close(st->fd);
    dctr_free(st);
}

dctr_status dctr_dataset_wrap(const dctr_schema *schema, dctr_ds_store *store,
                              const dctr_batch *src, int64_t start, int64_t count,
                              dctr_dataset **out) {
    *out = NULL;
    dctr_dataset *ds = dctr_calloc(1, sizeof *ds);
    if (!ds)
        return DCTR_ERR_NOMEM;
    if (dctr_batch_view_init(&ds->rows, schema) != DCTR_OK) {
        dctr_free(ds);
        return DCTR_ERR_NOMEM;
    }
    dctr_batch_view(src, start, count, &ds->rows);
    ds->start = start; /* callers whose src is itself a view add its start */
    ds->schema = schema;
    ds->store = store;
    store->refs++;
    *out = ds;
    return DCTR_OK;
}

void dctr_dataset_free(dctr_dataset *ds) {
    if (!ds)
        return;
    dctr_batch_view_release(&ds->rows);
    dctr_ds_store_release(ds->store);
    dctr_free(ds);
}

int64_t dctr_dataset_num_rows(const dctr_dataset *ds) { return ds ? ds->rows.n : 0; }

const float *dctr_dataset_labels(const dctr_dataset *ds) { return ds ? ds->rows.labels : NULL; }

const dctr_batch *dctr_dataset_rows(const dctr_dataset *ds) { return ds ? &ds->rows : NULL; }

const struct dctr_row_pack *dctr_dataset_row_pack(const dctr_dataset *ds, int64_t *base) {
    const dctr_ds_store *st = ds->store;
    *base = 0;
    if (!st || !st->pack || ds->start < st->pack_first ||
        ds->start + ds->rows.n > st->pack_first + dctr_row_pack_rows(st->pack))
        return NULL;
    *base = ds->start - st->pack_first;
    return st->pack;
}

void dctr_dataset_drop_row_pack(dctr_dataset *ds) {
    dctr_row_pack_free(ds->store->pack);
    ds->store->pack = NULL;
}

dctr_status dctr_dataset_pack_rows(dctr_dataset *ds, size_t max_bytes) {
    if (!ds)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_dataset_pack_rows: NULL dataset");
    int64_t base;
    if (ds->rows.n == 0 || dctr_dataset_row_pack(ds, &base))
        return DCTR_OK; /* nothing to pack, or packed already */
    dctr_row_pack *p;
    size_t need;
    dctr_status st = dctr_row_pack_build(&ds->rows, max_bytes > 0 ? max_bytes : SIZE_MAX, &p, &need);
    if (st != DCTR_OK)
        return dctr_set_error(DCTR_ERR_NOMEM, "dctr_dataset_pack_rows: no memory for a row-major "
                              "copy of %lld rows (%zu bytes)", (long long)ds->rows.n, need);
    if (!p && need > 0)
        return dctr_set_error(DCTR_ERR_LIMIT, "dctr_dataset_pack_rows: %lld rows need %zu bytes, "
                              "over the bound of %zu", (long long)ds->rows.n, need, max_bytes);
    if (!p)
        return DCTR_OK; /* no one-value column */
    dctr_row_pack_free(ds->store->pack); /* it held other rows of the store */
    ds->store->pack = p;
    ds->store->pack_first = ds->start;
    return DCTR_OK;
}

dctr_status dctr_dataset_split_tail(const dctr_dataset *ds, double fraction, dctr_dataset **head,
                                    dctr_dataset **tail) {
    if (!ds || !head || !tail)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_dataset_split_tail: NULL argument");
    *head = *tail = NULL;
    if (!(fraction >= 0.0 && fraction < 1.0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_dataset_split_tail: fraction %g outside [0, 1)", fraction);
    int64_t n = ds->rows.n;
    /* Keras: split_at = int(n * (1 - validation_split)) */
    int64_t split = (int64_t)((double)n * (1.0 - fraction));
    if (split > n)
        split = n;
    DCTR_TRY(dctr_dataset_wrap(ds->schema, ds->store, &ds->rows, 0, split, head));
    (*head)->start = ds->start;
    dctr_status st = dctr_dataset_wrap(ds->schema, ds->store, &ds->rows, split, n - split, tail);
    if (st == DCTR_OK)
        (*tail)->start = ds->start + split;
    if (st != DCTR_OK) {
        dctr_dataset_free(*head);
        *head = NULL;
    }
    return st;
}

dctr_status dctr_reader_check_args(const char *fn, int have_out, const dctr_schema *schema,
                                   const char *path) {
    if (!have_out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: out is NULL", fn);
    if (!schema || !path)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (!schema->fitted)
        return dctr_set_error(DCTR_ERR_STATE,
                              "%s: the schema is not fitted (call dctr_schema_fit_csv or "
                              "dctr_schema_fit_none first)", fn);
    return DCTR_OK;
}

dctr_status dctr_dataset_read_csv(const dctr_schema *schema, const char *path,
                                  const dctr_csv_options *opts, dctr_dataset **out) {
    if (out)
        *out = NULL;
    DCTR_TRY(dctr_reader_check_args("dctr_dataset_read_csv", out != NULL, schema, path));
    dctr_csv_input in;
    DCTR_TRY(dctr_csv_input_open(&in, schema, path, opts));
    dctr_ds_store *store = dctr_calloc(1, sizeof *store);
    dctr_status st = store ? DCTR_OK : DCTR_ERR_NOMEM;
    if (store)
        store->fd = -1;
    if (st == DCTR_OK)
        st = dctr_batch_new(schema, 4096, &store->owned);
    dctr_batch *b = store ? store->owned : NULL;
    while (st == DCTR_OK) {
        int got;
        st = dctr_csv_input_next(&in, &got);
        if (st != DCTR_OK || !got)
            break;
        if (b->n == b->capacity)
            st = dctr_batch_reserve(b, b->capacity * 2);
        if (st == DCTR_OK)
            st = dctr_csv_input_encode(&in, b, b->n);
        if (st == DCTR_OK)
            b->n++;
    }
    if (st == DCTR_OK && b->n == 0)
        st = dctr_set_error(DCTR_ERR_PARSE, "%s: no data rows (header only)", path);
    dctr_csv_input_close(&in);
    if (st == DCTR_OK)
        st = dctr_dataset_wrap(schema, store, b, 0, b->n, out);
    if (store) {
        store->refs++; /* balance the release below when wrap failed or succeeded */
        dctr_ds_store_release(store);
    }
    return st;
}
