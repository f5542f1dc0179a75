/* The resolved, validated schema as the rest of the library sees it (CONTRACT shared by the
 * input, layers, models and io code; fields may be added, never renamed or removed).
 * A schema is built through the public API in include/deepctr/schema.h, validated as a whole,
 * then fitted on training data (vocabularies, dense statistics) and frozen. Models keep their
 * own copy; a model file stores it so serving encodes exactly as training did. */
#ifndef DCTR_FEATURE_SCHEMA_TYPES_H
#define DCTR_FEATURE_SCHEMA_TYPES_H

#include <stdint.h>

#include "deepctr/schema.h"

struct dctr_vocab;    /* fitted label encoder / vocabulary-file table: src/feature/vocab.h */

/* One embedding table per distinct embedding_name (columns sharing a name share the table). */
typedef struct dctr_table_info {
    char *name;          /* embedding_name */
    int64_t vocab_size;  /* rows */
    int32_t dim;         /* k */
    int trainable;
    int mask_zero;       /* used by a varlen column: id 0 is padding for the pooling layers */
    float init_std;      /* RandomNormal(0, init_std) */
} dctr_table_info;

typedef struct dctr_column {
    dctr_column_kind kind;
    char *name;
    int32_t index;       /* position in schema->cols */

    /* sparse and varlen */
    int32_t table;       /* index into schema->tables */
    int32_t group;       /* index into schema->groups (group_name) */
    int64_t vocab_size;  /* == tables[table].vocab_size once fitted */
    int32_t dim;         /* == tables[table].dim */
    int use_hash;
    dctr_dtype dtype;
    dctr_oov_policy oov_policy;
    int64_t min_count;
    char *vocabulary_path;
    struct dctr_vocab *vocab; /* fitted or loaded vocabulary, NULL for raw ids / hashing */

    /* varlen only */
    int32_t maxlen;
    dctr_combiner combiner;
    char *length_name;   /* NULL: mask is id != 0; else the length column's name */
    char *weight_name;   /* NULL: unweighted */
    int weight_norm;
    char separator;      /* separator of the values inside one CSV field, e.g. '|' */

    /* dense only */
    int32_t dense_dim;
    int32_t dense_offset; /* offset of this column in the concatenation of all dense values */
    dctr_transform transform;
    float fill_value;     /* value used for a missing entry, before the transform */
    double stat_a, stat_b; /* fitted transform state: min/max or mean/std */

    /* added by the input module: the descriptor as given, and fitted-vocabulary state */
    char *embedding_name; /* resolved (never NULL after add) */
    char *group_name;     /* resolved (never NULL after add) */
    int trainable;
    float init_std;
    int64_t requested_vocab; /* vocabulary_size as given (0 = fit) */
    int32_t requested_dim;   /* embedding_dim as given (DCTR_EMBEDDING_DIM_AUTO allowed) */
    int64_t oov_buckets;     /* DCTR_OOV_HASH: extra buckets after the vocabulary (resolved) */
    int owns_vocab;          /* 0 when `vocab` is shared with an earlier column of the same table */
    int64_t vocab_base;      /* fitted vocabulary: id of the first value (1 when id 0 is reserved) */
    int64_t vocab_count;     /* fitted vocabulary: number of values kept */
} dctr_column;

struct dctr_schema {
    dctr_column *cols;
    int32_t ncols;
    int32_t cols_cap;    /* entries push_column allocated (0: cols holds exactly ncols + 1) */
    dctr_table_info *tables;
    int32_t ntables;
    char **groups;       /* group names in first-seen order: sparse columns first, then varlen */
    int32_t ngroups;
    int32_t total_dense_dim;
    char *label_name;    /* NULL: "label" */
    char *weight_column; /* optional per-sample weight column in the input, NULL if none */
    int validated;
    int fitted;

    /* added by the input module */
    char **fit_header;   /* CSV header seen at fit time (dctr_batch_add_csv_row without names) */
    int32_t fit_header_n;
    uint64_t fingerprint; /* Fingerprint64 of the serialized schema, set once fitted (frozen) */
    int has_fingerprint;
};

#endif
