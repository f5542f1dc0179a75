/* FFM under mpirun (docs/distributed.md "FFM and DeepFFM"):
 *   mpirun --oversubscribe -np N bench_dist_ffm [--rows R] [--batch B] [--fields F] [--k K]
 *                                              [--vocab V] [--epochs E] [--dir D]
 * Synthetic rows of F sparse fields (deepctr synth's generator, no dense columns). In one run:
 * rank 0 trains single-process twice (libffm's per-sample step, dctr_model_fit; and the
 * synchronous mini-batch step on a one-rank collective), then all N ranks train data-parallel
 * on striped shards with the same global batch, replicated then sharded feature rows. Prints
 * samples/s, the ratios to both single-process runs and the bytes received per rank per step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepctr/deepctr.h"
#include "deepctr/mpi.h"

#define BENCH_NAME "bench_dist_ffm"
#include "bench_mpi_common.h"

static dctr_model *make_model(const dctr_schema *s, int k) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FFM);
    cfg.ffm_k = k;
    dctr_optimizer_config_default(&cfg.optimizer, DCTR_OPT_ADAGRAD);
    cfg.optimizer.learning_rate = 0.2;
    dctr_model *m;
    OK(dctr_model_new(s, &cfg, &m));
    return m;
}

/* Seconds of one fit of a fresh model (coll NULL: dctr_model_fit). */
static double timed_fit(const dctr_schema *s, int k, const dctr_dataset *d, const dctr_fit_options *o,
                        dctr_collective *coll) {
    dctr_model *m = make_model(s, k);
    double t0 = MPI_Wtime();
    OK(coll ? dctr_model_fit_collective(m, d, o, coll, NULL) : dctr_model_fit(m, d, o, NULL));
    double t = MPI_Wtime() - t0;
    dctr_model_free(m);
    return t;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    int64_t rows = 40000, batch = 256, vocab = 100000;
    int fields = 26, k = 4, epochs = 1;
    const char *dir = "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows")) rows = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--vocab")) vocab = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--fields")) fields = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--k")) k = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    char csv[1024];
    snprintf(csv, sizeof csv, "%s/bench_dist_ffm_%lld_%d_%lld.csv", dir, (long long)rows, fields,
             (long long)vocab);
    synth_once(csv, rows, fields, 0, vocab);
    dctr_mpi *mp, *self;
    OK(dctr_mpi_new(MPI_COMM_WORLD, &mp));
    OK(dctr_mpi_new(MPI_COMM_SELF, &self));
    dctr_schema *s;
    OK(dctr_schema_new(&s));
    for (int i = 1; i <= fields; i++) {
        char name[16];
        snprintf(name, sizeof name, "C%d", i);
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, name);
        f.dtype = DCTR_DTYPE_STRING;
        OK(dctr_schema_add_sparse(s, &f));
    }
    OK(dctr_schema_set_label(s, "label"));
    OK(dctr_mpi_schema_fit_csv(mp, s, csv, NULL, DCTR_SHARD_STRIPE));
    int64_t steps;
    dctr_fit_options o = bench_fit_options(epochs, rows, batch, &steps);
    double t_ps = 0, t_one = 0;
    if (g_rank == 0) { /* one process on all rows, the other ranks idle */
        dctr_dataset *all;
        OK(dctr_dataset_read_csv(s, csv, NULL, &all));
        t_ps = timed_fit(s, k, all, &o, NULL);
        t_one = timed_fit(s, k, all, &o, dctr_mpi_collective(self));
        dctr_dataset_free(all);
        printf("bench_dist_ffm: FFM k=%d, %d fields, %lld rows, global batch %lld, %d epoch(s), "
               "%d rank(s)\n", k, fields, (long long)rows, (long long)batch, epochs, g_size);
        printf("single-process, per-sample step    %10.0f samples/s  (%.2f s)\n",
               (double)rows * epochs / t_ps, t_ps);
        printf("single-process, mini-batch step    %10.0f samples/s  (%.2f s)\n",
               (double)rows * epochs / t_one, t_one);
    }
    dctr_dataset *shard;
    OK(dctr_mpi_read_csv(mp, s, csv, NULL, DCTR_SHARD_STRIPE, &shard));
    for (int mode = 0; mode <= 1; mode++) {
        dctr_collective *coll = dctr_mpi_collective(mp);
        coll->table_mode = mode ? DCTR_TABLES_SHARDED : DCTR_TABLES_REPLICATED;
        int64_t before = dctr_mpi_bytes_received(mp);
        MPI_Barrier(MPI_COMM_WORLD);
        double tn = timed_fit(s, k, shard, &o, coll), tmax;
        MPI_Allreduce(&tn, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        double got = (double)(dctr_mpi_bytes_received(mp) - before), gmax;
        MPI_Allreduce(&got, &gmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (g_rank == 0)
            printf("%-10s x%-2d                    %10.0f samples/s  (%.2f s)  ratio %.2f to "
                   "per-sample, %.2f to mini-batch; %.0f bytes received per rank per step\n",
                   mode ? "sharded" : "replicated", g_size, (double)rows * epochs / tmax, tmax,
                   t_ps / tmax, t_one / tmax, gmax / (double)steps);
    }
    dctr_dataset_free(shard);
    dctr_schema_free(s);
    dctr_mpi_free(self);
    dctr_mpi_free(mp);
    MPI_Finalize();
    return 0;
}
