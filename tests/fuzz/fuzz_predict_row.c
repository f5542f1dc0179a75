/* libFuzzer target: the raw-row serving path, dctr_predictor_predict_row (text fields encoded
 * with the model's fitted encoders, then the forward pass).
 * Input: one mode byte, then NUL-separated fields. Mode bit 0 picks the model (DeepFM or FFM on
 * the same fitted schema); bit 1 set: the fields are name, value, name, value, ...; clear: the
 * fields are the values of C1, I1, genres, genres_w in that order (fewer if the input is short).
 * Checks: a successful prediction is a probability in [0, 1]; a failure explains itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deepctr/model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size);

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz_predict_row: failed: %s: %s\n", #cond,         \
                    dctr_last_error());                                          \
            abort();                                                             \
        }                                                                        \
    } while (0)

#define MAX_FIELDS 16

static dctr_model *models[2];
static dctr_predictor *predictors[2];

/* C1 (string vocabulary), I1 (dense, standardized), genres (weighted varlen, hashed). */
static dctr_schema *fitted_schema(void) {
    char path[] = "/tmp/dctr_fuzz_predict_XXXXXX";
    int fd = mkstemp(path);
    static const char csv[] = "label,C1,I1,genres,genres_w\n1,a,0.5,x|y,0.5|2\n0,b,,z,1\n"
                              "1,a,3,,\n0,c,-2,x,3\n";
    CHECK(fd >= 0 && write(fd, csv, sizeof csv - 1) == (ssize_t)(sizeof csv - 1));
    close(fd);
    dctr_schema *s;
    CHECK(dctr_schema_new(&s) == DCTR_OK);
    dctr_sparse_feat c1;
    dctr_sparse_feat_default(&c1, "C1");
    c1.dtype = DCTR_DTYPE_STRING;
    CHECK(dctr_schema_add_sparse(s, &c1) == DCTR_OK);
    dctr_dense_feat i1;
    dctr_dense_feat_default(&i1, "I1");
    i1.transform = DCTR_TRANSFORM_STANDARDIZE;
    CHECK(dctr_schema_add_dense(s, &i1) == DCTR_OK);
    dctr_varlen_feat g;
    dctr_varlen_feat_default(&g, "genres", 3);
    g.sparse.dtype = DCTR_DTYPE_STRING;
    g.sparse.use_hash = 1;
    g.sparse.vocabulary_size = 16;
    g.weight_name = "genres_w";
    CHECK(dctr_schema_add_varlen(s, &g) == DCTR_OK);
    CHECK(dctr_schema_validate(s) == DCTR_OK);
    CHECK(dctr_schema_fit_csv(s, path, NULL) == DCTR_OK);
    unlink(path);
    return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    dctr_schema *s = fitted_schema();
    static const dctr_model_type types[2] = {DCTR_MODEL_DEEPFM, DCTR_MODEL_FFM};
    static const int32_t hidden[1] = {8};
    for (int i = 0; i < 2; i++) {
        dctr_model_config cfg;
        dctr_model_config_default(&cfg, types[i]);
        cfg.hidden_units = hidden;
        cfg.num_hidden = 1;
        CHECK(dctr_model_new(s, &cfg, &models[i]) == DCTR_OK);
        CHECK(dctr_predictor_new(models[i], 1, &predictors[i]) == DCTR_OK);
    }
    dctr_schema_free(s);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size) {
    if (input_size == 0)
        return 0;
    int which = input[0] & 1, named = (input[0] & 2) != 0;
    char *text = malloc(input_size);
    memcpy(text, input + 1, input_size - 1);
    text[input_size - 1] = '\0';
    const char *fields[2 * MAX_FIELDS];
    int32_t nf = 0;
    for (char *p = text; p < text + input_size && nf < 2 * MAX_FIELDS; p += strlen(p) + 1)
        fields[nf++] = p;
    static const char *const fixed[4] = {"C1", "I1", "genres", "genres_w"};
    const char *names[MAX_FIELDS], *values[MAX_FIELDS];
    int32_t count = 0;
    if (named) {
        for (int32_t i = 0; i + 1 < nf && count < MAX_FIELDS; i += 2, count++) {
            names[count] = fields[i];
            values[count] = fields[i + 1];
        }
    } else {
        for (; count < nf && count < 4; count++) {
            names[count] = fixed[count];
            values[count] = fields[count];
        }
    }
    float out = -1.0f;
    dctr_status st = dctr_predictor_predict_row(predictors[which], names, values, count, &out);
    if (st == DCTR_OK && !(out >= 0.0f && out <= 1.0f)) {
        fprintf(stderr, "fuzz_predict_row: model %d returned DCTR_OK with %g\n", which, out);
        abort();
    }
    if (st != DCTR_OK && dctr_last_error()[0] == '\0') {
        fprintf(stderr, "fuzz_predict_row: model %d returned %s without a message\n", which,
                dctr_status_name(st));
        abort();
    }
    free(text);
    return 0;
}
