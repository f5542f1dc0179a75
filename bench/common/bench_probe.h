/* Bounds measured in the same run as the figures they are compared with:
 *  - the sgemm bound of a DNN: the three GEMMs of every dense layer (forward Z = X·W,
 *    dW = Xᵀ·dZ, dX = dZ·Wᵀ) through dctr_sgemm (OpenBLAS), as samples/s;
 *  - streaming-read bandwidth (bytes/s, one thread);
 *  - random 64-byte row cost: dependent (pointer chase = latency) and independent (what a
 *    gather of unrelated rows costs when the CPU overlaps the misses). */
#ifndef DCTR_BENCH_PROBE_H
#define DCTR_BENCH_PROBE_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_sgemm_bound {
    int batch, threads;
    double seconds_per_batch; /* best round */
    double samples_per_s;
    double gflops;
} bench_sgemm_bound;

/* DNN in -> units[0] -> ... -> units[n-1]; `threads` OpenBLAS threads (restored afterwards);
 * measures for about `seconds`. Returns 0 on success. */
int bench_sgemm_probe(int batch, int in, const int *units, int n, int threads, double seconds,
                      bench_sgemm_bound *out);

/* The same GEMMs through the library's own training kernels (core/gemm_train.h: the row-exact
 * forward, the transposed-operand dW, dX through a transposed copy of W, transposes included),
 * one thread: the GEMM time of a training step where those kernels are used. */
int bench_own_gemm_probe(int batch, int in, const int *units, int n, double seconds,
                         bench_sgemm_bound *out);

/* Streaming read of `bytes` (best of `rounds`), bytes per second. */
double bench_stream_read_probe(size_t bytes, int rounds);

/* Random 64-byte rows over an array of `bytes`: nanoseconds per row, dependent (latency) and
 * independent (throughput). Either pointer may be NULL. Returns 0 on success. */
int bench_random_row_probe(size_t bytes, double *latency_ns, double *independent_ns);

#endif
