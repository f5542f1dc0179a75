/* Embedding gather / sparse gradient accumulator: values, range errors, shared tables, O(touched)
 * clear, capacity limit, padding skipped in varlen scatter, and a finite-difference check. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "gradcheck.h"
#include "layers/embedding.h"
#include "layers/sequence_pool.h"

#define V 10
#define DIM 3

static void fill_table(float *t) {
    for (int r = 0; r < V; r++)
        for (int j = 0; j < DIM; j++)
            t[r * DIM + j] = (float)(r * 10 + j);
}

static void test_gather(void **state) {
    (void)state;
    float table[V * DIM], out[4 * 5];
    int64_t ids[4] = {3, 0, 9, 3};
    fill_table(table);
    for (int i = 0; i < 20; i++)
        out[i] = -1;
    assert_int_equal(dctr_embedding_gather(table, V, DIM, ids, 4, out + 1, 5), DCTR_OK);
    for (int i = 0; i < 4; i++) {
        assert_float_equal(out[i * 5], -1, 0);
        for (int j = 0; j < DIM; j++)
            assert_float_equal(out[i * 5 + 1 + j], ids[i] * 10 + j, 0);
        assert_float_equal(out[i * 5 + 4], -1, 0);
    }
    int64_t bad[2] = {1, V};
    assert_int_equal(dctr_embedding_gather(table, V, DIM, bad, 2, out, 5), DCTR_ERR_RANGE);
    assert_non_null(strstr(dctr_last_error(), "position 1"));
    int64_t neg[1] = {-1};
    assert_int_equal(dctr_embedding_gather(table, V, DIM, neg, 1, out, 5), DCTR_ERR_RANGE);
}

static void test_sparse_grad_shared_and_clear(void **state) {
    (void)state;
    dctr_sparse_grad g;
    assert_int_equal(dctr_sparse_grad_init(&g, V, DIM, 6), DCTR_OK);
    /* two columns sharing one table scatter into one accumulator */
    int64_t a[3] = {2, 5, 2}, b[2] = {5, 7};
    float da[3 * DIM], db[2 * DIM];
    for (int i = 0; i < 3 * DIM; i++)
        da[i] = (float)(i + 1);
    for (int i = 0; i < 2 * DIM; i++)
        db[i] = 100.0f;
    assert_int_equal(dctr_embedding_scatter(&g, a, 3, da, DIM), DCTR_OK);
    assert_int_equal(dctr_embedding_scatter(&g, b, 2, db, DIM), DCTR_OK);
    assert_int_equal(g.count, 3);
    assert_int_equal(g.rows[0], 2);
    assert_int_equal(g.rows[1], 5);
    assert_int_equal(g.rows[2], 7);
    float *r2 = dctr_sparse_grad_find(&g, 2), *r5 = dctr_sparse_grad_find(&g, 5);
    assert_non_null(r2);
    assert_float_equal(r2[0], 1 + 7, 0);
    assert_float_equal(r2[2], 3 + 9, 0);
    assert_float_equal(r5[1], 5 + 100, 0);
    assert_null(dctr_sparse_grad_find(&g, 3));
    dctr_sparse_grad_clear(&g);
    assert_int_equal(g.count, 0);
    assert_null(dctr_sparse_grad_find(&g, 2));
    /* reuse after clear: rows start from zero again */
    float *r = dctr_sparse_grad_row(&g, 5);
    assert_non_null(r);
    for (int j = 0; j < DIM; j++)
        assert_float_equal(r[j], 0, 0);
    /* capacity limit and range */
    for (int64_t id = 0; id < 5; id++)
        assert_non_null(dctr_sparse_grad_row(&g, id));
    assert_int_equal(g.count, 6);
    assert_null(dctr_sparse_grad_row(&g, 9));
    int64_t nine[1] = {9};
    assert_int_equal(dctr_embedding_scatter(&g, nine, 1, da, DIM), DCTR_ERR_LIMIT);
    assert_null(dctr_sparse_grad_row(&g, V));
    dctr_sparse_grad_destroy(&g);
    dctr_sparse_grad_destroy(&g); /* idempotent */
}

static void test_many_rows_collisions(void **state) {
    (void)state;
    /* ids that collide in a naive modulo map; all rows distinct and findable */
    dctr_sparse_grad g;
    assert_int_equal(dctr_sparse_grad_init(&g, 1 << 30, 1, 1000), DCTR_OK);
    float one = 1.0f;
    for (int round = 0; round < 3; round++) {
        for (int64_t i = 0; i < 1000; i++) {
            int64_t id = i << 20;
            assert_int_equal(dctr_embedding_scatter(&g, &id, 1, &one, 1), DCTR_OK);
        }
        assert_int_equal(g.count, 1000);
        for (int64_t i = 0; i < 1000; i++)
            assert_float_equal(*dctr_sparse_grad_find(&g, i << 20), 1.0f, 0);
        dctr_sparse_grad_clear(&g);
    }
    dctr_sparse_grad_destroy(&g);
}

/* The direct index (tables up to 2^20 rows) and the hashed map (larger tables) give the same
 * touched rows in the same first-touch order and the same sums, over several steps. */
static void test_direct_index_equals_map(void **state) {
    (void)state;
    dctr_sparse_grad direct, hashed;
    const int64_t small_v = 5000, big_v = (INT64_C(1) << 20) + 1;
    assert_int_equal(dctr_sparse_grad_init(&direct, small_v, 8, 600), DCTR_OK);
    assert_int_equal(dctr_sparse_grad_init(&hashed, big_v, 8, 600), DCTR_OK);
    assert_non_null(direct.index);
    assert_null(hashed.index);
    int64_t ids[600];
    float dout[600 * 10];
    uint64_t x = 12345;
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < 600; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            ids[i] = (int64_t)((x >> 33) % (uint64_t)(i % 3 ? 50 : small_v)); /* repeats */
            for (int j = 0; j < 10; j++)
                dout[i * 10 + j] = (float)((x >> (j + 3)) & 255) / 64.0f - 2.0f;
        }
        assert_int_equal(dctr_embedding_scatter(&direct, ids, 600, dout, 10), DCTR_OK);
        assert_int_equal(dctr_embedding_scatter(&hashed, ids, 600, dout, 10), DCTR_OK);
        assert_true(direct.count > 50 && direct.count < 600);
        assert_int_equal(direct.count, hashed.count);
        assert_memory_equal(direct.rows, hashed.rows, sizeof(int64_t) * (size_t)direct.count);
        assert_memory_equal(direct.grad, hashed.grad, sizeof(float) * 8 * (size_t)direct.count);
        for (int i = 0; i < 600; i++)
            assert_ptr_equal(dctr_sparse_grad_find(&direct, ids[i]) - direct.grad,
                             dctr_sparse_grad_find(&hashed, ids[i]) - hashed.grad);
        assert_true(dctr_sparse_grad_sumsq(&direct) == dctr_sparse_grad_sumsq(&hashed));
        dctr_sparse_grad_clear(&direct);
        dctr_sparse_grad_clear(&hashed);
        assert_null(dctr_sparse_grad_find(&direct, ids[0]));
        assert_null(dctr_sparse_grad_find(&hashed, ids[0]));
    }
    /* out of range: an error from scatter, NULL from find (never an out-of-bounds read) */
    int64_t bad = small_v;
    assert_int_equal(dctr_embedding_scatter(&direct, &bad, 1, dout, 10), DCTR_ERR_RANGE);
    assert_null(dctr_sparse_grad_find(&direct, -1));
    assert_null(dctr_sparse_grad_find(&direct, small_v));
    dctr_sparse_grad_destroy(&direct);
    dctr_sparse_grad_destroy(&hashed);
}

static void test_scatter_seq_skips_padding(void **state) {
    (void)state;
    dctr_sparse_grad g;
    assert_int_equal(dctr_sparse_grad_init(&g, V, 1, 8), DCTR_OK);
    int64_t ids[2 * 3] = {4, 0, 6, 0, 0, 0};
    float dE[6] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(dctr_embedding_scatter_seq(&g, ids, NULL, 2, 3, dE), DCTR_OK);
    assert_int_equal(g.count, 2); /* row 0 never touched by padding */
    assert_null(dctr_sparse_grad_find(&g, 0));
    dctr_sparse_grad_clear(&g);
    int32_t len[2] = {2, 0}; /* length mode: the valid id 0 at t=1 IS scattered */
    assert_int_equal(dctr_embedding_scatter_seq(&g, ids, len, 2, 3, dE), DCTR_OK);
    assert_int_equal(g.count, 2);
    assert_float_equal(*dctr_sparse_grad_find(&g, 0), 2, 0);
    assert_float_equal(*dctr_sparse_grad_find(&g, 4), 1, 0);
    dctr_sparse_grad_destroy(&g);
}

/* Finite differences through gather -> mean pooling on a table with repeated ids. */
typedef struct emb_ctx {
    float table[V * DIM], E[2 * 4 * DIM], out[2 * DIM], c[2 * DIM];
    int64_t ids[2 * 4];
} emb_ctx;

static double emb_loss(void *p) {
    emb_ctx *x = p;
    assert_int_equal(dctr_embedding_gather(x->table, V, DIM, x->ids, 8, x->E, DIM), DCTR_OK);
    dctr_seq_pool_forward(DCTR_COMBINER_MEAN, x->E, 2, 4, DIM, x->ids, NULL, x->out, DIM, NULL);
    return gc_dot(x->out, x->c, 2 * DIM);
}

static void test_embedding_gradient(void **state) {
    (void)state;
    static emb_ctx x;
    int64_t ids[8] = {3, 3, 0, 7, 7, 1, 3, 0};
    memcpy(x.ids, ids, sizeof ids);
    dctr_rng rng;
    dctr_rng_init(&rng, 3, 0);
    gc_fill(&rng, x.table, V * DIM, -1, 1);
    gc_fill(&rng, x.c, 2 * DIM, -1, 1);
    float dE[8 * DIM] = {0}, dense[V * DIM] = {0};
    emb_loss(&x);
    dctr_seq_pool_backward(DCTR_COMBINER_MEAN, x.c, DIM, 2, 4, DIM, x.ids, NULL, NULL, dE);
    dctr_sparse_grad g;
    assert_int_equal(dctr_sparse_grad_init(&g, V, DIM, 8), DCTR_OK);
    assert_int_equal(dctr_embedding_scatter_seq(&g, x.ids, NULL, 2, 4, dE), DCTR_OK);
    for (int64_t i = 0; i < g.count; i++)
        memcpy(dense + g.rows[i] * DIM, g.grad + i * DIM, DIM * sizeof(float));
    assert_int_equal(g.count, 3); /* 3, 7, 1 */
    assert_int_equal(gc_check_default("table", emb_loss, &x, x.table, dense, V * DIM), 0);
    dctr_sparse_grad_destroy(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_sparse_grad_shared_and_clear),
        cmocka_unit_test(test_many_rows_collisions),
        cmocka_unit_test(test_direct_index_equals_map),
        cmocka_unit_test(test_scatter_seq_skips_padding),
        cmocka_unit_test(test_embedding_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
