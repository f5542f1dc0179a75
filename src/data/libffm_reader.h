/* libffm text reader: `label field:index:value ...` lines into CSR memory, whole-file or in
 * bounded chunks (the on-disk trainer). A hand-written tokenizer over a large read buffer; every
 * malformed token is reported as "file:line:column: what". */
#ifndef DCTR_DATA_LIBFFM_READER_H
#define DCTR_DATA_LIBFFM_READER_H

#include <stdint.h>
#include <stdio.h>

#include "deepctr/ffm.h"

/* One non-zero. Field and index fit int32: the reader caps field < max_fields (<= 2^31 - 1) and
 * index < max_features (<= 2^31 - 1) before storing. AoS so the trainer streams one array. */
typedef struct dctr_ffm_node {
    int32_t field;
    int32_t index;
    float value;
} dctr_ffm_node;

struct dctr_ffm_data {
    int64_t rows, nnz;
    int64_t *row_ptr;     /* [rows + 1] */
    dctr_ffm_node *nodes; /* [nnz] */
    float *labels;        /* [rows], as written */
    float *inv_norm;      /* [rows]: 1 / sum(value^2), 1 for an all-zero row */
    int32_t num_fields;   /* max field + 1 */
    int64_t num_features; /* max index + 1 */
    int64_t cap_rows, cap_nnz;
};

/* An empty data object (for chunked reading; reuse it across chunks). */
dctr_status dctr_ffm_data_new_empty(dctr_ffm_data **out);
/* Drops the rows, keeps the capacity; num_fields / num_features reset to 0. */
void dctr_ffm_data_clear(dctr_ffm_data *data);

typedef struct dctr_libffm_reader dctr_libffm_reader;

/* A row's instance normalisation from sq = sum(value^2) accumulated in double over its nodes in
 * order: 1 / sq clamped to [FLT_MIN, FLT_MAX], 1 when sq is 0 (inv_norm above). */
float dctr_ffm_inv_norm(double sq);

dctr_status dctr_libffm_reader_open(const char *path, const dctr_libffm_options *opts,
                                    dctr_libffm_reader **out);
/* Reads over caller memory (not copied; must outlive the reader). */
dctr_status dctr_libffm_reader_open_text(const char *text, size_t len, const char *name,
                                         const dctr_libffm_options *opts, dctr_libffm_reader **out);
void dctr_libffm_reader_close(dctr_libffm_reader *r);
/* Appends up to max_rows rows (<= 0: all) to data; *got = rows appended (0 at end of input). */
dctr_status dctr_libffm_reader_read(dctr_libffm_reader *r, dctr_ffm_data *data, int64_t max_rows,
                                    int64_t *got);
/* Back to the first line (a file reader seeks; a text reader restarts). */
dctr_status dctr_libffm_reader_rewind(dctr_libffm_reader *r);
/* Position of the next unread line (byte offset and lines consumed), and a jump back to one. */
void dctr_libffm_reader_tell(const dctr_libffm_reader *r, int64_t *offset, int64_t *line);
dctr_status dctr_libffm_reader_seek(dctr_libffm_reader *r, int64_t offset, int64_t line);

#endif
