/* Column specifications from the command line: a pure parser (no I/O, no library calls), so
 * a fuzz target can drive it directly.
 *
 * Grammar (one flag value; the flag says the kind):
 *   spec   := entry ("," entry)*
 *   entry  := NAME (":" key "=" value)*
 * Keys by kind:
 *   sparse  hash=N (hash into N buckets instead of fitting a vocabulary), dim=K|auto,
 *           group=G (FM group), emb=NAME (share this table)
 *   dense   transform=none|log1p|minmax|standardize, dim=D (vector length), fill=X,
 *           sep=C (separator inside the field when D > 1)
 *   varlen  maxlen=T (required), sep=C (default '|'), combiner=sum|mean|max, weight=COL,
 *           length=COL, norm=0|1 (softmax-normalise weights), and the sparse keys
 * A separator value is exactly one character (so "sep=," works) or the word "tab".
 * Example: --varlen genres:maxlen=5:sep=|:combiner=mean:weight=genres_w */
#ifndef DCTR_TOOLS_COLSPEC_H
#define DCTR_TOOLS_COLSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "deepctr/schema.h"

#define DCTR_COLSPEC_MAX_NAME 255
#define DCTR_COLSPEC_MAX_ENTRIES 100000

typedef struct dctr_colspec_entry {
    dctr_column_kind kind;
    char *name;
    /* sparse / varlen */
    int64_t hash_buckets;   /* > 0: use_hash with this many buckets; 0: fitted vocabulary */
    int32_t dim;            /* embedding dim (sparse/varlen, -1 = auto) or dense dimension; 0 = default */
    char *group;            /* NULL = default group */
    char *embedding_name;   /* NULL = its own table */
    /* dense */
    int transform;          /* dctr_transform, or -1 = the caller's default */
    double fill;            /* value of a missing entry */
    /* varlen (separator also for dense vectors) */
    int32_t maxlen;
    char separator;         /* 0 = default '|' */
    int combiner;           /* dctr_combiner, or -1 = default (mean) */
    char *weight_name;
    char *length_name;
    int weight_norm;        /* -1 = default (1) */
    /* sparse / varlen: oov=error|reserved|hash, vocab=FILE, trainable=0|1 */
    int oov;                /* dctr_oov_policy, or -1 = the caller's default */
    char *vocab_path;       /* vocabulary file ("int_id,string_key" lines), or NULL */
    int trainable;          /* -1 = default (1) */
} dctr_colspec_entry;

typedef struct dctr_colspec {
    dctr_colspec_entry *entries;
    int32_t count;
    int32_t cap;
} dctr_colspec;

void dctr_colspec_init(dctr_colspec *cs);
void dctr_colspec_free(dctr_colspec *cs);

/* Parses one flag value of the given kind and appends its entries to `out`. Returns 0, or -1
 * with a message in err (which names the entry and the offending key) and `out` unchanged.
 * A name already present in `out` is an error. err may be NULL when errlen is 0. */
int dctr_colspec_parse(const char *spec, dctr_column_kind kind, dctr_colspec *out, char *err,
                       size_t errlen);

/* Index of the entry called `name`, or -1. */
int32_t dctr_colspec_find(const dctr_colspec *cs, const char *name);

#endif
