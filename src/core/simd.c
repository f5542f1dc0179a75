/* The level the dispatched kernels use (core/simd.h): a test override over the CPU's level. */
#include <stdatomic.h>

#include "core/simd.h"

static atomic_int g_forced = -1; /* < 0: none */

dctr_simd_level dctr_kernel_level(void) {
    int f = atomic_load_explicit(&g_forced, memory_order_relaxed);
    return f >= 0 ? (dctr_simd_level)f : dctr_cpu_simd_level();
}

void dctr_kernel_force_level(int level) {
    if (level >= DCTR_SIMD_LEVEL_COUNT || (level >= 0 && !dctr_cpu_can_run((dctr_simd_level)level)))
        level = -1; /* never run a variant the CPU lacks */
    atomic_store_explicit(&g_forced, level < 0 ? -1 : level, memory_order_relaxed);
}
