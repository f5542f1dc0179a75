/* Descriptors, defaults, validation, tables, groups and feature names (checklist §3.3
 * "Descriptors and builder"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/schema.h"
#include "feature/schema_internal.h"
#include "feature/schema_types.h"

static void test_sparse_defaults(void **state) {
    (void)state;
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "C1");
    assert_int_equal(f.struct_size, sizeof f);
    assert_string_equal(f.name, "C1");
    assert_int_equal(f.embedding_dim, 4);
    assert_int_equal(f.use_hash, 0);
    assert_int_equal(f.dtype, DCTR_DTYPE_INT);
    assert_null(f.embedding_name);
    assert_null(f.group_name);
    assert_null(f.vocabulary_path);
    assert_int_equal(f.trainable, 1);
    assert_true(f.init_std == 1e-4f);
    assert_int_equal(f.oov_policy, DCTR_OOV_RESERVED_ROW);
    assert_int_equal(f.min_count, 1);
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    f.vocabulary_size = 10;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    const dctr_column *c = &s->cols[0];
    assert_string_equal(c->embedding_name, "C1"); /* embedding_name defaults to name */
    assert_string_equal(c->group_name, "default_group");
    assert_int_equal(s->ngroups, 1);
    assert_string_equal(s->groups[0], "default_group");
    assert_int_equal(c->trainable, 1);
    assert_int_equal(dctr_schema_embedding_dim(s, "C1"), 4);
    assert_int_equal(dctr_schema_vocabulary_size(s, "C1"), 10);
    assert_int_equal(s->tables[0].mask_zero, 0);
    assert_true(s->tables[0].init_std == 1e-4f);
    dctr_schema_free(s);
}

static void test_auto_dim(void **state) {
    (void)state;
    assert_int_equal(dctr_auto_embedding_dim(1), 6);
    assert_int_equal(dctr_auto_embedding_dim(15), 6);
    assert_int_equal(dctr_auto_embedding_dim(16), 12);
    assert_int_equal(dctr_auto_embedding_dim(81), 18);
    assert_int_equal(dctr_auto_embedding_dim(1000), 30);
    assert_int_equal(dctr_auto_embedding_dim(10000), 60);
    assert_int_equal(dctr_auto_embedding_dim(9999), 54);
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "x");
    f.vocabulary_size = 10000;
    f.embedding_dim = DCTR_EMBEDDING_DIM_AUTO;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(dctr_schema_embedding_dim(s, "x"), 60);
    dctr_schema_free(s);
}

static void test_varlen_forwards_sparse_fields_and_defaults(void **state) {
    (void)state;
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "hist", 5);
    assert_int_equal(v.maxlen, 5);
    assert_int_equal(v.combiner, DCTR_COMBINER_MEAN);
    assert_int_equal(v.weight_norm, 1);
    assert_null(v.length_name);
    assert_null(v.weight_name);
    assert_int_equal(v.separator, '|');
    assert_int_equal(v.sparse.embedding_dim, 4);
    v.sparse.vocabulary_size = 100;
    v.sparse.use_hash = 1;
    v.sparse.dtype = DCTR_DTYPE_STRING;
    v.sparse.vocabulary_path = "/nonexistent/vocab.csv";
    v.sparse.embedding_name = "item";
    v.sparse.group_name = "g";
    v.sparse.trainable = 0;
    v.sparse.embedding_dim = 8;
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    const dctr_column *c = &s->cols[0];
    assert_int_equal(c->kind, DCTR_COLUMN_VARLEN);
    assert_string_equal(c->vocabulary_path, "/nonexistent/vocab.csv");
    assert_string_equal(c->embedding_name, "item");
    assert_string_equal(c->group_name, "g");
    assert_int_equal(c->trainable, 0);
    assert_int_equal(c->use_hash, 1);
    assert_int_equal(c->dtype, DCTR_DTYPE_STRING);
    assert_int_equal(c->dim, 8);
    assert_int_equal(c->vocab_size, 100);
    assert_int_equal(c->maxlen, 5);
    assert_int_equal(c->combiner, DCTR_COMBINER_MEAN);
    assert_int_equal(c->weight_norm, 1);
    assert_int_equal(s->tables[0].mask_zero, 1); /* varlen tables treat id 0 as padding */
    assert_int_equal(s->tables[0].trainable, 0);
    dctr_schema_free(s);
}

static void test_dense_defaults_and_offsets(void **state) {
    (void)state;
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "d1");
    assert_int_equal(d.dimension, 1);
    assert_int_equal(d.transform, DCTR_TRANSFORM_NONE);
    assert_true(d.fill_value == 0.0f);
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "c");
    f.vocabulary_size = 3;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_dense_feat_default(&d, "d2");
    d.dimension = 5;
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(s->cols[0].dense_offset, 0);
    assert_int_equal(s->cols[2].dense_offset, 1);
    assert_int_equal(s->total_dense_dim, 6);
    assert_int_equal(dctr_schema_num_columns(s), 3);
    assert_string_equal(dctr_schema_column_name(s, 2), "d2");
    assert_int_equal(dctr_schema_column_kind(s, 1), DCTR_COLUMN_SPARSE);
    assert_null(dctr_schema_column_name(s, 3));
    assert_int_equal(dctr_schema_column_kind(s, -1), DCTR_COLUMN_NONE);
    assert_int_equal(DCTR_COLUMN_NONE, -1); /* the value it had as a plain int */
    assert_int_equal(dctr_schema_find(s, "d2"), 2);
    assert_int_equal(dctr_schema_find(s, "zz"), -1);
    assert_int_equal(dctr_schema_vocabulary_size(s, "d1"), -1);
    dctr_schema_free(s);
}

static void test_feature_names_ordered_dedup_expanded(void **state) {
    (void)state;
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "a");
    f.vocabulary_size = 10;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "h", 4);
    v.sparse.vocabulary_size = 10;
    v.weight_name = "hw";
    v.length_name = "hl";
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "d");
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    dctr_varlen_feat_default(&v, "g", 4);
    v.sparse.vocabulary_size = 10;
    v.length_name = "hl"; /* shared length column: listed once */
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    const char *names[8];
    int32_t n = dctr_schema_feature_names(s, names, 8);
    assert_int_equal(n, 6);
    const char *want[] = {"a", "h", "hw", "hl", "d", "g"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(names[i], want[i]);
    assert_int_equal(dctr_schema_feature_names(s, NULL, 0), 6);
    assert_int_equal(dctr_schema_feature_names(s, names, 2), 6); /* count, 2 written */
    dctr_schema_free(s);
}

static void test_invalid_descriptors_reported_by_name(void **state) {
    (void)state;
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "str_nohash");
    f.dtype = DCTR_DTYPE_STRING;
    f.vocabulary_size = 50; /* a fixed size, no hash, no vocabulary file */
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "bad_comb", 3);
    v.sparse.vocabulary_size = 10;
    v.combiner = (dctr_combiner)7;
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_sparse_feat_default(&f, "dup");
    f.vocabulary_size = 4;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_sparse_feat_default(&f, "zero_dim");
    f.vocabulary_size = 4;
    f.embedding_dim = 0;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_varlen_feat_default(&v, "no_len", 0);
    v.sparse.vocabulary_size = 4;
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_sparse_feat_default(&f, "hash_nobuckets");
    f.use_hash = 1;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_ERR_SCHEMA);
    const char *msg = dctr_last_error();
    assert_non_null(strstr(msg, "str_nohash: a string feature needs use_hash"));
    assert_non_null(strstr(msg, "bad_comb: combiner 7"));
    assert_non_null(strstr(msg, "dup: duplicate feature name"));
    assert_non_null(strstr(msg, "zero_dim: embedding_dim 0"));
    assert_non_null(strstr(msg, "no_len: maxlen 0"));
    assert_non_null(strstr(msg, "hash_nobuckets: use_hash needs vocabulary_size"));
    assert_non_null(strstr(msg, "6 problems"));
    /* a struct that was never initialised is refused */
    dctr_sparse_feat raw;
    memset(&raw, 0, sizeof raw);
    raw.name = "x";
    assert_int_equal(dctr_schema_add_sparse(s, &raw), DCTR_ERR_INVALID_ARG);
    dctr_schema_free(s);
}

static void test_shared_tables(void **state) {
    (void)state;
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "item");
    f.vocabulary_size = 100;
    f.embedding_dim = 8;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "hist_item", 10);
    v.sparse.vocabulary_size = 100;
    v.sparse.embedding_dim = 8;
    v.sparse.embedding_name = "item";
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_sparse_feat_default(&f, "other");
    f.vocabulary_size = 7;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(s->ntables, 2);
    assert_string_equal(s->tables[0].name, "item");
    assert_int_equal(s->tables[0].vocab_size, 100);
    assert_int_equal(s->tables[0].dim, 8);
    assert_int_equal(s->tables[0].mask_zero, 1); /* a varlen user masks the sparse one too */
    assert_int_equal(s->tables[1].mask_zero, 0);
    assert_int_equal(s->cols[0].table, 0);
    assert_int_equal(s->cols[1].table, 0);
    assert_int_equal(s->cols[2].table, 1);
    dctr_schema_free(s);

    /* mismatches in V, k and trainable are errors naming both features */
    const int which[3] = {0, 1, 2};
    const char *expect[3] = {"vocabulary_size 50 != 100", "embedding_dim 4 != 8", "trainable differs"};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(dctr_schema_new(&s), DCTR_OK);
        dctr_sparse_feat_default(&f, "a");
        f.vocabulary_size = 100;
        f.embedding_dim = 8;
        f.embedding_name = "shared";
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
        dctr_sparse_feat_default(&f, "b");
        f.vocabulary_size = which[k] == 0 ? 50 : 100;
        f.embedding_dim = which[k] == 1 ? 4 : 8;
        f.trainable = which[k] == 2 ? 0 : 1;
        f.embedding_name = "shared";
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
        assert_int_equal(dctr_schema_validate(s), DCTR_ERR_SCHEMA);
        assert_non_null(strstr(dctr_last_error(), "b: shares embedding 'shared' with a"));
        assert_non_null(strstr(dctr_last_error(), expect[k]));
        dctr_schema_free(s);
    }
}

static void add_grouped(dctr_schema *s, const char *name, const char *group, int varlen) {
    if (varlen) {
        dctr_varlen_feat v;
        dctr_varlen_feat_default(&v, name, 3);
        v.sparse.vocabulary_size = 10;
        v.sparse.group_name = group;
        assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    } else {
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, name);
        f.vocabulary_size = 10;
        f.group_name = group;
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    }
}

static void test_groups_first_seen_sparse_then_varlen(void **state) {
    (void)state;
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    add_grouped(s, "v1", "gv", 1); /* declared first, but varlen groups come after sparse ones */
    add_grouped(s, "a", "g2", 0);
    add_grouped(s, "b", "g1", 0);
    add_grouped(s, "v2", "g1", 1);
    add_grouped(s, "e", "g2", 0);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(s->ngroups, 3);
    assert_string_equal(s->groups[0], "g2");
    assert_string_equal(s->groups[1], "g1");
    assert_string_equal(s->groups[2], "gv");
    assert_int_equal(s->cols[0].group, 2);
    assert_int_equal(s->cols[3].group, 1);
    assert_int_equal(s->cols[4].group, 0);
    /* tables follow the same order: sparse first */
    assert_string_equal(s->tables[0].name, "a");
    assert_string_equal(s->tables[3].name, "v1");
    dctr_schema_free(s);
}

static void test_clone_is_deep(void **state) {
    (void)state;
    dctr_schema *s, *c;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    add_grouped(s, "a", "g", 0);
    assert_int_equal(dctr_schema_set_label(s, "click"), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(dctr_schema_clone(s, &c), DCTR_OK);
    dctr_schema_free(s);
    assert_int_equal(c->ncols, 1);
    assert_string_equal(c->cols[0].name, "a");
    assert_string_equal(c->label_name, "click");
    assert_string_equal(c->groups[0], "g");
    assert_int_equal(c->validated, 1);
    dctr_schema_free(c);
    dctr_schema_free(NULL);
}

static void test_label_and_weight_names_are_checked(void **state) {
    (void)state;
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    add_grouped(s, "label", "g", 0);
    assert_int_equal(dctr_schema_validate(s), DCTR_ERR_SCHEMA);
    assert_non_null(strstr(dctr_last_error(), "label: feature name equals the label column"));
    assert_int_equal(dctr_schema_set_label(s, "y"), DCTR_OK);
    assert_int_equal(dctr_schema_set_weight_column(s, "y"), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_ERR_SCHEMA);
    assert_non_null(strstr(dctr_last_error(), "sample-weight column 'y' equals the label"));
    assert_int_equal(dctr_schema_set_weight_column(s, "w"), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse_defaults),
        cmocka_unit_test(test_auto_dim),
        cmocka_unit_test(test_varlen_forwards_sparse_fields_and_defaults),
        cmocka_unit_test(test_dense_defaults_and_offsets),
        cmocka_unit_test(test_feature_names_ordered_dedup_expanded),
        cmocka_unit_test(test_invalid_descriptors_reported_by_name),
        cmocka_unit_test(test_shared_tables),
        cmocka_unit_test(test_groups_first_seen_sparse_then_varlen),
        cmocka_unit_test(test_clone_is_deep),
        cmocka_unit_test(test_label_and_weight_names_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
