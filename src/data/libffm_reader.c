/* libffm text reader. Lines are cut with memchr over a large buffer and tokenized by hand;
 * plain decimals take an exact fast path (integer mantissa / exact power of ten, rounded once to
 * double then to float, the same as libffm's atof), anything else goes through strtod. */
#include "data/libffm_reader.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core/alloc.h"
#include "core/error.h"

#define READ_BUFFER_MIN ((size_t)4 << 20)
#define TOKEN_ECHO 40

struct dctr_libffm_reader {
    FILE *fp;            /* NULL for a text reader */
    char *name;
    char *own;           /* file buffer */
    const char *buf;     /* own, or the caller's text */
    size_t cap, pos, len;
    int64_t base;        /* file offset of buf[0] */
    int eof;
    int64_t line;        /* lines consumed so far */
    dctr_libffm_options o;
};

void dctr_libffm_options_default(dctr_libffm_options *opts) {
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->max_line_bytes = (size_t)1 << 20;
    opts->max_fields = 65536;
    opts->max_features = INT32_MAX;
    opts->skip_blank_lines = 1;
}

static dctr_status check_options(const dctr_libffm_options *in, dctr_libffm_options *o) {
    dctr_libffm_options_default(o);
    if (!in)
        return DCTR_OK;
    if (in->struct_size != sizeof *in)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_libffm_options: struct_size %u, expected %zu (call "
                              "dctr_libffm_options_default)", in->struct_size, sizeof *in);
    *o = *in;
    if (o->max_line_bytes < 2 || o->max_line_bytes > ((size_t)1 << 30))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "max_line_bytes must be in [2, 2^30] (got %zu)",
                              o->max_line_bytes);
    if (o->max_fields < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "max_fields must be >= 1 (got %d)", o->max_fields);
    if (o->max_features < 1 || o->max_features > INT32_MAX)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "max_features must be in [1, 2^31-1] (got %lld)",
                              (long long)o->max_features);
    return DCTR_OK;
}

/* ---- data object ---- */

dctr_status dctr_ffm_data_new_empty(dctr_ffm_data **out) {
    *out = NULL;
    dctr_ffm_data *d = dctr_calloc(1, sizeof *d);
    if (!d)
        return DCTR_ERR_NOMEM;
    d->cap_rows = 1024;
    d->cap_nnz = 16384;
    d->row_ptr = dctr_malloc((size_t)(d->cap_rows + 1) * sizeof *d->row_ptr);
    d->labels = dctr_malloc((size_t)d->cap_rows * sizeof *d->labels);
    d->inv_norm = dctr_malloc((size_t)d->cap_rows * sizeof *d->inv_norm);
    d->nodes = dctr_malloc((size_t)d->cap_nnz * sizeof *d->nodes);
    if (!d->row_ptr || !d->labels || !d->inv_norm || !d->nodes) {
        dctr_ffm_data_free(d);
        return DCTR_ERR_NOMEM;
    }
    d->row_ptr[0] = 0;
    *out = d;
    return DCTR_OK;
}

void dctr_ffm_data_clear(dctr_ffm_data *d) {
    d->rows = d->nnz = 0;
    d->num_fields = 0;
    d->num_features = 0;
    d->row_ptr[0] = 0;
}

void dctr_ffm_data_free(dctr_ffm_data *d) {
    if (!d)
        return;
    dctr_free(d->row_ptr);
    dctr_free(d->nodes);
    dctr_free(d->labels);
    dctr_free(d->inv_norm);
    dctr_free(d);
}

int64_t dctr_ffm_data_num_rows(const dctr_ffm_data *d) { return d ? d->rows : 0; }
int64_t dctr_ffm_data_num_nonzeros(const dctr_ffm_data *d) { return d ? d->nnz : 0; }
int32_t dctr_ffm_data_num_fields(const dctr_ffm_data *d) { return d ? d->num_fields : 0; }
int64_t dctr_ffm_data_num_features(const dctr_ffm_data *d) { return d ? d->num_features : 0; }
const float *dctr_ffm_data_labels(const dctr_ffm_data *d) { return d ? d->labels : NULL; }

static dctr_status grow_rows(dctr_ffm_data *d) {
    int64_t cap = d->cap_rows * 2;
    int64_t *rp = dctr_realloc_array(d->row_ptr, (size_t)cap + 1, sizeof *rp);
    if (!rp)
        return DCTR_ERR_NOMEM;
    d->row_ptr = rp;
    float *lb = dctr_realloc_array(d->labels, (size_t)cap, sizeof *lb);
    if (!lb)
        return DCTR_ERR_NOMEM;
    d->labels = lb;
    float *nr = dctr_realloc_array(d->inv_norm, (size_t)cap, sizeof *nr);
    if (!nr)
        return DCTR_ERR_NOMEM;
    d->inv_norm = nr;
    d->cap_rows = cap;
    return DCTR_OK;
}

static dctr_status grow_nodes(dctr_ffm_data *d) {
    int64_t cap = d->cap_nnz * 2;
    dctr_ffm_node *n = dctr_realloc_array(d->nodes, (size_t)cap, sizeof *n);
    if (!n)
        return DCTR_ERR_NOMEM;
    d->nodes = n;
    d->cap_nnz = cap;
    return DCTR_OK;
}

/* ---- reader ---- */

static dctr_status reader_alloc(const char *name, const dctr_libffm_options *opts,
                                dctr_libffm_reader **out) {
    *out = NULL;
    dctr_libffm_reader *r = dctr_calloc(1, sizeof *r);
    if (!r)
        return DCTR_ERR_NOMEM;
    dctr_status s = check_options(opts, &r->o);
    if (s != DCTR_OK) {
        dctr_free(r);
        return s;
    }
    r->name = dctr_strdup(name ? name : "<text>");
    if (!r->name) {
        dctr_free(r);
        return DCTR_ERR_NOMEM;
    }
    *out = r;
    return DCTR_OK;
}

dctr_status dctr_libffm_reader_open(const char *path, const dctr_libffm_options *opts,
                                    dctr_libffm_reader **out) {
    if (!path || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "libffm reader: NULL path or output");
    dctr_libffm_reader *r = NULL;
    DCTR_TRY(reader_alloc(path, opts, &r));
    r->fp = fopen(path, "rb");
    if (!r->fp) {
        int e = errno;
        dctr_libffm_reader_close(r);
        return dctr_set_error(DCTR_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    r->cap = r->o.max_line_bytes + 2 > READ_BUFFER_MIN ? r->o.max_line_bytes + 2 : READ_BUFFER_MIN;
    r->own = dctr_malloc(r->cap);
    if (!r->own) {
        dctr_libffm_reader_close(r);
        return DCTR_ERR_NOMEM;
    }
    r->buf = r->own;
    *out = r;
    return DCTR_OK;
}

dctr_status dctr_libffm_reader_open_text(const char *text, size_t len, const char *name,
                                         const dctr_libffm_options *opts, dctr_libffm_reader **out) {
    if ((!text && len) || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "libffm reader: NULL text or output");
    dctr_libffm_reader *r = NULL;
    DCTR_TRY(reader_alloc(name, opts, &r));
    r->buf = text ? text : "";
    r->len = r->cap = len;
    r->eof = 1;
    *out = r;
    return DCTR_OK;
}

void dctr_libffm_reader_close(dctr_libffm_reader *r) {
    if (!r)
        return;
    if (r->fp)
        fclose(r->fp);
    dctr_free(r->own);
    dctr_free(r->name);
    dctr_free(r);
}

dctr_status dctr_libffm_reader_rewind(dctr_libffm_reader *r) {
    return dctr_libffm_reader_seek(r, 0, 0);
}

void dctr_libffm_reader_tell(const dctr_libffm_reader *r, int64_t *offset, int64_t *line) {
    *offset = r->base + (int64_t)r->pos;
    *line = r->line;
}

dctr_status dctr_libffm_reader_seek(dctr_libffm_reader *r, int64_t offset, int64_t line) {
    r->line = line;
    if (!r->fp) {
        if (offset < 0 || (size_t)offset > r->len)
            return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: seek outside the text", r->name);
        r->pos = (size_t)offset;
        return DCTR_OK;
    }
    r->len = r->pos = 0;
    r->eof = 0;
    r->base = offset;
    if (fseeko(r->fp, (off_t)offset, SEEK_SET) != 0)
        return dctr_set_error(DCTR_ERR_IO, "%s: cannot seek: %s", r->name, strerror(errno));
    clearerr(r->fp);
    return DCTR_OK;
}

static dctr_status refill(dctr_libffm_reader *r) {
    size_t keep = r->len - r->pos;
    r->base += (int64_t)r->pos;
    if (r->pos > 0 && keep > 0)
        memmove(r->own, r->own + r->pos, keep);
    r->len = keep;
    r->pos = 0;
    size_t got = fread(r->own + r->len, 1, r->cap - r->len, r->fp);
    r->len += got;
    if (got == 0) {
        if (ferror(r->fp))
            return dctr_set_error(DCTR_ERR_IO, "%s: read error after line %lld", r->name,
                                  (long long)r->line);
        r->eof = 1;
    }
    return DCTR_OK;
}

/* Next line into [*b, *e) without the newline; *have = 0 at the end of the input. */
static dctr_status next_line(dctr_libffm_reader *r, const char **b, const char **e, int *have) {
    for (;;) {
        const char *start = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        const char *nl = avail ? memchr(start, '\n', avail) : NULL;
        if (nl || (r->eof && avail)) {
            const char *end = nl ? nl : start + avail;
            r->line++;
            if ((size_t)(end - start) > r->o.max_line_bytes)
                return dctr_set_error(DCTR_ERR_LIMIT, "%s:%lld:%zu: line longer than %zu bytes",
                                      r->name, (long long)r->line, r->o.max_line_bytes + 1,
                                      r->o.max_line_bytes);
            r->pos = (size_t)(end - r->buf) + (nl ? 1 : 0);
            *b = start;
            *e = end;
            *have = 1;
            return DCTR_OK;
        }
        if (r->eof) {
            *have = 0;
            return DCTR_OK;
        }
        if (avail > r->o.max_line_bytes)
            return dctr_set_error(DCTR_ERR_LIMIT, "%s:%lld:%zu: line longer than %zu bytes", r->name,
                                  (long long)r->line + 1, r->o.max_line_bytes + 1,
                                  r->o.max_line_bytes);
        DCTR_TRY(refill(r));
    }
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

typedef struct {
    const dctr_libffm_reader *r;
    const char *line;
} loc;

static dctr_status token_error(const loc *L, dctr_status code, const char *at, const char *tok,
                               const char *tok_end, const char *what) {
    int n = (int)(tok_end - tok);
    return dctr_set_error(code, "%s:%lld:%lld: %s in '%.*s%s'", L->r->name, (long long)L->r->line,
                          (long long)(at - L->line) + 1, what, n > TOKEN_ECHO ? TOKEN_ECHO : n, tok,
                          n > TOKEN_ECHO ? "..." : "");
}

static const double pow10_table[19] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                       1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

/* Parses [p, e) entirely as a number. 0 = ok, -1 = not a number. */
static int parse_double(const char *p, const char *e, double *out) {
    const char *s = p;
    int neg = 0;
    if (s < e && (*s == '-' || *s == '+'))
        neg = *s++ == '-';
    uint64_t mant = 0;
    int digits = 0, frac = 0;
    while (s < e && *s >= '0' && *s <= '9') {
        mant = mant * 10 + (uint64_t)(*s++ - '0');
        digits++;
    }
    if (s < e && *s == '.') {
        s++;
        while (s < e && *s >= '0' && *s <= '9') {
            mant = mant * 10 + (uint64_t)(*s++ - '0');
            digits++;
            frac++;
        }
    }
    if (s == e && digits > 0 && digits <= 18) {
        /* mant < 10^18 < 2^63 is exact in uint64; as a double it is exact below 2^53 only, so
         * long mantissas take the strtod path to keep the single rounding. */
        if (mant < ((uint64_t)1 << 53)) {
            double d = (double)mant / pow10_table[frac];
            *out = neg ? -d : d;
            return 0;
        }
    }
    char tmp[128];
    size_t n = (size_t)(e - p);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(tmp, &end);
    if (end != tmp + n)
        return -1;
    *out = d;
    return 0;
}

/* Parses a non-negative decimal integer ending at `stop` (':' or the token end). */
static dctr_status parse_uint(const loc *L, const char **pp, const char *tok, const char *tok_end,
                              int64_t cap, const char *what, int64_t *out) {
    const char *p = *pp;
    char msg[96];
    if (p < tok_end && *p == '-') {
        snprintf(msg, sizeof msg, "negative %s", what);
        return token_error(L, DCTR_ERR_RANGE, p, tok, tok_end, msg);
    }
    if (p < tok_end && *p == '+')
        p++;
    const char *d0 = p;
    int64_t v = 0;
    int huge = 0;
    while (p < tok_end && *p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            huge = 1;
        else
            v = v * 10 + (*p - '0');
        p++;
    }
    if (p == d0 || (p < tok_end && *p != ':')) {
        snprintf(msg, sizeof msg, "%s is not a non-negative integer", what);
        return token_error(L, DCTR_ERR_PARSE, *pp, tok, tok_end, msg);
    }
    if (huge || v >= cap) {
        snprintf(msg, sizeof msg, "%s exceeds the limit (must be < %lld)", what, (long long)cap);
        return token_error(L, DCTR_ERR_LIMIT, *pp, tok, tok_end, msg);
    }
    *pp = p;
    *out = v;
    return DCTR_OK;
}

static dctr_status check_value(const loc *L, const char *p, const char *tok, const char *tok_end,
                               const char *what, double *out) {
    char msg[96];
    if (p == tok_end) {
        snprintf(msg, sizeof msg, "missing %s", what);
        return token_error(L, DCTR_ERR_PARSE, p, tok, tok_end, msg);
    }
    if (parse_double(p, tok_end, out) != 0) {
        snprintf(msg, sizeof msg, "%s is not a number", what);
        return token_error(L, DCTR_ERR_PARSE, p, tok, tok_end, msg);
    }
    if (isnan(*out) || isinf(*out)) {
        snprintf(msg, sizeof msg, "%s is NaN or infinite", what);
        return token_error(L, DCTR_ERR_NUMERIC, p, tok, tok_end, msg);
    }
    if (fabs(*out) > FLT_MAX) {
        snprintf(msg, sizeof msg, "%s is outside the float range", what);
        return token_error(L, DCTR_ERR_RANGE, p, tok, tok_end, msg);
    }
    return DCTR_OK;
}

/* 1 / sum(v^2) as a finite positive float: 1 for a row without (non-zero) values, and clamped to
 * [FLT_MIN, FLT_MAX] when the true value is outside the float range (e.g. a single 1e-30 or 1e30
 * value), so training never multiplies by inf or 0. The FFM models normalise rows they build
 * from a dctr_batch with the same rule (src/models/ffm/model.c). */
float dctr_ffm_inv_norm(double sq) {
    if (!(sq > 0))
        return 1.0f;
    double inv = 1.0 / sq;
    if (inv > FLT_MAX)
        return FLT_MAX;
    if (inv < FLT_MIN)
        return FLT_MIN;
    return (float)inv;
}

/* Parses one line into data. *added = 0 for a skipped blank line. */
static dctr_status parse_line(dctr_libffm_reader *r, const char *b, const char *e, dctr_ffm_data *d,
                              int *added) {
    loc L = {r, b};
    const char *p = b;
    *added = 0;
    while (p < e && is_space(*p))
        p++;
    if (p == e) {
        if (r->o.skip_blank_lines)
            return DCTR_OK;
        return dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:1: empty line (a label is required)",
                              r->name, (long long)r->line);
    }
    const char *t = p;
    while (t < e && !is_space(*t))
        t++;
    double label;
    DCTR_TRY(check_value(&L, p, p, t, "label", &label));
    if (d->rows == d->cap_rows)
        DCTR_TRY(grow_rows(d));

    int64_t start = d->nnz;
    double sq = 0;
    int32_t max_field = d->num_fields - 1;
    int64_t max_index = d->num_features - 1;
    p = t;
    for (;;) {
        while (p < e && is_space(*p))
            p++;
        if (p == e)
            break;
        const char *tok = p, *tok_end = p;
        while (tok_end < e && !is_space(*tok_end))
            tok_end++;
        int64_t field, index;
        double value;
        DCTR_TRY(parse_uint(&L, &p, tok, tok_end, r->o.max_fields, "field", &field));
        if (p == tok_end)
            return token_error(&L, DCTR_ERR_PARSE, p, tok, tok_end,
                               "missing ':' (expected field:index:value)");
        p++;
        DCTR_TRY(parse_uint(&L, &p, tok, tok_end, r->o.max_features, "feature index", &index));
        if (p == tok_end)
            return token_error(&L, DCTR_ERR_PARSE, p, tok, tok_end,
                               "missing second ':' (expected field:index:value)");
        p++;
        DCTR_TRY(check_value(&L, p, tok, tok_end, "value", &value));
        if (d->nnz == d->cap_nnz)
            DCTR_TRY(grow_nodes(d));
        dctr_ffm_node *n = &d->nodes[d->nnz++];
        n->field = (int32_t)field;
        n->index = (int32_t)index;
        n->value = (float)value;
        sq += (double)n->value * n->value;
        if (field > max_field)
            max_field = (int32_t)field;
        if (index > max_index)
            max_index = index;
        p = tok_end;
    }
    (void)start;
    d->labels[d->rows] = (float)label;
    d->inv_norm[d->rows] = dctr_ffm_inv_norm(sq);
    d->rows++;
    d->row_ptr[d->rows] = d->nnz;
    d->num_fields = max_field + 1;
    d->num_features = max_index + 1;
    *added = 1;
    return DCTR_OK;
}

dctr_status dctr_libffm_reader_read(dctr_libffm_reader *r, dctr_ffm_data *d, int64_t max_rows,
                                    int64_t *got) {
    *got = 0;
    for (;;) {
        if (max_rows > 0 && *got >= max_rows)
            return DCTR_OK;
        const char *b = NULL, *e = NULL;
        int have = 0, added = 0;
        DCTR_TRY(next_line(r, &b, &e, &have));
        if (!have)
            return DCTR_OK;
        DCTR_TRY(parse_line(r, b, e, d, &added));
        *got += added;
    }
}

/* ---- whole-file API ---- */

static dctr_status read_all(dctr_libffm_reader *r, dctr_ffm_data **out) {
    dctr_ffm_data *d;
    dctr_status s = dctr_ffm_data_new_empty(&d);
    if (s == DCTR_OK) {
        int64_t got;
        s = dctr_libffm_reader_read(r, d, 0, &got);
    }
    dctr_libffm_reader_close(r);
    if (s != DCTR_OK) {
        dctr_ffm_data_free(d);
        return s;
    }
    *out = d;
    return DCTR_OK;
}

dctr_status dctr_ffm_data_read(const char *path, const dctr_libffm_options *opts, dctr_ffm_data **out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_data_read: NULL output");
    *out = NULL;
    dctr_libffm_reader *r = NULL;
    DCTR_TRY(dctr_libffm_reader_open(path, opts, &r));
    return read_all(r, out);
}

dctr_status dctr_ffm_data_from_text(const char *text, size_t len, const char *name,
                                    const dctr_libffm_options *opts, dctr_ffm_data **out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_data_from_text: NULL output");
    *out = NULL;
    dctr_libffm_reader *r = NULL;
    DCTR_TRY(dctr_libffm_reader_open_text(text, len, name, opts, &r));
    return read_all(r, out);
}
