/* Progress printing for `deepctr train` (see progress.h). */
#include "progress.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 24
#define REDRAW_SECONDS 0.1

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, FILE *out, dctr_task task, int has_valid) {
    p->out = out;
    p->tty = isatty(fileno(out));
    p->task = task;
    p->has_valid = has_valid;
    p->last_draw = 0;
}

void cli_progress_attach(cli_progress *p, dctr_fit_options *opts) {
    opts->progress = cli_progress_callback;
    opts->progress_user = p;
    opts->progress_every = p->tty ? 8 : 0;
}

static void draw_bar(cli_progress *p, const dctr_progress *g) {
    double now = cli_now();
    if (now - p->last_draw < REDRAW_SECONDS && g->rows_done < g->rows_total)
        return;
    p->last_draw = now;
    double frac = g->rows_total > 0 ? (double)g->rows_done / (double)g->rows_total : 0;
    if (frac > 1)
        frac = 1;
    int fill = (int)(frac * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[BAR_WIDTH] = '\0';
    fprintf(p->out, "\r\033[Kepoch %d/%d [%s] %3.0f%%  %.0f rows/s  ETA %.0fs  loss %.4f", g->epoch, g->epochs,
            bar, 100 * frac, g->samples_per_sec, isfinite(g->eta_seconds) ? g->eta_seconds : 0,
            g->running_loss);
    fflush(p->out);
}

static void print_metric(FILE *f, const char *name, double v) {
    if (isfinite(v))
        fprintf(f, "  %s %.5f", name, v);
}

static void print_epoch(cli_progress *p, const dctr_progress *g) {
    if (p->tty)
        fputs("\r\033[K", p->out);
    double train_loss = p->task == DCTR_TASK_REGRESSION ? g->train[DCTR_METRIC_MSE] : g->train[DCTR_METRIC_LOGLOSS];
    if (!isfinite(train_loss))
        train_loss = g->running_loss;
    fprintf(p->out, "epoch %d/%d  train_loss %.5f", g->epoch, g->epochs, train_loss);
    if (isfinite(g->reg_loss) && g->reg_loss > 0)
        fprintf(p->out, " (+reg %.3g)", g->reg_loss);
    if (p->has_valid) {
        if (p->task == DCTR_TASK_REGRESSION) {
            print_metric(p->out, "val_mse", g->valid[DCTR_METRIC_MSE]);
            print_metric(p->out, "val_rmse", g->valid[DCTR_METRIC_RMSE]);
        } else {
            print_metric(p->out, "val_logloss", g->valid[DCTR_METRIC_LOGLOSS]);
            print_metric(p->out, "val_auc", g->valid[DCTR_METRIC_AUC]);
        }
    }
    fprintf(p->out, "  %.1fs", g->seconds);
    if (g->seconds > 0)
        fprintf(p->out, "  %.0f rows/s", (double)g->rows_done / g->seconds);
    if (p->has_valid && g->improved)
        fputs("  (best)", p->out);
    fputc('\n', p->out);
    fflush(p->out);
}

int cli_progress_callback(const dctr_progress *progress, void *user) {
    cli_progress *p = user;
    if (progress->phase == 0) {
        if (p->tty)
            draw_bar(p, progress);
    } else {
        print_epoch(p, progress);
    }
    return 0;
}
