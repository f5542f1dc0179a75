/* Runtime version and build information. */
#include <stdio.h>

#include "core/blas.h"
#include "deepctr/common.h"

const char *dctr_version(void) { return DCTR_VERSION_STRING; }

void dctr_version_numbers(int *major, int *minor, int *patch) {
    if (major)
        *major = DCTR_VERSION_MAJOR;
    if (minor)
        *minor = DCTR_VERSION_MINOR;
    if (patch)
        *patch = DCTR_VERSION_PATCH;
}

const char *dctr_build_info(void) {
    static _Thread_local char info[512];
    snprintf(info, sizeof info, "libdeepctr %s; compiler %s; blas %s (%s)", DCTR_VERSION_STRING,
#if defined(__clang__)
             "clang " __clang_version__,
#elif defined(__GNUC__)
             "gcc " __VERSION__,
#else
             "unknown",
#endif
             dctr_blas_config(), dctr_blas_corename());
    return info;
}
