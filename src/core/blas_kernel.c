/* Which OpenBLAS kernel runs, whether it is a generic fallback for this CPU, and the opt-in
 * re-exec that fixes it (see deepctr/runtime.h). */
#include "core/blas_kernel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/error.h"

/* OpenBLAS core names whose single-precision kernels use AVX2 + FMA or AVX-512. Anything else
 * (Prescott, Core2, Nehalem, Sandybridge, Bulldozer, ...) on an AVX2 CPU is a fallback. */
static const char *const avx2_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                         "SapphireRapids", "Excavator"};

static bool is_avx2_core(const char *corename) {
    for (size_t i = 0; i < sizeof avx2_cores / sizeof avx2_cores[0]; i++)
        if (strcasecmp(corename, avx2_cores[i]) == 0)
            return true;
    return false;
}

const char *dctr_blas_better_coretype(const char *corename, dctr_simd_level cpu) {
    if (!corename || cpu < DCTR_SIMD_AVX2 || is_avx2_core(corename))
        return NULL;
    return cpu >= DCTR_SIMD_AVX512 ? "SkylakeX" : "Haswell";
}

#define REEXEC_MARK "DCTR_BLAS_CORETYPE_SET"

const char *dctr_blas_coretype_auto_set(void) {
    const char *v = getenv(REEXEC_MARK);
    return v && *v ? v : NULL;
}

dctr_status dctr_blas_use_native_kernel(char **argv) {
#if defined(__linux__)
    const char *mode = getenv("DCTR_BLAS_AUTO");
    if ((mode && strcmp(mode, "0") == 0) || dctr_blas_coretype_auto_set() || !argv || !argv[0])
        return DCTR_OK;
    const char *preset = getenv("OPENBLAS_CORETYPE");
    bool force = mode && strcmp(mode, "1") == 0;
    if (preset && *preset && !force)
        return DCTR_OK; /* the user chose a kernel: respect it */
    const char *better = dctr_blas_better_coretype(dctr_blas_corename(), dctr_cpu_simd_detected());
    if (!better)
        return DCTR_OK;
    if (setenv("OPENBLAS_CORETYPE", better, 1) != 0 || setenv(REEXEC_MARK, better, 1) != 0)
        return dctr_set_error(DCTR_ERR_IO, "dctr_blas_use_native_kernel: setenv: %s",
                              strerror(errno));
    execv("/proc/self/exe", argv);
    int err = errno; /* exec failed: undo, so children do not inherit a half-applied choice */
    unsetenv(REEXEC_MARK);
    if (preset)
        setenv("OPENBLAS_CORETYPE", preset, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    return dctr_set_error(DCTR_ERR_IO, "dctr_blas_use_native_kernel: exec /proc/self/exe: %s",
                          strerror(err));
#else
    (void)argv;
    return DCTR_OK;
#endif
}

dctr_status dctr_runtime_info_get(dctr_runtime_info *info) {
    if (!info)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_runtime_info_get: info is NULL");
    if (info->struct_size != sizeof(*info))
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_runtime_info_get: struct_size %u (expected %zu)",
                              info->struct_size, sizeof(*info));
    dctr_simd_level cpu = dctr_cpu_simd_detected();
    info->blas_config = dctr_blas_config();
    info->blas_kernel = dctr_blas_corename();
    info->blas_threads = dctr_blas_get_threads();
    info->cpu_simd = dctr_simd_level_name(cpu);
    info->kernel_simd = dctr_simd_level_name(dctr_cpu_simd_level());
    info->blas_recommended_coretype = dctr_blas_better_coretype(info->blas_kernel, cpu);
    info->blas_kernel_generic = info->blas_recommended_coretype != NULL;
    info->blas_coretype_auto_set = dctr_blas_coretype_auto_set();
    return DCTR_OK;
}
