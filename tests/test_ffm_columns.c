/* FFM through feature columns: dctr_model_new(DCTR_MODEL_FFM) + the generic fit loop on frappe's
 * CSV, save/load, a hand check of the sparse / dense / varlen(mean) mapping, and the refusals
 * (varlen max pooling, DeepFFM, predicting a libffm-native model through the schema path). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/deepctr.h"
#include "dfm_fixture.h"
#include "io/container.h"
#include "models/ffm/ffm.h"
#include "test_env.h"

static const char *const frappe_cols[] = {"user", "item", "daytime", "weekday", "isweekend",
                                          "homework", "cost", "weather", "country", "city"};

static dctr_dataset *read_csv(dctr_schema *s, const char *rel, int fit) {
    char path[1024];
    dctr_test_data_path(path, sizeof path, rel);
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    if (fit && dctr_schema_fit_csv(s, path, &o) != DCTR_OK)
        fail_msg("fit_csv: %s", dctr_last_error());
    dctr_dataset *ds = NULL;
    if (dctr_dataset_read_csv(s, path, &o, &ds) != DCTR_OK)
        fail_msg("read_csv: %s", dctr_last_error());
    return ds;
}

static void test_frappe_csv_fit(void **state) {
    (void)state;
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    for (int i = 0; i < 10; i++) {
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, frappe_cols[i]);
        f.dtype = DCTR_DTYPE_STRING;
        f.vocabulary_size = DCTR_VOCAB_FIT;
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    }
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    dctr_dataset *tr = read_csv(s, "frappe/frappe.train.csv", 1);
    dctr_dataset *va = read_csv(s, "frappe/frappe.test.csv", 0);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FFM);
    cfg.ffm_linear = 0;
    cfg.ffm_k = 4;
    cfg.l2_embedding = 2e-5f;
    dctr_model *m;
    if (dctr_model_new(s, &cfg, &m) != DCTR_OK)
        fail_msg("model_new: %s", dctr_last_error());
    assert_false(dctr_ffm_is_native(m));
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 3;
    o.batch_size = 256;
    o.validation = va;
    dctr_history h;
    if (dctr_model_fit(m, tr, &o, &h) != DCTR_OK)
        fail_msg("fit: %s", dctr_last_error());
    double ll = h.valid[2 * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS];
    double auc = h.valid[2 * DCTR_METRIC_COUNT + DCTR_METRIC_AUC];
    print_message("feature-column FFM on frappe CSV, epoch 3: val logloss %.5f AUC %.4f (libffm-native ~0.292)\n",
                  ll, auc);
    assert_true(ll < 0.30);
    assert_true(auc > 0.925);
    dctr_history_free(&h);

    /* save / load: bit-identical predictions */
    void *buf;
    size_t size;
    assert_int_equal(dctr_model_save_to_memory(m, 1, &buf, &size), DCTR_OK);
    dctr_model *m2;
    if (dctr_model_load_from_memory(buf, size, &m2) != DCTR_OK)
        fail_msg("load: %s", dctr_last_error());
    int64_t n = dctr_dataset_num_rows(va);
    float *p1 = test_malloc((size_t)n * sizeof(float)), *p2 = test_malloc((size_t)n * sizeof(float));
    assert_int_equal(dctr_model_predict(m, va, p1), DCTR_OK);
    assert_int_equal(dctr_model_predict(m2, va, p2), DCTR_OK);
    assert_memory_equal(p1, p2, (size_t)n * sizeof(float));
    /* the libffm-native entry points refuse a feature-column model */
    assert_int_equal(dctr_ffm_predict(m, NULL, p1), DCTR_ERR_UNSUPPORTED);
    test_free(p1);
    test_free(p2);
    dctr_free_buffer(buf);
    dctr_model_free(m2);
    dctr_model_free(m);
    dctr_dataset_free(tr);
    dctr_dataset_free(va);
    dctr_schema_free(s);
}

static dctr_schema *frappe_schema(void) {
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    for (int i = 0; i < 10; i++) {
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, frappe_cols[i]);
        f.dtype = DCTR_DTYPE_STRING;
        f.vocabulary_size = DCTR_VOCAB_FIT;
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    }
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    return s;
}

/* DeepFFM = FFM + DNN on the pair values: trains with the generic fit loop, at least as well as
 * FFM on frappe, and round-trips through the model file bit-exactly. Also FFM with 2 threads. */
static void test_deepffm_and_threads(void **state) {
    (void)state;
    dctr_schema *s = frappe_schema();
    dctr_dataset *tr = read_csv(s, "frappe/frappe.train.csv", 1);
    dctr_dataset *va = read_csv(s, "frappe/frappe.test.csv", 0);
    const int32_t hidden[2] = {64, 32};
    double auc[2];
    for (int deep = 0; deep <= 1; deep++) {
        dctr_model_config cfg;
        dctr_model_config_default(&cfg, deep ? DCTR_MODEL_DEEPFFM : DCTR_MODEL_FFM);
        cfg.ffm_linear = 0;
        cfg.l2_embedding = 2e-5f;
        if (deep) {
            cfg.hidden_units = hidden;
            cfg.num_hidden = 2;
            cfg.optimizer.kind = DCTR_OPT_ADAM;
            cfg.optimizer.learning_rate = 1e-3;
        }
        dctr_model *m;
        if (dctr_model_new(s, &cfg, &m) != DCTR_OK)
            fail_msg("model_new: %s", dctr_last_error());
        dctr_fit_options o;
        dctr_fit_options_default(&o);
        o.epochs = 3;
        o.batch_size = 256;
        o.validation = va;
        o.threads = deep ? 1 : 2;
        dctr_history h;
        if (dctr_model_fit(m, tr, &o, &h) != DCTR_OK)
            fail_msg("fit: %s", dctr_last_error());
        auc[deep] = h.valid[2 * DCTR_METRIC_COUNT + DCTR_METRIC_AUC];
        print_message("%s: epoch 3 val logloss %.5f AUC %.4f\n", deep ? "DeepFFM (64-32)" : "FFM 2 threads",
                      h.valid[2 * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS], auc[deep]);
        dctr_history_free(&h);
        assert_true(auc[deep] > 0.92);
        if (deep) {
            assert_int_equal(dctr_model_get_type(m), DCTR_MODEL_DEEPFFM);
            void *buf;
            size_t size;
            assert_int_equal(dctr_model_save_to_memory(m, 1, &buf, &size), DCTR_OK);
            dctr_model *m2;
            if (dctr_model_load_from_memory(buf, size, &m2) != DCTR_OK)
                fail_msg("load: %s", dctr_last_error());
            int64_t n = dctr_dataset_num_rows(va);
            float *p1 = test_malloc((size_t)n * sizeof(float)), *p2 = test_malloc((size_t)n * sizeof(float));
            assert_int_equal(dctr_model_predict(m, va, p1), DCTR_OK);
            assert_int_equal(dctr_model_predict(m2, va, p2), DCTR_OK);
            assert_memory_equal(p1, p2, (size_t)n * sizeof(float));
            assert_int_equal(dctr_model_num_parameters(m2), dctr_model_num_parameters(m));
            /* a truncated DNN section is rejected */
            dctr_model *m3 = NULL;
            assert_int_not_equal(dctr_model_load_from_memory(buf, size - 9, &m3), DCTR_OK);
            assert_null(m3);
            test_free(p1);
            test_free(p2);
            dctr_free_buffer(buf);
            dctr_model_free(m2);
        }
        dctr_model_free(m);
    }
    assert_true(auc[1] > auc[0] - 0.005);
    dctr_dataset_free(tr);
    dctr_dataset_free(va);
    dctr_schema_free(s);
}

static dctr_schema *mixed_schema(dctr_combiner comb) {
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat a;
    dctr_sparse_feat_default(&a, "a");
    a.vocabulary_size = 3;
    assert_int_equal(dctr_schema_add_sparse(s, &a), DCTR_OK);
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "d");
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "v", 3);
    v.sparse.vocabulary_size = 5;
    v.combiner = comb;
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(dctr_schema_fit_none(s), DCTR_OK);
    return s;
}

static const float *vec(const dctr_ffm_impl *impl, int col, int64_t id, int field) {
    return impl->w.W + (size_t)(impl->cols[col].offset + id) * impl->w.row + (size_t)field * impl->w.blk;
}

static double dot(const float *x, const float *y, int k) {
    double s = 0;
    for (int i = 0; i < k; i++)
        s += (double)x[i] * y[i];
    return s;
}

static void test_mapping_by_hand(void **state) {
    (void)state;
    dctr_schema *s = mixed_schema(DCTR_COMBINER_MEAN);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FFM);
    cfg.ffm_linear = 0;
    cfg.ffm_k = 3;
    dctr_model *m;
    if (dctr_model_new(s, &cfg, &m) != DCTR_OK)
        fail_msg("model_new: %s", dctr_last_error());
    const dctr_ffm_impl *impl = m->impl;
    assert_int_equal(impl->w.m, 3);
    assert_int_equal(impl->w.n, 3 + 5 + 1);
    dctr_batch *b;
    assert_int_equal(dctr_batch_new(dctr_model_schema(m), 2, &b), DCTR_OK);
    assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "a", "2"), DCTR_OK);
    assert_int_equal(dctr_batch_set_number(b, "d", 0.5), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "v", "1|4"), DCTR_OK);
    assert_int_equal(dctr_batch_end_row(b), DCTR_OK);
    float p;
    assert_int_equal(dctr_model_predict_batch(m, b, &p), DCTR_OK);
    /* by hand: e_v[f] = (W[v,1][f] + W[v,4][f]) / 2; r = 1 / (1 + 0.5^2 + 2 * 0.5^2) */
    const int k = 3;
    double ev_a[3], ev_d[3];
    for (int i = 0; i < k; i++) {
        ev_a[i] = (vec(impl, 2, 1, 0)[i] + vec(impl, 2, 4, 0)[i]) / 2;
        ev_d[i] = (vec(impl, 2, 1, 1)[i] + vec(impl, 2, 4, 1)[i]) / 2;
    }
    float ea_v[3], ed_v[3];
    for (int i = 0; i < k; i++) {
        ea_v[i] = vec(impl, 0, 2, 2)[i];
        ed_v[i] = vec(impl, 1, 0, 2)[i];
    }
    double phi = dot(vec(impl, 0, 2, 1), vec(impl, 1, 0, 0), k) * 0.5;
    for (int i = 0; i < k; i++)
        phi += ea_v[i] * ev_a[i] + ed_v[i] * 0.5 * ev_d[i];
    phi /= 1.0 + 0.25 + 2 * 0.25;
    double want = 1.0 / (1.0 + exp(-phi));
    print_message("mapping: predicted %.7f, by hand %.7f\n", p, want);
    assert_true(fabs(p - want) < 1e-6);
    /* the loader's pre-allocation check: the saved section fits this schema, not a k=400 one */
    void *buf;
    size_t size;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    dctr_container *c;
    assert_int_equal(dctr_container_from_memory(buf, size, &c), DCTR_OK);
    assert_int_equal(dctr_ffm_check_sections(m->schema, &m->cfg, c), DCTR_OK);
    dctr_model_config big = m->cfg;
    big.ffm_k = 400;
    assert_int_equal(dctr_ffm_check_sections(m->schema, &big, c), DCTR_ERR_FORMAT);
    dctr_container_free(c);
    dctr_free_buffer(buf);
    dctr_batch_free(b);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static double row_loss(const dctr_model *m, const dctr_batch *b, float y) {
    float p;
    assert_int_equal(dctr_model_predict_batch(m, b, &p), DCTR_OK);
    return y > 0 ? -log((double)p) : -log(1.0 - (double)p);
}

/* FFM / DeepFFM backward: with accumulators at 1e12 and eta 1e6 one train_step moves every FFM weight
 * by -dloss/dw; compare with central differences of the inference loss, on a row with sparse,
 * dense and varlen(sum) fields and a tanh DNN. */
static void gradient_check(dctr_model_type type) {
    dctr_schema *s = mixed_schema(DCTR_COMBINER_SUM);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, type);
    const int32_t hidden[1] = {5};
    cfg.hidden_units = hidden;
    cfg.num_hidden = 1;
    cfg.activation = DCTR_ACT_TANH;
    cfg.ffm_linear = 0;
    cfg.ffm_k = 3;
    cfg.l2_embedding = 0;
    dctr_model *m;
    if (dctr_model_new(s, &cfg, &m) != DCTR_OK)
        fail_msg("model_new: %s", dctr_last_error());
    dctr_ffm_impl *impl = m->impl;
    impl->eta = 1e6f;
    impl->lambda = 0;
    /* larger weights than the init so the DNN path matters */
    for (size_t i = 0; i < (size_t)impl->w.n * impl->w.m; i++)
        for (int d = 0; d < impl->w.kp; d++) {
            float *blk = impl->w.W + i * impl->w.blk;
            if (d < impl->w.k)
                blk[d] = 2.0f * blk[d] - 0.5f;
            blk[impl->w.kp + d] = 1e12f;
        }
    dctr_batch *b;
    assert_int_equal(dctr_batch_new(dctr_model_schema(m), 1, &b), DCTR_OK);
    assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "a", "1"), DCTR_OK);
    assert_int_equal(dctr_batch_set_number(b, "d", 0.7), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "v", "2|3"), DCTR_OK);
    assert_int_equal(dctr_batch_set_label(b, 1.0f), DCTR_OK);
    assert_int_equal(dctr_batch_end_row(b), DCTR_OK);
    /* the touched blocks: (column, id, target field) */
    const int blocks[8][3] = {{0, 1, 1}, {0, 1, 2}, {1, 0, 0}, {1, 0, 2},
                              {2, 2, 0}, {2, 2, 1}, {2, 3, 0}, {2, 3, 1}};
    double numeric[8][3];
    for (int i = 0; i < 8; i++)
        for (int d = 0; d < 3; d++) {
            float *w = (float *)vec(impl, blocks[i][0], blocks[i][1], blocks[i][2]) + d;
            float save = *w;
            const float h = 1e-2f;
            *w = save + h;
            double up = row_loss(m, b, 1.0f);
            *w = save - h;
            double down = row_loss(m, b, 1.0f);
            *w = save;
            numeric[i][d] = (up - down) / (2 * h);
        }
    float before[8][3];
    for (int i = 0; i < 8; i++)
        memcpy(before[i], vec(impl, blocks[i][0], blocks[i][1], blocks[i][2]), sizeof before[i]);
    double dl, rl;
    assert_int_equal(m->ops->train_step(m, b, &dl, &rl, NULL), DCTR_OK);
    double worst = 0;
    for (int i = 0; i < 8; i++)
        for (int d = 0; d < 3; d++) {
            double analytic = before[i][d] - vec(impl, blocks[i][0], blocks[i][1], blocks[i][2])[d];
            double err = fabs(analytic - numeric[i][d]) / (1e-3 + fabs(numeric[i][d]));
            if (err > worst)
                worst = err;
            if (err > 2e-2)
                fail_msg("block %d factor %d: analytic %.6g numeric %.6g", i, d, analytic, numeric[i][d]);
        }
    print_message("%s gradient check: worst relative error %.2g\n", type == DCTR_MODEL_FFM ? "FFM" : "DeepFFM", worst);
    dctr_batch_free(b);
    dctr_model_free(m);
    dctr_schema_free(s);
}

static void test_gradient_check_ffm_and_deepffm(void **state) {
    (void)state;
    gradient_check(DCTR_MODEL_FFM);
    gradient_check(DCTR_MODEL_DEEPFFM);
}

static void test_refusals(void **state) {
    (void)state;
    dctr_schema *s = mixed_schema(DCTR_COMBINER_MAX);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FFM);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_UNSUPPORTED);
    assert_non_null(strstr(dctr_last_error(), "v: FFM pools a varlen column with sum or mean"));
    assert_null(m);
    dctr_schema_free(s);
    s = mixed_schema(DCTR_COMBINER_SUM);
    dctr_model_config_default(&cfg, DCTR_MODEL_FFM);
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_model_free(m);
    dctr_schema_free(s);
}

/* Plain schemas (sparse + 1-d dense columns) run through libffm's pair kernels; the pooled
 * kernels compute the same function and the same per-block AdaGrad steps (each block meets one
 * pair), so the two agree to float rounding, before and after training. */
static void test_plain_schema_native_kernels_match_pooled(void **state) {
    (void)state;
    const fx_col cols[] = {
        {.name = "a", .kind = DCTR_COLUMN_SPARSE, .vocab = 50, .k = 4},
        {.name = "b", .kind = DCTR_COLUMN_SPARSE, .vocab = 30, .k = 4},
        {.name = "c", .kind = DCTR_COLUMN_SPARSE, .vocab = 7, .k = 4},
        {.name = "d", .kind = DCTR_COLUMN_SPARSE, .vocab = 100, .k = 4},
        {.name = "x", .kind = DCTR_COLUMN_DENSE},
        {.name = "y", .kind = DCTR_COLUMN_DENSE},
    };
    dctr_schema *s = fx_schema(cols, 6);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FFM);
    cfg.ffm_k = 4;
    cfg.ffm_linear = 1;
    dctr_model *native = fx_model(s, &cfg), *pooled = fx_model(s, &cfg);
    assert_int_equal(((dctr_ffm_impl *)native->impl)->pair_kernel, 1);
    ((dctr_ffm_impl *)pooled->impl)->pair_kernel = 0; /* force the pooled kernels */
    dctr_batch *tb = fx_batch(s, 400, 3, 0, 0), *eb = fx_batch(s, 100, 4, 0, 0);
    dctr_dataset *train = fx_dataset(s, tb);
    float p1[100], p2[100];
    for (int round = 0; round < 2; round++) {
        assert_int_equal(dctr_model_predict_batch(native, eb, p1), DCTR_OK);
        assert_int_equal(dctr_model_predict_batch(pooled, eb, p2), DCTR_OK);
        for (int i = 0; i < 100; i++)
            if (!(fabsf(p1[i] - p2[i]) <= 1e-5f))
                fail_msg("round %d row %d: native %.8g pooled %.8g", round, i, (double)p1[i],
                         (double)p2[i]);
        if (round == 1)
            break;
        dctr_fit_options o;
        dctr_fit_options_default(&o);
        o.epochs = 3;
        o.batch_size = 32;
        assert_int_equal(dctr_model_fit(native, train, &o, NULL), DCTR_OK);
        assert_int_equal(dctr_model_fit(pooled, train, &o, NULL), DCTR_OK);
    }
    /* training moved the predictions (the check above is not on untouched weights) */
    float p0[100];
    dctr_model *fresh = fx_model(s, &cfg);
    assert_int_equal(dctr_model_predict_batch(fresh, eb, p0), DCTR_OK);
    double moved = 0;
    for (int i = 0; i < 100; i++)
        moved += fabs((double)p0[i] - p1[i]);
    assert_true(moved / 100 > 1e-3);
    /* varlen or multi-dimensional dense columns keep the pooled kernels */
    const fx_col mixed[] = {
        {.name = "a", .kind = DCTR_COLUMN_SPARSE, .vocab = 50, .k = 4},
        {.name = "v", .kind = DCTR_COLUMN_DENSE, .dense_dim = 3},
    };
    dctr_schema *s2 = fx_schema(mixed, 2);
    dctr_model *m2 = fx_model(s2, &cfg);
    assert_int_equal(((dctr_ffm_impl *)m2->impl)->pair_kernel, 0);
    dctr_model_free(m2);
    dctr_schema_free(s2);
    dctr_model_free(fresh);
    dctr_model_free(native);
    dctr_model_free(pooled);
    dctr_batch_free(eb);
    dctr_dataset_free(train);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frappe_csv_fit),
        cmocka_unit_test(test_deepffm_and_threads),
        cmocka_unit_test(test_mapping_by_hand),
        cmocka_unit_test(test_gradient_check_ffm_and_deepffm),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_plain_schema_native_kernels_match_pooled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
