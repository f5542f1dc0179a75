/* `deepctr predict`: one prediction per input row, in input order. */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "outsafe.h"
#include "commands.h"

#define BATCH_ROWS 4096

static struct {
    const char *model_file, *data, *out, *delimiter, *format;
    int json;
} flags;

static const cli_opt predict_opts[] = {
    {"model-file", 0, CLI_STRING, &flags.model_file, 0, 0, "FILE", "model written by 'deepctr train' (required)"},
    {"data", 0, CLI_STRING, &flags.data, 0, 0, "FILE", "CSV with a header; the label column is optional (required)"},
    {"out", 0, CLI_STRING, &flags.out, 0, 0, "FILE", "where to write predictions, one per line (default: stdout)"},
    {"delimiter", 0, CLI_STRING, &flags.delimiter, 0, 0, "C", "field separator (default ',', or 'tab')"},
    {"format", 0, CLI_STRING, &flags.format, 0, 0, "FMT", "csv (default) or libffm"},
    {"json", 0, CLI_FLAG, &flags.json, 0, 0, NULL, "one JSON object per row: row, probability and logit (regression: value)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command predict_cmd = {
    "predict", "--model-file MODEL --data FILE [--out FILE]",
    "Write one prediction per input row (probability for binary models, value for regression),\n"
    "in input order. Raw values are encoded with the encoders saved in the model.",
    predict_opts};

int cmd_predict(int argc, char **argv) {
    static const char *const data_flags[] = {"--data", NULL};
    if (cli_wants_libffm(argc, argv, data_flags)) /* libffm text: tools/cli_ffm.c */
        return dctr_cli_ffm_predict(argc, argv);
    memset(&flags, 0, sizeof flags);
    flags.delimiter = ",";
    flags.format = "csv";
    int rc = cli_parse(&predict_cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    if (!flags.model_file)
        return cli_usage_error(&predict_cmd, "missing --model-file FILE");
    if (!flags.data)
        return cli_usage_error(&predict_cmd, "missing --data FILE");
    if (strcmp(flags.format, "csv") != 0)
        return cli_usage_error(&predict_cmd, "--format must be csv or libffm, got '%s'", flags.format);
    char delim;
    if (cli_parse_delimiter(&predict_cmd, flags.delimiter, &delim) != 0)
        return CLI_EXIT_USAGE;

    const char *const ins[] = {flags.model_file, flags.data};
    const char *const in_flags[] = {"--model-file", "--data"};
    if (cli_check_output("--out", flags.out, ins, in_flags, 2) != 0)
        return CLI_EXIT_ERROR;

    dctr_model *model = NULL;
    dctr_stream *stream = NULL;
    dctr_batch *batch = NULL;
    dctr_predictor *pred = NULL;
    cli_out out = {0};
    int64_t total = 0;
    rc = CLI_EXIT_ERROR;
    if (cli_load_model(flags.model_file, &model) != 0)
        goto done;
    if (cli_is_libffm_model(model)) {
        dctr_model_free(model);
        return dctr_cli_ffm_predict(argc, argv);
    }
    /* Stream the file in batches: memory does not grow with the file. */
    const dctr_schema *schema = dctr_model_schema(model);
    dctr_csv_options opts;
    cli_csv_options(&opts, delim, 0, 1);
    if (dctr_stream_open_csv(schema, flags.data, &opts, &stream) != DCTR_OK ||
        dctr_batch_new(schema, BATCH_ROWS, &batch) != DCTR_OK ||
        dctr_predictor_new(model, BATCH_ROWS, &pred) != DCTR_OK) {
        cli_library_error();
        goto done;
    }
    if (cli_out_open(&out, flags.out) != 0)
        goto done;
    for (;;) {
        static float p[BATCH_ROWS], z[BATCH_ROWS];
        int64_t n = 0;
        dctr_batch_clear(batch);
        if (dctr_stream_next(stream, batch, &n) != DCTR_OK ||
            (n > 0 && dctr_predictor_run_logit(pred, batch, p, flags.json ? z : NULL) != DCTR_OK)) {
            cli_library_error();
            goto done;
        }
        if (n == 0)
            break;
        for (int64_t i = 0; i < n; i++)
            if (!flags.json)
                fprintf(out.f, "%.9g\n", (double)p[i]);
            else if (dctr_model_get_task(model) == DCTR_TASK_BINARY)
                fprintf(out.f, "{\"row\": %lld, \"probability\": %.9g, \"logit\": %.9g}\n", (long long)(total + i),
                        (double)p[i], (double)z[i]);
            else
                fprintf(out.f, "{\"row\": %lld, \"value\": %.9g}\n", (long long)(total + i), (double)p[i]);
        total += n;
    }
    if (cli_out_commit(&out) != 0)
        goto done;
    if (flags.out)
        fprintf(stderr, "wrote %lld predictions to %s\n", (long long)total, flags.out);
    rc = CLI_EXIT_OK;
done:
    cli_out_abort(&out);
    dctr_predictor_free(pred);
    dctr_batch_free(batch);
    dctr_stream_free(stream);
    dctr_model_free(model);
    return rc;
}
