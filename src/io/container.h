/* The model file container (CONTRACT; format in docs/model-format.md): magic "DCTRMODL",
 * format version, endianness mark, a section table (name, offset, size, CRC32 per section).
 * Save writes a temp file in the same directory, fsyncs it, renames it over the target and
 * fsyncs the directory: a crash mid-save leaves the old file intact. Open validates every size,
 * offset and checksum before anything else reads it. */
#ifndef DCTR_IO_CONTAINER_H
#define DCTR_IO_CONTAINER_H

#include <stddef.h>

#include "deepctr/common.h"
#include "io/bytes.h"

#define DCTR_CONTAINER_MAX_SECTIONS 4096
#define DCTR_CONTAINER_MAX_NAME 128

typedef struct dctr_container_writer dctr_container_writer;
typedef struct dctr_container dctr_container;

dctr_status dctr_cw_new(dctr_container_writer **out);
void dctr_cw_free(dctr_container_writer *cw);
/* Adds a named section with a copy of the payload (names are unique, <= 128 bytes). */
dctr_status dctr_cw_add(dctr_container_writer *cw, const char *name, const dctr_wbuf *payload);
/* The same without the copy: the section takes payload's buffer (payload is left empty), so a
 * multi-GB section does not exist twice in memory while saving. On error payload is unchanged. */
dctr_status dctr_cw_add_take(dctr_container_writer *cw, const char *name, dctr_wbuf *payload);
/* A section whose bytes are produced at save time instead of held in memory: `produce` sends
 * exactly `size` bytes to the sink, in order, and must send the same bytes each time it runs
 * (it runs twice per save: once for the checksum, once for the write). ctx must outlive the
 * writer. For multi-GB payloads (FFM weights) that should not exist twice in memory. */
typedef dctr_status (*dctr_cw_sink)(void *sink_ctx, const void *data, size_t len);
typedef dctr_status (*dctr_cw_producer)(const void *ctx, dctr_cw_sink sink, void *sink_ctx);
dctr_status dctr_cw_add_stream(dctr_container_writer *cw, const char *name, uint64_t size,
                               dctr_cw_producer produce, const void *ctx);
/* Atomic write: temp file, fsync, rename, fsync of the directory. */
dctr_status dctr_cw_save(const dctr_container_writer *cw, const char *path);
/* The same bytes in memory (free with dctr_free). */
dctr_status dctr_cw_to_memory(const dctr_container_writer *cw, void **data, size_t *size);

/* Reads a whole file (rejects files above max_bytes; 0 = no cap) and validates it. */
dctr_status dctr_container_open(const char *path, size_t max_bytes, dctr_container **out);
/* Validates a caller buffer (copied). */
dctr_status dctr_container_from_memory(const void *data, size_t size, dctr_container **out);
void dctr_container_free(dctr_container *c);
int dctr_container_has(const dctr_container *c, const char *name);
/* The sections in file order (for `deepctr inspect` and the fuzzers); name_at is NULL past the
 * end. The name is valid while the container lives. */
size_t dctr_container_count(const dctr_container *c);
const char *dctr_container_name_at(const dctr_container *c, size_t i);
/* A bounds-checked reader over one section's payload; DCTR_ERR_FORMAT when missing. The reader
 * borrows the container's memory. */
dctr_status dctr_container_section(const dctr_container *c, const char *name, dctr_rbuf *out);

/* The container format version this build writes. */
uint32_t dctr_container_format_version(void);

#endif
