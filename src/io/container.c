/* The model file container (layout in docs/model-format.md).
 *
 *   0  "DCTRMODL"   8  u32 version   12 u32 endianness mark   16 u32 section count
 *  20  u32 table bytes   24 u64 file size   32 section table   then u32 CRC32 of bytes [0, here)
 *  table entry: u32 name length, name, u64 offset, u64 size, u32 CRC32 of the payload
 *  payloads in table order at 64-byte aligned offsets, zero padding in between.
 *
 * Every byte of a file is covered by a checksum or must be zero padding, so any single bit flip
 * is detected. The writer lays the file out once (cw_emit) and sends it to a sink: a memory
 * buffer or a file descriptor, so both paths produce the same bytes. The reader holds the whole
 * file, or (file-backed) only the header while payloads are read on demand with pread: whole and
 * cached for the small sections, a chunk at a time through dctr_section_reader for the tables. */
#include "io/container.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/error.h"

#define MAGIC "DCTRMODL"
#define FORMAT_VERSION 1u
#define ENDIAN_MARK 0x01020304u
#define FIXED_HEADER 32u
#define PAYLOAD_ALIGN 64u   /* what the writer uses */
#define MIN_ALIGN 8u        /* what the reader requires */
#define ENTRY_FIXED 24u     /* u32 name length + u64 offset + u64 size + u32 crc */
#define MAX_TEMP_ATTEMPTS 100

typedef struct dctr_csection {
    char name[DCTR_CONTAINER_MAX_NAME + 1];
    const uint8_t *data; /* writer: owned copy; reader: into the container's buffer */
    uint64_t offset, size;
    dctr_cw_producer produce; /* writer: a streamed section (data NULL), see dctr_cw_add_stream */
    const void *produce_ctx;
    char *origin; /* reader only: "<label> section '<name>'" for rbuf error messages */
    uint32_t crc; /* reader only: the table's checksum (file-backed: checked when read) */
    int loaded;   /* file-backed: data holds the payload (read on demand, checked) */
    int checked;  /* file-backed: the payload's CRC was compared (loaded, or read to its end) */
} section;

struct dctr_container_writer {
    section *sec;
    uint32_t count, cap;
};

struct dctr_container {
    uint8_t *data; /* the whole file; NULL when file-backed */
    uint64_t size;
    section *sec;
    uint32_t count;
    char *label; /* the path, or "<memory>": prefixes error messages */
    int fd;      /* file-backed (dctr_container_open_file): the open file, else -1 */
    uint64_t held, held_peak; /* bytes of payload held in memory (dctr_container_held_peak) */
};

/* The on-demand cache and the memory count change behind the const of the read API (the
 * container is logically unchanged; one thread uses a container at a time). */
static dctr_container *mut(const dctr_container *c) { return (dctr_container *)c; }

static void hold(const dctr_container *c, int64_t bytes) {
    dctr_container *m = mut(c);
    m->held = (uint64_t)((int64_t)m->held + bytes);
    if (m->held > m->held_peak)
        m->held_peak = m->held;
}

static uint32_t crc_of(const uint8_t *p, uint64_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

static uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

static const char *errtext(int err, char *buf, size_t len) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(err, buf, len);
#else
    if (strerror_r(err, buf, len) != 0)
        snprintf(buf, len, "errno %d", err);
    return buf;
#endif
}

/* ======================= writer ======================= */

dctr_status dctr_cw_new(dctr_container_writer **out) {
    *out = dctr_calloc(1, sizeof **out);
    return *out ? DCTR_OK : DCTR_ERR_NOMEM;
}

void dctr_cw_free(dctr_container_writer *cw) {
    if (!cw)
        return;
    for (uint32_t i = 0; i < cw->count; i++)
        dctr_free((void *)cw->sec[i].data);
    dctr_free(cw->sec);
    dctr_free(cw);
}

/* Checks a new section's name and payload and makes room for it in the table. */
static dctr_status cw_check_new(dctr_container_writer *cw, const char *name, const dctr_wbuf *payload) {
    if (!cw || !name || !payload)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL argument to dctr_cw_add");
    size_t n = strlen(name);
    if (n == 0 || n > DCTR_CONTAINER_MAX_NAME)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "container: section name '%.40s' must be 1..%d bytes (is %zu)",
                              name, DCTR_CONTAINER_MAX_NAME, n);
    if (dctr_wbuf_status(payload) != DCTR_OK)
        return dctr_set_error(DCTR_ERR_NOMEM,
                              "container: payload of section '%s' is incomplete (a write failed)",
                              name);
    for (uint32_t i = 0; i < cw->count; i++)
        if (strcmp(cw->sec[i].name, name) == 0)
            return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: duplicate section '%s'",
                                  name);
    if (cw->count >= DCTR_CONTAINER_MAX_SECTIONS)
        return dctr_set_error(DCTR_ERR_LIMIT, "container: more than %d sections",
                              DCTR_CONTAINER_MAX_SECTIONS);
    if (cw->count == cw->cap) {
        uint32_t cap = cw->cap ? cw->cap * 2 : 16;
        section *s = dctr_realloc_array(cw->sec, cap, sizeof *s);
        if (!s)
            return DCTR_ERR_NOMEM;
        cw->sec = s;
        cw->cap = cap;
    }
    return DCTR_OK;
}

static void cw_push(dctr_container_writer *cw, const char *name, const uint8_t *data, size_t size) {
    section *s = &cw->sec[cw->count++];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, strlen(name) + 1);
    s->data = data;
    s->size = size;
}

dctr_status dctr_cw_add(dctr_container_writer *cw, const char *name, const dctr_wbuf *payload) {
    DCTR_TRY(cw_check_new(cw, name, payload));
    uint8_t *copy = dctr_malloc(payload->len);
    if (!copy)
        return DCTR_ERR_NOMEM;
    if (payload->len)
        memcpy(copy, payload->data, payload->len);
    cw_push(cw, name, copy, payload->len);
    return DCTR_OK;
}

dctr_status dctr_cw_add_stream(dctr_container_writer *cw, const char *name, uint64_t size,
                               dctr_cw_producer produce, const void *ctx) {
    dctr_wbuf empty;
    dctr_wbuf_init(&empty);
    if (!produce)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL producer");
    DCTR_TRY(cw_check_new(cw, name, &empty));
    cw_push(cw, name, NULL, (size_t)size);
    cw->sec[cw->count - 1].size = size;
    cw->sec[cw->count - 1].produce = produce;
    cw->sec[cw->count - 1].produce_ctx = ctx;
    return DCTR_OK;
}

dctr_status dctr_cw_add_take(dctr_container_writer *cw, const char *name, dctr_wbuf *payload) {
    DCTR_TRY(cw_check_new(cw, name, payload));
    if (!payload->data) /* empty payload: nothing to take */
        return dctr_cw_add(cw, name, payload);
    cw_push(cw, name, payload->data, payload->len);
    dctr_wbuf_init(payload);
    return DCTR_OK;
}

/* Assigns payload offsets (when `offsets` is given) and returns the file size. */
static uint64_t cw_layout(const dctr_container_writer *cw, uint64_t *offsets, uint32_t *table) {
    uint64_t t = 0;
    for (uint32_t i = 0; i < cw->count; i++)
        t += ENTRY_FIXED + strlen(cw->sec[i].name);
    uint64_t pos = FIXED_HEADER + t + 4;
    for (uint32_t i = 0; i < cw->count; i++) {
        uint64_t off = align_up(pos, PAYLOAD_ALIGN);
        if (offsets)
            offsets[i] = off;
        pos = off + cw->sec[i].size;
    }
    if (table)
        *table = (uint32_t)t; /* <= 4096 * 152 */
    return pos;
}

/* A streamed section's producer must send exactly its declared size. */
typedef struct {
    uLong crc;
    uint64_t n;
    dctr_cw_sink next; /* NULL: only checksum */
    void *next_ctx;
} stream_sink;

static dctr_status to_stream(void *ctx, const void *data, size_t len) {
    stream_sink *ss = ctx;
    ss->n += len;
    if (!ss->next) {
        const uint8_t *p = data;
        for (size_t left = len; left > 0;) {
            uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
            ss->crc = crc32(ss->crc, p, chunk);
            p += chunk;
            left -= chunk;
        }
        return DCTR_OK;
    }
    return ss->next(ss->next_ctx, data, len);
}

/* Runs a streamed section's producer into `next` (NULL: into the checksum). */
static dctr_status run_producer(const section *s, dctr_cw_sink next, void *next_ctx, uint32_t *crc) {
    stream_sink ss = {crc32(0L, Z_NULL, 0), 0, next, next_ctx};
    DCTR_TRY(s->produce(s->produce_ctx, to_stream, &ss));
    if (ss.n != s->size)
        return dctr_set_error(DCTR_ERR_STATE, "container: section '%s' produced %llu bytes, declared %llu",
                              s->name, (unsigned long long)ss.n, (unsigned long long)s->size);
    if (crc)
        *crc = (uint32_t)ss.crc;
    return DCTR_OK;
}

static dctr_status section_crc(const section *s, uint32_t *crc) {
    if (s->produce)
        return run_producer(s, NULL, NULL, crc);
    *crc = crc_of(s->data, s->size);
    return DCTR_OK;
}

/* Header + table + header CRC. */
static dctr_status cw_header(const dctr_container_writer *cw, dctr_wbuf *h,
                             const uint64_t *offsets, uint32_t table, uint64_t total) {
    dctr_wbuf_bytes(h, MAGIC, 8);
    dctr_wbuf_u32(h, FORMAT_VERSION);
    dctr_wbuf_u32(h, ENDIAN_MARK);
    dctr_wbuf_u32(h, cw->count);
    dctr_wbuf_u32(h, table);
    dctr_wbuf_u64(h, total);
    for (uint32_t i = 0; i < cw->count; i++) {
        const section *s = &cw->sec[i];
        dctr_wbuf_u32(h, (uint32_t)strlen(s->name));
        dctr_wbuf_bytes(h, s->name, strlen(s->name));
        dctr_wbuf_u64(h, offsets[i]);
        dctr_wbuf_u64(h, s->size);
        uint32_t crc = 0;
        dctr_status st = section_crc(s, &crc);
        if (st != DCTR_OK)
            return st;
        dctr_wbuf_u32(h, crc);
    }
    if (dctr_wbuf_status(h) == DCTR_OK)
        dctr_wbuf_u32(h, crc_of(h->data, h->len));
    return dctr_wbuf_status(h);
}

typedef dctr_cw_sink sink_fn;

/* Lays the file out and sends every byte, in order, to the sink. */
static dctr_status cw_emit(const dctr_container_writer *cw, sink_fn sink, void *ctx) {
    static const uint8_t zeros[PAYLOAD_ALIGN];
    uint64_t *offsets = dctr_calloc(cw->count ? cw->count : 1, sizeof *offsets);
    if (!offsets)
        return DCTR_ERR_NOMEM;
    uint32_t table;
    uint64_t total = cw_layout(cw, offsets, &table);
    dctr_wbuf h;
    dctr_wbuf_init(&h);
    dctr_status st = cw_header(cw, &h, offsets, table, total);
    if (st == DCTR_OK)
        st = sink(ctx, h.data, h.len);
    uint64_t pos = h.len;
    for (uint32_t i = 0; i < cw->count && st == DCTR_OK; i++) {
        st = sink(ctx, zeros, (size_t)(offsets[i] - pos));
        if (st == DCTR_OK)
            st = cw->sec[i].produce ? run_producer(&cw->sec[i], sink, ctx, NULL)
                                    : sink(ctx, cw->sec[i].data, (size_t)cw->sec[i].size);
        pos = offsets[i] + cw->sec[i].size;
    }
    dctr_wbuf_free(&h);
    dctr_free(offsets);
    return st;
}

typedef struct {
    uint8_t *at;
} mem_sink;

static dctr_status to_mem(void *ctx, const void *data, size_t len) {
    mem_sink *m = ctx;
    if (len)
        memcpy(m->at, data, len);
    m->at += len;
    return DCTR_OK;
}

dctr_status dctr_cw_to_memory(const dctr_container_writer *cw, void **data, size_t *size) {
    if (!cw || !data || !size)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL argument");
    uint64_t total = cw_layout(cw, NULL, NULL);
    if (total > SIZE_MAX)
        return dctr_set_error(DCTR_ERR_LIMIT, "container: %llu bytes do not fit in memory",
                              (unsigned long long)total);
    uint8_t *buf = dctr_malloc((size_t)total);
    if (!buf)
        return DCTR_ERR_NOMEM;
    mem_sink m = {buf};
    dctr_status st = cw_emit(cw, to_mem, &m);
    if (st != DCTR_OK) {
        dctr_free(buf);
        return st;
    }
    *data = buf;
    *size = (size_t)total;
    return DCTR_OK;
}

typedef struct {
    int fd;
    const char *path, *tmp;
} fd_sink;

static dctr_status io_error(const char *path, const char *what, const char *file, int err) {
    char buf[128];
    return dctr_set_error(DCTR_ERR_IO, "cannot save '%s': %s '%s': %s", path, what, file,
                          errtext(err, buf, sizeof buf));
}

static dctr_status to_fd(void *ctx, const void *data, size_t len) {
    fd_sink *f = ctx;
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return io_error(f->path, "write to", f->tmp, n < 0 ? errno : EIO);
        p += n;
        len -= (size_t)n;
    }
    return DCTR_OK;
}

/* Opens "<path>.tmp.<pid>.<n>" exclusively, trying the next n when another writer holds it. */
static dctr_status open_temp(const char *path, char **tmp_out, int *fd_out) {
    size_t cap = strlen(path) + 64;
    char *tmp = dctr_malloc(cap);
    if (!tmp)
        return DCTR_ERR_NOMEM;
    for (int n = 0; n < MAX_TEMP_ATTEMPTS; n++) {
        snprintf(tmp, cap, "%s.tmp.%ld.%d", path, (long)getpid(), n);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            *fd_out = fd;
            return DCTR_OK;
        }
        if (errno != EEXIST) {
            dctr_status st = io_error(path, "cannot create temporary file", tmp, errno);
            dctr_free(tmp);
            return st;
        }
    }
    dctr_free(tmp);
    return dctr_set_error(DCTR_ERR_IO, "cannot save '%s': %d temporary files already exist",
                          path, MAX_TEMP_ATTEMPTS);
}

/* fsync of the directory holding path, so the rename itself survives a power loss. */
static dctr_status sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = dctr_strdup(slash ? path : ".");
    if (!dir)
        return DCTR_ERR_NOMEM;
    if (slash)
        dir[slash == path ? 1 : (size_t)(slash - path)] = '\0';
    dctr_status st = DCTR_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        st = io_error(path, "cannot open directory", dir, errno);
    else if (fsync(fd) != 0 && errno != EINVAL) /* EINVAL: the file system cannot sync dirs */
        st = io_error(path, "cannot fsync directory", dir, errno);
    if (fd >= 0)
        close(fd);
    dctr_free(dir);
    return st;
}

dctr_status dctr_cw_save(const dctr_container_writer *cw, const char *path) {
    if (!cw || !path || !*path)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL or empty save path");
    char *tmp = NULL;
    int fd = -1;
    DCTR_TRY(open_temp(path, &tmp, &fd));
    fd_sink f = {fd, path, tmp};
    dctr_status st = cw_emit(cw, to_fd, &f);
    if (st == DCTR_OK && fsync(fd) != 0)
        st = io_error(path, "cannot fsync", tmp, errno);
    if (close(fd) != 0 && st == DCTR_OK)
        st = io_error(path, "cannot close", tmp, errno);
    if (st == DCTR_OK && rename(tmp, path) != 0)
        st = io_error(path, "cannot rename temporary file", tmp, errno);
    if (st != DCTR_OK)
        unlink(tmp); /* the old file at path is untouched */
    else
        st = sync_dir(path);
    dctr_free(tmp);
    return st;
}

/* ======================= reader ======================= */

void dctr_container_free(dctr_container *c) {
    if (!c)
        return;
    for (uint32_t i = 0; c->sec && i < c->count; i++) {
        dctr_free(c->sec[i].origin);
        if (!c->data)
            dctr_free((void *)c->sec[i].data);
    }
    if (c->fd >= 0)
        close(c->fd);
    dctr_free(c->sec);
    dctr_free(c->data);
    dctr_free(c->label);
    dctr_free(c);
}

#define BAD(...) dctr_set_error(DCTR_ERR_FORMAT, __VA_ARGS__)

/* Fixed header: magic, version, endianness, sizes; reads only the first min(size, 32) bytes of
 * d. Sets *header_end (table CRC included, checked to lie inside the file) and *file_size. */
static dctr_status check_fixed(const uint8_t *d, uint64_t size, const char *label, uint32_t *count,
                               uint32_t *table, uint64_t *header_end, uint64_t *file_size) {
    if (size < 8) {
        if (memcmp(d, MAGIC, (size_t)size) == 0 || size == 0)
            return BAD("%s: truncated: header needs %u bytes, file has %llu", label, FIXED_HEADER,
                       (unsigned long long)size);
        return BAD("%s: not a libdeepctr model file (bad magic)", label);
    }
    if (memcmp(d, MAGIC, 8) != 0)
        return BAD("%s: not a libdeepctr model file (bad magic)", label);
    if (size < FIXED_HEADER)
        return BAD("%s: truncated: header needs %u bytes, file has %llu", label, FIXED_HEADER,
                   (unsigned long long)size);
    dctr_rbuf r;
    dctr_rbuf_init(&r, d, FIXED_HEADER, label);
    uint32_t version, mark;
    r.pos = 8;
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "format version"));
    DCTR_TRY(dctr_rbuf_u32(&r, &mark, "endianness mark"));
    DCTR_TRY(dctr_rbuf_u32(&r, count, "section count"));
    DCTR_TRY(dctr_rbuf_u32(&r, table, "section table size"));
    DCTR_TRY(dctr_rbuf_u64(&r, file_size, "file size"));
    if (version > FORMAT_VERSION)
        return BAD("%s: format version %u is newer than this library supports (%u)", label,
                   version, FORMAT_VERSION);
    if (version == 0)
        return BAD("%s: invalid format version 0", label);
    if (mark != ENDIAN_MARK)
        return BAD("%s: bad endianness mark 0x%08x (expected 0x%08x)", label, mark, ENDIAN_MARK);
    if (*count > DCTR_CONTAINER_MAX_SECTIONS)
        return BAD("%s: section count %u exceeds the limit %d", label, *count,
                   DCTR_CONTAINER_MAX_SECTIONS);
    uint64_t min_table = (uint64_t)*count * (ENTRY_FIXED + 1);
    uint64_t max_table = (uint64_t)*count * (ENTRY_FIXED + DCTR_CONTAINER_MAX_NAME);
    if (*table < min_table || *table > max_table)
        return BAD("%s: section table size %u is impossible for %u sections", label, *table,
                   *count);
    *header_end = FIXED_HEADER + (uint64_t)*table + 4;
    if (*header_end > size)
        return BAD("%s: truncated: section table needs %llu bytes, file has %llu", label,
                   (unsigned long long)*header_end, (unsigned long long)size);
    return DCTR_OK;
}

/* The header checksum over d[0, header_end) and the size the header declares. */
static dctr_status check_crc(const uint8_t *d, uint64_t header_end, uint64_t file_size,
                             uint64_t size, const char *label) {
    uint32_t stored;
    dctr_rbuf r;
    dctr_rbuf_init(&r, d + header_end - 4, 4, label);
    DCTR_TRY(dctr_rbuf_u32(&r, &stored, "header checksum"));
    if (stored != crc_of(d, header_end - 4))
        return BAD("%s: header checksum mismatch", label);
    if (file_size != size)
        return BAD("%s: %s: header says the file is %llu bytes, it has %llu", label,
                   file_size > size ? "truncated" : "trailing data",
                   (unsigned long long)file_size, (unsigned long long)size);
    return DCTR_OK;
}

/* n bytes of a file-backed container at file offset off; a short read (the file shrank or
 * changed since it was opened) is an error naming the file, what was read and the offset. */
static dctr_status pread_all(const dctr_container *c, void *dst, size_t n, uint64_t off,
                             const char *what) {
    uint8_t *p = dst;
    while (n > 0) {
        ssize_t got = pread(c->fd, p, n > (1u << 30) ? (1u << 30) : n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            char buf[128];
            return dctr_set_error(DCTR_ERR_IO, "%s: cannot read %s at offset %llu: %s", c->label,
                                  what, (unsigned long long)off, errtext(errno, buf, sizeof buf));
        }
        if (got == 0)
            return dctr_set_error(DCTR_ERR_IO, "%s: file shrank while being read (%s at offset %llu)",
                                  c->label, what, (unsigned long long)off);
        p += got;
        off += (uint64_t)got;
        n -= (size_t)got;
    }
    return DCTR_OK;
}

static int all_zero(const uint8_t *p, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Whether the file bytes [from, to) are all zero (file-backed: read a bounded piece at a time). */
static dctr_status gap_zero(const dctr_container *c, uint64_t from, uint64_t to, int *zero) {
    if (c->data) {
        *zero = all_zero(c->data + from, to - from);
        return DCTR_OK;
    }
    uint8_t buf[4096];
    *zero = 1;
    for (uint64_t at = from; at < to && *zero; at += sizeof buf) {
        size_t n = to - at < sizeof buf ? (size_t)(to - at) : sizeof buf;
        DCTR_TRY(pread_all(c, buf, n, at, "padding"));
        *zero = all_zero(buf, n);
    }
    return DCTR_OK;
}

/* One table entry: name, placement (after `*end`, 8-aligned, inside the file), checksum. */
static dctr_status read_entry(dctr_rbuf *r, const dctr_container *c, uint32_t i,
                              const char *label, uint64_t *end) {
    section *s = &c->sec[i];
    uint32_t n;
    DCTR_TRY(dctr_rbuf_u32(r, &n, "section name length"));
    if (n == 0 || n > DCTR_CONTAINER_MAX_NAME)
        return BAD("%s: section %u has a name of %u bytes (allowed 1..%d)", label, i, n,
                   DCTR_CONTAINER_MAX_NAME);
    DCTR_TRY(dctr_rbuf_bytes(r, s->name, n, "section name"));
    s->name[n] = '\0';
    if (memchr(s->name, '\0', n))
        return BAD("%s: section %u name contains a NUL byte", label, i);
    for (uint32_t j = 0; j < i; j++)
        if (strcmp(c->sec[j].name, s->name) == 0)
            return BAD("%s: duplicate section '%s'", label, s->name);
    DCTR_TRY(dctr_rbuf_u64(r, &s->offset, "section offset"));
    DCTR_TRY(dctr_rbuf_u64(r, &s->size, "section size"));
    DCTR_TRY(dctr_rbuf_u32(r, &s->crc, "section checksum"));
    if (s->offset % MIN_ALIGN != 0)
        return BAD("%s: section '%s' offset %llu is not %u-byte aligned", label, s->name,
                   (unsigned long long)s->offset, MIN_ALIGN);
    if (s->offset < *end)
        return BAD("%s: section '%s' at offset %llu overlaps the data before it (ending at %llu)",
                   label, s->name, (unsigned long long)s->offset, (unsigned long long)*end);
    if (s->offset > c->size || s->size > c->size - s->offset)
        return BAD("%s: section '%s' (offset %llu, size %llu) extends past the end of the "
                   "file (%llu bytes)",
                   label, s->name, (unsigned long long)s->offset, (unsigned long long)s->size,
                   (unsigned long long)c->size);
    int zero;
    DCTR_TRY(gap_zero(c, *end, s->offset, &zero));
    if (!zero)
        return BAD("%s: nonzero padding before section '%s'", label, s->name);
    if (c->data) { /* whole file: checked now; file-backed: when the section is read */
        s->data = c->data + s->offset;
        if (crc_of(s->data, s->size) != s->crc)
            return BAD("%s: section '%s' checksum mismatch", label, s->name);
    }
    *end = s->offset + s->size;
    size_t cap = strlen(label) + n + 16;
    s->origin = dctr_malloc(cap);
    if (!s->origin)
        return DCTR_ERR_NOMEM;
    snprintf(s->origin, cap, "%s section '%s'", label, s->name);
    return DCTR_OK;
}

/* A container over `data` (NULL: file-backed over fd); takes data and fd, also on failure. */
static dctr_status new_container(const char *label, uint8_t *data, uint64_t size, int fd,
                                 dctr_container **out) {
    *out = dctr_calloc(1, sizeof **out);
    if (!*out) {
        dctr_free(data);
        if (fd >= 0)
            close(fd);
        return DCTR_ERR_NOMEM;
    }
    (*out)->data = data;
    (*out)->size = size;
    (*out)->fd = fd;
    (*out)->held = (*out)->held_peak = data ? size : 0;
    return ((*out)->label = dctr_strdup(label)) ? DCTR_OK : DCTR_ERR_NOMEM;
}

/* The section table (hdr holds the header through its checksum, already checked) and the
 * padding after the last payload. */
static dctr_status parse_table(dctr_container *c, const uint8_t *hdr, uint32_t count,
                               uint32_t table, uint64_t end) {
    const char *label = c->label;
    /* count <= 4096 and the table fits in the file: this allocation is small and bounded. */
    if (!(c->sec = dctr_calloc(count ? count : 1, sizeof *c->sec)))
        return DCTR_ERR_NOMEM;
    char *table_label = dctr_malloc(strlen(label) + 16);
    if (!table_label)
        return DCTR_ERR_NOMEM;
    sprintf(table_label, "%s section table", label);
    dctr_rbuf r;
    dctr_rbuf_init(&r, hdr + FIXED_HEADER, table, table_label);
    dctr_status st = DCTR_OK;
    for (uint32_t i = 0; st == DCTR_OK && i < count; i++) {
        c->count = i + 1; /* so a failure frees this entry's origin too */
        st = read_entry(&r, c, i, label, &end);
    }
    if (st == DCTR_OK && dctr_rbuf_remaining(&r) != 0)
        st = BAD("%s: section table has %zu unused bytes", label, dctr_rbuf_remaining(&r));
    dctr_free(table_label);
    int zero = 1;
    if (st == DCTR_OK)
        st = gap_zero(c, end, c->size, &zero);
    if (st == DCTR_OK && !zero)
        st = BAD("%s: nonzero trailing bytes after the last section", label);
    return st;
}

/* Validates `data`; ownership passes to the container, also on failure. */
static dctr_status parse(uint8_t *data, size_t size, const char *label, dctr_container **out) {
    dctr_container *c = NULL;
    dctr_status st = new_container(label, data, size, -1, &c);
    uint32_t count = 0, table = 0;
    uint64_t end = 0, file_size = 0;
    if (st == DCTR_OK)
        st = check_fixed(data, size, label, &count, &table, &end, &file_size);
    if (st == DCTR_OK)
        st = check_crc(data, end, file_size, size, label);
    if (st == DCTR_OK)
        st = parse_table(c, data, count, table, end);
    *out = NULL;
    if (st != DCTR_OK) {
        dctr_container_free(c);
        return st;
    }
    *out = c;
    return DCTR_OK;
}

dctr_status dctr_container_from_memory(const void *data, size_t size, dctr_container **out) {
    if (!out || (!data && size))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL argument");
    uint8_t *copy = dctr_malloc(size);
    if (!copy)
        return DCTR_ERR_NOMEM;
    if (size)
        memcpy(copy, data, size);
    return parse(copy, size, "<memory>", out);
}

static dctr_status read_error(const char *path, const char *what, int err) {
    char buf[128];
    return dctr_set_error(DCTR_ERR_IO, "%s: cannot %s: %s", path, what,
                          errtext(err, buf, sizeof buf));
}

/* Opens path for reading: a regular file (a FIFO or device is refused, never blocked on). */
static dctr_status open_regular(const char *path, int *fd_out, uint64_t *size) {
    /* O_NONBLOCK: a FIFO (or device) is refused below instead of blocking in open() */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return read_error(path, "open", errno);
    struct stat st_buf;
    dctr_status st = DCTR_OK;
    if (fstat(fd, &st_buf) != 0)
        st = read_error(path, "stat", errno);
    else if (!S_ISREG(st_buf.st_mode))
        st = dctr_set_error(DCTR_ERR_IO, "%s: not a regular file", path);
    if (st != DCTR_OK) {
        close(fd);
        return st;
    }
    *fd_out = fd;
    *size = (uint64_t)st_buf.st_size;
    return DCTR_OK;
}

dctr_status dctr_container_open(const char *path, size_t max_bytes, dctr_container **out) {
    if (!path || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL argument");
    *out = NULL;
    int fd = -1;
    uint64_t fsize = 0;
    DCTR_TRY(open_regular(path, &fd, &fsize));
    dctr_status st = DCTR_OK;
    uint8_t *data = NULL;
    size_t size = 0, got = 0;
    if (fsize > SIZE_MAX || (max_bytes && fsize > max_bytes)) {
        st = dctr_set_error(DCTR_ERR_LIMIT, "%s: file of %llu bytes exceeds the limit of %zu",
                            path, (unsigned long long)fsize, max_bytes ? max_bytes : SIZE_MAX);
    } else {
        size = (size_t)fsize;
        data = dctr_malloc(size);
        if (!data)
            st = DCTR_ERR_NOMEM;
    }
    while (st == DCTR_OK && got < size) {
        ssize_t n = read(fd, data + got, size - got > (1u << 30) ? (1u << 30) : size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            st = read_error(path, "read", errno);
        else if (n == 0)
            st = dctr_set_error(DCTR_ERR_IO, "%s: file shrank while being read", path);
        else
            got += (size_t)n;
    }
    close(fd);
    if (st != DCTR_OK) {
        dctr_free(data);
        return st;
    }
    return parse(data, size, path, out);
}

/* File-backed: the header and table are read and checked as dctr_container_open does, the
 * padding between payloads is read a bounded piece at a time, the payloads are not read. */
static dctr_status open_file(dctr_container *c) {
    uint8_t fixed[FIXED_HEADER];
    const size_t first = c->size < FIXED_HEADER ? (size_t)c->size : FIXED_HEADER;
    uint32_t count = 0, table = 0;
    uint64_t end = 0, file_size = 0;
    DCTR_TRY(pread_all(c, fixed, first, 0, "header"));
    DCTR_TRY(check_fixed(fixed, c->size, c->label, &count, &table, &end, &file_size));
    uint8_t *hdr = dctr_malloc((size_t)end); /* <= 32 + 4096 * 152 + 4 bytes */
    if (!hdr)
        return DCTR_ERR_NOMEM;
    dctr_status st = pread_all(c, hdr, (size_t)end, 0, "section table");
    if (st == DCTR_OK)
        st = check_crc(hdr, end, file_size, c->size, c->label);
    if (st == DCTR_OK)
        st = parse_table(c, hdr, count, table, end);
    dctr_free(hdr);
    return st;
}

dctr_status dctr_container_open_file(const char *path, dctr_container **out) {
    if (!path || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL argument");
    *out = NULL;
    int fd = -1;
    uint64_t size = 0;
    DCTR_TRY(open_regular(path, &fd, &size));
    dctr_container *c = NULL;
    dctr_status st = new_container(path, NULL, size, fd, &c);
    if (st == DCTR_OK)
        st = open_file(c);
    if (st != DCTR_OK) {
        dctr_container_free(c);
        return st;
    }
    *out = c;
    return DCTR_OK;
}

int dctr_container_has(const dctr_container *c, const char *name) {
    for (uint32_t i = 0; c && name && i < c->count; i++)
        if (strcmp(c->sec[i].name, name) == 0)
            return 1;
    return 0;
}

size_t dctr_container_count(const dctr_container *c) { return c ? c->count : 0; }

const char *dctr_container_name_at(const dctr_container *c, size_t i) {
    return c && i < c->count ? c->sec[i].name : NULL;
}

static dctr_status find(const dctr_container *c, const char *name, section **out) {
    if (!c || !name)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL argument");
    for (uint32_t i = 0; i < c->count; i++)
        if (strcmp(c->sec[i].name, name) == 0) {
            *out = &c->sec[i];
            return DCTR_OK;
        }
    return dctr_set_error(DCTR_ERR_FORMAT, "%s: missing section '%s'", c->label, name);
}

dctr_status dctr_container_section_size(const dctr_container *c, const char *name, uint64_t *size) {
    section *s = NULL;
    DCTR_TRY(find(c, name, &s));
    *size = s->size;
    return DCTR_OK;
}

static dctr_status checksum_mismatch(const dctr_container *c, const section *s) {
    return BAD("%s: section '%s' checksum mismatch", c->label, s->name);
}

/* File-backed: reads one payload whole and checks it (kept until the container is freed). */
static dctr_status load_section(const dctr_container *c, section *s) {
    if (s->size > SIZE_MAX)
        return dctr_set_error(DCTR_ERR_LIMIT, "%s: section '%s' of %llu bytes does not fit in memory",
                              c->label, s->name, (unsigned long long)s->size);
    uint8_t *p = dctr_malloc(s->size ? (size_t)s->size : 1);
    if (!p)
        return DCTR_ERR_NOMEM;
    char what[DCTR_CONTAINER_MAX_NAME + 16];
    snprintf(what, sizeof what, "section '%s'", s->name);
    dctr_status st = pread_all(c, p, (size_t)s->size, s->offset, what);
    if (st == DCTR_OK && crc_of(p, s->size) != s->crc)
        st = checksum_mismatch(c, s);
    if (st != DCTR_OK) {
        dctr_free(p);
        return st;
    }
    s->data = p;
    s->loaded = s->checked = 1;
    hold(c, (int64_t)s->size);
    return DCTR_OK;
}

dctr_status dctr_container_section(const dctr_container *c, const char *name, dctr_rbuf *out) {
    if (!out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "container: NULL argument");
    section *s = NULL;
    DCTR_TRY(find(c, name, &s));
    if (!c->data && !s->loaded)
        DCTR_TRY(load_section(c, s));
    dctr_rbuf_init(out, s->data, (size_t)s->size, s->origin);
    return DCTR_OK;
}

int64_t dctr_container_held_peak(const dctr_container *c) { return c ? (int64_t)c->held_peak : 0; }

/* ======================= chunked section reader ======================= */

#define CHUNK_DEFAULT (1u << 20)

dctr_status dctr_section_open(const dctr_container *c, const char *name, size_t chunk,
                              dctr_section_reader *r) {
    memset(r, 0, sizeof *r);
    section *s = NULL;
    DCTR_TRY(find(c, name, &s));
    r->c = c;
    r->sec = s;
    r->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    if (c->data || s->loaded) { /* in memory already: the window is the whole payload */
        dctr_rbuf_init(&r->win, s->data, (size_t)s->size, s->origin);
        return DCTR_OK;
    }
    chunk = chunk ? chunk : CHUNK_DEFAULT;
    r->cap = chunk < 16 ? 16 : chunk;
    if (!(r->buf = dctr_malloc(r->cap)))
        return DCTR_ERR_NOMEM;
    hold(c, (int64_t)r->cap);
    dctr_rbuf_init(&r->win, r->buf, 0, s->origin);
    return DCTR_OK;
}

uint64_t dctr_section_left(const dctr_section_reader *r) {
    return r->sec->size - r->base - r->win.pos;
}

/* File-backed: keeps the unread rest of the window and reads up to cap bytes more. */
static dctr_status refill(dctr_section_reader *r) {
    const section *s = r->sec;
    size_t keep = dctr_rbuf_remaining(&r->win);
    memmove(r->buf, r->buf + r->win.pos, keep);
    r->base += r->win.pos;
    uint64_t from = r->base + keep, left = s->size - from;
    size_t n = left < r->cap - keep ? (size_t)left : r->cap - keep;
    char what[DCTR_CONTAINER_MAX_NAME + 16];
    snprintf(what, sizeof what, "section '%s'", s->name);
    DCTR_TRY(pread_all(r->c, r->buf + keep, n, s->offset + from, what));
    r->crc = (uint32_t)crc32(r->crc, r->buf + keep, (uInt)n);
    dctr_rbuf_init(&r->win, r->buf, keep + n, s->origin);
    return DCTR_OK;
}

static dctr_status overrun(const dctr_section_reader *r, uint64_t need, const char *what) {
    return dctr_set_error(DCTR_ERR_FORMAT,
                          "%s: truncated reading %s at offset %llu: need %llu bytes, %llu remain",
                          r->sec->origin, what ? what : "data",
                          (unsigned long long)(r->base + r->win.pos), (unsigned long long)need,
                          (unsigned long long)dctr_section_left(r));
}

dctr_status dctr_section_need(dctr_section_reader *r, uint64_t count, size_t elem, const char *what) {
    if (elem && count > dctr_section_left(r) / elem)
        return overrun(r, count * elem, what);
    return DCTR_OK;
}

dctr_status dctr_section_window(dctr_section_reader *r, size_t n, dctr_rbuf *out) {
    if (n > dctr_section_left(r) || (r->buf && n > r->cap))
        return overrun(r, n, "a header");
    if (dctr_rbuf_remaining(&r->win) < n)
        DCTR_TRY(refill(r));
    dctr_rbuf_init(out, r->win.data + r->win.pos, n, r->sec->origin);
    r->win.pos += n;
    return DCTR_OK;
}

dctr_status dctr_section_head(dctr_section_reader *r, size_t n, dctr_rbuf *out) {
    const uint64_t left = dctr_section_left(r);
    return dctr_section_window(r, left < n ? (size_t)left : n, out);
}

dctr_status dctr_section_f32s(dctr_section_reader *r, float *dst, size_t count, const char *what) {
    DCTR_TRY(dctr_section_need(r, count, sizeof(float), what));
    while (count > 0) {
        size_t k = dctr_rbuf_remaining(&r->win) / sizeof(float);
        if (k == 0) {
            DCTR_TRY(refill(r)); /* cap >= 16: at least one whole float comes in */
            continue;
        }
        k = k < count ? k : count;
        if (dst) {
            DCTR_TRY(dctr_rbuf_f32s(&r->win, dst, k, what));
            dst += k;
        } else {
            r->win.pos += k * sizeof(float);
        }
        count -= k;
    }
    return DCTR_OK;
}

dctr_status dctr_section_end(dctr_section_reader *r, dctr_status st) {
    if (r->buf && (st == DCTR_OK || st == DCTR_ERR_FORMAT)) {
        dctr_status rd = DCTR_OK;
        while (rd == DCTR_OK && dctr_section_left(r) > 0) { /* the rest still counts */
            r->win.pos = r->win.len;
            rd = refill(r);
        }
        if (rd != DCTR_OK)
            st = rd;
        else if (r->crc != r->sec->crc)
            st = checksum_mismatch(r->c, r->sec);
        else
            ((section *)r->sec)->checked = 1; /* the container's own array (see mut) */
    }
    if (r->buf) {
        hold(r->c, -(int64_t)r->cap);
        dctr_free(r->buf);
    }
    memset(r, 0, sizeof *r);
    return st;
}

dctr_status dctr_container_verify(const dctr_container *c) {
    for (uint32_t i = 0; c && !c->data && i < c->count; i++) {
        if (c->sec[i].checked)
            continue;
        dctr_section_reader r;
        DCTR_TRY(dctr_section_open(c, c->sec[i].name, 0, &r));
        DCTR_TRY(dctr_section_end(&r, DCTR_OK)); /* reads the payload through, compares the CRC */
    }
    return DCTR_OK;
}

uint32_t dctr_container_format_version(void) { return FORMAT_VERSION; }
