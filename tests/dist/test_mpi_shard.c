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
 * - a shard refuses dctr_model_save and predictions (DCTR_ERR_STATE);
 * - load_collective streams the tables from a file-backed container: every rank's rows and the
 *   dense tail equal the whole-file shard load's bit for bit, its peak stays near the share and
 *   well below the file, a flipped table byte and a truncated file fail on every rank with
 *   DCTR_ERR_FORMAT (the section named), no hang.
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
#include "feature/schema_types.h"
#include "models/deepfm_impl.h"
#include "models/ffm/dist.h"
#include "models/ffm/ffm.h"
#include "models/model_internal.h"
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

/* Rows [lo, hi) of w floats each at a and b are equal (a shard's own rows). */
static int same_rows(const float *a, const float *b, int64_t lo, int64_t hi, int64_t w) {
    return hi <= lo || memcmp(a + lo * w, b + lo * w, sizeof(float) * (size_t)((hi - lo) * w)) == 0;
}

/* This rank's rows of every table array and the dense tail: the streamed load against the
 * whole-file one (dctr_model_load_shard), bit for bit. */
static void check_same_shard(const dctr_model *x, const dctr_model *y) {
    int64_t lo, hi;
    if (g_kind->type != DCTR_MODEL_DEEPFM) {
        const dctr_ffm_weights *a = &((const dctr_ffm_impl *)x->impl)->w, *b = &((const dctr_ffm_impl *)y->impl)->w;
        dctr_shard_range(a->n, g_rank, g_size, &lo, &hi);
        CHECK(a->n == b->n && same_rows(a->W, b->W, lo, hi, (int64_t)a->row), "FFM rows differ");
        CHECK(!a->use_linear || (same_rows(a->lin, b->lin, lo, hi, 2) && a->bias == b->bias &&
                                 a->bias_g == b->bias_g), "FFM linear part differs");
        return;
    }
    const dfm *a = x->impl, *b = y->impl;
    const float *arrays[2][1 + DCTR_OPTIM_MAX_SLOTS] = {{a->params, a->slots[0], a->slots[1]},
                                                         {b->params, b->slots[0], b->slots[1]}};
    for (int k = 0; k < 1 + DCTR_OPTIM_MAX_SLOTS && arrays[0][k]; k++) {
        for (int32_t t = 0; t < a->ntables; t++) {
            const dctr_table_info *tb = &x->schema->tables[t];
            dctr_shard_range(tb->vocab_size, g_rank, g_size, &lo, &hi);
            if (a->emb_off[t] >= 0)
                CHECK(same_rows(arrays[0][k] + a->emb_off[t], arrays[1][k] + a->emb_off[t], lo, hi, tb->dim),
                      "array %d table %d: embedding rows differ", k, t);
            if (a->lin_off[t] >= 0)
                CHECK(same_rows(arrays[0][k] + a->lin_off[t], arrays[1][k] + a->lin_off[t], lo, hi, 1),
                      "array %d table %d: linear rows differ", k, t);
        }
        CHECK(same_rows(arrays[0][k], arrays[1][k], a->dense_begin, a->nparams, 1), "array %d: dense tail differs", k);
    }
    CHECK(memcmp(a->state, b->state, sizeof(float) * (size_t)a->nstate) == 0, "BN state differs");
    CHECK(x->steps == y->steps, "step counts differ");
}

/* A collective load of `path` must fail on every rank with DCTR_ERR_FORMAT naming `expect` (and
 * `also`, when given). */
static void check_load_fails(dctr_collective *coll, const char *path, const char *expect, const char *also) {
    dctr_model *m = (dctr_model *)1;
    CHECK(dctr_model_load_collective(path, coll, &m) == DCTR_ERR_FORMAT, "%s: status", path);
    CHECK(strstr(dctr_last_error(), expect), "%s: '%s' not in '%s'", path, expect, dctr_last_error());
    CHECK(!also || strstr(dctr_last_error(), also), "%s: '%s' not in '%s'", path, also, dctr_last_error());
}

/* The streamed load (file-backed container) of the saved model `path` with its optimizer state. */
static void check_streamed_load(dctr_collective *coll, const char *path) {
    dctr_shard_probe_enable(1);
    dctr_model *m, *old;
    OK(dctr_model_load_collective(path, coll, &m));
    const int64_t peak = dctr_shard_probe_peak();
    dctr_shard_probe_enable(0);
    OK(dctr_model_load_shard(path, g_rank, g_size, &old)); /* the whole-file load */
    check_same_shard(m, old);
    dctr_model_free(old);
    dctr_model_free(m);
    long fsize = 0;
    free(dctr_test_slurp(path, &fsize));
    const double whole = g_kind->whole(g_kind->buckets), share = whole / g_size;
    /* beyond the share: the 1 MiB chunk, the small sections, the pages the range ends share */
    const double slack = 1.5 * 1048576 + 2 * 2 * 3 * 2 * 4096;
    long long pk[4] = {0}, mine = (long long)peak;
    MPI_Gather(&mine, 1, MPI_LONG_LONG, pk, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    if (g_rank == 0)
        printf("test_mpi_shard: %s, %d ranks, load of a %.2f MB file: peak per rank %.2f %.2f %.2f "
               "%.2f MB (share %.2f MB; the whole-file load holds the file)\n", g_kind->name, g_size,
               fsize / 1e6, pk[0] / 1e6, pk[1] / 1e6, pk[2] / 1e6, pk[3] / 1e6, share / 1e6);
    CHECK(peak > 0 && peak <= share + slack, "load peak %.2f MB > share %.2f MB + %.2f MB", peak / 1e6,
          share / 1e6, slack / 1e6);
    if (g_size == 4)
        CHECK(peak <= 0.3 * fsize, "4 ranks: load peak %.3f of the file", (double)peak / fsize);
    /* a flipped byte in the middle of the file (a table section) and a truncated file */
    char bad[600], cut[600];
    path_of(bad, sizeof bad, "flipped.dctr");
    path_of(cut, sizeof cut, "truncated.dctr");
    if (g_rank == 0) {
        long n;
        unsigned char *x = dctr_test_slurp(path, &n);
        FILE *f = fopen(cut, "wb");
        CHECK(f && fwrite(x, 1, (size_t)n / 2, f) == (size_t)n / 2 && fclose(f) == 0, "write %s", cut);
        x[n / 2] ^= 0x10;
        f = fopen(bad, "wb");
        CHECK(f && fwrite(x, 1, (size_t)n, f) == (size_t)n && fclose(f) == 0, "write %s", bad);
        free(x);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    check_load_fails(coll, bad, "checksum mismatch",
                     g_kind->type == DCTR_MODEL_DEEPFM ? "section 'deepfm/" : "section 'ffm.");
    check_load_fails(coll, cut, "truncated", NULL);
    MPI_Barrier(MPI_COMM_WORLD);
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
        check_streamed_load(coll, streamed);
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
