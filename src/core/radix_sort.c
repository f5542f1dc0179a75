/* LSD radix sort, 11-bit digits (2048 counters: stays in L1). */
#include "core/radix_sort.h"

#include <string.h>

enum { DIGIT_BITS = 11, BINS = 1 << DIGIT_BITS };

void dctr_radix_sort_u64(uint64_t *keys, size_t n, uint64_t max_key, uint64_t *tmp) {
    if (n < 2)
        return;
    uint64_t *src = keys, *dst = tmp;
    size_t count[BINS];
    for (int shift = 0; shift < 64 && (max_key >> shift) != 0; shift += DIGIT_BITS) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & (BINS - 1)]++;
        size_t pos = 0;
        for (int b = 0; b < BINS; b++) {
            size_t c = count[b];
            count[b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & (BINS - 1)]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys)
        memcpy(keys, src, n * sizeof *keys);
}
