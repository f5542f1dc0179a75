/* `deepctr eval`: metrics of a model on a labelled file. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "commands.h"
#include "quality_cli.h"

static struct {
    const char *model_file, *data, *delimiter, *format;
    int json, calibration, importance;
    int64_t bins, repeats, seed;
} flags;

static const cli_opt eval_opts[] = {
    {"model-file", 0, CLI_STRING, &flags.model_file, 0, 0, "FILE", "model written by 'deepctr train' (required)"},
    {"data", 0, CLI_STRING, &flags.data, 0, 0, "FILE", "labelled CSV with a header (required)"},
    {"json", 0, CLI_FLAG, &flags.json, 0, 0, NULL, "print one JSON object"},
    {"calibration", 0, CLI_FLAG, &flags.calibration, 0, 0, NULL, "binary: also the expected calibration error and the reliability table"},
    {"bins", 0, CLI_INT, &flags.bins, 1, 100, "N", "equal-width bins of --calibration (default 10)"},
    {"importance", 0, CLI_FLAG, &flags.importance, 0, 0, NULL, "also permutation importance of every column (shuffled and set missing)"},
    {"repeats", 0, CLI_INT, &flags.repeats, 1, 1000, "N", "shuffles per column of --importance (default 3)"},
    {"seed", 0, CLI_INT, &flags.seed, 0, 1e18, "N", "seed of the --importance shuffles (default 1)"},
    {"delimiter", 0, CLI_STRING, &flags.delimiter, 0, 0, "C", "field separator (default ',', or 'tab')"},
    {"format", 0, CLI_STRING, &flags.format, 0, 0, "FMT", "csv (default) or libffm"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command eval_cmd = {
    "eval", "--model-file MODEL --data FILE [--json] [--calibration] [--importance]",
    "Score a model on a labelled file: AUC, logloss and accuracy (binary) or MSE and RMSE\n"
    "(regression), and the row count. --calibration adds the expected calibration error and the\n"
    "reliability table, --importance the permutation importance of every column.",
    eval_opts};

/* Metrics, then the optional calibration and importance parts; with --json one object holding
 * them all (the metrics object is printed to memory and reopened). Returns the exit code. */
static int print_report(const dctr_model *model, const dctr_dataset *ds, const double m[DCTR_METRIC_COUNT]) {
    const dctr_task task = dctr_model_get_task(model);
    if (flags.calibration && task != DCTR_TASK_BINARY)
        return cli_runtime_error("--calibration needs a binary model");
    if (!flags.json) {
        cli_print_metrics(stdout, task, m, dctr_dataset_num_rows(ds), 0);
        if (flags.calibration && cli_print_calibration(stdout, model, ds, (int32_t)flags.bins, 0) != 0)
            return CLI_EXIT_ERROR;
        if (flags.importance &&
            cli_print_importance(stdout, model, ds, (int32_t)flags.repeats, (uint64_t)flags.seed, 0) != 0)
            return CLI_EXIT_ERROR;
        return CLI_EXIT_OK;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return cli_runtime_error("out of memory");
    cli_print_metrics(mem, task, m, dctr_dataset_num_rows(ds), 1);
    fclose(mem);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '}'))
        buf[--len] = 0; /* reopen the object */
    fputs(buf, stdout);
    free(buf);
    int rc = CLI_EXIT_OK;
    if (flags.calibration && cli_print_calibration(stdout, model, ds, (int32_t)flags.bins, 1) != 0)
        rc = CLI_EXIT_ERROR;
    if (rc == CLI_EXIT_OK && flags.importance &&
        cli_print_importance(stdout, model, ds, (int32_t)flags.repeats, (uint64_t)flags.seed, 1) != 0)
        rc = CLI_EXIT_ERROR;
    fputs("}\n", stdout);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    static const char *const data_flags[] = {"--data", NULL};
    if (cli_wants_libffm(argc, argv, data_flags)) /* libffm text: tools/cli_ffm.c */
        return dctr_cli_ffm_eval(argc, argv);
    memset(&flags, 0, sizeof flags);
    flags.delimiter = ",";
    flags.format = "csv";
    flags.bins = 10;
    flags.repeats = 3;
    flags.seed = 1;
    int rc = cli_parse(&eval_cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    if (!flags.model_file)
        return cli_usage_error(&eval_cmd, "missing --model-file FILE");
    if (!flags.data)
        return cli_usage_error(&eval_cmd, "missing --data FILE");
    if (strcmp(flags.format, "csv") != 0)
        return cli_usage_error(&eval_cmd, "--format must be csv or libffm, got '%s'", flags.format);
    char delim;
    if (cli_parse_delimiter(&eval_cmd, flags.delimiter, &delim) != 0)
        return CLI_EXIT_USAGE;

    dctr_model *model = NULL;
    dctr_dataset *ds = NULL;
    rc = CLI_EXIT_ERROR;
    double m[DCTR_METRIC_COUNT];
    if (cli_load_model(flags.model_file, &model) != 0)
        goto done;
    if (cli_is_libffm_model(model)) {
        dctr_model_free(model);
        return dctr_cli_ffm_eval(argc, argv);
    }
    if (cli_read_dataset(dctr_model_schema(model), flags.data, delim, 1, &ds) != 0)
        goto done;
    if (dctr_model_evaluate(model, ds, m) != DCTR_OK) {
        cli_library_error();
        goto done;
    }
    rc = print_report(model, ds, m);
done:
    dctr_dataset_free(ds);
    dctr_model_free(model);
    return rc;
}
