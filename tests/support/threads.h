/* Threaded tests: start every worker, join every worker, and only then let the test assert, so
 * a failing assert (cmocka longjmps out of the test) never leaves a thread running against
 * freed state. */
#ifndef DCTR_TEST_THREADS_H
#define DCTR_TEST_THREADS_H

#include <stddef.h>

/* Runs fn(args + i * arg_size) for i < n on n threads (n <= 64) and joins all of them. Returns
 * how many could not be started (their fn never ran); assert it is 0 after the call. */
int th_run_all(int n, void *(*fn)(void *), void *args, size_t arg_size);

#endif
