/* Feature columns: sparse, dense and variable-length sparse descriptors (DeepCTR's SparseFeat,
 * DenseFeat and VarLenSparseFeat, with the same fields and defaults) collected in a schema.
 *
 *   dctr_schema *s; dctr_schema_new(&s);
 *   dctr_sparse_feat c1; dctr_sparse_feat_default(&c1, "C1"); dctr_schema_add_sparse(s, &c1);
 *   dctr_dense_feat i1; dctr_dense_feat_default(&i1, "I1"); i1.transform = DCTR_TRANSFORM_MINMAX;
 *   dctr_schema_add_dense(s, &i1);
 *   dctr_schema_validate(s);          // every problem, by feature name, in one message
 *
 * Descriptor structs are copied by the add calls (strings too): the caller keeps ownership. */
#ifndef DEEPCTR_SCHEMA_H
#define DEEPCTR_SCHEMA_H

#include "deepctr/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dctr_schema dctr_schema;

/* ABI: an int-sized enum; DCTR_COLUMN_NONE (-1) is what dctr_schema_column_kind returns for an
 * index out of range, the value that function returned as a plain int before 0.1 (the return type
 * changed from int to this enum with the same values, so callers built either way keep working). */
typedef enum dctr_column_kind {
    DCTR_COLUMN_NONE = -1,
    DCTR_COLUMN_SPARSE = 0,
    DCTR_COLUMN_DENSE = 1,
    DCTR_COLUMN_VARLEN = 2
} dctr_column_kind;

typedef enum dctr_combiner {
    DCTR_COMBINER_SUM = 0,
    DCTR_COMBINER_MEAN = 1,
    DCTR_COMBINER_MAX = 2
} dctr_combiner;

/* How raw values become ids. */
typedef enum dctr_dtype {
    DCTR_DTYPE_INT = 0,    /* integer ids, used as-is (or hashed via their decimal string) */
    DCTR_DTYPE_STRING = 1  /* strings: need hashing, a vocabulary file or a fitted vocabulary */
} dctr_dtype;

/* What a value never seen while fitting the vocabulary maps to. */
typedef enum dctr_oov_policy {
    DCTR_OOV_ERROR = 0,        /* DCTR_ERR_OOV naming the feature and the value */
    DCTR_OOV_RESERVED_ROW = 1, /* a reserved row of the table */
    DCTR_OOV_HASH = 2          /* Fingerprint64 into extra hash buckets after the vocabulary */
} dctr_oov_policy;

typedef enum dctr_transform {
    DCTR_TRANSFORM_NONE = 0,
    DCTR_TRANSFORM_LOG1P = 1,       /* log(1 + max(x, 0)) */
    DCTR_TRANSFORM_MINMAX = 2,      /* (x - min) / (max - min), fitted on training data */
    DCTR_TRANSFORM_STANDARDIZE = 3  /* (x - mean) / std, fitted on training data */
} dctr_transform;

#define DCTR_EMBEDDING_DIM_AUTO (-1) /* 6 * floor(V^0.25), DeepCTR's "auto" */
#define DCTR_VOCAB_FIT 0             /* vocabulary_size 0: fit a vocabulary on the training data */

typedef struct dctr_sparse_feat {
    uint32_t struct_size;        /* set by dctr_sparse_feat_default */
    const char *name;
    int64_t vocabulary_size;     /* table rows; with use_hash the bucket count; 0 = fit */
    int32_t embedding_dim;       /* default 4 */
    int use_hash;                /* default 0 */
    const char *vocabulary_path; /* CSV "int_id,string_key" lines; missing key -> 0 */
    dctr_dtype dtype;            /* default DCTR_DTYPE_INT */
    float init_std;              /* RandomNormal(0, init_std), default 1e-4 */
    const char *embedding_name;  /* NULL = name; equal names share one table */
    const char *group_name;      /* NULL = "default_group" */
    int trainable;               /* default 1 */
    dctr_oov_policy oov_policy;  /* default DCTR_OOV_RESERVED_ROW for fitted vocabularies */
    int64_t min_count;           /* fitted vocabulary: rarer values are OOV; default 1 */
    int64_t oov_buckets;         /* DCTR_OOV_HASH: number of extra buckets; default 0 = auto */
} dctr_sparse_feat;

typedef struct dctr_varlen_feat {
    uint32_t struct_size;
    dctr_sparse_feat sparse;     /* name, vocabulary, table, group, ... as for a sparse column */
    int32_t maxlen;              /* padded length T (required) */
    dctr_combiner combiner;      /* default mean */
    const char *length_name;     /* NULL: id 0 is padding; else a column holding the length */
    const char *weight_name;     /* NULL: unweighted; else a column of per-element weights */
    int weight_norm;             /* default 1: softmax over valid positions */
    char separator;              /* separator inside one CSV field, default '|' */
} dctr_varlen_feat;

typedef struct dctr_dense_feat {
    uint32_t struct_size;
    const char *name;
    int32_t dimension;           /* default 1 */
    dctr_transform transform;    /* default none */
    float fill_value;            /* value of a missing entry, default 0 */
    char separator;              /* dimension > 1 in CSV: separator inside the field, default '|' */
} dctr_dense_feat;

DCTR_API void dctr_sparse_feat_default(dctr_sparse_feat *feat, const char *name);
DCTR_API void dctr_varlen_feat_default(dctr_varlen_feat *feat, const char *name, int32_t maxlen);
DCTR_API void dctr_dense_feat_default(dctr_dense_feat *feat, const char *name);

DCTR_API DCTR_NODISCARD dctr_status dctr_schema_new(dctr_schema **out);
DCTR_API void dctr_schema_free(dctr_schema *schema);
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_clone(const dctr_schema *schema, dctr_schema **out);

DCTR_API DCTR_NODISCARD dctr_status dctr_schema_add_sparse(dctr_schema *schema, const dctr_sparse_feat *feat);
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_add_varlen(dctr_schema *schema, const dctr_varlen_feat *feat);
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_add_dense(dctr_schema *schema, const dctr_dense_feat *feat);
/* Name of the label column in input files (default "label"). */
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_set_label(dctr_schema *schema, const char *name);
/* Optional per-sample weight column in input files. */
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_set_weight_column(dctr_schema *schema, const char *name);

/* Validates the whole set (duplicate names, bad combiner, string without hashing or vocabulary,
 * shared tables that disagree on V / k / trainable, ...). On error the message lists every
 * problem, each prefixed by its feature name. Idempotent. */
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_validate(dctr_schema *schema);

DCTR_API int32_t dctr_schema_num_columns(const dctr_schema *schema);
/* Column i's name and kind; NULL / DCTR_COLUMN_NONE (-1) when out of range. */
DCTR_API const char *dctr_schema_column_name(const dctr_schema *schema, int32_t i);
DCTR_API dctr_column_kind dctr_schema_column_kind(const dctr_schema *schema, int32_t i);
/* Index of a column by name, or -1. */
DCTR_API int32_t dctr_schema_find(const dctr_schema *schema, const char *name);
/* Vocabulary size (table rows) of a sparse / varlen column after validation / fitting; -1 otherwise. */
DCTR_API int64_t dctr_schema_vocabulary_size(const dctr_schema *schema, const char *name);
/* Embedding dim of a sparse / varlen column ("auto" resolved); -1 otherwise. */
DCTR_API int32_t dctr_schema_embedding_dim(const dctr_schema *schema, const char *name);
/* The model's input names in order (DeepCTR's get_feature_names): each column, then a varlen
 * column's weight and length names right after it, deduplicated. Returns the count; writes at
 * most `cap` borrowed pointers into names (names may be NULL to just count). */
DCTR_API int32_t dctr_schema_feature_names(const dctr_schema *schema, const char **names, int32_t cap);

/* FarmHash Fingerprint64 of bytes (TensorFlow's to_hash_bucket_fast uses it). */
DCTR_API uint64_t dctr_fingerprint64(const void *data, size_t len);
/* DeepCTR's Hash layer: Fingerprint64(s) mod buckets; with mask_zero, "0" -> 0 and any other
 * string -> Fingerprint64(s) mod (buckets - 1) + 1. */
DCTR_API int64_t dctr_hash_bucket(const char *s, size_t len, int64_t buckets, int mask_zero);


/* ---------------- introspection (docs/api.md "Introspection") ---------------- */

/* Everything the schema knows about one input column, fitted statistics included. Strings are
 * borrowed from the schema (valid while it lives). Fields that do not apply to the kind are
 * 0 / NULL / NaN. */
typedef struct dctr_column_info {
    uint32_t struct_size;        /* set to sizeof(dctr_column_info) before the call */
    const char *name;
    dctr_column_kind kind;
    /* sparse and varlen */
    dctr_dtype dtype;
    int use_hash;
    int64_t vocabulary_size;     /* table rows (after fitting) */
    int32_t embedding_dim;
    const char *embedding_name;  /* the table (shared by columns with the same name) */
    const char *group_name;
    int trainable;
    dctr_oov_policy oov_policy;
    const char *vocabulary_path; /* NULL unless a vocabulary file was given */
    int64_t fitted_values;       /* values in the fitted vocabulary; -1 when none was fitted */
    int64_t first_id;            /* id of the first fitted value (ids below are reserved) */
    int64_t oov_buckets;
    /* varlen */
    int32_t maxlen;
    dctr_combiner combiner;
    const char *length_name;
    const char *weight_name;
    /* dense */
    int32_t dimension;
    dctr_transform transform;
    float fill_value;
    /* fitted transform state: MINMAX min / max, STANDARDIZE mean / std; NaN otherwise */
    double stat_min, stat_max, stat_mean, stat_std;
} dctr_column_info;
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_column_info(const dctr_schema *schema, int32_t i,
                                                           dctr_column_info *out);
/* The label column's name ("label" unless set) and the sample weight column (NULL if none). */
DCTR_API const char *dctr_schema_label(const dctr_schema *schema);
DCTR_API const char *dctr_schema_weight_column(const dctr_schema *schema);
/* Column i's group name (sparse / varlen), or NULL. */
DCTR_API const char *dctr_schema_column_group(const dctr_schema *schema, int32_t i);

#ifdef __cplusplus
}
#endif
#endif
