/* Number parsing (see numparse.h). The exact fast path is Clinger's: a mantissa below 2^53
 * scaled by an exactly representable power of ten rounds correctly in one operation. */
#include "feature/numparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int is_blank(char c) { return c == ' ' || c == '\t'; }

static int lower_eq(const char *s, size_t len, const char *word) {
    size_t n = strlen(word);
    if (len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return 0;
    }
    return 1;
}

/* Drops leading and trailing blanks (spaces, tabs) of s[0, *len). */
static inline const char *trim_blanks(const char *s, size_t *len) {
    while (*len > 0 && is_blank(s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && is_blank(s[*len - 1]))
        (*len)--;
    return s;
}

/* The digits of a decimal "123.456": up to 19 significant ones in mant, the rest counted. */
typedef struct decimal {
    uint64_t mant;
    int sig;    /* significant digits accumulated in mant */
    int drop;   /* integer digits dropped beyond 19 */
    int frac;   /* fraction digits accumulated */
    int digits; /* digits seen */
    int lost;   /* fraction digits beyond 19 significant ones */
} decimal;

static inline void add_digit(decimal *d, char c, int fraction) {
    if (d->sig < 19) {
        d->mant = d->mant * 10 + (uint64_t)(c - '0');
        if (d->mant)
            d->sig++;
        d->frac += fraction;
    } else if (fraction) {
        d->lost = 1;
    } else {
        d->drop++;
    }
    d->digits++;
}

/* Digits, an optional '.' and more digits from s[*i]; *i moves past them. */
static inline void scan_decimal(const char *s, size_t len, size_t *i, decimal *d) {
    memset(d, 0, sizeof *d);
    while (*i < len && s[*i] >= '0' && s[*i] <= '9')
        add_digit(d, s[(*i)++], 0);
    if (*i < len && s[*i] == '.') {
        (*i)++;
        while (*i < len && s[*i] >= '0' && s[*i] <= '9')
            add_digit(d, s[(*i)++], 1);
    }
}

/* An optional exponent "e[+-]digits" from s[*i] into *ex (saturating at 10^5); 0, or -1 for an
 * 'e' without digits. */
static inline int scan_exponent(const char *s, size_t len, size_t *i, int64_t *ex) {
    *ex = 0;
    if (*i >= len || (s[*i] != 'e' && s[*i] != 'E'))
        return 0;
    (*i)++;
    int eneg = 0;
    if (*i < len && (s[*i] == '+' || s[*i] == '-')) {
        eneg = s[*i] == '-';
        (*i)++;
    }
    if (*i >= len || s[*i] < '0' || s[*i] > '9')
        return -1;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (*ex < 100000)
            *ex = *ex * 10 + (s[*i] - '0');
        (*i)++;
    }
    if (eneg)
        *ex = -*ex;
    return 0;
}

/* |value| of the whole text s[0, len) (sign included, undone for strtod) from its digits: the
 * exact fast path when it applies, else strtod on a copy. -1 when the text is too long. */
static int magnitude(const char *s, size_t len, int neg, const decimal *d, int64_t ex, double *v) {
    int64_t e10 = ex + d->drop - d->frac;
    if (d->drop == 0 && !d->lost && d->mant < (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        *v = (double)d->mant;
        *v = e10 >= 0 ? *v * POW10[e10] : *v / POW10[-e10];
        return 0;
    }
    if (d->mant == 0) {
        *v = 0.0;
        return 0;
    }
    char buf[128];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *v = strtod(buf, NULL);
    if (neg)
        *v = -*v; /* strtod saw the sign already */
    return 0;
}

int dctr_parse_double(const char *s, size_t len, double *out) {
    s = trim_blanks(s, &len);
    if (len == 0)
        return DCTR_NUM_SYNTAX;
    size_t i = 0;
    int neg = 0;
    if (s[i] == '+' || s[i] == '-') {
        neg = s[i] == '-';
        i++;
    }
    decimal d;
    scan_decimal(s, len, &i, &d);
    if (d.digits == 0) {
        const char *w = s + (s[0] == '+' || s[0] == '-');
        size_t wl = len - (size_t)(w - s);
        if (lower_eq(w, wl, "nan") || lower_eq(w, wl, "inf") || lower_eq(w, wl, "infinity"))
            return DCTR_NUM_NONFINITE;
        return DCTR_NUM_SYNTAX;
    }
    int64_t ex;
    if (scan_exponent(s, len, &i, &ex) != 0 || i != len)
        return DCTR_NUM_SYNTAX;
    double v;
    if (magnitude(s, len, neg, &d, ex, &v) != 0)
        return DCTR_NUM_SYNTAX;
    if (neg)
        v = -v;
    if (!isfinite(v))
        return DCTR_NUM_NONFINITE;
    *out = v;
    return DCTR_NUM_OK;
}

int dctr_parse_int64(const char *s, size_t len, int64_t *out) {
    s = trim_blanks(s, &len);
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    if (i >= len || s[i] < '0' || s[i] > '9')
        return DCTR_NUM_SYNTAX;
    uint64_t v = 0;
    const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int over = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (lim - d) / 10)
            over = 1;
        else
            v = v * 10 + d;
        i++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] == '0')
            i++;
    }
    if (i != len)
        return DCTR_NUM_SYNTAX;
    if (over)
        return DCTR_NUM_RANGE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return DCTR_NUM_OK;
}

size_t dctr_format_int64(int64_t v, char *buf) {
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        buf[k++] = '-';
    while (n)
        buf[k++] = tmp[--n];
    buf[k] = '\0';
    return k;
}
