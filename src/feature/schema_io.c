/* Schema serialization (see schema_io.h). Vocabulary entries are written sorted by (id, key),
 * so a schema that was read back serializes to the same bytes. */
#include "feature/schema_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "feature/schema_internal.h"

#define SCHEMA_FORMAT 1u
#define MAX_NAME 4096
#define MAX_COLS DCTR_MAX_COLUMNS

typedef struct entry_ref {
    int64_t value;
    const char *key;
    uint32_t len;
} entry_ref;

static int cmp_entry(const void *pa, const void *pb) {
    const entry_ref *a = pa, *b = pb;
    if (a->value != b->value)
        return (a->value > b->value) - (a->value < b->value);
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->key, b->key, n);
    return r ? r : (a->len > b->len) - (a->len < b->len);
}

static dctr_status write_vocab(const dctr_vocab *v, dctr_wbuf *w) {
    entry_ref *e = dctr_malloc(sizeof *e * (size_t)(v->n + 1));
    if (!e)
        return DCTR_ERR_NOMEM;
    int64_t n = 0;
    for (const dctr_vocab_slot *s = NULL; (s = dctr_vocab_next(v, s)) != NULL;) {
        e[n].value = s->value;
        e[n].key = dctr_vocab_key(v, s);
        e[n].len = s->len;
        n++;
    }
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    dctr_wbuf_i64(w, n);
    for (int64_t i = 0; i < n; i++) {
        dctr_wbuf_i64(w, e[i].value);
        dctr_wbuf_u32(w, e[i].len);
        dctr_wbuf_bytes(w, e[i].key, e[i].len);
    }
    dctr_free(e);
    return DCTR_OK;
}

dctr_status dctr_schema_write(const dctr_schema *s, dctr_wbuf *w) {
    if (!s || !w)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_write: NULL argument");
    dctr_wbuf_u32(w, SCHEMA_FORMAT);
    dctr_wbuf_str(w, s->label_name);
    dctr_wbuf_str(w, s->weight_column);
    dctr_wbuf_u8(w, (uint8_t)(s->validated != 0));
    dctr_wbuf_u8(w, (uint8_t)(s->fitted != 0));
    dctr_wbuf_i32(w, s->ncols);
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        dctr_wbuf_u8(w, (uint8_t)c->kind);
        dctr_wbuf_str(w, c->name);
        if (c->kind == DCTR_COLUMN_DENSE) {
            dctr_wbuf_i32(w, c->dense_dim);
            dctr_wbuf_u8(w, (uint8_t)c->transform);
            dctr_wbuf_f32(w, c->fill_value);
            dctr_wbuf_u8(w, (uint8_t)c->separator);
            dctr_wbuf_f64(w, c->stat_a);
            dctr_wbuf_f64(w, c->stat_b);
            continue;
        }
        dctr_wbuf_i64(w, c->requested_vocab);
        dctr_wbuf_i64(w, c->vocab_size);
        dctr_wbuf_i32(w, c->requested_dim);
        dctr_wbuf_u8(w, (uint8_t)c->use_hash);
        dctr_wbuf_u8(w, (uint8_t)c->dtype);
        dctr_wbuf_u8(w, (uint8_t)c->oov_policy);
        dctr_wbuf_i64(w, c->min_count);
        dctr_wbuf_i64(w, c->oov_buckets);
        dctr_wbuf_str(w, c->vocabulary_path);
        dctr_wbuf_str(w, c->embedding_name);
        dctr_wbuf_str(w, c->group_name);
        dctr_wbuf_u8(w, (uint8_t)c->trainable);
        dctr_wbuf_f32(w, c->init_std);
        dctr_wbuf_i64(w, c->vocab_base);
        dctr_wbuf_i64(w, c->vocab_count);
        if (c->kind == DCTR_COLUMN_VARLEN) {
            dctr_wbuf_i32(w, c->maxlen);
            dctr_wbuf_u8(w, (uint8_t)c->combiner);
            dctr_wbuf_str(w, c->length_name);
            dctr_wbuf_str(w, c->weight_name);
            dctr_wbuf_u8(w, (uint8_t)c->weight_norm);
            dctr_wbuf_u8(w, (uint8_t)c->separator);
        }
        /* vocabulary: 0 none, 1 own entries, 2 shared with an earlier column */
        if (!c->vocab) {
            dctr_wbuf_u8(w, 0);
        } else if (c->owns_vocab) {
            dctr_wbuf_u8(w, 1);
            DCTR_TRY(write_vocab(c->vocab, w));
        } else {
            int32_t j = 0;
            for (j = 0; j < i; j++)
                if (s->cols[j].vocab == c->vocab)
                    break;
            dctr_wbuf_u8(w, 2);
            dctr_wbuf_i32(w, j);
        }
    }
    dctr_wbuf_i32(w, s->fit_header_n);
    for (int32_t i = 0; i < s->fit_header_n; i++)
        dctr_wbuf_str(w, s->fit_header[i]);
    return dctr_wbuf_status(w);
}

static dctr_status bad(const dctr_rbuf *r, const char *fmt, const char *name, long long v) {
    return dctr_set_error(DCTR_ERR_FORMAT, "%s: schema at offset %zu: column '%s': %s %lld",
                          r->origin ? r->origin : "schema", r->pos, name, fmt, v);
}

static dctr_status read_vocab(dctr_rbuf *r, dctr_column *c, dctr_vocab **out) {
    int64_t n;
    DCTR_TRY(dctr_rbuf_i64(r, &n, "vocabulary size"));
    if (n < 0 || n > DCTR_MAX_VOCAB)
        return bad(r, "vocabulary entry count", c->name, (long long)n);
    DCTR_TRY(dctr_rbuf_need(r, (uint64_t)n, 12, "vocabulary entries"));
    dctr_vocab *v;
    DCTR_TRY(dctr_vocab_new(n, &v));
    dctr_status st = DCTR_OK;
    for (int64_t i = 0; i < n && st == DCTR_OK; i++) {
        int64_t value;
        uint32_t len;
        st = dctr_rbuf_i64(r, &value, "vocabulary id");
        if (st == DCTR_OK)
            st = dctr_rbuf_u32(r, &len, "vocabulary key length");
        if (st != DCTR_OK)
            break;
        if (value < 0 || value >= c->vocab_size) {
            st = bad(r, "vocabulary id out of range:", c->name, (long long)value);
            break;
        }
        if (len > DCTR_VOCAB_MAX_KEY || len > dctr_rbuf_remaining(r)) {
            st = bad(r, "vocabulary key length", c->name, (long long)len);
            break;
        }
        const char *key = (const char *)r->data + r->pos;
        r->pos += len;
        dctr_vocab_slot *sl;
        int64_t before = v->n;
        st = dctr_vocab_upsert(v, key, len, dctr_fingerprint64(key, len), &sl);
        if (st == DCTR_OK && v->n == before)
            st = bad(r, "duplicate vocabulary key at entry", c->name, (long long)i);
        if (st == DCTR_OK)
            sl->value = value;
    }
    if (st != DCTR_OK) {
        dctr_vocab_free(v);
        return st;
    }
    *out = v;
    return DCTR_OK;
}

static dctr_status read_str(dctr_rbuf *r, char **out, const char *what, int allow_null) {
    DCTR_TRY(dctr_rbuf_str(r, out, MAX_NAME, what));
    if (!*out && !allow_null)
        return dctr_set_error(DCTR_ERR_FORMAT, "%s: schema: %s is missing",
                              r->origin ? r->origin : "schema", what);
    return DCTR_OK;
}

static dctr_status read_column(dctr_rbuf *r, dctr_schema *s, int32_t i) {
    dctr_column *c = &s->cols[i];
    uint8_t kind, u8;
    DCTR_TRY(dctr_rbuf_u8(r, &kind, "column kind"));
    c->index = i;
    c->table = c->group = -1;
    c->owns_vocab = 1;
    if (kind > DCTR_COLUMN_VARLEN)
        return bad(r, "column kind", "?", kind);
    c->kind = (dctr_column_kind)kind;
    DCTR_TRY(read_str(r, &c->name, "column name", 0));
    if (c->kind == DCTR_COLUMN_DENSE) {
        DCTR_TRY(dctr_rbuf_i32(r, &c->dense_dim, "dense dimension"));
        DCTR_TRY(dctr_rbuf_u8(r, &u8, "transform"));
        c->transform = (dctr_transform)u8;
        DCTR_TRY(dctr_rbuf_f32(r, &c->fill_value, "fill value"));
        DCTR_TRY(dctr_rbuf_u8(r, &u8, "separator"));
        c->separator = (char)u8;
        DCTR_TRY(dctr_rbuf_f64(r, &c->stat_a, "dense statistic a"));
        DCTR_TRY(dctr_rbuf_f64(r, &c->stat_b, "dense statistic b"));
        if (!isfinite(c->stat_a) || !isfinite(c->stat_b))
            return bad(r, "non-finite dense statistics", c->name, 0);
        return DCTR_OK;
    }
    DCTR_TRY(dctr_rbuf_i64(r, &c->requested_vocab, "vocabulary_size"));
    DCTR_TRY(dctr_rbuf_i64(r, &c->vocab_size, "fitted vocabulary size"));
    DCTR_TRY(dctr_rbuf_i32(r, &c->requested_dim, "embedding_dim"));
    DCTR_TRY(dctr_rbuf_u8(r, &u8, "use_hash"));
    c->use_hash = u8 != 0;
    DCTR_TRY(dctr_rbuf_u8(r, &u8, "dtype"));
    c->dtype = (dctr_dtype)u8;
    DCTR_TRY(dctr_rbuf_u8(r, &u8, "oov_policy"));
    c->oov_policy = (dctr_oov_policy)u8;
    DCTR_TRY(dctr_rbuf_i64(r, &c->min_count, "min_count"));
    DCTR_TRY(dctr_rbuf_i64(r, &c->oov_buckets, "oov_buckets"));
    DCTR_TRY(read_str(r, &c->vocabulary_path, "vocabulary_path", 1));
    DCTR_TRY(read_str(r, &c->embedding_name, "embedding_name", 0));
    DCTR_TRY(read_str(r, &c->group_name, "group_name", 0));
    DCTR_TRY(dctr_rbuf_u8(r, &u8, "trainable"));
    c->trainable = u8 != 0;
    DCTR_TRY(dctr_rbuf_f32(r, &c->init_std, "init_std"));
    DCTR_TRY(dctr_rbuf_i64(r, &c->vocab_base, "vocabulary base"));
    DCTR_TRY(dctr_rbuf_i64(r, &c->vocab_count, "vocabulary count"));
    if (c->vocab_size < 0 || c->vocab_size > DCTR_MAX_VOCAB)
        return bad(r, "vocabulary size", c->name, (long long)c->vocab_size);
    if (c->vocab_base < 0 || c->vocab_base > 1 || c->vocab_count < 0 ||
        c->vocab_count > DCTR_MAX_VOCAB || c->oov_buckets < 0 || c->oov_buckets > DCTR_MAX_VOCAB)
        return bad(r, "vocabulary layout", c->name, (long long)c->vocab_count);
    if (c->kind == DCTR_COLUMN_VARLEN) {
        DCTR_TRY(dctr_rbuf_i32(r, &c->maxlen, "maxlen"));
        DCTR_TRY(dctr_rbuf_u8(r, &u8, "combiner"));
        c->combiner = (dctr_combiner)u8;
        DCTR_TRY(read_str(r, &c->length_name, "length_name", 1));
        DCTR_TRY(read_str(r, &c->weight_name, "weight_name", 1));
        DCTR_TRY(dctr_rbuf_u8(r, &u8, "weight_norm"));
        c->weight_norm = u8 != 0;
        DCTR_TRY(dctr_rbuf_u8(r, &u8, "separator"));
        c->separator = (char)u8;
    }
    DCTR_TRY(dctr_rbuf_u8(r, &u8, "vocabulary tag"));
    if (u8 == 1) {
        DCTR_TRY(read_vocab(r, c, &c->vocab));
    } else if (u8 == 2) {
        int32_t j;
        DCTR_TRY(dctr_rbuf_i32(r, &j, "shared vocabulary column"));
        if (j < 0 || j >= i || !s->cols[j].vocab || s->cols[j].kind == DCTR_COLUMN_DENSE)
            return bad(r, "shared vocabulary column", c->name, j);
        c->vocab = s->cols[j].vocab;
        c->owns_vocab = 0;
    } else if (u8 != 0) {
        return bad(r, "vocabulary tag", c->name, u8);
    }
    return DCTR_OK;
}

/* The largest id a vocabulary maps to (-1 when empty). */
static int64_t max_vocab_id(const dctr_vocab *v) {
    int64_t m = -1;
    for (uint64_t i = 0; i <= v->mask; i++)
        if (v->slots[i].len != DCTR_VOCAB_EMPTY && v->slots[i].value > m)
            m = v->slots[i].value;
    return m;
}

/* Vocabulary ids were range-checked against each column's stored size, but validation settles
 * the final table sizes (and a shared vocabulary was checked against another column): every id
 * must index its column's table, or encoding would leave the table and a rewrite of the schema
 * would not read back. */
static dctr_status check_vocab_ids(dctr_rbuf *r, const dctr_schema *s) {
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (c->kind != DCTR_COLUMN_DENSE && c->vocab && max_vocab_id(c->vocab) >= c->vocab_size)
            return bad(r, "vocabulary id beyond the table of", c->name, (long long)c->vocab_size);
    }
    return DCTR_OK;
}

/* Checks that the fitted state is consistent with the descriptors (after validation). */
static dctr_status check_fitted(dctr_rbuf *r, const dctr_schema *s) {
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (c->kind == DCTR_COLUMN_DENSE)
            continue;
        if (c->vocab_size < 1)
            return bad(r, "fitted schema with vocabulary size", c->name, (long long)c->vocab_size);
        if (dctr_column_fits_vocab(c)) {
            if (!c->vocab || c->vocab->n != c->vocab_count)
                return bad(r, "fitted vocabulary missing or of wrong size", c->name,
                           (long long)c->vocab_count);
            int64_t extra = c->oov_policy == DCTR_OOV_HASH ? c->oov_buckets : 0;
            if (c->oov_policy == DCTR_OOV_HASH && c->oov_buckets < 1)
                return bad(r, "hash OOV without buckets", c->name, (long long)c->oov_buckets);
            if (c->vocab_base + c->vocab_count + extra > c->vocab_size)
                return bad(r, "vocabulary layout exceeds the table:", c->name,
                           (long long)c->vocab_size);
        } else if (c->vocabulary_path && !c->vocab) {
            return bad(r, "vocabulary file contents missing", c->name, 0);
        } else if (!c->vocabulary_path && c->vocab) {
            return bad(r, "unexpected vocabulary", c->name, 0);
        }
    }
    return DCTR_OK;
}

dctr_status dctr_schema_read(dctr_rbuf *r, dctr_schema **out) {
    if (!r || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_read: NULL argument");
    *out = NULL;
    uint32_t fmt;
    DCTR_TRY(dctr_rbuf_u32(r, &fmt, "schema format"));
    if (fmt != SCHEMA_FORMAT)
        return dctr_set_error(DCTR_ERR_FORMAT, "%s: schema format %u is not supported (expected %u)",
                              r->origin ? r->origin : "schema", fmt, SCHEMA_FORMAT);
    dctr_schema *s;
    DCTR_TRY(dctr_schema_new(&s));
    dctr_status st = read_str(r, &s->label_name, "label name", 1);
    uint8_t validated = 0, fitted = 0;
    int32_t ncols = 0;
    if (st == DCTR_OK)
        st = read_str(r, &s->weight_column, "weight column", 1);
    if (st == DCTR_OK)
        st = dctr_rbuf_u8(r, &validated, "validated flag");
    if (st == DCTR_OK)
        st = dctr_rbuf_u8(r, &fitted, "fitted flag");
    if (st == DCTR_OK)
        st = dctr_rbuf_i32(r, &ncols, "column count");
    if (st == DCTR_OK && (ncols < 0 || ncols > MAX_COLS))
        st = dctr_set_error(DCTR_ERR_FORMAT, "%s: schema column count %d out of range",
                            r->origin ? r->origin : "schema", (int)ncols);
    if (st == DCTR_OK)
        st = dctr_rbuf_need(r, (uint64_t)ncols, 6, "schema columns");
    if (st == DCTR_OK) {
        s->cols = dctr_calloc((size_t)ncols + 1, sizeof *s->cols);
        if (!s->cols)
            st = DCTR_ERR_NOMEM;
    }
    for (int32_t i = 0; i < ncols && st == DCTR_OK; i++) {
        s->ncols = i + 1;
        st = read_column(r, s, i);
    }
    int32_t nh = 0;
    if (st == DCTR_OK)
        st = dctr_rbuf_i32(r, &nh, "header count");
    if (st == DCTR_OK && (nh < 0 || nh > MAX_COLS * 4))
        st = dctr_set_error(DCTR_ERR_FORMAT, "%s: schema header count %d out of range",
                            r->origin ? r->origin : "schema", (int)nh);
    if (st == DCTR_OK)
        st = dctr_rbuf_need(r, (uint64_t)nh, 4, "header names");
    if (st == DCTR_OK && nh > 0) {
        s->fit_header = dctr_calloc((size_t)nh, sizeof(char *));
        if (!s->fit_header)
            st = DCTR_ERR_NOMEM;
        for (int32_t i = 0; i < nh && st == DCTR_OK; i++) {
            st = read_str(r, &s->fit_header[i], "header name", 0);
            s->fit_header_n = i + 1;
        }
    }
    if (st == DCTR_OK && validated) {
        st = dctr_schema_validate(s);
        if (st != DCTR_OK)
            st = dctr_error_prefix(DCTR_ERR_FORMAT, "%s: stored schema is invalid",
                                   r->origin ? r->origin : "schema");
        if (st == DCTR_OK)
            st = check_vocab_ids(r, s);
    }
    if (st == DCTR_OK && fitted) {
        if (!validated)
            st = dctr_set_error(DCTR_ERR_FORMAT, "%s: schema marked fitted but not validated",
                                r->origin ? r->origin : "schema");
        if (st == DCTR_OK)
            st = check_fitted(r, s);
        s->fitted = st == DCTR_OK;
        if (st == DCTR_OK)
            st = dctr_schema_fingerprint(s, &s->fingerprint);
        s->has_fingerprint = st == DCTR_OK;
    }
    if (st != DCTR_OK) {
        dctr_schema_free(s);
        return st;
    }
    *out = s;
    return DCTR_OK;
}

dctr_status dctr_schema_fingerprint(const dctr_schema *s, uint64_t *out) {
    if (s->fitted && s->has_fingerprint) { /* frozen: computed once (vocabularies are large) */
        *out = s->fingerprint;
        return DCTR_OK;
    }
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_status st = dctr_schema_write(s, &w);
    if (st == DCTR_OK)
        *out = dctr_fingerprint64(w.data, w.len);
    dctr_wbuf_free(&w);
    return st;
}
