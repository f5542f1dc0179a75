/* Permutation importance on a planted CSV: a strong categorical column, a dense column of middle
 * strength, a weak categorical column and a column of pure noise; an LR model (fast) must rank
 * the strong column first and the noise column last, shuffled and set missing alike (FM starts
 * its pairwise part from tiny embeddings and ranks as LR on these rows). */
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
#include "sample_schemas.h"
#include "test_env.h"

#define ROWS 20000

static dctr_schema *schema;
static dctr_dataset *data;

/* splitmix64: the test's own deterministic generator */
static uint64_t next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double uniform(uint64_t *s) { return (double)(next(s) >> 11) * 0x1.0p-53; }

static int setup(void **state) {
    (void)state;
    char path[512];
    dctr_test_tmp_path(path, sizeof path, "quality_importance.csv");
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "label,weak,noise,strong,mid\n");
    uint64_t s = 42;
    for (int i = 0; i < ROWS; i++) {
        int strong = (int)(next(&s) % 20), weak = (int)(next(&s) % 10), noise = (int)(next(&s) % 20);
        double mid = uniform(&s) * 2 - 1;
        /* strong: logits -3..+3 by category; mid: uniform in +-2; weak: +-0.4 */
        double z = (strong - 9.5) * (6.0 / 19.0) + 2.0 * mid + (weak < 5 ? 0.4 : -0.4);
        int y = uniform(&s) < 1.0 / (1.0 + exp(-z));
        fprintf(f, "%d,w%d,n%d,s%d,%.4f\n", y, weak, noise, strong, mid);
    }
    fclose(f);
    if (dctr_schema_new(&schema) != DCTR_OK)
        return -1;
    static const char *const sparse[] = {"weak", "noise", "strong"};
    for (int i = 0; i < 3; i++) {
        dctr_sparse_feat c;
        dctr_sparse_feat_default(&c, sparse[i]);
        c.dtype = DCTR_DTYPE_STRING;
        c.embedding_dim = 4;
        if (dctr_schema_add_sparse(schema, &c) != DCTR_OK)
            return -1;
    }
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "mid");
    if (dctr_schema_add_dense(schema, &d) != DCTR_OK)
        return -1;
    return sample_fit_read_remove(schema, path, &data);
}

static int teardown(void **state) {
    (void)state;
    dctr_dataset_free(data);
    dctr_schema_free(schema);
    return 0;
}

static dctr_model *train(dctr_model_type type) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, type);
    dctr_optimizer_config_default(&cfg.optimizer, DCTR_OPT_ADAGRAD);
    cfg.optimizer.learning_rate = 0.1;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(schema, &cfg, &m), DCTR_OK);
    dctr_fit_options fo;
    dctr_fit_options_default(&fo);
    fo.epochs = 5;
    assert_int_equal(dctr_model_fit(m, data, &fo, NULL), DCTR_OK);
    return m;
}

static void print_result(const dctr_importance_result *r) {
    print_message("base auc %.4f loss %.4f\n", r->base_auc, r->base_loss);
    for (int32_t i = 0; i < r->count; i++) {
        const dctr_importance *it = &r->items[i];
        print_message("  %-7s auc_drop %.4f (sd %.4f) loss_rise %.4f (sd %.4f) missing: %.4f %.4f\n", it->column,
                      it->auc_drop, it->auc_drop_sd, it->loss_rise, it->loss_rise_sd, it->missing_auc_drop,
                      it->missing_loss_rise);
    }
}

static void check_ranking(dctr_model_type type) {
    dctr_model *m = train(type);
    dctr_importance_options o;
    dctr_importance_options_default(&o);
    dctr_importance_result r;
    assert_int_equal(dctr_model_permutation_importance(m, data, &o, &r), DCTR_OK);
    print_result(&r);
    assert_int_equal(r.count, 4);
    assert_string_equal(r.items[0].column, "strong");
    assert_string_equal(r.items[3].column, "noise");
    assert_string_equal(r.items[1].column, "mid");
    assert_string_equal(r.items[2].column, "weak");
    assert_true(r.items[0].auc_drop > r.items[1].auc_drop);
    assert_true(r.items[2].loss_rise > r.items[3].loss_rise);
    assert_true(fabs(r.items[3].loss_rise) < 0.005 && fabs(r.items[3].auc_drop) < 0.005);
    /* set missing: the same order at both ends */
    int32_t strongest = 0, weakest = 0;
    for (int32_t i = 1; i < r.count; i++) {
        if (r.items[i].missing_loss_rise > r.items[strongest].missing_loss_rise)
            strongest = i;
        if (r.items[i].missing_loss_rise < r.items[weakest].missing_loss_rise)
            weakest = i;
    }
    assert_string_equal(r.items[strongest].column, "strong");
    assert_string_equal(r.items[weakest].column, "noise");
    /* the same seed gives the same numbers; the untouched rows score as dctr_model_evaluate */
    dctr_importance_result again;
    assert_int_equal(dctr_model_permutation_importance(m, data, &o, &again), DCTR_OK);
    for (int32_t i = 0; i < r.count; i++)
        assert_true(again.items[i].loss_rise == r.items[i].loss_rise);
    double v[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_model_evaluate(m, data, v), DCTR_OK);
    assert_true(fabs(v[DCTR_METRIC_LOGLOSS] - r.base_loss) < 1e-12);
    dctr_importance_result_free(&again);
    dctr_importance_result_free(&r);
    dctr_model_free(m);
}

static void test_lr_ranking(void **state) {
    (void)state;
    check_ranking(DCTR_MODEL_LR);
}

static void test_errors(void **state) {
    (void)state;
    dctr_model *m = train(DCTR_MODEL_LR);
    dctr_importance_options o;
    dctr_importance_options_default(&o);
    dctr_importance_result r;
    o.repeats = 0;
    assert_int_equal(dctr_model_permutation_importance(m, data, &o, &r), DCTR_ERR_INVALID_ARG);
    assert_null(r.items);
    o.repeats = 1;
    o.struct_size = 3;
    assert_int_equal(dctr_model_permutation_importance(m, data, &o, &r), DCTR_ERR_INVALID_ARG);
    assert_int_equal(dctr_model_permutation_importance(m, NULL, NULL, &r), DCTR_ERR_INVALID_ARG);
    /* NULL options: the defaults (3 repeats, seed 1, missing on) */
    assert_int_equal(dctr_model_permutation_importance(m, data, NULL, &r), DCTR_OK);
    assert_false(isnan(r.items[0].missing_loss_rise));
    dctr_importance_result_free(&r);
    dctr_importance_result_free(&r); /* twice is harmless */
    dctr_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lr_ranking),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
