/* `deepctr tune`: successive halving over model type and hyper-parameters (dctr_tune,
 * docs/quality.md#tuning) on a CSV file's validation split; prints each round, a final table,
 * and saves the best model (its configuration is in the file: `deepctr inspect`). */
#include <math.h>
#include <string.h>

#include "cli_common.h"
#include "columns.h"
#include "commands.h"
#include "progress.h"

static struct {
    cli_column_flags cols;
    const char *train, *valid, *out, *task, *models, *delimiter;
    double valid_split, time_budget;
    int64_t trials, seed, eta, min_epochs, max_epochs, batch_size, threads, embedding_dim, min_count;
} flags;

static const cli_opt tune_opts[] = {
    {"train", 0, CLI_STRING, &flags.train, 0, 0, "FILE", "training CSV with a header line (required)"},
    {"valid", 0, CLI_STRING, &flags.valid, 0, 0, "FILE", "validation CSV (default: --valid-split of --train)"},
    {"valid-split", 0, CLI_DOUBLE, &flags.valid_split, 0.01, 0.9, "X", "hold out the last X of --train (default 0.1)"},
    {"out", 0, CLI_STRING, &flags.out, 0, 0, "FILE", "the best model (required)"},
    {"label", 0, CLI_STRING, &flags.cols.label, 0, 0, "COL", "label column (default 'label')"},
    {"sparse", 0, CLI_LIST, &flags.cols.sparse, 0, 0, "SPEC", "sparse columns, as train"},
    {"dense", 0, CLI_LIST, &flags.cols.dense, 0, 0, "SPEC", "dense columns, as train"},
    {"ignore", 0, CLI_LIST, &flags.cols.ignore, 0, 0, "COLS", "columns of the file not to use"},
    {"no-infer", 0, CLI_FLAG, &flags.cols.no_infer, 0, 0, NULL, "use only the named columns"},
    {"delimiter", 0, CLI_STRING, &flags.delimiter, 0, 0, "C", "field separator (default ',', or 'tab')"},
    {"task", 0, CLI_STRING, &flags.task, 0, 0, "TASK", "binary (default) or regression"},
    {"embedding-dim", 0, CLI_INT, &flags.embedding_dim, 1, 1024, "K", "embedding size (default 10)"},
    {"min-count", 0, CLI_INT, &flags.min_count, 1, 1e9, "N", "fitted vocabularies: rarer values share the unknown row (default 1)"},
    {"models", 0, CLI_STRING, &flags.models, 0, 0, "LIST", "types searched: lr,fm,deepfm (default all three)"},
    {"trials", 0, CLI_INT, &flags.trials, 1, 10000, "N", "configurations tried (default 12)"},
    {"time", 0, CLI_DOUBLE, &flags.time_budget, 0, 1e9, "SECONDS", "no round starts after this (default 0 = no limit)"},
    {"seed", 0, CLI_INT, &flags.seed, 0, 1e18, "S", "sampling and model seed (default 1)"},
    {"eta", 0, CLI_INT, &flags.eta, 2, 100, "N", "keep the best 1/N each round, N times the epochs (default 3)"},
    {"min-epochs", 0, CLI_INT, &flags.min_epochs, 1, 1000, "N", "epochs of the first round (default 3)"},
    {"max-epochs", 0, CLI_INT, &flags.max_epochs, 1, 100000, "N", "epochs of a trial in all (default 50)"},
    {"batch-size", 0, CLI_INT, &flags.batch_size, 1, 1 << 24, "N", "rows per batch (default 256)"},
    {"threads", 0, CLI_INT, &flags.threads, 0, 4096, "N", "training threads (default 1)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command tune_cmd = {
    "tune", "--train FILE --out MODEL [--trials N] [--time SECONDS] [--seed S] [column options]",
    "Search model type (lr, fm, deepfm), learning rate, L2, dropout, batch norm and DNN layers by\n"
    "successive halving on the validation rows; the first trials are the recommended settings.\n"
    "Prints every round and a final table, and saves the best model.",
    tune_opts};

static const char *type_name(dctr_model_type t) { return cli_model_type_name(t); }

static void describe(const dctr_tune_trial *t, char *buf, size_t size) {
    char hidden[64] = "none";
    if (t->num_hidden > 0) {
        size_t n = 0;
        for (int32_t i = 0; i < t->num_hidden && i < 3; i++)
            n += (size_t)snprintf(hidden + n, sizeof hidden - n, "%s%d", i ? "," : "", (int)t->hidden[i]);
    }
    snprintf(buf, size, "--model %s --optimizer %s --lr %g --l2-embedding %g", type_name(t->type),
             t->optimizer == DCTR_OPT_ADAM ? "adam" : "adagrad", t->learning_rate, (double)t->l2_embedding);
    if (t->type == DCTR_MODEL_DEEPFM) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, " --hidden %s --dropout %g %s", hidden, (double)t->dropout,
                 t->use_bn ? "--bn" : "--no-bn");
    }
}

static void on_round(const dctr_tune_trial *t, int32_t round, void *user) {
    (void)user;
    char d[256];
    describe(t, d, sizeof d);
    printf("round %d trial %2d  epochs %3d  val_auc %.5f  val_loss %.5f  %6.1fs  %s\n", (int)round, (int)t->id,
           (int)t->epochs, t->valid_auc, t->valid_loss, t->seconds, d);
    fflush(stdout);
}

static void print_table(const dctr_tune_result *r) {
    printf("\n| trial | round | epochs | val_auc | val_loss | seconds | settings |\n|---|---|---|---|---|---|---|\n");
    for (int32_t i = 0; i < r->count; i++) {
        const dctr_tune_trial *t = &r->trials[i];
        char d[256];
        describe(t, d, sizeof d);
        printf("| %d%s | %d | %d | %.5f | %.5f | %.1f | %s |\n", (int)t->id, i == r->best ? " (best)" : "",
               (int)t->rung, (int)t->epochs, t->valid_auc, t->valid_loss, t->seconds, d);
    }
}

static uint32_t parse_models(const char *s, int *bad) {
    uint32_t mask = 0;
    *bad = 0;
    if (!s)
        return 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (strcmp(p, "lr") == 0)
            mask |= 1u << DCTR_MODEL_LR;
        else if (strcmp(p, "fm") == 0)
            mask |= 1u << DCTR_MODEL_FM;
        else if (strcmp(p, "deepfm") == 0)
            mask |= 1u << DCTR_MODEL_DEEPFM;
        else
            *bad = 1;
    }
    return mask;
}

static void set_defaults(dctr_tune_options *o) {
    memset(&flags, 0, sizeof flags);
    dctr_tune_options_default(o);
    flags.cols.label = "label";
    flags.delimiter = ",";
    flags.task = "binary";
    flags.valid_split = o->validation_split;
    flags.trials = o->max_trials;
    flags.seed = (int64_t)o->seed;
    flags.eta = o->eta;
    flags.min_epochs = o->min_epochs;
    flags.max_epochs = o->max_epochs;
    flags.batch_size = o->batch_size;
    flags.threads = o->threads;
    flags.embedding_dim = 10;
    flags.min_count = 1;
}

/* Reads the data (schema from the column flags, as train), runs the search, saves the best. */
static int run(const dctr_tune_options *o, dctr_task task) {
    dctr_schema *schema = NULL;
    dctr_dataset *train = NULL, *valid = NULL;
    dctr_tune_result r;
    memset(&r, 0, sizeof r);
    int allow_extra = 0;
    int rc = cli_schema_from_flags(&tune_cmd, &flags.cols, flags.train, stdout, &schema, &allow_extra);
    if (rc != 0)
        return rc;
    rc = CLI_EXIT_ERROR;
    dctr_csv_options copts;
    cli_csv_options(&copts, flags.cols.delimiter, 1, allow_extra);
    if (dctr_schema_fit_csv(schema, flags.train, &copts) != DCTR_OK ||
        dctr_dataset_read_csv(schema, flags.train, &copts, &train) != DCTR_OK ||
        (flags.valid && dctr_dataset_read_csv(schema, flags.valid, &copts, &valid) != DCTR_OK)) {
        cli_library_error();
        goto done;
    }
    cli_pack_training_rows(train); /* shared by every trial's fit (the splits share it) */
    double t0 = cli_now();
    if (dctr_tune(schema, train, valid, task, o, &r) != DCTR_OK) {
        cli_library_error();
        goto done;
    }
    print_table(&r);
    char d[256];
    describe(&r.trials[r.best], d, sizeof d);
    printf("best: trial %d, val_auc %.5f val_loss %.5f (%d trials in %.1fs)\n  deepctr train %s\n",
           (int)r.best, r.trials[r.best].valid_auc, r.trials[r.best].valid_loss, (int)r.count, cli_now() - t0, d);
    if (dctr_model_save(r.best_model, flags.out, 0) != DCTR_OK) {
        cli_library_error();
        goto done;
    }
    printf("saved %s\n", flags.out);
    rc = CLI_EXIT_OK;
done:
    dctr_tune_result_free(&r);
    dctr_dataset_free(valid);
    dctr_dataset_free(train);
    dctr_schema_free(schema);
    return rc;
}

int cmd_tune(int argc, char **argv) {
    dctr_tune_options o;
    set_defaults(&o);
    int rc = cli_parse(&tune_cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    if (!flags.train || !flags.out)
        return cli_usage_error(&tune_cmd, "--train FILE and --out MODEL are required");
    if (cli_parse_delimiter(&tune_cmd, flags.delimiter, &flags.cols.delimiter) != 0)
        return CLI_EXIT_USAGE;
    int bad = 0;
    o.model_types = parse_models(flags.models, &bad);
    if (bad)
        return cli_usage_error(&tune_cmd, "--models takes lr, fm, deepfm separated by commas");
    dctr_task task = DCTR_TASK_BINARY;
    if (strcmp(flags.task, "regression") == 0)
        task = DCTR_TASK_REGRESSION;
    else if (strcmp(flags.task, "binary") != 0)
        return cli_usage_error(&tune_cmd, "--task is binary or regression");
    flags.cols.embedding_dim = flags.embedding_dim;
    flags.cols.min_count = flags.min_count;
    flags.cols.init_std = 0.01; /* as train */
    flags.cols.oov = -1;
    o.max_trials = (int32_t)flags.trials;
    o.time_budget_seconds = flags.time_budget;
    o.seed = (uint64_t)flags.seed;
    o.eta = (int32_t)flags.eta;
    o.min_epochs = (int32_t)flags.min_epochs;
    o.max_epochs = (int32_t)flags.max_epochs;
    o.batch_size = (int32_t)flags.batch_size;
    o.threads = (int32_t)flags.threads;
    o.validation_split = flags.valid ? 0.0 : flags.valid_split;
    if (o.max_epochs < o.min_epochs)
        return cli_usage_error(&tune_cmd, "--max-epochs must be >= --min-epochs");
    o.progress = on_round;
    return run(&o, task);
}
