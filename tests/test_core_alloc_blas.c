/* Aligned allocation, overflow checks, sgemm against the naive loop, and the thread pool.
 * ctest-label: threads */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/pool.h"
#include "core/rng.h"

static void test_aligned_floats_are_aligned_and_zeroed(void **state) {
    (void)state;
    for (size_t n = 1; n < 300; n += 37) {
        float *p = dctr_alloc_floats(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % DCTR_ALIGNMENT, 0);
        for (size_t i = 0; i < n; i++)
            assert_true(p[i] == 0.0f);
        p[n - 1] = 1.0f; /* the whole requested range is writable (ASan checks it) */
        dctr_aligned_free(p);
    }
    dctr_aligned_free(NULL);
}

static void test_overflow_is_an_error_not_a_small_block(void **state) {
    (void)state;
    size_t out = 0;
    assert_true(dctr_mul_size(1u << 20, 1u << 20, &out));
    assert_true(out == (size_t)1 << 40);
    assert_false(dctr_mul_size(SIZE_MAX / 2, 3, &out));
    dctr_clear_error();
    assert_null(dctr_calloc(SIZE_MAX / 4, 8));
    assert_non_null(strstr(dctr_last_error(), "out of memory"));
    assert_null(dctr_alloc_floats(SIZE_MAX / 2));
    assert_null(dctr_realloc_array(NULL, SIZE_MAX / 2, 16));
    assert_int_equal(dctr_round_up(65, 64), 128);
    assert_int_equal(dctr_round_up(64, 64), 64);
    char *s = dctr_strdup("abc");
    assert_string_equal(s, "abc");
    dctr_free(s);
}

static void fill(dctr_rng *r, float *v, int n) {
    for (int i = 0; i < n; i++)
        v[i] = (float)(dctr_rng_uniform(r) * 2.0 - 1.0);
}

/* Runs both implementations on one shape and transpose case and compares. */
static void check_gemm(bool ta, bool tb, int m, int n, int k, float alpha, float beta) {
    dctr_rng r;
    dctr_rng_init(&r, (uint64_t)(m * 131 + n * 17 + k), (uint64_t)(ta * 2 + tb));
    int lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
    float *a = dctr_alloc_floats((size_t)m * k), *b = dctr_alloc_floats((size_t)k * n);
    float *c1 = dctr_alloc_floats((size_t)m * n), *c2 = dctr_alloc_floats((size_t)m * n);
    fill(&r, a, m * k);
    fill(&r, b, k * n);
    fill(&r, c1, m * n);
    memcpy(c2, c1, sizeof(float) * (size_t)m * n);
    dctr_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc);
    dctr_sgemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, ldc);
    for (int i = 0; i < m * n; i++) {
        float tol = 1e-5f * (float)k + 1e-6f;
        if (fabsf(c1[i] - c2[i]) > tol)
            fail_msg("ta=%d tb=%d m=%d n=%d k=%d at %d: %g vs %g", ta, tb, m, n, k, i, c1[i], c2[i]);
    }
    dctr_aligned_free(a);
    dctr_aligned_free(b);
    dctr_aligned_free(c1);
    dctr_aligned_free(c2);
}

static void test_sgemm_matches_naive_all_transposes_odd_shapes(void **state) {
    (void)state;
    const int shapes[][3] = {{1, 1, 1},   {1, 7, 1},   {1, 33, 5},  {9, 1, 3},   {5, 3, 1},
                             {13, 17, 19}, {7, 9, 31}, {1, 128, 325}, {64, 256, 325}, {3, 1, 257}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f);
                check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 0.5f, 1.0f);
            }
}

static void test_sgemm_beta_zero_ignores_nan_in_c(void **state) {
    (void)state;
    float a[2] = {1, 2}, b[2] = {3, 4}, c1[4], c2[4];
    for (int i = 0; i < 4; i++)
        c1[i] = c2[i] = NAN;
    dctr_sgemm(false, false, 2, 2, 1, 1.0f, a, 1, b, 2, 0.0f, c1, 2);
    dctr_sgemm_naive(false, false, 2, 2, 1, 1.0f, a, 1, b, 2, 0.0f, c2, 2);
    const float want[4] = {3, 4, 6, 8};
    assert_memory_equal(c1, want, sizeof want);
    assert_memory_equal(c2, want, sizeof want);
}

typedef struct {
    int64_t *marks;
    int *worker_of;
} pool_ctx;

static void mark(void *p, int worker, int64_t begin, int64_t end) {
    pool_ctx *ctx = p;
    for (int64_t i = begin; i < end; i++) {
        ctx->marks[i] += i;
        ctx->worker_of[i] = worker;
    }
}

static void test_pool_covers_range_once_with_fixed_split(void **state) {
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        dctr_pool *pool;
        assert_int_equal(dctr_pool_new(threads, &pool), DCTR_OK);
        assert_int_equal(dctr_pool_threads(pool), threads);
        for (int64_t n = 0; n < 50; n += 7) {
            int64_t marks[64] = {0};
            int worker_of[64] = {0};
            pool_ctx ctx = {marks, worker_of};
            for (int rep = 0; rep < 3; rep++)
                dctr_pool_run(pool, n, mark, &ctx);
            for (int64_t i = 0; i < n; i++) {
                assert_int_equal(marks[i], 3 * i);
                /* contiguous split: worker ids never decrease along the range */
                if (i > 0)
                    assert_true(worker_of[i] >= worker_of[i - 1]);
            }
        }
        dctr_pool_free(pool);
    }
    dctr_pool *bad = (dctr_pool *)1;
    assert_int_equal(dctr_pool_new(0, &bad), DCTR_ERR_INVALID_ARG);
    assert_null(bad);
    dctr_pool_free(NULL);
}

/* Claimed chunks: every item exactly once for any grain, and the pool still runs fixed-split
 * jobs correctly in between (the two kinds share the job state). */
static void test_pool_claimed_covers_range_once(void **state) {
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        dctr_pool *pool;
        assert_int_equal(dctr_pool_new(threads, &pool), DCTR_OK);
        const int64_t grains[] = {0, 1, 3, 64, 1000};
        for (int gi = 0; gi < 5; gi++)
            for (int64_t n = 0; n < 300; n += 37) {
                int64_t marks[300] = {0};
                int worker_of[300] = {0};
                pool_ctx ctx = {marks, worker_of};
                for (int rep = 0; rep < 4; rep++) {
                    dctr_pool_run_claimed(pool, n, grains[gi], mark, &ctx);
                    dctr_pool_run(pool, n, mark, &ctx);
                }
                for (int64_t i = 0; i < n; i++) {
                    assert_int_equal(marks[i], 8 * i);
                    assert_true(worker_of[i] >= 0 && worker_of[i] < threads);
                }
            }
        dctr_pool_free(pool);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aligned_floats_are_aligned_and_zeroed),
        cmocka_unit_test(test_overflow_is_an_error_not_a_small_block),
        cmocka_unit_test(test_sgemm_matches_naive_all_transposes_odd_shapes),
        cmocka_unit_test(test_sgemm_beta_zero_ignores_nan_in_c),
        cmocka_unit_test(test_pool_covers_range_once_with_fixed_split),
        cmocka_unit_test(test_pool_claimed_covers_range_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
