/* Distributed training benchmark (issue 13), run under mpirun:
 *   mpirun --oversubscribe -np N bench_dist [--rows R] [--batch B] [--epochs E] [--dir D]
 *                                          [--vocab V (largest vocabulary, default 100000)]
 *                                          [--hash B (every sparse column hashed into B buckets:
 *                                           large tables from few rows, for the memory figures)]
 *                                          [--model deepfm|ffm|deepffm (default deepfm; FFM: k 4,
 *                                           one feature-row table of 39 fields, AdaGrad)]
 * In one run: rank 0 trains single-process on all rows (the others wait), then all N ranks train
 * the same DeepFM (Criteo-shaped synthetic data, 26 sparse columns of dim 8, 13 dense, DNN
 * 256-128) data-parallel on striped shards with the same global batch, with replicated then with
 * sharded tables. Prints samples/s and the ratio to single-process, bytes received per rank per
 * step (measured), the largest rank's peak table memory against the single-process tables
 * (replicated: resident at epoch ends; sharded: the probe of src/dist/dist_shard.c, resident
 * table + optimizer pages plus exchange buffers from the model's creation through every step
 * to the streamed save of the model file), each rank's VmHWM (reset between runs), and a
 * projection for 8..64 nodes at 10 / 25 / 100 Gb/s from the measured per-step compute and the
 * byte formula of docs/distributed.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "deepctr/deepctr.h"
#include "deepctr/mpi.h"
#include "dist/dist.h"
#include "models/deepfm_impl.h"
#include "models/ffm/ffm.h"

#define NSPARSE 26
#define NDENSE 13
#define K 8

#define BENCH_NAME "bench_dist"
#include "bench_mpi_common.h"

static int64_t g_hash; /* --hash B: every sparse column hashed into B buckets (0: fitted) */
static dctr_model_type g_type = DCTR_MODEL_DEEPFM; /* --model */
#define FFM_K 4

static int is_ffm(void) { return g_type == DCTR_MODEL_FFM || g_type == DCTR_MODEL_DEEPFFM; }

static dctr_schema *make_schema(void) {
    dctr_schema *s;
    OK(dctr_schema_new(&s));
    char name[16];
    for (int i = 1; i <= NDENSE; i++) {
        dctr_dense_feat d;
        snprintf(name, sizeof name, "I%d", i);
        dctr_dense_feat_default(&d, name);
        d.transform = DCTR_TRANSFORM_LOG1P;
        OK(dctr_schema_add_dense(s, &d));
    }
    for (int i = 1; i <= NSPARSE; i++) {
        dctr_sparse_feat f;
        snprintf(name, sizeof name, "C%d", i);
        dctr_sparse_feat_default(&f, name);
        f.dtype = DCTR_DTYPE_STRING;
        f.embedding_dim = K;
        f.use_hash = g_hash > 0;
        f.vocabulary_size = g_hash;
        OK(dctr_schema_add_sparse(s, &f));
    }
    OK(dctr_schema_set_label(s, "label"));
    return s;
}

/* coll NULL: dctr_model_new; else dctr_model_new_collective (sharded: this rank's rows only). */
static dctr_model *make_model(const dctr_schema *s, dctr_collective *coll) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, g_type);
    static const int32_t hidden[] = {256, 128};
    if (g_type != DCTR_MODEL_FFM) {
        cfg.hidden_units = hidden;
        cfg.num_hidden = 2;
    }
    cfg.ffm_k = FFM_K;
    dctr_optimizer_config_default(&cfg.optimizer, DCTR_OPT_ADAGRAD);
    cfg.optimizer.learning_rate = 0.02;
    dctr_model *m;
    if (coll)
        OK(dctr_model_new_collective(s, &cfg, coll, &m));
    else
        OK(dctr_model_new(s, &cfg, &m));
    return m;
}

/* Bytes of every table and its optimizer state (Adagrad: one slot) in one process. FFM: one
 * feature row per vocabulary id and dense column, of 39 fields x (k weights + k accumulators)
 * and the linear pair. */
static double whole_table_bytes(const dctr_schema *s) {
    double b = 0, rows = NDENSE;
    for (int i = 1; i <= NSPARSE; i++) {
        char name[16];
        snprintf(name, sizeof name, "C%d", i);
        b += (double)dctr_schema_vocabulary_size(s, name) * (K + 1) * 4 * 2;
        rows += (double)dctr_schema_vocabulary_size(s, name);
    }
    return is_ffm() ? rows * ((NSPARSE + NDENSE) * 2 * FFM_K + 2) * 4 : b;
}

/* The process's peak resident memory (VmHWM), and its reset (clear_refs 5) between runs. */
static double vm_hwm(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = NAN;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static void reset_hwm(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

/* Floats of the dense tail (everything but the tables) = parameters - table rows * dim. */
static int64_t dense_floats(const dctr_model *m, const dctr_schema *s) {
    int64_t tables = 0;
    for (int i = 1; i <= NSPARSE; i++) {
        char name[16];
        snprintf(name, sizeof name, "C%d", i);
        tables += dctr_schema_vocabulary_size(s, name) * (K + 1); /* embedding + linear row */
    }
    return dctr_model_num_parameters(m) - tables;
}

/* Resident bytes of [p, p + bytes) (mincore over its pages). */
static double resident(const void *p, size_t bytes) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p / page * page, z = ((uintptr_t)p + bytes + page - 1) / page * page;
    size_t pages = (z - a) / page;
    unsigned char *v = malloc(pages + 1);
    if (!v || mincore((void *)a, z - a, v) != 0) {
        free(v);
        return NAN;
    }
    size_t in = 0;
    for (size_t i = 0; i < pages; i++)
        in += v[i] & 1;
    free(v);
    return (double)in * (double)page;
}

/* Resident bytes of the model's tables: the front of the parameter arena (deepfm.h: tables
 * first) and the same range of every optimizer slot array. */
static double table_resident(const dctr_model *m) {
    if (is_ffm()) {
        const dctr_ffm_weights *w = &((const dctr_ffm_impl *)m->impl)->w;
        return resident(w->W, sizeof(float) * (size_t)w->n * w->row) +
               (w->use_linear ? resident(w->lin, sizeof(float) * 2 * (size_t)w->n) : 0);
    }
    const dfm *d = m->impl;
    size_t bytes = sizeof(float) * (size_t)d->dense_begin;
    double r = resident(d->params, bytes);
    for (int k = 0; k < DCTR_OPTIM_MAX_SLOTS; k++)
        if (d->slots[k])
            r += resident(d->slots[k], bytes);
    return r;
}

/* Epoch-end progress callback: the most table memory resident during the fit. */
static int sample_memory(const dctr_progress *p, void *user) {
    double **state = user; /* {&peak, (double *)model} */
    if (p->phase == 1) {
        double r = table_resident((const dctr_model *)(void *)state[1]);
        if (r > *state[0])
            *state[0] = r;
    }
    return 0;
}

static void project(double step_compute, int64_t batch, int64_t dense, double rows_bytes_1) {
    /* per rank and step: the dense gradients' reduce-scatter ((N-1)/N of them) and (N-1) blocks
     * of [the summed dense slice (1/N) + that rank's share of touched rows]; rows without
     * deduplication (an upper bound): batch/N rows x 26 fields x 2 tables (ids of 8 bytes,
     * gradient rows of k and 1 floats) */
    static const int nodes[] = {8, 16, 32, 64};
    static const double gbps[] = {10, 25, 100};
    printf("\nprojection (replicated tables; dense reduce-scatter + allgather, rows allgather; "
           "compute = measured single-process step / N; rows bound %.0f B per row):\n",
           rows_bytes_1);
    printf("%6s %14s", "nodes", "MB/rank/step");
    for (int g = 0; g < 3; g++)
        printf("   %3.0f Gb/s samples/s", gbps[g]);
    printf("\n");
    for (int i = 0; i < 4; i++) {
        int n = nodes[i];
        double share = (double)batch / n * rows_bytes_1;
        double bytes = 2.0 * (n - 1) / n * 4.0 * (double)dense + (n - 1) * (8 + share);
        printf("%6d %14.2f", n, bytes / 1e6);
        for (int g = 0; g < 3; g++) {
            double t = step_compute / n + bytes * 8 / (gbps[g] * 1e9) + 13 * 20e-6 * log2(n);
            printf("   %20.0f", (double)batch / t);
        }
        printf("\n");
    }
}

/* The sharded resume: dctr_model_load_collective of the saved file (the tables stream from a
 * file-backed container): the probe's peak (the rows filled + the file's bytes held at once),
 * VmHWM (the fitted model freed first) and the time. Returns the loaded model. */
static dctr_model *bench_resume(dctr_model *m, const char *path, dctr_collective *coll) {
    dctr_model_free(m);
    reset_hwm();
    dctr_shard_probe_enable(1);
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    OK(dctr_model_load_collective(path, coll, &m));
    t = MPI_Wtime() - t;
    double peak = (double)dctr_shard_probe_peak(), hwm = vm_hwm(), pmax, hmax, tmax;
    dctr_shard_probe_enable(0);
    MPI_Allreduce(&peak, &pmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(&hwm, &hmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    struct stat st;
    double fsize = stat(path, &st) == 0 ? (double)st.st_size : 0;
    if (g_rank == 0)
        printf("  resume (load_collective, streamed): peak table memory per rank %.2f MB = %.3f x "
               "the file (%.2f MB); process peak RSS (VmHWM, largest rank) %.1f MB; load %.2f s\n",
               pmax / 1e6, pmax / fsize, fsize / 1e6, hmax / 1e6, tmax);
    return m;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    int64_t rows = 40000, batch = 1024, vocab = 100000;
    int epochs = 1;
    const char *dir = "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows")) rows = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--vocab")) vocab = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--hash")) g_hash = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--model"))
            g_type = !strcmp(argv[i + 1], "ffm")       ? DCTR_MODEL_FFM
                     : !strcmp(argv[i + 1], "deepffm") ? DCTR_MODEL_DEEPFFM
                                                       : DCTR_MODEL_DEEPFM;
    }
    char csv[1024];
    snprintf(csv, sizeof csv, "%s/bench_dist_%lld_%lld.csv", dir, (long long)rows, (long long)vocab);
    synth_once(csv, rows, -1, -1, vocab);
    dctr_mpi *mp;
    OK(dctr_mpi_new(MPI_COMM_WORLD, &mp));
    dctr_schema *s = make_schema();
    OK(dctr_mpi_schema_fit_csv(mp, s, csv, NULL, DCTR_SHARD_STRIPE));
    int64_t steps;
    dctr_fit_options o = bench_fit_options(epochs, rows, batch, &steps);

    double t1 = 0;
    int64_t single_bytes = 0;
    if (g_rank == 0) { /* single process on all rows, the other ranks idle */
        dctr_dataset *all;
        OK(dctr_dataset_read_csv(s, csv, NULL, &all));
        dctr_model *m = make_model(s, NULL);
        double t0 = MPI_Wtime();
        OK(dctr_model_fit(m, all, &o, NULL));
        t1 = MPI_Wtime() - t0;
        single_bytes = dctr_model_parameter_bytes(m) + dctr_model_optimizer_bytes(m);
        printf("single-process peak RSS (VmHWM, rank 0, fit): %.1f MB\n", vm_hwm() / 1e6);
        dctr_model_free(m);
        dctr_dataset_free(all);
    }
    MPI_Bcast(&t1, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);

    dctr_dataset *shard;
    OK(dctr_mpi_read_csv(mp, s, csv, NULL, DCTR_SHARD_STRIPE, &shard));
    const double single_tables = whole_table_bytes(s);
    char model_path[1100];
    snprintf(model_path, sizeof model_path, "%s/bench_dist_model.dctr", dir);
    MPI_Bcast(&single_bytes, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    dctr_model *m = NULL;
    for (int mode = 0; mode <= 1; mode++) {
        dctr_collective *coll = dctr_mpi_collective(mp);
        coll->table_mode = mode ? DCTR_TABLES_SHARDED : DCTR_TABLES_REPLICATED;
        dctr_model_free(m);
        m = NULL;
        reset_hwm();
        dctr_shard_probe_enable(mode); /* sharded: the peak from creation through the save */
        m = make_model(s, mode ? coll : NULL);
        double peak = 0;
        double *state[2] = {&peak, (double *)(void *)m};
        o.progress = sample_memory;
        o.progress_user = state;
        int64_t before = dctr_mpi_bytes_received(mp);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        OK(dctr_model_fit_collective(m, shard, &o, coll, NULL));
        double tn = MPI_Wtime() - t0, tmax, pmax, hmax, smax;
        double got = (double)(dctr_mpi_bytes_received(mp) - before), gmax; /* the fit's steps */
        double ts = MPI_Wtime(); /* the model file (sharded: streamed from the owners) */
        OK(dctr_model_save_collective(m, model_path, 1, coll));
        ts = MPI_Wtime() - ts;
        if (mode) /* creation, every step (owned + fetched rows), the streamed save */
            peak = (double)dctr_shard_probe_peak();
        dctr_shard_probe_enable(0);
        double hwm = vm_hwm();
        MPI_Allreduce(&hwm, &hmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&ts, &smax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&tn, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&peak, &pmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&got, &gmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (g_rank == 0) {
            double s1 = (double)rows * epochs / t1, sn = (double)rows * epochs / tmax;
            if (mode == 0) {
                printf("bench_dist: %s, %lld rows, global batch %lld, %d epoch(s), %d rank(s)\n",
                       g_type == DCTR_MODEL_FFM ? "FFM" : g_type == DCTR_MODEL_DEEPFFM ? "DeepFFM" : "DeepFM",
                       (long long)rows, (long long)batch, epochs, g_size);
                printf("single-process          %10.0f samples/s  (%.2f s)\n", s1, t1);
            }
            printf("%-10s x%-2d          %10.0f samples/s  (%.2f s)  ratio %.2f\n",
                   mode ? "sharded" : "replicated", g_size, sn, tmax, sn / s1);
            printf("  bytes received per rank per step: %.0f\n", gmax / (double)steps);
            printf("  peak table memory per rank (tables + optimizer state%s, largest rank, %s): "
                   "%.2f MB = %.3f x single-process tables (%.2f MB)\n",
                   mode ? " + exchange buffers" : "",
                   mode ? "creation to saved file" : "resident at epoch ends", pmax / 1e6,
                   pmax / single_tables, single_tables / 1e6);
            printf("  process peak RSS (VmHWM, largest rank, fit + save): %.1f MB; save %.2f s\n",
                   hmax / 1e6, smax);
        }
        if (mode)
            m = bench_resume(m, model_path, coll);
    }
    int64_t dense = is_ffm() ? 0 : dense_floats(m, s);
    if (g_rank == 0 && !is_ffm()) { /* the projection is DeepFM's byte formula */
        printf("dense tail %lld floats = %lld B per peer; parameters + optimizer state of one "
               "process %.1f MB\n", (long long)dense, (long long)(4 * dense), single_bytes / 1e6);
        project(t1 / (double)steps, batch, dense, (double)NSPARSE * (16 + 4 * (K + 1)));
    }
    dctr_model_free(m);
    dctr_dataset_free(shard);
    dctr_schema_free(s);
    dctr_mpi_free(mp);
    MPI_Finalize();
    return 0;
}
