/* Checks for the tests under mpirun: a failed check prints the rank, the place, the message and
 * the library's last error, then ends the whole job (MPI_Abort), so no rank waits for it. The
 * including file defines `static int g_rank`. */
#ifndef DCTR_TESTS_MPI_CHECK_H
#define DCTR_TESTS_MPI_CHECK_H

#include <stdio.h>

#include <mpi.h>

#include "deepctr/deepctr.h"

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "rank %d: %s:%d: ", g_rank, __FILE__, __LINE__);                    \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fprintf(stderr, " (%s)\n", dctr_last_error());                                      \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                       \
        }                                                                                       \
    } while (0)
#define OK(call) CHECK((call) == DCTR_OK, "%s failed", #call)

#endif
