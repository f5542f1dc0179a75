/* CSV tokenizer (see csv_tokenizer.h). A record is scanned from its first byte; if the buffer
 * ends inside it, the unread tail moves to the front, more is read and the record is rescanned.
 * The buffer holds at least two maximal lines, so that happens at most once per refill. */
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

#define NEED_MORE 1

/* Scans one record at t->pos. Returns DCTR_OK with *state 0 when complete, NEED_MORE when the
 * buffer ended inside it, or an error. */
static dctr_status scan_record(dctr_csv_tok *t, int *need_more, int *blank) {
    char *buf = t->buf;
    size_t p = t->pos, end = t->end;
    int64_t line = t->line;
    size_t line_start = p;
    unsigned hi = 0;
    *need_more = 0;
    *blank = 0;
    t->nf = 0;
    t->rec_line = line;
    unsigned char special[256];
    memset(special, 0, sizeof special);
    special[(unsigned char)t->delim] = special['\n'] = special['\r'] = special['"'] = special[0] = 1;
    for (;;) {
        if (p - t->pos > t->max_line)
            return dctr_set_error(DCTR_ERR_LIMIT, "%s:%lld: record longer than %zu bytes",
                                  t->path, (long long)t->rec_line, t->max_line);
        int64_t fline = line, fcol = (int64_t)(p - line_start) + 1;
        size_t fstart, flen;
        if (p < end && buf[p] == '"') {
            size_t q = p + 1, w = q;
            int esc = 0;
            for (;;) {
                if (q >= end) {
                    if (!t->eof) {
                        *need_more = 1;
                        return DCTR_OK;
                    }
                    return dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: unterminated quoted field",
                                          t->path, (long long)fline, (long long)fcol);
                }
                unsigned char c = (unsigned char)buf[q];
                if (c == '"') {
                    if (q + 1 >= end && !t->eof) {
                        *need_more = 1;
                        return DCTR_OK;
                    }
                    if (q + 1 < end && buf[q + 1] == '"') {
                        esc = 1;
                        q += 2;
                        continue;
                    }
                    break;
                }
                if (c == 0)
                    return dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: NUL byte in a field",
                                          t->path, (long long)line, (long long)(q - line_start + 1));
                if (c == '\n') {
                    line++;
                    line_start = q + 1;
                }
                hi |= c;
                q++;
                if (q - t->pos > t->max_line)
                    return dctr_set_error(DCTR_ERR_LIMIT, "%s:%lld: record longer than %zu bytes",
                                          t->path, (long long)t->rec_line, t->max_line);
            }
            /* q at the closing quote */
            fstart = w;
            flen = q - w;
            if (esc) { /* compact "" -> " in place */
                size_t r = w, o = w;
                while (r < q) {
                    buf[o++] = buf[r];
                    r += (buf[r] == '"') ? 2 : 1;
                }
                flen = o - w;
            }
            p = q + 1;
            if (p < end && buf[p] != t->delim && buf[p] != '\n' &&
                !(buf[p] == '\r' && (p + 1 >= end || buf[p + 1] == '\n')))
                return dctr_set_error(DCTR_ERR_PARSE,
                                      "%s:%lld:%lld: unexpected character after a closing quote",
                                      t->path, (long long)line, (long long)(p - line_start + 1));
        } else {
            size_t q = p;
            for (;;) {
                q = scan_plain(buf, q, end, t->delim, special, &hi);
                if (q < end && buf[q] == '\r' && q + 1 < end && buf[q + 1] != '\n') {
                    q++; /* a lone CR is data */
                    continue;
                }
                break;
            }
            if (q >= end || (buf[q] == '\r' && q + 1 >= end)) {
                if (!t->eof) {
                    *need_more = 1;
                    return DCTR_OK;
                }
                if (q < end)
                    q++; /* keep a final lone CR out of the field below */
            }
            if (q < end && buf[q] == '"')
                return dctr_set_error(DCTR_ERR_PARSE,
                                      "%s:%lld:%lld: quote character inside an unquoted field",
                                      t->path, (long long)line, (long long)(q - line_start + 1));
            if (q < end && buf[q] == 0)
                return dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: NUL byte in a field", t->path,
                                      (long long)line, (long long)(q - line_start + 1));
            fstart = p;
            flen = q - p;
            if (q >= end && flen > 0 && buf[q - 1] == '\r')
                flen--;
            p = q;
            if (t->nf == 0 && flen == 0 && (p >= end || buf[p] == '\n' || buf[p] == '\r')) {
                /* blank line */
                if (p < end && buf[p] == '\r')
                    p++;
                if (p < end)
                    p++;
                t->pos = p;
                t->line = line + 1;
                *blank = 1;
                return DCTR_OK;
            }
        }
        if (p - t->pos > t->max_line)
            return dctr_set_error(DCTR_ERR_LIMIT, "%s:%lld: record longer than %zu bytes",
                                  t->path, (long long)t->rec_line, t->max_line);
        DCTR_TRY(push_field(t, buf + fstart, flen, fline, fcol));
        if (p >= end) {
            t->pos = p;
            t->line = line;
            break;
        }
        if (buf[p] == t->delim) {
            p++;
            continue;
        }
        if (buf[p] == '\r') {
            if (p + 1 >= end && !t->eof) {
                *need_more = 1;
                return DCTR_OK;
            }
            p++;
        }
        if (p < end)
            p++; /* '\n' */
        t->pos = p;
        t->line = line + 1;
        break;
    }
    if (hi & 0x80) {
        for (int32_t i = 0; i < t->nf; i++)
            if (!dctr_utf8_valid(t->f[i].p, t->f[i].len))
                return dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: invalid UTF-8 in a field",
                                      t->path, (long long)t->f[i].line, (long long)t->f[i].col);
    }
    return DCTR_OK;
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
