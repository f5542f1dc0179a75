/* Locating test data and temp files from the environment CTest sets. */
#include "test_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

const char *dctr_test_data_path(char *buf, size_t cap, const char *relative) {
    const char *dir = getenv("DCTR_DATA_DIR");
    if (!dir)
        fail_msg("DCTR_DATA_DIR is not set: run the tests through ctest");
    snprintf(buf, cap, "%s/%s", dir, relative);
    return buf;
}

const char *dctr_test_tmp_path(char *buf, size_t cap, const char *name) {
    const char *dir = getenv("DCTR_TEST_TMP");
    snprintf(buf, cap, "%s/%s", dir ? dir : "/tmp", name);
    return buf;
}
