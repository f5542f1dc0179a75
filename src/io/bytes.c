/* Little-endian serialization. Values are packed byte by byte (never by casting a struct or a
 * pointer), so files are identical on every host and the reader never does an unaligned load. */
#include "io/bytes.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

#define DCTR_STR_NULL 0xFFFFFFFFu

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DCTR_HOST_LE 1
#else
#define DCTR_HOST_LE 0
#endif

/* ---- writer ---- */

void dctr_wbuf_init(dctr_wbuf *w) { memset(w, 0, sizeof *w); }

void dctr_wbuf_free(dctr_wbuf *w) {
    dctr_free(w->data);
    dctr_wbuf_init(w);
}

static void wbuf_fail_overflow(dctr_wbuf *w) {
    if (!w->failed)
        dctr_set_error(DCTR_ERR_NOMEM, "serialization buffer size overflow");
    w->failed = 1;
}

/* Makes room for `extra` more bytes; on failure marks the writer failed (sticky). */
static uint8_t *wbuf_grow(dctr_wbuf *w, size_t extra) {
    if (w->failed)
        return NULL;
    if (extra > SIZE_MAX - w->len) {
        wbuf_fail_overflow(w);
        return NULL;
    }
    size_t need = w->len + extra;
    if (need > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        uint8_t *p = dctr_realloc_array(w->data, cap, 1);
        if (!p) {
            w->failed = 1;
            return NULL;
        }
        w->data = p;
        w->cap = cap;
    }
    uint8_t *at = w->data ? w->data + w->len : NULL; /* NULL only when extra == 0 */
    w->len = need;
    return at;
}

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void wbuf_le(dctr_wbuf *w, uint64_t v, int n) {
    uint8_t *p = wbuf_grow(w, (size_t)n);
    if (p)
        put_le(p, v, n);
}

void dctr_wbuf_bytes(dctr_wbuf *w, const void *data, size_t len) {
    uint8_t *p = wbuf_grow(w, len);
    if (p && len)
        memcpy(p, data, len);
}

void dctr_wbuf_u8(dctr_wbuf *w, uint8_t v) { wbuf_le(w, v, 1); }
void dctr_wbuf_u32(dctr_wbuf *w, uint32_t v) { wbuf_le(w, v, 4); }
void dctr_wbuf_u64(dctr_wbuf *w, uint64_t v) { wbuf_le(w, v, 8); }
void dctr_wbuf_i32(dctr_wbuf *w, int32_t v) { wbuf_le(w, (uint32_t)v, 4); }
void dctr_wbuf_i64(dctr_wbuf *w, int64_t v) { wbuf_le(w, (uint64_t)v, 8); }

void dctr_wbuf_f32(dctr_wbuf *w, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    wbuf_le(w, bits, 4);
}

void dctr_wbuf_f64(dctr_wbuf *w, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    wbuf_le(w, bits, 8);
}

void dctr_wbuf_str(dctr_wbuf *w, const char *s) {
    if (!s) {
        dctr_wbuf_u32(w, DCTR_STR_NULL);
        return;
    }
    size_t n = strlen(s);
    if (n >= DCTR_STR_NULL) {
        if (!w->failed)
            dctr_set_error(DCTR_ERR_NOMEM, "string of %zu bytes is too long to serialize", n);
        w->failed = 1;
        return;
    }
    dctr_wbuf_u32(w, (uint32_t)n);
    dctr_wbuf_bytes(w, s, n);
}

/* Arrays: one memcpy on little-endian hosts, byte packing elsewhere. */
static void wbuf_array(dctr_wbuf *w, const void *v, size_t count, int elem) {
    size_t bytes;
    if (!dctr_mul_size(count, (size_t)elem, &bytes)) {
        wbuf_fail_overflow(w);
        return;
    }
    uint8_t *p = wbuf_grow(w, bytes);
    if (!p || !bytes)
        return;
#if DCTR_HOST_LE
    memcpy(p, v, bytes);
#else
    const uint8_t *src = v;
    for (size_t i = 0; i < count; i++) {
        uint64_t x = 0;
        if (elem == 4) {
            uint32_t t;
            memcpy(&t, src + i * 4, 4);
            x = t;
        } else {
            memcpy(&x, src + i * 8, 8);
        }
        put_le(p + i * (size_t)elem, x, elem);
    }
#endif
}

void dctr_wbuf_f32s(dctr_wbuf *w, const float *v, size_t count) { wbuf_array(w, v, count, 4); }
void dctr_wbuf_i64s(dctr_wbuf *w, const int64_t *v, size_t count) { wbuf_array(w, v, count, 8); }

dctr_status dctr_wbuf_status(const dctr_wbuf *w) {
    return w->failed ? DCTR_ERR_NOMEM : DCTR_OK;
}

/* ---- reader ---- */

void dctr_rbuf_init(dctr_rbuf *r, const void *data, size_t len, const char *origin) {
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->origin = origin;
}

size_t dctr_rbuf_remaining(const dctr_rbuf *r) { return r->len - r->pos; }

static const char *origin_of(const dctr_rbuf *r) { return r->origin ? r->origin : "input"; }

static dctr_status truncated(const dctr_rbuf *r, const char *what, const char *need) {
    return dctr_set_error(DCTR_ERR_FORMAT,
                          "%s: truncated reading %s at offset %zu: need %s bytes, %zu remain",
                          origin_of(r), what ? what : "data", r->pos, need,
                          dctr_rbuf_remaining(r));
}

/* Points *p at the next `len` bytes and advances (*p is NULL for len 0 of an empty reader). */
static dctr_status take(dctr_rbuf *r, size_t len, const char *what, const uint8_t **p) {
    if (len > dctr_rbuf_remaining(r)) {
        char need[32];
        snprintf(need, sizeof need, "%zu", len);
        return truncated(r, what, need);
    }
    *p = r->data ? r->data + r->pos : NULL;
    r->pos += len;
    return DCTR_OK;
}

static dctr_status read_le(dctr_rbuf *r, uint64_t *out, int n, const char *what) {
    const uint8_t *p = NULL;
    DCTR_TRY(take(r, (size_t)n, what, &p));
    *out = get_le(p, n);
    return DCTR_OK;
}

dctr_status dctr_rbuf_bytes(dctr_rbuf *r, void *out, size_t len, const char *what) {
    const uint8_t *p = NULL;
    DCTR_TRY(take(r, len, what, &p));
    if (len)
        memcpy(out, p, len);
    return DCTR_OK;
}

dctr_status dctr_rbuf_u8(dctr_rbuf *r, uint8_t *out, const char *what) {
    uint64_t v;
    DCTR_TRY(read_le(r, &v, 1, what));
    *out = (uint8_t)v;
    return DCTR_OK;
}

dctr_status dctr_rbuf_u32(dctr_rbuf *r, uint32_t *out, const char *what) {
    uint64_t v;
    DCTR_TRY(read_le(r, &v, 4, what));
    *out = (uint32_t)v;
    return DCTR_OK;
}

dctr_status dctr_rbuf_u64(dctr_rbuf *r, uint64_t *out, const char *what) {
    return read_le(r, out, 8, what);
}

/* The signed and float reads: the unsigned read's bits reinterpreted (two's complement, IEEE 754)
 * with memcpy, without undefined behaviour. */
#define RBUF_REINTERPRET(name, T, U, read_unsigned)                                           \
    dctr_status name(dctr_rbuf *r, T *out, const char *what) {                                \
        U v;                                                                                  \
        DCTR_TRY(read_unsigned(r, &v, what));                                                 \
        memcpy(out, &v, sizeof v);                                                            \
        return DCTR_OK;                                                                       \
    }
RBUF_REINTERPRET(dctr_rbuf_i32, int32_t, uint32_t, dctr_rbuf_u32)
RBUF_REINTERPRET(dctr_rbuf_i64, int64_t, uint64_t, dctr_rbuf_u64)
RBUF_REINTERPRET(dctr_rbuf_f32, float, uint32_t, dctr_rbuf_u32)
RBUF_REINTERPRET(dctr_rbuf_f64, double, uint64_t, dctr_rbuf_u64)
#undef RBUF_REINTERPRET

dctr_status dctr_rbuf_str(dctr_rbuf *r, char **out, size_t max_len, const char *what) {
    *out = NULL;
    size_t start = r->pos;
    uint32_t n;
    DCTR_TRY(dctr_rbuf_u32(r, &n, what));
    if (n == DCTR_STR_NULL)
        return DCTR_OK;
    if (n > max_len) {
        r->pos = start;
        return dctr_set_error(DCTR_ERR_FORMAT, "%s: %s at offset %zu has length %u (limit %zu)",
                              origin_of(r), what ? what : "string", start, n, max_len);
    }
    const uint8_t *p = NULL;
    if (take(r, n, what, &p) != DCTR_OK) {
        r->pos = start;
        return DCTR_ERR_FORMAT;
    }
    if (n && memchr(p, '\0', n)) {
        r->pos = start;
        return dctr_set_error(DCTR_ERR_FORMAT, "%s: %s at offset %zu contains a NUL byte",
                              origin_of(r), what ? what : "string", start);
    }
    char *s = dctr_malloc((size_t)n + 1);
    if (!s) {
        r->pos = start;
        return DCTR_ERR_NOMEM;
    }
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    *out = s;
    return DCTR_OK;
}

dctr_status dctr_rbuf_need(dctr_rbuf *r, uint64_t count, size_t elem_size, const char *what) {
    uint64_t bytes;
    if (__builtin_mul_overflow(count, (uint64_t)elem_size, &bytes)) {
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "%s: %s at offset %zu claims %llu elements of %zu bytes (overflow)",
                              origin_of(r), what ? what : "array", r->pos,
                              (unsigned long long)count, elem_size);
    }
    if (bytes > dctr_rbuf_remaining(r)) {
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "%s: %s at offset %zu claims %llu elements of %zu bytes "
                              "(%llu bytes), only %zu remain",
                              origin_of(r), what ? what : "array", r->pos,
                              (unsigned long long)count, elem_size, (unsigned long long)bytes,
                              dctr_rbuf_remaining(r));
    }
    return DCTR_OK;
}

static dctr_status rbuf_array(dctr_rbuf *r, void *out, size_t count, int elem, const char *what) {
    DCTR_TRY(dctr_rbuf_need(r, count, (size_t)elem, what));
    size_t bytes = count * (size_t)elem; /* cannot overflow: checked by need */
    const uint8_t *p = NULL;
    DCTR_TRY(take(r, bytes, what, &p));
    if (!bytes)
        return DCTR_OK;
#if DCTR_HOST_LE
    memcpy(out, p, bytes);
#else
    uint8_t *dst = out;
    for (size_t i = 0; i < count; i++) {
        uint64_t x = get_le(p + i * (size_t)elem, elem);
        if (elem == 4) {
            uint32_t t = (uint32_t)x;
            memcpy(dst + i * 4, &t, 4);
        } else {
            memcpy(dst + i * 8, &x, 8);
        }
    }
#endif
    return DCTR_OK;
}

dctr_status dctr_rbuf_f32s(dctr_rbuf *r, float *out, size_t count, const char *what) {
    return rbuf_array(r, out, count, 4, what);
}

dctr_status dctr_rbuf_i64s(dctr_rbuf *r, int64_t *out, size_t count, const char *what) {
    return rbuf_array(r, out, count, 8, what);
}
