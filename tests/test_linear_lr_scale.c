/* dctr_model_config.linear_lr_scale (docs/quality.md, robust defaults): one training step moves
 * the linear part's table and dense kernel by exactly scale x the step of scale 1 and every other
 * tensor by the same amount, for SGD, Adagrad and Adam; the value survives save + load (meta
 * version 3, a model with scale 1 still writes version 1); bad values are refused; configs of the
 * older struct sizes get scale 1; the recommended DeepFM uses 2.5, FM and LR 1. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/deepctr.h"
#include "sample_schemas.h"
#include "test_env.h"

#define ROWS 4
/* Columns: dense "d", sparse "s" (V 3, k 2); four labelled rows. */
static const float dvals[ROWS] = {0.5f, -2.0f, 1.0f, 0.25f};
static const int64_t sids[ROWS] = {1, 2, 1, 0};
static const float labels[ROWS] = {1, 0, 1, 0};

static void make_arrays(dctr_arrays *a, dctr_array_column cols[2]) {
    memset(cols, 0, 2 * sizeof cols[0]);
    cols[0] = (dctr_array_column){.column = -1, .name = "d", .values = dvals};
    cols[1] = (dctr_array_column){.column = -1, .name = "s", .ids = sids};
    dctr_arrays_init(a);
    a->num_rows = ROWS;
    a->columns = cols;
    a->num_columns = 2;
    a->labels = labels;
}

static dctr_schema *make_schema(void) {
    dctr_arrays a;
    dctr_array_column cols[2];
    make_arrays(&a, cols);
    return sample_tiny_schema(&a);
}

static void small_config(dctr_model_config *cfg, dctr_optimizer_kind opt, float scale) {
    static const int32_t hidden[1] = {3};
    dctr_model_config_default(cfg, DCTR_MODEL_DEEPFM);
    cfg->hidden_units = hidden;
    cfg->num_hidden = 1;
    cfg->l2_embedding = cfg->l2_linear = 0; /* the data gradient alone: exact ratios */
    dctr_optimizer_config_default(&cfg->optimizer, opt);
    cfg->optimizer.learning_rate = 0.05;
    cfg->linear_lr_scale = scale;
}

static const char *const names[] = {"embedding/s", "linear/s", "linear/dense_kernel", "dnn/0/kernel",
                                    "output/kernel", "bias"};
enum { NT = 6, MAXV = 16 };

/* One step (one epoch of one batch) from the seed's initial weights: the change of each tensor. */
static void one_step(dctr_optimizer_kind opt, float scale, float delta[NT][MAXV], int64_t size[NT]) {
    dctr_schema *s = make_schema();
    dctr_model_config cfg;
    small_config(&cfg, opt, scale);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    float before[NT][MAXV];
    for (int t = 0; t < NT; t++) {
        int64_t r = 0, c = 0;
        assert_int_equal(dctr_model_tensor_shape(m, names[t], &r, &c), DCTR_OK);
        size[t] = r * c;
        assert_true(size[t] <= MAXV);
        assert_int_equal(dctr_model_get_tensor(m, names[t], before[t], size[t]), DCTR_OK);
    }
    dctr_arrays a;
    dctr_array_column cols[2];
    make_arrays(&a, cols);
    dctr_dataset *ds = NULL;
    assert_int_equal(dctr_dataset_from_arrays(s, &a, &ds), DCTR_OK);
    dctr_fit_options fo;
    dctr_fit_options_default(&fo);
    fo.epochs = 1;
    fo.batch_size = ROWS;
    fo.shuffle = 0;
    assert_int_equal(dctr_model_fit(m, ds, &fo, NULL), DCTR_OK);
    for (int t = 0; t < NT; t++) {
        float after[MAXV];
        assert_int_equal(dctr_model_get_tensor(m, names[t], after, size[t]), DCTR_OK);
        for (int64_t i = 0; i < size[t]; i++)
            delta[t][i] = after[i] - before[t][i];
    }
    dctr_dataset_free(ds);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static void test_step_scales_the_linear_part_only(void **state) {
    (void)state;
    const dctr_optimizer_kind kinds[] = {DCTR_OPT_SGD, DCTR_OPT_ADAGRAD, DCTR_OPT_ADAM};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        float d1[NT][MAXV], d4[NT][MAXV];
        int64_t n1[NT], n4[NT];
        one_step(kinds[k], 1.0f, d1, n1);
        one_step(kinds[k], 4.0f, d4, n4);
        int moved = 0;
        for (int t = 0; t < NT; t++) {
            const int linear = t == 1 || t == 2;
            for (int64_t i = 0; i < n1[t]; i++) {
                /* the first step's update is linear in lr for all three optimizers */
                double want = linear ? 4.0 * d1[t][i] : d1[t][i];
                assert_float_equal(d4[t][i], want, 1e-5 * fabs(want) + 1e-6); /* float weights */
                moved += linear && fabsf(d1[t][i]) > 1e-4f;
            }
        }
        assert_true(moved >= 3); /* rows 0, 1 and 2 of linear/s and the kernel all trained */
    }
}

static dctr_model *model_with(float scale) {
    dctr_schema *s = make_schema();
    dctr_model_config cfg;
    small_config(&cfg, DCTR_OPT_ADAGRAD, scale);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_schema_free(s);
    return m;
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void test_save_load_keeps_the_scale(void **state) {
    (void)state;
    char p1[512], p3[512];
    dctr_test_tmp_path(p1, sizeof p1, "linlr_1.model");
    dctr_test_tmp_path(p3, sizeof p3, "linlr_3.model");
    dctr_model *m1 = model_with(1.0f), *m3 = model_with(3.0f);
    assert_int_equal(dctr_model_save(m1, p1, 0), DCTR_OK);
    assert_int_equal(dctr_model_save(m3, p3, 0), DCTR_OK);
    /* scale 3 appends bn_eps, bn_momentum and the scale to the meta section (version 3) */
    assert_true(file_size(p3) > file_size(p1));
    for (int i = 0; i < 2; i++) {
        dctr_model *l = NULL;
        assert_int_equal(dctr_model_load(i ? p3 : p1, &l), DCTR_OK);
        dctr_model_config lc;
        dctr_model_config_default(&lc, DCTR_MODEL_DEEPFM);
        assert_int_equal(dctr_model_get_config(l, &lc), DCTR_OK);
        assert_true(lc.linear_lr_scale == (i ? 3.0f : 1.0f));
        assert_true(lc.bn_eps == 1e-3f && lc.bn_momentum == 0.99f);
        dctr_model_free(l);
    }
    dctr_model_free(m1);
    dctr_model_free(m3);
    remove(p1);
    remove(p3);
}

static void test_bad_scales_refused(void **state) {
    (void)state;
    dctr_schema *s = make_schema();
    const float bad[] = {0.0f, -1.0f, NAN, INFINITY, 2e6f};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dctr_model_config cfg;
        small_config(&cfg, DCTR_OPT_ADAGRAD, bad[i]);
        dctr_model *m = NULL;
        assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_INVALID_ARG);
        assert_null(m);
        assert_non_null(strstr(dctr_last_error(), "linear_lr_scale"));
    }
    dctr_schema_free(s);
}

static void test_older_struct_sizes_and_recommended(void **state) {
    (void)state;
    dctr_schema *s = make_schema();
    const uint32_t sizes[] = {(uint32_t)offsetof(dctr_model_config, bn_eps),
                              (uint32_t)offsetof(dctr_model_config, linear_lr_scale)};
    for (int i = 0; i < 2; i++) {
        dctr_model_config cfg;
        small_config(&cfg, DCTR_OPT_ADAGRAD, 7.0f); /* beyond the caller's struct: not read */
        cfg.struct_size = sizes[i];
        dctr_model *m = NULL;
        assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
        dctr_model_config lc;
        memset(&lc, 0, sizeof lc);
        lc.struct_size = sizeof lc;
        assert_int_equal(dctr_model_get_config(m, &lc), DCTR_OK);
        assert_true(lc.linear_lr_scale == 1.0f);
        /* get_config into the older struct writes no further than its size */
        unsigned char buf[sizeof(dctr_model_config) + 16];
        memset(buf, 0xAB, sizeof buf);
        ((dctr_model_config *)(void *)buf)->struct_size = sizes[i];
        assert_int_equal(dctr_model_get_config(m, (dctr_model_config *)(void *)buf), DCTR_OK);
        for (size_t b = sizes[i]; b < sizeof buf; b++)
            assert_int_equal(buf[b], 0xAB);
        dctr_model_free(m);
    }
    dctr_schema_free(s);
    dctr_model_config r;
    dctr_model_config_recommended(&r, DCTR_MODEL_DEEPFM);
    assert_true(r.linear_lr_scale == 2.5f);
    dctr_model_config_recommended(&r, DCTR_MODEL_FM);
    assert_true(r.linear_lr_scale == 1.0f);
    dctr_model_config_recommended(&r, DCTR_MODEL_LR);
    assert_true(r.linear_lr_scale == 1.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_scales_the_linear_part_only),
        cmocka_unit_test(test_save_load_keeps_the_scale),
        cmocka_unit_test(test_bad_scales_refused),
        cmocka_unit_test(test_older_struct_sizes_and_recommended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
