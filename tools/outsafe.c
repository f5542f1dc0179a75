/* Output safety: refuse an output that is an input, write through temp + rename, check every
 * stdout write. See tools/outsafe.h. */
#include "outsafe.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"

int cli_check_output(const char *out_flag, const char *out, const char *const *inputs,
                     const char *const *input_flags, int n) {
    struct stat so, si;
    if (!out || stat(out, &so) != 0)
        return CLI_EXIT_OK; /* a new file cannot be an input */
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || stat(inputs[i], &si) != 0)
            continue;
        if (so.st_dev == si.st_dev && so.st_ino == si.st_ino)
            return cli_runtime_error("%s %s is the same file as %s %s: refusing to overwrite an input",
                                     out_flag, out, input_flags[i], inputs[i]);
    }
    return CLI_EXIT_OK;
}

int cli_out_open(cli_out *o, const char *path) {
    memset(o, 0, sizeof *o);
    o->path = path;
    if (!path) {
        o->f = stdout;
        return CLI_EXIT_OK;
    }
    int len = snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof o->tmp)
        return cli_runtime_error("%s: path too long", path);
    o->f = fopen(o->tmp, "w");
    if (!o->f)
        return cli_runtime_error("%s: cannot write: %s", o->tmp, strerror(errno));
    return CLI_EXIT_OK;
}

int cli_out_commit(cli_out *o) {
    if (!o->path) {
        o->f = NULL;
        return cli_check_stdout();
    }
    int bad = fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0;
    int err = errno;
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    o->f = NULL;
    if (!bad && rename(o->tmp, o->path) != 0) {
        bad = 1;
        err = errno;
    }
    if (bad) {
        unlink(o->tmp);
        return cli_runtime_error("%s: write failed: %s", o->path, strerror(err));
    }
    return CLI_EXIT_OK;
}

void cli_out_abort(cli_out *o) {
    if (o->f && o->f != stdout) {
        fclose(o->f);
        unlink(o->tmp);
    }
    o->f = NULL;
}

int cli_check_stdout(void) {
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_runtime_error("stdout: write failed: %s", strerror(errno ? errno : EIO));
    return CLI_EXIT_OK;
}
