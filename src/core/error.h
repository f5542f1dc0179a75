/* Setting the thread-local last-error message from inside the library. */
#ifndef DCTR_CORE_ERROR_H
#define DCTR_CORE_ERROR_H

#include "deepctr/common.h"

/* Formats the calling thread's last-error message and returns `status`, so callers can write
 * `return dctr_set_error(DCTR_ERR_PARSE, "%s:%d:%d: ...", file, line, col);`. */
dctr_status dctr_set_error(dctr_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "context: " to the current message (for adding a file name or feature name
 * at an outer level) and returns `status`. */
dctr_status dctr_error_prefix(dctr_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Propagates a non-OK status unchanged. */
#define DCTR_TRY(expr)                         \
    do {                                       \
        dctr_status dctr_try_s_ = (expr);      \
        if (dctr_try_s_ != DCTR_OK)            \
            return dctr_try_s_;                \
    } while (0)

#endif
