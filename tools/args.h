/* A small table-driven flag parser shared by every `deepctr` command.
 * Accepts `--name value`, `--name=value`, `-x value` (single-letter aliases) and boolean
 * `--flag`. Errors are usage errors: the caller prints the usage hint and exits with 2. */
#ifndef DCTR_TOOLS_ARGS_H
#define DCTR_TOOLS_ARGS_H

#include <stdint.h>
#include <stdio.h>

#define CLI_LIST_MAX 64

typedef enum cli_arg_type {
    CLI_FLAG,   /* int*: set to 1, takes no value */
    CLI_STRING, /* const char**: borrowed from argv */
    CLI_INT,    /* int64_t*: decimal integer within [min, max] */
    CLI_DOUBLE, /* double*: finite number within [min, max] */
    CLI_LIST    /* cli_list*: every occurrence appended */
} cli_arg_type;

typedef struct cli_list {
    const char *items[CLI_LIST_MAX];
    int count;
} cli_list;

typedef struct cli_opt {
    const char *name;    /* long name without "--" */
    char short_name;     /* 0, or a letter for "-x" */
    cli_arg_type type;
    void *dest;
    double min, max;     /* CLI_INT / CLI_DOUBLE range; min == max means unchecked */
    const char *metavar; /* shown in --help, e.g. "N" */
    const char *help;
} cli_opt;

/* The result of cli_parse. */
enum { CLI_PARSE_OK = 0, CLI_PARSE_HELP = -1, CLI_PARSE_USAGE = 2 };

typedef struct cli_command {
    const char *name;     /* "train" */
    const char *synopsis; /* "--train FILE --label COL [options]" */
    const char *summary;  /* one line of what the command does */
    const cli_opt *opts;  /* terminated by an entry with name == NULL */
} cli_command;

/* Parses argv[0..argc) (the arguments after the command name). On a usage error prints
 * "deepctr CMD: <problem>" plus the usage hint to stderr and returns CLI_PARSE_USAGE;
 * on --help / -h prints the full help to stdout and returns CLI_PARSE_HELP. */
int cli_parse(const cli_command *cmd, int argc, char **argv);
/* Prints the usage hint ("usage: ..." and where to find --help) to f. */
void cli_usage(const cli_command *cmd, FILE *f);
/* Prints the full help (synopsis, summary, every option) to f. */
void cli_help(const cli_command *cmd, FILE *f);
/* Reports a usage error found after parsing (e.g. a missing required flag); returns 2. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Exit code of a command: 0 ok, 1 runtime error, 2 usage error. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_ERROR = 1, CLI_EXIT_USAGE = 2 };

/* Prints "deepctr: error: <dctr_last_error()>" (or the formatted message) and returns 1. */
int cli_runtime_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_library_error(void);

/* Parses a comma-separated list of positive integers ("256,128,64"; "" or "none" = empty).
 * Returns the count or -1 if malformed / more than cap. */
int cli_parse_int_list(const char *s, int32_t *out, int cap);

#endif
