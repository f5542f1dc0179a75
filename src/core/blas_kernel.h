/* The decision behind dctr_runtime_info / dctr_blas_use_native_kernel, exposed for tests. */
#ifndef DCTR_CORE_BLAS_KERNEL_H
#define DCTR_CORE_BLAS_KERNEL_H

#include "core/cpu.h"
#include "deepctr/runtime.h"

/* The OPENBLAS_CORETYPE to use when OpenBLAS's `corename` is a generic fallback on a CPU at
 * SIMD level `cpu` ("SkylakeX" for AVX-512, "Haswell" for AVX2), else NULL. */
const char *dctr_blas_better_coretype(const char *corename, dctr_simd_level cpu);
/* The core type a re-exec set for this process, or NULL. */
const char *dctr_blas_coretype_auto_set(void);

#endif
