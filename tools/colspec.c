/* Column-spec parsing (see colspec.h). Pure: touches only its arguments. */
#include "colspec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int spec_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int spec_error(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void entry_free(dctr_colspec_entry *e) {
    free(e->name);
    free(e->group);
    free(e->embedding_name);
    free(e->weight_name);
    free(e->length_name);
    free(e->vocab_path);
}

void dctr_colspec_init(dctr_colspec *cs) { memset(cs, 0, sizeof *cs); }

void dctr_colspec_free(dctr_colspec *cs) {
    for (int32_t i = 0; i < cs->count; i++)
        entry_free(&cs->entries[i]);
    free(cs->entries);
    dctr_colspec_init(cs);
}

int32_t dctr_colspec_find(const dctr_colspec *cs, const char *name) {
    for (int32_t i = 0; i < cs->count; i++)
        if (strcmp(cs->entries[i].name, name) == 0)
            return i;
    return -1;
}

static int is_stop(char c) { return c == '\0' || c == ':' || c == ','; }

/* A token [p, p+n) is a valid column name: non-empty, short, no '=' and no control bytes. */
static int valid_name(const char *p, size_t n) {
    if (n == 0 || n > DCTR_COLSPEC_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '=' || (unsigned char)p[i] < 0x20)
            return 0;
    return 1;
}

static int parse_i64(const char *v, size_t n, int64_t lo, int64_t hi, int64_t *out) {
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (*end != '\0' || errno == ERANGE || x < lo || x > hi)
        return -1;
    *out = (int64_t)x;
    return 0;
}

static int token_is(const char *v, size_t n, const char *word) {
    return strlen(word) == n && strncmp(v, word, n) == 0;
}

/* apply_* result for a key the function does not handle. */
#define KEY_NOT_MINE 1

/* hash / dim (sparse and varlen; dim also dense) and the keys naming other columns or tables
 * (group, emb; varlen: weight, length). Returns 0, -1 with err set, or KEY_NOT_MINE. */
static int apply_common_key(dctr_colspec_entry *e, const char *k, size_t kn, const char *v,
                            size_t vn, char *err, size_t errlen) {
    const int sparse_like = e->kind != DCTR_COLUMN_DENSE;
    const int varlen = e->kind == DCTR_COLUMN_VARLEN;
    int64_t x = 0;
    char **strdst = NULL;
    if (sparse_like && token_is(k, kn, "hash")) {
        if (parse_i64(v, vn, 1, INT64_C(1) << 40, &x) != 0)
            return spec_error(err, errlen, "%s: hash wants a bucket count >= 1, got '%.*s'", e->name, (int)vn, v);
        e->hash_buckets = x;
        return 0;
    }
    if (token_is(k, kn, "dim")) {
        if (sparse_like && token_is(v, vn, "auto")) {
            e->dim = -1;
            return 0;
        }
        if (parse_i64(v, vn, 1, 1 << 16, &x) != 0)
            return spec_error(err, errlen, "%s: dim wants an integer in [1, 65536]%s, got '%.*s'", e->name,
                        sparse_like ? " or 'auto'" : "", (int)vn, v);
        e->dim = (int32_t)x;
        return 0;
    }
    if (sparse_like && token_is(k, kn, "oov")) {
        if (token_is(v, vn, "error"))
            e->oov = DCTR_OOV_ERROR;
        else if (token_is(v, vn, "reserved"))
            e->oov = DCTR_OOV_RESERVED_ROW;
        else if (token_is(v, vn, "hash"))
            e->oov = DCTR_OOV_HASH;
        else
            return spec_error(err, errlen, "%s: oov must be error, reserved or hash, got '%.*s'", e->name, (int)vn, v);
        return 0;
    }
    if (sparse_like && token_is(k, kn, "trainable")) {
        if (parse_i64(v, vn, 0, 1, &x) != 0)
            return spec_error(err, errlen, "%s: trainable wants 0 or 1, got '%.*s'", e->name, (int)vn, v);
        e->trainable = (int)x;
        return 0;
    }
    if (sparse_like && token_is(k, kn, "vocab")) {
        if (vn == 0)
            return spec_error(err, errlen, "%s: vocab wants a file name", e->name);
        char *d = dup_n(v, vn);
        if (!d)
            return spec_error(err, errlen, "out of memory");
        free(e->vocab_path);
        e->vocab_path = d;
        return 0;
    }
    if (sparse_like && token_is(k, kn, "group"))
        strdst = &e->group;
    else if (sparse_like && token_is(k, kn, "emb"))
        strdst = &e->embedding_name;
    else if (varlen && token_is(k, kn, "weight"))
        strdst = &e->weight_name;
    else if (varlen && token_is(k, kn, "length"))
        strdst = &e->length_name;
    if (!strdst)
        return KEY_NOT_MINE;
    if (!valid_name(v, vn))
        return spec_error(err, errlen, "%s: %.*s wants a name, got '%.*s'", e->name, (int)kn, k, (int)vn, v);
    char *d = dup_n(v, vn);
    if (!d)
        return spec_error(err, errlen, "out of memory");
    free(*strdst);
    *strdst = d;
    return 0;
}

/* maxlen, combiner, norm of a varlen column. */
static int apply_varlen_key(dctr_colspec_entry *e, const char *k, size_t kn, const char *v,
                            size_t vn, char *err, size_t errlen) {
    int64_t x = 0;
    if (token_is(k, kn, "maxlen")) {
        if (parse_i64(v, vn, 1, 1 << 20, &x) != 0)
            return spec_error(err, errlen, "%s: maxlen wants an integer in [1, 1048576], got '%.*s'", e->name, (int)vn, v);
        e->maxlen = (int32_t)x;
        return 0;
    }
    if (token_is(k, kn, "combiner")) {
        if (token_is(v, vn, "sum"))
            e->combiner = DCTR_COMBINER_SUM;
        else if (token_is(v, vn, "mean"))
            e->combiner = DCTR_COMBINER_MEAN;
        else if (token_is(v, vn, "max"))
            e->combiner = DCTR_COMBINER_MAX;
        else
            return spec_error(err, errlen, "%s: combiner must be sum, mean or max, got '%.*s'", e->name, (int)vn, v);
        return 0;
    }
    if (token_is(k, kn, "norm")) {
        if (!token_is(v, vn, "0") && !token_is(v, vn, "1"))
            return spec_error(err, errlen, "%s: norm must be 0 or 1, got '%.*s'", e->name, (int)vn, v);
        e->weight_norm = v[0] - '0';
        return 0;
    }
    return KEY_NOT_MINE;
}

/* transform, fill of a dense column. */
static int apply_dense_key(dctr_colspec_entry *e, const char *k, size_t kn, const char *v,
                           size_t vn, char *err, size_t errlen) {
    if (token_is(k, kn, "transform")) {
        static const struct { const char *name; dctr_transform t; } names[] = {
            {"none", DCTR_TRANSFORM_NONE}, {"log1p", DCTR_TRANSFORM_LOG1P},
            {"minmax", DCTR_TRANSFORM_MINMAX}, {"standardize", DCTR_TRANSFORM_STANDARDIZE}};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (token_is(v, vn, names[i].name)) {
                e->transform = (int)names[i].t;
                return 0;
            }
        return spec_error(err, errlen, "%s: transform must be none, log1p, minmax or standardize, got '%.*s'",
                    e->name, (int)vn, v);
    }
    if (token_is(k, kn, "fill")) {
        char buf[64];
        char *end = NULL;
        if (vn == 0 || vn >= sizeof buf)
            return spec_error(err, errlen, "%s: fill wants a number", e->name);
        memcpy(buf, v, vn);
        buf[vn] = '\0';
        double d = strtod(buf, &end);
        if (*end != '\0' || !isfinite(d))
            return spec_error(err, errlen, "%s: fill wants a number, got '%s'", e->name, buf);
        e->fill = d;
        return 0;
    }
    return KEY_NOT_MINE;
}

/* Applies key=value to e. Returns 0 or -1 with err set. */
static int apply_key(dctr_colspec_entry *e, const char *k, size_t kn, const char *v, size_t vn,
                     char *err, size_t errlen) {
    const int sparse_like = e->kind != DCTR_COLUMN_DENSE;
    const int varlen = e->kind == DCTR_COLUMN_VARLEN;
    int r = apply_common_key(e, k, kn, v, vn, err, errlen);
    if (r == KEY_NOT_MINE && varlen)
        r = apply_varlen_key(e, k, kn, v, vn, err, errlen);
    if (r == KEY_NOT_MINE && !sparse_like)
        r = apply_dense_key(e, k, kn, v, vn, err, errlen);
    if (r != KEY_NOT_MINE)
        return r;
    return spec_error(err, errlen, "%s: unknown key '%.*s' for a %s column", e->name, (int)kn, k,
                varlen ? "varlen" : sparse_like ? "sparse" : "dense");
}

static int grow(dctr_colspec *cs) {
    if (cs->count < cs->cap)
        return 0;
    int32_t cap = cs->cap ? cs->cap * 2 : 16;
    dctr_colspec_entry *e = realloc(cs->entries, (size_t)cap * sizeof *e);
    if (!e)
        return -1;
    cs->entries = e;
    cs->cap = cap;
    return 0;
}

/* A new entry for column name[0, n) of `kind` appended to out; NULL with err set. */
static dctr_colspec_entry *new_entry(dctr_colspec *out, const char *name, size_t n,
                                     dctr_column_kind kind, const char *spec, char *err,
                                     size_t errlen) {
    if (!valid_name(name, n)) {
        spec_error(err, errlen, "bad column name '%.*s' in '%.40s'", (int)(n > 64 ? 64 : n), name, spec);
        return NULL;
    }
    if (out->count >= DCTR_COLSPEC_MAX_ENTRIES || grow(out) != 0) {
        spec_error(err, errlen, "too many columns");
        return NULL;
    }
    dctr_colspec_entry *e = &out->entries[out->count];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->transform = -1;
    e->combiner = -1;
    e->weight_norm = -1;
    e->oov = -1;
    e->trainable = -1;
    e->name = dup_n(name, n);
    if (!e->name) {
        spec_error(err, errlen, "out of memory");
        return NULL;
    }
    out->count++;
    if (dctr_colspec_find(out, e->name) != out->count - 1) {
        spec_error(err, errlen, "column '%s' is named twice", e->name);
        return NULL;
    }
    return e;
}

/* The value of sep= at v: one character or "tab"; its length in *vn. -1 with err set. */
static int apply_sep(dctr_colspec_entry *e, const char *v, size_t *vn, char *err, size_t errlen) {
    char sepc;
    if (strncmp(v, "tab", 3) == 0 && is_stop(v[3])) {
        sepc = '\t';
        *vn = 3;
    } else if (*v != '\0' && is_stop(v[1])) {
        sepc = *v;
        *vn = 1;
    } else {
        return spec_error(err, errlen, "%s: sep wants one character or 'tab'", e->name);
    }
    if (e->kind == DCTR_COLUMN_SPARSE)
        return spec_error(err, errlen, "%s: unknown key 'sep' for a sparse column", e->name);
    e->separator = sepc;
    return 0;
}

/* The ":key=value" pairs after a column name at *pp; *pp moves past them. 0 or -1 (err set). */
static int parse_keys(dctr_colspec_entry *e, const char **pp, char *err, size_t errlen) {
    const char *p = *pp;
    while (*p == ':') {
        const char *k = ++p;
        while (!is_stop(*p) && *p != '=')
            p++;
        size_t kn = (size_t)(p - k);
        if (*p != '=' || kn == 0)
            return spec_error(err, errlen, "%s: expected key=value after ':'", e->name);
        const char *v = ++p;
        size_t vn = 0;
        if (token_is(k, kn, "sep")) { /* its value may be the ',' or ':' that ends others */
            if (apply_sep(e, v, &vn, err, errlen) != 0)
                return -1;
            p = v + vn;
            continue;
        }
        while (!is_stop(*p))
            p++;
        vn = (size_t)(p - v);
        if (apply_key(e, k, kn, v, vn, err, errlen) != 0)
            return -1;
    }
    *pp = p;
    return 0;
}

int dctr_colspec_parse(const char *spec, dctr_column_kind kind, dctr_colspec *out, char *err,
                       size_t errlen) {
    if (err && errlen)
        err[0] = '\0';
    if (!spec || !out)
        return spec_error(err, errlen, "no column spec");
    if (kind != DCTR_COLUMN_SPARSE && kind != DCTR_COLUMN_DENSE && kind != DCTR_COLUMN_VARLEN)
        return spec_error(err, errlen, "unknown column kind");
    const int32_t start = out->count;
    const char *p = spec;
    for (;;) {
        const char *name = p;
        while (!is_stop(*p))
            p++;
        dctr_colspec_entry *e = new_entry(out, name, (size_t)(p - name), kind, spec, err, errlen);
        if (!e || parse_keys(e, &p, err, errlen) != 0)
            goto undo;
        if (kind == DCTR_COLUMN_VARLEN && e->maxlen <= 0) {
            spec_error(err, errlen, "%s: a varlen column needs maxlen=T", e->name);
            goto undo;
        }
        if (*p == '\0')
            return 0;
        p++; /* ',' */
    }
undo:
    while (out->count > start)
        entry_free(&out->entries[--out->count]);
    return -1;
}
