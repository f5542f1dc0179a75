/* Clocks, RSS, quantiles and the machine description shared by the bench programs. */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/cpu.h"
#include "deepctr/common.h"

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A "Key:   123 kB" line of /proc/self/status. */
static int64_t status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t kl = strlen(key);
    int64_t v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = atoll(line + kl + 1);
            break;
        }
    fclose(f);
    return v;
}

int64_t bench_rss_bytes(void) {
    int64_t kb = status_kb("VmRSS");
    return kb < 0 ? -1 : kb * 1024;
}

int64_t bench_peak_rss_bytes(void) {
    int64_t kb = status_kb("VmHWM");
    return kb < 0 ? -1 : kb * 1024;
}

int bench_reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_quantile(double *v, size_t n, double q) {
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return v[n - 1];
    double f = pos - (double)i;
    return v[i] * (1 - f) + v[i + 1] * f;
}

static void copy_trim(char *dst, size_t len, const char *src) {
    while (*src == ' ' || *src == '\t')
        src++;
    snprintf(dst, len, "%s", src);
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = 0;
}

void bench_machine_info(bench_machine *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                const char *c = strchr(line, ':');
                if (c)
                    copy_trim(m->cpu_model, sizeof m->cpu_model, c + 1);
                break;
            }
        fclose(f);
    }
    m->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    m->mem_total = pages > 0 && psz > 0 ? (int64_t)pages * psz : -1;
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%.40s %.60s %.20s", u.sysname, u.release, u.machine);
    copy_trim(m->blas_config, sizeof m->blas_config, dctr_blas_config());
    copy_trim(m->blas_core, sizeof m->blas_core, dctr_blas_corename());
    m->blas_threads = dctr_blas_get_threads();
    copy_trim(m->build_info, sizeof m->build_info, dctr_build_info());
    snprintf(m->simd, sizeof m->simd, "%s (detected %s)", dctr_simd_level_name(dctr_cpu_simd_level()),
             dctr_simd_level_name(dctr_cpu_simd_detected()));
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(m->date_utc, sizeof m->date_utc, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

const char *bench_si(double v, char *buf, size_t len) {
    double a = v < 0 ? -v : v;
    if (a >= 1e9)
        snprintf(buf, len, "%.2fG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else
        snprintf(buf, len, "%.0f", v);
    return buf;
}
