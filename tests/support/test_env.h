/* Small helpers shared by the tests: locating the real data and a writable temp directory. */
#ifndef DCTR_TEST_ENV_H
#define DCTR_TEST_ENV_H

#include <stddef.h>

/* $DCTR_DATA_DIR/<relative> into buf (fails the test if DCTR_DATA_DIR is unset). */
const char *dctr_test_data_path(char *buf, size_t cap, const char *relative);
/* $DCTR_TEST_TMP/<name> into buf (falls back to /tmp). */
const char *dctr_test_tmp_path(char *buf, size_t cap, const char *name);
/* The whole file (NUL-terminated; *size bytes without the NUL), or a failed test. Caller frees. */
unsigned char *dctr_test_slurp(const char *path, long *size);

#endif
