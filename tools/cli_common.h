/* Pieces shared by the `deepctr` commands: CSV options from flags, model loading and the
 * libffm dispatch test, metric printing, names of enums. */
#ifndef DCTR_TOOLS_CLI_COMMON_H
#define DCTR_TOOLS_CLI_COMMON_H

#include <stdio.h>

#include "args.h"
#include "deepctr/deepctr.h"

/* "," (default), "tab", "\t", ";", ... → one character; returns 0 or a usage error (2). */
int cli_parse_delimiter(const cli_command *cmd, const char *s, char *out);
void cli_csv_options(dctr_csv_options *opts, char delimiter, int require_label, int allow_extra);

/* 1 when argv asks for libffm text: "--format libffm" or a data flag (any of `data_flags`,
 * NULL-terminated, e.g. "--train") whose file name ends in ".ffm". */
int cli_wants_libffm(int argc, char **argv, const char *const *data_flags);

/* 1 for an FFM model trained on libffm text (predict / eval go to tools/cli_ffm.c). */
int cli_is_libffm_model(const dctr_model *model);

/* Loads a model, printing "deepctr: error: ..." with the path on failure. Returns 0 or 1. */
int cli_load_model(const char *path, dctr_model **out);
/* Reads a CSV file with the model's schema (labels optional when require_label is 0). */
/* Gives the training data its row-major copy (dctr_dataset_pack_rows) when that needs at most
 * an eighth of the machine's memory: shuffled epochs run faster (docs/cli.md). */
void cli_pack_training_rows(dctr_dataset *ds);
int cli_read_dataset(const dctr_schema *schema, const char *path, char delimiter, int require_label,
                     dctr_dataset **out);

/* A name accepted on the command line and the enum value it stands for. Lists of them are the
 * one place a flag's names live: parsing, the usage error's list and name printing read it. */
typedef struct cli_choice {
    const char *name;
    int value;
} cli_choice;

#define CLI_NCHOICES(a) (sizeof(a) / sizeof((a)[0]))

/* Value of `name` in choices[0..n) into *value; 0, or -1 when it is not there. */
int cli_choice_find(const cli_choice *choices, size_t n, const char *name, int *value);
/* The first name of `value`, or NULL. */
const char *cli_choice_name(const cli_choice *choices, size_t n, int value);
/* Every accepted name, "a, b, c or d", into buf (truncated to size); returns buf. */
const char *cli_choice_list(const cli_choice *choices, size_t n, char *buf, size_t size);

extern const cli_choice cli_model_types[];
extern const size_t cli_num_model_types;
extern const cli_choice cli_tasks[];
extern const size_t cli_num_tasks;
extern const cli_choice cli_optimizers[];
extern const size_t cli_num_optimizers;
/* --monitor: the validation metrics early stopping can watch. */
extern const cli_choice cli_monitors[];
extern const size_t cli_num_monitors;

const char *cli_model_type_name(dctr_model_type t);
const char *cli_task_name(dctr_task t);
const char *cli_metric_name(dctr_metric m);

/* "rows 200  auc 0.7712  logloss 0.4821" (binary) or "... mse 0.91  rmse 0.95" (regression),
 * or one JSON object with the same keys when json is set. NaN metrics print as null / "n/a". */
void cli_print_metrics(FILE *f, dctr_task task, const double values[DCTR_METRIC_COUNT], int64_t rows,
                       int json);

#endif
