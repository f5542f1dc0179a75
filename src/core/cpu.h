/* Run-time SIMD level: which kernel variant the hot loops use on this CPU.
 * One binary serves every x86-64: kernels are compiled per level with function target
 * attributes (DCTR_TARGET_AVX2 / DCTR_TARGET_AVX512) and chosen at run time from
 * dctr_cpu_simd_level(). Levels are ordered: a CPU at AVX512 can run every variant below it.
 *   DCTR_SIMD_PORTABLE  baseline x86-64 (SSE2) C, or any other architecture
 *   DCTR_SIMD_AVX2      AVX2 + FMA (Haswell, Zen 1+)
 *   DCTR_SIMD_AVX512    AVX-512 F/BW/DQ/VL + FMA (Skylake-SP, Ice Lake, Zen 4+)
 * The environment variable DCTR_SIMD=portable|avx2|avx512 caps the level (never raises it
 * above what the CPU has): tests and benchmarks use it to run each variant. */
#ifndef DCTR_CORE_CPU_H
#define DCTR_CORE_CPU_H

#include <stdbool.h>

typedef enum dctr_simd_level {
    DCTR_SIMD_PORTABLE = 0,
    DCTR_SIMD_AVX2 = 1,
    DCTR_SIMD_AVX512 = 2,
    DCTR_SIMD_LEVEL_COUNT = 3
} dctr_simd_level;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DCTR_X86_DISPATCH 1
#define DCTR_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define DCTR_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#else
#define DCTR_X86_DISPATCH 0
#define DCTR_TARGET_AVX2
#define DCTR_TARGET_AVX512
#endif

/* The level kernels use: what the CPU supports, capped by DCTR_SIMD. Read once, then cached
 * (thread-safe, lock-free). */
dctr_simd_level dctr_cpu_simd_level(void);
/* What the CPU (and OS) supports, ignoring DCTR_SIMD. */
dctr_simd_level dctr_cpu_simd_detected(void);
/* True when this CPU can run the variant compiled for `level` (tests loop over levels). */
bool dctr_cpu_can_run(dctr_simd_level level);
/* "portable", "avx2", "avx512". */
const char *dctr_simd_level_name(dctr_simd_level level);

#endif
