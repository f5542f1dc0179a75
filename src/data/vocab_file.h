/* Vocabulary files (DeepCTR's vocabulary_path): read by the encoder fitting (fit_encoders.c).
 * Kept in src/data because it parses CSV text: src/feature never reads files. */
#ifndef DCTR_DATA_VOCAB_FILE_H
#define DCTR_DATA_VOCAB_FILE_H

#include "feature/schema_types.h"

/* Loads c->vocabulary_path into c's vocabulary ("int_id,string_key" lines); errors name the
 * file, line and column. */
dctr_status dctr_vocab_load_file(dctr_column *c);

#endif
