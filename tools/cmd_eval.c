/* `deepctr eval`: metrics of a model on a labelled file. */
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "commands.h"

static struct {
    const char *model_file, *data, *delimiter, *format;
    int json;
} flags;

static const cli_opt eval_opts[] = {
    {"model-file", 0, CLI_STRING, &flags.model_file, 0, 0, "FILE", "model written by 'deepctr train' (required)"},
    {"data", 0, CLI_STRING, &flags.data, 0, 0, "FILE", "labelled CSV with a header (required)"},
    {"json", 0, CLI_FLAG, &flags.json, 0, 0, NULL, "print one JSON object"},
    {"delimiter", 0, CLI_STRING, &flags.delimiter, 0, 0, "C", "field separator (default ',', or 'tab')"},
    {"format", 0, CLI_STRING, &flags.format, 0, 0, "FMT", "csv (default) or libffm"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command eval_cmd = {
    "eval", "--model-file MODEL --data FILE [--json]",
    "Score a model on a labelled file: AUC, logloss and accuracy (binary) or MSE and RMSE\n"
    "(regression), and the row count.",
    eval_opts};

int cmd_eval(int argc, char **argv) {
    static const char *const data_flags[] = {"--data", NULL};
    if (cli_wants_libffm(argc, argv, data_flags)) /* libffm text: tools/cli_ffm.c */
        return dctr_cli_ffm_eval(argc, argv);
    memset(&flags, 0, sizeof flags);
    flags.delimiter = ",";
    flags.format = "csv";
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
    cli_print_metrics(stdout, dctr_model_get_task(model), m, dctr_dataset_num_rows(ds), flags.json);
    rc = CLI_EXIT_OK;
done:
    dctr_dataset_free(ds);
    dctr_model_free(model);
    return rc;
}
