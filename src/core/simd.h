/* Per-kernel run-time variants: one C body, compiled three times (portable, AVX2, AVX-512).
 *
 * A hot kernel is written once as an always-inline body `name_body`; DCTR_SIMD_CLONES wraps it
 * in three functions, two of them under DCTR_TARGET_AVX2 / DCTR_TARGET_AVX512, so the compiler
 * vectorises the same loops for 16-, 32- and 64-byte registers, plus a table indexed by
 * dctr_simd_level. Callers pick the variant once per call (DCTR_SIMD_PICK), never per element.
 * On non-x86 builds only the portable clone exists and every table entry points at it.
 *
 * Bit-identity: the clones run the same C operations in the same order, and nothing here
 * licenses reassociation (no -ffast-math) or FMA contraction (gcc's ISO C mode, the project's
 * -std=c11, defaults to -ffp-contract=off; clang needs the pragma below), so every variant
 * returns exactly the portable result. tests/test_simd_variants.c checks this bit for bit. */
#ifndef DCTR_CORE_SIMD_H
#define DCTR_CORE_SIMD_H

#include <stdint.h>
#include <string.h>

#include "core/cpu.h"

#ifdef __clang__
/* clang contracts a * b + c into an FMA within one expression by default under an FMA target;
 * the AVX2 / AVX-512 clones would then round differently from the portable one. */
#pragma clang fp contract(off)
#endif

#define DCTR_KERNEL_BODY static inline __attribute__((always_inline))

/* The level kernels use now: the level forced by dctr_kernel_force_level(), else
 * dctr_cpu_simd_level() (the CPU's, capped by DCTR_SIMD). */
dctr_simd_level dctr_kernel_level(void);
/* Test / benchmark hook: makes every dispatched kernel of the process run the variant of
 * `level` (which must satisfy dctr_cpu_can_run), or the default again with level < 0.
 * Process-wide and meant for single-threaded tests: library users set DCTR_SIMD instead. */
void dctr_kernel_force_level(int level);

/* c ? a : b, exactly, as a bit select. Written as `c ? a : f(x)` with a multiply or divide in
 * f, a loop is not vectorised by gcc below AVX-512 (the op may trap, so it stays behind a
 * branch under the default -ftrapping-math); the bit select computes both sides and vectorises
 * at every level, SSE2 included. */
#define DCTR_SELECT_DEFINE(name, F, U)                                                        \
    DCTR_KERNEL_BODY F name(int c, F a, F b) {                                                \
        U ua, ub, m = (U)0 - (U)(c != 0), r;                                                  \
        memcpy(&ua, &a, sizeof ua);                                                           \
        memcpy(&ub, &b, sizeof ub);                                                           \
        r = (ua & m) | (ub & ~m);                                                             \
        F f;                                                                                  \
        memcpy(&f, &r, sizeof f);                                                             \
        return f;                                                                             \
    }
DCTR_SELECT_DEFINE(dctr_select_f32, float, uint32_t)
DCTR_SELECT_DEFINE(dctr_select_f64, double, uint64_t)
#undef DCTR_SELECT_DEFINE

/* GNU C vector types (gcc, clang): elementwise +, -, * on 4 or 8 floats, lowered to whatever
 * the function's target has (two SSE ops for a v8 on the portable level). Lane j of a vector
 * op rounds exactly like the scalar op on element j, so code using them keeps the bits of
 * its scalar twin as long as it keeps the order of the additions. */
#if defined(__GNUC__)
#define DCTR_VEC 1
typedef float dctr_v4f __attribute__((vector_size(16)));
typedef float dctr_v8f __attribute__((vector_size(32)));
#else
#define DCTR_VEC 0
#endif

#define DCTR_SIMD_PICK(name) (name##_variant[dctr_kernel_level()])

#if DCTR_X86_DISPATCH
#define DCTR_SIMD_CLONES_RET(ret, name, params, args)                                         \
    static ret name##_portable params { return name##_body args; }                             \
    DCTR_TARGET_AVX2 static ret name##_avx2 params { return name##_body args; }               \
    DCTR_TARGET_AVX512 static ret name##_avx512 params { return name##_body args; }           \
    static ret (*const name##_variant[DCTR_SIMD_LEVEL_COUNT]) params = {                      \
        name##_portable, name##_avx2, name##_avx512}
#define DCTR_SIMD_CLONES(name, params, args)                                                   \
    static void name##_portable params { name##_body args; }                                   \
    DCTR_TARGET_AVX2 static void name##_avx2 params { name##_body args; }                     \
    DCTR_TARGET_AVX512 static void name##_avx512 params { name##_body args; }                 \
    static void (*const name##_variant[DCTR_SIMD_LEVEL_COUNT]) params = {                     \
        name##_portable, name##_avx2, name##_avx512}
/* Clones for portable and AVX2 only; the AVX-512 level runs the AVX2 clone. For kernels whose
 * loops are too short for 16 lanes (k = 8 rows, 13 dense values), where gcc's 512-bit code was
 * measured slower than its 256-bit code (bench_layers --variants). */
#define DCTR_SIMD_CLONES_AVX2MAX(name, params, args)                                           \
    static void name##_portable params { name##_body args; }                                   \
    DCTR_TARGET_AVX2 static void name##_avx2 params { name##_body args; }                     \
    static void (*const name##_variant[DCTR_SIMD_LEVEL_COUNT]) params = {                     \
        name##_portable, name##_avx2, name##_avx2}

/* The same with two bodies: name_narrow (16-byte vectors) for the portable level and
 * name_wide (32-byte vectors) for AVX2 and AVX-512, for kernels written with explicit vector
 * types (DCTR_VEC below) whose width is part of the code. */
#define DCTR_SIMD_CLONES_NW(name, params, args)                                                \
    static void name##_portable params { name##_narrow args; }                                 \
    DCTR_TARGET_AVX2 static void name##_avx2 params { name##_wide args; }                     \
    DCTR_TARGET_AVX512 static void name##_avx512 params { name##_wide args; }                 \
    static void (*const name##_variant[DCTR_SIMD_LEVEL_COUNT]) params = {                     \
        name##_portable, name##_avx2, name##_avx512}
#else
#define DCTR_SIMD_CLONES_AVX2MAX(name, params, args) DCTR_SIMD_CLONES(name, params, args)
#define DCTR_SIMD_CLONES_NW(name, params, args)                                                \
    static void name##_portable params { name##_narrow args; }                                 \
    static void (*const name##_variant[DCTR_SIMD_LEVEL_COUNT]) params = {                     \
        name##_portable, name##_portable, name##_portable}
#define DCTR_SIMD_CLONES_RET(ret, name, params, args)                                         \
    static ret name##_portable params { return name##_body args; }                             \
    static ret (*const name##_variant[DCTR_SIMD_LEVEL_COUNT]) params = {                      \
        name##_portable, name##_portable, name##_portable}
#define DCTR_SIMD_CLONES(name, params, args)                                                   \
    static void name##_portable params { name##_body args; }                                   \
    static void (*const name##_variant[DCTR_SIMD_LEVEL_COUNT]) params = {                     \
        name##_portable, name##_portable, name##_portable}
#endif

#endif
