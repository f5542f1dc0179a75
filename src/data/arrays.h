/* Caller arrays (include/deepctr/services.h) encoded into batches: shared by the in-memory
 * datasets (dataset_arrays.c), the encoder fit (fit_arrays.c) and typed serving. */
#ifndef DCTR_DATA_ARRAYS_H
#define DCTR_DATA_ARRAYS_H

#include "data/batch.h"
#include "deepctr/services.h"

/* The argument checks every entry point taking arrays runs first (fn names it in errors): every
 * schema column has an array of the right kind, offsets never decrease. */
dctr_status dctr_arrays_check(const dctr_schema *s, const dctr_arrays *a, const char *fn);
/* The array of schema column col (checked arrays: never NULL). */
const dctr_array_column *dctr_arrays_find(const dctr_schema *s, const dctr_arrays *a, int32_t col);
/* The text of value k (a string, or an id's decimal form written into buf[32]). */
const char *dctr_arrays_text(const dctr_array_column *ac, int64_t k, char *buf, size_t *len);
/* Encodes rows [first, first + count) of checked arrays into dst rows [at, at + count) (dst has
 * the capacity; dst->n is left to the caller). */
dctr_status dctr_arrays_encode(const dctr_schema *s, const dctr_arrays *a, int64_t first, int64_t count,
                               dctr_batch *dst, int64_t at);

#endif
