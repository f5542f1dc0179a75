/* --cache freshness by content: the cache is used only when "<cache>.source" records the size
 * and the CRC-32 + Adler-32 of every byte of the training file as it is now. A file changed
 * with its mtime kept (`cp -p`) or set back is therefore never read from a stale cache. */
#ifndef DCTR_TOOLS_CACHE_KEY_H
#define DCTR_TOOLS_CACHE_KEY_H

#include <stddef.h>

/* The key of the file at path into buf ("size S crc32 C adler32 A"); 0, or -1 (errno set). */
int cli_cache_key(const char *path, char *buf, size_t cap);
/* 1 when the cache file exists and the key recorded for it matches `key`. */
int cli_cache_key_matches(const char *cache, const char *key);
/* Records `key` for cache (temp + rename); 0 or a printed error (CLI_EXIT_ERROR). */
int cli_cache_key_save(const char *cache, const char *key);

#endif
