/* Encoders: one raw text value (as it appears in a CSV field or is passed to the serving API)
 * -> ids / floats, using exactly the schema's fitted state. Shared by the CSV reader, the
 * streaming reader and the row-by-row serving path so they can never disagree. */
#ifndef DCTR_FEATURE_ENCODE_H
#define DCTR_FEATURE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "feature/schema_types.h"

/* Where a value came from, for error messages: "file:line:col" or "row N". */
typedef struct dctr_loc {
    const char *file; /* NULL: serving row */
    int64_t line;     /* file line (1-based) or row index */
    int64_t col;      /* byte column (1-based), 0 = unknown */
} dctr_loc;

/* Sets the error as "<loc>: column '<name>': <message>" and returns st. */
dctr_status dctr_loc_error(dctr_status st, const dctr_loc *loc, const char *column,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The vocabulary / hash key of one raw value: the bytes themselves for string columns, the
 * canonical decimal form for int columns ("" stays "" = missing). `buf` holds >= 24 bytes. */
dctr_status dctr_encode_key(const dctr_column *c, const char *s, size_t len, char *buf,
                            const char **key, size_t *key_len, const dctr_loc *loc);

/* One id of a sparse column or one element of a varlen column (`elem` = 1). */
dctr_status dctr_encode_id(const dctr_column *c, const char *s, size_t len, int elem,
                           int64_t *id, const dctr_loc *loc);
/* A varlen field "a|b|c": ids[0..maxlen) (padded with 0), *count = elements kept (<= maxlen).
 * Empty elements are skipped; elements past maxlen are dropped (truncation keeps the first). */
dctr_status dctr_encode_varlen(const dctr_column *c, const char *s, size_t len, int64_t *ids,
                               int32_t *count, const dctr_loc *loc);
/* A varlen weight field "0.5|1|2" into w[0..maxlen) (0 past the values). */
dctr_status dctr_encode_varlen_weights(const dctr_column *c, const char *s, size_t len, float *w,
                                       int32_t *count, const dctr_loc *loc);
/* Raw dense values (missing -> fill_value) into raw[0..dense_dim). */
dctr_status dctr_parse_dense(const dctr_column *c, const char *s, size_t len, double *raw,
                             const dctr_loc *loc);
/* Dense field -> transformed floats out[0..dense_dim). */
dctr_status dctr_encode_dense(const dctr_column *c, const char *s, size_t len, float *out,
                              const dctr_loc *loc);
/* The fitted transform of one raw value. */
float dctr_transform_value(const dctr_column *c, double x);
/* A finite float (label, sample weight, length); `what` names it in messages. */
dctr_status dctr_encode_float(const char *what, const char *s, size_t len, float *out,
                              const dctr_loc *loc);

#endif
