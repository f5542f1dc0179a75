/* BLAS work-buffer probe: see blas_probe.h. */
#include "core/blas_probe.h"

#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"

dctr_status dctr_blas_probe_memory(int buffers) {
    size_t bytes;
    if (buffers < 1)
        buffers = 1;
    if (!dctr_mul_size((size_t)buffers, DCTR_BLAS_BUFFER_BYTES, &bytes))
        return dctr_set_error(DCTR_ERR_NOMEM, "BLAS work buffers: %d buffers overflow", buffers);
    /* plain malloc: only address space is taken (no page is touched), then given back */
    void *p = malloc(bytes);
    /* the compiler may drop an unused malloc/free pair (clang does): make p escape */
    __asm__ volatile("" : : "r"(p) : "memory");
    if (!p)
        return dctr_set_error(DCTR_ERR_NOMEM,
                              "out of memory: training the DNN needs %d OpenBLAS work buffers of "
                              "%zu MiB of address space (%zu MiB); raise the memory limit "
                              "(ulimit -v) or train with fewer threads",
                              buffers, DCTR_BLAS_BUFFER_BYTES >> 20, bytes >> 20);
    free(p);
    return DCTR_OK;
}
