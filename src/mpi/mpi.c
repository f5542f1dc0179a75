/* libdeepctr_mpi: the collective table of deepctr/collective.h over an MPI communicator, and
 * shard readers. Built only with DCTR_MPI; the core library never includes this file. */
#include "deepctr/mpi.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "deepctr/deepctr.h"

struct dctr_mpi {
    MPI_Comm comm;
    dctr_collective coll;
    int *counts, *displs;   /* [size] for MPI_Allgatherv and the receive side of MPI_Alltoallv */
    int *scounts, *sdispls; /* [size] the send side of MPI_Alltoallv */
};

/* int counts and displacements of MPI from int64 byte counts; 1 when they do not fit. */
static int to_int_counts(const int64_t *counts, int n, int *c, int *d) {
    int64_t off = 0;
    for (int r = 0; r < n; r++) {
        if (counts[r] > INT_MAX || off > INT_MAX)
            return 1;
        c[r] = (int)counts[r];
        d[r] = (int)off;
        off += counts[r];
    }
    return 0;
}

/* MPI counts are int: blocks above 2 GiB are sent as MPI_BYTE-sized chunks of a larger type. */
static int ag(void *ctx, const void *send, int64_t bytes, void *recv) {
    dctr_mpi *mp = ctx;
    if (bytes > INT_MAX)
        return 1;
    return MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, mp->comm) !=
           MPI_SUCCESS;
}

static int agv(void *ctx, const void *send, const int64_t *counts, void *recv) {
    dctr_mpi *mp = ctx;
    if (to_int_counts(counts, mp->coll.size, mp->counts, mp->displs))
        return 1;
    return MPI_Allgatherv(send, mp->counts[mp->coll.rank], MPI_BYTE, recv, mp->counts, mp->displs,
                          MPI_BYTE, mp->comm) != MPI_SUCCESS;
}

static int a2av(void *ctx, const void *send, const int64_t *send_counts, void *recv,
                const int64_t *recv_counts) {
    dctr_mpi *mp = ctx;
    if (to_int_counts(send_counts, mp->coll.size, mp->scounts, mp->sdispls) ||
        to_int_counts(recv_counts, mp->coll.size, mp->counts, mp->displs))
        return 1;
    return MPI_Alltoallv(send, mp->scounts, mp->sdispls, MPI_BYTE, recv, mp->counts, mp->displs,
                         MPI_BYTE, mp->comm) != MPI_SUCCESS;
}

dctr_status dctr_mpi_new(MPI_Comm comm, dctr_mpi **out) {
    if (!out)
        return DCTR_ERR_INVALID_ARG;
    *out = NULL;
    int init = 0, rank = 0, size = 0;
    MPI_Initialized(&init);
    if (!init)
        return DCTR_ERR_STATE;
    dctr_mpi *mp = calloc(1, sizeof *mp);
    if (!mp)
        return DCTR_ERR_NOMEM;
    if (MPI_Comm_dup(comm, &mp->comm) != MPI_SUCCESS) {
        free(mp);
        return DCTR_ERR_IO;
    }
    MPI_Comm_rank(mp->comm, &rank);
    MPI_Comm_size(mp->comm, &size);
    mp->counts = calloc((size_t)size, sizeof(int));
    mp->displs = calloc((size_t)size, sizeof(int));
    mp->scounts = calloc((size_t)size, sizeof(int));
    mp->sdispls = calloc((size_t)size, sizeof(int));
    if (!mp->counts || !mp->displs || !mp->scounts || !mp->sdispls) {
        dctr_mpi_free(mp);
        return DCTR_ERR_NOMEM;
    }
    mp->coll = (dctr_collective){.struct_size = sizeof(dctr_collective), .rank = rank,
                                 .size = size, .ctx = mp, .allgather = ag, .allgatherv = agv,
                                 .alltoallv = a2av};
    *out = mp;
    return DCTR_OK;
}

void dctr_mpi_free(dctr_mpi *mp) {
    if (!mp)
        return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin && mp->comm != MPI_COMM_NULL)
        MPI_Comm_free(&mp->comm);
    free(mp->counts);
    free(mp->displs);
    free(mp->scounts);
    free(mp->sdispls);
    free(mp);
}

int32_t dctr_mpi_rank(const dctr_mpi *mp) { return mp ? mp->coll.rank : -1; }
int32_t dctr_mpi_size(const dctr_mpi *mp) { return mp ? mp->coll.size : -1; }
dctr_collective *dctr_mpi_collective(dctr_mpi *mp) { return mp ? &mp->coll : NULL; }
int64_t dctr_mpi_bytes_received(const dctr_mpi *mp) { return mp ? mp->coll.bytes_received : 0; }

dctr_status dctr_mpi_agree(dctr_mpi *mp, dctr_status mine, const char *what) {
    return dctr_collective_agree(&mp->coll, mine, what);
}

dctr_status dctr_mpi_schema_fit_csv(dctr_mpi *mp, dctr_schema *schema, const char *path,
                                    const dctr_csv_options *opts, dctr_shard_mode mode) {
    if (mode == DCTR_SHARD_STRIPE) /* every rank sees every row: nothing to merge */
        return dctr_mpi_agree(mp, dctr_schema_fit_csv(schema, path, opts), "encoder fit");
    return dctr_schema_fit_csv_collective(schema, path, opts, &mp->coll);
}

dctr_status dctr_mpi_read_csv(dctr_mpi *mp, const dctr_schema *schema, const char *path,
                              const dctr_csv_options *opts, dctr_shard_mode mode,
                              dctr_dataset **out) {
    dctr_dataset *all = NULL;
    *out = NULL;
    dctr_status st = dctr_dataset_read_csv(schema, path, opts, &all);
    if (st == DCTR_OK && mode == DCTR_SHARD_STRIPE) {
        st = dctr_dataset_stripe(all, mp->coll.rank, mp->coll.size, out);
        dctr_dataset_free(all);
    } else {
        *out = all;
    }
    st = dctr_mpi_agree(mp, st, "reading the training data");
    if (st != DCTR_OK) {
        dctr_dataset_free(*out);
        *out = NULL;
    }
    return st;
}
