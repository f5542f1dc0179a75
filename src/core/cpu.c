/* CPU feature detection for the run-time kernel dispatch (see cpu.h). */
#include "core/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

dctr_simd_level dctr_cpu_simd_detected(void) {
#if DCTR_X86_DISPATCH
    /* __builtin_cpu_supports checks the CPUID bits; libgcc / compiler-rt also require the OS
     * to save the wider registers (XCR0) before reporting AVX / AVX-512. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("fma"))
        return DCTR_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return DCTR_SIMD_AVX2;
#endif
    return DCTR_SIMD_PORTABLE;
}

static dctr_simd_level env_cap(void) {
    const char *v = getenv("DCTR_SIMD");
    if (!v || !*v)
        return DCTR_SIMD_AVX512;
    for (int l = 0; l < DCTR_SIMD_LEVEL_COUNT; l++)
        if (strcmp(v, dctr_simd_level_name((dctr_simd_level)l)) == 0)
            return (dctr_simd_level)l;
    return DCTR_SIMD_AVX512; /* unknown value: no cap (documented in docs/reliability.md) */
}

dctr_simd_level dctr_cpu_simd_level(void) {
    /* -1 = not read yet; racing first calls compute the same value, so a plain store is fine */
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        dctr_simd_level d = dctr_cpu_simd_detected(), cap = env_cap();
        v = (int)(d < cap ? d : cap);
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return (dctr_simd_level)v;
}

bool dctr_cpu_can_run(dctr_simd_level level) {
    return level >= DCTR_SIMD_PORTABLE && level <= dctr_cpu_simd_detected();
}

const char *dctr_simd_level_name(dctr_simd_level level) {
    switch (level) {
    case DCTR_SIMD_AVX2:
        return "avx2";
    case DCTR_SIMD_AVX512:
        return "avx512";
    default:
        return "portable";
    }
}
