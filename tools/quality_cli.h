/* `deepctr train` / `deepctr eval` model-quality options (tools/quality_cli.c, docs/quality.md):
 * negative down-sampling and its correction, Platt scaling, the reliability table and
 * permutation importance. */
#ifndef DCTR_TOOLS_QUALITY_CLI_H
#define DCTR_TOOLS_QUALITY_CLI_H

#include "cli_common.h"

typedef struct cli_quality_train {
    double negative_rate; /* --negative-rate: the --train file's negatives were kept with it (0 = unset) */
    double downsample;    /* --downsample-negatives: keep negatives of --train with it (0 = unset) */
    const char *calibrate; /* --calibrate: NULL or "platt" */
    uint64_t seed;
} cli_quality_train;

/* Usage checks; returns 0 or a usage error. */
int cli_quality_check(const cli_command *cmd, const cli_quality_train *q, int binary, int has_valid);
/* --downsample-negatives: replaces *train by its down-sampled rows. Returns 0 or 1. */
int cli_quality_downsample(const cli_quality_train *q, dctr_dataset **train);
/* After fit: records the negative rate and fits Platt scaling on the validation rows (the --valid
 * file, or the tail fit held out of train). Returns 0 or 1. */
int cli_quality_after_fit(const cli_quality_train *q, dctr_model *model, const dctr_dataset *train,
                          const dctr_dataset *valid, double validation_split);

/* `deepctr eval`: ECE and the reliability table (nbins bins) of a binary model, as text or as
 * JSON members (", \"ece\": ..., \"reliability\": [...]") appended to an open object. */
int cli_print_calibration(FILE *f, const dctr_model *model, const dctr_dataset *ds, int32_t nbins, int json);
/* `deepctr eval --importance`: permutation importance table, or a JSON member. */
int cli_print_importance(FILE *f, const dctr_model *model, const dctr_dataset *ds, int32_t repeats,
                         uint64_t seed, int json);

#endif
