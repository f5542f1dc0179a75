/* The BLAS kernel report and the generic-kernel fix (deepctr/runtime.h): the decision table,
 * dctr_runtime_info_get's contract, and the re-exec end to end through `deepctr --version`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/blas.h"
#include "core/blas_kernel.h"

static void test_generic_kernels_get_a_better_coretype(void **state) {
    (void)state;
    assert_string_equal(dctr_blas_better_coretype("Prescott", DCTR_SIMD_AVX512), "SkylakeX");
    assert_string_equal(dctr_blas_better_coretype("Prescott", DCTR_SIMD_AVX2), "Haswell");
    assert_string_equal(dctr_blas_better_coretype("Core2", DCTR_SIMD_AVX2), "Haswell");
    assert_string_equal(dctr_blas_better_coretype("Sandybridge", DCTR_SIMD_AVX512), "SkylakeX");
    /* kernels that already use AVX2 / AVX-512 are left alone, whatever the case */
    assert_null(dctr_blas_better_coretype("Haswell", DCTR_SIMD_AVX512));
    assert_null(dctr_blas_better_coretype("ZEN", DCTR_SIMD_AVX2));
    assert_null(dctr_blas_better_coretype("Cooperlake", DCTR_SIMD_AVX512));
    /* a CPU without AVX2 has nothing better to offer */
    assert_null(dctr_blas_better_coretype("Prescott", DCTR_SIMD_PORTABLE));
    assert_null(dctr_blas_better_coretype(NULL, DCTR_SIMD_AVX512));
}

static void test_runtime_info(void **state) {
    (void)state;
    assert_int_equal(dctr_runtime_info_get(NULL), DCTR_ERR_INVALID_ARG);
    dctr_runtime_info ri = {.struct_size = 4};
    assert_int_equal(dctr_runtime_info_get(&ri), DCTR_ERR_INVALID_ARG);
    assert_non_null(strstr(dctr_last_error(), "struct_size"));
    ri.struct_size = sizeof ri;
    assert_int_equal(dctr_runtime_info_get(&ri), DCTR_OK);
    assert_string_equal(ri.blas_kernel, dctr_blas_corename());
    assert_non_null(strstr(ri.blas_config, "OpenBLAS"));
    assert_true(ri.blas_threads >= 1);
    assert_string_equal(ri.cpu_simd, dctr_simd_level_name(dctr_cpu_simd_detected()));
    assert_string_equal(ri.kernel_simd, dctr_simd_level_name(dctr_cpu_simd_level()));
    assert_int_equal(ri.blas_kernel_generic, ri.blas_recommended_coretype != NULL);
}

/* Runs `env ENV deepctr --version`, returns its output (static buffer). */
static const char *version_with(const char *env) {
    static char out[4096];
    const char *bin = getenv("DCTR_BIN_DIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env -u DCTR_BLAS_CORETYPE_SET %s '%s/deepctr' --version 2>&1", env,
             bin ? bin : ".");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    return out;
}

static void test_tool_reexecs_on_a_generic_kernel(void **state) {
    (void)state;
    if (dctr_cpu_simd_detected() < DCTR_SIMD_AVX2 || !strstr(dctr_blas_config(), "DYNAMIC_ARCH")) {
        skip(); /* nothing better to pick, or an OpenBLAS that ignores OPENBLAS_CORETYPE */
    }
    const char *want = dctr_blas_better_coretype("Prescott", dctr_cpu_simd_detected());
    char line[128];
    snprintf(line, sizeof line, "blas kernel %s,", want);
    /* DCTR_BLAS_AUTO=1 treats a preset generic kernel like OpenBLAS's own fallback */
    const char *fixed = version_with("OPENBLAS_CORETYPE=Prescott DCTR_BLAS_AUTO=1");
    assert_non_null(strstr(fixed, line));
    assert_non_null(strstr(fixed, "set automatically"));
    /* a kernel the user chose is respected (and reported as generic) */
    const char *kept = version_with("OPENBLAS_CORETYPE=Prescott");
    assert_non_null(strstr(kept, "blas kernel Prescott,"));
    assert_non_null(strstr(kept, "warning: OpenBLAS runs generic kernels"));
    const char *off = version_with("OPENBLAS_CORETYPE=Prescott DCTR_BLAS_AUTO=0");
    assert_non_null(strstr(off, "blas kernel Prescott,"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic_kernels_get_a_better_coretype),
        cmocka_unit_test(test_runtime_info),
        cmocka_unit_test(test_tool_reexecs_on_a_generic_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
