/* libdeepctr_mpi: distributed training over an MPI communicator (Open MPI), built when CMake
 * finds MPI (option DCTR_MPI). The core library never links MPI: this component fills the
 * transport table of deepctr/collective.h from a communicator and adds shard readers.
 *
 *   MPI_Init(&argc, &argv);                  // or MPI_Init_thread; the caller owns MPI
 *   dctr_mpi *mp; dctr_mpi_new(MPI_COMM_WORLD, &mp);
 *   dctr_mpi_schema_fit_csv(mp, schema, my_shard_path, NULL);    // same schema on every rank
 *   dctr_mpi_read_csv(mp, schema, path, NULL, DCTR_SHARD_FILE, &train);
 *   dctr_model_new_collective(schema, &cfg, dctr_mpi_collective(mp), &model); // sharded: 1/N
 *   dctr_model_fit_collective(model, train, &opts, dctr_mpi_collective(mp), &hist);
 *   dctr_model_save_collective(model, "model.dctr", 0, dctr_mpi_collective(mp)); // rank 0 writes
 *
 * Errors are status codes as everywhere (docs/distributed.md "Faults"): at the agreement points
 * every rank returns, the failed rank with its own message, the others naming it. A rank that
 * dies inside a transfer is reported by mpirun, which ends the job. */
#ifndef DEEPCTR_MPI_H
#define DEEPCTR_MPI_H

#include <mpi.h>

#include "deepctr/collective.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dctr_mpi dctr_mpi;

/* Duplicates comm (the library's messages never mix with the caller's). MPI must be initialised. */
DCTR_API DCTR_NODISCARD dctr_status dctr_mpi_new(MPI_Comm comm, dctr_mpi **out);
DCTR_API void dctr_mpi_free(dctr_mpi *mp);
DCTR_API int32_t dctr_mpi_rank(const dctr_mpi *mp);
DCTR_API int32_t dctr_mpi_size(const dctr_mpi *mp);
/* The transport table for dctr_model_fit_collective / dctr_schema_fit_csv_collective. */
DCTR_API dctr_collective *dctr_mpi_collective(dctr_mpi *mp);
/* Bytes this rank has received through the library so far. */
DCTR_API int64_t dctr_mpi_bytes_received(const dctr_mpi *mp);

typedef enum dctr_shard_mode {
    DCTR_SHARD_FILE = 0,   /* the path is this rank's own file (a list of files, one per rank) */
    DCTR_SHARD_STRIPE = 1  /* one file for all: rank r keeps rows r, r + N, r + 2N, ... */
} dctr_shard_mode;

/* Encoders fitted over all ranks' data. FILE: each rank counts its own file and the counts are
 * merged. STRIPE: every rank counts the whole file (same result, no exchange). */
DCTR_API DCTR_NODISCARD dctr_status dctr_mpi_schema_fit_csv(dctr_mpi *mp, dctr_schema *schema,
                                                           const char *path,
                                                           const dctr_csv_options *opts,
                                                           dctr_shard_mode mode);
/* This rank's rows. The outcome is agreed: a rank failing to read (a malformed row) makes every
 * rank return an error naming it. */
DCTR_API DCTR_NODISCARD dctr_status dctr_mpi_read_csv(dctr_mpi *mp, const dctr_schema *schema,
                                                     const char *path, const dctr_csv_options *opts,
                                                     dctr_shard_mode mode, dctr_dataset **out);
/* Every rank passes its status; returns the agreed one (the failed rank's, or DCTR_ERR_IO naming
 * it on the others). For the caller's own steps between library calls. */
DCTR_API DCTR_NODISCARD dctr_status dctr_mpi_agree(dctr_mpi *mp, dctr_status mine, const char *what);

#ifdef __cplusplus
}
#endif
#endif
