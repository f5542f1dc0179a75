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

unsigned char *dctr_test_slurp(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*size + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)*size, f), (size_t)*size);
    b[*size] = 0;
    fclose(f);
    return b;
}
