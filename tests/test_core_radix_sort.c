/* Radix sort: equals qsort on random keys of every size class (0, 1, 2, a batch, a key range
 * of one digit, several digits, the whole 64 bits), with duplicates, and leaves keys intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/radix_sort.h"
#include "core/rng.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_equals_qsort(void **state) {
    (void)state;
    enum { MAXN = 5000 };
    static uint64_t keys[MAXN], want[MAXN], tmp[MAXN];
    const size_t sizes[] = {0, 1, 2, 3, 100, 4096, MAXN};
    const uint64_t ranges[] = {0, 1, 7, 2047, 2048, 1000000, (uint64_t)1 << 40, UINT64_MAX};
    dctr_rng rng;
    dctr_rng_init(&rng, 5, 0);
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t ri = 0; ri < sizeof ranges / sizeof *ranges; ri++) {
            size_t n = sizes[si];
            uint64_t max_key = ranges[ri];
            for (size_t i = 0; i < n; i++) {
                uint64_t r = dctr_rng_next(&rng);
                keys[i] = max_key == UINT64_MAX ? r : r % (max_key + 1);
            }
            if (n > 2)
                keys[n / 2] = keys[0]; /* a duplicate */
            memcpy(want, keys, n * sizeof *keys);
            qsort(want, n, sizeof *want, cmp_u64);
            dctr_radix_sort_u64(keys, n, max_key, tmp);
            if (n > 0)
                assert_memory_equal(keys, want, n * sizeof *keys);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equals_qsort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
