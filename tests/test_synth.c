/* The synthetic generator: deterministic for a seed, Criteo-shaped CSV and the same rows in
 * libffm text, a planted model of plausible strength. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/data.h"
#include "deepctr/schema.h"
#include "deepctr/synth.h"
#include "sample_schemas.h"
#include "test_env.h"

static void gen(uint64_t seed, int64_t rows, const char *csv, const char *ffm, dctr_synth_report *r) {
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    o.rows = rows;
    o.seed = seed;
    o.csv_path = csv;
    o.libffm_path = ffm;
    assert_int_equal(dctr_synth_generate(&o, r), DCTR_OK);
}

static void test_defaults(void **state) {
    (void)state;
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    assert_int_equal(o.rows, 200000);
    assert_int_equal(o.num_dense, 13);
    assert_int_equal(o.num_sparse, 26);
    assert_int_equal(o.max_vocabulary, 1000000);
    o.target_ctr = 1.5;
    dctr_synth_report r;
    assert_int_equal(dctr_synth_generate(&o, &r), DCTR_ERR_INVALID_ARG);
}

static void test_deterministic_and_seed_dependent(void **state) {
    (void)state;
    char a[512], b[512], c[512], fa[512], fb[512];
    dctr_test_tmp_path(a, sizeof a, "synth_a.csv");
    dctr_test_tmp_path(b, sizeof b, "synth_b.csv");
    dctr_test_tmp_path(c, sizeof c, "synth_c.csv");
    dctr_test_tmp_path(fa, sizeof fa, "synth_a.ffm");
    dctr_test_tmp_path(fb, sizeof fb, "synth_b.ffm");
    dctr_synth_report ra, rb, rc;
    gen(5, 3000, a, fa, &ra);
    gen(5, 3000, b, fb, &rb);
    gen(6, 3000, c, NULL, &rc);
    long sa, sb, sc, sfa, sfb;
    unsigned char *xa = dctr_test_slurp(a, &sa), *xb = dctr_test_slurp(b, &sb), *xc = dctr_test_slurp(c, &sc);
    unsigned char *ya = dctr_test_slurp(fa, &sfa), *yb = dctr_test_slurp(fb, &sfb);
    assert_int_equal(sa, sb);
    assert_memory_equal(xa, xb, (size_t)sa);
    assert_int_equal(sfa, sfb);
    assert_memory_equal(ya, yb, (size_t)sfa);
    assert_true(ra.planted_auc == rb.planted_auc);
    assert_true(sa != sc || memcmp(xa, xc, (size_t)sa) != 0);
    /* header and shape */
    const char *head = "label,I1,I2,I3,I4,I5,I6,I7,I8,I9,I10,I11,I12,I13,C1,C2,C3,C4,C5,C6,C7,"
                       "C8,C9,C10,C11,C12,C13,C14,C15,C16,C17,C18,C19,C20,C21,C22,C23,C24,C25,"
                       "C26\n";
    assert_memory_equal(xa, head, strlen(head));
    int lines = 0, commas = 0;
    for (long i = 0; i < sa; i++) {
        lines += xa[i] == '\n';
        commas += xa[i] == ',';
    }
    assert_int_equal(lines, 3001);
    assert_int_equal(commas, 3001 * 39);
    /* the same rows in libffm text: same labels line by line */
    int ffm_lines = 0;
    const unsigned char *p = ya, *q = xa + strlen(head);
    while (*p) {
        assert_int_equal(p[0], q[0]);
        assert_int_equal(p[1], ' ');
        ffm_lines++;
        p = (const unsigned char *)strchr((const char *)p, '\n') + 1;
        q = (const unsigned char *)strchr((const char *)q, '\n') + 1;
    }
    assert_int_equal(ffm_lines, 3000);
    free(xa);
    free(xb);
    free(xc);
    free(ya);
    free(yb);
}

static void test_planted_model_strength_and_ctr(void **state) {
    (void)state;
    char a[512];
    dctr_test_tmp_path(a, sizeof a, "synth_big.csv");
    dctr_synth_report r;
    gen(1, 50000, a, NULL, &r);
    assert_int_equal(r.rows, 50000);
    assert_true(r.positive_rate > 0.23 && r.positive_rate < 0.27);
    assert_true(r.planted_auc > 0.75 && r.planted_auc < 0.88);
    assert_true(r.planted_logloss > 0.3 && r.planted_logloss < 0.55);
    /* the hold-out report covers the last 10% (the fit's validation_split rows) */
    assert_int_equal(r.holdout_rows, 5000);
    assert_true(r.holdout_auc > 0.75 && r.holdout_auc < 0.9);
    assert_true(r.holdout_logloss > 0.3 && r.holdout_logloss < 0.55);
    /* the CSV reads back with a Criteo schema: 50000 rows, labels match the reported rate */
    dctr_schema *s = sample_criteo_schema(NULL, NULL);
    char name[8];
    assert_int_equal(dctr_schema_fit_csv(s, a, NULL), DCTR_OK);
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, a, NULL, &ds), DCTR_OK);
    double pos = 0;
    for (int64_t i = 0; i < dctr_dataset_num_rows(ds); i++)
        pos += dctr_dataset_labels(ds)[i];
    assert_float_equal(pos / 50000.0, r.positive_rate, 1e-12);
    /* vocabularies vary: the largest column has many more values than the smallest */
    int64_t vmin = INT64_MAX, vmax = 0;
    for (int i = 1; i <= 26; i++) {
        snprintf(name, sizeof name, "C%d", i);
        int64_t v = dctr_schema_vocabulary_size(s, name);
        vmin = v < vmin ? v : vmin;
        vmax = v > vmax ? v : vmax;
    }
    assert_true(vmin <= 12);       /* 10 values + missing + OOV row */
    assert_true(vmax > 2000); /* Zipf 1.4 over up to 1e6 values: ~3400 distinct in 50k rows */
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_deterministic_and_seed_dependent),
        cmocka_unit_test(test_planted_model_strength_and_ctr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
