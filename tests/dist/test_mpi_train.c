/* Distributed training equivalence, run under mpirun at 1..4 ranks (ctest label "mpi"):
 * encoders fitted from per-rank files equal the single-process fit of their union; DeepFM (with
 * and without batch norm), FM and LR trained on striped shards with the same global batch
 * predict within 1e-5 of single-process training, FFM and DeepFFM within 1e-5 of their
 * synchronous mini-batch step on one process; validation metrics are exact over all ranks;
 * rank 0's checkpoint loads in the single-process library; a resumed run equals an
 * uninterrupted one. Sharded tables: test_mpi_shard.c. Every rank trains the single-process reference itself (small data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepctr/deepctr.h"
#include "deepctr/mpi.h"
#include "mpi_check.h"
#include "feature/schema_internal.h"
#include "feature/vocab.h"

#define ROWS 240
#define BATCH 12 /* divisible by 1, 2, 3 and 4 ranks: the same global batches */

static int g_rank, g_size;
static char g_dir[512];


static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* One row of the synthetic set (the same for every rank): label, C1 (string), C2 (int),
 * C3 (string, rare values), I1, I2, tags (varlen, 0-3 values), w (sample weight). */
static void write_row(FILE *f, int i) {
    uint64_t s = (uint64_t)i * 7919u + 17u;
    for (int k = 0; k < 3; k++)
        lcg(&s);
    int c1 = (int)(lcg(&s) % 23), c2 = (int)(lcg(&s) % 40), c3 = (int)(lcg(&s) % 60);
    double i1 = (double)(lcg(&s) % 1000) / 37.0, i2 = (double)(lcg(&s) % 500) - 200.0;
    double z = 0.3 * (c1 % 5) - 0.6 + 0.02 * (c2 % 7) + 0.05 * i1 - 0.002 * i2;
    int y = (double)(lcg(&s) % 1000) / 1000.0 < 1.0 / (1.0 + exp(-z));
    int ntags = (int)(lcg(&s) % 4);
    char tags[64] = "";
    for (int t = 0; t < ntags; t++)
        snprintf(tags + strlen(tags), sizeof tags - strlen(tags), "%st%d", t ? "|" : "",
                 (int)(lcg(&s) % 9));
    fprintf(f, "%d,v%d,%d,r%d,%.4f,%.1f,%s,%.2f\n", y, c1, c2, c3, i1, i2, tags,
            0.5 + (double)(lcg(&s) % 100) / 100.0);
}

static void path_of(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/mpi%d_%s", g_dir, g_size, name);
}

static void write_data(void) {
    char p[600];
    char part[32];
    snprintf(part, sizeof part, "part%d.csv", g_rank);
    path_of(p, sizeof p, part);
    FILE *f = fopen(p, "w");
    CHECK(f, "open %s", p);
    fprintf(f, "label,C1,C2,C3,I1,I2,tags,w\n");
    for (int i = g_rank; i < ROWS; i += g_size) /* rank r's file: rows r, r + N, ... */
        write_row(f, i);
    fclose(f);
    if (g_rank == 0) {
        path_of(p, sizeof p, "full.csv");
        f = fopen(p, "w");
        CHECK(f, "open %s", p);
        fprintf(f, "label,C1,C2,C3,I1,I2,tags,w\n");
        for (int i = 0; i < ROWS; i++)
            write_row(f, i);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static dctr_schema *make_schema(void) {
    dctr_schema *s;
    OK(dctr_schema_new(&s));
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "C1");
    f.dtype = DCTR_DTYPE_STRING;
    OK(dctr_schema_add_sparse(s, &f));
    dctr_sparse_feat_default(&f, "C2");
    OK(dctr_schema_add_sparse(s, &f));
    dctr_sparse_feat_default(&f, "C3");
    f.dtype = DCTR_DTYPE_STRING;
    f.min_count = 4; /* applies to the counts summed over ranks */
    OK(dctr_schema_add_sparse(s, &f));
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "I1");
    d.transform = DCTR_TRANSFORM_STANDARDIZE;
    OK(dctr_schema_add_dense(s, &d));
    dctr_dense_feat_default(&d, "I2");
    d.transform = DCTR_TRANSFORM_MINMAX;
    OK(dctr_schema_add_dense(s, &d));
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "tags", 3);
    v.sparse.dtype = DCTR_DTYPE_STRING;
    OK(dctr_schema_add_varlen(s, &v));
    OK(dctr_schema_set_label(s, "label"));
    OK(dctr_schema_set_weight_column(s, "w"));
    return s;
}

static void check_same_schema(const dctr_schema *a, const dctr_schema *b) {
    CHECK(a->ncols == b->ncols, "column count");
    for (int32_t i = 0; i < a->ncols; i++) {
        const dctr_column *x = &a->cols[i], *y = &b->cols[i];
        CHECK(x->vocab_size == y->vocab_size, "%s: vocabulary %lld vs %lld", x->name,
              (long long)x->vocab_size, (long long)y->vocab_size);
        CHECK(fabs(x->stat_a - y->stat_a) <= 1e-9 * (1 + fabs(x->stat_a)) &&
                  fabs(x->stat_b - y->stat_b) <= 1e-9 * (1 + fabs(x->stat_b)),
              "%s: statistics (%g, %g) vs (%g, %g)", x->name, x->stat_a, x->stat_b, y->stat_a,
              y->stat_b);
    }
    /* ids: every key maps to the same id (the fingerprints differ only when a statistic's last
     * bits do: its sums were added in another order) */
    for (int32_t i = 0; i < a->ncols; i++) {
        const dctr_vocab *va = a->cols[i].vocab, *vb = b->cols[i].vocab;
        CHECK(!va == !vb, "%s: vocabulary on one side only", a->cols[i].name);
        if (!va)
            continue;
        CHECK(va->n == vb->n, "%s: %lld vs %lld keys", a->cols[i].name, (long long)va->n,
              (long long)vb->n);
        for (const dctr_vocab_slot *sl = NULL; (sl = dctr_vocab_next(va, sl)) != NULL;) {
            const dctr_vocab_slot *o = dctr_vocab_find(vb, dctr_vocab_key(va, sl), sl->len, sl->hash);
            CHECK(o && o->value == sl->value, "%s: a key's id differs", a->cols[i].name);
        }
    }
}

typedef struct model_case {
    const char *name;
    dctr_model_type type;
    int bn;
    dctr_optimizer_kind opt;
} model_case;

/* coll: sharded tables from the start (dctr_model_new_collective), NULL: dctr_model_new. */
static dctr_model *new_model_on(const dctr_schema *s, const model_case *mc, dctr_collective *coll) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, mc->type);
    static const int32_t hidden[] = {16, 8};
    cfg.hidden_units = hidden;
    cfg.num_hidden = 2;
    cfg.use_bn = mc->bn;
    dctr_optimizer_config_default(&cfg.optimizer, mc->opt);
    cfg.optimizer.learning_rate = 0.01;
    dctr_model *m;
    if (coll)
        OK(dctr_model_new_collective(s, &cfg, coll, &m));
    else
        OK(dctr_model_new(s, &cfg, &m));
    return m;
}

static dctr_model *new_model(const dctr_schema *s, const model_case *mc) {
    return new_model_on(s, mc, NULL);
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* Single-process reference and distributed run of one model; returns the distributed model. */
static void check_model(dctr_mpi *mp, const dctr_schema *s1, const dctr_dataset *full1,
                        const dctr_schema *sd, const dctr_dataset *fulld, const dctr_dataset *shard,
                        const model_case *mc, int sharded) {
    dctr_collective *coll = dctr_mpi_collective(mp);
    coll->table_mode = sharded ? DCTR_TABLES_SHARDED : DCTR_TABLES_REPLICATED;
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 3;
    o.batch_size = BATCH;
    o.shuffle = 0;
    dctr_model *ref = new_model(s1, mc);
    dctr_history h1, hd;
    o.validation = full1;
    if (mc->type == DCTR_MODEL_FFM || mc->type == DCTR_MODEL_DEEPFFM) {
        /* FFM's distributed form is its synchronous mini-batch step (libffm's per-sample step
         * is sequential): the reference is that step on one process, a one-rank collective */
        dctr_mpi *self;
        OK(dctr_mpi_new(MPI_COMM_SELF, &self));
        dctr_mpi_collective(self)->table_mode = coll->table_mode;
        OK(dctr_model_fit_collective(ref, full1, &o, dctr_mpi_collective(self), &h1));
        dctr_mpi_free(self);
    } else {
        OK(dctr_model_fit(ref, full1, &o, &h1));
    }
    float p1[ROWS], pd[ROWS], pl[ROWS];
    OK(dctr_model_predict(ref, full1, p1));

    dctr_model *m = new_model_on(sd, mc, sharded ? coll : NULL);
    char ck[600];
    path_of(ck, sizeof ck, "ckpt.dctr");
    o.validation = shard; /* each rank validates its own rows; the metrics are global */
    o.checkpoint_path = ck;
    OK(dctr_model_fit_collective(m, shard, &o, coll, &hd));
    coll->table_mode = DCTR_TABLES_REPLICATED;
    if (sharded && g_size > 1) { /* each rank holds its rows: the whole model is the file */
        char fin[600];
        path_of(fin, sizeof fin, "final.dctr");
        CHECK(dctr_model_predict(m, fulld, pd) == DCTR_ERR_STATE, "a shard must not predict");
        OK(dctr_model_save_collective(m, fin, 1, coll));
        dctr_model *w;
        OK(dctr_model_load(fin, &w));
        OK(dctr_model_predict(w, fulld, pd));
        dctr_model_free(w);
        MPI_Barrier(MPI_COMM_WORLD);
    } else {
        OK(dctr_model_predict(m, fulld, pd));
    }
    double d = max_diff(p1, pd, ROWS);
    CHECK(d <= 1e-5, "%s%s: distributed predictions differ from single-process by %g", mc->name,
          sharded ? " (sharded)" : "", d);
    for (int k = 0; k < 3; k++) {
        double a = h1.valid[(size_t)k * DCTR_METRIC_COUNT + DCTR_METRIC_AUC],
               b = hd.valid[(size_t)k * DCTR_METRIC_COUNT + DCTR_METRIC_AUC];
        CHECK(fabs(a - b) <= 1e-4, "%s epoch %d: validation AUC %.9f vs %.9f", mc->name, k + 1, a, b);
        a = h1.train[(size_t)k * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS];
        b = hd.train[(size_t)k * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS];
        CHECK(fabs(a - b) <= 1e-5, "%s epoch %d: train logloss %.9f vs %.9f", mc->name, k + 1, a, b);
    }
    /* every rank holds the same model: rank 0's predictions everywhere */
    float p0[ROWS];
    memcpy(p0, pd, sizeof p0);
    MPI_Bcast(p0, ROWS, MPI_FLOAT, 0, MPI_COMM_WORLD);
    CHECK(memcmp(p0, pd, sizeof p0) == 0, "%s: replicas differ between ranks", mc->name);
    /* rank 0's checkpoint is an ordinary model file */
    dctr_model *loaded;
    OK(dctr_model_load(ck, &loaded));
    OK(dctr_model_predict(loaded, fulld, pl));
    CHECK(memcmp(pl, pd, sizeof pl) == 0, "%s: the checkpoint predicts differently", mc->name);
    MPI_Barrier(MPI_COMM_WORLD); /* nobody rewrites the checkpoint while another rank reads it */
    dctr_model_free(loaded);
    dctr_history_free(&h1);
    dctr_history_free(&hd);
    dctr_model_free(ref);
    dctr_model_free(m);
}

/* 2 epochs + checkpoint, load, 1 more epoch == 3 epochs (shuffled, distributed). */
static void check_resume(dctr_mpi *mp, const dctr_schema *sd, const dctr_dataset *fulld,
                         const dctr_dataset *shard, model_case mc) {
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.batch_size = BATCH;
    o.epochs = 3;
    dctr_model *a = new_model(sd, &mc);
    OK(dctr_model_fit_collective(a, shard, &o, dctr_mpi_collective(mp), NULL));
    char ck[600];
    path_of(ck, sizeof ck, "resume.dctr");
    dctr_model *b = new_model(sd, &mc);
    o.epochs = 2;
    o.checkpoint_path = ck;
    OK(dctr_model_fit_collective(b, shard, &o, dctr_mpi_collective(mp), NULL));
    dctr_model_free(b);
    OK(dctr_model_load(ck, &b)); /* every rank resumes from rank 0's file */
    MPI_Barrier(MPI_COMM_WORLD);
    o.epochs = 1;
    o.checkpoint_path = NULL;
    OK(dctr_model_fit_collective(b, shard, &o, dctr_mpi_collective(mp), NULL));
    float pa[ROWS], pb[ROWS];
    OK(dctr_model_predict(a, fulld, pa));
    OK(dctr_model_predict(b, fulld, pb));
    CHECK(memcmp(pa, pb, sizeof pa) == 0, "%s: resumed run differs from the uninterrupted one (%g)",
          mc.name, max_diff(pa, pb, ROWS));
    dctr_model_free(a);
    dctr_model_free(b);
}

/* Shards of different sizes and a global batch the rank count does not divide: every rank
 * runs the same steps (a short shard starts over) and ends with the same model; an empty shard
 * fails every rank, the others naming it. */
static void check_uneven(dctr_mpi *mp, const dctr_schema *sd, const dctr_dataset *fulld,
                         const dctr_dataset *shard) {
    dctr_dataset *mine;
    OK(dctr_dataset_stripe(shard, 0, g_rank + 1, &mine)); /* rank r keeps 1 / (r + 1) */
    model_case mc = {"deepfm-uneven", DCTR_MODEL_DEEPFM, 1, DCTR_OPT_ADAGRAD};
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.batch_size = 10;
    o.epochs = 2;
    o.validation_split = 0.2;
    o.patience = 1;
    dctr_model *m = new_model(sd, &mc);
    dctr_history h;
    OK(dctr_model_fit_collective(m, mine, &o, dctr_mpi_collective(mp), &h));
    float p[ROWS], p0[ROWS];
    OK(dctr_model_predict(m, fulld, p));
    memcpy(p0, p, sizeof p0);
    MPI_Bcast(p0, ROWS, MPI_FLOAT, 0, MPI_COMM_WORLD);
    CHECK(memcmp(p0, p, sizeof p) == 0, "uneven shards: replicas differ between ranks");
    int runs = h.epochs_run, run0 = runs;
    MPI_Bcast(&run0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    CHECK(runs == run0, "uneven shards: %d vs %d epochs (early stopping disagrees)", runs, run0);
    dctr_history_free(&h);
    /* validation rows on rank 0 only: early stopping still decides the same everywhere */
    o.validation_split = 0;
    o.validation = g_rank == 0 ? shard : NULL;
    o.epochs = 4;
    OK(dctr_model_fit_collective(m, mine, &o, dctr_mpi_collective(mp), &h));
    runs = run0 = h.epochs_run;
    MPI_Bcast(&run0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    CHECK(runs == run0, "validation on rank 0 only: %d vs %d epochs", runs, run0);
    CHECK(!isnan(h.valid[DCTR_METRIC_AUC]), "validation on rank 0 only: no global AUC");
    dctr_history_free(&h);
    o.validation = NULL;
    dctr_dataset_free(mine);
    if (g_size > 1) { /* the last rank has no rows */
        OK(dctr_dataset_stripe(shard, g_rank == g_size - 1 ? 1000 : 0,
                               g_rank == g_size - 1 ? 1001 : 1, &mine));
        dctr_status st = dctr_model_fit_collective(m, mine, &o, dctr_mpi_collective(mp), NULL);
        CHECK(st != DCTR_OK, "an empty shard must fail");
        char want[32];
        snprintf(want, sizeof want, "rank %d of %d", g_size - 1, g_size);
        CHECK(g_rank == g_size - 1 || strstr(dctr_last_error(), want),
              "the error does not name the empty rank: %s", dctr_last_error());
        dctr_dataset_free(mine);
    }
    dctr_model_free(m);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    snprintf(g_dir, sizeof g_dir, "%s", argc > 1 ? argv[1] : "/tmp");
    write_data();
    dctr_mpi *mp;
    OK(dctr_mpi_new(MPI_COMM_WORLD, &mp));
    char full[600], part[600], name[32];
    path_of(full, sizeof full, "full.csv");
    snprintf(name, sizeof name, "part%d.csv", g_rank);
    path_of(part, sizeof part, name);

    dctr_schema *s1 = make_schema(), *sd = make_schema();
    OK(dctr_schema_fit_csv(s1, full, NULL));
    OK(dctr_mpi_schema_fit_csv(mp, sd, part, NULL, DCTR_SHARD_FILE));
    check_same_schema(s1, sd);

    dctr_dataset *full1, *fulld, *shard;
    OK(dctr_dataset_read_csv(s1, full, NULL, &full1));
    OK(dctr_dataset_read_csv(sd, full, NULL, &fulld));
    OK(dctr_mpi_read_csv(mp, sd, full, NULL, DCTR_SHARD_STRIPE, &shard));
    CHECK(dctr_dataset_num_rows(shard) == ROWS / g_size, "shard rows");

    const model_case cases[] = {
        {"lr", DCTR_MODEL_LR, 0, DCTR_OPT_FTRL},
        {"fm", DCTR_MODEL_FM, 0, DCTR_OPT_ADAGRAD},
        {"deepfm", DCTR_MODEL_DEEPFM, 0, DCTR_OPT_ADAM},
        /* Adagrad: the bias before a BN has a zero gradient up to rounding noise, which Adam
         * normalises into full-size steps (differently for any summation order) */
        {"deepfm-bn", DCTR_MODEL_DEEPFM, 1, DCTR_OPT_ADAGRAD},
        {"ffm", DCTR_MODEL_FFM, 0, DCTR_OPT_ADAGRAD}, /* eta 0.01; sparse, dense and varlen fields */
        {"deepffm", DCTR_MODEL_DEEPFFM, 0, DCTR_OPT_ADAM},
        {"deepffm-bn", DCTR_MODEL_DEEPFFM, 1, DCTR_OPT_ADAGRAD},
    };
    for (int sharded = 0; sharded <= 1; sharded++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            check_model(mp, s1, full1, sd, fulld, shard, &cases[i], sharded);
    check_resume(mp, sd, fulld, shard, (model_case){"deepfm-resume", DCTR_MODEL_DEEPFM, 0, DCTR_OPT_ADAM});
    check_resume(mp, sd, fulld, shard, (model_case){"ffm-resume", DCTR_MODEL_FFM, 0, DCTR_OPT_ADAGRAD});
    check_uneven(mp, sd, fulld, shard);

    dctr_dataset_free(full1);
    dctr_dataset_free(fulld);
    dctr_dataset_free(shard);
    dctr_schema_free(s1);
    dctr_schema_free(sd);
    dctr_mpi_free(mp);
    if (g_rank == 0)
        printf("test_mpi_train: %d ranks OK\n", g_size);
    MPI_Finalize();
    return 0;
}
