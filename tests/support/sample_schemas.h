/* The column sets of the shared sample files, built once for every test that reads them. */
#ifndef DCTR_TEST_SAMPLE_SCHEMAS_H
#define DCTR_TEST_SAMPLE_SCHEMAS_H

#include "deepctr/data.h"
#include "deepctr/schema.h"
#include "deepctr/services.h"

/* Called on each descriptor before it is added, with its 1-based index (I1..I13 / C1..C26) or,
 * for MovieLens, its 0-based position in user_id, movie_id, gender, age, occupation, zip. */
typedef void (*sample_dense_fn)(dctr_dense_feat *d, int index);
typedef void (*sample_sparse_fn)(dctr_sparse_feat *f, int index);

/* A new schema with Criteo's I1..I13 (dense) and C1..C26 (string sparse) columns; either hook
 * may be NULL. Not validated or fitted. */
dctr_schema *sample_criteo_schema(sample_dense_fn dense, sample_sparse_fn sparse);
/* Sets the label to "rating" and adds MovieLens' six sparse columns (gender and zip are strings,
 * the rest integer ids); the caller adds genres. */
void sample_add_movielens_sparse(dctr_schema *s, sample_sparse_fn sparse);

/* Validates schema, fits its encoders on the CSV at path, reads the file into *data, then
 * removes the file: 0, or -1 when any step fails. */
/* A validated schema of a dense column "d" and a sparse one "s" (vocabulary 3, embedding dim 2),
 * fitted on the arrays (which name those columns). */
dctr_schema *sample_tiny_schema(const dctr_arrays *arrays);

int sample_fit_read_remove(dctr_schema *schema, const char *path, dctr_dataset **data);

#endif
