/* Status codes, the thread-local last-error message, the version API and the export macro.
 * Every fallible call in libdeepctr returns a dctr_status (0 = OK, negative = error kind) and,
 * on error, leaves a message naming the feature, file, line and column in dctr_last_error(). */
#ifndef DEEPCTR_COMMON_H
#define DEEPCTR_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "deepctr/version.h"

#if defined(_WIN32)
#define DCTR_API __declspec(dllexport)
#elif defined(__GNUC__)
#define DCTR_API __attribute__((visibility("default")))
#else
#define DCTR_API
#endif

#if defined(__GNUC__)
#define DCTR_NODISCARD __attribute__((warn_unused_result))
#else
#define DCTR_NODISCARD
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dctr_status {
    DCTR_OK = 0,
    DCTR_ERR_INVALID_ARG = -1,  /* wrong API use: NULL handle, bad option value, wrong state */
    DCTR_ERR_NOMEM = -2,        /* an allocation failed */
    DCTR_ERR_IO = -3,           /* open/read/write/rename failed (errno text in the message) */
    DCTR_ERR_PARSE = -4,        /* malformed text input: the message has file:line:column */
    DCTR_ERR_SCHEMA = -5,       /* invalid or inconsistent feature columns / model config */
    DCTR_ERR_RANGE = -6,        /* id or value outside its valid range */
    DCTR_ERR_NUMERIC = -7,      /* NaN or Inf in input or training (diverged loss) */
    DCTR_ERR_FORMAT = -8,       /* corrupt, truncated or incompatible model / cache file */
    DCTR_ERR_UNSUPPORTED = -9,  /* a valid request this build or version does not support */
    DCTR_ERR_STATE = -10,       /* call not allowed in the object's current state */
    DCTR_ERR_LIMIT = -11,       /* a resource limit was exceeded (line length, field count, size) */
    DCTR_ERR_OOV = -12,         /* out-of-vocabulary value under the "error" OOV policy */
    DCTR_ERR_CANCELLED = -13,   /* a user callback asked to stop */
    DCTR_ERR_INTERNAL = -14     /* a bug in libdeepctr: please report it */
} dctr_status;

/* The message of the last error set on the calling thread ("" if none). Valid until the
 * next libdeepctr call on this thread. Never NULL. */
DCTR_API const char *dctr_last_error(void);
/* Clears the calling thread's last error. */
DCTR_API void dctr_clear_error(void);
/* A short constant name of a status code, e.g. "DCTR_ERR_PARSE". Never NULL. */
DCTR_API const char *dctr_status_name(dctr_status status);

/* Runtime version: "MAJOR.MINOR.PATCH" and its numbers (any pointer may be NULL). */
DCTR_API const char *dctr_version(void);
DCTR_API void dctr_version_numbers(int *major, int *minor, int *patch);
/* Build information: compiler, BLAS configuration. Never NULL. */
DCTR_API const char *dctr_build_info(void);

#ifdef __cplusplus
}
#endif
#endif
