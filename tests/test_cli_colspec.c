/* The CLI's column-spec parser (tools/colspec.c, compiled into this test): accepted forms,
 * every key, and clear errors that leave the list unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../tools/colspec.c"

static void test_sparse_and_dense_lists(void **state) {
    (void)state;
    dctr_colspec cs;
    dctr_colspec_init(&cs);
    char err[256];
    assert_int_equal(dctr_colspec_parse("C1,C2:hash=1000:dim=8,C3:dim=auto:group=g:emb=shared", DCTR_COLUMN_SPARSE,
                                        &cs, err, sizeof err),
                     0);
    assert_int_equal(dctr_colspec_parse("I1,I2:transform=log1p:fill=-1.5,I3:dim=3:sep=;", DCTR_COLUMN_DENSE, &cs,
                                        err, sizeof err),
                     0);
    assert_int_equal(cs.count, 6);
    assert_string_equal(cs.entries[0].name, "C1");
    assert_int_equal(cs.entries[0].hash_buckets, 0);
    assert_int_equal(cs.entries[0].dim, 0);
    assert_int_equal(cs.entries[1].hash_buckets, 1000);
    assert_int_equal(cs.entries[1].dim, 8);
    assert_int_equal(cs.entries[2].dim, -1);
    assert_string_equal(cs.entries[2].group, "g");
    assert_string_equal(cs.entries[2].embedding_name, "shared");
    assert_int_equal(cs.entries[3].kind, DCTR_COLUMN_DENSE);
    assert_int_equal(cs.entries[3].transform, -1);
    assert_int_equal(cs.entries[4].transform, DCTR_TRANSFORM_LOG1P);
    assert_true(cs.entries[4].fill == -1.5);
    assert_int_equal(cs.entries[5].dim, 3);
    assert_int_equal(cs.entries[5].separator, ';');
    assert_int_equal(dctr_colspec_find(&cs, "I2"), 4);
    assert_int_equal(dctr_colspec_find(&cs, "nope"), -1);
    dctr_colspec_free(&cs);
    assert_int_equal(cs.count, 0);
}

static void test_varlen_keys(void **state) {
    (void)state;
    dctr_colspec cs;
    dctr_colspec_init(&cs);
    char err[256];
    assert_int_equal(dctr_colspec_parse("genres:maxlen=5:sep=|:combiner=mean:weight=gw:length=gl:norm=0",
                                        DCTR_COLUMN_VARLEN, &cs, err, sizeof err),
                     0);
    /* A one-character separator may be the list comma itself; "tab" names a tab. */
    assert_int_equal(dctr_colspec_parse("tags:maxlen=3:sep=,:combiner=max,hist:maxlen=50:sep=tab:hash=100",
                                        DCTR_COLUMN_VARLEN, &cs, err, sizeof err),
                     0);
    assert_int_equal(cs.count, 3);
    const dctr_colspec_entry *g = &cs.entries[0];
    assert_int_equal(g->maxlen, 5);
    assert_int_equal(g->separator, '|');
    assert_int_equal(g->combiner, DCTR_COMBINER_MEAN);
    assert_string_equal(g->weight_name, "gw");
    assert_string_equal(g->length_name, "gl");
    assert_int_equal(g->weight_norm, 0);
    assert_int_equal(cs.entries[1].separator, ',');
    assert_int_equal(cs.entries[1].combiner, DCTR_COMBINER_MAX);
    assert_string_equal(cs.entries[2].name, "hist");
    assert_int_equal(cs.entries[2].separator, '\t');
    assert_int_equal(cs.entries[2].hash_buckets, 100);
    dctr_colspec_free(&cs);
}

static void expect_error(const char *spec, dctr_column_kind kind, const char *needle) {
    dctr_colspec cs;
    dctr_colspec_init(&cs);
    char err[256];
    assert_int_equal(dctr_colspec_parse("keep", DCTR_COLUMN_SPARSE, &cs, err, sizeof err), 0);
    assert_int_equal(dctr_colspec_parse(spec, kind, &cs, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("spec '%s': expected '%s' in '%s'", spec, needle, err);
    assert_int_equal(cs.count, 1); /* unchanged on error */
    assert_string_equal(cs.entries[0].name, "keep");
    dctr_colspec_free(&cs);
}

static void test_errors_are_clear_and_atomic(void **state) {
    (void)state;
    expect_error("genres:sep=|", DCTR_COLUMN_VARLEN, "maxlen");
    expect_error("a,b,", DCTR_COLUMN_SPARSE, "bad column name");
    expect_error("", DCTR_COLUMN_SPARSE, "bad column name");
    expect_error("a,,b", DCTR_COLUMN_SPARSE, "bad column name");
    expect_error("a:hash=0", DCTR_COLUMN_SPARSE, "hash");
    expect_error("a:hash=12x", DCTR_COLUMN_SPARSE, "hash");
    expect_error("a:color=red", DCTR_COLUMN_SPARSE, "unknown key 'color'");
    expect_error("a:transform=log1p", DCTR_COLUMN_SPARSE, "unknown key 'transform'");
    expect_error("x:transform=cube", DCTR_COLUMN_DENSE, "transform must be");
    expect_error("x:hash=10", DCTR_COLUMN_DENSE, "unknown key 'hash'");
    expect_error("g:maxlen=5:combiner=median", DCTR_COLUMN_VARLEN, "combiner must be");
    expect_error("g:maxlen=5:sep=ab", DCTR_COLUMN_VARLEN, "sep wants");
    expect_error("g:maxlen=0", DCTR_COLUMN_VARLEN, "maxlen");
    expect_error("g:maxlen", DCTR_COLUMN_VARLEN, "key=value");
    expect_error("a,b,a", DCTR_COLUMN_SPARSE, "named twice");
    expect_error("keep", DCTR_COLUMN_DENSE, "named twice");
    expect_error("a:dim=99999999999999999999", DCTR_COLUMN_SPARSE, "dim");
    expect_error("a:sep=|", DCTR_COLUMN_SPARSE, "unknown key 'sep'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse_and_dense_lists),
        cmocka_unit_test(test_varlen_keys),
        cmocka_unit_test(test_errors_are_clear_and_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
