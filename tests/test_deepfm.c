/* DeepFM / FM / LR: hand-set numeric check, model-level finite-difference gradient check for
 * every parameter kind, the reference §3.3 column combinations, frozen tables, lazy updates,
 * determinism, config validation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "dfm_fixture.h"
#include "layers/dnn.h"
#include "models/deepfm.h"
#include "models/model_types.h"

static float *tensor(dctr_model *m, const char *name, int64_t *count) {
    int64_t n = 0;
    int64_t off = dctr_deepfm_tensor(m, name, &n);
    assert_true(off >= 0);
    if (count)
        *count = n;
    return dctr_deepfm_params(m, NULL) + off;
}

/* logit = linear + dnn + FM, every parameter set by hand, one row. */
static void hand_set(dctr_task task) {
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 3, .k = 2},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 3, .k = 2},
        {.name = "D", .kind = DCTR_COLUMN_DENSE},
    };
    dctr_schema *s = fx_schema(cols, 3);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.task = task;
    const int32_t hidden[1] = {2};
    cfg.hidden_units = hidden;
    cfg.num_hidden = 1;
    dctr_model *m = fx_model(s, &cfg);
    int64_t n;
    float *eA = tensor(m, "emb:A", &n);
    assert_int_equal(n, 6);
    float *eB = tensor(m, "emb:B", NULL);
    float *lA = tensor(m, "lin:A", &n);
    assert_int_equal(n, 3);
    float *lB = tensor(m, "lin:B", NULL);
    float *kern = tensor(m, "lin_kernel", &n);
    assert_int_equal(n, 1);
    float *outw = tensor(m, "out_w", &n);
    assert_int_equal(n, 2);
    float *bias = tensor(m, "bias", NULL);
    const void *cfgp = NULL;
    const dctr_dnn_params *dp = dctr_deepfm_dnn(m, &cfgp);
    assert_non_null(dp);
    assert_int_equal(((const dctr_dnn_config *)cfgp)->in_dim, 5);

    eA[2] = 0.1f, eA[3] = 0.2f;   /* A row 1 */
    eB[4] = 0.3f, eB[5] = -0.4f;  /* B row 2 */
    lA[1] = 0.05f;
    lB[2] = -0.1f;
    kern[0] = 0.7f;
    for (int i = 0; i < 5; i++)   /* W [5 x 2] row-major */
        for (int o = 0; o < 2; o++)
            dp->layer[0].W[i * 2 + o] = 0.1f * (float)(i + 1) * (o == 0 ? 1.0f : -1.0f);
    dp->layer[0].b[0] = 0.01f;
    dp->layer[0].b[1] = 0.02f;
    outw[0] = 0.5f, outw[1] = 0.3f;
    bias[0] = 0.2f;

    dctr_batch *b = fx_batch(s, 1, 1, 0, 0);
    b->cols[0].ids[0] = 1;
    b->cols[1].ids[0] = 2;
    b->cols[2].dense[0] = 0.5f;
    float p = 0;
    assert_int_equal(dctr_model_predict_batch(m, b, &p), DCTR_OK);

    /* by hand: X = [0.1, 0.2, 0.3, -0.4, 0.5]
     * z0 = 0.1(1·0.1 + 2·0.2 + 3·0.3 - 4·0.4 + 5·0.5) + 0.01 = 0.24 -> relu 0.24
     * z1 = -0.23 + 0.02 = -0.21 -> relu 0;   dnn = 0.5·0.24 + 0.3·0 = 0.12
     * fm = <(0.1,0.2),(0.3,-0.4)> = -0.05;   linear = 0.05 - 0.1 + 0.7·0.5 = 0.3
     * logit = 0.3 + 0.12 - 0.05 + 0.2 (bias) = 0.57 */
    double logit = 0.57;
    double expect = task == DCTR_TASK_BINARY ? 1.0 / (1.0 + exp(-logit)) : logit;
    assert_true(fabs((double)p - expect) < 1e-6);

    dctr_batch_free(b);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static void test_hand_set_binary(void **state) {
    (void)state;
    hand_set(DCTR_TASK_BINARY);
}

static void test_hand_set_regression(void **state) {
    (void)state;
    hand_set(DCTR_TASK_REGRESSION);
}

static double total_loss(dctr_model *m, const dctr_batch *b) {
    double dl = 0, rl = 0;
    assert_int_equal(dctr_deepfm_compute_gradients(m, b, &dl, &rl), DCTR_OK);
    return dl + rl;
}

/* Central differences on every element of the parameter arena; returns how many had a
 * nonzero gradient. Tensor names listed must each get at least one. */
static void grad_check(dctr_model *m, const dctr_batch *b, const char *const *must, int nmust) {
    int64_t n = 0;
    float *P = dctr_deepfm_params(m, &n);
    float *ga = dctr_alloc_floats((size_t)n);
    assert_non_null(ga);
    (void)total_loss(m, b);
    for (int64_t i = 0; i < n; i++)
        ga[i] = dctr_deepfm_grad_at(m, i);
    const float eps = 1e-3f;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        float keep = P[i];
        P[i] = keep + eps;
        double lp = total_loss(m, b);
        P[i] = keep - eps;
        double lm = total_loss(m, b);
        P[i] = keep;
        double num = (lp - lm) / (2.0 * (double)eps);
        double err = fabs(num - ga[i]) / (1e-3 + 0.02 * fmax(fabs(num), fabs(ga[i])));
        if (err > worst)
            worst = err;
        if (err > 1.0)
            fail_msg("param %lld: analytic %.6g numeric %.6g", (long long)i, (double)ga[i], num);
    }
    for (int t = 0; t < nmust; t++) {
        int64_t cnt = 0;
        int64_t off = dctr_deepfm_tensor(m, must[t], &cnt);
        if (off < 0)
            fail_msg("no tensor %s", must[t]);
        int nonzero = 0;
        for (int64_t i = off; i < off + cnt; i++)
            nonzero += ga[i] != 0.0f;
        if (!nonzero)
            fail_msg("tensor %s has no gradient", must[t]);
    }
    dctr_aligned_free(ga);
}

static void test_gradient_check(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 4, .k = 2, .init_std = 0.3f},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 3, .k = 2, .init_std = 0.3f},
        {.name = "S", .kind = DCTR_COLUMN_VARLEN, .vocab = 5, .k = 2, .maxlen = 3,
         .combiner = DCTR_COMBINER_MEAN, .weighted = 1, .init_std = 0.3f},
        {.name = "M", .kind = DCTR_COLUMN_VARLEN, .vocab = 4, .k = 2, .maxlen = 3,
         .combiner = DCTR_COMBINER_MAX, .with_length = 1, .init_std = 0.3f},
        {.name = "D", .kind = DCTR_COLUMN_DENSE, .dense_dim = 2},
    };
    dctr_schema *s = fx_schema(cols, 5);
    for (int variant = 0; variant < 3; variant++) {
        dctr_model_config cfg;
        dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
        const int32_t hidden[2] = {3, 2};
        cfg.hidden_units = hidden;
        cfg.num_hidden = variant == 2 ? 0 : 2;
        cfg.activation = DCTR_ACT_TANH;
        cfg.use_bn = variant == 1;
        cfg.l2_linear = 0.01f;
        cfg.l2_embedding = 0.02f;
        cfg.l2_dnn = 0.03f;
        cfg.task = variant == 1 ? DCTR_TASK_REGRESSION : DCTR_TASK_BINARY;
        dctr_model *m = fx_model(s, &cfg);
        /* distinct non-zero linear weights (zeros would tie in max pooling, a kink) and a
         * non-zero bias, so their L2 terms matter too */
        const char *lins[4] = {"lin:A", "lin:B", "lin:S", "lin:M"};
        for (int t = 0; t < 4; t++) {
            int64_t n = 0;
            float *l = tensor(m, lins[t], &n);
            for (int64_t i = 0; i < n; i++)
                l[i] = 0.05f * (float)(i + 1) * (t % 2 ? -1.0f : 1.0f) + 0.01f * (float)t;
        }
        tensor(m, "bias", NULL)[0] = 0.1f;
        dctr_batch *b = fx_batch(s, 8, 7 + (uint64_t)variant, variant == 1, variant == 0);
        const char *must[] = {"emb:A", "emb:B", "emb:S", "emb:M", "lin:A", "lin:S", "lin:M",
                              "lin_kernel", "out_w", "bias", "dnn"};
        grad_check(m, b, must, variant == 2 ? 10 : 11);
        if (variant == 2)
            assert_true(dctr_deepfm_tensor(m, "dnn", NULL) < 0); /* identity DNN */
        dctr_batch_free(b);
        dctr_model_free(m);
    }
    dctr_schema_free(s);
}

/* Trains 40 Adam steps on one fixed batch: the loss must fall and stay finite. */
static void overfit(const fx_col *cols, int ncols, dctr_model_config *cfg, int regression) {
    dctr_schema *s = fx_schema(cols, ncols);
    cfg->optimizer.learning_rate = 0.01;
    dctr_model *m = fx_model(s, cfg);
    dctr_batch *b = fx_batch(s, 32, 3, regression, 0);
    double first = 0, last = 0, reg = 0;
    for (int step = 0; step < 40; step++) {
        double dl = 0;
        if (m->ops->train_step(m, b, &dl, &reg, NULL) != DCTR_OK)
            fail_msg("train_step: %s", dctr_last_error());
        assert_true(isfinite(dl) && isfinite(reg));
        if (step == 0)
            first = dl;
        last = dl;
    }
    if (!(last < first * 0.95))
        fail_msg("loss did not fall: %g -> %g", first, last);
    float pred[32];
    assert_int_equal(dctr_model_predict_batch(m, b, pred), DCTR_OK);
    for (int i = 0; i < 32; i++)
        assert_true(isfinite(pred[i]));
    assert_int_equal(m->steps, 40);
    dctr_batch_free(b);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static const int32_t small_hidden[2] = {16, 8};

static void base_cfg(dctr_model_config *cfg, dctr_model_type type) {
    dctr_model_config_default(cfg, type);
    cfg->hidden_units = small_hidden;
    cfg->num_hidden = 2;
}

static void test_combinations(void **state) {
    (void)state;
    const fx_col sp[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 10, .k = 4},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 7, .k = 4},
        {.name = "C", .kind = DCTR_COLUMN_SPARSE, .vocab = 5, .k = 4},
    };
    const fx_col dn[] = {
        {.name = "D1", .kind = DCTR_COLUMN_DENSE},
        {.name = "D2", .kind = DCTR_COLUMN_DENSE, .dense_dim = 5},
    };
    const fx_col both[] = {sp[0], sp[1], sp[2], dn[0], dn[1]};
    dctr_model_config cfg;
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    overfit(sp, 3, &cfg, 0);   /* sparse only */
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    overfit(dn, 2, &cfg, 0);   /* dense only: no FM term */
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    overfit(both, 5, &cfg, 1); /* sparse + dense, regression */
    for (int comb = 0; comb < 4; comb++) { /* + varlen sum / mean / max / weighted */
        fx_col v[6] = {sp[0], sp[1], dn[0]};
        v[3] = (fx_col){.name = "G", .kind = DCTR_COLUMN_VARLEN, .vocab = 9, .k = 4, .maxlen = 5,
                        .combiner = comb == 3 ? DCTR_COMBINER_MEAN : (dctr_combiner)comb,
                        .weighted = comb == 3};
        base_cfg(&cfg, DCTR_MODEL_DEEPFM);
        overfit(v, 4, &cfg, 0);
    }
    /* empty linear list */
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    const char *none[1] = {NULL};
    cfg.linear_columns = none;
    cfg.num_linear_columns = 0;
    overfit(both, 5, &cfg, 0);
    /* empty hidden units: dnn_logit is a linear map of the raw concatenation */
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    cfg.num_hidden = 0;
    overfit(both, 5, &cfg, 0);
    /* several groups, fm_group covering only g1 (g2 has another k: fine, it is not in FM) */
    const fx_col grp[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 10, .k = 4, .group = "g1"},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 7, .k = 4, .group = "g1"},
        {.name = "C", .kind = DCTR_COLUMN_SPARSE, .vocab = 5, .k = 8, .group = "g2"},
        {.name = "D", .kind = DCTR_COLUMN_DENSE},
    };
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    const char *g1[1] = {"g1"};
    cfg.fm_groups = g1;
    cfg.num_fm_groups = 1;
    overfit(grp, 4, &cfg, 0);
    /* FM and LR configurations */
    base_cfg(&cfg, DCTR_MODEL_FM);
    overfit(both, 5, &cfg, 0);
    base_cfg(&cfg, DCTR_MODEL_LR);
    overfit(both, 5, &cfg, 0);
}

/* FM and LR are the same blocks: with DNN weights zeroed a DeepFM equals the FM model, and
 * LR has no embedding tables. */
static void test_fm_lr_structure(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 10, .k = 4, .init_std = 0.2f},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 7, .k = 4, .init_std = 0.2f},
        {.name = "D", .kind = DCTR_COLUMN_DENSE},
    };
    dctr_schema *s = fx_schema(cols, 3);
    dctr_model_config cfg;
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    dctr_model *deep = fx_model(s, &cfg);
    base_cfg(&cfg, DCTR_MODEL_FM);
    dctr_model *fm = fx_model(s, &cfg);
    base_cfg(&cfg, DCTR_MODEL_LR);
    dctr_model *lr = fx_model(s, &cfg);
    assert_true(dctr_deepfm_tensor(lr, "emb:A", NULL) < 0);
    assert_true(dctr_deepfm_tensor(lr, "dnn", NULL) < 0);
    assert_true(dctr_deepfm_tensor(fm, "dnn", NULL) < 0);
    assert_true(dctr_model_num_parameters(lr) == 10 + 7 + 1 + 1);
    int64_t n;
    float *ow = tensor(deep, "out_w", &n);
    memset(ow, 0, sizeof(float) * (size_t)n);
    /* same seed: same embeddings and kernel; copy them to be explicit */
    int64_t ne;
    float *dst = tensor(fm, "emb:A", &ne); /* sets ne before the copy reads it */
    memcpy(dst, tensor(deep, "emb:A", NULL), sizeof(float) * (size_t)ne);
    dst = tensor(fm, "emb:B", &ne);
    memcpy(dst, tensor(deep, "emb:B", NULL), sizeof(float) * (size_t)ne);
    tensor(fm, "lin_kernel", NULL)[0] = tensor(deep, "lin_kernel", NULL)[0];
    dctr_batch *b = fx_batch(s, 16, 5, 0, 0);
    float p1[16], p2[16];
    assert_int_equal(dctr_model_predict_batch(deep, b, p1), DCTR_OK);
    assert_int_equal(dctr_model_predict_batch(fm, b, p2), DCTR_OK);
    for (int i = 0; i < 16; i++)
        assert_true(fabsf(p1[i] - p2[i]) < 1e-6f);
    dctr_batch_free(b);
    dctr_model_free(deep);
    dctr_model_free(fm);
    dctr_model_free(lr);
    dctr_schema_free(s);
}

static void test_frozen_and_lazy(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 50, .k = 4, .frozen = 1},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 50, .k = 4},
        {.name = "D", .kind = DCTR_COLUMN_DENSE},
    };
    dctr_schema *s = fx_schema(cols, 3);
    dctr_model_config cfg;
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    dctr_model *m = fx_model(s, &cfg);
    int64_t nA, nB;
    float *eA = tensor(m, "emb:A", &nA), *eB = tensor(m, "emb:B", &nB);
    float *lA = tensor(m, "lin:A", NULL);
    float *a0 = dctr_alloc_floats((size_t)nA), *b0 = dctr_alloc_floats((size_t)nB);
    memcpy(a0, eA, sizeof(float) * (size_t)nA);
    memcpy(b0, eB, sizeof(float) * (size_t)nB);
    int64_t total = 0;
    (void)dctr_deepfm_params(m, &total);
    assert_int_equal(dctr_model_num_parameters(m), total - 50 * 4 - 50); /* A is frozen */
    dctr_batch *b = fx_batch(s, 8, 11, 0, 0);
    for (int r = 0; r < 8; r++)
        b->cols[1].ids[r] = r % 4; /* B touches rows 0..3 only */
    double dl, rl;
    assert_int_equal(m->ops->train_step(m, b, &dl, &rl, NULL), DCTR_OK);
    assert_memory_equal(eA, a0, sizeof(float) * (size_t)nA);
    for (int i = 0; i < 50; i++)
        assert_true(lA[i] == 0.0f);
    for (int64_t row = 0; row < 50; row++) {
        int changed = memcmp(eB + row * 4, b0 + row * 4, 16) != 0;
        assert_int_equal(changed, row < 4);
    }
    dctr_aligned_free(a0);
    dctr_aligned_free(b0);
    dctr_batch_free(b);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static void train_n(dctr_model *m, const dctr_schema *s, int steps) {
    for (int i = 0; i < steps; i++) {
        dctr_batch *b = fx_batch(s, 64, 100 + (uint64_t)i, 0, 0);
        double dl, rl;
        assert_int_equal(m->ops->train_step(m, b, &dl, &rl, NULL), DCTR_OK);
        dctr_batch_free(b);
    }
}

static void test_determinism(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 30, .k = 4},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 20, .k = 4},
        {.name = "G", .kind = DCTR_COLUMN_VARLEN, .vocab = 9, .k = 4, .maxlen = 4,
         .combiner = DCTR_COMBINER_MEAN},
        {.name = "D", .kind = DCTR_COLUMN_DENSE, .dense_dim = 3},
    };
    dctr_schema *s = fx_schema(cols, 4);
    dctr_model_config cfg;
    base_cfg(&cfg, DCTR_MODEL_DEEPFM);
    cfg.dropout = 0.3f;
    cfg.use_bn = 1;
    int64_t n1, n2;
    for (int threads = 1; threads <= 2; threads++) {
        dctr_model *m1 = fx_model(s, &cfg), *m2 = fx_model(s, &cfg);
        assert_int_equal(m1->ops->set_threads(m1, threads), DCTR_OK);
        assert_int_equal(m2->ops->set_threads(m2, threads), DCTR_OK);
        float *p1 = dctr_deepfm_params(m1, &n1), *p2 = dctr_deepfm_params(m2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(p1, p2, sizeof(float) * (size_t)n1); /* same seed: same init */
        train_n(m1, s, 5);
        train_n(m2, s, 5);
        assert_memory_equal(p1, p2, sizeof(float) * (size_t)n1);
        dctr_batch *b = fx_batch(s, 40, 999, 0, 0);
        float a[40], c[40];
        assert_int_equal(dctr_model_predict_batch(m1, b, a), DCTR_OK);
        assert_int_equal(dctr_model_predict_batch(m2, b, c), DCTR_OK);
        assert_memory_equal(a, c, sizeof(a));
        dctr_batch_free(b);
        dctr_model_free(m1);
        dctr_model_free(m2);
    }
    /* another seed gives other weights */
    dctr_model *m1 = fx_model(s, &cfg);
    cfg.seed = 7;
    dctr_model *m2 = fx_model(s, &cfg);
    assert_true(memcmp(dctr_deepfm_params(m1, NULL), dctr_deepfm_params(m2, NULL),
                       sizeof(float) * (size_t)n1) != 0);
    dctr_model_free(m1);
    dctr_model_free(m2);
    dctr_schema_free(s);
}

static void test_config_errors(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 10, .k = 4},
        {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 7, .k = 8},
    };
    dctr_schema *s = fx_schema(cols, 2);
    dctr_model_config cfg;
    dctr_model *m = NULL;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_SCHEMA);
    assert_non_null(strstr(dctr_last_error(), "default_group"));
    assert_non_null(strstr(dctr_last_error(), "'A'"));
    assert_non_null(strstr(dctr_last_error(), "'B'"));
    /* LR has no FM: fine */
    dctr_model_config_default(&cfg, DCTR_MODEL_LR);
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_model_free(m);
    /* unknown column */
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    const char *cols_bad[2] = {"A", "Nope"};
    cfg.dnn_columns = cols_bad;
    cfg.num_dnn_columns = 2;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_SCHEMA);
    assert_non_null(strstr(dctr_last_error(), "Nope"));
    /* dnn on A only: the group has one k */
    cfg.num_dnn_columns = 1;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_model_free(m);
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.dropout = 1.0f;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_INVALID_ARG);
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.task = (dctr_task)5;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_SCHEMA);
    cfg.struct_size = 3;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_INVALID_ARG);
    assert_null(m);
    dctr_schema_free(s);
}

static void test_recommended_settings(void **state) {
    (void)state;
    dctr_model_config cfg;
    dctr_model_config_recommended(&cfg, DCTR_MODEL_DEEPFM);
    assert_int_equal(cfg.optimizer.kind, DCTR_OPT_ADAGRAD);
    assert_true(cfg.optimizer.learning_rate == 0.1);
    assert_int_equal(cfg.num_hidden, 3);
    assert_int_equal(cfg.hidden_units[0], 128);
    assert_int_equal(cfg.use_bn, 1);
    assert_true(cfg.dropout == 0.3f);
    dctr_model_config_recommended(&cfg, DCTR_MODEL_FM);
    assert_int_equal(cfg.optimizer.kind, DCTR_OPT_ADAGRAD);
    assert_true(cfg.optimizer.learning_rate == 0.1);
    dctr_model_config_recommended(&cfg, DCTR_MODEL_LR);
    assert_int_equal(cfg.optimizer.kind, DCTR_OPT_ADAM);
    assert_true(cfg.optimizer.learning_rate == 1e-3);
    /* DeepCTR defaults */
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    assert_int_equal(cfg.num_hidden, -1);
    assert_true(cfg.l2_linear == 1e-5f && cfg.l2_embedding == 1e-5f && cfg.l2_dnn == 0.0f);
    assert_true(cfg.seed == 1024 && cfg.use_bias == 1 && cfg.dropout == 0.0f && !cfg.use_bn);
    dctr_fit_options o;
    dctr_fit_options_recommended(&o, DCTR_TASK_BINARY);
    assert_int_equal(o.monitor, DCTR_METRIC_AUC);
    assert_int_equal(o.patience, 4);
    assert_int_equal(o.epochs, 50);
    assert_int_equal(o.batch_size, 256);
    dctr_fit_options_recommended(&o, DCTR_TASK_REGRESSION);
    assert_int_equal(o.monitor, DCTR_METRIC_MSE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_set_binary),
        cmocka_unit_test(test_hand_set_regression),
        cmocka_unit_test(test_gradient_check),
        cmocka_unit_test(test_combinations),
        cmocka_unit_test(test_fm_lr_structure),
        cmocka_unit_test(test_frozen_and_lazy),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_recommended_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
