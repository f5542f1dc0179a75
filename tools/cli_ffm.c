/* `deepctr train|predict|eval` for FFM on libffm text, with libffm's flags:
 *   deepctr train --model ffm --format libffm --train tr.ffm [--valid va.ffm] -k 4 -t 15 -r 0.2
 *                 -l 2e-5 -s THREADS [--auto-stop] [--no-norm] [--on-disk] [--seed N] --out model
 *   deepctr predict --model-file M --data F.ffm [--out P]
 *   deepctr eval --model-file M --data F.ffm [--json] */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "cli_common.h"
#include "outsafe.h"
#include "deepctr/deepctr.h"

/* ---- train ---- */

static struct {
    const char *model, *format, *train, *valid, *out, *task;
    int64_t k, epochs, threads, seed, chunk_rows;
    double eta, lambda;
    int auto_stop, no_norm, on_disk, linear, no_shuffle, with_optimizer, quiet;
} tf;

static const cli_opt train_opts[] = {
    {"model", 0, CLI_STRING, &tf.model, 0, 0, "ffm", "model type (ffm)"},
    {"format", 0, CLI_STRING, &tf.format, 0, 0, "libffm", "input format (libffm)"},
    {"train", 0, CLI_STRING, &tf.train, 0, 0, "FILE", "training data, libffm text (required)"},
    {"valid", 'p', CLI_STRING, &tf.valid, 0, 0, "FILE", "validation data, libffm text"},
    {"out", 0, CLI_STRING, &tf.out, 0, 0, "FILE", "where to save the model (required)"},
    {"k", 'k', CLI_INT, &tf.k, 1, 1024, "K", "latent factors (default 4)"},
    {"epochs", 't', CLI_INT, &tf.epochs, 1, 1000000, "N", "epochs (default 15)"},
    {"eta", 'r', CLI_DOUBLE, &tf.eta, 1e-12, 1e6, "ETA", "learning rate (default 0.2)"},
    {"lambda", 'l', CLI_DOUBLE, &tf.lambda, 0, 1e6, "L", "L2 regularization (default 2e-5)"},
    {"threads", 's', CLI_INT, &tf.threads, 1, 64, "N", "threads, Hogwild above 1 (default 1)"},
    {"seed", 0, CLI_INT, &tf.seed, 0, 9.2e18, "N", "seed of the weight init and shuffles (default 1)"},
    {"auto-stop", 0, CLI_FLAG, &tf.auto_stop, 0, 0, NULL,
     "stop when validation logloss rises; keep the best epoch"},
    {"no-norm", 0, CLI_FLAG, &tf.no_norm, 0, 0, NULL, "disable instance-wise normalization"},
    {"on-disk", 0, CLI_FLAG, &tf.on_disk, 0, 0, NULL, "stream the training file every epoch (bounded memory)"},
    {"chunk-rows", 0, CLI_INT, &tf.chunk_rows, 1, 1e9, "N", "--on-disk rows per chunk (default 65536)"},
    {"linear", 0, CLI_FLAG, &tf.linear, 0, 0, NULL, "add a linear term and a bias (libffm has none)"},
    {"no-shuffle", 0, CLI_FLAG, &tf.no_shuffle, 0, 0, NULL, "keep the file order (libffm --no-rand)"},
    {"task", 0, CLI_STRING, &tf.task, 0, 0, "T", "binary (default, logloss) or regression (squared loss)"},
    {"with-optimizer", 0, CLI_FLAG, &tf.with_optimizer, 0, 0, NULL, "also save the AdaGrad state"},
    {"quiet", 0, CLI_FLAG, &tf.quiet, 0, 0, NULL, "no per-epoch lines"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command train_cmd = {
    "train", "--model ffm --format libffm --train FILE [--valid FILE] [-k 4 -t 15 -r 0.2 -l 2e-5 -s 1] --out MODEL",
    "Train a field-aware factorization machine on libffm text exactly as libffm does (AdaGrad,\n"
    "accumulators from 1, per-update L2, instance normalization, per-epoch shuffle).",
    train_opts};

typedef struct {
    int regression, has_valid, quiet;
} epoch_printer;

static int print_epoch(const dctr_ffm_epoch *e, void *user) {
    const epoch_printer *p = user;
    if (p->quiet)
        return 0;
    if (e->epoch == 1) {
        printf("%4s %13s", "iter", p->regression ? "tr_mse" : "tr_logloss");
        if (p->has_valid)
            printf(" %13s %9s", p->regression ? "va_mse" : "va_logloss", p->regression ? "" : "va_auc");
        printf(" %9s\n", "tr_time");
    }
    printf("%4d %13.5f", e->epoch, e->train_loss);
    if (p->has_valid) {
        printf(" %13.5f", e->valid_loss);
        if (p->regression)
            printf(" %9s", "");
        else
            printf(" %9.5f", e->valid_auc);
    }
    printf(" %9.2f\n", e->seconds);
    if (e->stopped)
        printf("Auto-stop. Use model at %dth iteration.\n", e->epoch - 1);
    fflush(stdout);
    return 0;
}

int dctr_cli_ffm_train(int argc, char **argv) {
    memset(&tf, 0, sizeof tf);
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    tf.k = o.model.ffm_k;
    tf.epochs = o.epochs;
    tf.eta = o.model.optimizer.learning_rate;
    tf.lambda = o.model.l2_embedding;
    tf.threads = o.threads;
    tf.seed = (int64_t)o.model.seed;
    tf.chunk_rows = o.chunk_rows;
    int rc = cli_parse(&train_cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    if (tf.model && strcmp(tf.model, "ffm") != 0)
        return cli_usage_error(&train_cmd, "--model must be ffm for libffm input, got '%s'", tf.model);
    if (tf.format && strcmp(tf.format, "libffm") != 0)
        return cli_usage_error(&train_cmd, "--format must be libffm here, got '%s'", tf.format);
    if (!tf.train)
        return cli_usage_error(&train_cmd, "missing --train FILE");
    if (!tf.out)
        return cli_usage_error(&train_cmd, "missing --out MODEL");
    if (tf.auto_stop && !tf.valid)
        return cli_usage_error(&train_cmd, "--auto-stop needs --valid FILE");
    const char *const ins[] = {tf.train, tf.valid};
    const char *const in_flags[] = {"--train", "--valid"};
    if (cli_check_output("--out", tf.out, ins, in_flags, 2) != 0)
        return CLI_EXIT_ERROR;
    if (tf.task && strcmp(tf.task, "binary") != 0 && strcmp(tf.task, "regression") != 0)
        return cli_usage_error(&train_cmd, "--task must be binary or regression, got '%s'", tf.task);
    o.model.ffm_k = (int32_t)tf.k;
    o.epochs = (int32_t)tf.epochs;
    o.model.optimizer.learning_rate = tf.eta;
    o.model.l2_embedding = (float)tf.lambda;
    o.threads = (int32_t)tf.threads;
    o.model.seed = (uint64_t)tf.seed;
    o.chunk_rows = tf.chunk_rows;
    o.auto_stop = tf.auto_stop;
    o.model.ffm_normalize = !tf.no_norm;
    o.model.ffm_linear = tf.linear;
    o.shuffle = !tf.no_shuffle;
    o.model.task = tf.task && strcmp(tf.task, "regression") == 0 ? DCTR_TASK_REGRESSION : DCTR_TASK_BINARY;

    epoch_printer pr = {o.model.task == DCTR_TASK_REGRESSION, tf.valid != NULL, tf.quiet};
    dctr_model *model = NULL;
    dctr_status s;
    if (tf.on_disk) {
        s = dctr_ffm_train_on_disk(tf.train, tf.valid, &o, print_epoch, &pr, &model);
    } else {
        dctr_ffm_data *tr = NULL, *va = NULL;
        s = dctr_ffm_data_read(tf.train, NULL, &tr);
        if (s == DCTR_OK && tf.valid)
            s = dctr_ffm_data_read(tf.valid, NULL, &va);
        if (s == DCTR_OK)
            s = dctr_ffm_train(tr, va, &o, print_epoch, &pr, &model);
        dctr_ffm_data_free(tr);
        dctr_ffm_data_free(va);
    }
    if (s == DCTR_OK)
        s = dctr_model_save(model, tf.out, tf.with_optimizer);
    if (s != DCTR_OK) {
        dctr_model_free(model);
        return cli_library_error();
    }
    if (!tf.quiet)
        printf("model: ffm, %d fields, %lld features, k=%d, %lld parameters -> %s\n", dctr_ffm_num_fields(model),
               (long long)dctr_ffm_num_features(model), dctr_ffm_k(model),
               (long long)dctr_model_num_parameters(model), tf.out);
    dctr_model_free(model);
    return CLI_EXIT_OK;
}

/* ---- predict / eval ---- */

static struct {
    const char *model_file, *data, *out, *format, *delimiter;
    int json;
} pf;

static const cli_opt predict_opts[] = {
    {"model-file", 0, CLI_STRING, &pf.model_file, 0, 0, "FILE", "FFM model trained on libffm text (required)"},
    {"data", 0, CLI_STRING, &pf.data, 0, 0, "FILE", "libffm text (required)"},
    {"out", 0, CLI_STRING, &pf.out, 0, 0, "FILE", "predictions, one per line (default: stdout)"},
    {"format", 0, CLI_STRING, &pf.format, 0, 0, "libffm", "input format (libffm)"},
    {"delimiter", 0, CLI_STRING, &pf.delimiter, 0, 0, "C", "ignored for libffm input"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
static const cli_opt eval_opts[] = {
    {"model-file", 0, CLI_STRING, &pf.model_file, 0, 0, "FILE", "FFM model trained on libffm text (required)"},
    {"data", 0, CLI_STRING, &pf.data, 0, 0, "FILE", "labelled libffm text (required)"},
    {"format", 0, CLI_STRING, &pf.format, 0, 0, "libffm", "input format (libffm)"},
    {"delimiter", 0, CLI_STRING, &pf.delimiter, 0, 0, "C", "ignored for libffm input"},
    {"json", 0, CLI_FLAG, &pf.json, 0, 0, NULL, "print the metrics as one JSON object"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
static const cli_command predict_cmd = {
    "predict", "--model-file MODEL --data FILE.ffm [--out FILE]",
    "Write one probability (or value) per libffm row, in input order; streams the file.", predict_opts};
static const cli_command eval_cmd = {
    "eval", "--model-file MODEL --data FILE.ffm [--json]",
    "Print logloss, AUC and accuracy (binary) or MSE and RMSE (regression) on libffm rows.", eval_opts};

static int run_predict(const cli_command *cmd, int argc, char **argv, int eval) {
    memset(&pf, 0, sizeof pf);
    int rc = cli_parse(cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    if (!pf.model_file)
        return cli_usage_error(cmd, "missing --model-file FILE");
    if (!pf.data)
        return cli_usage_error(cmd, "missing --data FILE");
    if (pf.format && strcmp(pf.format, "libffm") != 0)
        return cli_usage_error(cmd, "--format must be libffm for this model, got '%s'", pf.format);
    const char *const ins[] = {pf.model_file, pf.data};
    const char *const in_flags[] = {"--model-file", "--data"};
    if (!eval && cli_check_output("--out", pf.out, ins, in_flags, 2) != 0)
        return CLI_EXIT_ERROR;
    dctr_model *model;
    if (cli_load_model(pf.model_file, &model) != 0)
        return CLI_EXIT_ERROR;
    if (!dctr_ffm_is_native(model)) {
        dctr_model_free(model);
        return cli_runtime_error("%s: not an FFM model trained on libffm data (use CSV input)", pf.model_file);
    }
    double v[DCTR_METRIC_COUNT];
    int64_t rows = 0;
    const char *out = eval ? NULL : (pf.out ? pf.out : "/dev/stdout");
    dctr_status s = dctr_ffm_predict_file(model, pf.data, out, eval ? v : NULL, &rows);
    dctr_task task = dctr_model_get_task(model);
    dctr_model_free(model);
    if (s != DCTR_OK)
        return cli_library_error();
    if (eval)
        cli_print_metrics(stdout, task, v, rows, pf.json);
    return CLI_EXIT_OK;
}

int dctr_cli_ffm_predict(int argc, char **argv) { return run_predict(&predict_cmd, argc, argv, 0); }
int dctr_cli_ffm_eval(int argc, char **argv) { return run_predict(&eval_cmd, argc, argv, 1); }
