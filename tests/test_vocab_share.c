/* ctest-label: threads. Schema clones share fitted vocabularies by reference count instead of
 * copying them: the clone points at the same table, lookups work after the original is freed,
 * and clones freed from two threads at once release the table exactly once (ASan / TSan). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/schema.h"
#include "feature/schema_internal.h"
#include "feature/schema_types.h"
#include "feature/vocab.h"

static const char *const keys[] = {"paris", "rome", "a-key-longer-than-8-bytes", "x"};

static dctr_vocab *make_vocab(void) {
    dctr_vocab *v = NULL;
    assert_int_equal(dctr_vocab_new(4, &v), DCTR_OK);
    for (int i = 0; i < 4; i++) {
        dctr_vocab_slot *sl;
        size_t len = strlen(keys[i]);
        assert_int_equal(dctr_vocab_upsert(v, keys[i], len, dctr_fingerprint64(keys[i], len), &sl),
                         DCTR_OK);
        sl->value = 10 + i;
    }
    return v;
}

static int64_t lookup(const dctr_vocab *v, const char *key) {
    size_t len = strlen(key);
    const dctr_vocab_slot *s = dctr_vocab_find(v, key, len, dctr_fingerprint64(key, len));
    return s ? s->value : -1;
}

/* A validated schema with one sparse column whose (fitted) vocabulary is v. */
static dctr_schema *schema_with(dctr_vocab *v) {
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "city");
    f.vocabulary_size = 20;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    s->cols[0].vocab = v;
    s->cols[0].owns_vocab = 1;
    return s;
}

static void test_clone_shares_vocab(void **state) {
    (void)state;
    dctr_vocab *v = make_vocab();
    dctr_schema *s = schema_with(v), *c = NULL;
    assert_int_equal(atomic_load(&v->refs), 1);
    assert_int_equal(dctr_schema_clone(s, &c), DCTR_OK);
    assert_ptr_equal(c->cols[0].vocab, v); /* shared, not copied */
    assert_int_equal(c->cols[0].owns_vocab, 1);
    assert_int_equal(atomic_load(&v->refs), 2);
    dctr_schema_free(s); /* the clone keeps the table alive */
    assert_int_equal(atomic_load(&v->refs), 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(lookup(c->cols[0].vocab, keys[i]), 10 + i);
    assert_int_equal(lookup(c->cols[0].vocab, "oslo"), -1);
    dctr_schema_free(c); /* last reference: freed (ASan reports a leak otherwise) */
}

static void *free_schema(void *p) {
    dctr_schema_free(p);
    return NULL;
}

static void test_clones_freed_concurrently(void **state) {
    (void)state;
    for (int round = 0; round < 200; round++) {
        dctr_vocab *v = make_vocab();
        dctr_schema *s = schema_with(v), *c1 = NULL, *c2 = NULL;
        assert_int_equal(dctr_schema_clone(s, &c1), DCTR_OK);
        assert_int_equal(dctr_schema_clone(c1, &c2), DCTR_OK);
        assert_int_equal(atomic_load(&v->refs), 3);
        dctr_schema_free(s);
        pthread_t t1, t2;
        int ok1 = pthread_create(&t1, NULL, free_schema, c1) == 0;
        int ok2 = pthread_create(&t2, NULL, free_schema, c2) == 0;
        if (ok1) /* join before asserting: a failed assert must not leave a thread running */
            pthread_join(t1, NULL);
        if (ok2)
            pthread_join(t2, NULL);
        assert_true(ok1 && ok2);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clone_shares_vocab),
        cmocka_unit_test(test_clones_freed_concurrently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
