/* ctest-label: threads. FFM model files: save/load gives bit-identical predictions (with and without the AdaGrad
 * state), streamed prediction equals in-memory prediction, and corrupted "ffm.params" /
 * "ffm.opt" sections are rejected with DCTR_ERR_FORMAT before anything large is allocated. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "threads.h"

#include "deepctr/deepctr.h"
#include "core/alloc.h"
#include "io/container.h"
#include "models/ffm/ffm.h"
#include "test_env.h"

static dctr_ffm_data *small_train(void) {
    char path[512];
    dctr_ffm_data *d;
    assert_int_equal(dctr_ffm_data_read(dctr_test_data_path(path, sizeof path, "criteo-ffm-small/small_train.txt"),
                                        NULL, &d), DCTR_OK);
    return d;
}

static dctr_model *trained(dctr_ffm_data *d, int use_linear) {
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    o.epochs = 3;
    o.model.ffm_linear = use_linear;
    dctr_model *m;
    assert_int_equal(dctr_ffm_train(d, NULL, &o, NULL, NULL, &m), DCTR_OK);
    return m;
}

static void test_save_load_bit_exact(void **state) {
    (void)state;
    dctr_ffm_data *d = small_train();
    for (int lin = 0; lin <= 1; lin++)
        for (int with_opt = 0; with_opt <= 1; with_opt++) {
            dctr_model *m = trained(d, lin);
            void *buf;
            size_t size;
            assert_int_equal(dctr_model_save_to_memory(m, with_opt, &buf, &size), DCTR_OK);
            dctr_model *m2;
            if (dctr_model_load_from_memory(buf, size, &m2) != DCTR_OK)
                fail_msg("load: %s", dctr_last_error());
            assert_true(dctr_ffm_is_native(m2));
            assert_int_equal(dctr_ffm_num_fields(m2), 18);
            assert_int_equal(dctr_ffm_num_features(m2), 9991);
            assert_int_equal(dctr_ffm_k(m2), 4);
            assert_int_equal(dctr_model_get_type(m2), DCTR_MODEL_FFM);
            assert_int_equal(dctr_model_num_parameters(m2), dctr_model_num_parameters(m));
            int64_t n = dctr_ffm_data_num_rows(d);
            float *p1 = test_malloc((size_t)n * sizeof(float)), *p2 = test_malloc((size_t)n * sizeof(float));
            assert_int_equal(dctr_ffm_predict(m, d, p1), DCTR_OK);
            assert_int_equal(dctr_ffm_predict(m2, d, p2), DCTR_OK);
            assert_memory_equal(p1, p2, (size_t)n * sizeof(float));
            /* the AdaGrad state round-trips too */
            const dctr_ffm_impl *a = m->impl, *b = m2->impl;
            size_t words = (size_t)a->w.n * a->w.row;
            if (with_opt)
                assert_memory_equal(a->w.W, b->w.W, words * sizeof(float));
            else
                assert_true(b->w.W[a->w.kp] == 1.0f);
            dctr_free_buffer(buf);
            test_free(p1);
            test_free(p2);
            dctr_model_free(m);
            dctr_model_free(m2);
        }
    dctr_ffm_data_free(d);
}

static void test_file_save_and_streamed_predict(void **state) {
    (void)state;
    dctr_ffm_data *d = small_train();
    dctr_model *m = trained(d, 0);
    char mpath[512], ppath[512], dpath[512];
    dctr_test_tmp_path(mpath, sizeof mpath, "ffm_io.dctr");
    dctr_test_tmp_path(ppath, sizeof ppath, "ffm_io.pred");
    assert_int_equal(dctr_model_save(m, mpath, 0), DCTR_OK);
    dctr_model *m2;
    assert_int_equal(dctr_model_load(mpath, &m2), DCTR_OK);
    double v1[DCTR_METRIC_COUNT], v2[DCTR_METRIC_COUNT];
    int64_t rows = 0;
    assert_int_equal(dctr_ffm_predict_file(m2, dctr_test_data_path(dpath, sizeof dpath, "criteo-ffm-small/small_train.txt"),
                                           ppath, v2, &rows), DCTR_OK);
    assert_int_equal(rows, 200);
    assert_int_equal(dctr_ffm_evaluate(m, d, v1), DCTR_OK);
    assert_true(v1[DCTR_METRIC_LOGLOSS] == v2[DCTR_METRIC_LOGLOSS]);
    assert_true(v1[DCTR_METRIC_AUC] == v2[DCTR_METRIC_AUC]);
    float p[200];
    assert_int_equal(dctr_ffm_predict(m, d, p), DCTR_OK);
    FILE *f = fopen(ppath, "r");
    assert_non_null(f);
    for (int i = 0; i < 200; i++) {
        double x;
        assert_int_equal(fscanf(f, "%lf", &x), 1);
        assert_true(fabs(x - p[i]) < 1e-5);
    }
    fclose(f);
    dctr_model_free(m);
    dctr_model_free(m2);
    dctr_ffm_data_free(d);
}

/* Builds a container holding a hand-made ffm.params payload and loads it into a native shell. */
static dctr_status load_params(const dctr_wbuf *params, const dctr_wbuf *opt) {
    dctr_container_writer *cw;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    assert_int_equal(dctr_cw_add(cw, "ffm.params", params), DCTR_OK);
    if (opt)
        assert_int_equal(dctr_cw_add(cw, "ffm.opt", opt), DCTR_OK);
    void *mem;
    size_t size;
    assert_int_equal(dctr_cw_to_memory(cw, &mem, &size), DCTR_OK);
    dctr_cw_free(cw);
    dctr_container *c;
    assert_int_equal(dctr_container_from_memory(mem, size, &c), DCTR_OK);
    dctr_free(mem);
    dctr_model *shell = test_calloc(1, sizeof *shell);
    shell->type = DCTR_MODEL_FFM;
    assert_int_equal(dctr_ffm_init(shell), DCTR_OK);
    dctr_status s = shell->ops->load(shell, c);
    shell->ops->free_impl(shell->impl);
    dctr_schema_free(shell->schema); /* a native model's synthesized schema, made by load */
    test_free(shell);
    dctr_container_free(c);
    return s;
}

static void header(dctr_wbuf *b, int32_t m, int64_t n, int32_t k, uint8_t native, uint8_t lin) {
    dctr_wbuf_init(b);
    dctr_wbuf_u32(b, 1);
    dctr_wbuf_u8(b, native);
    dctr_wbuf_u8(b, lin);
    dctr_wbuf_u8(b, 1);
    dctr_wbuf_u8(b, 0);
    dctr_wbuf_i32(b, m);
    dctr_wbuf_i64(b, n);
    dctr_wbuf_i32(b, k);
    dctr_wbuf_f32(b, 0.2f);
    dctr_wbuf_f32(b, 2e-5f);
}

static void test_corrupted_sections_rejected(void **state) {
    (void)state;
    dctr_wbuf b, o;
    /* a valid tiny model first: 2 fields, 3 features, k 2 => 12 weights */
    header(&b, 2, 3, 2, 1, 0);
    for (int i = 0; i < 12; i++)
        dctr_wbuf_f32(&b, 0.1f * (float)i);
    assert_int_equal(load_params(&b, NULL), DCTR_OK);
    dctr_wbuf_free(&b);

    struct {
        int32_t m;
        int64_t n;
        int32_t k;
        int weights;
        const char *what;
    } bad[] = {
        {2, 3, 2, 11, "truncated"},
        {2, 3, 2, 13, "trailing"},
        {2, (int64_t)1 << 40, 2, 12, "huge n"},
        {1 << 30, 3, 2, 12, "huge m"},
        {2, 3, 0, 12, "k 0"},
        {-1, 3, 2, 12, "negative m"},
        {2, 3, 5000, 12, "huge k"},
        {1 << 20, 1 << 20, 1024, 12, "overflowing shape"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        header(&b, bad[i].m, bad[i].n, bad[i].k, 1, 0);
        for (int j = 0; j < bad[i].weights; j++)
            dctr_wbuf_f32(&b, 0.5f);
        dctr_status s = load_params(&b, NULL);
        if (s != DCTR_ERR_FORMAT)
            fail_msg("case %s: got %s (%s)", bad[i].what, dctr_status_name(s), dctr_last_error());
        dctr_wbuf_free(&b);
    }
    /* a NaN weight, bad flags, bad version */
    header(&b, 2, 3, 2, 1, 0);
    for (int i = 0; i < 12; i++)
        dctr_wbuf_f32(&b, i == 5 ? NAN : 0.1f);
    assert_int_equal(load_params(&b, NULL), DCTR_ERR_FORMAT);
    dctr_wbuf_free(&b);
    header(&b, 2, 3, 2, 7, 0);
    for (int i = 0; i < 12; i++)
        dctr_wbuf_f32(&b, 0.1f);
    assert_int_equal(load_params(&b, NULL), DCTR_ERR_FORMAT);
    dctr_wbuf_free(&b);
    /* an optimizer section of another shape, and one with a zero accumulator */
    header(&b, 2, 3, 2, 1, 0);
    for (int i = 0; i < 12; i++)
        dctr_wbuf_f32(&b, 0.1f);
    dctr_wbuf_init(&o);
    dctr_wbuf_u32(&o, 1);
    dctr_wbuf_i32(&o, 2);
    dctr_wbuf_i64(&o, 4);
    dctr_wbuf_i32(&o, 2);
    for (int i = 0; i < 16; i++)
        dctr_wbuf_f32(&o, 1.0f);
    assert_int_equal(load_params(&b, &o), DCTR_ERR_FORMAT);
    dctr_wbuf_free(&o);
    dctr_wbuf_init(&o);
    dctr_wbuf_u32(&o, 1);
    dctr_wbuf_i32(&o, 2);
    dctr_wbuf_i64(&o, 3);
    dctr_wbuf_i32(&o, 2);
    for (int i = 0; i < 12; i++)
        dctr_wbuf_f32(&o, i == 3 ? 0.0f : 1.5f);
    assert_int_equal(load_params(&b, &o), DCTR_ERR_FORMAT);
    dctr_wbuf_free(&o);
    dctr_wbuf_free(&b);
}

/* A libffm-native file with many fields and almost no weights (n = 1, k = 1: 4 bytes a field)
 * must not make load build a schema column (about 1 KB) per field: more than 65536 fields is
 * DCTR_ERR_LIMIT; 65536 load (the libffm reader's field cap). */
static void test_native_field_cap(void **state) {
    (void)state;
    for (int32_t m = 65536; m <= 65537; m++) {
        dctr_wbuf b;
        header(&b, m, 1, 1, 1, 0);
        for (int32_t i = 0; i < m; i++)
            dctr_wbuf_f32(&b, 0.25f);
        assert_int_equal(load_params(&b, NULL), m == 65536 ? DCTR_OK : DCTR_ERR_LIMIT);
        dctr_wbuf_free(&b);
    }
}

/* Every single-byte corruption of a saved model file is an error (checksums), never a crash. */
static void test_bit_flips_rejected(void **state) {
    (void)state;
    dctr_ffm_data *d = small_train();
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    o.epochs = 1;
    dctr_model *m;
    assert_int_equal(dctr_ffm_train(d, NULL, &o, NULL, NULL, &m), DCTR_OK);
    void *buf;
    size_t size;
    assert_int_equal(dctr_model_save_to_memory(m, 1, &buf, &size), DCTR_OK);
    unsigned char *bytes = buf;
    size_t step = size / 97 + 1;
    for (size_t i = 0; i < size; i += step) {
        bytes[i] ^= 0x5a;
        dctr_model *m2 = NULL;
        dctr_status s = dctr_model_load_from_memory(buf, size, &m2);
        assert_int_not_equal(s, DCTR_OK);
        assert_null(m2);
        bytes[i] ^= 0x5a;
    }
    for (size_t cut = 0; cut < size; cut += size / 13 + 1) {
        dctr_model *m2 = NULL;
        assert_int_not_equal(dctr_model_load_from_memory(buf, cut, &m2), DCTR_OK);
    }
    dctr_free_buffer(buf);
    dctr_model_free(m);
    dctr_ffm_data_free(d);
}

typedef struct {
    const dctr_model *m;
    const dctr_ffm_data *d;
    float *out;
    dctr_status st;
} predict_job;

static void *predict_thread(void *p) {
    predict_job *j = p;
    for (int rep = 0; rep < 20 && j->st == DCTR_OK; rep++)
        j->st = dctr_ffm_predict(j->m, j->d, j->out);
    return NULL;
}

/* Predict is thread-safe on a const model: 4 threads at once give the sequential answer. */
static void test_concurrent_predict(void **state) {
    (void)state;
    dctr_ffm_data *d = small_train();
    dctr_model *m = trained(d, 1);
    int64_t n = dctr_ffm_data_num_rows(d);
    float *want = test_malloc((size_t)n * sizeof(float));
    assert_int_equal(dctr_ffm_predict(m, d, want), DCTR_OK);
    predict_job jobs[4];
    for (int i = 0; i < 4; i++)
        jobs[i] = (predict_job){m, d, test_malloc((size_t)n * sizeof(float)), DCTR_OK};
    assert_int_equal(th_run_all(4, predict_thread, jobs, sizeof jobs[0]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].st, DCTR_OK);
        assert_memory_equal(jobs[i].out, want, (size_t)n * sizeof(float));
        test_free(jobs[i].out);
    }
    test_free(want);
    dctr_model_free(m);
    dctr_ffm_data_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_bit_exact),
        cmocka_unit_test(test_file_save_and_streamed_predict),
        cmocka_unit_test(test_corrupted_sections_rejected),
        cmocka_unit_test(test_bit_flips_rejected),
        cmocka_unit_test(test_native_field_cap),
        cmocka_unit_test(test_concurrent_predict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
