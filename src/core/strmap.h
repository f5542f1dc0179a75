/* A fixed-capacity string -> int32 hash map (open addressing, linear probing) for linear-time
 * name lookups over inputs of any width (schema columns, tables, groups). Keys are not copied:
 * they must outlive the map. */
#ifndef DCTR_CORE_STRMAP_H
#define DCTR_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "deepctr/common.h"

typedef struct dctr_strmap {
    const char **keys;
    size_t *lens;
    int32_t *vals;
    size_t mask; /* capacity - 1, a power of two at least twice the expected count */
    size_t n;
} dctr_strmap;

/* Room for up to `expected` keys (more fail with DCTR_ERR_LIMIT). DCTR_ERR_NOMEM on failure. */
dctr_status dctr_strmap_init(dctr_strmap *m, size_t expected);
void dctr_strmap_free(dctr_strmap *m);
/* The value stored for key, or -1. */
int32_t dctr_strmap_get(const dctr_strmap *m, const char *key);
/* The same for the len bytes at key (not NUL-terminated: CSV fields). */
int32_t dctr_strmap_get_n(const dctr_strmap *m, const char *key, size_t len);
/* Stores key -> val unless key is present. *old = the value already stored (-1 if key was
 * new). DCTR_ERR_LIMIT when the map is full. */
dctr_status dctr_strmap_put(dctr_strmap *m, const char *key, int32_t val, int32_t *old);
dctr_status dctr_strmap_put_n(dctr_strmap *m, const char *key, size_t len, int32_t val, int32_t *old);

#endif
