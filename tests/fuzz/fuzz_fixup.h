/* Fuzz-only helper: recomputes the checksums and the file-size field of a model-file container
 * (layout in docs/model-format.md) so the fuzzer's mutations get past the CRC checks and reach
 * the table validation and the section readers. Every field it reads is bounds-checked here;
 * the library still validates everything on its own. */
#ifndef DCTR_FUZZ_FIXUP_H
#define DCTR_FUZZ_FIXUP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

static uint32_t fixup_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t fixup_le64(const uint8_t *p) {
    return fixup_le32(p) | (uint64_t)fixup_le32(p + 4) << 32;
}

static void fixup_put(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* d: a writable copy of the file. */
static void dctr_fuzz_fix_container(uint8_t *d, size_t size) {
    if (size < 32 || memcmp(d, "DCTRMODL", 8) != 0)
        return;
    fixup_put(d + 24, size, 8);
    uint64_t table = fixup_le32(d + 20);
    if (32 + table + 4 > size)
        return;
    uint64_t pos = 32, end = 32 + table;
    uint32_t count = fixup_le32(d + 16);
    for (uint32_t i = 0; i < count && pos + 4 <= end; i++) {
        uint64_t n = fixup_le32(d + pos);
        if (pos + 4 + n + 20 > end)
            break;
        uint8_t *e = d + pos + 4 + n;
        uint64_t off = fixup_le64(e), len = fixup_le64(e + 8);
        if (off <= size && len <= size - off)
            fixup_put(e + 16, crc32(0L, d + off, (uInt)len), 4);
        pos += 4 + n + 20;
    }
    fixup_put(d + end, crc32(0L, d, (uInt)end), 4);
}

#endif
