/* `deepctr` under an address-space limit (ulimit -v): OpenBLAS starts one server thread per
 * core when it is loaded, and each allocates a 128 MiB work buffer, retrying a failed malloc
 * forever. Below (cores + 1) x 136 MiB + 256 MiB such a thread never finishes and the process
 * hangs at exit. So the program re-executes itself once with OPENBLAS_NUM_THREADS=1 (no server
 * threads) when the limit is that low and the user did not choose a thread count. */
#ifndef DCTR_TOOLS_MEMLIMIT_H
#define DCTR_TOOLS_MEMLIMIT_H

/* Returns only when no re-exec was needed or it failed. */
void cli_single_blas_thread_under_low_limit(char **argv);

#endif
