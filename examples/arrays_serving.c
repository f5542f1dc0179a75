/* Data in memory, end to end: a service's own request structs -> columnar arrays -> encoders
 * fitted and a DeepFM trained from them (rows appended in chunks, as a stream would bring
 * them) -> typed serving (ids and numbers by column index, probability and raw logit), checked
 * against the dataset path. No file is read or written.
 *
 *   arrays_serving [ROWS]        (default 20000 synthetic requests) */
#include "example_common.h"

#include <math.h>

enum { COL_USER, COL_AD, COL_SITE, COL_PRICE, COL_TAGS, NCOLS };
#define MAX_TAGS 4
#define SERVE_BATCH 64

/* What the service has: one struct per request. */
typedef struct request {
    int64_t user_id, ad_id;
    const char *site;
    float price;
    int32_t ntags;
    int64_t tags[MAX_TAGS];
} request;

static const char *const sites[] = {"news", "sports", "games", "shop", "video"};

/* Synthetic requests with a planted logistic rule: a per-user bias, the site, the price and the
 * first tag decide the click probability. */
static void make_requests(request *rq, float *labels, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t r = seed >> 11;
        request *q = &rq[i];
        q->user_id = (int64_t)(r % 500);
        q->ad_id = (int64_t)((r >> 9) % 300) + 1000000;
        q->site = sites[(r >> 18) % 5];
        q->price = (float)((r >> 21) % 1000) / 10.0f;
        q->ntags = (int32_t)((r >> 31) % (MAX_TAGS + 1));
        for (int32_t t = 0; t < q->ntags; t++)
            q->tags[t] = (int64_t)((r >> (35 + 4 * t)) % 12) + 1;
        double z = 0.6 * (double)(q->user_id % 7 - 3) + (strcmp(q->site, "games") == 0 ? 1.0 : -0.4) -
                   q->price / 50.0 + (q->ntags > 0 && q->tags[0] <= 3 ? 0.8 : 0.0);
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; /* a fresh draw for the noise */
        double u = (double)(seed >> 11) / 9007199254740992.0;
        labels[i] = u < 1.0 / (1.0 + exp(-z)) ? 1.0f : 0.0f;
    }
}

/* Columnar views of n requests, filled into caller buffers (what a service does per batch). */
typedef struct columns {
    int64_t *user, *ad, *tag_ids, *tag_off;
    const char **site;
    float *price;
    dctr_array_column cols[NCOLS];
    dctr_arrays arrays;
} columns;

static void to_columns(const request *rq, const float *labels, int64_t n, columns *c) {
    c->tag_off[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        c->user[i] = rq[i].user_id;
        c->ad[i] = rq[i].ad_id;
        c->site[i] = rq[i].site;
        c->price[i] = rq[i].price;
        c->tag_off[i + 1] = c->tag_off[i];
        for (int32_t t = 0; t < rq[i].ntags; t++)
            c->tag_ids[c->tag_off[i + 1]++] = rq[i].tags[t];
    }
    memset(c->cols, 0, sizeof c->cols);
    c->cols[COL_USER] = (dctr_array_column){.column = COL_USER, .ids = c->user};
    c->cols[COL_AD] = (dctr_array_column){.column = COL_AD, .ids = c->ad};
    c->cols[COL_SITE] = (dctr_array_column){.column = COL_SITE, .strings = c->site};
    c->cols[COL_PRICE] = (dctr_array_column){.column = COL_PRICE, .values = c->price};
    c->cols[COL_TAGS] = (dctr_array_column){.column = COL_TAGS, .ids = c->tag_ids, .offsets = c->tag_off};
    dctr_arrays_init(&c->arrays);
    c->arrays.num_rows = n;
    c->arrays.columns = c->cols;
    c->arrays.num_columns = NCOLS;
    c->arrays.labels = labels;
}

static void columns_alloc(columns *c, int64_t n) {
    c->user = calloc((size_t)n, sizeof(int64_t));
    c->ad = calloc((size_t)n, sizeof(int64_t));
    c->tag_ids = calloc((size_t)n * MAX_TAGS + 1, sizeof(int64_t));
    c->tag_off = calloc((size_t)n + 1, sizeof(int64_t));
    c->site = calloc((size_t)n, sizeof(char *));
    c->price = calloc((size_t)n, sizeof(float));
    if (!c->user || !c->ad || !c->tag_ids || !c->tag_off || !c->site || !c->price) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
}

static void columns_free(columns *c) {
    free(c->user);
    free(c->ad);
    free(c->tag_ids);
    free(c->tag_off);
    free(c->site);
    free(c->price);
}

static dctr_schema *make_schema(void) {
    dctr_schema *s;
    CHECK(dctr_schema_new(&s));
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "user_id"); /* fitted vocabulary of integer ids */
    f.embedding_dim = 8;
    CHECK(dctr_schema_add_sparse(s, &f));
    dctr_sparse_feat_default(&f, "ad_id"); /* hashed: new ads need no refit */
    f.use_hash = 1;
    f.vocabulary_size = 1000;
    f.embedding_dim = 8;
    CHECK(dctr_schema_add_sparse(s, &f));
    dctr_sparse_feat_default(&f, "site");
    f.dtype = DCTR_DTYPE_STRING;
    f.embedding_dim = 8;
    CHECK(dctr_schema_add_sparse(s, &f));
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "price");
    d.transform = DCTR_TRANSFORM_STANDARDIZE;
    CHECK(dctr_schema_add_dense(s, &d));
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "tags", MAX_TAGS);
    v.sparse.embedding_dim = 8;
    CHECK(dctr_schema_add_varlen(s, &v));
    return s;
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 20000;
    if (n < 1000) {
        fprintf(stderr, "usage: arrays_serving [ROWS >= 1000]\n");
        return 2;
    }
    request *rq = calloc((size_t)n, sizeof *rq);
    float *labels = calloc((size_t)n, sizeof *labels);
    if (!rq || !labels)
        return 1;
    make_requests(rq, labels, n, 42);
    int64_t ntrain = n * 4 / 5, ntest = n - ntrain;
    columns all;
    columns_alloc(&all, n);

    /* encoders fitted on the training rows, then the rows streamed in as chunks of 1000 */
    dctr_schema *schema = make_schema();
    to_columns(rq, labels, ntrain, &all);
    CHECK(dctr_schema_fit_arrays(schema, &all.arrays));
    dctr_dataset *train;
    CHECK(dctr_dataset_new_empty(schema, &train));
    columns chunk;
    columns_alloc(&chunk, 1000);
    for (int64_t start = 0; start < ntrain; start += 1000) {
        int64_t cnt = ntrain - start < 1000 ? ntrain - start : 1000;
        to_columns(rq + start, labels + start, cnt, &chunk);
        CHECK(dctr_dataset_append_arrays(train, &chunk.arrays));
    }
    printf("train: %lld rows appended in chunks; user_id vocabulary %lld, site %lld\n",
           (long long)dctr_dataset_num_rows(train), (long long)dctr_schema_vocabulary_size(schema, "user_id"),
           (long long)dctr_schema_vocabulary_size(schema, "site"));

    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    static const int32_t hidden[] = {32, 16};
    cfg.hidden_units = hidden;
    cfg.num_hidden = 2;
    cfg.optimizer.learning_rate = 0.005;
    dctr_model *model;
    CHECK(dctr_model_new(schema, &cfg, &model));
    dctr_fit_options fo;
    dctr_fit_options_default(&fo);
    fo.epochs = 5;
    CHECK(dctr_model_fit(model, train, &fo, NULL));

    /* the held-out rows as a dataset: the reference predictions and the AUC */
    to_columns(rq + ntrain, labels + ntrain, ntest, &all);
    dctr_dataset *test;
    CHECK(dctr_dataset_from_arrays(schema, &all.arrays, &test));
    double m[DCTR_METRIC_COUNT];
    CHECK(dctr_model_evaluate(model, test, m));
    float *want = calloc((size_t)ntest, sizeof(float));
    float *prob = calloc((size_t)ntest, sizeof(float)), *logit = calloc((size_t)ntest, sizeof(float));
    if (!want || !prob || !logit)
        return 1;
    CHECK(dctr_model_predict(model, test, want));

    /* serving: each batch of requests filled into the predictor's columns and scored */
    dctr_predictor *pred;
    CHECK(dctr_predictor_new(model, SERVE_BATCH, &pred));
    double t0 = ex_now();
    for (int64_t start = 0; start < ntest; start += SERVE_BATCH) {
        int64_t cnt = ntest - start < SERVE_BATCH ? ntest - start : SERVE_BATCH;
        to_columns(rq + ntrain + start, NULL, cnt, &chunk);
        CHECK(dctr_predictor_predict_arrays(pred, &chunk.arrays, prob + start, logit + start));
    }
    double secs = ex_now() - t0;
    int64_t mismatches = 0;
    for (int64_t i = 0; i < ntest; i++)
        if (prob[i] != want[i] || fabs(1.0 / (1.0 + exp(-(double)logit[i])) - prob[i]) > 1e-6)
            mismatches++;
    printf("test: %lld rows, auc %.4f, logloss %.4f; typed serving %.1f us/row, %lld mismatches vs the "
           "dataset path\n", (long long)ntest, m[DCTR_METRIC_AUC], m[DCTR_METRIC_LOGLOSS],
           1e6 * secs / (double)ntest, (long long)mismatches);
    dctr_predictor_free(pred);
    dctr_model_free(model);
    dctr_dataset_free(test);
    dctr_dataset_free(train);
    dctr_schema_free(schema);
    columns_free(&chunk);
    columns_free(&all);
    free(want);
    free(prob);
    free(logit);
    free(rq);
    free(labels);
    if (mismatches || !(m[DCTR_METRIC_AUC] > 0.7)) {
        fprintf(stderr, "arrays_serving: %s\n", mismatches ? "typed predictions differ" : "auc too low");
        return 1;
    }
    return 0;
}
