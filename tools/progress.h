/* Training progress output: a live bar on a terminal, plain per-epoch lines otherwise. */
#ifndef DCTR_TOOLS_PROGRESS_H
#define DCTR_TOOLS_PROGRESS_H

#include <stdio.h>

#include "deepctr/deepctr.h"

typedef struct cli_progress {
    FILE *out;
    int tty;            /* draw the live bar */
    dctr_task task;
    int has_valid;
    double last_draw;   /* monotonic seconds of the last bar redraw */
} cli_progress;

/* Sets up `p` for printing to `out` (a bar only when out is a terminal). */
void cli_progress_init(cli_progress *p, FILE *out, dctr_task task, int has_valid);
/* Hooks `p` into fit options (callback, how often batches report). */
void cli_progress_attach(cli_progress *p, dctr_fit_options *opts);
/* The dctr_progress_fn. */
int cli_progress_callback(const dctr_progress *progress, void *user);

/* Monotonic clock in seconds. */
double cli_now(void);

#endif
