/* Row-exact GEMM (core/gemm_rows.h): every variant the CPU runs is
 *  - close to a double-precision reference within the documented bound,
 *  - row-exact: a row's result is bit-identical whatever batch, position or tile carries it,
 *  - and the FMA variants (AVX2, AVX-512) equal a scalar fmaf chain in k order bit for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/gemm_rows.h"
#include "core/rng.h"

static const int32_t Ks[] = {0, 1, 5, 33, 325};
static const int32_t Ns[] = {1, 7, 16, 17, 31, 33, 64, 100, 129, 256};
static const int64_t Bs[] = {1, 2, 3, 5, 8, 13, 37};

static void fill(dctr_rng *r, float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)(dctr_rng_uniform(r) * 2.0 - 1.0);
}

/* Runs variant f on B rows with padded strides; returns Z [B x N] (caller frees). */
static float *run(dctr_gemm_rows_fn f, const float *X, int64_t ldx, int64_t B, int32_t K,
                  int32_t N, const float *W) {
    int64_t ldz = N + 3;
    float *Z = malloc(sizeof(float) * (size_t)(B * ldz));
    for (int64_t i = 0; i < B * ldz; i++)
        Z[i] = NAN; /* every element must be written; padding must stay untouched */
    f(X, ldx, B, K, N, W, Z, ldz);
    float *out = malloc(sizeof(float) * (size_t)(B * N + 1));
    for (int64_t b = 0; b < B; b++) {
        memcpy(out + b * N, Z + b * ldz, sizeof(float) * (size_t)N);
        for (int64_t j = N; j < ldz; j++)
            assert_true(isnan(Z[b * ldz + j]));
    }
    free(Z);
    return out;
}

static void test_variants_close_to_reference_and_row_exact(void **state) {
    (void)state;
    dctr_rng r;
    dctr_rng_init(&r, 11, 0);
    int checked = 0;
    for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
        if (!dctr_cpu_can_run((dctr_simd_level)lv))
            continue;
        dctr_gemm_rows_fn f = dctr_gemm_rows_variant((dctr_simd_level)lv);
        for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++) {
                int32_t K = Ks[ki], N = Ns[ni];
                int64_t Bmax = 37, ldx = K + 2;
                float *X = malloc(sizeof(float) * (size_t)(Bmax * ldx + 1));
                float *W = malloc(sizeof(float) * (size_t)((int64_t)K * N + 1));
                fill(&r, X, Bmax * ldx);
                fill(&r, W, (int64_t)K * N);
                float *all = run(f, X, ldx, Bmax, K, N, W);
                for (int64_t b = 0; b < Bmax; b++)
                    for (int32_t j = 0; j < N; j++) {
                        double ref = 0, mag = 0;
                        for (int32_t k = 0; k < K; k++) {
                            double t = (double)X[b * ldx + k] * W[(int64_t)k * N + j];
                            ref += t;
                            mag += fabs(t);
                        }
                        double bound = (K + 1) * ldexp(1.0, -23) * mag + 1e-30;
                        assert_true(fabs(all[b * N + j] - ref) <= bound);
                    }
                /* the same rows carried by smaller batches at other offsets */
                for (size_t bi = 0; bi < sizeof Bs / sizeof Bs[0]; bi++)
                    for (int64_t off = 0; off + Bs[bi] <= Bmax; off += 7) {
                        float *part = run(f, X + off * ldx, ldx, Bs[bi], K, N, W);
                        assert_memory_equal(part, all + off * N,
                                            sizeof(float) * (size_t)(Bs[bi] * N));
                        free(part);
                    }
                free(all);
                free(X);
                free(W);
                checked++;
            }
    }
    assert_true(checked >= 50); /* at least the portable variant ran every shape */
}

static void test_fma_variants_equal_scalar_fma_chain(void **state) {
    (void)state;
    dctr_rng r;
    dctr_rng_init(&r, 12, 0);
    const int32_t K = 325, N = 100;
    const int64_t B = 9;
    float *X = malloc(sizeof(float) * B * K), *W = malloc(sizeof(float) * K * N);
    fill(&r, X, B * K);
    fill(&r, W, (int64_t)K * N);
    float *want = malloc(sizeof(float) * B * N);
    for (int64_t b = 0; b < B; b++)
        for (int32_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int32_t k = 0; k < K; k++)
                acc = fmaf(X[b * K + k], W[(int64_t)k * N + j], acc);
            want[b * N + j] = acc;
        }
    for (int lv = DCTR_SIMD_AVX2; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
        if (!dctr_cpu_can_run((dctr_simd_level)lv)) {
            print_message("skipped %s: not on this CPU\n", dctr_simd_level_name(lv));
            continue;
        }
        float *got = run(dctr_gemm_rows_variant((dctr_simd_level)lv), X, K, B, K, N, W);
        assert_memory_equal(got, want, sizeof(float) * B * N);
        free(got);
    }
    free(want);
    free(X);
    free(W);
}

static void test_dispatch_respects_level(void **state) {
    (void)state;
    /* the dispatched entry point is the variant of the cached level */
    const int32_t K = 7, N = 19;
    float X[3 * 7], W[7 * 19], a[3 * 19], b[3 * 19];
    dctr_rng r;
    dctr_rng_init(&r, 13, 0);
    fill(&r, X, 21);
    fill(&r, W, 133);
    dctr_gemm_rows(X, K, 3, K, N, W, a, N);
    dctr_gemm_rows_variant(dctr_cpu_simd_level())(X, K, 3, K, N, W, b, N);
    assert_memory_equal(a, b, sizeof a);
    assert_true(dctr_cpu_simd_level() <= dctr_cpu_simd_detected());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants_close_to_reference_and_row_exact),
        cmocka_unit_test(test_fma_variants_equal_scalar_fma_chain),
        cmocka_unit_test(test_dispatch_respects_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
