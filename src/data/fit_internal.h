/* The steps of the encoder fit (src/data/fit_encoders.c) that the fit on caller arrays
 * (src/data/fit_arrays.c) shares, so both give the same vocabularies and statistics. */
#ifndef DCTR_DATA_FIT_INTERNAL_H
#define DCTR_DATA_FIT_INTERNAL_H

#include "feature/encode.h"
#include "feature/schema_internal.h"

/* The column's encoder needs training data (a fitted vocabulary, min/max or mean/std). */
int dctr_fit_needs_data(const dctr_column *c);
/* owner[i]: the column holding the counts of column i's table (its first fitted user);
 * next[i]: the table's next fitted column, or -1. Arrays of s->ncols, filled in one pass. */
dctr_status dctr_fit_table_links(const dctr_schema *s, int32_t *owner, int32_t *next);
/* Counts one raw value (text) of c into v. */
dctr_status dctr_fit_count_key(const dctr_column *c, dctr_vocab *v, const char *s, size_t len,
                               const dctr_loc *loc);
/* The vocabulary of owner's table from the counts (min_count, ids by sorted key), installed on
 * every fitted column of the table (next from dctr_fit_table_links). */
dctr_status dctr_fit_build_vocab(dctr_schema *s, int32_t owner, const dctr_vocab *counts,
                                 const int32_t *next);
dctr_status dctr_fit_load_vocab_files(dctr_schema *s);
/* Resolves tables and freezes the schema (fingerprint). */
dctr_status dctr_fit_finish(dctr_schema *s);

/* Dense statistics of one column over the fitted values (min/max, or sum and sum of squares). */
typedef struct dctr_dense_stats {
    double min, max, sum, sumsq;
    int64_t n;
} dctr_dense_stats;
/* Distributed fit (src/dist/dist_fit.c): after each rank's counting pass (status mine), sums the
 * vocabulary counts (counts[i] for each owner column i), dense statistics and *rows of every
 * rank into this rank's, so all ranks build the same encoders. */
struct dctr_collective;
dctr_status dctr_fit_merge_ranks(struct dctr_collective *coll, dctr_status mine, const dctr_schema *s,
                                 dctr_vocab **counts, const int32_t *owner, dctr_dense_stats *stats,
                                 int64_t *rows);

#endif
