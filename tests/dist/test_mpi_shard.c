/* Sharded tables under mpirun at 1..4 ranks (ctest label "mpi"; equivalence is in
 * test_mpi_train.c), for DeepFM and for FFM / DeepFFM (one feature-row table):
 * - a model created as this rank's shard (dctr_model_new_collective) has the initial values of
 *   dctr_model_new: its streamed file equals the single-process file byte for byte;
 * - the streamed save (dctr_model_save_collective) writes the bytes the former save (every table
 *   gathered to rank 0, then dctr_model_save) writes, optimizer state included;
 * - peak table + optimizer + exchange-buffer memory per rank, from creation through the fit,
 *   its checkpoints and the final save, stays near the rank's 1/N share (the probe in
 *   src/dist/dist_shard.c counts resident pages of the tables);
 * - resume: load_collective of a checkpoint and one more epoch equal 3 uninterrupted epochs,
 *   bit for bit; early stopping with restore-best equals the replicated run;
 * - a shard refuses dctr_model_save and predictions (DCTR_ERR_STATE).
 * Each check runs for DeepFM, FFM and DeepFFM (tables of about the same size). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepctr/deepctr.h"
#include "deepctr/mpi.h"
#include "mpi_check.h"
#include "dist/dist.h"
#include "models/deepfm.h"
#include "models/ffm/dist.h"
#include "test_env.h"

#define ROWS 480
#define BATCH 48
#define BUCKETS (1 << 18) /* two hashed tables of 262144 rows: 56.6 MB with Adam's state */
#define DIM 8
#define FFM_K 4
#define FFM_BUCKETS (1 << 17) /* FFM: 2 x 131072 + 1 feature rows of 3 fields: 27.3 MB with AdaGrad's state */

static int g_rank, g_size;
static char g_dir[512];

/* The model family under test: its config, its whole tables' bytes (weights + optimizer state)
 * and the gather-then-save reference of the streamed save. */
typedef struct kind {
    const char *name;
    dctr_model_type type;
    int64_t buckets; /* of each hashed column in the memory check */
    double (*whole)(int64_t buckets);
    dctr_status (*gather_save)(dctr_model *m, dctr_collective *c, const char *path, int with_opt);
} kind;
static const kind *g_kind;

/* 2 tables x buckets rows x (embedding DIM + linear 1) x (weights + Adam's 2 slots) */
static double deepfm_whole(int64_t buckets) { return 2.0 * (double)buckets * (DIM + 1) * 4 * 3; }
/* (2 tables x buckets + 1 dense) rows x (3 fields x (k weights + k accumulators) + linear pair) */
static double ffm_whole(int64_t buckets) {
    return (2.0 * (double)buckets + 1) * (3 * 2 * FFM_K + 2) * 4;
}


static void path_of(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/shard%d_%s_%s", g_dir, g_size, g_kind ? g_kind->name : "all", name);
}

static void write_data(const char *path) {
    if (g_rank == 0) {
        FILE *f = fopen(path, "w");
        CHECK(f, "open %s", path);
        fprintf(f, "label,u,item,x\n");
        uint64_t s = 12345;
        for (int i = 0; i < ROWS; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            unsigned u = (unsigned)(s >> 33) % 100000u, it = (unsigned)(s >> 17) % 50000u;
            double x = (double)((s >> 40) % 1000) / 100.0;
            fprintf(f, "%d,u%u,i%u,%.2f\n", (u % 3 == 0) ^ (x > 6.0), u, it, x);
        }
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static dctr_schema *make_schema(const char *csv, int64_t buckets) {
    dctr_schema *s;
    OK(dctr_schema_new(&s));
    const char *names[2] = {"u", "item"};
    for (int c = 0; c < 2; c++) {
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, names[c]);
        f.dtype = DCTR_DTYPE_STRING;
        f.use_hash = 1;
        f.vocabulary_size = buckets;
        f.embedding_dim = DIM;
        OK(dctr_schema_add_sparse(s, &f));
    }
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "x");
    OK(dctr_schema_add_dense(s, &d));
    OK(dctr_schema_set_label(s, "label"));
    OK(dctr_schema_fit_csv(s, csv, NULL));
    return s;
}

static void config(dctr_model_config *cfg) {
    dctr_model_config_default(cfg, g_kind->type);
    static const int32_t hidden[] = {16};
    if (g_kind->type != DCTR_MODEL_FFM) {
        cfg->hidden_units = hidden;
        cfg->num_hidden = 1;
    }
    dctr_optimizer_config_default(&cfg->optimizer, DCTR_OPT_ADAM);
    cfg->optimizer.learning_rate = 0.01;
    if (g_kind->type == DCTR_MODEL_FFM) { /* FFM's optimizer is AdaGrad (libffm's) */
        cfg->ffm_k = FFM_K;
        dctr_optimizer_config_default(&cfg->optimizer, DCTR_OPT_ADAGRAD);
        cfg->optimizer.learning_rate = 0.05;
    } else if (g_kind->type == DCTR_MODEL_DEEPFFM) {
        cfg->ffm_k = FFM_K;
    }
}

static void check_same_file(const char *a, const char *b, const char *what) {
    if (g_rank == 0) {
        long n, m;
        unsigned char *x = dctr_test_slurp(a, &n), *y = dctr_test_slurp(b, &m);
        CHECK(n == m && memcmp(x, y, (size_t)n) == 0, "%s: %s (%ld bytes) and %s (%ld) differ", what,
              a, n, b, m);
        free(x);
        free(y);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static void fit_options(dctr_fit_options *o, int epochs, const char *ckpt) {
    dctr_fit_options_default(o);
    o->epochs = epochs;
    o->batch_size = BATCH;
    o->checkpoint_path = ckpt;
}

/* Initial values, the streamed save against the gathered one, and the memory peak. */
static void check_save_and_memory(dctr_collective *coll, const dctr_schema *s, const dctr_dataset *data) {
    dctr_model_config cfg;
    config(&cfg);
    enum { INIT_WHOLE, INIT_SHARD, CKPT, STREAMED, GATHERED, NPATHS };
    static const char *const names[NPATHS] = {"init_whole.dctr", "init_shard.dctr", "ckpt.dctr",
                                              "streamed.dctr", "gathered.dctr"};
    char files[NPATHS][600];
    for (int i = 0; i < NPATHS; i++)
        path_of(files[i], sizeof files[i], names[i]);
    const char *init_whole = files[INIT_WHOLE], *init_shard = files[INIT_SHARD], *ck = files[CKPT],
               *streamed = files[STREAMED], *gathered = files[GATHERED];
    if (g_rank == 0) {
        dctr_model *w;
        OK(dctr_model_new(s, &cfg, &w));
        OK(dctr_model_save(w, init_whole, 0));
        dctr_model_free(w);
    }
    dctr_shard_probe_enable(1);
    dctr_model *m;
    OK(dctr_model_new_collective(s, &cfg, coll, &m));
    OK(dctr_model_save_collective(m, init_shard, 0, coll));
    check_same_file(init_whole, init_shard, "initial model");

    dctr_fit_options o;
    fit_options(&o, 2, ck);
    OK(dctr_model_fit_collective(m, data, &o, coll, NULL));
    OK(dctr_model_save_collective(m, streamed, 1, coll));
    const int64_t peak = dctr_shard_probe_peak();
    dctr_shard_probe_enable(0);
    if (g_size > 1) {
        CHECK(dctr_model_save(m, streamed, 0) == DCTR_ERR_STATE, "a shard must not save alone");
        float p[4];
        CHECK(dctr_model_predict(m, data, p) == DCTR_ERR_STATE, "a shard must not predict");
        dctr_fit_options alone;
        fit_options(&alone, 1, NULL);
        CHECK(dctr_model_fit(m, data, &alone, NULL) == DCTR_ERR_STATE,
              "a shard must not train outside its collective");
        OK(g_kind->gather_save(m, coll, gathered, 1));
        check_same_file(gathered, streamed, "streamed vs gathered save");
    }
    const double whole = g_kind->whole(g_kind->buckets), share = whole / g_size;
    /* beyond the share: per step at most BATCH / N rows x 2 columns fetched, a page each per
     * table array, the pages the range ends share, and the exchange buffers (a save chunk) */
    const double slack = (double)BATCH * 2 * 2 * 4096 + 2 * 2 * 3 * 2 * 4096 + 2.5 * 1048576;
    long long pk[4] = {0}, mine = (long long)peak;
    MPI_Gather(&mine, 1, MPI_LONG_LONG, pk, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    if (g_rank == 0)
        printf("test_mpi_shard: %s, %d ranks, whole tables %.2f MB, peak per rank %.2f %.2f %.2f "
               "%.2f MB (share %.2f MB)\n", g_kind->name, g_size, whole / 1e6, pk[0] / 1e6, pk[1] / 1e6, pk[2] / 1e6,
               pk[3] / 1e6, share / 1e6);
    if (g_size > 1)
        CHECK(peak <= share + slack, "peak table memory %.2f MB > share %.2f MB + %.2f MB",
              peak / 1e6, share / 1e6, slack / 1e6);
    if (g_size == 4)
        CHECK(peak <= 0.3 * whole, "4 ranks: peak %.3f of the whole tables", peak / whole);
    MPI_Barrier(MPI_COMM_WORLD); /* nobody rewrites a file while rank 0 reads it */
    dctr_model_free(m);
}

/* 2 epochs + checkpoint, load_collective, 1 more == 3 epochs (shuffled, sharded), bit for bit. */
static void check_resume(dctr_collective *coll, const dctr_schema *s, const dctr_dataset *data) {
    dctr_model_config cfg;
    config(&cfg);
    char a_path[600], b_path[600], ck[600];
    path_of(a_path, sizeof a_path, "uninterrupted.dctr");
    path_of(b_path, sizeof b_path, "resumed.dctr");
    path_of(ck, sizeof ck, "resume_ckpt.dctr");
    dctr_fit_options o;
    dctr_model *a, *b;
    OK(dctr_model_new_collective(s, &cfg, coll, &a));
    fit_options(&o, 3, NULL);
    OK(dctr_model_fit_collective(a, data, &o, coll, NULL));
    OK(dctr_model_save_collective(a, a_path, 0, coll));
    OK(dctr_model_new_collective(s, &cfg, coll, &b));
    fit_options(&o, 2, ck);
    OK(dctr_model_fit_collective(b, data, &o, coll, NULL));
    dctr_model_free(b);
    OK(dctr_model_load_collective(ck, coll, &b));
    fit_options(&o, 1, NULL);
    OK(dctr_model_fit_collective(b, data, &o, coll, NULL));
    OK(dctr_model_save_collective(b, b_path, 0, coll));
    dctr_model *la, *lb;
    OK(dctr_model_load(a_path, &la));
    OK(dctr_model_load(b_path, &lb));
    float pa[ROWS], pb[ROWS];
    dctr_dataset *all = NULL;
    OK(dctr_dataset_stripe(data, 0, 1, &all));
    OK(dctr_model_predict(la, all, pa));
    OK(dctr_model_predict(lb, all, pb));
    const int64_t n = dctr_dataset_num_rows(all);
    CHECK(memcmp(pa, pb, sizeof(float) * (size_t)n) == 0, "sharded resume differs from the uninterrupted run");
    MPI_Barrier(MPI_COMM_WORLD);
    dctr_dataset_free(all);
    dctr_model_free(la);
    dctr_model_free(lb);
    dctr_model_free(a);
    dctr_model_free(b);
}

/* Early stopping with restore-best (a shard snapshots its own rows and the dense tail only):
 * the sharded model equals the replicated one. */
static void check_restore_best(dctr_collective *coll, const dctr_schema *s, const dctr_dataset *data) {
    dctr_model_config cfg;
    config(&cfg);
    cfg.optimizer.learning_rate = g_kind->type == DCTR_MODEL_DEEPFM ? 0.2 : 0.5; /* overfits: the best epoch is early */
    char paths[2][600];
    path_of(paths[0], sizeof paths[0], "best_replicated.dctr");
    path_of(paths[1], sizeof paths[1], "best_sharded.dctr");
    int best[2];
    for (int sharded = 0; sharded <= 1; sharded++) {
        coll->table_mode = sharded ? DCTR_TABLES_SHARDED : DCTR_TABLES_REPLICATED;
        dctr_model *m;
        OK(dctr_model_new_collective(s, &cfg, coll, &m));
        dctr_fit_options o;
        fit_options(&o, 6, NULL);
        o.validation_split = 0.25;
        o.patience = 2;
        o.restore_best = 1;
        dctr_history h;
        OK(dctr_model_fit_collective(m, data, &o, coll, &h));
        best[sharded] = h.best_epoch;
        dctr_history_free(&h);
        OK(dctr_model_save_collective(m, paths[sharded], 0, coll));
        dctr_model_free(m);
    }
    coll->table_mode = DCTR_TABLES_SHARDED;
    CHECK(best[0] == best[1], "best epoch %d replicated, %d sharded", best[0], best[1]);
    if (g_rank == 0)
        printf("test_mpi_shard: %s: restore-best kept epoch %d\n", g_kind->name, best[1]);
    dctr_model *a, *b;
    OK(dctr_model_load(paths[0], &a));
    OK(dctr_model_load(paths[1], &b));
    float pa[ROWS], pb[ROWS];
    OK(dctr_model_predict(a, data, pa));
    OK(dctr_model_predict(b, data, pb));
    double diff = 0;
    for (int64_t i = 0; i < dctr_dataset_num_rows(data); i++)
        diff = fmax(diff, fabs((double)pa[i] - pb[i]));
    CHECK(diff <= 1e-6, "restore-best: sharded differs from replicated by %g", diff);
    MPI_Barrier(MPI_COMM_WORLD);
    dctr_model_free(a);
    dctr_model_free(b);
}

/* A libffm-native FFM (no columns) is never taken as a shard: a collective fit refuses it
 * before touching it, and it still predicts afterwards. */
static void check_native_refused(dctr_collective *coll) {
    static const char text[] = "1 0:0:1 1:3:1\n0 0:1:1 1:2:1\n1 0:0:1 1:2:1\n";
    dctr_ffm_data *fd;
    OK(dctr_ffm_data_from_text(text, sizeof text - 1, "native", NULL, &fd));
    dctr_ffm_options fo;
    dctr_ffm_options_default(&fo);
    fo.epochs = 1;
    dctr_model *m;
    OK(dctr_ffm_train(fd, NULL, &fo, NULL, NULL, &m));
    dctr_dataset *ds;
    OK(dctr_ffm_data_to_dataset(m, fd, &ds));
    dctr_fit_options o;
    fit_options(&o, 1, NULL);
    o.batch_size = 4;
    CHECK(dctr_model_fit_collective(m, ds, &o, coll, NULL) == DCTR_ERR_UNSUPPORTED,
          "a libffm-native FFM must not train under a collective");
    float p[3];
    OK(dctr_model_predict(m, ds, p));
    dctr_dataset_free(ds);
    dctr_model_free(m);
    dctr_ffm_data_free(fd);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    snprintf(g_dir, sizeof g_dir, "%s", argc > 1 ? argv[1] : "/tmp");
    char csv[600];
    path_of(csv, sizeof csv, "data.csv");
    write_data(csv);
    dctr_mpi *mp;
    OK(dctr_mpi_new(MPI_COMM_WORLD, &mp));
    dctr_collective *coll = dctr_mpi_collective(mp);
    coll->table_mode = DCTR_TABLES_SHARDED;
    /* hashed columns: no encoder pass to merge; small tables for the resume */
    dctr_schema *small = make_schema(csv, 4096);
    dctr_dataset *data_small;
    OK(dctr_mpi_read_csv(mp, small, csv, NULL, DCTR_SHARD_STRIPE, &data_small));
    check_native_refused(coll);
    static const kind kinds[] = {
        {"deepfm", DCTR_MODEL_DEEPFM, BUCKETS, deepfm_whole, dctr_deepfm_shard_gather_save},
        {"ffm", DCTR_MODEL_FFM, FFM_BUCKETS, ffm_whole, dctr_ffm_shard_gather_save},
        {"deepffm", DCTR_MODEL_DEEPFFM, FFM_BUCKETS, ffm_whole, dctr_ffm_shard_gather_save},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        g_kind = &kinds[i];
        dctr_schema *s = make_schema(csv, g_kind->buckets);
        dctr_dataset *data;
        OK(dctr_mpi_read_csv(mp, s, csv, NULL, DCTR_SHARD_STRIPE, &data));
        check_save_and_memory(coll, s, data);
        check_resume(coll, small, data_small);
        check_restore_best(coll, small, data_small);
        dctr_dataset_free(data);
        dctr_schema_free(s);
    }
    dctr_dataset_free(data_small);
    dctr_schema_free(small);
    dctr_mpi_free(mp);
    if (g_rank == 0)
        printf("test_mpi_shard: %d ranks OK\n", g_size);
    MPI_Finalize();
    return 0;
}
