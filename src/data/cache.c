/* Binary cache of an encoded dataset. Layout (little-endian host order, checked by a mark):
 *   [0..64)   header: magic "DCTRCACH", version, endian mark, schema fingerprint, rows,
 *             array count, header CRC32, file size
 *   [64..)    array table: {kind, column, offset, bytes, crc32} x count
 *   data      each array 64-byte aligned, exactly as the in-memory batch arrays
 * Loading maps the file read-only (prefaulted) and points the dataset's arrays into it after
 * checking every offset, size and CRC and the id ranges: no text parsing at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/dataset.h"
#include "feature/schema_io.h"

#define CACHE_MAGIC "DCTRCACH"
#define CACHE_VERSION 1u
#define ENDIAN_MARK 0x01020304u
#define HEADER_BYTES 64u
#define ENTRY_BYTES 32u

enum { A_LABELS = 1, A_SWEIGHTS = 2, A_IDS = 3, A_LENGTHS = 4, A_WEIGHTS = 5, A_DENSE = 6 };

typedef struct arr {
    uint32_t kind;
    int32_t col;
    uint64_t offset, bytes;
    uint32_t crc;
    void *ptr;
} arr;

/* The arrays a batch of `n` rows of schema s has, in file order. */
static int32_t list_arrays(const dctr_schema *s, const dctr_batch *b, int with_sw, int64_t n,
                           arr *a) {
    int32_t k = 0;
    uint64_t un = (uint64_t)n;
    a[k++] = (arr){A_LABELS, -1, 0, un * 4, 0, b ? b->labels : NULL};
    if (with_sw)
        a[k++] = (arr){A_SWEIGHTS, -1, 0, un * 4, 0, b ? b->sample_weights : NULL};
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        const dctr_column_data *d = b ? &b->cols[i] : NULL;
        if (c->kind == DCTR_COLUMN_SPARSE) {
            a[k++] = (arr){A_IDS, i, 0, un * 8, 0, d ? d->ids : NULL};
        } else if (c->kind == DCTR_COLUMN_VARLEN) {
            a[k++] = (arr){A_IDS, i, 0, un * 8 * (uint64_t)c->maxlen, 0, d ? d->ids : NULL};
            if (c->length_name)
                a[k++] = (arr){A_LENGTHS, i, 0, un * 4, 0, d ? d->lengths : NULL};
            if (c->weight_name)
                a[k++] = (arr){A_WEIGHTS, i, 0, un * 4 * (uint64_t)c->maxlen, 0,
                               d ? d->weights : NULL};
        } else {
            a[k++] = (arr){A_DENSE, i, 0, un * 4 * (uint64_t)c->dense_dim, 0, d ? d->dense : NULL};
        }
    }
    return k;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t crc_of(const void *p, uint64_t n) {
    return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef *)p, (z_size_t)n);
}

static dctr_status write_all(int fd, const void *p, uint64_t n, const char *path) {
    const uint8_t *c = p;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t w = write(fd, c, chunk);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return dctr_set_error(DCTR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        }
        c += w;
        n -= (uint64_t)w;
    }
    return DCTR_OK;
}

dctr_status dctr_dataset_save_cache(const dctr_dataset *ds, const char *path) {
    if (!ds || !path)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_dataset_save_cache: NULL argument");
    const dctr_schema *s = ds->schema;
    const dctr_batch *b = &ds->rows;
    uint64_t fp;
    DCTR_TRY(dctr_schema_fingerprint(s, &fp));
    arr *a = dctr_calloc((size_t)s->ncols * 3 + 3, sizeof *a);
    if (!a)
        return DCTR_ERR_NOMEM;
    int with_sw = b->sample_weights != NULL;
    int32_t na = list_arrays(s, b, with_sw, b->n, a);
    uint64_t off = dctr_round_up(HEADER_BYTES + (uint64_t)na * ENTRY_BYTES, 64);
    for (int32_t i = 0; i < na; i++) {
        a[i].offset = off;
        a[i].crc = crc_of(a[i].ptr, a[i].bytes);
        off = dctr_round_up(off + a[i].bytes, 64);
    }
    size_t hlen = (size_t)dctr_round_up(HEADER_BYTES + (uint64_t)na * ENTRY_BYTES, 64);
    uint8_t *h = dctr_calloc(hlen, 1);
    if (!h) {
        dctr_free(a);
        return DCTR_ERR_NOMEM;
    }
    memcpy(h, CACHE_MAGIC, 8);
    put32(h + 8, CACHE_VERSION);
    put32(h + 12, ENDIAN_MARK);
    put64(h + 16, fp);
    put64(h + 24, (uint64_t)b->n);
    put32(h + 32, (uint32_t)na);
    put64(h + 40, off);
    for (int32_t i = 0; i < na; i++) {
        uint8_t *e = h + HEADER_BYTES + (size_t)i * ENTRY_BYTES;
        put32(e, a[i].kind);
        put32(e + 4, (uint32_t)a[i].col);
        put64(e + 8, a[i].offset);
        put64(e + 16, a[i].bytes);
        put32(e + 24, a[i].crc);
    }
    put32(h + 36, crc_of(h, hlen));
    /* temp file + rename: a crash never leaves a half-written cache under the real name */
    size_t plen = strlen(path);
    char *tmp = dctr_malloc(plen + 16);
    dctr_status st = tmp ? DCTR_OK : DCTR_ERR_NOMEM;
    int fd = -1;
    if (st == DCTR_OK) {
        snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            st = dctr_set_error(DCTR_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    if (st == DCTR_OK)
        st = write_all(fd, h, hlen, path);
    static const uint8_t zeros[64];
    uint64_t pos = hlen;
    for (int32_t i = 0; i < na && st == DCTR_OK; i++) {
        if (a[i].offset > pos)
            st = write_all(fd, zeros, a[i].offset - pos, path);
        if (st == DCTR_OK)
            st = write_all(fd, a[i].ptr, a[i].bytes, path);
        pos = a[i].offset + a[i].bytes;
    }
    if (st == DCTR_OK && off > pos)
        st = write_all(fd, zeros, off - pos, path);
    if (fd >= 0 && close(fd) != 0 && st == DCTR_OK)
        st = dctr_set_error(DCTR_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == DCTR_OK && rename(tmp, path) != 0)
        st = dctr_set_error(DCTR_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (st != DCTR_OK && tmp)
        unlink(tmp);
    dctr_free(tmp);
    dctr_free(h);
    dctr_free(a);
    return st;
}

static dctr_status fail(const char *path, const char *what) {
    return dctr_set_error(DCTR_ERR_FORMAT, "%s: not a valid cache file: %s", path, what);
}

/* Ids within the table, lengths within maxlen. */
static dctr_status check_ranges(const char *path, const dctr_schema *s, const dctr_batch *b) {
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (c->kind == DCTR_COLUMN_DENSE)
            continue;
        uint64_t cnt = (uint64_t)b->n * (c->kind == DCTR_COLUMN_VARLEN ? (uint64_t)c->maxlen : 1);
        const int64_t *ids = b->cols[i].ids;
        uint64_t V = (uint64_t)c->vocab_size;
        uint64_t bad = 0;
        for (uint64_t k = 0; k < cnt; k++)
            bad |= (uint64_t)ids[k] >= V;
        if (bad)
            return dctr_set_error(DCTR_ERR_FORMAT, "%s: column '%s': id outside [0, %lld)", path,
                                  c->name, (long long)c->vocab_size);
        if (b->cols[i].lengths)
            for (int64_t r = 0; r < b->n; r++)
                if (b->cols[i].lengths[r] < 0 || b->cols[i].lengths[r] > c->maxlen)
                    return dctr_set_error(DCTR_ERR_FORMAT, "%s: column '%s': length out of range",
                                          path, c->name);
    }
    return DCTR_OK;
}

/* Opens and maps the file read-only (prefaulted) into store. */
static dctr_status map_file(dctr_ds_store *store, const char *path) {
    /* O_NONBLOCK + S_ISREG: a FIFO is refused instead of blocking in open() */
    store->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (store->fd < 0)
        return dctr_set_error(DCTR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(store->fd, &sb) != 0)
        return dctr_set_error(DCTR_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return dctr_set_error(DCTR_ERR_IO, "%s: not a regular file", path);
    if ((uint64_t)sb.st_size < HEADER_BYTES)
        return fail(path, "shorter than the header");
    store->map_len = (size_t)sb.st_size;
    store->map = mmap(NULL, store->map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, store->fd, 0);
    if (store->map == MAP_FAILED) {
        store->map = NULL;
        return dctr_set_error(DCTR_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    }
    return DCTR_OK;
}

/* The header of a mapped file of map_len bytes: magic, version, endianness, size, the schema
 * fingerprint fp, a plausible array table (na entries, `rows` rows) and the header CRC. */
static dctr_status check_header(const uint8_t *h, size_t map_len, uint64_t fp,
                                const dctr_schema *schema, const char *path, uint32_t *na,
                                int64_t *rows) {
    if (memcmp(h, CACHE_MAGIC, 8) != 0)
        return fail(path, "bad magic");
    if (get32(h + 8) != CACHE_VERSION)
        return fail(path, "unsupported version");
    if (get32(h + 12) != ENDIAN_MARK)
        return fail(path, "written on a host of other endianness");
    if (get64(h + 40) != map_len)
        return fail(path, "file size does not match the header (truncated?)");
    if (get64(h + 16) != fp)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "%s: the cache was written with a different schema (fingerprint "
                              "mismatch)",
                              path);
    *na = get32(h + 32);
    *rows = (int64_t)get64(h + 24);
    if (*na > (uint32_t)schema->ncols * 3 + 2 || *rows < 0 ||
        HEADER_BYTES + (uint64_t)*na * ENTRY_BYTES > map_len)
        return fail(path, "bad array table");
    size_t hlen = (size_t)dctr_round_up(HEADER_BYTES + (uint64_t)*na * ENTRY_BYTES, 64);
    if (hlen > map_len)
        return fail(path, "bad array table");
    uint8_t *copy = dctr_malloc(hlen);
    if (!copy)
        return DCTR_ERR_NOMEM;
    memcpy(copy, h, hlen);
    put32(copy + 36, 0);
    dctr_status st = crc_of(copy, hlen) != get32(h + 36) ? fail(path, "header checksum mismatch")
                                                         : DCTR_OK;
    dctr_free(copy);
    return st;
}

/* The array table: each entry must be the one the schema expects (want), inside the file, and
 * match its CRC; a[i].ptr then points into the map. */
static dctr_status read_table(const dctr_ds_store *store, const dctr_schema *schema, uint32_t na,
                              int64_t rows, arr *a, arr *want, const char *path) {
    const uint8_t *h = store->map;
    int with_sw = na > 0 && get32(h + HEADER_BYTES + ENTRY_BYTES) == A_SWEIGHTS;
    if (rows > 0 && (uint64_t)rows > store->map_len)
        return fail(path, "row count larger than the file");
    if ((uint32_t)list_arrays(schema, NULL, with_sw, rows, want) != na)
        return fail(path, "array count does not match the schema");
    for (uint32_t i = 0; i < na; i++) {
        const uint8_t *e = h + HEADER_BYTES + (size_t)i * ENTRY_BYTES;
        a[i].kind = get32(e);
        a[i].col = (int32_t)get32(e + 4);
        a[i].offset = get64(e + 8);
        a[i].bytes = get64(e + 16);
        a[i].crc = get32(e + 24);
        if (a[i].kind != want[i].kind || a[i].col != want[i].col ||
            a[i].bytes != want[i].bytes || a[i].offset % 64 != 0 ||
            a[i].offset > store->map_len || a[i].bytes > store->map_len - a[i].offset)
            return fail(path, "array entry inconsistent with the schema or the file size");
        if (crc_of((const uint8_t *)store->map + a[i].offset, a[i].bytes) != a[i].crc)
            return fail(path, "array checksum mismatch (corrupted data)");
        a[i].ptr = (uint8_t *)store->map + a[i].offset;
    }
    return DCTR_OK;
}

/* Points the view b (rows rows) at the mapped arrays. */
static void bind_arrays(dctr_batch *b, const arr *a, uint32_t na, int64_t rows) {
    b->n = b->capacity = rows;
    for (uint32_t i = 0; i < na; i++) {
        dctr_column_data *d = a[i].col >= 0 ? &b->cols[a[i].col] : NULL;
        switch (a[i].kind) {
        case A_LABELS: b->labels = a[i].ptr; break;
        case A_SWEIGHTS: b->sample_weights = a[i].ptr; break;
        case A_IDS: d->ids = a[i].ptr; break;
        case A_LENGTHS: d->lengths = a[i].ptr; break;
        case A_WEIGHTS: d->weights = a[i].ptr; break;
        case A_DENSE: d->dense = a[i].ptr; break;
        default: break;
        }
    }
}

dctr_status dctr_dataset_load_cache(const dctr_schema *schema, const char *path,
                                    dctr_dataset **out) {
    if (out)
        *out = NULL;
    DCTR_TRY(dctr_reader_check_args("dctr_dataset_load_cache", out != NULL, schema, path));
    uint64_t fp;
    DCTR_TRY(dctr_schema_fingerprint(schema, &fp));
    dctr_ds_store *store = dctr_calloc(1, sizeof *store);
    if (!store)
        return DCTR_ERR_NOMEM;
    arr *a = NULL, *want = NULL;
    dctr_batch *b = NULL;
    uint32_t na = 0;
    int64_t rows = 0;
    dctr_status st = map_file(store, path);
    if (st == DCTR_OK)
        st = check_header(store->map, store->map_len, fp, schema, path, &na, &rows);
    if (st == DCTR_OK) {
        a = dctr_calloc((size_t)schema->ncols * 3 + 3, sizeof *a);
        want = dctr_calloc((size_t)schema->ncols * 3 + 3, sizeof *want);
        if (!a || !want)
            st = DCTR_ERR_NOMEM;
    }
    if (st == DCTR_OK)
        st = read_table(store, schema, na, rows, a, want, path);
    if (st == DCTR_OK) {
        b = dctr_calloc(1, sizeof *b);
        if (!b || dctr_batch_view_init(b, schema) != DCTR_OK)
            st = DCTR_ERR_NOMEM;
    }
    if (st == DCTR_OK) {
        bind_arrays(b, a, na, rows);
        st = check_ranges(path, schema, b);
    }
    if (st == DCTR_OK)
        st = dctr_dataset_wrap(schema, store, b, 0, rows, out);
    if (b) {
        dctr_batch_view_release(b);
        dctr_free(b);
    }
    dctr_free(a);
    dctr_free(want);
    store->refs++;
    dctr_ds_store_release(store);
    return st;
}
