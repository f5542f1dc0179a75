/* Internal helpers of the schema module shared by src/feature and src/data. */
#ifndef DCTR_FEATURE_SCHEMA_INTERNAL_H
#define DCTR_FEATURE_SCHEMA_INTERNAL_H

#include "feature/schema_types.h"
#include "feature/vocab.h"

#define DCTR_DEFAULT_GROUP "default_group"
#define DCTR_MAX_MAXLEN (1 << 20)
#define DCTR_MAX_COLUMNS (1 << 20) /* columns of one schema (API and model files) */
#define DCTR_MAX_DENSE_DIM (1 << 20)
#define DCTR_MAX_EMBED_DIM (1 << 16)
#define DCTR_MAX_VOCAB (INT64_C(1) << 40)

/* 6 * floor(V^0.25), or -1 for V < 1. */
int32_t dctr_auto_embedding_dim(int64_t vocab_size);
/* "label" unless set. */
const char *dctr_schema_label_name(const dctr_schema *s);
void dctr_schema_free_tables(dctr_schema *s);
dctr_status dctr_vocab_clone(const dctr_vocab *v, dctr_vocab **out);

/* Rebuilds tables, groups and dense offsets from the columns (after validation or fitting).
 * Fails only on allocation. */
dctr_status dctr_schema_resolve(dctr_schema *s);

/* A fitted label vocabulary (requested vocabulary_size 0, no vocabulary file, no hashing). */
static inline int dctr_column_fits_vocab(const dctr_column *c) {
    return c->kind != DCTR_COLUMN_DENSE && c->requested_vocab == 0 && !c->vocabulary_path &&
           !c->use_hash;
}

#endif
