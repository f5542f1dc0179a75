/* sgemm through OpenBLAS's CBLAS interface (row-major). */
#include "core/blas.h"

#include <cblas.h>

#include "deepctr/runtime.h"

void dctr_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0)
        return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}

void dctr_sgemm_naive(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc) {
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(long)p * lda + i] : a[(long)i * lda + p];
                float bv = trans_b ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
                acc += (double)av * bv;
            }
            float *cv = &c[(long)i * ldc + j];
            /* beta == 0 overwrites, as BLAS does (NaN in C must not leak through). */
            *cv = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * *cv));
        }
    }
}

/* DCTR_BLAS_THREADS_UNTOUCHED (include/deepctr/runtime.h): the library never changes
 * OpenBLAS's process-wide thread count; the caller owns it. */
static int blas_untouched;

void dctr_blas_set_threads(int threads) {
    if (__atomic_load_n(&blas_untouched, __ATOMIC_RELAXED))
        return;
    openblas_set_num_threads(threads < 1 ? 1 : threads);
}

void dctr_set_blas_thread_policy(dctr_blas_thread_policy policy) {
    __atomic_store_n(&blas_untouched, policy == DCTR_BLAS_THREADS_UNTOUCHED, __ATOMIC_RELAXED);
}

int dctr_blas_get_threads(void) { return openblas_get_num_threads(); }

const char *dctr_blas_config(void) { return openblas_get_config(); }

const char *dctr_blas_corename(void) { return openblas_get_corename(); }
