/* LSD radix sort of unsigned 64-bit keys: linear in n for the key range given, stable, no
 * comparisons through a function pointer (the per-batch row sort of fit runs every epoch). */
#ifndef DCTR_CORE_RADIX_SORT_H
#define DCTR_CORE_RADIX_SORT_H

#include <stddef.h>
#include <stdint.h>

/* Sorts keys[0..n) ascending; every key must be <= max_key (which sets the number of passes:
 * one per 11 bits). tmp holds n keys of scratch. */
void dctr_radix_sort_u64(uint64_t *keys, size_t n, uint64_t max_key, uint64_t *tmp);

#endif
