/* ctest-label: threads. Reliability of a whole model (issue 8): a saved model truncated at
 * every byte offset, or with any header bit / a sample of body bits flipped, never loads; 16
 * threads x 10k single-row predictions on one const model equal the serial results bit for bit. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "threads.h"

#include "core/rng.h"
#include "dfm_fixture.h"

#define ROWS 10000
#define THREADS 16

static const fx_col cols[] = {
    {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 50, .k = 4},
    {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 30, .k = 4},
    {.name = "G", .kind = DCTR_COLUMN_VARLEN, .vocab = 9, .k = 4, .maxlen = 3,
     .combiner = DCTR_COMBINER_MEAN},
    {.name = "D", .kind = DCTR_COLUMN_DENSE},
};

static dctr_model *small_model(dctr_schema *s) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    const int32_t hidden[] = {8};
    cfg.hidden_units = hidden;
    cfg.num_hidden = 1;
    cfg.use_bn = 1;
    return fx_model(s, &cfg);
}

static void expect_rejected(const void *buf, size_t size, const char *what, size_t at) {
    dctr_model *m = (dctr_model *)1;
    dctr_status st = dctr_model_load_from_memory(buf, size, &m);
    if (st == DCTR_OK) {
        dctr_model_free(m);
        fail_msg("%s at %zu loaded as a model", what, at);
    }
    assert_null(m);
    assert_true(dctr_last_error()[0] != '\0');
}

static void test_truncated_and_flipped_model_files_never_load(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_model *m = small_model(s);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 1, &buf, &size), DCTR_OK);
    assert_true(size > 1500); /* header, meta, schema, tables, DNN, optimizer state */
    for (size_t cut = 0; cut < size; cut++)
        expect_rejected(buf, cut, "truncation", cut);

    unsigned char *bytes = buf;
    size_t header = size < 1024 ? size : 1024; /* magic, version, section table, meta */
    for (size_t bit = 0; bit < header * 8; bit++) {
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        expect_rejected(buf, size, "header bit flip", bit);
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    dctr_rng r;
    dctr_rng_init(&r, 8, 0);
    for (int i = 0; i < 3000; i++) {
        size_t bit = (size_t)dctr_rng_below(&r, (uint64_t)size * 8);
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        expect_rejected(buf, size, "body bit flip", bit);
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    dctr_model *back = NULL;
    assert_int_equal(dctr_model_load_from_memory(buf, size, &back), DCTR_OK);
    dctr_model_free(back);
    dctr_free_buffer(buf);
    dctr_model_free(m);
    dctr_schema_free(s);
}

typedef struct {
    const dctr_model *model;
    const dctr_batch *rows;
    const float *expect;
    int thread;
    int64_t mismatches;
} job;

/* Each thread predicts all 10k rows one at a time through its own predictor, starting at a
 * different row so threads hit different rows at the same moment. */
static void *worker(void *arg) {
    job *j = arg;
    dctr_predictor *p = NULL;
    if (dctr_predictor_new(j->model, 1, &p) != DCTR_OK) {
        j->mismatches = -1;
        return NULL;
    }
    dctr_batch one;
    if (dctr_batch_view_init(&one, j->rows->schema) != DCTR_OK) {
        dctr_predictor_free(p);
        j->mismatches = -1;
        return NULL;
    }
    for (int64_t k = 0; k < ROWS; k++) {
        int64_t row = (k + (int64_t)j->thread * 613) % ROWS;
        dctr_batch_view(j->rows, row, 1, &one);
        float out = -1.0f;
        if (dctr_predictor_run(p, &one, &out) != DCTR_OK ||
            memcmp(&out, &j->expect[row], sizeof out) != 0)
            j->mismatches++;
    }
    dctr_batch_view_release(&one);
    dctr_predictor_free(p);
    return NULL;
}

static void test_16_threads_10k_predictions_equal_serial(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_model *m = small_model(s);
    dctr_batch *rows = fx_batch(s, ROWS, 77, 0, 0);
    static float serial[ROWS];
    assert_int_equal(dctr_model_predict_batch(m, rows, serial), DCTR_OK);
    job jobs[THREADS];
    for (int t = 0; t < THREADS; t++)
        jobs[t] = (job){.model = m, .rows = rows, .expect = serial, .thread = t};
    assert_int_equal(th_run_all(THREADS, worker, jobs, sizeof jobs[0]), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(jobs[t].mismatches, 0);
    dctr_batch_free(rows);
    dctr_model_free(m);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_and_flipped_model_files_never_load),
        cmocka_unit_test(test_16_threads_10k_predictions_equal_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
