/* Feature-column descriptors and the schema that collects them: defaults, add, accessors,
 * clone, feature names. Validation is in schema_validate.c, fitting in src/data/fit_encoders.c. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "feature/schema_internal.h"
#include "feature/vocab.h"

/* The descriptors' defaults (DeepCTR's); fields not named are 0 / NULL. */
void dctr_sparse_feat_default(dctr_sparse_feat *feat, const char *name) {
    if (!feat)
        return;
    *feat = (dctr_sparse_feat){.struct_size = (uint32_t)sizeof *feat,
                               .name = name,
                               .vocabulary_size = DCTR_VOCAB_FIT,
                               .embedding_dim = 4,
                               .dtype = DCTR_DTYPE_INT,
                               .init_std = 1e-4f,
                               .trainable = 1,
                               .oov_policy = DCTR_OOV_RESERVED_ROW,
                               .min_count = 1};
}

void dctr_varlen_feat_default(dctr_varlen_feat *feat, const char *name, int32_t maxlen) {
    if (!feat)
        return;
    *feat = (dctr_varlen_feat){.struct_size = (uint32_t)sizeof *feat,
                               .maxlen = maxlen,
                               .combiner = DCTR_COMBINER_MEAN,
                               .weight_norm = 1,
                               .separator = '|'};
    dctr_sparse_feat_default(&feat->sparse, name);
}

void dctr_dense_feat_default(dctr_dense_feat *feat, const char *name) {
    if (!feat)
        return;
    *feat = (dctr_dense_feat){.struct_size = (uint32_t)sizeof *feat,
                              .name = name,
                              .dimension = 1,
                              .transform = DCTR_TRANSFORM_NONE,
                              .separator = '|'};
}

dctr_status dctr_schema_new(dctr_schema **out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_new: out is NULL");
    *out = dctr_calloc(1, sizeof **out);
    return *out ? DCTR_OK : DCTR_ERR_NOMEM;
}

void dctr_schema_free_tables(dctr_schema *s) {
    for (int32_t i = 0; i < s->ntables; i++)
        dctr_free(s->tables[i].name);
    dctr_free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
    for (int32_t i = 0; i < s->ngroups; i++)
        dctr_free(s->groups[i]);
    dctr_free(s->groups);
    s->groups = NULL;
    s->ngroups = 0;
}

static void column_free(dctr_column *c) {
    dctr_free(c->name);
    dctr_free(c->vocabulary_path);
    dctr_free(c->length_name);
    dctr_free(c->weight_name);
    dctr_free(c->embedding_name);
    dctr_free(c->group_name);
    if (c->owns_vocab)
        dctr_vocab_free(c->vocab);
}

void dctr_schema_free(dctr_schema *s) {
    if (!s)
        return;
    for (int32_t i = 0; i < s->ncols; i++)
        column_free(&s->cols[i]);
    dctr_free(s->cols);
    dctr_schema_free_tables(s);
    dctr_free(s->label_name);
    dctr_free(s->weight_column);
    for (int32_t i = 0; i < s->fit_header_n; i++)
        dctr_free(s->fit_header[i]);
    dctr_free(s->fit_header);
    dctr_free(s);
}

/* strdup that accepts NULL; sets *fail on allocation failure. */
static char *dup_opt(const char *s, int *fail) {
    if (!s)
        return NULL;
    char *d = dctr_strdup(s);
    if (!d)
        *fail = 1;
    return d;
}

static dctr_status schema_mutable(dctr_schema *s, const char *what) {
    if (!s)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: schema is NULL", what);
    if (s->fitted)
        return dctr_set_error(DCTR_ERR_STATE, "%s: the schema is fitted (frozen)", what);
    return DCTR_OK;
}

static dctr_status push_column(dctr_schema *s, dctr_column **out) {
    if (s->ncols >= DCTR_MAX_COLUMNS) /* what a model file may hold (schema_io.c) */
        return dctr_set_error(DCTR_ERR_LIMIT, "schema: more than %d columns", DCTR_MAX_COLUMNS);
    if (s->ncols + 1 > s->cols_cap) { /* geometric growth: adding n columns copies O(n) */
        int32_t cap = s->ncols < 8 ? 16 : s->ncols * 2;
        dctr_column *nc = dctr_realloc_array(s->cols, (size_t)cap, sizeof *nc);
        if (!nc)
            return DCTR_ERR_NOMEM;
        s->cols = nc;
        s->cols_cap = cap;
    }
    dctr_column *c = &s->cols[s->ncols];
    memset(c, 0, sizeof *c);
    c->index = s->ncols;
    c->table = -1;
    c->group = -1;
    *out = c;
    return DCTR_OK;
}

/* The start of every dctr_schema_add_*: the schema must still accept columns, then the caller's
 * struct is copied honouring struct_size (an older, smaller struct gets the defaults for the
 * fields it does not have). Returns from the caller on error. */
#define BEGIN_ADD(s, dst, src, defaults_call, what)                                           \
    do {                                                                                       \
        DCTR_TRY(schema_mutable(s, what));                                                     \
        if (!(src))                                                                            \
            return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: descriptor is NULL", what);       \
        if ((src)->struct_size == 0 || (src)->struct_size > sizeof(dst))                       \
            return dctr_set_error(DCTR_ERR_INVALID_ARG,                                        \
                                  "%s: struct_size %u is not valid (expected <= %zu; "         \
                                  "initialise the descriptor with its _default function)",     \
                                  what, (unsigned)(src)->struct_size, sizeof(dst));             \
        defaults_call;                                                                         \
        memcpy(&(dst), (src), (src)->struct_size);                                             \
    } while (0)

static dctr_status fill_sparse(dctr_column *c, const dctr_sparse_feat *f, dctr_column_kind kind) {
    int fail = 0;
    c->kind = kind;
    c->name = dup_opt(f->name ? f->name : "", &fail);
    c->requested_vocab = f->vocabulary_size;
    c->vocab_size = f->vocabulary_size;
    c->requested_dim = f->embedding_dim;
    c->dim = f->embedding_dim;
    c->use_hash = f->use_hash ? 1 : 0;
    c->dtype = f->dtype;
    c->oov_policy = f->oov_policy;
    c->min_count = f->min_count;
    c->oov_buckets = f->oov_buckets;
    c->vocabulary_path = dup_opt(f->vocabulary_path, &fail);
    c->embedding_name = dup_opt(f->embedding_name ? f->embedding_name : c->name, &fail);
    c->group_name = dup_opt(f->group_name ? f->group_name : DCTR_DEFAULT_GROUP, &fail);
    c->trainable = f->trainable ? 1 : 0;
    c->init_std = f->init_std;
    c->owns_vocab = 1;
    if (fail || !c->name)
        return DCTR_ERR_NOMEM;
    return DCTR_OK;
}

/* A new (zeroed) column at the end of a schema that is then no longer validated. */
static dctr_status append_column(dctr_schema *s, dctr_column **c) {
    DCTR_TRY(push_column(s, c));
    s->ncols++;
    s->validated = 0;
    return DCTR_OK;
}

dctr_status dctr_schema_add_sparse(dctr_schema *s, const dctr_sparse_feat *feat) {
    dctr_sparse_feat f;
    BEGIN_ADD(s, f, feat, dctr_sparse_feat_default(&f, NULL), "dctr_schema_add_sparse");
    dctr_column *c;
    DCTR_TRY(append_column(s, &c));
    return fill_sparse(c, &f, DCTR_COLUMN_SPARSE);
}

dctr_status dctr_schema_add_varlen(dctr_schema *s, const dctr_varlen_feat *feat) {
    dctr_varlen_feat f;
    BEGIN_ADD(s, f, feat, dctr_varlen_feat_default(&f, NULL, 1), "dctr_schema_add_varlen");
    if (f.sparse.struct_size == 0 || f.sparse.struct_size > sizeof f.sparse)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_schema_add_varlen: the wrapped sparse descriptor has struct_size %u",
                              (unsigned)f.sparse.struct_size);
    dctr_column *c;
    DCTR_TRY(append_column(s, &c));
    DCTR_TRY(fill_sparse(c, &f.sparse, DCTR_COLUMN_VARLEN));
    int fail = 0;
    c->maxlen = f.maxlen;
    c->combiner = f.combiner;
    c->length_name = dup_opt(f.length_name, &fail);
    c->weight_name = dup_opt(f.weight_name, &fail);
    c->weight_norm = f.weight_norm ? 1 : 0;
    c->separator = f.separator;
    return fail ? DCTR_ERR_NOMEM : DCTR_OK;
}

dctr_status dctr_schema_add_dense(dctr_schema *s, const dctr_dense_feat *feat) {
    dctr_dense_feat f;
    BEGIN_ADD(s, f, feat, dctr_dense_feat_default(&f, NULL), "dctr_schema_add_dense");
    dctr_column *c;
    DCTR_TRY(append_column(s, &c));
    int fail = 0;
    c->kind = DCTR_COLUMN_DENSE;
    c->name = dup_opt(f.name ? f.name : "", &fail);
    c->dense_dim = f.dimension;
    c->transform = f.transform;
    c->fill_value = f.fill_value;
    c->separator = f.separator;
    c->stat_a = 0.0;
    c->stat_b = 1.0;
    return fail ? DCTR_ERR_NOMEM : DCTR_OK;
}

static dctr_status set_name_field(dctr_schema *s, char **field, const char *name, const char *what) {
    DCTR_TRY(schema_mutable(s, what));
    if (name && !*name)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: empty name", what);
    char *d = NULL;
    if (name) {
        d = dctr_strdup(name);
        if (!d)
            return DCTR_ERR_NOMEM;
    }
    dctr_free(*field);
    *field = d;
    s->validated = 0;
    return DCTR_OK;
}

dctr_status dctr_schema_set_label(dctr_schema *s, const char *name) {
    return set_name_field(s, s ? &s->label_name : NULL, name, "dctr_schema_set_label");
}

dctr_status dctr_schema_set_weight_column(dctr_schema *s, const char *name) {
    return set_name_field(s, s ? &s->weight_column : NULL, name, "dctr_schema_set_weight_column");
}

const char *dctr_schema_label_name(const dctr_schema *s) {
    return s->label_name ? s->label_name : "label";
}

int32_t dctr_schema_num_columns(const dctr_schema *s) { return s ? s->ncols : 0; }

const char *dctr_schema_column_name(const dctr_schema *s, int32_t i) {
    if (!s || i < 0 || i >= s->ncols)
        return NULL;
    return s->cols[i].name;
}

dctr_column_kind dctr_schema_column_kind(const dctr_schema *s, int32_t i) {
    if (!s || i < 0 || i >= s->ncols)
        return DCTR_COLUMN_NONE;
    return s->cols[i].kind;
}

int32_t dctr_schema_find(const dctr_schema *s, const char *name) {
    if (!s || !name)
        return -1;
    for (int32_t i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return i;
    return -1;
}

int64_t dctr_schema_vocabulary_size(const dctr_schema *s, const char *name) {
    int32_t i = dctr_schema_find(s, name);
    if (i < 0 || s->cols[i].kind == DCTR_COLUMN_DENSE || !s->validated)
        return -1;
    return s->cols[i].vocab_size > 0 ? s->cols[i].vocab_size : -1;
}

int32_t dctr_schema_embedding_dim(const dctr_schema *s, const char *name) {
    int32_t i = dctr_schema_find(s, name);
    if (i < 0 || s->cols[i].kind == DCTR_COLUMN_DENSE || !s->validated)
        return -1;
    return s->cols[i].dim > 0 ? s->cols[i].dim : -1;
}

int32_t dctr_auto_embedding_dim(int64_t vocab_size) {
    if (vocab_size < 1)
        return -1;
    /* floor(V^0.25) computed exactly in integers (pow can land just below an integer). */
    int64_t r = (int64_t)floor(pow((double)vocab_size, 0.25));
    while (r > 0 && r * r * r * r > vocab_size)
        r--;
    while ((r + 1) * (r + 1) * (r + 1) * (r + 1) <= vocab_size)
        r++;
    return (int32_t)(6 * r);
}

static int name_in(const char **names, int32_t n, const char *name) {
    for (int32_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

int32_t dctr_schema_feature_names(const dctr_schema *s, const char **names, int32_t cap) {
    if (!s)
        return 0;
    /* Deduplicate against what is written so far (ordered-dict semantics: first position wins).
     * A scratch list on the stack would bound the count; use the caller's array when given and a
     * quadratic scan over the columns otherwise. */
    int32_t count = 0;
    const char **seen = dctr_malloc(sizeof(char *) * ((size_t)s->ncols * 3 + 1));
    if (!seen)
        return -1;
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        const char *cand[3] = {c->name, NULL, NULL};
        if (c->kind == DCTR_COLUMN_VARLEN) {
            cand[1] = c->weight_name;
            cand[2] = c->length_name;
        }
        for (int k = 0; k < 3; k++) {
            if (!cand[k] || name_in(seen, count, cand[k]))
                continue;
            if (names && count < cap)
                names[count] = cand[k];
            seen[count++] = cand[k];
        }
    }
    dctr_free(seen);
    return count;
}

/* ---- clone ---- */

static dctr_status clone_column(dctr_column *d, const dctr_column *c) {
    int fail = 0;
    *d = *c;
    d->name = dup_opt(c->name, &fail);
    d->vocabulary_path = dup_opt(c->vocabulary_path, &fail);
    d->length_name = dup_opt(c->length_name, &fail);
    d->weight_name = dup_opt(c->weight_name, &fail);
    d->embedding_name = dup_opt(c->embedding_name, &fail);
    d->group_name = dup_opt(c->group_name, &fail);
    d->vocab = NULL;
    d->owns_vocab = 1;
    return fail ? DCTR_ERR_NOMEM : DCTR_OK;
}

/* A fitted vocabulary is immutable: a clone shares it (one more reference), no copy. */
dctr_status dctr_vocab_clone(const dctr_vocab *v, dctr_vocab **out) {
    *out = dctr_vocab_retain((dctr_vocab *)v);
    return DCTR_OK;
}

/* A copy of n strings (NULL entries stay NULL, a failed copy sets *fail); *dn counts the
 * entries set so far, so a partial copy frees cleanly. */
static dctr_status clone_strings(char *const *src, int32_t n, char ***dst, int32_t *dn, int *fail) {
    if (n <= 0)
        return DCTR_OK;
    *dst = dctr_calloc((size_t)n, sizeof **dst);
    if (!*dst)
        return DCTR_ERR_NOMEM;
    for (int32_t i = 0; i < n; i++) {
        (*dst)[i] = dup_opt(src[i], fail);
        *dn = i + 1;
    }
    return DCTR_OK;
}

dctr_status dctr_schema_clone(const dctr_schema *s, dctr_schema **out) {
    if (!s || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_clone: NULL argument");
    *out = NULL;
    dctr_schema *d;
    DCTR_TRY(dctr_schema_new(&d));
    dctr_status st = DCTR_OK;
    int fail = 0;
    d->cols = dctr_calloc((size_t)s->ncols + 1, sizeof *d->cols);
    if (!d->cols) {
        dctr_schema_free(d);
        return DCTR_ERR_NOMEM;
    }
    for (int32_t i = 0; i < s->ncols && st == DCTR_OK; i++) {
        st = clone_column(&d->cols[i], &s->cols[i]);
        d->ncols = i + 1;
        const dctr_column *c = &s->cols[i];
        if (st == DCTR_OK && c->vocab) {
            if (c->owns_vocab) {
                st = dctr_vocab_clone(c->vocab, &d->cols[i].vocab);
            } else {
                /* shared with the first column of the same table, cloned earlier */
                for (int32_t j = 0; j < i; j++)
                    if (s->cols[j].vocab == c->vocab && s->cols[j].owns_vocab) {
                        d->cols[i].vocab = d->cols[j].vocab;
                        break;
                    }
                d->cols[i].owns_vocab = 0;
            }
        }
    }
    if (st == DCTR_OK && s->ntables > 0) {
        d->tables = dctr_calloc((size_t)s->ntables, sizeof *d->tables);
        if (!d->tables)
            st = DCTR_ERR_NOMEM;
        for (int32_t i = 0; st == DCTR_OK && i < s->ntables; i++) {
            d->tables[i] = s->tables[i];
            d->tables[i].name = dup_opt(s->tables[i].name, &fail);
            d->ntables = i + 1;
        }
    }
    if (st == DCTR_OK)
        st = clone_strings(s->groups, s->ngroups, &d->groups, &d->ngroups, &fail);
    if (st == DCTR_OK)
        st = clone_strings(s->fit_header, s->fit_header_n, &d->fit_header, &d->fit_header_n, &fail);
    d->total_dense_dim = s->total_dense_dim;
    d->label_name = dup_opt(s->label_name, &fail);
    d->weight_column = dup_opt(s->weight_column, &fail);
    d->validated = s->validated;
    d->fitted = s->fitted;
    d->fingerprint = s->fingerprint;
    d->has_fingerprint = s->has_fingerprint;
    if (st == DCTR_OK && fail)
        st = DCTR_ERR_NOMEM;
    if (st != DCTR_OK) {
        dctr_schema_free(d);
        return st;
    }
    *out = d;
    return DCTR_OK;
}
