/* Whole-schema validation (every problem, by feature name, in one message) and the resolution
 * of tables (one per embedding_name), groups (first-seen: sparse first, then varlen) and dense
 * offsets. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/strmap.h"
#include "core/error.h"
#include "feature/schema_internal.h"

typedef struct problems {
    char msg[960];
    size_t len;
    int count, shown;
} problems;

static void problem(problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(problems *p, const char *fmt, ...) {
    p->count++;
    if (p->len + 8 >= sizeof p->msg)
        return;
    char line[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t need = strlen(line) + 2;
    if (p->len + need + 24 >= sizeof p->msg)
        return;
    p->len += (size_t)snprintf(p->msg + p->len, sizeof p->msg - p->len, "%s%s",
                               p->shown ? "; " : "", line);
    p->shown++;
}

static const char *kind_name(dctr_column_kind k) {
    return k == DCTR_COLUMN_SPARSE ? "sparse" : k == DCTR_COLUMN_DENSE ? "dense" : "varlen";
}

static void check_sparse(problems *p, const dctr_column *c) {
    const char *n = c->name;
    if (c->requested_vocab < 0 || c->requested_vocab > DCTR_MAX_VOCAB)
        problem(p, "%s: vocabulary_size %lld out of range", n, (long long)c->requested_vocab);
    if (c->requested_dim != DCTR_EMBEDDING_DIM_AUTO &&
        (c->requested_dim < 1 || c->requested_dim > DCTR_MAX_EMBED_DIM))
        problem(p, "%s: embedding_dim %d (must be >= 1 or DCTR_EMBEDDING_DIM_AUTO)", n,
                (int)c->requested_dim);
    if ((int)c->dtype != DCTR_DTYPE_INT && (int)c->dtype != DCTR_DTYPE_STRING)
        problem(p, "%s: unknown dtype %d", n, (int)c->dtype);
    if (c->use_hash && c->requested_vocab < (c->kind == DCTR_COLUMN_VARLEN ? 2 : 1) &&
        !c->vocabulary_path)
        problem(p, "%s: use_hash needs vocabulary_size (the bucket count) >= %d", n,
                c->kind == DCTR_COLUMN_VARLEN ? 2 : 1);
    if (c->dtype == DCTR_DTYPE_STRING && c->requested_vocab > 0 && !c->use_hash &&
        !c->vocabulary_path)
        problem(p, "%s: a string feature needs use_hash, a vocabulary_path, or vocabulary_size 0 "
                   "(fit a vocabulary)", n);
    if (!(c->init_std >= 0.0f) || !isfinite(c->init_std))
        problem(p, "%s: init_std must be finite and >= 0", n);
    if ((int)c->oov_policy < DCTR_OOV_ERROR || (int)c->oov_policy > DCTR_OOV_HASH)
        problem(p, "%s: unknown oov_policy %d", n, (int)c->oov_policy);
    if (c->min_count < 0)
        problem(p, "%s: min_count %lld < 0", n, (long long)c->min_count);
    if (c->oov_buckets < 0 || c->oov_buckets > DCTR_MAX_VOCAB)
        problem(p, "%s: oov_buckets %lld out of range", n, (long long)c->oov_buckets);
    if (c->vocabulary_path && !*c->vocabulary_path)
        problem(p, "%s: empty vocabulary_path", n);
    if (!c->embedding_name[0])
        problem(p, "%s: empty embedding_name", n);
    if (!c->group_name[0])
        problem(p, "%s: empty group_name", n);
    if (c->kind == DCTR_COLUMN_VARLEN) {
        if (c->maxlen < 1 || c->maxlen > DCTR_MAX_MAXLEN)
            problem(p, "%s: maxlen %d out of range [1, %d]", n, (int)c->maxlen, DCTR_MAX_MAXLEN);
        if ((int)c->combiner < DCTR_COMBINER_SUM || (int)c->combiner > DCTR_COMBINER_MAX)
            problem(p, "%s: combiner %d is not sum, mean or max", n, (int)c->combiner);
        if (c->separator == '\0' || c->separator == '"' || c->separator == '\n' ||
            c->separator == '\r')
            problem(p, "%s: separator must be a printable character other than '\"'", n);
        if (c->length_name && !*c->length_name)
            problem(p, "%s: empty length_name", n);
        if (c->weight_name && !*c->weight_name)
            problem(p, "%s: empty weight_name", n);
    }
}

static void check_dense(problems *p, const dctr_column *c) {
    const char *n = c->name;
    if (c->dense_dim < 1 || c->dense_dim > DCTR_MAX_DENSE_DIM)
        problem(p, "%s: dimension %d out of range [1, %d]", n, (int)c->dense_dim,
                DCTR_MAX_DENSE_DIM);
    if ((int)c->transform < DCTR_TRANSFORM_NONE || (int)c->transform > DCTR_TRANSFORM_STANDARDIZE)
        problem(p, "%s: unknown transform %d", n, (int)c->transform);
    if (!isfinite(c->fill_value))
        problem(p, "%s: fill_value must be finite", n);
    if (c->dense_dim > 1 && (c->separator == '\0' || c->separator == '"' || c->separator == '\n'))
        problem(p, "%s: separator must be a printable character other than '\"'", n);
}

/* Every input name (columns, varlen length/weight columns, label, sample weight) is unique,
 * except that two varlen columns may share a length or weight column. */
/* names: each column name -> its first column (linear time, so any width validates). */
static void check_names(problems *p, const dctr_schema *s, const dctr_strmap *names) {
    const char *label = dctr_schema_label_name(s);
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (!c->name[0]) {
            problem(p, "column #%d: empty name", (int)i);
            continue;
        }
        int32_t j = dctr_strmap_get(names, c->name);
        if (j >= 0 && j < i)
            problem(p, "%s: duplicate feature name (columns #%d and #%d)", c->name, (int)j, (int)i);
        if (strcmp(c->name, label) == 0)
            problem(p, "%s: feature name equals the label column", c->name);
        if (s->weight_column && strcmp(c->name, s->weight_column) == 0)
            problem(p, "%s: feature name equals the sample-weight column", c->name);
        if (c->kind == DCTR_COLUMN_VARLEN) {
            const char *aux[2] = {c->length_name, c->weight_name};
            for (int k = 0; k < 2; k++) {
                if (!aux[k] || !*aux[k])
                    continue;
                if (dctr_strmap_get(names, aux[k]) >= 0)
                    problem(p, "%s: %s '%s' is also a feature column", c->name,
                            k ? "weight_name" : "length_name", aux[k]);
                if (strcmp(aux[k], label) == 0)
                    problem(p, "%s: %s '%s' equals the label column", c->name,
                            k ? "weight_name" : "length_name", aux[k]);
            }
            if (c->length_name && c->weight_name && strcmp(c->length_name, c->weight_name) == 0)
                problem(p, "%s: length_name and weight_name are the same", c->name);
        }
    }
    if (s->weight_column && strcmp(s->weight_column, label) == 0)
        problem(p, "sample-weight column '%s' equals the label column", s->weight_column);
}

/* Columns sharing an embedding_name must agree on V, k, trainable (and, when the vocabulary is
 * fitted, on dtype and OOV policy, since they share one vocabulary). */
/* tables: each embedding_name -> the first sparse / varlen column using it. */
static void check_shared(problems *p, const dctr_schema *s, const dctr_strmap *tables) {
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (c->kind == DCTR_COLUMN_DENSE)
            continue;
        int32_t j = dctr_strmap_get(tables, c->embedding_name); /* the table's first user */
        if (j >= 0 && j < i) {
            const dctr_column *f = &s->cols[j];
            if (f->requested_vocab != c->requested_vocab)
                problem(p, "%s: shares embedding '%s' with %s but vocabulary_size %lld != %lld",
                        c->name, c->embedding_name, f->name, (long long)c->requested_vocab,
                        (long long)f->requested_vocab);
            if (f->requested_dim != c->requested_dim)
                problem(p, "%s: shares embedding '%s' with %s but embedding_dim %d != %d", c->name,
                        c->embedding_name, f->name, (int)c->requested_dim, (int)f->requested_dim);
            if (f->trainable != c->trainable)
                problem(p, "%s: shares embedding '%s' with %s but trainable differs", c->name,
                        c->embedding_name, f->name);
            if (dctr_column_fits_vocab(c) != dctr_column_fits_vocab(f) ||
                (dctr_column_fits_vocab(c) &&
                 (c->dtype != f->dtype || c->oov_policy != f->oov_policy)))
                problem(p, "%s: shares embedding '%s' with %s but their encoders differ (a shared "
                           "fitted vocabulary needs the same dtype and oov_policy)",
                        c->name, c->embedding_name, f->name);
        }
    }
}

/* The column-name and table-name maps of check_names / check_shared. */
static dctr_status name_maps(const dctr_schema *s, dctr_strmap *names, dctr_strmap *tables) {
    memset(tables, 0, sizeof *tables); /* both freeable whatever fails */
    DCTR_TRY(dctr_strmap_init(names, (size_t)s->ncols));
    DCTR_TRY(dctr_strmap_init(tables, (size_t)s->ncols));
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        int32_t old;
        DCTR_TRY(dctr_strmap_put(names, c->name, i, &old));
        if (c->kind != DCTR_COLUMN_DENSE && c->embedding_name)
            DCTR_TRY(dctr_strmap_put(tables, c->embedding_name, i, &old));
    }
    return DCTR_OK;
}

dctr_status dctr_schema_validate(dctr_schema *s) {
    if (!s)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_validate: schema is NULL");
    if (s->validated)
        return DCTR_OK;
    problems p;
    memset(&p, 0, sizeof p);
    if (s->ncols == 0)
        problem(&p, "schema has no feature columns");
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if ((int)c->kind == DCTR_COLUMN_DENSE)
            check_dense(&p, c);
        else if ((int)c->kind == DCTR_COLUMN_SPARSE || (int)c->kind == DCTR_COLUMN_VARLEN)
            check_sparse(&p, c);
        else
            problem(&p, "%s: unknown column kind %d", c->name, (int)c->kind);
    }
    dctr_strmap names, tables;
    dctr_status st = name_maps(s, &names, &tables);
    if (st == DCTR_OK) {
        check_names(&p, s, &names);
        check_shared(&p, s, &tables);
    }
    dctr_strmap_free(&names);
    dctr_strmap_free(&tables);
    if (st != DCTR_OK)
        return st;
    if (p.count > 0) {
        if (p.count > p.shown)
            return dctr_set_error(DCTR_ERR_SCHEMA, "invalid schema (%d problems): %s; ... and %d more",
                                  p.count, p.msg, p.count - p.shown);
        return dctr_set_error(DCTR_ERR_SCHEMA, "invalid schema (%d problem%s): %s", p.count,
                              p.count == 1 ? "" : "s", p.msg);
    }
    (void)kind_name;
    DCTR_TRY(dctr_schema_resolve(s));
    s->validated = 1;
    return DCTR_OK;
}

/* Groups and tables in first-use order (lookups through hash maps: linear in the columns). */
static dctr_status resolve_tables(dctr_schema *s, dctr_strmap *gmap, dctr_strmap *tmap);

dctr_status dctr_schema_resolve(dctr_schema *s) {
    dctr_schema_free_tables(s);
    size_t n = (size_t)s->ncols + 1;
    s->tables = dctr_calloc(n, sizeof *s->tables);
    s->groups = dctr_calloc(n, sizeof *s->groups);
    if (!s->tables || !s->groups)
        return DCTR_ERR_NOMEM;
    dctr_strmap gmap, tmap;
    memset(&tmap, 0, sizeof tmap);
    dctr_status st = dctr_strmap_init(&gmap, n);
    if (st == DCTR_OK)
        st = dctr_strmap_init(&tmap, n);
    if (st == DCTR_OK)
        st = resolve_tables(s, &gmap, &tmap);
    dctr_strmap_free(&gmap);
    dctr_strmap_free(&tmap);
    DCTR_TRY(st);
    for (int32_t i = 0; i < s->ncols; i++) {
        dctr_column *c = &s->cols[i];
        if (c->kind == DCTR_COLUMN_DENSE)
            continue;
        c->vocab_size = s->tables[c->table].vocab_size;
        c->dim = s->tables[c->table].dim;
    }
    int32_t off = 0;
    for (int32_t i = 0; i < s->ncols; i++) {
        dctr_column *c = &s->cols[i];
        if (c->kind != DCTR_COLUMN_DENSE)
            continue;
        c->dense_offset = off;
        off += c->dense_dim;
    }
    s->total_dense_dim = off;
    return DCTR_OK;
}

static dctr_status resolve_tables(dctr_schema *s, dctr_strmap *gmap, dctr_strmap *tmap) {
    int32_t old;
    /* pass 0: sparse columns, pass 1: varlen columns (DeepCTR's order) */
    for (int pass = 0; pass < 2; pass++) {
        dctr_column_kind want = pass == 0 ? DCTR_COLUMN_SPARSE : DCTR_COLUMN_VARLEN;
        for (int32_t i = 0; i < s->ncols; i++) {
            dctr_column *c = &s->cols[i];
            if (c->kind != want)
                continue;
            int32_t g = dctr_strmap_get(gmap, c->group_name);
            if (g < 0) {
                g = s->ngroups;
                s->groups[g] = dctr_strdup(c->group_name);
                if (!s->groups[g])
                    return DCTR_ERR_NOMEM;
                s->ngroups++;
                DCTR_TRY(dctr_strmap_put(gmap, s->groups[g], g, &old));
            }
            c->group = g;
            int32_t t = dctr_strmap_get(tmap, c->embedding_name);
            if (t < 0) {
                t = s->ntables;
                dctr_table_info *ti = &s->tables[t];
                ti->name = dctr_strdup(c->embedding_name);
                if (!ti->name)
                    return DCTR_ERR_NOMEM;
                ti->vocab_size = c->vocab_size;
                ti->dim = c->requested_dim == DCTR_EMBEDDING_DIM_AUTO
                              ? dctr_auto_embedding_dim(c->vocab_size)
                              : c->requested_dim;
                ti->trainable = c->trainable;
                ti->init_std = c->init_std;
                ti->mask_zero = 0;
                s->ntables++;
                DCTR_TRY(dctr_strmap_put(tmap, ti->name, t, &old));
            }
            if (c->kind == DCTR_COLUMN_VARLEN)
                s->tables[t].mask_zero = 1;
            c->table = t;
        }
    }
    return DCTR_OK;
}
