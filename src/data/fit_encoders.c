/* Fitting the schema's encoders on training data: label vocabularies (one counting pass,
 * min_count, ids by sorted key), dense statistics (min/max, mean/std over the filled values)
 * and vocabulary files. The fitted schema is frozen. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/csv_input.h"
#include "data/vocab_file.h"
#include "feature/encode.h"
#include "feature/numparse.h"
#include "feature/schema_internal.h"
#include "feature/schema_io.h"
#include "deepctr/collective.h"

int dctr_schema_is_fitted(const dctr_schema *s) { return s && s->fitted; }

static int needs_data(const dctr_column *c) {
    if (c->kind == DCTR_COLUMN_DENSE)
        return c->transform == DCTR_TRANSFORM_MINMAX || c->transform == DCTR_TRANSFORM_STANDARDIZE;
    return dctr_column_fits_vocab(c);
}

#include "data/fit_internal.h"

typedef dctr_dense_stats dense_stats;

typedef struct fit_state {
    dctr_vocab **counts; /* per column (owners only) */
    dense_stats *stats;  /* per column */
    int32_t *owner;
    int32_t *next;       /* per fitted column: the next fitted column of its table, or -1 */
    double *raw;         /* scratch for one dense field */
} fit_state;

static dctr_status count_key(const dctr_column *c, dctr_vocab *v, const char *s, size_t len,
                             const dctr_loc *loc) {
    char buf[24];
    const char *key;
    size_t klen;
    DCTR_TRY(dctr_encode_key(c, s, len, buf, &key, &klen, loc));
    dctr_vocab_slot *sl;
    DCTR_TRY(dctr_vocab_upsert(v, key, klen, dctr_fingerprint64(key, klen), &sl));
    sl->value++;
    return DCTR_OK;
}

static dctr_status fit_record(const dctr_schema *s, dctr_csv_input *in, fit_state *fs) {
    dctr_csv_tok *t = &in->tok;
    dctr_loc loc = {t->path, 0, 0};
    for (int32_t i = 0; i < in->nmap; i++) {
        const dctr_csv_target tg = in->map[i];
        const dctr_csv_field *f = &t->f[i];
        loc.line = f->line;
        loc.col = f->col;
        if (tg.kind == DCTR_TGT_LABEL) {
            float lab;
            if (f->len == 0 && in->opts.require_label)
                return dctr_loc_error(DCTR_ERR_PARSE, &loc, dctr_schema_label_name(s),
                                      "missing label");
            if (f->len > 0)
                DCTR_TRY(dctr_encode_float(dctr_schema_label_name(s), f->p, f->len, &lab, &loc));
            continue;
        }
        if (tg.kind != DCTR_TGT_COL)
            continue;
        const dctr_column *c = &s->cols[tg.col];
        if (!needs_data(c))
            continue;
        if (c->kind == DCTR_COLUMN_DENSE) {
            DCTR_TRY(dctr_parse_dense(c, f->p, f->len, fs->raw, &loc));
            dense_stats *ds = &fs->stats[tg.col];
            for (int32_t k = 0; k < c->dense_dim; k++) {
                double x = fs->raw[k];
                if (ds->n == 0 || x < ds->min)
                    ds->min = x;
                if (ds->n == 0 || x > ds->max)
                    ds->max = x;
                ds->sum += x;
                ds->sumsq += x * x;
                ds->n++;
            }
        } else {
            dctr_vocab *v = fs->counts[fs->owner[tg.col]];
            if (c->kind == DCTR_COLUMN_SPARSE) {
                DCTR_TRY(count_key(c, v, f->p, f->len, &loc));
            } else {
                size_t a = 0;
                while (a < f->len) {
                    const char *e = memchr(f->p + a, c->separator, f->len - a);
                    size_t b = e ? (size_t)(e - f->p) : f->len;
                    if (b > a)
                        DCTR_TRY(count_key(c, v, f->p + a, b - a, &loc));
                    a = b + 1;
                }
            }
        }
    }
    return DCTR_OK;
}

typedef struct key_ref {
    const char *key;
    uint32_t len;
    int64_t num; /* int columns: numeric value ("" sorts first) */
    int empty;
} key_ref;

static int cmp_bytes(const void *pa, const void *pb) {
    const key_ref *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->key, b->key, n);
    if (r)
        return r;
    return (a->len > b->len) - (a->len < b->len);
}

static int cmp_num(const void *pa, const void *pb) {
    const key_ref *a = pa, *b = pb;
    if (a->empty != b->empty)
        return b->empty - a->empty;
    return (a->num > b->num) - (a->num < b->num);
}

/* For every column that fits a vocabulary: owner[i] = the first such column of its table (it
 * holds the table's counts), next[i] = the table's next such column, or -1. One pass, so wide
 * schemas fit in linear time. */
static dctr_status table_links(const dctr_schema *s, int32_t *owner, int32_t *next) {
    int32_t *first = dctr_malloc(2 * ((size_t)s->ntables + 1) * sizeof *first);
    if (!first)
        return DCTR_ERR_NOMEM;
    int32_t *tail = first + s->ntables + 1;
    for (int32_t t = 0; t < s->ntables; t++)
        first[t] = -1;
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        owner[i] = i;
        next[i] = -1;
        if (!dctr_column_fits_vocab(c))
            continue;
        if (first[c->table] < 0)
            first[c->table] = i;
        else
            next[tail[c->table]] = i;
        tail[c->table] = i;
        owner[i] = first[c->table];
    }
    dctr_free(first);
    return DCTR_OK;
}

/* Builds the id vocabulary of one table from its counts and installs it on every column of
 * the table. Ids: sorted keys (bytes for strings, numeric for ints) from `base`. */
static dctr_status build_vocab(dctr_schema *s, int32_t owner, const dctr_vocab *counts,
                               const int32_t *next) {
    dctr_column *oc = &s->cols[owner];
    int64_t min_count = oc->min_count > 1 ? oc->min_count : 1;
    key_ref *keys = dctr_malloc(sizeof *keys * (size_t)(counts->n + 1));
    if (!keys)
        return DCTR_ERR_NOMEM;
    int64_t n = 0;
    for (const dctr_vocab_slot *sl = NULL; (sl = dctr_vocab_next(counts, sl)) != NULL;) {
        if (sl->value < min_count)
            continue;
        key_ref *k = &keys[n++];
        k->key = dctr_vocab_key(counts, sl);
        k->len = sl->len;
        k->empty = sl->len == 0;
        k->num = 0;
        if (oc->dtype == DCTR_DTYPE_INT && sl->len > 0)
            (void)dctr_parse_int64(k->key, k->len, &k->num);
    }
    qsort(keys, (size_t)n, sizeof *keys, oc->dtype == DCTR_DTYPE_INT ? cmp_num : cmp_bytes);
    int mask = s->tables[oc->table].mask_zero;
    int64_t base = (mask || oc->oov_policy == DCTR_OOV_RESERVED_ROW) ? 1 : 0;
    dctr_vocab *v;
    dctr_status st = dctr_vocab_new(n, &v);
    for (int64_t i = 0; i < n && st == DCTR_OK; i++) {
        dctr_vocab_slot *sl;
        st = dctr_vocab_upsert(v, keys[i].key, keys[i].len,
                               dctr_fingerprint64(keys[i].key, keys[i].len), &sl);
        if (st == DCTR_OK)
            sl->value = base + i;
    }
    dctr_free(keys);
    if (st != DCTR_OK) {
        dctr_vocab_free(v);
        return st;
    }
    int64_t buckets = 0;
    if (oc->oov_policy == DCTR_OOV_HASH)
        buckets = oc->oov_buckets > 0 ? oc->oov_buckets : (n / 10 > 1 ? n / 10 : 1);
    int64_t V = base + n + buckets;
    if (V < 1)
        V = 1;
    for (int32_t j = owner; j >= 0; j = next[j]) { /* the table's fitted users, in order */
        dctr_column *c = &s->cols[j];
        if (c->owns_vocab && c->vocab)
            dctr_vocab_free(c->vocab);
        c->vocab = v;
        c->owns_vocab = j == owner;
        c->vocab_base = base;
        c->vocab_count = n;
        c->oov_buckets = buckets;
        c->vocab_size = V;
    }
    return DCTR_OK;
}

static dctr_status load_vocab_files(dctr_schema *s) {
    for (int32_t i = 0; i < s->ncols; i++) {
        dctr_column *c = &s->cols[i];
        if (c->kind != DCTR_COLUMN_DENSE && c->vocabulary_path)
            DCTR_TRY(dctr_vocab_load_file(c));
    }
    return DCTR_OK;
}

/* Copies the fitted vocabulary sizes into the tables and resolves "auto" dims. */
static dctr_status finish(dctr_schema *s) {
    /* tables take V from their first column: make every user agree (the same table) */
    DCTR_TRY(dctr_schema_resolve(s));
    s->fitted = 1;
    s->has_fingerprint = 0;
    DCTR_TRY(dctr_schema_fingerprint(s, &s->fingerprint));
    s->has_fingerprint = 1;
    return DCTR_OK;
}

dctr_status dctr_schema_fit_none(dctr_schema *s) {
    if (!s)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_fit_none: schema is NULL");
    if (s->fitted)
        return dctr_set_error(DCTR_ERR_STATE, "dctr_schema_fit_none: the schema is already fitted");
    DCTR_TRY(dctr_schema_validate(s));
    for (int32_t i = 0; i < s->ncols; i++)
        if (needs_data(&s->cols[i]))
            return dctr_set_error(DCTR_ERR_STATE,
                                  "%s: needs training data to fit (%s); use dctr_schema_fit_csv",
                                  s->cols[i].name,
                                  s->cols[i].kind == DCTR_COLUMN_DENSE ? "dense statistics"
                                                                       : "a label vocabulary");
    DCTR_TRY(load_vocab_files(s));
    return finish(s);
}

static dctr_status store_header(dctr_schema *s, const dctr_csv_input *in) {
    /* The header order is recorded for dctr_batch_add_csv_row without names; ignored extra
     * columns keep their names so serving rows may carry them too. */
    int32_t n = in->nmap;
    s->fit_header = dctr_calloc((size_t)n + 1, sizeof(char *));
    if (!s->fit_header)
        return DCTR_ERR_NOMEM;
    for (int32_t i = 0; i < n; i++) {
        const dctr_csv_target tg = in->map[i];
        const char *name = in->header ? in->header[i] : NULL;
        if (!name) {
            switch (tg.kind) {
            case DCTR_TGT_COL: name = s->cols[tg.col].name; break;
            case DCTR_TGT_LABEL: name = dctr_schema_label_name(s); break;
            case DCTR_TGT_WEIGHT: name = s->weight_column; break;
            case DCTR_TGT_LENGTH: name = s->cols[tg.col].length_name; break;
            case DCTR_TGT_VWEIGHT: name = s->cols[tg.col].weight_name; break;
            default: name = ""; break;
            }
        }
        s->fit_header[i] = dctr_strdup(name);
        if (!s->fit_header[i])
            return DCTR_ERR_NOMEM;
        s->fit_header_n = i + 1;
    }
    return DCTR_OK;
}

/* coll: the distributed fit (dctr_schema_fit_csv_collective), else NULL. */
static dctr_status fit_csv(dctr_schema *s, const char *path, const dctr_csv_options *opts,
                           struct dctr_collective *coll) {
    if (!s || !path)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_fit_csv: NULL argument");
    if (s->fitted)
        return dctr_set_error(DCTR_ERR_STATE, "dctr_schema_fit_csv: the schema is already fitted");
    dctr_csv_input in;
    dctr_status st0 = dctr_schema_validate(s);
    if (st0 == DCTR_OK)
        st0 = load_vocab_files(s);
    if (st0 == DCTR_OK)
        st0 = dctr_csv_input_open(&in, s, path, opts);
    if (st0 != DCTR_OK) /* distributed: the other ranks learn it at the merge */
        return coll ? dctr_fit_merge_ranks(coll, st0, s, NULL, NULL, NULL, NULL) : st0;
    fit_state fs;
    memset(&fs, 0, sizeof fs);
    size_t nc = (size_t)s->ncols + 1;
    fs.counts = dctr_calloc(nc, sizeof *fs.counts);
    fs.stats = dctr_calloc(nc, sizeof *fs.stats);
    fs.owner = dctr_calloc(nc, sizeof *fs.owner);
    fs.next = dctr_calloc(nc, sizeof *fs.next);
    int32_t maxdim = 1;
    for (int32_t i = 0; i < s->ncols; i++)
        if (s->cols[i].kind == DCTR_COLUMN_DENSE && s->cols[i].dense_dim > maxdim)
            maxdim = s->cols[i].dense_dim;
    fs.raw = dctr_malloc(sizeof(double) * (size_t)maxdim);
    dctr_status st = (fs.counts && fs.stats && fs.owner && fs.next && fs.raw) ? DCTR_OK : DCTR_ERR_NOMEM;
    if (st == DCTR_OK)
        st = table_links(s, fs.owner, fs.next);
    for (int32_t i = 0; i < s->ncols && st == DCTR_OK; i++) {
        if (!dctr_column_fits_vocab(&s->cols[i]))
            continue;
        if (fs.owner[i] == i)
            st = dctr_vocab_new(1024, &fs.counts[i]);
    }
    int64_t rows = 0;
    while (st == DCTR_OK) {
        int got;
        st = dctr_csv_input_next(&in, &got);
        if (st != DCTR_OK || !got)
            break;
        st = fit_record(s, &in, &fs);
        rows++;
    }
    if (coll) /* every rank's counts and statistics into this rank's */
        st = dctr_fit_merge_ranks(coll, st, s, fs.counts, fs.owner, fs.stats, &rows);
    if (st == DCTR_OK && rows == 0)
        st = dctr_set_error(DCTR_ERR_PARSE, "%s: no data rows to fit on", path);
    for (int32_t i = 0; i < s->ncols && st == DCTR_OK; i++) {
        dctr_column *c = &s->cols[i];
        if (dctr_column_fits_vocab(c) && fs.owner[i] == i)
            st = build_vocab(s, i, fs.counts[i], fs.next);
        if (c->kind == DCTR_COLUMN_DENSE && needs_data(c)) {
            const dense_stats *ds = &fs.stats[i];
            if (c->transform == DCTR_TRANSFORM_MINMAX) {
                c->stat_a = ds->min;
                c->stat_b = ds->max;
            } else {
                double mean = ds->sum / (double)ds->n;
                double var = ds->sumsq / (double)ds->n - mean * mean;
                c->stat_a = mean;
                c->stat_b = var > 0.0 ? sqrt(var) : 1.0;
            }
        }
    }
    if (st == DCTR_OK)
        st = store_header(s, &in);
    if (st == DCTR_OK)
        st = finish(s);
    for (int32_t i = 0; i < s->ncols; i++)
        if (fs.counts)
            dctr_vocab_free(fs.counts[i]);
    dctr_free(fs.counts);
    dctr_free(fs.stats);
    dctr_free(fs.owner);
    dctr_free(fs.next);
    dctr_free(fs.raw);
    dctr_csv_input_close(&in);
    return st;
}

dctr_status dctr_schema_fit_csv(dctr_schema *s, const char *path, const dctr_csv_options *opts) {
    return fit_csv(s, path, opts, NULL);
}

dctr_status dctr_schema_fit_csv_collective(dctr_schema *s, const char *path,
                                           const dctr_csv_options *opts, dctr_collective *coll) {
    if (!coll)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_fit_csv_collective: coll is NULL");
    return fit_csv(s, path, opts, coll);
}

/* ---------------- shared with src/data/fit_arrays.c (the same fit on caller arrays) ------- */

int dctr_fit_needs_data(const dctr_column *c) { return needs_data(c); }
dctr_status dctr_fit_table_links(const dctr_schema *s, int32_t *owner, int32_t *next) {
    return table_links(s, owner, next);
}
dctr_status dctr_fit_count_key(const dctr_column *c, dctr_vocab *v, const char *s, size_t len,
                               const dctr_loc *loc) {
    return count_key(c, v, s, len, loc);
}
dctr_status dctr_fit_build_vocab(dctr_schema *s, int32_t owner, const dctr_vocab *counts,
                                 const int32_t *next) {
    return build_vocab(s, owner, counts, next);
}
dctr_status dctr_fit_load_vocab_files(dctr_schema *s) { return load_vocab_files(s); }
dctr_status dctr_fit_finish(dctr_schema *s) { return finish(s); }
