/* RFC 4180 CSV tokenizer over a large read buffer: one record at a time, fields point into the
 * buffer (valid until the next call). Quoted fields may hold delimiters, "" and newlines; a
 * CRLF or LF ends a record; blank lines are skipped; a UTF-8 BOM at the start is skipped.
 * Errors carry file:line:column. */
#ifndef DCTR_DATA_CSV_TOKENIZER_H
#define DCTR_DATA_CSV_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "deepctr/common.h"

typedef struct dctr_csv_field {
    const char *p;
    size_t len;
    int64_t line; /* where the field starts (1-based) */
    int64_t col;  /* byte column, 1-based */
} dctr_csv_field;

typedef struct dctr_csv_tok {
    int fd;
    char *path;
    char *buf;
    size_t cap, pos, end;
    int eof;
    int64_t line;       /* line number at buf[pos] */
    int64_t rec_line;   /* line of the current record */
    char delim;
    size_t max_line;
    int32_t max_fields;
    dctr_csv_field *f;
    int32_t nf, fcap;
    uint64_t consumed;  /* bytes of the file consumed so far */
} dctr_csv_tok;

dctr_status dctr_csv_tok_open(dctr_csv_tok *t, const char *path, char delim, size_t max_line,
                              int32_t max_fields);
void dctr_csv_tok_close(dctr_csv_tok *t);
/* Next record into t->f[0..nf); *got = 0 at the end of the file. */
dctr_status dctr_csv_tok_next(dctr_csv_tok *t, int *got);
dctr_status dctr_csv_tok_rewind(dctr_csv_tok *t);
/* Checks that bytes are valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int dctr_utf8_valid(const char *s, size_t len);

#endif
