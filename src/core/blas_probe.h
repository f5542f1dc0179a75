/* Out-of-memory before BLAS, not inside it. OpenBLAS allocates one work buffer per calling
 * thread at its first GEMM (blas_memory_alloc, 128 MiB + a page in x86-64 builds) and, when
 * malloc fails, retries forever: under `ulimit -v 150000` DeepFM training hung in that loop.
 * The probe reserves (and releases) that much address space before training, so a limit too
 * low for the buffers is DCTR_ERR_NOMEM in milliseconds. */
#ifndef DCTR_CORE_BLAS_PROBE_H
#define DCTR_CORE_BLAS_PROBE_H

#include "deepctr/common.h"

/* Address space reserved per BLAS work buffer: OpenBLAS's 128 MiB buffer plus slack. */
#define DCTR_BLAS_BUFFER_BYTES ((size_t)136 << 20)

/* DCTR_OK when `buffers` BLAS work buffers fit in the address space now; else DCTR_ERR_NOMEM
 * with a message saying what to change. */
dctr_status dctr_blas_probe_memory(int buffers);

#endif
