/* Shared by the bench programs: clocks, resident memory, percentiles, machine description.
 * (the files of bench/common are linked into every bench/bench_*.c program.) */
#ifndef DCTR_BENCH_UTIL_H
#define DCTR_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic wall clock and this process's CPU time (all threads), in seconds. */
double bench_now(void);
double bench_cpu(void);

/* Resident memory of this process in bytes, from /proc/self/status: VmRSS (now) and VmHWM
 * (peak). -1 when unavailable. */
int64_t bench_rss_bytes(void);
int64_t bench_peak_rss_bytes(void);
/* Resets the peak (VmHWM) to the current RSS (writes "5" to /proc/self/clear_refs), so a forked
 * child measures only its own peak. Returns 0 on success. */
int bench_reset_peak_rss(void);

/* The q-quantile (0..1) of v[0..n) (sorts v in place). */
double bench_quantile(double *v, size_t n, double q);

/* What the JSON records about the machine and the build. */
typedef struct bench_machine {
    char cpu_model[128];
    int cores;             /* online CPUs */
    int64_t mem_total;     /* bytes */
    char kernel[128];
    char blas_config[256]; /* openblas_get_config() */
    char blas_core[64];    /* openblas_get_corename() */
    int blas_threads;      /* OpenBLAS's thread count at startup */
    char build_info[512];  /* dctr_build_info() */
    char simd[48];         /* the library's SIMD level in use (after DCTR_SIMD) and detected */
    char date_utc[32];
} bench_machine;
void bench_machine_info(bench_machine *m);

/* "1.23M", "456.7k": short human figures for the Markdown tables. */
const char *bench_si(double v, char *buf, size_t len);

#endif
