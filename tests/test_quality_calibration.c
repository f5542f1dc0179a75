/* Calibration: negative down-sampling corrected at predict time (every predict path, saved with
 * the model), ECE / reliability table, Platt scaling. Uses the synthetic generator (4 dense and 8
 * categorical columns) with an FM model: 200k training rows, 40k test rows, a few seconds. LR is
 * too misspecified for the planted pairwise terms: its own ECE on full data is near 0.01. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/deepctr.h"
#include "data/batch.h"
#include "io/container.h"
#include "test_env.h"

#define NDENSE 4
#define NSPARSE 8

typedef struct fixture {
    dctr_schema *schema;
    dctr_dataset *all, *train, *test;
} fixture;

static fixture fx;

static int setup(void **state) {
    (void)state;
    char csv[512];
    dctr_test_tmp_path(csv, sizeof csv, "quality_calib.csv");
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    o.rows = 240000; /* 200k training rows, 40k test rows */
    o.seed = 11;
    o.num_dense = NDENSE;
    o.num_sparse = NSPARSE;
    o.max_vocabulary = 2000;
    o.csv_path = csv;
    dctr_synth_report r;
    if (dctr_synth_generate(&o, &r) != DCTR_OK || dctr_schema_new(&fx.schema) != DCTR_OK)
        return -1;
    char name[8];
    for (int i = 1; i <= NDENSE; i++) {
        snprintf(name, sizeof name, "I%d", i);
        dctr_dense_feat d;
        dctr_dense_feat_default(&d, name);
        d.transform = DCTR_TRANSFORM_LOG1P;
        if (dctr_schema_add_dense(fx.schema, &d) != DCTR_OK)
            return -1;
    }
    for (int i = 1; i <= NSPARSE; i++) {
        snprintf(name, sizeof name, "C%d", i);
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, name);
        f.dtype = DCTR_DTYPE_STRING;
        f.embedding_dim = 4;
        if (dctr_schema_add_sparse(fx.schema, &f) != DCTR_OK)
            return -1;
    }
    if (dctr_schema_validate(fx.schema) != DCTR_OK || dctr_schema_fit_csv(fx.schema, csv, NULL) != DCTR_OK ||
        dctr_dataset_read_csv(fx.schema, csv, NULL, &fx.all) != DCTR_OK ||
        dctr_dataset_split_tail(fx.all, 1.0 / 6.0, &fx.train, &fx.test) != DCTR_OK)
        return -1;
    remove(csv);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dctr_dataset_free(fx.train);
    dctr_dataset_free(fx.test);
    dctr_dataset_free(fx.all);
    dctr_schema_free(fx.schema);
    return 0;
}

static dctr_model *train_fm(const dctr_dataset *train) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FM);
    dctr_optimizer_config_default(&cfg.optimizer, DCTR_OPT_ADAGRAD);
    cfg.optimizer.learning_rate = 0.1;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(fx.schema, &cfg, &m), DCTR_OK);
    dctr_fit_options fo;
    dctr_fit_options_default(&fo);
    fo.epochs = 20;
    fo.batch_size = 256;
    fo.validation_split = 0.1; /* early stopping: the small model overfits otherwise */
    fo.monitor = DCTR_METRIC_LOGLOSS;
    fo.patience = 1;
    assert_int_equal(dctr_model_fit(m, train, &fo, NULL), DCTR_OK);
    return m;
}

static double test_logloss(const dctr_model *m) {
    double v[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_model_evaluate(m, fx.test, v), DCTR_OK);
    return v[DCTR_METRIC_LOGLOSS];
}

/* The acceptance test of issue 15: 10% of negatives kept, corrected, matches full data. */
static void test_downsampled_matches_full(void **state) {
    (void)state;
    dctr_model *full = train_fm(fx.train);
    dctr_dataset *ds = NULL;
    assert_int_equal(dctr_dataset_downsample_negatives(fx.train, 0.1, 5, &ds), DCTR_OK);
    int64_t n = dctr_dataset_num_rows(ds), pos = 0, pos_all = 0;
    for (int64_t i = 0; i < n; i++)
        pos += dctr_dataset_labels(ds)[i] > 0.5f;
    for (int64_t i = 0; i < dctr_dataset_num_rows(fx.train); i++)
        pos_all += dctr_dataset_labels(fx.train)[i] > 0.5f;
    assert_int_equal(pos, pos_all); /* every positive kept */
    double kept = (double)(n - pos) / (double)(dctr_dataset_num_rows(fx.train) - pos_all);
    assert_true(fabs(kept - 0.1) < 0.01);
    dctr_model *small = train_fm(ds);
    double raw = test_logloss(small);
    assert_int_equal(dctr_model_set_negative_rate(small, 0.1), DCTR_OK);
    double ll_full = test_logloss(full), ll_small = test_logloss(small);
    double ece_full, ece_small;
    dctr_reliability_bin bins[10];
    assert_int_equal(dctr_model_calibration(full, fx.test, 10, NULL, &ece_full), DCTR_OK);
    assert_int_equal(dctr_model_calibration(small, fx.test, 10, bins, &ece_small), DCTR_OK);
    print_message("FM, 200k rows: full logloss %.5f ECE %.5f; 10%% negatives: raw %.5f, corrected %.5f "
                  "ECE %.5f\n", ll_full, ece_full, raw, ll_small, ece_small);
    assert_true(raw > ll_full + 0.05); /* uncorrected, the down-sampled model is far off */
    assert_true(fabs(ll_small - ll_full) <= 0.01);
    assert_true(ece_small <= 0.01);
    int64_t total = 0;
    for (int k = 0; k < 10; k++)
        total += bins[k].count;
    assert_int_equal(total, dctr_dataset_num_rows(fx.test));
    dctr_dataset_free(ds);
    dctr_model_free(small);
    dctr_model_free(full);
}

/* Hand-computed table: bins [0, .5) and [.5, 1]. */
static void test_ece_table(void **state) {
    (void)state;
    const float y[6] = {0, 0, 1, 1, 1, 0}, p[6] = {0.1f, 0.3f, 0.2f, 0.9f, 0.7f, 1.0f};
    const float w[6] = {1, 1, 2, 1, 1, 1};
    dctr_reliability_bin b[2];
    double ece;
    assert_int_equal(dctr_calibration_table(y, p, NULL, 6, 2, b, &ece), DCTR_OK);
    assert_int_equal(b[0].count, 3);
    assert_int_equal(b[1].count, 3); /* 1.0 falls in the last bin */
    assert_float_equal(b[0].mean_prediction, 0.2, 1e-6);
    assert_float_equal(b[0].observed_rate, 1.0 / 3.0, 1e-12);
    assert_float_equal(b[1].mean_prediction, 2.6 / 3.0, 1e-6);
    assert_float_equal(ece, 0.5 * fabs(0.2 - 1.0 / 3) + 0.5 * fabs(2.6 / 3 - 2.0 / 3), 1e-6);
    assert_int_equal(dctr_calibration_table(y, p, w, 6, 2, b, &ece), DCTR_OK);
    assert_float_equal(b[0].weight, 4.0, 1e-12);
    assert_float_equal(b[0].mean_prediction, (0.1 + 0.3 + 0.4) / 4, 1e-6);
    assert_float_equal(b[0].observed_rate, 0.5, 1e-12);
    assert_int_equal(dctr_calibration_table(y, p, NULL, 6, 0, b, &ece), DCTR_ERR_INVALID_ARG);
}

/* One all-missing row through dctr_predictor_predict_row. */
static float predict_missing_row(const dctr_model *m) {
    const dctr_schema *sc = dctr_model_schema(m);
    int32_t nc = dctr_schema_num_columns(sc);
    const char *names[NDENSE + NSPARSE], *values[NDENSE + NSPARSE];
    for (int32_t i = 0; i < nc; i++) {
        names[i] = dctr_schema_column_name(sc, i);
        values[i] = "";
    }
    dctr_predictor *pr = NULL;
    float out = -1;
    assert_int_equal(dctr_predictor_new(m, 4, &pr), DCTR_OK);
    assert_int_equal(dctr_predictor_predict_row(pr, names, values, nc, &out), DCTR_OK);
    dctr_predictor_free(pr);
    return out;
}

static double expected(double p, double a, double b, double rate) {
    double z = log(p) - log1p(-p);
    return 1.0 / (1.0 + exp(-(a * (z + log(rate)) + b)));
}

/* Every predict path (dataset, predictor batch, logits, one raw row) returns the same calibrated
 * value; save + load keeps the calibration. */
static void test_paths_and_file(void **state) {
    (void)state;
    dctr_model *m = train_fm(fx.test); /* small and quick: the values do not matter here */
    const dctr_batch *rows = dctr_dataset_rows(fx.test);
    int64_t n = dctr_dataset_num_rows(fx.test);
    float *plain = malloc(sizeof(float) * (size_t)n), *a = malloc(sizeof(float) * (size_t)n);
    float *prob = malloc(sizeof(float) * (size_t)n), *logit = malloc(sizeof(float) * (size_t)n);
    assert_int_equal(dctr_model_predict(m, fx.test, plain), DCTR_OK);
    float plain_row = predict_missing_row(m);
    assert_int_equal(dctr_model_set_negative_rate(m, 0.25), DCTR_OK);
    assert_int_equal(dctr_model_set_negative_rate(m, 0.0), DCTR_ERR_INVALID_ARG);
    assert_int_equal(dctr_model_calibrate_platt(m, fx.test, 1.0), DCTR_OK);
    double pa, pb;
    assert_int_equal(dctr_model_get_platt(m, &pa, &pb), 1);
    assert_int_equal(dctr_model_predict(m, fx.test, a), DCTR_OK);
    for (int64_t i = 0; i < n; i++)
        assert_true(fabs(a[i] - expected(plain[i], pa, pb, 0.25)) < 1e-5);
    assert_true(fabs(predict_missing_row(m) - expected(plain_row, pa, pb, 0.25)) < 1e-6);

    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    dctr_model *back = NULL;
    assert_int_equal(dctr_model_load_from_memory(buf, size, &back), DCTR_OK);
    assert_float_equal(dctr_model_get_negative_rate(back), 0.25, 0);
    double ba, bb;
    assert_int_equal(dctr_model_get_platt(back, &ba, &bb), 1);
    assert_true(ba == pa && bb == pb);
    dctr_predictor *pr = NULL;
    assert_int_equal(dctr_predictor_new(back, 100, &pr), DCTR_OK);
    assert_int_equal(dctr_predictor_run(pr, rows, prob), DCTR_OK);
    for (int64_t i = 0; i < n; i++)
        assert_true(prob[i] == a[i]);
    assert_int_equal(dctr_predictor_run_logit(pr, rows, prob, logit), DCTR_OK);
    for (int64_t i = 0; i < n; i++) {
        assert_true(fabs(prob[i] - a[i]) < 1e-5);
        assert_true(fabs(1.0 / (1.0 + exp(-(double)logit[i])) - prob[i]) < 1e-6);
    }
    dctr_predictor_free(pr);
    /* Platt fitted on the test rows themselves leaves them well calibrated */
    double ece;
    assert_int_equal(dctr_model_calibration(back, fx.test, 10, NULL, &ece), DCTR_OK);
    assert_true(ece < 0.02);
    dctr_model_clear_platt(back);
    assert_int_equal(dctr_model_get_platt(back, NULL, NULL), 0);
    /* a model never calibrated writes no "calib" section: its file is the older format */
    dctr_model_clear_platt(m);
    assert_int_equal(dctr_model_set_negative_rate(m, 1.0), DCTR_OK);
    void *buf2 = NULL;
    size_t size2 = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf2, &size2), DCTR_OK);
    assert_true(size2 < size);
    dctr_free_buffer(buf2);
    dctr_free_buffer(buf);
    dctr_model_free(back);
    dctr_model_free(m);
    free(plain);
    free(a);
    free(prob);
    free(logit);
}

/* Platt scaling on full-distribution rows learns the down-sampling shift by itself (b near
 * ln 0.1, a near 1); on rows down-sampled like the training rows it learns almost nothing on
 * top of the rate correction. */
static void test_platt_learns_shift(void **state) {
    (void)state;
    dctr_dataset *ds = NULL, *dv = NULL;
    assert_int_equal(dctr_dataset_downsample_negatives(fx.train, 0.1, 5, &ds), DCTR_OK);
    dctr_model *m = train_fm(ds);
    assert_int_equal(dctr_model_calibrate_platt(m, fx.test, 1.0), DCTR_OK);
    double a, b;
    assert_int_equal(dctr_model_get_platt(m, &a, &b), 1);
    print_message("Platt on full rows: a %.4f b %.4f (ln 0.1 = %.4f)\n", a, b, log(0.1));
    assert_true(fabs(a - 1.0) < 0.2 && fabs(b - log(0.1)) < 0.4);
    assert_int_equal(dctr_model_set_negative_rate(m, 0.1), DCTR_OK);
    assert_int_equal(dctr_dataset_downsample_negatives(fx.test, 0.1, 6, &dv), DCTR_OK);
    assert_int_equal(dctr_model_calibrate_platt(m, dv, 0.1), DCTR_OK);
    assert_int_equal(dctr_model_get_platt(m, &a, &b), 1);
    print_message("Platt on down-sampled rows after the correction: a %.4f b %.4f\n", a, b);
    assert_true(fabs(a - 1.0) < 0.2 && fabs(b) < 0.3);
    double ece;
    assert_int_equal(dctr_model_calibration(m, fx.test, 10, NULL, &ece), DCTR_OK);
    assert_true(ece <= 0.015);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_dataset_free(dv);
}

/* A copy of the model file `data` whose "calib" section is replaced by the given fields
 * (version, rate, platt flag, a, b; truncated after `fields` of them). */
static void forge_calib(const void *data, size_t size, uint32_t version, double rate, uint32_t platt,
                        double a, double b, int fields, void **out, size_t *out_size) {
    dctr_container *c = NULL;
    assert_int_equal(dctr_container_from_memory(data, size, &c), DCTR_OK);
    dctr_container_writer *cw = NULL;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    for (size_t i = 0; i < dctr_container_count(c); i++) {
        const char *name = dctr_container_name_at(c, i);
        dctr_wbuf w;
        dctr_wbuf_init(&w);
        if (strcmp(name, "calib") == 0) {
            dctr_wbuf_u32(&w, version);
            if (fields > 1)
                dctr_wbuf_f64(&w, rate);
            if (fields > 2)
                dctr_wbuf_u32(&w, platt);
            if (fields > 3)
                dctr_wbuf_f64(&w, a);
            if (fields > 4)
                dctr_wbuf_f64(&w, b);
        } else {
            dctr_rbuf r;
            assert_int_equal(dctr_container_section(c, name, &r), DCTR_OK);
            dctr_wbuf_bytes(&w, r.data, r.len);
        }
        assert_int_equal(dctr_cw_add(cw, name, &w), DCTR_OK);
        dctr_wbuf_free(&w);
    }
    assert_int_equal(dctr_cw_to_memory(cw, out, out_size), DCTR_OK);
    dctr_cw_free(cw);
    dctr_container_free(c);
}

/* The "calib" load path rejects every inconsistent value with DCTR_ERR_FORMAT. */
static void test_calib_section_checked(void **state) {
    (void)state;
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_LR);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(fx.schema, &cfg, &m), DCTR_OK);
    assert_int_equal(dctr_model_set_negative_rate(m, 0.5), DCTR_OK);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    static const struct {
        uint32_t version;
        double rate;
        uint32_t platt;
        double a, b;
        int fields;
        dctr_status want;
    } cases[] = {
        {1, 0.25, 1, 2.0, -1.0, 5, DCTR_OK},
        {2, 0.25, 0, 1.0, 0.0, 5, DCTR_ERR_FORMAT},
        {1, 0.0, 0, 1.0, 0.0, 5, DCTR_ERR_FORMAT},
        {1, 1.5, 0, 1.0, 0.0, 5, DCTR_ERR_FORMAT},
        {1, NAN, 0, 1.0, 0.0, 5, DCTR_ERR_FORMAT},
        {1, 0.5, 2, 1.0, 0.0, 5, DCTR_ERR_FORMAT},
        {1, 0.5, 1, INFINITY, 0.0, 5, DCTR_ERR_FORMAT},
        {1, 0.5, 1, 1.0, NAN, 5, DCTR_ERR_FORMAT},
        {1, 0.5, 1, 1.0, 0.0, 4, DCTR_ERR_FORMAT},
        {1, 0.5, 1, 1.0, 0.0, 1, DCTR_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *forged = NULL;
        size_t fsize = 0;
        forge_calib(buf, size, cases[i].version, cases[i].rate, cases[i].platt, cases[i].a, cases[i].b,
                    cases[i].fields, &forged, &fsize);
        dctr_model *back = NULL;
        dctr_status st = dctr_model_load_from_memory(forged, fsize, &back);
        if (st != cases[i].want)
            fail_msg("case %zu: status %d (%s)", i, (int)st, dctr_last_error());
        if (st == DCTR_OK) {
            double a, b;
            assert_float_equal(dctr_model_get_negative_rate(back), 0.25, 0);
            assert_int_equal(dctr_model_get_platt(back, &a, &b), 1);
            assert_true(a == 2.0 && b == -1.0);
        } else {
            assert_null(back);
        }
        dctr_model_free(back);
        dctr_free_buffer(forged);
    }
    dctr_free_buffer(buf);
    dctr_model_free(m);
}

/* Isotonic: in-sample it is calibrated by construction; it survives save + load, every path
 * applies it, and Platt scaling replaces it. A forged section is rejected. */
static void test_isotonic(void **state) {
    (void)state;
    dctr_dataset *ds = NULL;
    assert_int_equal(dctr_dataset_downsample_negatives(fx.train, 0.1, 5, &ds), DCTR_OK);
    dctr_model *m = train_fm(ds);
    assert_int_equal(dctr_model_calibrate_isotonic(m, fx.test, 1.0), DCTR_OK);
    int32_t points = dctr_model_isotonic_points(m);
    double ece;
    assert_int_equal(dctr_model_calibration(m, fx.test, 10, NULL, &ece), DCTR_OK);
    print_message("isotonic on the test rows: %d points, in-sample ECE %.5f\n", points, ece);
    assert_true(points > 5 && ece < 0.003);
    int64_t n = dctr_dataset_num_rows(fx.test);
    float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
    float *logit = malloc(sizeof(float) * (size_t)n);
    assert_int_equal(dctr_model_predict(m, fx.test, a), DCTR_OK);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    dctr_model *back = NULL;
    assert_int_equal(dctr_model_load_from_memory(buf, size, &back), DCTR_OK);
    assert_int_equal(dctr_model_isotonic_points(back), points);
    dctr_predictor *pr = NULL;
    assert_int_equal(dctr_predictor_new(back, 64, &pr), DCTR_OK);
    assert_int_equal(dctr_predictor_run_logit(pr, dctr_dataset_rows(fx.test), b, logit), DCTR_OK);
    double maxd = 0;
    for (int64_t i = 0; i < n; i++) {
        /* the dataset path inverts a float probability, the logit path has the exact logit: the
         * map's steepest segments magnify that rounding */
        if (fabs(a[i] - b[i]) > maxd) maxd = fabs(a[i] - b[i]);
        assert_true(fabs(a[i] - b[i]) < 2e-5);
        assert_true(a[i] >= 1e-7f && a[i] <= 1.0f - 1e-7f);
        assert_true(fabs(1.0 / (1.0 + exp(-(double)logit[i])) - b[i]) < 1e-6);
    }
    dctr_predictor_free(pr);
    print_message("largest difference between the dataset and logit paths: %.2e\n", maxd);
    assert_int_equal(dctr_model_calibrate_platt(back, fx.test, 1.0), DCTR_OK);
    assert_int_equal(dctr_model_isotonic_points(back), 0);
    assert_int_equal(dctr_model_calibrate_isotonic(back, fx.test, 1.0), DCTR_OK);
    assert_int_equal(dctr_model_get_platt(back, NULL, NULL), 0);
    dctr_model_clear_isotonic(back);
    assert_int_equal(dctr_model_isotonic_points(back), 0);
    dctr_free_buffer(buf);
    dctr_model_free(back);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    free(a);
    free(b);
    free(logit);
}

/* The isotonic section's checks: points out of order or range, counts beyond the bytes. */
static void test_isotonic_section_checked(void **state) {
    (void)state;
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_LR);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(fx.schema, &cfg, &m), DCTR_OK);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    static const struct {
        uint32_t n_claimed;
        double x[3], y[3];
        int n;
        dctr_status want;
    } cases[] = {
        {3, {0.1, 0.5, 0.9}, {0.05, 0.4, 0.95}, 3, DCTR_OK},
        {3, {0.1, 0.5, 0.5}, {0.05, 0.4, 0.95}, 3, DCTR_ERR_FORMAT},
        {3, {0.1, 0.5, 0.9}, {0.05, 0.4, 0.3}, 3, DCTR_ERR_FORMAT},
        {3, {0.1, 0.5, 1.5}, {0.05, 0.4, 0.95}, 3, DCTR_ERR_FORMAT},
        {3, {0.1, NAN, 0.9}, {0.05, 0.4, 0.95}, 3, DCTR_ERR_FORMAT},
        {3, {0.1, 0.5, 0.9}, {-0.1, 0.4, 0.95}, 3, DCTR_ERR_FORMAT},
        {4, {0.1, 0.5, 0.9}, {0.05, 0.4, 0.95}, 3, DCTR_ERR_FORMAT},
        {0, {0.1, 0.5, 0.9}, {0.05, 0.4, 0.95}, 0, DCTR_ERR_FORMAT},
        {0xffffffffu, {0.1, 0.5, 0.9}, {0.05, 0.4, 0.95}, 3, DCTR_ERR_FORMAT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        dctr_container *c = NULL;
        assert_int_equal(dctr_container_from_memory(buf, size, &c), DCTR_OK);
        dctr_container_writer *cw = NULL;
        assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
        dctr_wbuf w;
        for (size_t i = 0; i < dctr_container_count(c); i++) {
            dctr_rbuf r;
            assert_int_equal(dctr_container_section(c, dctr_container_name_at(c, i), &r), DCTR_OK);
            dctr_wbuf_init(&w);
            dctr_wbuf_bytes(&w, r.data, r.len);
            assert_int_equal(dctr_cw_add(cw, dctr_container_name_at(c, i), &w), DCTR_OK);
            dctr_wbuf_free(&w);
        }
        dctr_wbuf_init(&w);
        dctr_wbuf_u32(&w, 1);
        dctr_wbuf_u32(&w, cases[k].n_claimed);
        for (int i = 0; i < cases[k].n; i++)
            dctr_wbuf_f64(&w, cases[k].x[i]);
        for (int i = 0; i < cases[k].n; i++)
            dctr_wbuf_f64(&w, cases[k].y[i]);
        assert_int_equal(dctr_cw_add(cw, "calib/isotonic", &w), DCTR_OK);
        dctr_wbuf_free(&w);
        void *forged = NULL;
        size_t fsize = 0;
        assert_int_equal(dctr_cw_to_memory(cw, &forged, &fsize), DCTR_OK);
        dctr_cw_free(cw);
        dctr_container_free(c);
        dctr_model *back = NULL;
        dctr_status st = dctr_model_load_from_memory(forged, fsize, &back);
        if (st != cases[k].want)
            fail_msg("case %zu: status %d (%s)", k, (int)st, dctr_last_error());
        if (st == DCTR_OK) {
            assert_int_equal(dctr_model_isotonic_points(back), 3);
            float p = predict_missing_row(back); /* through the map: within its range */
            assert_true(p >= 0.05f && p <= 0.95f);
        }
        dctr_model_free(back);
        dctr_free_buffer(forged);
    }
    dctr_free_buffer(buf);
    dctr_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ece_table),
        cmocka_unit_test(test_calib_section_checked),
        cmocka_unit_test(test_downsampled_matches_full),
        cmocka_unit_test(test_paths_and_file),
        cmocka_unit_test(test_platt_learns_shift),
        cmocka_unit_test(test_isotonic),
        cmocka_unit_test(test_isotonic_section_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
