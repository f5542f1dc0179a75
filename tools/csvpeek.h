/* Reads a CSV file's header and first rows to learn its column names and which columns look
 * numeric (used by `deepctr train` to infer the columns the user did not name). */
#ifndef DCTR_TOOLS_CSVPEEK_H
#define DCTR_TOOLS_CSVPEEK_H

#include <stdint.h>

#define CLI_HEAVY_TAIL_RATIO 10.0

typedef struct cli_csv_peek {
    int32_t num_columns;
    char **names;        /* header names, unquoted */
    int *numeric;        /* 1 when every sampled non-empty value parses as a finite number */
    int64_t *nonempty;   /* sampled non-empty values per column */
    /* 1 when numeric and count-like: every sampled value an integer >= -1 (Criteo's -1 sentinel)
     * and heavy-tailed, max + 1 >= CLI_HEAVY_TAIL_RATIO * (median + 1): log1p suits it better
     * than min-max scaling, which squeezes all but the largest counts towards 0. */
    int *log_counts;
    int64_t rows_sampled;
} cli_csv_peek;

/* Reads the header and up to max_rows data rows. Returns 0, or 1 after printing
 * "deepctr: error: ..." naming the file (and line). */
int cli_csv_peek_file(const char *path, char delimiter, int64_t max_rows, cli_csv_peek *out);
void cli_csv_peek_free(cli_csv_peek *p);
/* Index of a header column, or -1. */
int32_t cli_csv_peek_find(const cli_csv_peek *p, const char *name);

#endif
