/* Thread-local last-error storage and the status-name table. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DCTR_ERROR_CAPACITY 1024

static _Thread_local char last_error[DCTR_ERROR_CAPACITY];

const char *dctr_last_error(void) { return last_error; }

void dctr_clear_error(void) { last_error[0] = '\0'; }

dctr_status dctr_set_error(dctr_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

dctr_status dctr_error_prefix(dctr_status status, const char *fmt, ...) {
    char prefix[DCTR_ERROR_CAPACITY];
    char old[DCTR_ERROR_CAPACITY];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    /* Truncation is fine: the message is capped at the buffer size by design. */
    size_t n = strlen(prefix);
    if (n > sizeof last_error - 3)
        n = sizeof last_error - 3;
    memcpy(last_error, prefix, n);
    memcpy(last_error + n, ": ", 2);
    size_t room = sizeof last_error - n - 3;
    size_t m = strnlen(old, room);
    memcpy(last_error + n + 2, old, m);
    last_error[n + 2 + m] = '\0';
    return status;
}

const char *dctr_status_name(dctr_status status) {
    switch (status) {
    case DCTR_OK: return "DCTR_OK";
    case DCTR_ERR_INVALID_ARG: return "DCTR_ERR_INVALID_ARG";
    case DCTR_ERR_NOMEM: return "DCTR_ERR_NOMEM";
    case DCTR_ERR_IO: return "DCTR_ERR_IO";
    case DCTR_ERR_PARSE: return "DCTR_ERR_PARSE";
    case DCTR_ERR_SCHEMA: return "DCTR_ERR_SCHEMA";
    case DCTR_ERR_RANGE: return "DCTR_ERR_RANGE";
    case DCTR_ERR_NUMERIC: return "DCTR_ERR_NUMERIC";
    case DCTR_ERR_FORMAT: return "DCTR_ERR_FORMAT";
    case DCTR_ERR_UNSUPPORTED: return "DCTR_ERR_UNSUPPORTED";
    case DCTR_ERR_STATE: return "DCTR_ERR_STATE";
    case DCTR_ERR_LIMIT: return "DCTR_ERR_LIMIT";
    case DCTR_ERR_OOV: return "DCTR_ERR_OOV";
    case DCTR_ERR_CANCELLED: return "DCTR_ERR_CANCELLED";
    case DCTR_ERR_INTERNAL: return "DCTR_ERR_INTERNAL";
    }
    return "DCTR_ERR_UNKNOWN";
}
