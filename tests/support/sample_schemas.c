/* Column sets of criteo_sample.txt (and the synthetic generator) and movielens_sample.txt. */
#include "sample_schemas.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

dctr_schema *sample_criteo_schema(sample_dense_fn dense, sample_sparse_fn sparse) {
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    char name[8];
    for (int i = 1; i <= 13; i++) {
        snprintf(name, sizeof name, "I%d", i);
        dctr_dense_feat d;
        dctr_dense_feat_default(&d, name);
        if (dense)
            dense(&d, i);
        assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    }
    for (int i = 1; i <= 26; i++) {
        snprintf(name, sizeof name, "C%d", i);
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, name);
        f.dtype = DCTR_DTYPE_STRING;
        if (sparse)
            sparse(&f, i);
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    }
    return s;
}

void sample_add_movielens_sparse(dctr_schema *s, sample_sparse_fn sparse) {
    assert_int_equal(dctr_schema_set_label(s, "rating"), DCTR_OK);
    static const char *const names[] = {"user_id", "movie_id", "gender", "age", "occupation", "zip"};
    for (int i = 0; i < 6; i++) {
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, names[i]);
        f.dtype = (i == 2 || i == 5) ? DCTR_DTYPE_STRING : DCTR_DTYPE_INT;
        if (sparse)
            sparse(&f, i);
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    }
}

int sample_fit_read_remove(dctr_schema *schema, const char *path, dctr_dataset **data) {
    if (dctr_schema_validate(schema) != DCTR_OK || dctr_schema_fit_csv(schema, path, NULL) != DCTR_OK ||
        dctr_dataset_read_csv(schema, path, NULL, data) != DCTR_OK)
        return -1;
    remove(path);
    return 0;
}

dctr_schema *sample_tiny_schema(const dctr_arrays *arrays) {
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "d");
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "s");
    f.vocabulary_size = 3;
    f.embedding_dim = 2;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(dctr_schema_fit_arrays(s, arrays), DCTR_OK);
    return s;
}
