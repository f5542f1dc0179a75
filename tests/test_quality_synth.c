/* The generator's planted structures (issue 15): each is deterministic for a seed, differs from
 * the others, and the default (legacy) writes the same bytes as a caller built before the
 * structure field existed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/synth.h"
#include "test_env.h"

static dctr_synth_report gen(int32_t structure, uint64_t seed, const char *path, uint32_t struct_size) {
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    o.rows = 20000;
    o.seed = seed;
    o.zipf_exponent = 1.1;
    o.max_vocabulary = 100000;
    o.structure = structure;
    o.csv_path = path;
    if (struct_size)
        o.struct_size = struct_size;
    dctr_synth_report r;
    assert_int_equal(dctr_synth_generate(&o, &r), DCTR_OK);
    return r;
}

static int same_file(const char *a, const char *b) {
    long sa, sb;
    unsigned char *xa = dctr_test_slurp(a, &sa), *xb = dctr_test_slurp(b, &sb);
    int same = sa == sb && memcmp(xa, xb, (size_t)sa) == 0;
    free(xa);
    free(xb);
    return same;
}

static void test_names(void **state) {
    (void)state;
    const char *names[] = {"legacy", "first-order", "pairwise", "field-pairwise", "nonlinear"};
    for (int32_t i = 0; i < 5; i++) {
        assert_int_equal(dctr_synth_structure_from_name(names[i]), i);
        assert_string_equal(dctr_synth_structure_name(i), names[i]);
    }
    assert_int_equal(dctr_synth_structure_from_name("fm"), -1);
    assert_int_equal(dctr_synth_structure_from_name(NULL), -1);
    assert_null(dctr_synth_structure_name(5));
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    assert_int_equal(o.structure, DCTR_SYNTH_LEGACY);
    o.structure = 5;
    o.rows = 10;
    assert_int_equal(dctr_synth_generate(&o, NULL), DCTR_ERR_INVALID_ARG);
}

static void test_deterministic_and_distinct(void **state) {
    (void)state;
    char a[512], b[512];
    dctr_test_tmp_path(a, sizeof a, "qsynth_a.csv");
    dctr_test_tmp_path(b, sizeof b, "qsynth_b.csv");
    double auc[5];
    for (int32_t s = DCTR_SYNTH_FIRST_ORDER; s <= DCTR_SYNTH_NONLINEAR; s++) {
        dctr_synth_report ra = gen(s, 3, a, 0), rb = gen(s, 3, b, 0);
        assert_true(same_file(a, b));
        assert_true(ra.planted_auc == rb.planted_auc);
        /* a model of plausible strength, the target click rate */
        assert_true(ra.planted_auc > 0.75 && ra.planted_auc < 0.92);
        assert_true(ra.positive_rate > 0.22 && ra.positive_rate < 0.28);
        auc[s] = ra.planted_auc;
        gen(s, 4, b, 0);
        assert_false(same_file(a, b));
        /* the structures differ: the labels (and the planted AUC) of the same rows change */
        gen(s == DCTR_SYNTH_NONLINEAR ? DCTR_SYNTH_FIRST_ORDER : s + 1, 3, b, 0);
        assert_false(same_file(a, b));
    }
    /* pairwise terms add signal the first-order model lacks */
    assert_true(auc[DCTR_SYNTH_PAIRWISE] > auc[DCTR_SYNTH_FIRST_ORDER]);
    assert_true(auc[DCTR_SYNTH_FIELD_PAIRWISE] > auc[DCTR_SYNTH_FIRST_ORDER]);
}

static void test_legacy_unchanged_for_old_callers(void **state) {
    (void)state;
    char a[512], b[512];
    dctr_test_tmp_path(a, sizeof a, "qsynth_old.csv");
    dctr_test_tmp_path(b, sizeof b, "qsynth_new.csv");
    /* a caller built before `structure` existed passes the smaller struct: legacy model */
    gen(DCTR_SYNTH_NONLINEAR, 9, a, (uint32_t)offsetof(dctr_synth_options, structure));
    gen(DCTR_SYNTH_LEGACY, 9, b, 0);
    assert_true(same_file(a, b));
    remove(a);
    remove(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_deterministic_and_distinct),
        cmocka_unit_test(test_legacy_unchanged_for_old_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
