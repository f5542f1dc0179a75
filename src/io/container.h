/* The model file container (CONTRACT; format in docs/model-format.md): magic "DCTRMODL",
 * format version, endianness mark, a section table (name, offset, size, CRC32 per section).
 * Save writes a temp file in the same directory, fsyncs it, renames it over the target and
 * fsyncs the directory: a crash mid-save leaves the old file intact. Open validates every size,
 * offset and checksum before anything else reads it (file-backed: every size, offset and the
 * padding; a payload's checksum when that payload is read). */
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
/* File-backed (docs/model-format.md "Loading"): validates the header, the section table and its
 * checksum, the file size and the zero padding as dctr_container_open does, without reading the
 * payloads. The file stays open until dctr_container_free. dctr_container_section then reads a
 * payload whole on first use and checks its CRC (kept until the container is freed: for the
 * small sections); a large one is read through dctr_section_open in bounded chunks.
 * dctr_container_verify then checks the sections nobody read. */
dctr_status dctr_container_open_file(const char *path, dctr_container **out);
/* File-backed: reads every section whose CRC was not compared yet (in chunks) and compares it,
 * so a file-backed load rejects every corrupted byte as dctr_container_open does. In memory:
 * nothing to do (checked at open). */
dctr_status dctr_container_verify(const dctr_container *c);
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
/* A section's payload size without reading it (DCTR_ERR_FORMAT when missing). */
dctr_status dctr_container_section_size(const dctr_container *c, const char *name, uint64_t *size);
/* The most payload bytes the container has held in memory at once: the whole file for
 * dctr_container_open / from_memory; file-backed, the sections read whole plus the chunk
 * buffers of open section readers. */
int64_t dctr_container_held_peak(const dctr_container *c);

/* A section's payload read in order, a chunk at a time (file-backed: pread into a buffer of
 * `chunk` bytes, the CRC accumulated as the bytes come; in memory: straight from the buffer).
 * Every read checks the bytes left first (DCTR_ERR_FORMAT naming the section and the offset).
 * dctr_section_end must follow every successful open. */
typedef struct dctr_section_reader {
    const dctr_container *c;
    const struct dctr_csection *sec;
    dctr_rbuf win;  /* the bytes in memory; win.pos: the next one */
    uint64_t base;  /* the payload offset of win.data[0] */
    uint8_t *buf;   /* file-backed: the chunk buffer (NULL when the payload is in memory) */
    size_t cap;
    uint32_t crc;   /* of the bytes read so far */
} dctr_section_reader;

/* chunk: the buffer's bytes (0: 1 MiB). */
dctr_status dctr_section_open(const dctr_container *c, const char *name, size_t chunk,
                              dctr_section_reader *r);
uint64_t dctr_section_left(const dctr_section_reader *r);
/* Checks that count elements of elem bytes are left, before anything is allocated for them. */
dctr_status dctr_section_need(dctr_section_reader *r, uint64_t count, size_t elem, const char *what);
/* The next n bytes (n <= chunk) as a reader of their own, for a header's fields. */
dctr_status dctr_section_window(dctr_section_reader *r, size_t n, dctr_rbuf *out);
/* The next min(n, left) bytes (n <= chunk) as a reader: a header shorter than the section
 * says is then read field by field, so a short section fails naming the field. */
dctr_status dctr_section_head(dctr_section_reader *r, size_t n, dctr_rbuf *out);
/* The next count floats into dst (NULL: skipped, still checksummed). */
dctr_status dctr_section_f32s(dctr_section_reader *r, float *dst, size_t count, const char *what);
/* Ends the read: the bytes not read yet are read too and the payload's CRC compared; a mismatch
 * replaces st (DCTR_OK or DCTR_ERR_FORMAT) with "<file>: section '<name>' checksum mismatch", so
 * a corrupted byte is named as such whatever a loader made of it. Frees the buffer. */
dctr_status dctr_section_end(dctr_section_reader *r, dctr_status st);

/* The container format version this build writes. */
uint32_t dctr_container_format_version(void);

#endif
