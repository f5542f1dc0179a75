/* Shared helpers of the `deepctr` commands (see cli_common.h). */
#include "cli_common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cli_parse_delimiter(const cli_command *cmd, const char *s, char *out) {
    if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0)
        *out = '\t';
    else if (strlen(s) == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r')
        *out = s[0];
    else
        return cli_usage_error(cmd, "--delimiter wants one character or 'tab', got '%s'", s);
    return 0;
}

void cli_csv_options(dctr_csv_options *opts, char delimiter, int require_label, int allow_extra) {
    dctr_csv_options_default(opts);
    opts->delimiter = delimiter;
    opts->require_label = require_label;
    opts->allow_extra_columns = allow_extra;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cli_wants_libffm(int argc, char **argv, const char *const *data_flags) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--format=libffm") == 0 || (strcmp(a, "--format") == 0 && i + 1 < argc &&
                                                  strcmp(argv[i + 1], "libffm") == 0))
            return 1;
        for (const char *const *f = data_flags; *f; f++) {
            size_t n = strlen(*f);
            if (strcmp(a, *f) == 0 && i + 1 < argc && ends_with(argv[i + 1], ".ffm"))
                return 1;
            if (strncmp(a, *f, n) == 0 && a[n] == '=' && ends_with(a + n + 1, ".ffm"))
                return 1;
        }
    }
    return 0;
}

int cli_is_libffm_model(const dctr_model *model) { return dctr_ffm_is_native(model); }

int cli_load_model(const char *path, dctr_model **out) {
    if (dctr_model_load(path, out) == DCTR_OK)
        return 0;
    const char *msg = dctr_last_error();
    if (strstr(msg, path))
        return cli_runtime_error("%s", msg);
    return cli_runtime_error("%s: %s", path, msg);
}

int cli_read_dataset(const dctr_schema *schema, const char *path, char delimiter, int require_label,
                     dctr_dataset **out) {
    dctr_csv_options opts;
    cli_csv_options(&opts, delimiter, require_label, 1);
    if (dctr_dataset_read_csv(schema, path, &opts, out) == DCTR_OK)
        return 0;
    const char *msg = dctr_last_error();
    if (strstr(msg, path))
        return cli_runtime_error("%s", msg);
    return cli_runtime_error("%s: %s", path, msg);
}

void cli_pack_training_rows(dctr_dataset *ds) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return;
    if (dctr_dataset_pack_rows(ds, (size_t)pages / 8 * (size_t)page) != DCTR_OK)
        dctr_clear_error(); /* too large for the bound or the memory: fit gathers column-wise */
}

int cli_choice_find(const cli_choice *choices, size_t n, const char *name, int *value) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, choices[i].name) == 0) {
            *value = choices[i].value;
            return 0;
        }
    return -1;
}

const char *cli_choice_name(const cli_choice *choices, size_t n, int value) {
    for (size_t i = 0; i < n; i++)
        if (choices[i].value == value)
            return choices[i].name;
    return NULL;
}

const char *cli_choice_list(const cli_choice *choices, size_t n, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + used, size - used, "%s%s", sep, choices[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

const cli_choice cli_model_types[] = {
    {"deepfm", DCTR_MODEL_DEEPFM}, {"fm", DCTR_MODEL_FM}, {"lr", DCTR_MODEL_LR},
    {"ffm", DCTR_MODEL_FFM},       {"deepffm", DCTR_MODEL_DEEPFFM}};
const size_t cli_num_model_types = CLI_NCHOICES(cli_model_types);

const cli_choice cli_tasks[] = {{"binary", DCTR_TASK_BINARY}, {"regression", DCTR_TASK_REGRESSION}};
const size_t cli_num_tasks = CLI_NCHOICES(cli_tasks);

const cli_choice cli_optimizers[] = {
    {"adam", DCTR_OPT_ADAM}, {"adagrad", DCTR_OPT_ADAGRAD}, {"sgd", DCTR_OPT_SGD},
    {"rmsprop", DCTR_OPT_RMSPROP}, {"ftrl", DCTR_OPT_FTRL}};
const size_t cli_num_optimizers = CLI_NCHOICES(cli_optimizers);

const cli_choice cli_monitors[] = {
    {"val_auc", DCTR_METRIC_AUC},   {"val_logloss", DCTR_METRIC_LOGLOSS},
    {"val_mse", DCTR_METRIC_MSE},   {"val_rmse", DCTR_METRIC_RMSE},
    {"val_loss", DCTR_METRIC_LOSS}, {"val_accuracy", DCTR_METRIC_ACCURACY}};
const size_t cli_num_monitors = CLI_NCHOICES(cli_monitors);

static const cli_choice metric_names[] = {
    {"logloss", DCTR_METRIC_LOGLOSS}, {"auc", DCTR_METRIC_AUC},
    {"mse", DCTR_METRIC_MSE},         {"rmse", DCTR_METRIC_RMSE},
    {"accuracy", DCTR_METRIC_ACCURACY}, {"loss", DCTR_METRIC_LOSS}};

const char *cli_model_type_name(dctr_model_type t) {
    const char *name = cli_choice_name(cli_model_types, cli_num_model_types, (int)t);
    return name ? name : "unknown";
}

const char *cli_task_name(dctr_task t) {
    const char *name = cli_choice_name(cli_tasks, cli_num_tasks, (int)t);
    return name ? name : "binary";
}

const char *cli_metric_name(dctr_metric m) {
    const char *name = cli_choice_name(metric_names, CLI_NCHOICES(metric_names), (int)m);
    return name ? name : "unknown";
}

void cli_print_metrics(FILE *f, dctr_task task, const double v[DCTR_METRIC_COUNT], int64_t rows, int json) {
    static const dctr_metric binary[] = {DCTR_METRIC_AUC, DCTR_METRIC_LOGLOSS, DCTR_METRIC_ACCURACY};
    static const dctr_metric regression[] = {DCTR_METRIC_MSE, DCTR_METRIC_RMSE};
    const dctr_metric *ms = task == DCTR_TASK_REGRESSION ? regression : binary;
    int n = task == DCTR_TASK_REGRESSION ? 2 : 3;
    if (json) {
        fprintf(f, "{\"rows\": %lld, \"task\": \"%s\"", (long long)rows, cli_task_name(task));
        for (int i = 0; i < n; i++) {
            if (isfinite(v[ms[i]]))
                fprintf(f, ", \"%s\": %.9g", cli_metric_name(ms[i]), v[ms[i]]);
            else
                fprintf(f, ", \"%s\": null", cli_metric_name(ms[i]));
        }
        fputs("}\n", f);
        return;
    }
    fprintf(f, "rows %lld", (long long)rows);
    for (int i = 0; i < n; i++) {
        if (isfinite(v[ms[i]]))
            fprintf(f, "  %s %.6f", cli_metric_name(ms[i]), v[ms[i]]);
        else
            fprintf(f, "  %s n/a", cli_metric_name(ms[i]));
    }
    fputc('\n', f);
}
