/* Encoders (see encode.h). Id rules are documented in docs/input.md "Id assignment". */
#include "feature/encode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "feature/numparse.h"
#include "feature/schema_internal.h"
#include "feature/vocab.h"

dctr_status dctr_loc_error(dctr_status st, const dctr_loc *loc, const char *column,
                           const char *fmt, ...) {
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!loc)
        return dctr_set_error(st, "column '%s': %s", column, msg);
    if (loc->file)
        return dctr_set_error(st, "%s:%lld:%lld: column '%s': %s", loc->file, (long long)loc->line,
                              (long long)loc->col, column, msg);
    return dctr_set_error(st, "row %lld: column '%s': %s", (long long)loc->line, column, msg);
}

/* Shows at most 40 bytes of a bad value in a message. */
static int shown(size_t len) { return len > 40 ? 40 : (int)len; }

dctr_status dctr_encode_key(const dctr_column *c, const char *s, size_t len, char *buf,
                            const char **key, size_t *key_len, const dctr_loc *loc) {
    if (c->dtype == DCTR_DTYPE_STRING || len == 0) {
        *key = s;
        *key_len = len;
        return DCTR_OK;
    }
    int64_t v;
    int r = dctr_parse_int64(s, len, &v);
    if (r == DCTR_NUM_RANGE)
        return dctr_loc_error(DCTR_ERR_RANGE, loc, c->name, "integer '%.*s' outside int64",
                              shown(len), s);
    if (r != DCTR_NUM_OK)
        return dctr_loc_error(DCTR_ERR_PARSE, loc, c->name, "'%.*s' is not an integer",
                              shown(len), s);
    *key_len = dctr_format_int64(v, buf);
    *key = buf;
    return DCTR_OK;
}

static dctr_status oov(const dctr_column *c, const char *key, size_t klen, uint64_t h, int64_t *id,
                       const dctr_loc *loc) {
    switch (c->oov_policy) {
    case DCTR_OOV_RESERVED_ROW:
        *id = 0;
        return DCTR_OK;
    case DCTR_OOV_HASH:
        *id = c->vocab_base + c->vocab_count + (int64_t)(h % (uint64_t)c->oov_buckets);
        return DCTR_OK;
    case DCTR_OOV_ERROR:
    default:
        return dctr_loc_error(DCTR_ERR_OOV, loc, c->name,
                              "value '%.*s' is not in the fitted vocabulary (oov_policy error)",
                              shown(klen), key);
    }
}

dctr_status dctr_encode_id(const dctr_column *c, const char *s, size_t len, int elem,
                           int64_t *id, const dctr_loc *loc) {
    if (c->vocab || c->use_hash) {
        char buf[24];
        const char *key;
        size_t klen;
        DCTR_TRY(dctr_encode_key(c, s, len, buf, &key, &klen, loc));
        if (c->vocabulary_path) {
            /* vocabulary file: a missing key maps to 0 (DeepCTR's default_value) */
            uint64_t h = dctr_fingerprint64(key, klen);
            const dctr_vocab_slot *sl = dctr_vocab_find(c->vocab, key, klen, h);
            *id = sl ? sl->value : 0;
            return DCTR_OK;
        }
        if (c->use_hash) {
            *id = dctr_hash_bucket(key, klen, c->vocab_size, elem);
            return DCTR_OK;
        }
        uint64_t h = dctr_fingerprint64(key, klen);
        const dctr_vocab_slot *sl = dctr_vocab_find(c->vocab, key, klen, h);
        if (sl) {
            *id = sl->value;
            return DCTR_OK;
        }
        return oov(c, key, klen, h, id, loc);
    }
    /* raw integer ids, range-checked (upstream leaves this to TF / Torch errors) */
    if (len == 0) {
        *id = 0;
        return DCTR_OK;
    }
    int64_t v;
    int r = dctr_parse_int64(s, len, &v);
    if (r == DCTR_NUM_SYNTAX)
        return dctr_loc_error(DCTR_ERR_PARSE, loc, c->name, "'%.*s' is not an integer id",
                              shown(len), s);
    if (r != DCTR_NUM_OK || v < 0 || v >= c->vocab_size)
        return dctr_loc_error(DCTR_ERR_RANGE, loc, c->name, "id '%.*s' outside [0, %lld)",
                              shown(len), s, (long long)c->vocab_size);
    *id = v;
    return DCTR_OK;
}

/* Steps through the non-empty items of a separator-split field: on return 1, [*b, *e) is the
 * next item and *pos is past its separator. Empty items ("a||b") are skipped. */
static int next_item(const char *s, size_t len, char sep, size_t *pos, size_t *b, size_t *e) {
    while (*pos < len) {
        const char *hit = memchr(s + *pos, sep, len - *pos);
        size_t j = hit ? (size_t)(hit - s) : len;
        size_t i = *pos;
        *pos = j + 1;
        if (j > i) {
            *b = i;
            *e = j;
            return 1;
        }
    }
    return 0;
}

dctr_status dctr_encode_varlen(const dctr_column *c, const char *s, size_t len, int64_t *ids,
                               int32_t *count, const dctr_loc *loc) {
    int32_t n = 0;
    size_t pos = 0, i, j;
    while (n < c->maxlen && next_item(s, len, c->separator, &pos, &i, &j)) {
        DCTR_TRY(dctr_encode_id(c, s + i, j - i, 1, &ids[n], loc));
        n++;
    }
    for (int32_t k = n; k < c->maxlen; k++)
        ids[k] = 0;
    *count = n;
    return DCTR_OK;
}

static dctr_status parse_number(const char *name, const char *what, const char *s, size_t len,
                                double *out, const dctr_loc *loc) {
    int r = dctr_parse_double(s, len, out);
    if (r == DCTR_NUM_OK)
        return DCTR_OK;
    if (r == DCTR_NUM_NONFINITE)
        return dctr_loc_error(DCTR_ERR_NUMERIC, loc, name, "%s '%.*s' is not finite", what,
                              shown(len), s);
    return dctr_loc_error(DCTR_ERR_PARSE, loc, name, "%s '%.*s' is not a number", what,
                          shown(len), s);
}

dctr_status dctr_encode_varlen_weights(const dctr_column *c, const char *s, size_t len, float *w,
                                       int32_t *count, const dctr_loc *loc) {
    int32_t n = 0;
    size_t pos = 0, i, j;
    while (n < c->maxlen && next_item(s, len, c->separator, &pos, &i, &j)) {
        double v;
        DCTR_TRY(parse_number(c->weight_name, "weight", s + i, j - i, &v, loc));
        if (fabs(v) > 3.4e38)
            return dctr_loc_error(DCTR_ERR_NUMERIC, loc, c->weight_name,
                                  "weight '%.*s' overflows float", shown(j - i), s + i);
        w[n++] = (float)v;
    }
    for (int32_t k = n; k < c->maxlen; k++)
        w[k] = 0.0f;
    *count = n;
    return DCTR_OK;
}

dctr_status dctr_parse_dense(const dctr_column *c, const char *s, size_t len, double *raw,
                             const dctr_loc *loc) {
    if (len == 0) {
        for (int32_t k = 0; k < c->dense_dim; k++)
            raw[k] = c->fill_value;
        return DCTR_OK;
    }
    if (c->dense_dim == 1)
        return parse_number(c->name, "value", s, len, raw, loc);
    int32_t n = 0;
    size_t i = 0;
    for (;;) {
        const char *e = memchr(s + i, c->separator, len - i);
        size_t j = e ? (size_t)(e - s) : len;
        if (n >= c->dense_dim)
            return dctr_loc_error(DCTR_ERR_PARSE, loc, c->name, "more than %d values",
                                  (int)c->dense_dim);
        if (j == i)
            raw[n] = c->fill_value;
        else
            DCTR_TRY(parse_number(c->name, "value", s + i, j - i, &raw[n], loc));
        n++;
        if (!e)
            break;
        i = j + 1;
    }
    if (n != c->dense_dim)
        return dctr_loc_error(DCTR_ERR_PARSE, loc, c->name, "%d values, expected %d", (int)n,
                              (int)c->dense_dim);
    return DCTR_OK;
}

float dctr_transform_value(const dctr_column *c, double x) {
    switch (c->transform) {
    case DCTR_TRANSFORM_LOG1P:
        return (float)log1p(x > 0.0 ? x : 0.0);
    case DCTR_TRANSFORM_MINMAX: {
        double range = c->stat_b - c->stat_a;
        return range > 0.0 ? (float)((x - c->stat_a) / range) : 0.0f;
    }
    case DCTR_TRANSFORM_STANDARDIZE:
        return (float)((x - c->stat_a) / (c->stat_b > 0.0 ? c->stat_b : 1.0));
    case DCTR_TRANSFORM_NONE:
    default:
        return (float)x;
    }
}

dctr_status dctr_encode_dense(const dctr_column *c, const char *s, size_t len, float *out,
                              const dctr_loc *loc) {
    if (c->dense_dim == 1) {
        double v = c->fill_value;
        if (len > 0)
            DCTR_TRY(parse_number(c->name, "value", s, len, &v, loc));
        out[0] = dctr_transform_value(c, v);
        if (!isfinite(out[0]))
            return dctr_loc_error(DCTR_ERR_NUMERIC, loc, c->name,
                                  "value '%.*s' is not finite as a float after the transform",
                                  shown(len), s);
        return DCTR_OK;
    }
    double stackbuf[16];
    double *raw = stackbuf;
    if (c->dense_dim > 16) {
        /* rare: long dense vectors parse one value at a time through a heap buffer */
        raw = dctr_malloc(sizeof(double) * (size_t)c->dense_dim);
        if (!raw)
            return DCTR_ERR_NOMEM;
    }
    dctr_status st = dctr_parse_dense(c, s, len, raw, loc);
    if (st == DCTR_OK)
        for (int32_t k = 0; k < c->dense_dim && st == DCTR_OK; k++) {
            out[k] = dctr_transform_value(c, raw[k]);
            if (!isfinite(out[k]))
                st = dctr_loc_error(DCTR_ERR_NUMERIC, loc, c->name,
                                    "value %d is not finite as a float after the transform",
                                    (int)k + 1);
        }
    if (raw != stackbuf)
        dctr_free(raw);
    return st;
}

dctr_status dctr_encode_float(const char *what, const char *s, size_t len, float *out,
                              const dctr_loc *loc) {
    double v;
    DCTR_TRY(parse_number(what, "value", s, len, &v, loc));
    if (fabs(v) > 3.4e38)
        return dctr_loc_error(DCTR_ERR_NUMERIC, loc, what, "value '%.*s' overflows float",
                              shown(len), s);
    *out = (float)v;
    return DCTR_OK;
}
