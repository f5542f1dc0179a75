/* What the two MPI benchmarks share (bench_dist.c, bench_dist_ffm.c): the fatal-error check and
 * the synthetic CSV that rank 0 writes once for every rank to read. */
#ifndef DCTR_BENCH_MPI_COMMON_H
#define DCTR_BENCH_MPI_COMMON_H

#include <mpi.h>
#include <stdio.h>
#include <sys/stat.h>

#include "deepctr/deepctr.h"

static int g_rank, g_size;

static void die(const char *what) {
    fprintf(stderr, "%s rank %d: %s: %s\n", BENCH_NAME, g_rank, what, dctr_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
}
#define OK(call) do { if ((call) != DCTR_OK) die(#call); } while (0)

/* Rank 0 generates `csv` (rows, the generator's default columns unless num_sparse / num_dense
 * are >= 0, Zipf up to vocab ids, no holdout) when it does not exist; every rank then waits. */
static void synth_once(const char *csv, int64_t rows, int32_t num_sparse, int32_t num_dense,
                       int64_t vocab) {
    struct stat st;
    if (g_rank == 0 && stat(csv, &st) != 0) {
        dctr_synth_options so;
        dctr_synth_options_default(&so);
        so.rows = rows;
        if (num_sparse >= 0)
            so.num_sparse = num_sparse;
        if (num_dense >= 0)
            so.num_dense = num_dense;
        so.max_vocabulary = vocab;
        so.csv_path = csv;
        so.holdout_fraction = 0;
        OK(dctr_synth_generate(&so, NULL));
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* Fit options of every run of a benchmark: epochs, the global batch; *steps = steps a run takes. */
static dctr_fit_options bench_fit_options(int epochs, int64_t rows, int64_t batch, int64_t *steps) {
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = epochs;
    o.batch_size = (int32_t)batch;
    *steps = (rows + batch - 1) / batch * epochs;
    return o;
}

#endif
