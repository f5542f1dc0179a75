/* String -> int32 map: see strmap.h. */
#include "core/strmap.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static uint64_t hash(const char *s, size_t len) { /* FNV-1a */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

dctr_status dctr_strmap_init(dctr_strmap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < expected * 2 + 2) {
        if (cap > SIZE_MAX / 4)
            return dctr_set_error(DCTR_ERR_LIMIT, "name map of %zu entries", expected);
        cap *= 2;
    }
    m->keys = dctr_calloc(cap, sizeof *m->keys);
    m->lens = dctr_calloc(cap, sizeof *m->lens);
    m->vals = dctr_calloc(cap, sizeof *m->vals);
    if (!m->keys || !m->lens || !m->vals) {
        dctr_strmap_free(m);
        return DCTR_ERR_NOMEM;
    }
    m->mask = cap - 1;
    return DCTR_OK;
}

void dctr_strmap_free(dctr_strmap *m) {
    dctr_free(m->keys);
    dctr_free(m->lens);
    dctr_free(m->vals);
    memset(m, 0, sizeof *m);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t slot(const dctr_strmap *m, const char *key, size_t len) {
    size_t i = (size_t)hash(key, len) & m->mask;
    while (m->keys[i] && (m->lens[i] != len || memcmp(m->keys[i], key, len) != 0))
        i = (i + 1) & m->mask;
    return i;
}

int32_t dctr_strmap_get_n(const dctr_strmap *m, const char *key, size_t len) {
    if (!m->keys || !key)
        return -1;
    size_t i = slot(m, key, len);
    return m->keys[i] ? m->vals[i] : -1;
}

int32_t dctr_strmap_get(const dctr_strmap *m, const char *key) {
    return key ? dctr_strmap_get_n(m, key, strlen(key)) : -1;
}

dctr_status dctr_strmap_put_n(dctr_strmap *m, const char *key, size_t len, int32_t val, int32_t *old) {
    size_t i = slot(m, key, len);
    if (m->keys[i]) {
        *old = m->vals[i];
        return DCTR_OK;
    }
    *old = -1;
    if (m->n + 1 > (m->mask + 1) / 2)
        return dctr_set_error(DCTR_ERR_LIMIT, "name map full (%zu entries)", m->n);
    m->keys[i] = key;
    m->lens[i] = len;
    m->vals[i] = val;
    m->n++;
    return DCTR_OK;
}

dctr_status dctr_strmap_put(dctr_strmap *m, const char *key, int32_t val, int32_t *old) {
    return dctr_strmap_put_n(m, key, strlen(key), val, old);
}
