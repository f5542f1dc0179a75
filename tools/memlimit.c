/* See memlimit.h. */
#include "memlimit.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define REEXEC_MARK "DCTR_LOW_AS_REEXEC"
#define BUFFER_MIB 136u

void cli_single_blas_thread_under_low_limit(char **argv) {
    struct rlimit rl;
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("OMP_NUM_THREADS") || getenv(REEXEC_MARK) ||
        getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t need = ((uint64_t)(cores > 0 ? cores : 1) + 1) * BUFFER_MIB + 256u;
    if ((uint64_t)rl.rlim_cur >> 20 >= need)
        return;
    if (setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0 || setenv(REEXEC_MARK, "1", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_NUM_THREADS"); /* exec failed: carry on as before */
    unsetenv(REEXEC_MARK);
}
