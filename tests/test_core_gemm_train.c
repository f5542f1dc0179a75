/* Training GEMMs (core/gemm_train.h): at every kernel level the CPU runs, dctr_gemm_nn and
 * dctr_gemm_tn (overwrite and accumulate, K across several blocks, padded strides, ragged
 * tiles) agree with a double-precision reference within the rounding bound of a K-term float
 * sum, write nothing outside C; dctr_transpose is exact; and the policy keeps small shapes on
 * the library's kernels only on AVX-512. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/gemm_train.h"
#include "core/rng.h"
#include "core/simd.h"

static void fill(dctr_rng *r, float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)(dctr_rng_uniform(r) * 2.0 - 1.0);
}

/* |got - want| <= (K + 2) 2^-23 (sum |terms| + |c0|): K roundings of the sum, one of the add. */
static void check(const float *C, int64_t ldc, int32_t M, int32_t N, const double *want,
                  const double *mag, int64_t K) {
    for (int32_t i = 0; i < M; i++)
        for (int32_t j = 0; j < N; j++) {
            double tol = (double)(K + 2) * ldexp(1.0, -23) * mag[i * N + j] + 1e-30;
            assert_true(fabs((double)C[i * ldc + j] - want[i * N + j]) <= tol);
        }
}

/* C (acc ? += : =) op(A) W in double; op(A) = A (nn) or A^T (tn). */
static void reference(int tn, const float *A, int64_t lda, int32_t M, int32_t N, int64_t K,
                      const float *W, const float *C0, int64_t ldc, int acc, double *want,
                      double *mag) {
    for (int32_t i = 0; i < M; i++)
        for (int32_t j = 0; j < N; j++) {
            double s = acc ? C0[i * ldc + j] : 0.0, m = acc ? fabs(C0[i * ldc + j]) : 0.0;
            for (int64_t k = 0; k < K; k++) {
                double a = tn ? A[k * lda + i] : A[(int64_t)i * lda + k];
                s += a * W[k * N + j];
                m += fabs(a * W[k * N + j]);
            }
            want[i * N + j] = s;
            mag[i * N + j] = m;
        }
}

static void run_case(dctr_rng *r, int tn, int32_t M, int32_t N, int64_t K, int acc) {
    int64_t arows = tn ? K : M, acols = tn ? M : K, lda = acols + 3, ldc = N + 5;
    float *A = malloc(sizeof(float) * (size_t)(arows * lda + 1));
    float *W = malloc(sizeof(float) * (size_t)(K * N + 1));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc + 1));
    float *C0 = malloc(sizeof(float) * (size_t)(M * ldc + 1));
    double *want = malloc(sizeof(double) * (size_t)(M * N + 1));
    double *mag = malloc(sizeof(double) * (size_t)(M * N + 1));
    fill(r, A, arows * lda);
    fill(r, W, K * N);
    fill(r, C0, M * ldc);
    for (int64_t i = 0; i < M * ldc; i++)
        if (i % ldc >= N)
            C0[i] = NAN; /* padding: must stay untouched */
    memcpy(C, C0, sizeof(float) * (size_t)(M * ldc));
    reference(tn, A, lda, M, N, K, W, C0, ldc, acc, want, mag);
    if (tn)
        dctr_gemm_tn(A, lda, M, N, K, W, N, C, ldc, acc);
    else
        dctr_gemm_nn(A, lda, M, (int32_t)K, N, W, C, ldc, acc);
    check(C, ldc, M, N, want, mag, K);
    for (int64_t i = 0; i < M * ldc; i++)
        if (i % ldc >= N)
            assert_true(isnan(C[i]));
    free(A);
    free(W);
    free(C);
    free(C0);
    free(want);
    free(mag);
}

static void test_nn_and_tn_match_reference_at_every_level(void **state) {
    (void)state;
    static const int32_t Ms[] = {1, 3, 8, 13, 221};
    static const int32_t Ns[] = {1, 7, 16, 17, 33, 64, 129};
    static const int64_t Ks[] = {0, 1, 5, 256, 601}; /* 601: three blocks of the tn kernel */
    dctr_rng r;
    dctr_rng_init(&r, 21, 0);
    int levels = 0;
    for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
        if (!dctr_cpu_can_run((dctr_simd_level)lv))
            continue;
        levels++;
        dctr_kernel_force_level(lv);
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
                for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
                    for (int tn = 0; tn < 2; tn++)
                        for (int acc = 0; acc < 2; acc++)
                            run_case(&r, tn, Ms[mi], Ns[ni], Ks[ki], acc);
    }
    dctr_kernel_force_level(-1);
    assert_true(levels >= 1);
}

/* The relu-gated form: dZ = (dY.Wt) where H > 0 else exactly 0 (H = 0, -0, negative, NaN),
 * colsum += its column sums; at every level, ragged shapes, padded strides. */
static void test_nn_relu_backward(void **state) {
    (void)state;
    static const int32_t Ns[] = {1, 13, 16, 29, 64, 208};
    static const int64_t Bs[] = {1, 5, 8, 37};
    dctr_rng r;
    dctr_rng_init(&r, 23, 0);
    for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
        if (!dctr_cpu_can_run((dctr_simd_level)lv))
            continue;
        dctr_kernel_force_level(lv);
        for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
            for (size_t bi = 0; bi < sizeof Bs / sizeof Bs[0]; bi++) {
                const int32_t N = Ns[ni], K = 45;
                const int64_t B = Bs[bi], ldy = K + 1, ldz = N + 3;
                float *dY = malloc(sizeof(float) * (size_t)(B * ldy));
                float *Wt = malloc(sizeof(float) * (size_t)(K * N));
                float *H = malloc(sizeof(float) * (size_t)(B * ldz));
                float *dZ = malloc(sizeof(float) * (size_t)(B * ldz));
                float *cs = malloc(sizeof(float) * (size_t)N);
                fill(&r, dY, B * ldy);
                fill(&r, Wt, (int64_t)K * N);
                fill(&r, H, B * ldz);
                for (int64_t i = 0; i < B * ldz; i += 7) /* the edge cases of "> 0" */
                    H[i] = (i / 7) % 3 == 0 ? 0.0f : (i / 7) % 3 == 1 ? -0.0f : NAN;
                for (int64_t i = 0; i < B * ldz; i++)
                    dZ[i] = NAN;
                for (int32_t j = 0; j < N; j++)
                    cs[j] = 0.5f;
                dctr_gemm_nn_relu_backward(dY, ldy, B, K, N, Wt, H, dZ, ldz, cs);
                for (int32_t j = 0; j < N; j++) {
                    double want_cs = 0.5, mag_cs = 0.5;
                    for (int64_t b = 0; b < B; b++) {
                        double s = 0, m = 0;
                        for (int32_t k = 0; k < K; k++) {
                            s += (double)dY[b * ldy + k] * Wt[(int64_t)k * N + j];
                            m += fabs((double)dY[b * ldy + k] * Wt[(int64_t)k * N + j]);
                        }
                        float got = dZ[b * ldz + j];
                        if (!(H[b * ldz + j] > 0.0f)) {
                            assert_true(got == 0.0f);
                            continue;
                        }
                        assert_true(fabs(got - s) <= (K + 2) * ldexp(1.0, -23) * m + 1e-30);
                        want_cs += got;
                        mag_cs += fabs(got);
                    }
                    assert_true(fabs(cs[j] - want_cs) <= (double)(B + 2) * ldexp(1.0, -23) * mag_cs);
                }
                for (int64_t b = 0; b < B; b++) /* padding untouched */
                    for (int64_t j = N; j < ldz; j++)
                        assert_true(isnan(dZ[b * ldz + j]));
                free(dY);
                free(Wt);
                free(H);
                free(dZ);
                free(cs);
            }
    }
    dctr_kernel_force_level(-1);
}

static void test_transpose_exact(void **state) {
    (void)state;
    static const int32_t dims[][2] = {{37, 21}, {8, 8}, {16, 24}, {3, 5}, {221, 256}, {1, 9}};
    dctr_rng r;
    dctr_rng_init(&r, 5, 0);
    for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
        if (!dctr_cpu_can_run((dctr_simd_level)lv))
            continue;
        dctr_kernel_force_level(lv);
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
            int32_t R = dims[d][0], C = dims[d][1];
            int64_t lda = C + 2, ldt = R + 1;
            float *A = malloc(sizeof(float) * (size_t)(R * lda));
            float *T = malloc(sizeof(float) * (size_t)(C * ldt));
            fill(&r, A, R * lda);
            for (int64_t i = 0; i < C * ldt; i++)
                T[i] = NAN;
            dctr_transpose(A, lda, R, C, T, ldt);
            for (int32_t i = 0; i < R; i++)
                for (int32_t j = 0; j < C; j++)
                    assert_true(T[j * ldt + i] == A[i * lda + j]);
            for (int32_t j = 0; j < C; j++) /* the padding column stays untouched */
                assert_true(isnan(T[j * ldt + R]));
            free(A);
            free(T);
        }
    }
    dctr_kernel_force_level(-1);
}

static void test_policy(void **state) {
    (void)state;
    for (int lv = 0; lv < DCTR_SIMD_LEVEL_COUNT; lv++) {
        if (!dctr_cpu_can_run((dctr_simd_level)lv))
            continue;
        dctr_kernel_force_level(lv);
        int vec = lv == DCTR_SIMD_AVX512;
        assert_int_equal(dctr_gemm_train_own(221, 256), vec);
        assert_int_equal(dctr_gemm_train_own(256, 1), 0);     /* Dense(1): dot products */
        assert_int_equal(dctr_gemm_train_own(4096, 4096), 0); /* BLAS's packing pays off */
        assert_int_equal(dctr_gemm_train_own(0, 16), 0);
    }
    dctr_kernel_force_level(-1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nn_and_tn_match_reference_at_every_level),
        cmocka_unit_test(test_nn_relu_backward),
        cmocka_unit_test(test_transpose_exact),
        cmocka_unit_test(test_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
