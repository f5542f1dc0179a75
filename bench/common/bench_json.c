/* Streaming JSON writer (see bench_json.h). */
#include "bench_json.h"

#include <math.h>

void bench_json_init(bench_json *j, FILE *f) {
    j->f = f;
    j->depth = 0;
    j->count[0] = 0;
}

static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Comma, newline + indent, and the key of the next value. */
static void member(bench_json *j, const char *key) {
    if (j->count[j->depth]++ > 0)
        fputc(',', j->f);
    if (j->depth > 0) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->f);
    }
    if (key) {
        put_string(j->f, key);
        fputs(": ", j->f);
    }
}

static void open_scope(bench_json *j, const char *key, char c) {
    member(j, key);
    fputc(c, j->f);
    if (j->depth + 1 < BENCH_JSON_MAX_DEPTH)
        j->count[++j->depth] = 0;
}

static void close_scope(bench_json *j, char c) {
    int had = j->count[j->depth] > 0;
    if (j->depth > 0)
        j->depth--;
    if (had) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->f);
    }
    fputc(c, j->f);
    if (j->depth == 0)
        fputc('\n', j->f);
}

void bench_json_begin_object(bench_json *j, const char *key) { open_scope(j, key, '{'); }
void bench_json_end_object(bench_json *j) { close_scope(j, '}'); }
void bench_json_begin_array(bench_json *j, const char *key) { open_scope(j, key, '['); }
void bench_json_end_array(bench_json *j) { close_scope(j, ']'); }

void bench_json_num(bench_json *j, const char *key, double v) {
    member(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.6g", v);
    else
        fputs("null", j->f);
}

void bench_json_int(bench_json *j, const char *key, int64_t v) {
    member(j, key);
    fprintf(j->f, "%lld", (long long)v);
}

void bench_json_str(bench_json *j, const char *key, const char *s) {
    member(j, key);
    put_string(j->f, s);
}

void bench_json_bool(bench_json *j, const char *key, int v) {
    member(j, key);
    fputs(v ? "true" : "false", j->f);
}

void bench_json_machine(bench_json *j, const char *key, const bench_machine *m) {
    bench_json_begin_object(j, key);
    bench_json_str(j, "cpu_model", m->cpu_model);
    bench_json_int(j, "cores", m->cores);
    bench_json_int(j, "mem_total_bytes", m->mem_total);
    bench_json_str(j, "kernel", m->kernel);
    bench_json_str(j, "openblas_config", m->blas_config);
    bench_json_str(j, "openblas_core", m->blas_core);
    bench_json_int(j, "openblas_threads_default", m->blas_threads);
    bench_json_str(j, "build_info", m->build_info);
    bench_json_str(j, "simd_level", m->simd);
    bench_json_str(j, "date_utc", m->date_utc);
    bench_json_end_object(j);
}
