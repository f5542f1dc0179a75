/* Input: CSV and libffm readers, encoder fitting, encoded datasets, binary caches, streaming,
 * and batches filled row by row from raw values (the serving path).
 *
 * Fitting: dctr_schema_fit_csv() reads the training file once and fits every encoder (label
 * vocabularies, dense min/max or mean/std) into the schema, which is then frozen; reading any
 * file afterwards (train, validation, test, raw rows at serving time) uses exactly that state. */
#ifndef DEEPCTR_DATA_H
#define DEEPCTR_DATA_H

#include "deepctr/common.h"
#include "deepctr/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dctr_dataset dctr_dataset;
typedef struct dctr_batch dctr_batch;
typedef struct dctr_stream dctr_stream;

typedef struct dctr_csv_options {
    uint32_t struct_size;
    char delimiter;          /* default ',' */
    int has_header;          /* default 1; without one, columns are matched in schema order */
    int allow_extra_columns; /* default 0: a header column the schema does not name is an error */
    size_t max_line_bytes;   /* default 1 MiB: a longer line is DCTR_ERR_LIMIT */
    int32_t max_fields;      /* default 65536 */
    int require_label;       /* default 1; 0 lets prediction files omit the label column */
} dctr_csv_options;
DCTR_API void dctr_csv_options_default(dctr_csv_options *opts);

/* Fits the schema's encoders on a training CSV file and freezes the schema. */
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_fit_csv(dctr_schema *schema, const char *path,
                                                       const dctr_csv_options *opts);
/* Fits encoders that need no data (hash / raw ids / vocabulary files only) and freezes. */
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_fit_none(dctr_schema *schema);
DCTR_API int dctr_schema_is_fitted(const dctr_schema *schema);

/* Reads and encodes a whole CSV file with a fitted schema. */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_read_csv(const dctr_schema *schema, const char *path,
                                                         const dctr_csv_options *opts,
                                                         dctr_dataset **out);
DCTR_API void dctr_dataset_free(dctr_dataset *ds);
DCTR_API int64_t dctr_dataset_num_rows(const dctr_dataset *ds);
/* Labels of all rows ([num_rows], borrowed). */
DCTR_API const float *dctr_dataset_labels(const dctr_dataset *ds);
/* Splits off the last `fraction` of the rows (Keras validation_split: before any shuffle). */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_split_tail(const dctr_dataset *ds, double fraction,
                                                           dctr_dataset **head, dctr_dataset **tail);
/* Adds a row-major copy of the rows' one-value columns (sparse ids, scalar dense values), labels
 * and weights to the dataset, for training: a shuffled mini-batch then reads a few adjacent
 * cache lines per row instead of one cache miss per column (DeepFM trains ~15 % faster on 1M
 * Criteo-shaped rows). Costs 4 bytes per value (8 per id when some id exceeds 2^31), about
 * 160 bytes per Criteo-shaped row, until the dataset and its splits are freed; splits made
 * before or after share it. Without it dctr_model_fit builds a temporary copy when that needs at
 * most 64 MiB. max_bytes bounds the copy (0: no bound): DCTR_ERR_LIMIT when it would need more,
 * DCTR_ERR_NOMEM when it does not fit in memory; the dataset is unchanged on error. DCTR_OK
 * with nothing done when packed already. Call it before sharing the dataset between threads. */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_pack_rows(dctr_dataset *ds, size_t max_bytes);

/* Binary cache of an encoded dataset: written once, read back with mmap (no text parsing).
 * The cache records a fingerprint of the schema; reading it with another schema fails. Every
 * array is checked (CRC32, id ranges) at load; a loaded dataset's arrays are read-only memory.
 * A dataset borrows its schema: keep the schema alive until the dataset is freed. */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_save_cache(const dctr_dataset *ds, const char *path);
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_load_cache(const dctr_schema *schema, const char *path,
                                                           dctr_dataset **out);

/* Streaming: reads a CSV file in chunks of `rows_per_chunk` encoded rows with bounded memory. */
DCTR_API DCTR_NODISCARD dctr_status dctr_stream_open_csv(const dctr_schema *schema, const char *path,
                                                        const dctr_csv_options *opts,
                                                        dctr_stream **out);
/* Fills `batch` (up to its capacity) with the next rows; *rows = 0 at the end of the file. */
DCTR_API DCTR_NODISCARD dctr_status dctr_stream_next(dctr_stream *stream, dctr_batch *batch, int64_t *rows);
DCTR_API DCTR_NODISCARD dctr_status dctr_stream_rewind(dctr_stream *stream);
DCTR_API void dctr_stream_free(dctr_stream *stream);

/* Batches. */
DCTR_API DCTR_NODISCARD dctr_status dctr_batch_new(const dctr_schema *schema, int64_t capacity, dctr_batch **out);
DCTR_API void dctr_batch_free(dctr_batch *batch);
DCTR_API int64_t dctr_batch_num_rows(const dctr_batch *batch);
DCTR_API void dctr_batch_clear(dctr_batch *batch);

/* The serving path: fill one row from raw values, encoded with the schema's fitted encoders.
 * Call dctr_batch_begin_row, then set each column by name (unset columns count as missing),
 * then dctr_batch_end_row. Values are text exactly as they appear in a CSV field (a varlen
 * value is "a|b|c"). A set call that fails spoils the row: dctr_batch_end_row then returns
 * DCTR_ERR_STATE and drops it (begin the row again). */
DCTR_API DCTR_NODISCARD dctr_status dctr_batch_begin_row(dctr_batch *batch);
DCTR_API DCTR_NODISCARD dctr_status dctr_batch_set_string(dctr_batch *batch, const char *column, const char *value);
DCTR_API DCTR_NODISCARD dctr_status dctr_batch_set_number(dctr_batch *batch, const char *column, double value);
DCTR_API DCTR_NODISCARD dctr_status dctr_batch_set_label(dctr_batch *batch, float label);
DCTR_API DCTR_NODISCARD dctr_status dctr_batch_end_row(dctr_batch *batch);
/* One whole CSV-format line (with the schema's column order or the header seen at fit time).
 * With names, every schema column must be named (DCTR_ERR_SCHEMA otherwise, as a CSV header
 * missing a column); an empty value is a missing value. */
DCTR_API DCTR_NODISCARD dctr_status dctr_batch_add_csv_row(dctr_batch *batch, const char *const *names,
                                                          const char *const *values, int32_t count);

#ifdef __cplusplus
}
#endif
#endif
