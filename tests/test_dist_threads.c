/* Distributed training without MPI: ranks as threads of one process joined by an in-process
 * collective table (deepctr/collective.h), so the transport-independent code (src/dist/, the
 * distributed fit) runs in every build, under LeakSanitizer and ThreadSanitizer too. FM, LR and
 * FFM (no DNN: OpenBLAS's thread setting is process-wide).
 * ctest-label: threads */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/deepctr.h"
#include "test_env.h"
#include "threads.h"

#define ROWS 180
#define BATCH 12
#define MAXR 3

/* The in-process transport: every rank posts its buffer, waits for all, copies, waits again. */
typedef struct hub {
    pthread_barrier_t bar;
    const void *send[MAXR];
    const int64_t *counts[MAXR];
    int n;
} hub;

typedef struct rank_ctx {
    hub *h;
    int rank;
    dctr_collective coll;
    char part[512], full[512];
    dctr_model_type type;
    float pred[ROWS];
    dctr_status st;
    char err[256];
    int agree_fail; /* agreement test: this rank reports a failure */
} rank_ctx;


static int hub_allgather(void *ctx, const void *send, int64_t bytes, void *recv) {
    rank_ctx *c = ctx;
    hub *h = c->h;
    h->send[c->rank] = send;
    pthread_barrier_wait(&h->bar);
    for (int r = 0; r < h->n; r++)
        memcpy((char *)recv + (size_t)r * (size_t)bytes, h->send[r], (size_t)bytes);
    pthread_barrier_wait(&h->bar);
    return 0;
}

static int hub_allgatherv(void *ctx, const void *send, const int64_t *counts, void *recv) {
    rank_ctx *c = ctx;
    hub *h = c->h;
    h->send[c->rank] = send;
    pthread_barrier_wait(&h->bar);
    size_t off = 0;
    for (int r = 0; r < h->n; r++) {
        memcpy((char *)recv + off, h->send[r], (size_t)counts[r]);
        off += (size_t)counts[r];
    }
    pthread_barrier_wait(&h->bar);
    return 0;
}

/* Every rank posts its send buffer and counts; each takes its block from every rank. */
static int hub_alltoallv(void *ctx, const void *send, const int64_t *send_counts, void *recv,
                         const int64_t *recv_counts) {
    rank_ctx *c = ctx;
    hub *h = c->h;
    h->send[c->rank] = send;
    h->counts[c->rank] = send_counts;
    pthread_barrier_wait(&h->bar);
    size_t off = 0;
    for (int q = 0; q < h->n; q++) {
        size_t from = 0;
        for (int r = 0; r < c->rank; r++)
            from += (size_t)h->counts[q][r];
        if (h->counts[q][c->rank] != recv_counts[q])
            return 1;
        memcpy((char *)recv + off, (const char *)h->send[q] + from, (size_t)recv_counts[q]);
        off += (size_t)recv_counts[q];
    }
    pthread_barrier_wait(&h->bar);
    return 0;
}

static void write_row(FILE *f, int i) {
    unsigned s = (unsigned)i * 2654435761u + 7u;
    int c1 = (int)(s % 17), c2 = (int)((s >> 8) % 29);
    double x = (double)((s >> 16) % 100) / 10.0;
    int y = ((c1 % 3) + (c2 % 2) + (x > 5.0)) >= 2;
    fprintf(f, "%d,a%d,b%d,%.1f\n", y, c1, c2, x);
}

static void write_files(int n, char full[512], char parts[][512]) {
    dctr_test_tmp_path(full, 512, "dist_threads_full.csv");
    FILE *f = fopen(full, "w");
    assert_non_null(f);
    fprintf(f, "label,C1,C2,I1\n");
    for (int i = 0; i < ROWS; i++)
        write_row(f, i);
    fclose(f);
    for (int r = 0; r < n; r++) {
        char name[64];
        snprintf(name, sizeof name, "dist_threads_%d_part%d.csv", n, r);
        dctr_test_tmp_path(parts[r], 512, name);
        f = fopen(parts[r], "w");
        assert_non_null(f);
        fprintf(f, "label,C1,C2,I1\n");
        for (int i = r; i < ROWS; i += n)
            write_row(f, i);
        fclose(f);
    }
}

static dctr_status make_schema(dctr_schema **out) {
    dctr_schema *s;
    dctr_status st0 = dctr_schema_new(&s);
    if (st0 != DCTR_OK)
        return st0;
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "C1");
    f.dtype = DCTR_DTYPE_STRING;
    dctr_status st = dctr_schema_add_sparse(s, &f);
    dctr_sparse_feat_default(&f, "C2");
    f.dtype = DCTR_DTYPE_STRING;
    f.min_count = 3; /* on the summed counts */
    if (st == DCTR_OK)
        st = dctr_schema_add_sparse(s, &f);
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "I1");
    d.transform = DCTR_TRANSFORM_STANDARDIZE;
    if (st == DCTR_OK)
        st = dctr_schema_add_dense(s, &d);
    if (st == DCTR_OK)
        st = dctr_schema_set_label(s, "label");
    if (st != DCTR_OK)
        dctr_schema_free(s);
    *out = st == DCTR_OK ? s : NULL;
    return st;
}

static dctr_status train(dctr_model_type type, const dctr_schema *s, const dctr_dataset *data,
                         dctr_collective *coll, dctr_model **out) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, type);
    dctr_optimizer_config_default(&cfg.optimizer, DCTR_OPT_ADAGRAD);
    cfg.optimizer.learning_rate = 0.05;
    /* FM under a collective: created as this rank's shard (sharded tables); LR: created whole,
     * the fit makes it a shard */
    dctr_status st = coll && type == DCTR_MODEL_FM ? dctr_model_new_collective(s, &cfg, coll, out)
                                                   : dctr_model_new(s, &cfg, out);
    if (st != DCTR_OK)
        return st;
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 2;
    o.batch_size = BATCH;
    o.shuffle = 0;
    return coll ? dctr_model_fit_collective(*out, data, &o, coll, NULL)
                : dctr_model_fit(*out, data, &o, NULL);
}

/* One rank: encoders from its own file (merged), its stripe of the full file, the fit. */
static void *rank_main(void *arg) {
    rank_ctx *c = arg;
    dctr_schema *s = NULL;
    dctr_dataset *all = NULL, *mine = NULL;
    dctr_model *m = NULL;
    dctr_status st = make_schema(&s);
    if (st == DCTR_OK)
        st = dctr_schema_fit_csv_collective(s, c->part, NULL, &c->coll);
    if (st == DCTR_OK)
        st = dctr_dataset_read_csv(s, c->full, NULL, &all);
    if (st == DCTR_OK)
        st = dctr_dataset_stripe(all, c->rank, c->h->n, &mine);
    if (st == DCTR_OK)
        st = train(c->type, s, mine, &c->coll, &m);
    if (st == DCTR_OK && c->coll.table_mode == DCTR_TABLES_SHARDED && c->h->n > 1) {
        /* each rank holds its rows: the streamed file is the whole model */
        char path[512], name[64];
        snprintf(name, sizeof name, "dist_threads_%d_model.dctr", c->h->n);
        dctr_test_tmp_path(path, sizeof path, name);
        st = dctr_model_save_collective(m, path, 1, &c->coll);
        dctr_model_free(m);
        m = NULL;
        if (st == DCTR_OK)
            st = dctr_model_load(path, &m);
    }
    if (st == DCTR_OK)
        st = dctr_model_predict(m, all, c->pred);
    c->st = st;
    snprintf(c->err, sizeof c->err, "%s", st == DCTR_OK ? "" : dctr_last_error());
    dctr_model_free(m);
    dctr_dataset_free(mine);
    dctr_dataset_free(all);
    dctr_schema_free(s);
    return NULL;
}

static void setup_ranks(hub *h, rank_ctx *ctx, int n) {
    memset(h, 0, sizeof *h);
    h->n = n;
    pthread_barrier_init(&h->bar, NULL, (unsigned)n);
    for (int r = 0; r < n; r++) {
        ctx[r].h = h;
        ctx[r].rank = r;
        ctx[r].coll = (dctr_collective){.struct_size = sizeof(dctr_collective), .rank = r,
                                        .size = n, .ctx = &ctx[r], .allgather = hub_allgather,
                                        .allgatherv = hub_allgatherv, .alltoallv = hub_alltoallv};
    }
}

static void check_ranks(int n, dctr_model_type type, int sharded) {
    hub h;
    rank_ctx ctx[MAXR];
    memset(ctx, 0, sizeof ctx);
    setup_ranks(&h, ctx, n);
    char full[512], parts[MAXR][512];
    write_files(n, full, parts);
    for (int r = 0; r < n; r++) {
        memcpy(ctx[r].full, full, sizeof ctx[r].full);
        memcpy(ctx[r].part, parts[r], sizeof ctx[r].part);
        ctx[r].type = type;
        ctx[r].coll.table_mode = sharded ? DCTR_TABLES_SHARDED : DCTR_TABLES_REPLICATED;
    }
    assert_int_equal(th_run_all(n, rank_main, ctx, sizeof ctx[0]), 0);
    pthread_barrier_destroy(&h.bar);
    /* the single-process reference on the union */
    dctr_schema *s;
    dctr_dataset *all;
    dctr_model *m;
    float ref[ROWS];
    assert_int_equal(make_schema(&s), DCTR_OK);
    assert_int_equal(dctr_schema_fit_csv(s, full, NULL), DCTR_OK);
    assert_int_equal(dctr_dataset_read_csv(s, full, NULL, &all), DCTR_OK);
    /* FFM's distributed form is its synchronous mini-batch step: its reference is that step on
     * one process (a one-rank collective), not libffm's per-sample dctr_model_fit */
    hub h1;
    rank_ctx one[1];
    memset(one, 0, sizeof one);
    setup_ranks(&h1, one, 1);
    one[0].coll.table_mode = sharded ? DCTR_TABLES_SHARDED : DCTR_TABLES_REPLICATED;
    assert_int_equal(train(type, s, all, type == DCTR_MODEL_FFM ? &one[0].coll : NULL, &m), DCTR_OK);
    pthread_barrier_destroy(&h1.bar);
    assert_int_equal(dctr_model_predict(m, all, ref), DCTR_OK);
    for (int r = 0; r < n; r++) {
        if (ctx[r].st != DCTR_OK)
            fail_msg("rank %d: %s", r, ctx[r].err);
        assert_memory_equal(ctx[r].pred, ctx[0].pred, sizeof ref); /* identical replicas */
        for (int i = 0; i < ROWS; i++)
            assert_true(fabs((double)ctx[r].pred[i] - ref[i]) <= 1e-5);
        assert_true(ctx[r].coll.bytes_received > 0 || n == 1);
    }
    dctr_model_free(m);
    dctr_dataset_free(all);
    dctr_schema_free(s);
}

static void test_fm_two_and_three_ranks(void **state) {
    (void)state;
    check_ranks(1, DCTR_MODEL_FM, 0);
    check_ranks(2, DCTR_MODEL_FM, 0);
    check_ranks(3, DCTR_MODEL_FM, 0);
}

/* Sharded tables: rows fetched from their owners, gradients returned, the file streamed. */
static void test_fm_sharded(void **state) {
    (void)state;
    check_ranks(2, DCTR_MODEL_FM, 1);
    check_ranks(3, DCTR_MODEL_FM, 1);
}

/* DeepFM's DNN makes the dense part large enough for the reduce-scatter (3 ranks and more). */
static void test_deepfm_three_ranks(void **state) {
    (void)state;
    check_ranks(3, DCTR_MODEL_DEEPFM, 0);
}

static void test_lr_two_ranks(void **state) {
    (void)state;
    check_ranks(2, DCTR_MODEL_LR, 0);
    check_ranks(3, DCTR_MODEL_LR, 1);
}

static void *agree_main(void *arg) {
    rank_ctx *c = arg;
    dctr_status mine = DCTR_OK;
    if (c->agree_fail)
        mine = DCTR_ERR_PARSE; /* as a reader reports a malformed row (message set below) */
    if (c->agree_fail) /* sets a thread-local message */
        assert_int_not_equal(dctr_schema_fit_none(NULL), DCTR_OK);
    c->st = dctr_collective_agree(&c->coll, mine, "reading");
    snprintf(c->err, sizeof c->err, "%s", dctr_last_error());
    return NULL;
}

/* Rank 1 fails: it gets its own status back, the others DCTR_ERR_IO naming rank 1. */
static void test_agreement_names_the_failed_rank(void **state) {
    (void)state;
    hub h;
    rank_ctx ctx[MAXR];
    memset(ctx, 0, sizeof ctx);
    setup_ranks(&h, ctx, 3);
    ctx[1].agree_fail = 1;
    assert_int_equal(th_run_all(3, agree_main, ctx, sizeof ctx[0]), 0);
    pthread_barrier_destroy(&h.bar);
    assert_int_equal(ctx[1].st, DCTR_ERR_PARSE);
    assert_int_equal(ctx[0].st, DCTR_ERR_IO);
    assert_int_equal(ctx[2].st, DCTR_ERR_IO);
    assert_non_null(strstr(ctx[0].err, "reading: rank 1 of 3 failed (DCTR_ERR_PARSE)"));
    assert_non_null(strstr(ctx[2].err, "rank 1 of 3"));
}

/* FFM (sparse and dense fields): the mini-batch step, replicated and sharded feature rows. */
static void test_ffm_ranks(void **state) {
    (void)state;
    check_ranks(2, DCTR_MODEL_FFM, 0);
    check_ranks(3, DCTR_MODEL_FFM, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fm_two_and_three_ranks),
        cmocka_unit_test(test_lr_two_ranks),
        cmocka_unit_test(test_fm_sharded),
        cmocka_unit_test(test_deepfm_three_ranks),
        cmocka_unit_test(test_agreement_names_the_failed_rank),
        cmocka_unit_test(test_ffm_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
