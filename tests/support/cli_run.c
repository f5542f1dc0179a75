#include "cli_run.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_env.h"

#define MAX_ARGS 64

char bin[1024];
char out_text[1 << 16], err_text[1 << 16];

int cli_find_bin(void) {
    const char *dir = getenv("DCTR_BIN_DIR");
    snprintf(bin, sizeof bin, "%s/deepctr", dir ? dir : ".");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "%s: not built (configure with DCTR_BUILD_TOOLS=ON and build every target)\n", bin);
        return -1;
    }
    return 0;
}

size_t read_all(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return n;
}

int run_to(const char *stdout_path, const char *first, ...) {
    char *argv[MAX_ARGS];
    int argc = 0;
    argv[argc++] = bin;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < MAX_ARGS - 1; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    /* per process: CLI tests run in parallel and share the tmp directory */
    char out_name[64], err_name[64], out_path[1024], err_path[1024];
    snprintf(out_name, sizeof out_name, "cli_stdout_%ld.txt", (long)getpid());
    snprintf(err_name, sizeof err_name, "cli_stderr_%ld.txt", (long)getpid());
    dctr_test_tmp_path(out_path, sizeof out_path, out_name);
    dctr_test_tmp_path(err_path, sizeof err_path, err_name);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(stdout_path ? stdout_path : out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0)
            _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        execv(bin, argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    out_text[0] = '\0';
    if (!stdout_path)
        read_all(out_path, out_text, sizeof out_text);
    read_all(err_path, err_text, sizeof err_text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void assert_contains(const char *text, const char *needle) {
    if (!strstr(text, needle))
        fail_msg("expected '%s' in:\n%s", needle, text);
}
