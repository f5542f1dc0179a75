/* Schema serialization for model files and caches: columns, tables, fitted vocabularies, hash
 * settings and dense statistics. The reader validates every count, string and id (it is fed
 * corrupted files by fuzzers) and fails with DCTR_ERR_FORMAT. */
#ifndef DCTR_FEATURE_SCHEMA_IO_H
#define DCTR_FEATURE_SCHEMA_IO_H

#include "feature/schema_types.h"
#include "io/bytes.h"

dctr_status dctr_schema_write(const dctr_schema *schema, dctr_wbuf *w);
dctr_status dctr_schema_read(dctr_rbuf *r, dctr_schema **out);
/* Fingerprint64 of the serialized schema (caches record it). */
dctr_status dctr_schema_fingerprint(const dctr_schema *schema, uint64_t *out);

#endif
