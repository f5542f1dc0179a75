/* Output safety of the `deepctr` commands: no command overwrites a file it reads (same device
 * and inode, so also through symbolic and hard links), and a file output is written to a temp
 * file beside it and renamed into place only when complete. */
#ifndef DCTR_TOOLS_OUTSAFE_H
#define DCTR_TOOLS_OUTSAFE_H

#include <stdio.h>

/* 0 when the file at `out` (flag name `out_flag`) is none of inputs[0..n) (NULL entries and a
 * missing `out` are fine); otherwise prints an error naming both and returns CLI_EXIT_ERROR. */
int cli_check_output(const char *out_flag, const char *out, const char *const *inputs,
                     const char *const *input_flags, int n);

/* A text output: stdout when path is NULL, else "<path>.tmp.<pid>" renamed to path by
 * cli_out_commit. */
typedef struct cli_out {
    FILE *f;
    const char *path;
    char tmp[4096];
} cli_out;

/* 0, or prints an error and returns CLI_EXIT_ERROR. */
int cli_out_open(cli_out *o, const char *path);
/* Flushes and checks every write (stdout too), then renames the temp file into place. 0, or
 * prints an error, removes the temp file and returns CLI_EXIT_ERROR. */
int cli_out_commit(cli_out *o);
/* Drops an unfinished output (the temp file is removed; the old file at path stays). */
void cli_out_abort(cli_out *o);

/* Flushes stdout and checks it was all written (`> /dev/full` is an error). 0, or prints an
 * error and returns CLI_EXIT_ERROR. */
int cli_check_stdout(void);

#endif
