/* Issue 17, class 1: sizes from outside (a schema built through the API, a model file with
 * valid checksums) are computed with checked arithmetic and bounded before anything is
 * allocated or written. On the unchecked code the 256 x 2^40 x 2^16 parameter count wrapped
 * to a few floats and the initialisation wrote far past them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "forged_model.h"
#include "core/checked.h"
#include "deepctr/deepctr.h"
#include "feature/schema_io.h"
#include "io/container.h"
#include "models/model_internal.h"

/* ncols sparse columns of vocab rows x dim each, validated through the public API. */
static dctr_schema *wide_tables(int ncols, int64_t vocab, int32_t dim) {
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    for (int i = 0; i < ncols; i++) {
        char name[32];
        snprintf(name, sizeof name, "C%d", i);
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, name);
        f.vocabulary_size = vocab;
        f.embedding_dim = dim;
        f.use_hash = 1;
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    }
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(dctr_schema_fit_none(s), DCTR_OK);
    return s;
}

static void test_checked_helpers(void **state) {
    (void)state;
    int64_t r = 7;
    assert_true(dctr_size_mul(INT64_C(1) << 31, INT64_C(1) << 31, &r));
    assert_true(r == INT64_C(1) << 62);
    r = 7;
    assert_false(dctr_size_mul(INT64_C(1) << 32, INT64_C(1) << 31, &r));
    assert_false(dctr_size_mul(-1, 2, &r));
    assert_false(dctr_size_add(INT64_MAX, 1, &r));
    assert_int_equal(r, 7); /* untouched on failure */
    int64_t acc = 0;
    for (int i = 0; i < 255; i++)
        assert_true(dctr_size_acc(&acc, 1, 1, INT64_MAX));
    assert_true(dctr_size_acc(&acc, 1, 1, 256));
    assert_false(dctr_size_acc(&acc, 1, 1, 256));
    assert_int_equal(acc, 256);
}

/* 256 tables of 2^40 x 2^16: 2^64 parameters, a wrap to 0 without the checks. */
static void test_api_schema_wrapping_param_count(void **state) {
    (void)state;
    const dctr_model_type types[] = {DCTR_MODEL_FM, DCTR_MODEL_LR, DCTR_MODEL_DEEPFM};
    dctr_schema *s = wide_tables(256, INT64_C(1) << 40, 1 << 16);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        dctr_model_config cfg;
        dctr_model_config_default(&cfg, types[i]);
        dctr_model *m = NULL;
        dctr_status st = dctr_model_new(s, &cfg, &m);
        assert_int_equal(st, DCTR_ERR_LIMIT);
        assert_null(m);
        assert_non_null(strstr(dctr_last_error(), "parameters"));
    }
    dctr_schema_free(s);
}

/* One table just above the limit: refused from the size alone (no allocation attempted; ASan
 * aborts on an allocation this size). */
static void test_api_schema_above_limit(void **state) {
    (void)state;
    dctr_schema *s = wide_tables(1, DCTR_MAX_PARAMS / 4 + 1, 4);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FM);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_LIMIT);
    assert_null(m);
    dctr_schema_free(s);
}

/* A hidden layer wider than DCTR_MAX_DNN_UNITS: 32 layers of 2^31-1 units wrap int64. */
static void test_api_huge_hidden_layers(void **state) {
    (void)state;
    dctr_schema *s = wide_tables(2, 100, 4);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    int32_t units[32];
    for (int i = 0; i < 32; i++)
        units[i] = INT32_MAX;
    cfg.hidden_units = units;
    cfg.num_hidden = 32;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_ERR_LIMIT);
    assert_null(m);
    dctr_schema_free(s);
}

/* A model file with valid checksums whose schema declares the wrapping tables and whose weight
 * section holds 4 floats: rejected as DCTR_ERR_FORMAT, nothing written past the 4 floats. */
static void test_file_with_wrapping_param_count(void **state) {
    (void)state;
    dctr_schema *s = wide_tables(256, INT64_C(1) << 40, 1 << 16);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FM);
    forged_params_rejected(s, &cfg);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checked_helpers),
        cmocka_unit_test(test_api_schema_wrapping_param_count),
        cmocka_unit_test(test_api_schema_above_limit),
        cmocka_unit_test(test_api_huge_hidden_layers),
        cmocka_unit_test(test_file_with_wrapping_param_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
