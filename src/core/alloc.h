/* Checked allocation: every failure sets DCTR_ERR_NOMEM in the last error. Float buffers are
 * 64-byte aligned (one cache line, a whole AVX-512 vector) and zero-filled. */
#ifndef DCTR_CORE_ALLOC_H
#define DCTR_CORE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#define DCTR_ALIGNMENT 64

void *dctr_malloc(size_t bytes);
/* count * size with overflow check; memory is zeroed. */
void *dctr_calloc(size_t count, size_t size);
/* realloc to count * size with overflow check; on failure the old block is untouched. */
void *dctr_realloc_array(void *ptr, size_t count, size_t size);
void dctr_free(void *ptr);
char *dctr_strdup(const char *s);

/* 64-byte aligned, zero-filled; free with dctr_aligned_free. */
void *dctr_aligned_alloc(size_t bytes);
float *dctr_alloc_floats(size_t count);
void dctr_aligned_free(void *ptr);

/* Tests only: from now on every allocation of at least `bytes` bytes fails with
 * DCTR_ERR_NOMEM (0 turns the injection off). */
void dctr_alloc_test_fail_from(size_t bytes);

/* a * b into *out; false on overflow. */
bool dctr_mul_size(size_t a, size_t b, size_t *out);
/* Rounds n up to a multiple of m (m > 0). */
size_t dctr_round_up(size_t n, size_t m);

#endif
