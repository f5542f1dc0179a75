/* Content keys of --cache sources: see tools/cache_key.h. */
#include "cache_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "outsafe.h"

#define KEY_MAX 128

int cli_cache_key(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    static unsigned char chunk[1 << 16];
    uLong crc = crc32(0L, Z_NULL, 0), adl = adler32(0L, Z_NULL, 0);
    unsigned long long size = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (n == 0)
            break;
        crc = crc32(crc, chunk, (uInt)n);
        adl = adler32(adl, chunk, (uInt)n);
        size += (unsigned long long)n;
    }
    close(fd);
    snprintf(buf, cap, "size %llu crc32 %08lx adler32 %08lx", size, (unsigned long)crc,
             (unsigned long)adl);
    return 0;
}

static void key_path(const char *cache, char *buf, size_t cap) { snprintf(buf, cap, "%s.source", cache); }

int cli_cache_key_matches(const char *cache, const char *key) {
    char p[4096], have[KEY_MAX] = {0};
    if (access(cache, F_OK) != 0) /* a deleted cache is made again */
        return 0;
    key_path(cache, p, sizeof p);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    int ok = fgets(have, sizeof have, f) != NULL;
    fclose(f);
    have[strcspn(have, "\n")] = '\0';
    return ok && strcmp(have, key) == 0;
}

int cli_cache_key_save(const char *cache, const char *key) {
    char p[4096];
    key_path(cache, p, sizeof p);
    cli_out o;
    if (cli_out_open(&o, p) != 0)
        return 1;
    fprintf(o.f, "%s\n", key);
    return cli_out_commit(&o);
}
