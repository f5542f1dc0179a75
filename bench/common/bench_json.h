/* A small streaming JSON writer for bench results: objects, arrays, numbers (NaN/Inf become
 * null), integers, strings (escaped). Keys are given for members of objects, NULL inside arrays. */
#ifndef DCTR_BENCH_JSON_H
#define DCTR_BENCH_JSON_H

#include <stdint.h>
#include <stdio.h>

#include "bench_util.h"

#define BENCH_JSON_MAX_DEPTH 32

typedef struct bench_json {
    FILE *f;
    int depth;
    int count[BENCH_JSON_MAX_DEPTH]; /* members written at each depth (for commas) */
} bench_json;

/* Writes to `f` (not closed by the writer). */
void bench_json_init(bench_json *j, FILE *f);
void bench_json_begin_object(bench_json *j, const char *key);
void bench_json_end_object(bench_json *j);
void bench_json_begin_array(bench_json *j, const char *key);
void bench_json_end_array(bench_json *j);
void bench_json_num(bench_json *j, const char *key, double v);
void bench_json_int(bench_json *j, const char *key, int64_t v);
void bench_json_str(bench_json *j, const char *key, const char *s);
void bench_json_bool(bench_json *j, const char *key, int v);
/* The machine description as an object member named `key`. */
void bench_json_machine(bench_json *j, const char *key, const bench_machine *m);

#endif
