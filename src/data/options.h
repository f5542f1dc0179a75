/* Versioned option structs of the data API (dctr_csv_options, dctr_synth_options): a caller's
 * struct may be older (smaller) than the library's, never larger, and never of size 0. */
#ifndef DCTR_DATA_OPTIONS_H
#define DCTR_DATA_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"

/* Copies `size` bytes of the caller's struct `in` (size = its struct_size) over `out`, which
 * holds the defaults (an older struct keeps the defaults of the fields it lacks). `type` names
 * the struct in the error. */
static inline dctr_status dctr_options_copy(void *out, size_t out_size, const void *in,
                                            uint32_t size, const char *type) {
    if (size == 0 || size > out_size)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: struct_size %u is not valid (use %s_default)",
                              type, (unsigned)size, type);
    memcpy(out, in, size);
    return DCTR_OK;
}

#endif
