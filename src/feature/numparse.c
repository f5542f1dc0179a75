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

int dctr_parse_double(const char *s, size_t len, double *out) {
    while (len > 0 && is_blank(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    if (len == 0)
        return DCTR_NUM_SYNTAX;
    size_t i = 0;
    int neg = 0;
    if (s[i] == '+' || s[i] == '-') {
        neg = s[i] == '-';
        i++;
    }
    uint64_t mant = 0;
    int sig = 0;      /* significant digits accumulated in mant */
    int drop = 0;     /* integer digits dropped beyond 19 */
    int frac = 0;     /* fraction digits accumulated */
    int digits = 0;
    int lost = 0;     /* fraction digits beyond 19 significant ones */
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (sig < 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            if (mant)
                sig++;
        } else {
            drop++;
        }
        digits++;
        i++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                if (mant)
                    sig++;
                frac++;
            } else {
                lost = 1;
            }
            digits++;
            i++;
        }
    }
    if (digits == 0) {
        const char *w = s + (s[0] == '+' || s[0] == '-');
        size_t wl = len - (size_t)(w - s);
        if (lower_eq(w, wl, "nan") || lower_eq(w, wl, "inf") || lower_eq(w, wl, "infinity"))
            return DCTR_NUM_NONFINITE;
        return DCTR_NUM_SYNTAX;
    }
    int64_t ex = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i >= len || s[i] < '0' || s[i] > '9')
            return DCTR_NUM_SYNTAX;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (ex < 100000)
                ex = ex * 10 + (s[i] - '0');
            i++;
        }
        if (eneg)
            ex = -ex;
    }
    if (i != len)
        return DCTR_NUM_SYNTAX;
    int64_t e10 = ex + drop - frac;
    double v;
    if (drop == 0 && !lost && mant < (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        v = (double)mant;
        v = e10 >= 0 ? v * POW10[e10] : v / POW10[-e10];
    } else if (mant == 0) {
        v = 0.0;
    } else {
        char buf[128];
        if (len >= sizeof buf)
            return DCTR_NUM_SYNTAX;
        memcpy(buf, s, len);
        buf[len] = '\0';
        v = strtod(buf, NULL);
        if (neg)
            v = -v; /* undone below: strtod saw the sign already */
    }
    if (neg)
        v = -v;
    if (!isfinite(v))
        return DCTR_NUM_NONFINITE;
    *out = v;
    return DCTR_NUM_OK;
}

int dctr_parse_int64(const char *s, size_t len, int64_t *out) {
    while (len > 0 && is_blank(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_blank(s[len - 1]))
        len--;
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
