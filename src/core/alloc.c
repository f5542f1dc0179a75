/* Checked and aligned allocation. */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

bool dctr_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

size_t dctr_round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

static void *nomem(size_t bytes) {
    dctr_set_error(DCTR_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return NULL;
}

/* Tests: allocations of at least this many bytes fail (SIZE_MAX: none). */
static _Atomic size_t fail_from = SIZE_MAX;

void dctr_alloc_test_fail_from(size_t bytes) { atomic_store(&fail_from, bytes ? bytes : SIZE_MAX); }

static bool injected(size_t bytes) {
    return bytes >= atomic_load_explicit(&fail_from, memory_order_relaxed);
}

void *dctr_malloc(size_t bytes) {
    if (injected(bytes))
        return nomem(bytes);
    void *p = malloc(bytes ? bytes : 1);
    return p ? p : nomem(bytes);
}

void *dctr_calloc(size_t count, size_t size) {
    size_t bytes;
    if (!dctr_mul_size(count, size, &bytes))
        return nomem(SIZE_MAX);
    if (injected(bytes))
        return nomem(bytes);
    void *p = calloc(bytes ? count : 1, bytes ? size : 1);
    return p ? p : nomem(bytes);
}

void *dctr_realloc_array(void *ptr, size_t count, size_t size) {
    size_t bytes;
    if (!dctr_mul_size(count, size, &bytes))
        return nomem(SIZE_MAX);
    if (injected(bytes))
        return nomem(bytes);
    void *p = realloc(ptr, bytes ? bytes : 1);
    return p ? p : nomem(bytes);
}

void dctr_free(void *ptr) { free(ptr); }

char *dctr_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = dctr_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void *dctr_aligned_alloc(size_t bytes) {
    size_t rounded = dctr_round_up(bytes ? bytes : 1, DCTR_ALIGNMENT);
    if (rounded < bytes || injected(bytes))
        return nomem(bytes);
    void *p = aligned_alloc(DCTR_ALIGNMENT, rounded);
    if (!p)
        return nomem(bytes);
    memset(p, 0, rounded);
    return p;
}

float *dctr_alloc_floats(size_t count) {
    size_t bytes;
    if (!dctr_mul_size(count, sizeof(float), &bytes))
        return nomem(SIZE_MAX);
    return dctr_aligned_alloc(bytes);
}

void dctr_aligned_free(void *ptr) { free(ptr); }
