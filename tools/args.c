/* Table-driven flag parsing for the `deepctr` commands (see args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "deepctr/common.h"

static const cli_opt *find_long(const cli_command *cmd, const char *name, size_t len) {
    for (const cli_opt *o = cmd->opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const cli_opt *find_short(const cli_command *cmd, char c) {
    for (const cli_opt *o = cmd->opts; o->name; o++)
        if (o->short_name && o->short_name == c)
            return o;
    return NULL;
}

void cli_usage(const cli_command *cmd, FILE *f) {
    fprintf(f, "usage: deepctr %s %s\n", cmd->name, cmd->synopsis);
    fprintf(f, "Run 'deepctr %s --help' for every option.\n", cmd->name);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "deepctr %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cli_usage(cmd, stderr);
    return CLI_PARSE_USAGE;
}

void cli_help(const cli_command *cmd, FILE *f) {
    fprintf(f, "usage: deepctr %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->synopsis, cmd->summary);
    for (const cli_opt *o = cmd->opts; o->name; o++) {
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        fprintf(f, "  %-30s %s\n", left, o->help);
    }
    fprintf(f, "  %-30s %s\n", "-h, --help", "show this help");
}

static int set_value(const cli_command *cmd, const cli_opt *o, const char *v) {
    char *end = NULL;
    switch (o->type) {
    case CLI_FLAG:
        *(int *)o->dest = 1;
        return 0;
    case CLI_STRING:
        *(const char **)o->dest = v;
        return 0;
    case CLI_LIST: {
        cli_list *l = o->dest;
        if (l->count >= CLI_LIST_MAX)
            return cli_usage_error(cmd, "--%s given more than %d times", o->name, CLI_LIST_MAX);
        l->items[l->count++] = v;
        return 0;
    }
    case CLI_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno == ERANGE)
            return cli_usage_error(cmd, "--%s expects an integer, got '%s'", o->name, v);
        if (o->min != o->max && ((double)x < o->min || (double)x > o->max))
            return cli_usage_error(cmd, "--%s must be in [%.0f, %.0f], got %lld", o->name, o->min, o->max, x);
        *(int64_t *)o->dest = (int64_t)x;
        return 0;
    }
    case CLI_DOUBLE: {
        errno = 0;
        double x = strtod(v, &end);
        if (*v == '\0' || *end != '\0' || errno == ERANGE || !isfinite(x))
            return cli_usage_error(cmd, "--%s expects a number, got '%s'", o->name, v);
        if (o->min != o->max && (x < o->min || x > o->max))
            return cli_usage_error(cmd, "--%s must be in [%g, %g], got %g", o->name, o->min, o->max, x);
        *(double *)o->dest = x;
        return 0;
    }
    }
    return cli_usage_error(cmd, "internal: bad option type for --%s", o->name);
}

int cli_parse(const cli_command *cmd, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_help(cmd, stdout);
            return CLI_PARSE_HELP;
        }
        const cli_opt *o = NULL;
        const char *inline_value = NULL;
        if (a[0] == '-' && a[1] == '-' && a[2] != '\0') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(cmd, name, len);
            if (eq)
                inline_value = eq + 1;
        } else if (a[0] == '-' && a[1] != '\0' && a[2] == '\0') {
            o = find_short(cmd, a[1]);
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s'", a);
        }
        if (!o)
            return cli_usage_error(cmd, "unknown option '%s'", a);
        if (o->type == CLI_FLAG) {
            if (inline_value)
                return cli_usage_error(cmd, "--%s takes no value", o->name);
            *(int *)o->dest = 1;
            continue;
        }
        const char *v = inline_value;
        if (!v) {
            if (i + 1 >= argc)
                return cli_usage_error(cmd, "option '%s' needs a value", a);
            v = argv[++i];
        }
        int rc = set_value(cmd, o, v);
        if (rc != 0)
            return rc;
    }
    return CLI_PARSE_OK;
}

int cli_runtime_error(const char *fmt, ...) {
    va_list ap;
    fputs("deepctr: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_ERROR;
}

int cli_library_error(void) {
    const char *msg = dctr_last_error();
    return cli_runtime_error("%s", msg[0] ? msg : "unknown error");
}

int cli_parse_int_list(const char *s, int32_t *out, int cap) {
    if (s[0] == '\0' || strcmp(s, "none") == 0)
        return 0;
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end = NULL;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno == ERANGE || x <= 0 || x > (1L << 24) || n >= cap)
            return -1;
        out[n++] = (int32_t)x;
        if (*end == '\0')
            return n;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}
