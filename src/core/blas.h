/* A thin row-major sgemm wrapper over OpenBLAS, and a naive reference used by tests.
 * C = alpha * op(A) * op(B) + beta * C, op(A) is M x K, op(B) is K x N, C is M x N. */
#ifndef DCTR_CORE_BLAS_H
#define DCTR_CORE_BLAS_H

#include <stdbool.h>

void dctr_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* Same contract, plain loops with double accumulation: the cross-check for dctr_sgemm. */
void dctr_sgemm_naive(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);

/* OpenBLAS's own thread count (process-wide: OpenBLAS keeps it globally). */
void dctr_blas_set_threads(int threads);
int dctr_blas_get_threads(void);
/* OpenBLAS configuration and core name, e.g. "OpenBLAS 0.3.21 ... Zen". */
const char *dctr_blas_config(void);
const char *dctr_blas_corename(void);

#endif
