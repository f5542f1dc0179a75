/* What libdeepctr runs on: the BLAS, the kernel it picked, its threads, and the CPU's SIMD
 * level; and a helper for programs to get the CPU's real BLAS kernels.
 *
 * Why: OpenBLAS built with DYNAMIC_ARCH picks its kernels from the CPU model when it loads, and
 * an OpenBLAS older than the CPU falls back to generic SSE3 ("Prescott") kernels: Debian 12's
 * 0.3.21 does so on recent Intel Xeons, running the DNN's GEMMs 3-4x slower. OpenBLAS reads
 * OPENBLAS_CORETYPE only once, when it is loaded, so the fix must come before the process
 * starts: a service sets OPENBLAS_CORETYPE in its environment (the value
 * dctr_runtime_info.blas_recommended_coretype names), and a program may call
 * dctr_blas_use_native_kernel() first thing in main() to re-execute itself with it. */
#ifndef DEEPCTR_RUNTIME_H
#define DEEPCTR_RUNTIME_H

#include "deepctr/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dctr_runtime_info {
    uint32_t struct_size;        /* set to sizeof(dctr_runtime_info) before the call */
    const char *blas_config;     /* e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." */
    const char *blas_kernel;     /* the kernel set OpenBLAS runs, e.g. "Haswell", "Prescott" */
    int blas_threads;            /* OpenBLAS's process-wide thread count */
    const char *cpu_simd;        /* what the CPU has: "avx512", "avx2" or "portable" */
    const char *kernel_simd;     /* what libdeepctr's own kernels run (DCTR_SIMD may cap it) */
    int blas_kernel_generic;     /* 1: OpenBLAS runs a kernel older than the CPU's (slow) */
    /* The OPENBLAS_CORETYPE that gives this CPU its real kernels when blas_kernel_generic,
     * else NULL. */
    const char *blas_recommended_coretype;
    /* The OPENBLAS_CORETYPE dctr_blas_use_native_kernel() set before re-executing this
     * process, else NULL. */
    const char *blas_coretype_auto_set;
} dctr_runtime_info;

/* Fills *info (strings are static, valid for the process). DCTR_ERR_INVALID_ARG for NULL or a
 * struct_size this version does not know. */
DCTR_API DCTR_NODISCARD dctr_status dctr_runtime_info_get(dctr_runtime_info *info);

/* For programs, first thing in main(): when OpenBLAS runs a generic kernel on a CPU that has
 * better ones (blas_kernel_generic) and OPENBLAS_CORETYPE is not set, sets OPENBLAS_CORETYPE
 * to the recommended core type and re-executes the program (/proc/self/exe, same argv and
 * environment), so that OpenBLAS loads with the CPU's kernels. Never returns when it
 * re-executes; otherwise returns DCTR_OK (nothing to do, or already re-executed once) or
 * DCTR_ERR_IO when exec failed (the program may go on, on the slow kernel).
 * Environment: DCTR_BLAS_AUTO=0 turns it off; DCTR_BLAS_AUTO=1 also replaces a generic
 * OPENBLAS_CORETYPE that is already set (e.g. Prescott). Linux only (DCTR_OK elsewhere).
 * A library never calls this itself: it changes the whole process. */
DCTR_API dctr_status dctr_blas_use_native_kernel(char **argv);


/* Threads (docs/api.md "Threads"). What a call may use:
 *   - dctr_model_fit: opts.threads (1 by default; 0 = all cores) threads of its own pool, and,
 *     unless the policy below says otherwise, OpenBLAS set to match for the call (the previous
 *     count is restored when fit returns);
 *   - predict / evaluate / a predictor: the calling thread, plus OpenBLAS's own threads for
 *     the DNN's matrix products (whatever count the process has set: 1 keeps a request on its
 *     thread). libdeepctr never changes OpenBLAS's count while predicting.
 * With DCTR_BLAS_THREADS_UNTOUCHED, libdeepctr never calls openblas_set_num_threads at all: a
 * service that runs many predictions in parallel sets OpenBLAS's count once (usually 1) and
 * training in the same process does not change it behind its back. Process-wide; call it
 * before starting threads that train. */
typedef enum dctr_blas_thread_policy {
    DCTR_BLAS_THREADS_MANAGED = 0,  /* default: fit sets OpenBLAS's count for its call */
    DCTR_BLAS_THREADS_UNTOUCHED = 1 /* never touch OpenBLAS's thread count */
} dctr_blas_thread_policy;
DCTR_API void dctr_set_blas_thread_policy(dctr_blas_thread_policy policy);

#ifdef __cplusplus
}
#endif
#endif
