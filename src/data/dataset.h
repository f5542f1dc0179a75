/* In-memory datasets: all rows in one batch layout, kept in refcounted storage (heap arrays or
 * a read-only cache mapping) so head/tail splits are views without copies. */
#ifndef DCTR_DATA_DATASET_H
#define DCTR_DATA_DATASET_H

#include "data/batch.h"

struct dctr_row_pack;

typedef struct dctr_ds_store {
    int refs;
    struct dctr_row_pack *pack; /* dctr_dataset_pack_rows: rows [pack_first, ...) row-major */
    int64_t pack_first;
    dctr_batch *owned; /* heap storage, or NULL */
    void *map;         /* mmap'ed cache, or NULL */
    size_t map_len;
    int fd;
} dctr_ds_store;

struct dctr_dataset {
    const dctr_schema *schema;
    dctr_batch rows;       /* a view (owns_memory = 0) over the store */
    dctr_ds_store *store;
    int64_t start;         /* store row of rows' row 0 */
};

/* A dataset viewing rows [start, start + count) of `src` (a batch living in `store`); takes a
 * reference on store. */
dctr_status dctr_dataset_wrap(const dctr_schema *schema, dctr_ds_store *store,
                              const dctr_batch *src, int64_t start, int64_t count,
                              dctr_dataset **out);
void dctr_ds_store_release(dctr_ds_store *store);
/* The store's row pack when it holds every row of ds (*base = the pack row of ds's row 0), else
 * NULL. */
const struct dctr_row_pack *dctr_dataset_row_pack(const dctr_dataset *ds, int64_t *base);
/* Frees the store's row pack (after a change to the rows it copied). */
void dctr_dataset_drop_row_pack(dctr_dataset *ds);

/* The argument checks every reader of a fitted schema starts with (dataset, stream, cache):
 * have_out (the caller cleared *out when out was given), schema and path given, schema fitted.
 * Errors name the entry point fn. */
dctr_status dctr_reader_check_args(const char *fn, int have_out, const dctr_schema *schema,
                                   const char *path);

#endif
