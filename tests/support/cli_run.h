/* Running the built `deepctr` program from a test: one runner for every CLI test file. */
#ifndef DCTR_TEST_CLI_RUN_H
#define DCTR_TEST_CLI_RUN_H

#include <stddef.h>

/* $DCTR_BIN_DIR/deepctr (set by cli_find_bin); the last run's stdout and stderr. */
extern char bin[1024];
extern char out_text[1 << 16], err_text[1 << 16];

/* Sets bin; returns 0 when the program is built, -1 (with a message on stderr) when not. */
int cli_find_bin(void);
/* Reads up to cap - 1 bytes of path into buf (NUL-terminated); returns the count. */
size_t read_all(const char *path, char *buf, size_t cap);
/* Runs deepctr with the NULL-terminated arguments, stdout to `stdout_path` (NULL: a temp file
 * read into out_text); stderr lands in err_text. Returns the exit code (-1 if killed). */
int run_to(const char *stdout_path, const char *first, ...);
#define run(...) run_to(NULL, __VA_ARGS__)
/* Fails the test, showing text, unless it contains needle. */
void assert_contains(const char *text, const char *needle);

#endif
