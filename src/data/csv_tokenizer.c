/* CSV tokenizer (see csv_tokenizer.h). A record is scanned from its first byte (scan_record);
 * if the buffer ends inside it, nothing is committed: the unread tail moves to the front, more
 * is read and the record is scanned again. The buffer holds at least two maximal records, so a
 * record is rescanned at most once; one that still does not fit is longer than max_line. */
#include "data/csv_tokenizer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

#define MIN_BUFFER (4u << 20)

dctr_status dctr_csv_tok_open(dctr_csv_tok *t, const char *path, char delim, size_t max_line,
                              int32_t max_fields) {
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->delim = delim;
    t->max_line = max_line ? max_line : (1u << 20);
    t->max_fields = max_fields > 0 ? max_fields : 65536;
    t->path = dctr_strdup(path);
    if (!t->path)
        return DCTR_ERR_NOMEM;
    t->cap = t->max_line * 2 + 4096;
    if (t->cap < MIN_BUFFER)
        t->cap = MIN_BUFFER;
    t->buf = dctr_malloc(t->cap + 1);
    t->fcap = 64;
    t->f = dctr_malloc(sizeof *t->f * (size_t)t->fcap);
    if (!t->buf || !t->f) {
        dctr_csv_tok_close(t);
        return DCTR_ERR_NOMEM;
    }
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->fd < 0) {
        dctr_status st = dctr_set_error(DCTR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        dctr_csv_tok_close(t);
        return st;
    }
    t->line = 1;
    return DCTR_OK;
}

void dctr_csv_tok_close(dctr_csv_tok *t) {
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    dctr_free(t->buf);
    dctr_free(t->f);
    dctr_free(t->path);
    t->buf = NULL;
    t->f = NULL;
    t->path = NULL;
}

dctr_status dctr_csv_tok_rewind(dctr_csv_tok *t) {
    if (lseek(t->fd, 0, SEEK_SET) < 0)
        return dctr_set_error(DCTR_ERR_IO, "%s: cannot rewind: %s", t->path, strerror(errno));
    t->pos = t->end = 0;
    t->eof = 0;
    t->line = 1;
    t->consumed = 0;
    return DCTR_OK;
}

/* Moves the unconsumed tail to the front and reads more; sets eof at the end of the file. */
static dctr_status refill(dctr_csv_tok *t) {
    int first = t->consumed == 0 && t->pos == 0 && t->end == 0;
    if (t->pos > 0) {
        memmove(t->buf, t->buf + t->pos, t->end - t->pos);
        t->end -= t->pos;
        t->pos = 0;
    }
    while (t->end < t->cap && !t->eof) {
        ssize_t r = read(t->fd, t->buf + t->end, t->cap - t->end);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return dctr_set_error(DCTR_ERR_IO, "%s: read failed: %s", t->path, strerror(errno));
        }
        if (r == 0)
            t->eof = 1;
        t->end += (size_t)r;
    }
    if (first && t->end >= 3 && (unsigned char)t->buf[0] == 0xEF &&
        (unsigned char)t->buf[1] == 0xBB && (unsigned char)t->buf[2] == 0xBF)
        t->pos = 3; /* UTF-8 byte-order mark */
    return DCTR_OK;
}

int dctr_utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n >= len)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

static dctr_status push_field(dctr_csv_tok *t, const char *p, size_t len, int64_t line,
                              int64_t col) {
    if (t->nf >= t->max_fields)
        return dctr_set_error(DCTR_ERR_LIMIT, "%s:%lld:%lld: more than %d fields in a record",
                              t->path, (long long)line, (long long)col, (int)t->max_fields);
    if (t->nf >= t->fcap) {
        int32_t ncap = t->fcap * 2;
        if (ncap > t->max_fields)
            ncap = t->max_fields;
        dctr_csv_field *nf = dctr_realloc_array(t->f, (size_t)ncap, sizeof *nf);
        if (!nf)
            return DCTR_ERR_NOMEM;
        t->f = nf;
        t->fcap = ncap;
    }
    dctr_csv_field *f = &t->f[t->nf++];
    f->p = p;
    f->len = len;
    f->line = line;
    f->col = col;
    return DCTR_OK;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Index of the first delimiter, CR, LF, quote or NUL in buf[q, end); ORs the bytes passed into
 * *hi (bit 7 set = non-ASCII seen, checked as UTF-8 later). 16 bytes at a time with SSE2. */
static inline size_t scan_plain(const char *buf, size_t q, size_t end, char delim,
                                const unsigned char *special, unsigned *hi) {
#if defined(__SSE2__)
    const __m128i vd = _mm_set1_epi8(delim), vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
    const __m128i vq = _mm_set1_epi8('"'), vz = _mm_setzero_si128();
    while (q + 16 <= end) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(buf + q));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
                                 _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vr),
                                                           _mm_cmpeq_epi8(x, vq)),
                                              _mm_cmpeq_epi8(x, vz)));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        unsigned high = (unsigned)_mm_movemask_epi8(x);
        if (mask) {
            unsigned pos = (unsigned)__builtin_ctz(mask);
            if (high & ((1u << pos) - 1u))
                *hi |= 0x80u;
            return q + pos;
        }
        if (high)
            *hi |= 0x80u;
        q += 16;
    }
#else
    (void)delim;
#endif
    unsigned h = 0;
    while (q < end && !special[(unsigned char)buf[q]]) {
        h |= (unsigned char)buf[q];
        q++;
    }
    *hi |= h;
    return q;
}

/* Cursor of one record scan. A scan always restarts from t->pos and commits t->pos / t->line
 * only when the record is complete, so a scan cut short by the end of the buffer (the caller
 * refills and rescans) leaves the tokenizer unchanged. */
typedef struct rec_scan {
    char *buf;
    size_t p, end;              /* next byte, end of the buffered bytes */
    size_t line_start;          /* offset of the current line's first byte (for columns) */
    int64_t line;
    unsigned hi;                /* OR of the bytes passed: bit 7 = non-ASCII, check UTF-8 */
    unsigned char special[256]; /* bytes that end a plain run */
} rec_scan;

/* What a step of the scan found. */
enum { SCAN_FIELD, SCAN_NEED_MORE, SCAN_RECORD_END };

static dctr_status too_long(const dctr_csv_tok *t) {
    return dctr_set_error(DCTR_ERR_LIMIT, "%s:%lld: record longer than %zu bytes", t->path,
                          (long long)t->rec_line, t->max_line);
}

static dctr_status parse_error_at(const dctr_csv_tok *t, int64_t line, int64_t col,
                                  const char *what) {
    return dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: %s", t->path, (long long)line,
                          (long long)col, what);
}

/* Column (1-based) of buffer offset q on the scan's current line. */
static int64_t col_of(const rec_scan *r, size_t q) { return (int64_t)(q - r->line_start) + 1; }

/* Compacts the "" pairs of buf[w, q) to single quotes in place; returns the new length. */
static size_t unescape_quotes(char *buf, size_t w, size_t q) {
    size_t rd = w, o = w;
    while (rd < q) {
        buf[o++] = buf[rd];
        rd += (buf[rd] == '"') ? 2 : 1;
    }
    return o - w;
}

/* The quoted field whose opening quote is at r->p (it started at fline:fcol). On SCAN_FIELD,
 * buf[*fstart, + *flen) is its value and r->p is just after the closing quote. */
static dctr_status scan_quoted(const dctr_csv_tok *t, rec_scan *r, int64_t fline, int64_t fcol,
                               size_t *fstart, size_t *flen, int *out) {
    char *buf = r->buf;
    size_t q = r->p + 1, w = q;
    int esc = 0;
    for (;;) {
        if (q >= r->end) {
            if (!t->eof) {
                *out = SCAN_NEED_MORE;
                return DCTR_OK;
            }
            return parse_error_at(t, fline, fcol, "unterminated quoted field");
        }
        unsigned char c = (unsigned char)buf[q];
        if (c == '"') {
            if (q + 1 >= r->end && !t->eof) { /* "" split by the buffer's end? */
                *out = SCAN_NEED_MORE;
                return DCTR_OK;
            }
            if (q + 1 < r->end && buf[q + 1] == '"') {
                esc = 1;
                q += 2;
                continue;
            }
            break;
        }
        if (c == 0)
            return parse_error_at(t, r->line, col_of(r, q), "NUL byte in a field");
        if (c == '\n') {
            r->line++;
            r->line_start = q + 1;
        }
        r->hi |= c;
        q++;
        if (q - t->pos > t->max_line)
            return too_long(t);
    }
    /* q at the closing quote */
    *fstart = w;
    *flen = esc ? unescape_quotes(buf, w, q) : q - w;
    size_t p = r->p = q + 1;
    if (p < r->end && buf[p] != t->delim && buf[p] != '\n' &&
        !(buf[p] == '\r' && (p + 1 >= r->end || buf[p + 1] == '\n')))
        return parse_error_at(t, r->line, col_of(r, p), "unexpected character after a closing quote");
    *out = SCAN_FIELD;
    return DCTR_OK;
}

/* The unquoted field at r->p: runs to the next delimiter, CRLF / LF or the end of the file (a
 * lone CR inside is data). On SCAN_FIELD r->p is at the byte that ended it. */
static dctr_status scan_unquoted(const dctr_csv_tok *t, rec_scan *r, size_t *fstart, size_t *flen,
                                 int *out) {
    char *buf = r->buf;
    const size_t p = r->p, end = r->end;
    size_t q = p;
    for (;;) {
        q = scan_plain(buf, q, end, t->delim, r->special, &r->hi);
        if (q < end && buf[q] == '\r' && q + 1 < end && buf[q + 1] != '\n') {
            q++; /* a lone CR is data */
            continue;
        }
        break;
    }
    if (q >= end || (buf[q] == '\r' && q + 1 >= end)) {
        if (!t->eof) {
            *out = SCAN_NEED_MORE;
            return DCTR_OK;
        }
        if (q < end)
            q++; /* keep a final lone CR out of the field below */
    }
    if (q < end && buf[q] == '"')
        return parse_error_at(t, r->line, col_of(r, q), "quote character inside an unquoted field");
    if (q < end && buf[q] == 0)
        return parse_error_at(t, r->line, col_of(r, q), "NUL byte in a field");
    *fstart = p;
    *flen = q - p;
    if (q >= end && *flen > 0 && buf[q - 1] == '\r')
        (*flen)--;
    r->p = q;
    *out = SCAN_FIELD;
    return DCTR_OK;
}

/* An empty first field that ends its line is a blank line: steps over its line end and commits
 * the position. Returns 1 when it was one. */
static int skip_blank_line(dctr_csv_tok *t, rec_scan *r, size_t flen) {
    size_t p = r->p;
    if (t->nf != 0 || flen != 0 || !(p >= r->end || r->buf[p] == '\n' || r->buf[p] == '\r'))
        return 0;
    if (p < r->end && r->buf[p] == '\r')
        p++;
    if (p < r->end)
        p++;
    t->pos = p;
    t->line = r->line + 1;
    return 1;
}

/* After a field: a delimiter (SCAN_FIELD: another field follows), the record's end
 * (SCAN_RECORD_END: position committed) or a CR at the buffer's end (SCAN_NEED_MORE). */
static int after_field(dctr_csv_tok *t, rec_scan *r) {
    size_t p = r->p;
    if (p >= r->end) {
        t->pos = p;
        t->line = r->line;
        return SCAN_RECORD_END;
    }
    if (r->buf[p] == t->delim) {
        r->p = p + 1;
        return SCAN_FIELD;
    }
    if (r->buf[p] == '\r') {
        if (p + 1 >= r->end && !t->eof)
            return SCAN_NEED_MORE;
        p++;
    }
    if (p < r->end)
        p++; /* '\n' */
    t->pos = p;
    t->line = r->line + 1;
    return SCAN_RECORD_END;
}

/* Non-ASCII bytes were seen: every field must be valid UTF-8. */
static dctr_status check_utf8(const dctr_csv_tok *t) {
    for (int32_t i = 0; i < t->nf; i++)
        if (!dctr_utf8_valid(t->f[i].p, t->f[i].len))
            return parse_error_at(t, t->f[i].line, t->f[i].col, "invalid UTF-8 in a field");
    return DCTR_OK;
}

/* Scans one record at t->pos into t->f. DCTR_OK with *need_more set when the buffer ended inside
 * the record (nothing committed: refill and call again), with *blank set when it was a blank
 * line (skipped), else the record is complete; or an error naming file:line:column. */
static dctr_status scan_record(dctr_csv_tok *t, int *need_more, int *blank) {
    rec_scan r;
    r.buf = t->buf;
    r.p = r.line_start = t->pos;
    r.end = t->end;
    r.line = t->line;
    r.hi = 0;
    memset(r.special, 0, sizeof r.special);
    r.special[(unsigned char)t->delim] = r.special['\n'] = r.special['\r'] = r.special['"'] =
        r.special[0] = 1;
    *need_more = 0;
    *blank = 0;
    t->nf = 0;
    t->rec_line = t->line;
    for (;;) {
        if (r.p - t->pos > t->max_line)
            return too_long(t);
        int64_t fline = r.line, fcol = col_of(&r, r.p);
        size_t fstart = 0, flen = 0;
        int out = SCAN_NEED_MORE;
        if (r.p < r.end && r.buf[r.p] == '"') {
            DCTR_TRY(scan_quoted(t, &r, fline, fcol, &fstart, &flen, &out));
        } else {
            DCTR_TRY(scan_unquoted(t, &r, &fstart, &flen, &out));
            if (out == SCAN_FIELD && skip_blank_line(t, &r, flen)) {
                *blank = 1;
                return DCTR_OK;
            }
        }
        if (out == SCAN_NEED_MORE) {
            *need_more = 1;
            return DCTR_OK;
        }
        if (r.p - t->pos > t->max_line)
            return too_long(t);
        DCTR_TRY(push_field(t, r.buf + fstart, flen, fline, fcol));
        int next = after_field(t, &r);
        if (next == SCAN_NEED_MORE) {
            *need_more = 1;
            return DCTR_OK;
        }
        if (next == SCAN_RECORD_END)
            break;
    }
    return (r.hi & 0x80) ? check_utf8(t) : DCTR_OK;
}

dctr_status dctr_csv_tok_next(dctr_csv_tok *t, int *got) {
    *got = 0;
    for (;;) {
        if (t->pos >= t->end) {
            if (t->eof)
                return DCTR_OK;
            DCTR_TRY(refill(t));
            if (t->pos >= t->end && t->eof)
                return DCTR_OK;
        }
        int need_more, blank;
        size_t start = t->pos;
        DCTR_TRY(scan_record(t, &need_more, &blank));
        if (need_more) {
            if (start == 0 && t->end == t->cap)
                return dctr_set_error(DCTR_ERR_LIMIT, "%s:%lld: record longer than %zu bytes",
                                      t->path, (long long)t->line, t->max_line);
            t->consumed += start;
            DCTR_TRY(refill(t));
            continue;
        }
        if (blank)
            continue;
        *got = 1;
        return DCTR_OK;
    }
}
