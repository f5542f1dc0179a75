/* Model file round trips: save -> load predicts bit-identically (DeepFM with varlen and BN,
 * dense-only, shared embeddings, FM, LR, regression), memory round trip, resume from optimizer
 * state, fit checkpoints, corrupted / truncated files are errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "forged_model.h"
#include "feature/schema_io.h"
#include "io/container.h"
#include "models/model_internal.h"
#include "dfm_fixture.h"
#include "models/deepfm.h"
#include "models/model_types.h"
#include "test_env.h"

static const int32_t hidden[2] = {16, 8};

static void cfg_for(dctr_model_config *cfg, dctr_model_type type, dctr_task task) {
    dctr_model_config_default(cfg, type);
    cfg->hidden_units = hidden;
    cfg->num_hidden = 2;
    cfg->task = task;
    cfg->use_bn = 1;
    cfg->dropout = 0.1f;
    cfg->optimizer.learning_rate = 0.01;
}

static void train_steps(dctr_model *m, const dctr_schema *s, int steps, uint64_t seed) {
    for (int i = 0; i < steps; i++) {
        dctr_batch *b = fx_batch(s, 32, seed + (uint64_t)i, m->task == DCTR_TASK_REGRESSION, 0);
        double dl, rl;
        assert_int_equal(m->ops->train_step(m, b, &dl, &rl, NULL), DCTR_OK);
        dctr_batch_free(b);
    }
}

static void roundtrip(const fx_col *cols, int ncols, dctr_model_type type, dctr_task task,
                      const char *file) {
    dctr_schema *s = fx_schema(cols, ncols);
    dctr_model_config cfg;
    cfg_for(&cfg, type, task);
    dctr_model *m = fx_model(s, &cfg);
    train_steps(m, s, 3, 40);
    char path[512];
    dctr_test_tmp_path(path, sizeof(path), file);
    if (dctr_model_save(m, path, 0) != DCTR_OK)
        fail_msg("save: %s", dctr_last_error());
    dctr_model *l = NULL;
    if (dctr_model_load(path, &l) != DCTR_OK)
        fail_msg("load: %s", dctr_last_error());
    assert_int_equal(dctr_model_get_type(l), type);
    assert_int_equal(dctr_model_get_task(l), task);
    assert_int_equal(dctr_model_num_parameters(l), dctr_model_num_parameters(m));
    assert_int_equal(l->steps, 3);
    dctr_batch *b = fx_batch(dctr_model_schema(l), 50, 77, 0, 0);
    float a[50], c[50];
    assert_int_equal(dctr_model_predict_batch(m, b, a), DCTR_OK);
    assert_int_equal(dctr_model_predict_batch(l, b, c), DCTR_OK);
    assert_memory_equal(a, c, sizeof(a));
    dctr_batch_free(b);
    dctr_model_free(l);
    /* memory round trip gives the same bytes as the file */
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    assert_int_equal(dctr_model_load_from_memory(buf, size, &l), DCTR_OK);
    int64_t n;
    float *pm = dctr_deepfm_params(m, &n);
    assert_memory_equal(pm, dctr_deepfm_params(l, NULL), sizeof(float) * (size_t)n);
    dctr_model_free(l);
    dctr_free_buffer(buf);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static void test_roundtrips(void **state) {
    (void)state;
    const fx_col full[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 20, .k = 4},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 15, .k = 4, .group = "g2"},
        {.name = "G", .kind = DCTR_COLUMN_VARLEN, .vocab = 9, .k = 4, .maxlen = 3,
         .combiner = DCTR_COMBINER_MEAN, .weighted = 1},
        {.name = "D", .kind = DCTR_COLUMN_DENSE, .dense_dim = 2},
    };
    roundtrip(full, 4, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY, "rt_full.dctr");
    roundtrip(full, 4, DCTR_MODEL_DEEPFM, DCTR_TASK_REGRESSION, "rt_reg.dctr");
    roundtrip(full, 4, DCTR_MODEL_FM, DCTR_TASK_BINARY, "rt_fm.dctr");
    roundtrip(full, 4, DCTR_MODEL_LR, DCTR_TASK_BINARY, "rt_lr.dctr");
    const fx_col dense_only[] = {
        {.name = "D1", .kind = DCTR_COLUMN_DENSE},
        {.name = "D2", .kind = DCTR_COLUMN_DENSE, .dense_dim = 3},
    };
    roundtrip(dense_only, 2, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY, "rt_dense.dctr");
    const fx_col shared[] = {
        {.name = "U", .kind = DCTR_COLUMN_SPARSE, .vocab = 12, .k = 4, .emb_name = "item"},
        {.name = "H", .kind = DCTR_COLUMN_VARLEN, .vocab = 12, .k = 4, .emb_name = "item",
         .maxlen = 4, .combiner = DCTR_COMBINER_SUM},
        {.name = "C", .kind = DCTR_COLUMN_SPARSE, .vocab = 5, .k = 4},
    };
    roundtrip(shared, 3, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY, "rt_shared.dctr");
}

/* Training 3 steps, saving with optimizer state, loading, and training 2 more steps equals
 * training 5 steps without interruption, bit for bit. */
static void test_resume(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 20, .k = 4},
        {.name = "G", .kind = DCTR_COLUMN_VARLEN, .vocab = 9, .k = 4, .maxlen = 3},
        {.name = "D", .kind = DCTR_COLUMN_DENSE},
    };
    dctr_schema *s = fx_schema(cols, 3);
    for (int kind = 0; kind <= DCTR_OPT_FTRL; kind++) {
        dctr_model_config cfg;
        cfg_for(&cfg, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY);
        dctr_optimizer_config_default(&cfg.optimizer, (dctr_optimizer_kind)kind);
        if (kind == DCTR_OPT_SGD)
            cfg.optimizer.momentum = 0.9;
        dctr_model *ref = fx_model(s, &cfg), *m = fx_model(s, &cfg);
        train_steps(ref, s, 5, 10);
        train_steps(m, s, 3, 10);
        char path[512];
        dctr_test_tmp_path(path, sizeof(path), "resume.dctr");
        assert_int_equal(dctr_model_save(m, path, 1), DCTR_OK);
        dctr_model *r = NULL;
        if (dctr_model_load(path, &r) != DCTR_OK)
            fail_msg("load: %s", dctr_last_error());
        assert_int_equal(r->steps, 3);
        assert_true(dctr_model_optimizer_bytes(r) > 0 || kind == DCTR_OPT_SGD);
        train_steps(r, s, 2, 13);
        int64_t n;
        float *pref = dctr_deepfm_params(ref, &n);
        assert_memory_equal(pref, dctr_deepfm_params(r, NULL), sizeof(float) * (size_t)n);
        /* without the optimizer state the moments restart: weights differ */
        assert_int_equal(dctr_model_save(m, path, 0), DCTR_OK);
        dctr_model *w = NULL;
        assert_int_equal(dctr_model_load(path, &w), DCTR_OK);
        train_steps(w, s, 2, 13);
        if (kind != DCTR_OPT_SGD)
            assert_true(memcmp(dctr_deepfm_params(ref, NULL), dctr_deepfm_params(w, NULL),
                               sizeof(float) * (size_t)n) != 0);
        dctr_model_free(w);
        dctr_model_free(r);
        dctr_model_free(m);
        dctr_model_free(ref);
    }
    dctr_schema_free(s);
}

static void test_checkpoint_and_corruption(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 20, .k = 4},
        {.name = "D", .kind = DCTR_COLUMN_DENSE},
    };
    dctr_schema *s = fx_schema(cols, 2);
    dctr_model_config cfg;
    cfg_for(&cfg, DCTR_MODEL_DEEPFM, DCTR_TASK_BINARY);
    dctr_model *m = fx_model(s, &cfg);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 64, 8, 0, 0));
    char path[512];
    dctr_test_tmp_path(path, sizeof(path), "ckpt.dctr");
    remove(path);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 2;
    o.batch_size = 16;
    o.checkpoint_path = path;
    assert_int_equal(dctr_model_fit(m, ds, &o, NULL), DCTR_OK);
    dctr_model *c = NULL;
    assert_int_equal(dctr_model_load(path, &c), DCTR_OK);
    assert_int_equal(c->steps, 8);
    int64_t n;
    float *pm = dctr_deepfm_params(m, &n);
    assert_memory_equal(pm, dctr_deepfm_params(c, NULL), sizeof(float) * (size_t)n);
    dctr_model_free(c);

    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 1, &buf, &size), DCTR_OK);
    unsigned char *bytes = buf;
    /* truncated */
    assert_int_not_equal(dctr_model_load_from_memory(buf, size / 2, &c), DCTR_OK);
    assert_null(c);
    /* bit flips anywhere: an error, never a crash */
    for (size_t pos = 0; pos < size; pos += size / 37 + 1) {
        bytes[pos] ^= 0x10;
        dctr_status st = dctr_model_load_from_memory(buf, size, &c);
        if (st == DCTR_OK)
            dctr_model_free(c); /* a flip in padding/unchecked bytes would be caught by CRC */
        assert_int_not_equal(st, DCTR_OK);
        bytes[pos] ^= 0x10;
    }
    assert_int_equal(dctr_model_load_from_memory(buf, size, &c), DCTR_OK);
    dctr_model_free(c);
    dctr_free_buffer(buf);
    assert_int_not_equal(dctr_model_load("/nonexistent/dir/x.dctr", &c), DCTR_OK);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

/* A well-formed file (valid checksums) whose meta claims a huge DNN: load must refuse before
 * allocating the parameters (the file cannot fill them). */
static void test_forged_sizes(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 20, .k = 4},
        {.name = "D", .kind = DCTR_COLUMN_DENSE},
    };
    dctr_schema *s = fx_schema(cols, 2);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    const int32_t huge[2] = {1 << 20, 1 << 20}; /* 2^40 weights */
    cfg.hidden_units = huge;
    cfg.num_hidden = 2;
    forged_params_rejected(s, &cfg);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_checkpoint_and_corruption),
        cmocka_unit_test(test_forged_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
