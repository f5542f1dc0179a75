/* A row-major copy of a batch's one-value columns (sparse ids, scalar dense values), labels and
 * sample weights, for the shuffled mini-batch gather of training.
 * Why: the dataset is column-major, so gathering one shuffled row costs a cache miss per column
 * (39 for a Criteo-shaped row, ~5 % of a DeepFM step); a packed row is 2-5 adjacent cache lines.
 * Ids are stored in 32 bits when every id of the data fits (the gather widens them back), else
 * in 64. Varlen and multi-value dense columns are not packed (the gather reads them in place). */
#ifndef DCTR_DATA_ROW_PACK_H
#define DCTR_DATA_ROW_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "data/batch.h"

typedef struct dctr_row_pack dctr_row_pack;

/* Packs the rows of `src`; *need = the bytes the pack takes (0: no rows or no one-value
 * column; SIZE_MAX: overflow). *out = NULL (and DCTR_OK) when nothing is packed or *need is over
 * max_bytes; DCTR_ERR_NOMEM when the allocation fails. */
dctr_status dctr_row_pack_build(const dctr_batch *src, size_t max_bytes, dctr_row_pack **out,
                                size_t *need);
void dctr_row_pack_free(dctr_row_pack *pack);
/* Rows in the pack. */
int64_t dctr_row_pack_rows(const dctr_row_pack *pack);
/* 1 when column `col` of the schema is in the pack (its values come from the pack). */
int dctr_row_pack_has_column(const dctr_row_pack *pack, int32_t col);
/* dst rows [r0, r1) = packed rows base + rows[r0..r1): labels, weights (when dst has them) and
 * every packed column. Rows are in range (checked by the caller). */
void dctr_row_pack_gather(const dctr_row_pack *pack, int64_t base, dctr_batch *dst,
                          const int64_t *rows, int64_t r0, int64_t r1);

#endif
