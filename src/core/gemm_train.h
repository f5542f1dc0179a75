/* Training GEMMs on the register-blocked tiles of the row-exact GEMM (gemm_rows.c).
 *
 * Why not always cblas_sgemm: at a CTR DNN's shapes (a few hundred inputs and units, so a
 * layer's weights fit in L2) these tiles read W and dZ in place, with no packing, and run
 * 5-15 % faster than OpenBLAS's kernels on AVX-512 cores; the packing copies were ~9 % of a
 * DeepFM step (docs/benchmarks.md). Larger layers, and CPUs without AVX-512, keep OpenBLAS:
 * dctr_gemm_train_own() says which. Results agree with BLAS to rounding only (training makes no
 * row-exact promise; the forward through dctr_gemm_nn with acc = 0 is still row-exact). */
#ifndef DCTR_CORE_GEMM_TRAIN_H
#define DCTR_CORE_GEMM_TRAIN_H

#include <stdint.h>

/* The largest in x out a layer may have for the library's own kernels (1 MB of weights). */
#define DCTR_GEMM_TRAIN_MAX_WEIGHTS (256 * 1024)

/* 1 when a dense layer of these widths trains through the kernels below at the current
 * kernel level (core/simd.h): AVX-512 and in x out <= DCTR_GEMM_TRAIN_MAX_WEIGHTS; 0 when it
 * goes through OpenBLAS (the kernels below still work at every level: tests, benchmarks). */
int dctr_gemm_train_own(int32_t in, int32_t out);

/* Z [B x N] (acc ? += : =) X [B x K] . W [K x N] (W row stride N). */
void dctr_gemm_nn(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N, const float *W,
                  float *Z, int64_t ldz, int acc);
/* The input gradient of one layer and the relu backward of the layer below, in one pass:
 * dZ [B x N] = (dY . Wt) where H > 0, else 0, with H the lower layer's relu output (stride ldz,
 * like dZ); colsum [N] += the column sums of dZ (that layer's bias gradient; its own order of
 * additions, so it agrees with a row-by-row sum to rounding). */
void dctr_gemm_nn_relu_backward(const float *dY, int64_t ldy, int64_t B, int32_t K, int32_t N,
                                const float *Wt, const float *H, float *dZ, int64_t ldz,
                                float *colsum);
/* C [M x N] (acc ? += : =) A^T . W, with A [K x M] and W [K x N]. */
void dctr_gemm_tn(const float *A, int64_t lda, int32_t M, int32_t N, int64_t K, const float *W,
                  int64_t ldw, float *C, int64_t ldc, int acc);
/* T [cols x rows] = A [rows x cols] transposed. */
void dctr_transpose(const float *A, int64_t lda, int32_t rows, int32_t cols, float *T,
                    int64_t ldt);

#endif
