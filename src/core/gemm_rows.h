/* Row-exact GEMM for inference: Z = X . W with X [B x K] (row stride ldx), W [K x N] row-major
 * (stride N), Z [B x N] (row stride ldz), Z overwritten.
 *
 * Why not cblas_sgemm: BLAS kernels split K into blocks and pick micro-kernels by the position
 * of a row in the matrix, so a row's result depends on the batch that carries it, the thread
 * count and the CPU's kernel. Here every element is ONE accumulator summed over k = 0..K-1 in
 * order, starting from 0, whatever B, the row's position or the thread split: a row's result is
 * a function of that row alone. Services rely on it (docs/reliability.md, "Numerics").
 *
 * Variants (core/cpu.h): AVX-512 and AVX2 accumulate with fused multiply-add and give
 * bit-identical results to each other; the portable variant multiplies then adds (no FMA on
 * baseline x86-64) and so may differ from them by rounding: at most K * 2^-23 * sum_k |x_k w_kj|
 * per element (each step rounds once more), the tolerance the tests check. */
#ifndef DCTR_CORE_GEMM_ROWS_H
#define DCTR_CORE_GEMM_ROWS_H

#include <stdint.h>

#include "core/cpu.h"

typedef void (*dctr_gemm_rows_fn)(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N,
                                  const float *W, float *Z, int64_t ldz);

/* The variant for dctr_kernel_level() (core/simd.h). */
void dctr_gemm_rows(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N, const float *W,
                    float *Z, int64_t ldz);
/* The variant compiled for `level` (tests and benchmarks; the CPU must be able to run it). */
dctr_gemm_rows_fn dctr_gemm_rows_variant(dctr_simd_level level);

#endif
