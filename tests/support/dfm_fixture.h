/* Tiny schemas and random encoded batches for the model / fit tests (no files needed). */
#ifndef DCTR_TEST_DFM_FIXTURE_H
#define DCTR_TEST_DFM_FIXTURE_H

#include <stdint.h>

#include "data/batch.h"
#include "deepctr/model.h"

typedef struct fx_col {
    const char *name;
    dctr_column_kind kind;
    int64_t vocab;          /* sparse / varlen */
    int32_t k;              /* embedding dim */
    const char *group;      /* NULL = default */
    const char *emb_name;   /* NULL = own table */
    int32_t maxlen;         /* varlen */
    dctr_combiner combiner; /* varlen */
    int weighted;           /* varlen: a weight column "<name>_w" */
    int with_length;        /* varlen: a length column "<name>_len" */
    int frozen;             /* trainable = 0 */
    int32_t dense_dim;      /* dense (0 = 1) */
    float init_std;         /* 0 = default 1e-4 */
} fx_col;

/* A validated, fitted schema (integer ids, fixed vocabularies). Fails the test on error. */
dctr_schema *fx_schema(const fx_col *cols, int n);
/* n random rows: ids in range (varlen with random lengths / zero padding), dense in [0, 1),
 * labels 0/1 (binary) or in [1, 5] (regression), sample weights in [0.5, 1.5] if asked. */
dctr_batch *fx_batch(const dctr_schema *s, int64_t n, uint64_t seed, int regression,
                     int with_weights);
/* A dataset owning `batch` (the batch is freed with the dataset). */
dctr_dataset *fx_dataset(const dctr_schema *s, dctr_batch *batch);
/* A model (fails the test on error). */
dctr_model *fx_model(const dctr_schema *s, const dctr_model_config *cfg);

#endif
