/* Writes the binary seed corpora under DIR/<target>/ with the library's own writers, so the seeds
 * follow the format when it changes. Usage: fuzz_seed_gen tests/fuzz/corpus
 * (text seeds for the CSV / libffm readers are committed as plain files). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <unistd.h>

#include "core/alloc.h"
#include "deepctr/data.h"
#include "deepctr/model.h"
#include "deepctr/quality.h"
#include "models/model_types.h"
#include "deepctr/schema.h"
#include "feature/schema_io.h"
#include "io/container.h"

static const char *root;

static void put(const char *target, const char *name, const void *data, size_t size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void ok(dctr_status st) {
    if (st != DCTR_OK) {
        fprintf(stderr, "fuzz_seed_gen: %s\n", dctr_last_error());
        exit(1);
    }
}

/* A file seed for the targets whose input starts with a mode byte. */
static void put_with_mode(const char *target, const char *name, uint8_t mode, const void *data,
                          size_t size) {
    uint8_t *seed = malloc(size + 1);
    seed[0] = mode;
    memcpy(seed + 1, data, size);
    put(target, name, seed, size + 1);
    free(seed);
}

static void put_container(const char *target, const char *name, dctr_container_writer *cw) {
    void *data;
    size_t size;
    ok(dctr_cw_to_memory(cw, &data, &size));
    put_with_mode(target, name, 1, data, size); /* 1: recompute the checksums */
    dctr_free(data);
    dctr_cw_free(cw);
}

static dctr_container_writer *writer(void) {
    dctr_container_writer *cw;
    if (dctr_cw_new(&cw) != DCTR_OK)
        exit(1);
    return cw;
}

static void add(dctr_container_writer *cw, const char *name, dctr_wbuf *w) {
    if (dctr_cw_add(cw, name, w) != DCTR_OK) {
        fprintf(stderr, "%s\n", dctr_last_error());
        exit(1);
    }
    dctr_wbuf_free(w);
}

static void container_seeds(void) {
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    put_container("fuzz_container", "empty", writer());

    /* The section payloads are written in the fuzz target's op language: op byte, then args. */
    dctr_container_writer *cw = writer();
    dctr_wbuf_u8(&w, 2); /* string */
    dctr_wbuf_str(&w, "C1");
    dctr_wbuf_u8(&w, 3); /* u32 count + floats */
    dctr_wbuf_u32(&w, 4);
    const float f[4] = {0.5f, -1.0f, 2.0f, 0.0f};
    dctr_wbuf_f32s(&w, f, 4);
    add(cw, "schema", &w);
    dctr_wbuf_u8(&w, 5); /* rows + need + floats */
    dctr_wbuf_u64(&w, 3);
    dctr_wbuf_f32s(&w, f, 3);
    dctr_wbuf_u8(&w, 4);
    dctr_wbuf_u32(&w, 2);
    const int64_t ids[2] = {-1, 1ll << 40};
    dctr_wbuf_i64s(&w, ids, 2);
    add(cw, "dnn", &w);
    add(cw, "empty", &w);
    put_container("fuzz_container", "three_sections", cw);

    cw = writer();
    char name[DCTR_CONTAINER_MAX_NAME + 1];
    memset(name, 'n', DCTR_CONTAINER_MAX_NAME);
    name[DCTR_CONTAINER_MAX_NAME] = '\0';
    dctr_wbuf_u8(&w, 0);
    dctr_wbuf_u64(&w, 42);
    dctr_wbuf_u8(&w, 1);
    dctr_wbuf_f64(&w, 3.5);
    add(cw, name, &w);
    dctr_wbuf_u8(&w, 5);
    dctr_wbuf_u64(&w, 1ull << 40); /* a hostile row count */
    add(cw, "huge_claim", &w);
    put_container("fuzz_container", "long_name_huge_claim", cw);
}

/* Schemas: hashed / raw-id columns (no data needed), and one fitted on a tiny CSV file. */
static dctr_schema *schema_hashed(void) {
    dctr_schema *s;
    ok(dctr_schema_new(&s));
    dctr_sparse_feat c1;
    dctr_sparse_feat_default(&c1, "C1");
    c1.use_hash = 1;
    c1.dtype = DCTR_DTYPE_STRING;
    c1.vocabulary_size = 10;
    ok(dctr_schema_add_sparse(s, &c1));
    dctr_sparse_feat c2;
    dctr_sparse_feat_default(&c2, "C2");
    c2.vocabulary_size = 7;
    ok(dctr_schema_add_sparse(s, &c2));
    dctr_dense_feat i1;
    dctr_dense_feat_default(&i1, "I1");
    ok(dctr_schema_add_dense(s, &i1));
    dctr_varlen_feat g;
    dctr_varlen_feat_default(&g, "genres", 3);
    g.sparse.use_hash = 1;
    g.sparse.dtype = DCTR_DTYPE_STRING;
    g.sparse.vocabulary_size = 6;
    ok(dctr_schema_add_varlen(s, &g));
    ok(dctr_schema_validate(s));
    ok(dctr_schema_fit_none(s));
    return s;
}

static dctr_schema *schema_fitted(void) {
    char path[] = "/tmp/dctr_seed_XXXXXX";
    int fd = mkstemp(path);
    static const char csv[] = "label,C1,I1,genres\n1,a,0.5,x|y\n0,b,,z\n1,a,3,\n";
    if (fd < 0 || write(fd, csv, sizeof csv - 1) != (ssize_t)(sizeof csv - 1))
        exit(1);
    close(fd);
    dctr_schema *s;
    ok(dctr_schema_new(&s));
    dctr_sparse_feat c1;
    dctr_sparse_feat_default(&c1, "C1");
    c1.dtype = DCTR_DTYPE_STRING;
    ok(dctr_schema_add_sparse(s, &c1));
    dctr_dense_feat i1;
    dctr_dense_feat_default(&i1, "I1");
    i1.transform = DCTR_TRANSFORM_STANDARDIZE;
    ok(dctr_schema_add_dense(s, &i1));
    dctr_varlen_feat g;
    dctr_varlen_feat_default(&g, "genres", 3);
    g.sparse.dtype = DCTR_DTYPE_STRING;
    ok(dctr_schema_add_varlen(s, &g));
    ok(dctr_schema_validate(s));
    ok(dctr_schema_fit_csv(s, path, NULL));
    unlink(path);
    return s;
}

static void schema_seed(const char *name, dctr_schema *s) {
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    ok(dctr_schema_write(s, &w));
    ok(dctr_wbuf_status(&w));
    put("fuzz_schema_read", name, w.data, w.len);
    dctr_wbuf_free(&w);
}

static void model_seed(const char *name, const dctr_schema *s, dctr_model_type type,
                       int with_optimizer) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, type);
    static const int32_t hidden[1] = {4};
    cfg.hidden_units = hidden;
    cfg.num_hidden = 1;
    dctr_model *m;
    ok(dctr_model_new(s, &cfg, &m));
    void *data;
    size_t size;
    ok(dctr_model_save_to_memory(m, with_optimizer, &data, &size));
    put_with_mode("fuzz_model_load", name, with_optimizer ? 3 : 1, data, size);
    dctr_free_buffer(data);
    dctr_model_free(m);
}

/* A model with the optional "calib" section: negative rate and Platt scaling (set directly: a
 * fit on validation rows would need a dataset). */
static void calibrated_seed(const char *name, const dctr_schema *s) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_LR);
    dctr_model *m;
    ok(dctr_model_new(s, &cfg, &m));
    ok(dctr_model_set_negative_rate(m, 0.1));
    m->platt = 1;
    m->platt_a = 0.9;
    m->platt_b = -0.25;
    void *data;
    size_t size;
    ok(dctr_model_save_to_memory(m, 0, &data, &size));
    put_with_mode("fuzz_model_load", name, 1, data, size);
    dctr_free_buffer(data);
    dctr_model_free(m);
}

/* A model with the optional "calib/isotonic" section (three points, set directly). */
static void isotonic_seed(const char *name, const dctr_schema *s) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_LR);
    dctr_model *m;
    ok(dctr_model_new(s, &cfg, &m));
    static const double x[3] = {0.1, 0.5, 0.9}, y[3] = {0.05, 0.4, 0.95};
    m->iso_x = dctr_calloc(3, sizeof(double));
    m->iso_y = dctr_calloc(3, sizeof(double));
    memcpy(m->iso_x, x, sizeof x);
    memcpy(m->iso_y, y, sizeof y);
    m->iso_n = 3;
    void *data;
    size_t size;
    ok(dctr_model_save_to_memory(m, 0, &data, &size));
    put_with_mode("fuzz_model_load", name, 1, data, size);
    dctr_free_buffer(data);
    dctr_model_free(m);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    mkdir(root, 0777);
    container_seeds();
    dctr_schema *hashed = schema_hashed(), *fitted = schema_fitted();
    schema_seed("hashed", hashed);
    schema_seed("fitted", fitted);
    model_seed("deepfm_fitted", fitted, DCTR_MODEL_DEEPFM, 0);
    model_seed("deepfm_adam_state", hashed, DCTR_MODEL_DEEPFM, 1);
    model_seed("fm", hashed, DCTR_MODEL_FM, 0);
    model_seed("lr", fitted, DCTR_MODEL_LR, 1);
    model_seed("ffm", hashed, DCTR_MODEL_FFM, 0);
    calibrated_seed("lr_calibrated", fitted);
    isotonic_seed("lr_isotonic", fitted);
    dctr_schema_free(hashed);
    dctr_schema_free(fitted);
    return 0;
}
