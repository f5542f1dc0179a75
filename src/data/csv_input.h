/* A CSV file bound to a schema: header -> column mapping, field-count checks, and the encoding
 * of one record into a batch row. Shared by fitting, whole-file reads and streaming. */
#ifndef DCTR_DATA_CSV_INPUT_H
#define DCTR_DATA_CSV_INPUT_H

#include "data/batch.h"
#include "data/csv_tokenizer.h"

enum {
    DCTR_TGT_IGNORE = 0,
    DCTR_TGT_COL = 1,     /* a schema column */
    DCTR_TGT_LABEL = 2,
    DCTR_TGT_WEIGHT = 3,  /* per-sample weight column */
    DCTR_TGT_LENGTH = 4,  /* a varlen column's length column */
    DCTR_TGT_VWEIGHT = 5  /* a varlen column's per-element weight column */
};

typedef struct dctr_csv_target {
    int kind;
    int32_t col; /* schema column for COL / LENGTH / VWEIGHT */
} dctr_csv_target;

typedef struct dctr_csv_input {
    dctr_csv_tok tok;
    const dctr_schema *schema;
    dctr_csv_options opts;
    dctr_csv_target *map; /* one per field of a record */
    int32_t nmap;
    int has_label, has_weight;
    uint8_t *has_len, *has_vw; /* per schema column: the file has its length / weight column */
    int32_t *counts;           /* per schema column: elements of the current varlen value */
    int64_t rows;              /* data records returned so far */
    char **header;             /* header names (or the schema-order names without a header) */
} dctr_csv_input;

/* Opens the file and reads / checks the header (or sets up the schema order without one). */
dctr_status dctr_csv_input_open(dctr_csv_input *in, const dctr_schema *schema, const char *path,
                                const dctr_csv_options *opts);
void dctr_csv_input_close(dctr_csv_input *in);
/* Next data record; checks its field count. *got = 0 at the end. */
dctr_status dctr_csv_input_next(dctr_csv_input *in, int *got);
/* Encodes the current record into row `row` of `b` (capacity checked by the caller). */
dctr_status dctr_csv_input_encode(dctr_csv_input *in, dctr_batch *b, int64_t row);
/* Back to the first data record. */
dctr_status dctr_csv_input_rewind(dctr_csv_input *in);
/* Validates / defaults CSV options (NULL -> defaults). */
dctr_status dctr_csv_options_check(const dctr_csv_options *opts, dctr_csv_options *out);

#endif
