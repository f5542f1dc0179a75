/* `deepctr train`: columns from flags (+ inference), fit with validation and early stopping,
 * progress output, save. FFM on libffm text is handed to tools/cli_ffm.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache_key.h"
#include "cli.h"
#include "cli_common.h"
#include "outsafe.h"
#include "columns.h"
#include "commands.h"
#include "dist_cli.h"
#include "progress.h"
#include "quality_cli.h"
#include "train_extras.h"

#define MAX_HIDDEN 16
#define MAX_GROUPS 256

/* The distinct group names of the schema's sparse / varlen columns, first-seen order. */
static int32_t cli_schema_groups(const dctr_schema *s, const char **groups, int32_t cap) {
    int32_t n = 0;
    for (int32_t i = 0; i < dctr_schema_num_columns(s); i++) {
        const char *g = dctr_schema_column_group(s, i);
        int seen = !g;
        for (int32_t j = 0; j < n && !seen; j++)
            seen = strcmp(groups[j], g) == 0;
        if (!seen && n < cap)
            groups[n++] = g;
    }
    return n;
}

typedef struct train_flags {
    cli_column_flags cols;
    const char *model, *task, *train, *valid, *out, *optimizer, *hidden, *monitor, *cache, *format,
        *delimiter;
    double valid_split, lr, dropout, l2_embedding, l2_linear, l2_dnn, init_std, linear_lr_scale;
    int64_t epochs, batch_size, embedding_dim, early_stop, seed, threads, min_count;
    int save_optimizer, no_norm, bn, no_bn;
    const char *activation, *oov, *checkpoint, *resume, *class_weight, *init_embeddings;
    const char *shard, *tables; /* under mpirun (tools/dist_cli.h) */
} train_flags;

static train_flags flags;
static cli_quality_train quality; /* docs/quality.md */

static const cli_opt train_opts[] = {
    {"model", 0, CLI_STRING, &flags.model, 0, 0, "NAME", "deepfm (default), fm, lr, ffm or deepffm"},
    {"task", 0, CLI_STRING, &flags.task, 0, 0, "TASK", "binary (default) or regression"},
    {"train", 0, CLI_STRING, &flags.train, 0, 0, "FILE", "training CSV with a header line (required)"},
    {"valid", 0, CLI_STRING, &flags.valid, 0, 0, "FILE", "validation CSV (default: --valid-split of --train)"},
    {"valid-split", 0, CLI_DOUBLE, &flags.valid_split, 0, 0.9, "X", "hold out the last X of --train (default 0.1; 0 = none)"},
    {"label", 0, CLI_STRING, &flags.cols.label, 0, 0, "COL", "label column (default 'label')"},
    {"sparse", 0, CLI_LIST, &flags.cols.sparse, 0, 0, "SPEC", "sparse columns: C1,C2[:hash=N][:dim=K][:group=G][:emb=T]"},
    {"dense", 0, CLI_LIST, &flags.cols.dense, 0, 0, "SPEC", "dense columns: I1,I2[:transform=minmax|log1p|standardize|none]"},
    {"varlen", 0, CLI_LIST, &flags.cols.varlen, 0, 0, "SPEC", "multi-value: genres:maxlen=5[:sep=|][:combiner=mean][:weight=COL][:length=COL]"},
    {"ignore", 0, CLI_LIST, &flags.cols.ignore, 0, 0, "COLS", "columns of the file not to use"},
    {"weight-column", 0, CLI_STRING, &flags.cols.weight_column, 0, 0, "COL", "per-sample weight column"},
    {"no-infer", 0, CLI_FLAG, &flags.cols.no_infer, 0, 0, NULL, "use only the named columns (skip the rest)"},
    {"delimiter", 0, CLI_STRING, &flags.delimiter, 0, 0, "C", "field separator of the CSV files (default ',', or 'tab')"},
    {"format", 0, CLI_STRING, &flags.format, 0, 0, "FMT", "csv (default) or libffm (with --model ffm)"},
    {"epochs", 0, CLI_INT, &flags.epochs, 1, 100000, "N", "maximum epochs (default 50 with validation, else 10)"},
    {"batch-size", 0, CLI_INT, &flags.batch_size, 1, 1 << 24, "N", "rows per batch (default 256)"},
    {"optimizer", 0, CLI_STRING, &flags.optimizer, 0, 0, "NAME", "adam, adagrad, sgd, rmsprop or ftrl (default: adagrad for deepfm/fm/ffm, adam for lr)"},
    {"lr", 0, CLI_DOUBLE, &flags.lr, 0, 1e6, "X", "learning rate (default: deepfm and fm 0.1 with adagrad; else the optimizer's Keras default)"},
    {"embedding-dim", 0, CLI_INT, &flags.embedding_dim, 1, 65536, "K", "embedding size of every sparse column (default 10; ffm/deepffm 8)"},
    {"hidden", 0, CLI_STRING, &flags.hidden, 0, 0, "UNITS", "DNN layers, e.g. 256,128,64 or none (default 128,128,128)"},
    {"dropout", 0, CLI_DOUBLE, &flags.dropout, 0, 0.99, "P", "DNN dropout rate (default 0.3 for deepfm)"},
    {"bn", 0, CLI_FLAG, &flags.bn, 0, 0, NULL, "batch normalisation in the DNN (default for deepfm with at least 100 batches per epoch)"},
    {"no-bn", 0, CLI_FLAG, &flags.no_bn, 0, 0, NULL, "no batch normalisation in the DNN"},
    {"l2-embedding", 0, CLI_DOUBLE, &flags.l2_embedding, 0, 1e3, "X", "L2 on embeddings (default 1e-5)"},
    {"l2-linear", 0, CLI_DOUBLE, &flags.l2_linear, 0, 1e3, "X", "L2 on the linear part (default 1e-5)"},
    {"l2-dnn", 0, CLI_DOUBLE, &flags.l2_dnn, 0, 1e3, "X", "L2 on DNN weights (default 0)"},
    {"linear-lr-scale", 0, CLI_DOUBLE, &flags.linear_lr_scale, 1e-6, 1e6, "X", "the linear part trains at --lr x X (default 2.5 for deepfm, else 1)"},
    {"min-count", 0, CLI_INT, &flags.min_count, 1, 1e12, "N", "fitted vocabularies: values seen < N times share the unknown-value row (default 1)"},
    {"init-std", 0, CLI_DOUBLE, &flags.init_std, 1e-12, 10, "X", "std of the random-normal embedding initialisation (default 0.01)"},
    {"no-norm", 0, CLI_FLAG, &flags.no_norm, 0, 0, NULL, "FFM: no instance-wise normalisation"},
    {"early-stop", 0, CLI_INT, &flags.early_stop, 0, 100000, "PATIENCE", "stop after PATIENCE epochs without improvement (default 4 with validation; 0 = off)"},
    {"monitor", 0, CLI_STRING, &flags.monitor, 0, 0, "METRIC", "val_auc (binary default), val_logloss, val_accuracy, val_loss, val_mse (regression default), val_rmse"},
    {"seed", 0, CLI_INT, &flags.seed, 0, 1e18, "N", "seed of initialisation and shuffling (default 1024)"},
    {"threads", 0, CLI_INT, &flags.threads, 0, 1024, "N", "training threads (default 1; 0 = all cores)"},
    {"cache", 0, CLI_STRING, &flags.cache, 0, 0, "FILE", "binary cache of the encoded training data (made if absent)"},
    {"save-optimizer", 0, CLI_FLAG, &flags.save_optimizer, 0, 0, NULL, "also store optimizer state (to resume training)"},
    {"activation", 0, CLI_STRING, &flags.activation, 0, 0, "NAME", "DNN activation: relu (default), sigmoid, tanh, linear, prelu or dice"},
    {"oov", 0, CLI_STRING, &flags.oov, 0, 0, "POLICY", "values not in a fitted vocabulary: reserved (default, one shared row), hash (extra buckets) or error; per column: C1:oov=hash"},
    {"checkpoint", 0, CLI_STRING, &flags.checkpoint, 0, 0, "FILE", "save the model with optimizer state after every epoch (resume with --resume)"},
    {"resume", 0, CLI_STRING, &flags.resume, 0, 0, "MODEL", "continue training MODEL (saved with --save-optimizer or --checkpoint) on --train; the columns are the model's"},
    {"class-weight", 0, CLI_STRING, &flags.class_weight, 0, 0, "W0,W1", "binary: weight of label-0 and label-1 rows in the loss, e.g. 1,5"},
    {"init-embeddings", 0, CLI_STRING, &flags.init_embeddings, 0, 0, "TABLE=TSV[,...]", "initial vectors of an embedding table from a TSV (id, key, v1..vk per line, as 'deepctr export-embeddings' writes)"},
    {"negative-rate", 0, CLI_DOUBLE, &quality.negative_rate, 0, 1, "W", "binary: the negatives of --train (and --valid) were kept with rate W; predictions are corrected (logit + ln W)"},
    {"downsample-negatives", 0, CLI_DOUBLE, &quality.downsample, 0, 1, "W", "binary: keep each negative row of --train with rate W (seeded by --seed), all positives; predictions are corrected"},
    {"calibrate", 0, CLI_STRING, &quality.calibrate, 0, 0, "METHOD", "platt or isotonic: fit that calibration on the validation rows and store it in the model"},
    {"out", 0, CLI_STRING, &flags.out, 0, 0, "FILE", "where to write the model (required)"},
    {"shard", 0, CLI_STRING, &flags.shard, 0, 0, "MODE", "under mpirun: stripe (default: rank r of N trains on rows r, r+N, ... of --train) or file (--train's '{rank}' names each rank's own file; docs/distributed.md)"},
    {"tables", 0, CLI_STRING, &flags.tables, 0, 0, "MODE", "under mpirun: replicated (default: every rank holds every embedding table) or sharded (each rank holds 1/N of each table's rows; docs/distributed.md)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command train_cmd = {
    "train", "--train FILE --out MODEL [--label COL] [--sparse ...] [--dense ...] [options]",
    "Train a DeepFM / FM / LR / FFM / DeepFFM model on a CSV file and save it.\n"
    "Columns not named with --sparse/--dense/--varlen are inferred from the file's first rows:\n"
    "heavy-tailed integer counts -> dense log1p, other numeric -> dense (min-max scaled),\n"
    "anything else -> sparse (fitted vocabulary).\n"
    "Defaults are the library's recommended settings (dctr_model_config_recommended,\n"
    "dctr_fit_options_recommended): DeepFM with 10-dim embeddings, Adagrad lr 0.1 (0.25 on the linear\n"
    "part), DNN 128-128-128 with batch norm (off below 100 batches per epoch) and dropout 0.3, the\n"
    "last 10% held out, early stopping on val_auc with patience 4, up to 50 epochs. Every flag\n"
    "overrides its part.\n"
    "FFM on libffm text: deepctr train --model ffm --format libffm --train tr.ffm [-k 4 -t 15 -r 0.2 ...];\n"
    "see 'deepctr train --model ffm --format libffm --help'.",
    train_opts};

/* A usage error for a name not in `choices`, listing every accepted one. */
static int bad_choice(const char *flag, const cli_choice *choices, size_t n, const char *got) {
    char list[256];
    return cli_usage_error(&train_cmd, "%s must be %s, got '%s'", flag,
                           cli_choice_list(choices, n, list, sizeof list), got);
}

/* Flags left at a negative / NULL value are unset: make_config and make_fit_options then take
 * the library's recommended settings for the chosen model. */
static void set_defaults(void) {
    memset(&flags, 0, sizeof flags);
    memset(&quality, 0, sizeof quality);
    flags.model = "deepfm";
    flags.task = "binary";
    flags.format = "csv";
    flags.delimiter = ",";
    flags.cols.label = "label";
    flags.valid_split = -1;  /* unset: 0.1 unless --valid */
    flags.early_stop = -1;   /* unset: the recommended patience (4) with validation */
    flags.epochs = -1;       /* unset: 50 with validation (early stopping ends it), else 10 */
    flags.batch_size = -1;
    flags.embedding_dim = -1; /* unset: 10, or 8 for ffm / deepffm */
    flags.seed = 1024;
    flags.threads = 1;
    flags.dropout = -1;
    flags.l2_embedding = -1;
    flags.l2_linear = -1;
    flags.l2_dnn = -1;
    flags.linear_lr_scale = -1;
    flags.lr = -1;
    flags.min_count = 1;
    flags.cols.oov = -1;
    /* embeddings start at N(0, 0.01) rather than DeepCTR's 1e-4: the FM term's gradient is the
     * product of embeddings, so tiny ones leave it stuck near 0 for many epochs (frappe: test AUC
     * 0.945 in 24 epochs vs 0.944 in 44; synthetic: closer to the planted model) */
    flags.init_std = 0.01;
}

/* Model configuration from the flags; returns 0 or a usage error. */
static int make_config(dctr_model_config *cfg, int32_t *hidden) {
    int v;
    if (cli_choice_find(cli_model_types, cli_num_model_types, flags.model, &v) != 0)
        return bad_choice("--model", cli_model_types, cli_num_model_types, flags.model);
    dctr_model_type type = (dctr_model_type)v;
    if (flags.embedding_dim < 0)
        flags.embedding_dim = (type == DCTR_MODEL_FFM || type == DCTR_MODEL_DEEPFFM) ? 8 : 10;
    flags.cols.embedding_dim = flags.embedding_dim;
    dctr_model_config_recommended(cfg, type);
    if (cli_choice_find(cli_tasks, cli_num_tasks, flags.task, &v) != 0)
        return bad_choice("--task", cli_tasks, cli_num_tasks, flags.task);
    cfg->task = (dctr_task)v;
    if (flags.hidden) {
        int n = cli_parse_int_list(flags.hidden, hidden, MAX_HIDDEN);
        if (n < 0)
            return cli_usage_error(&train_cmd, "--hidden wants positive sizes like 256,128,64 or 'none', got '%s'",
                                   flags.hidden);
        cfg->hidden_units = hidden;
        cfg->num_hidden = n;
    }
    if (flags.bn && flags.no_bn)
        return cli_usage_error(&train_cmd, "give --bn or --no-bn, not both");
    if (flags.bn || flags.no_bn)
        cfg->use_bn = flags.bn;
    if (flags.dropout >= 0)
        cfg->dropout = (float)flags.dropout;
    if (flags.l2_embedding >= 0)
        cfg->l2_embedding = (float)flags.l2_embedding;
    if (flags.l2_linear >= 0)
        cfg->l2_linear = (float)flags.l2_linear;
    if (flags.l2_dnn >= 0)
        cfg->l2_dnn = (float)flags.l2_dnn;
    if (flags.linear_lr_scale > 0)
        cfg->linear_lr_scale = (float)flags.linear_lr_scale;
    cfg->seed = (uint64_t)flags.seed;
    cfg->ffm_k = (int32_t)flags.embedding_dim;
    cfg->ffm_normalize = !flags.no_norm;
    if (flags.optimizer) {
        if (cli_choice_find(cli_optimizers, cli_num_optimizers, flags.optimizer, &v) != 0)
            return bad_choice("--optimizer", cli_optimizers, cli_num_optimizers, flags.optimizer);
        dctr_optimizer_kind opt = (dctr_optimizer_kind)v;
        /* another optimizer than the recommended one starts from its own (Keras) defaults */
        if (opt != cfg->optimizer.kind)
            dctr_optimizer_config_default(&cfg->optimizer, opt);
    }
    if (flags.lr > 0)
        cfg->optimizer.learning_rate = flags.lr;
    if (flags.activation) {
        if (cli_choice_find(cli_activations, cli_num_activations, flags.activation, &v) != 0)
            return bad_choice("--activation", cli_activations, cli_num_activations, flags.activation);
        cfg->activation = (dctr_activation)v;
    }
    if (flags.oov) {
        if (cli_choice_find(cli_oov_policies, cli_num_oov_policies, flags.oov, &v) != 0)
            return bad_choice("--oov", cli_oov_policies, cli_num_oov_policies, flags.oov);
        flags.cols.oov = v;
    }
    return 0;
}

/* Reads (or loads from --cache) the training data with the fitted schema. The cache is used
 * only when it was made from the same bytes (tools/cache_key.h), never by mtime. */
static int load_train(const dctr_schema *schema, char delim, int allow_extra, dctr_dataset **out) {
    char key[128] = "";
    if (flags.cache && cli_cache_key(flags.train, key, sizeof key) != 0)
        return cli_runtime_error("%s: cannot read: %s", flags.train, strerror(errno));
    if (flags.cache && cli_cache_key_matches(flags.cache, key)) {
        if (dctr_dataset_load_cache(schema, flags.cache, out) == DCTR_OK) {
            printf("read the encoded training data from cache %s\n", flags.cache);
            return 0;
        }
        return cli_runtime_error("%s (delete the cache file or choose another --cache)", dctr_last_error());
    }
    dctr_csv_options opts;
    cli_csv_options(&opts, delim, 1, allow_extra);
    if (cli_dist_read_csv(schema, flags.train, &opts, out) != DCTR_OK)
        return cli_library_error();
    if (flags.cache && dctr_dataset_save_cache(*out, flags.cache) != DCTR_OK)
        return cli_library_error();
    if (flags.cache && cli_cache_key_save(flags.cache, key) != 0)
        return 1;
    return 0;
}

static void print_summary(const dctr_model *model, const dctr_history *h, dctr_task task, int has_valid,
                          double seconds) {
    printf("trained %d epoch%s in %.1fs", h->epochs_run, h->epochs_run == 1 ? "" : "s", seconds);
    if (has_valid && h->best_epoch >= 1 && h->best_epoch <= h->epochs_run) {
        const double *v = h->valid + (size_t)(h->best_epoch - 1) * DCTR_METRIC_COUNT;
        printf("; best epoch %d:", h->best_epoch);
        if (task == DCTR_TASK_REGRESSION)
            printf(" val_mse %.5f val_rmse %.5f", v[DCTR_METRIC_MSE], v[DCTR_METRIC_RMSE]);
        else
            printf(" val_logloss %.5f val_auc %.5f", v[DCTR_METRIC_LOGLOSS], v[DCTR_METRIC_AUC]);
    }
    printf("\nmodel: %s, %lld parameters\n", cli_model_type_name(dctr_model_get_type(model)),
           (long long)dctr_model_num_parameters(model));
}

/* --model ffm on libffm text goes to tools/cli_ffm.c with its libffm-style flags. */
static int is_libffm_training(int argc, char **argv) {
    static const char *const data_flags[] = {"--train", NULL};
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--model=ffm") == 0 ||
            (strcmp(argv[i], "--model") == 0 && i + 1 < argc && strcmp(argv[i + 1], "ffm") == 0))
            return cli_wants_libffm(argc, argv, data_flags);
    return 0;
}

/* Checks the parsed flags that do not fit a table entry; returns 0 or a usage error. */
static int check_flags(void) {
    if (!flags.train)
        return cli_usage_error(&train_cmd, "missing --train FILE");
    if (!flags.out)
        return cli_usage_error(&train_cmd, "missing --out FILE");
    if (flags.shard && strcmp(flags.shard, "stripe") != 0 && strcmp(flags.shard, "file") != 0)
        return cli_usage_error(&train_cmd, "--shard must be stripe or file, got '%s'", flags.shard);
    cli_dist_set_shard_mode(flags.shard && strcmp(flags.shard, "file") == 0);
    if (flags.tables && strcmp(flags.tables, "replicated") != 0 && strcmp(flags.tables, "sharded") != 0)
        return cli_usage_error(&train_cmd, "--tables must be replicated or sharded, got '%s'", flags.tables);
    cli_dist_set_sharded_tables(flags.tables && strcmp(flags.tables, "sharded") == 0);
    if (cli_dist_active() && (flags.cache || quality.downsample > 0 || quality.calibrate))
        return cli_usage_error(&train_cmd, "--cache, --downsample-negatives and --calibrate run on one "
                               "process only (not under mpirun)");
    if (strcmp(flags.format, "csv") != 0)
        return cli_usage_error(&train_cmd, "--format %s needs --model ffm (other models read CSV)", flags.format);
    if (flags.valid && flags.valid_split > 0)
        return cli_usage_error(&train_cmd, "give --valid or --valid-split, not both");
    if (cli_parse_delimiter(&train_cmd, flags.delimiter, &flags.cols.delimiter) != 0)
        return CLI_EXIT_USAGE;
    quality.seed = (uint64_t)flags.seed;
    if (flags.resume && (quality.negative_rate > 0 || quality.downsample > 0 || quality.calibrate))
        return cli_usage_error(&train_cmd, "--negative-rate, --downsample-negatives and --calibrate do not go with "
                               "--resume (the model keeps its calibration)");
    const int has_valid = flags.valid != NULL || flags.valid_split != 0;
    if (cli_quality_check(&train_cmd, &quality, strcmp(flags.task, "regression") != 0, has_valid) != 0)
        return CLI_EXIT_USAGE;
    flags.cols.min_count = flags.min_count;
    flags.cols.init_std = flags.init_std;
    /* no output may replace an input (nor the model the cache) */
    const char *const ins[] = {flags.train, flags.valid, flags.cache};
    const char *const in_flags[] = {"--train", "--valid", "--cache"};
    if (cli_check_output("--out", flags.out, ins, in_flags, 3) != 0 ||
        cli_check_output("--cache", flags.cache, ins, in_flags, 2) != 0)
        return CLI_EXIT_ERROR;
    return 0;
}

/* Fit options: validation (file or tail split, 0.1 by default), early stopping on --monitor. */
static int make_fit_options(dctr_task task, dctr_fit_options *fo) {
    dctr_fit_options_recommended(fo, task);
    fo->validation_split = flags.valid ? 0 : (flags.valid_split < 0 ? 0.1 : flags.valid_split);
    const int has_valid = flags.valid != NULL || fo->validation_split > 0;
    if (flags.early_stop > 0 && !has_valid)
        return cli_usage_error(&train_cmd, "--early-stop needs validation data (--valid or --valid-split)");
    if (flags.monitor) {
        int v;
        if (cli_choice_find(cli_monitors, cli_num_monitors, flags.monitor, &v) != 0)
            return bad_choice("--monitor", cli_monitors, cli_num_monitors, flags.monitor);
        fo->monitor = (dctr_metric)v;
        if (task == DCTR_TASK_REGRESSION &&
            (fo->monitor == DCTR_METRIC_AUC || fo->monitor == DCTR_METRIC_LOGLOSS || fo->monitor == DCTR_METRIC_ACCURACY))
            return cli_usage_error(&train_cmd, "--monitor %s is not defined for regression (use val_mse or val_rmse)",
                                   flags.monitor);
    } else {
        fo->monitor = task == DCTR_TASK_REGRESSION ? DCTR_METRIC_MSE : DCTR_METRIC_AUC;
    }
    fo->monitor_mode = 0; /* auto: max for AUC / accuracy, min otherwise */
    if (flags.early_stop >= 0)
        fo->patience = (int32_t)flags.early_stop;
    if (!has_valid)
        fo->patience = 0;
    if (flags.epochs > 0)
        fo->epochs = (int32_t)flags.epochs;
    else if (!has_valid)
        fo->epochs = 10; /* no early stopping to end the run */
    if (flags.batch_size > 0)
        fo->batch_size = (int32_t)flags.batch_size;
    fo->threads = (int32_t)flags.threads;
    fo->checkpoint_path = flags.checkpoint;
    return 0;
}

/* --class-weight W0,W1 on the training rows (the validation rows keep weight 1, as Keras). */
static int apply_class_weight(dctr_dataset *train) {
    float w0, w1;
    if (!flags.class_weight)
        return 0;
    if (cli_parse_class_weight(flags.class_weight, &w0, &w1) != 0)
        return cli_runtime_error("--class-weight wants two weights >= 0 like 1,5, got '%s'", flags.class_weight);
    if (dctr_dataset_apply_class_weights(train, w0, w1) != DCTR_OK)
        return cli_library_error();
    return 0;
}

/* The trained model to --out (rank 0 under mpirun), and the line that says so. */
static int save_trained(const dctr_model *model) {
    if (cli_dist_save(model, flags.out, flags.save_optimizer) != DCTR_OK)
        return cli_library_error();
    printf("saved %s\n", flags.out);
    return 0;
}

/* Batch norm left to the recommended setting (no --bn / --no-bn) is turned off when an epoch
 * has fewer than this many batches: its moving averages (momentum 0.99) then still hold their
 * initial values when early stopping ends the fit, and inference uses them (DeepCTR's
 * movielens_sample: 1 batch per epoch, test MSE 5.93 with batch norm, 1.26 without;
 * docs/quality.md). Not under mpirun, where the ranks' row counts differ. */
#define BN_MIN_BATCHES 100

static void auto_batch_norm(dctr_model_config *cfg, const dctr_dataset *train, const dctr_fit_options *fo) {
    if (flags.bn || flags.no_bn || !cfg->use_bn || cli_dist_active())
        return;
    double rows = (double)dctr_dataset_num_rows(train) * (fo->validation ? 1.0 : 1.0 - fo->validation_split);
    double batches = rows / (fo->batch_size > 0 ? fo->batch_size : 256);
    if (batches >= BN_MIN_BATCHES)
        return;
    cfg->use_bn = 0;
    printf("batch norm off: %.0f batches per epoch (fewer than %d; --bn keeps it)\n", batches, BN_MIN_BATCHES);
}

/* Columns, encoders, data, model, fit, save. Returns the exit code. */
static int train_and_save(const dctr_model_config *cfg, dctr_fit_options *fo) {
    const double t0 = cli_now();
    const int has_valid = flags.valid != NULL || fo->validation_split > 0;
    dctr_schema *schema = NULL;
    dctr_dataset *train = NULL, *valid = NULL;
    dctr_model *model = NULL;
    dctr_history hist;
    memset(&hist, 0, sizeof hist);
    int allow_extra = 0;
    char first[4096]; /* under mpirun every rank infers the columns from rank 0's file */
    int rc = cli_schema_from_flags(&train_cmd, &flags.cols, cli_dist_path(flags.train, 1, first, sizeof first),
                                   stdout, &schema, &allow_extra);
    if (rc != 0)
        goto done;
    rc = CLI_EXIT_ERROR;
    dctr_csv_options copts;
    cli_csv_options(&copts, flags.cols.delimiter, 1, allow_extra);
    if (cli_dist_fit_schema(schema, flags.train, &copts) != DCTR_OK) {
        cli_library_error();
        goto done;
    }
    if (load_train(schema, flags.cols.delimiter, allow_extra, &train) != 0 ||
        cli_quality_downsample(&quality, &train) != 0 || apply_class_weight(train) != 0)
        goto done;
    cli_pack_training_rows(train);
    if (flags.valid) {
        if (cli_dist_read_csv(schema, flags.valid, &copts, &valid) != DCTR_OK) {
            cli_library_error();
            goto done;
        }
        fo->validation = valid;
    }
    /* group=G names FM groups: the FM part takes every group the columns name (DeepCTR's
     * fm_group default of just "default_group" would leave it empty when every column has one) */
    dctr_model_config gcfg = *cfg;
    const char *groups[MAX_GROUPS];
    gcfg.num_fm_groups = cli_schema_groups(schema, groups, MAX_GROUPS);
    gcfg.fm_groups = groups;
    auto_batch_norm(&gcfg, train, fo);
    if (cli_dist_model_new(schema, &gcfg, &model) != DCTR_OK) {
        cli_library_error();
        goto done;
    }
    if (flags.init_embeddings && cli_init_embeddings(model, flags.init_embeddings) != 0)
        goto done;
    printf("%s (%s): %lld rows in --train", cli_model_type_name(cfg->type), cli_task_name(cfg->task),
           (long long)dctr_dataset_num_rows(train));
    if (cli_dist_active())
        printf(" on rank 0 (each rank trains its own shard)");
    if (valid)
        printf(", %lld in --valid", (long long)dctr_dataset_num_rows(valid));
    else if (fo->validation_split > 0)
        printf(" (the last %g%% held out for validation)", 100 * fo->validation_split);
    printf("; %lld parameters\n", (long long)dctr_model_num_parameters(model));
    fflush(stdout);
    cli_progress prog;
    cli_progress_init(&prog, stdout, cfg->task, has_valid);
    cli_progress_attach(&prog, fo);
    if (cli_dist_fit(model, train, fo, &hist) != DCTR_OK) {
        cli_library_error();
        goto done;
    }
    print_summary(model, &hist, cfg->task, has_valid, cli_now() - t0);
    if (cli_quality_after_fit(&quality, model, train, valid, fo->validation_split) != 0)
        goto done;
    if (save_trained(model) != 0)
        goto done;
    rc = CLI_EXIT_OK;
done:
    dctr_history_free(&hist);
    dctr_model_free(model);
    dctr_dataset_free(valid);
    dctr_dataset_free(train);
    dctr_schema_free(schema);
    return rc;
}

/* A file read with the model's schema (this rank's rows under mpirun). */
static int resume_read(const dctr_schema *schema, const char *path, dctr_dataset **out) {
    if (!cli_dist_active())
        return cli_read_dataset(schema, path, flags.cols.delimiter, 1, out);
    dctr_csv_options copts;
    cli_csv_options(&copts, flags.cols.delimiter, 1, 0);
    return cli_dist_read_csv(schema, path, &copts, out) == DCTR_OK ? 0 : cli_library_error();
}

/* --resume MODEL: the model's own columns and encoders read --train (and --valid), training
 * goes on from its weights, optimizer state and shuffle position, the result goes to --out. */
static int resume_and_save(dctr_fit_options *fo) {
    const double t0 = cli_now();
    dctr_model *model = NULL;
    dctr_dataset *train = NULL, *valid = NULL;
    dctr_history hist;
    memset(&hist, 0, sizeof hist);
    int rc = CLI_EXIT_ERROR;
    if (cli_dist_load_model(flags.resume, &model) != 0)
        goto done;
    const dctr_schema *schema = dctr_model_schema(model);
    if (!schema) {
        cli_runtime_error("%s: a libffm model resumes with 'deepctr train --model ffm --format libffm'", flags.resume);
        goto done;
    }
    if (!dctr_model_has_optimizer_state(model))
        fprintf(stderr, "warning: %s has no optimizer state (not saved with --save-optimizer): the optimizer "
                "starts afresh\n", flags.resume);
    if (resume_read(schema, flags.train, &train) != 0 || apply_class_weight(train) != 0)
        goto done;
    if (flags.valid) {
        if (resume_read(schema, flags.valid, &valid) != 0)
            goto done;
        fo->validation = valid;
    }
    const dctr_task task = dctr_model_get_task(model);
    const int has_valid = valid != NULL || fo->validation_split > 0;
    printf("resuming %s (%s, %lld epochs run): %lld rows in --train\n", flags.resume,
           cli_model_type_name(dctr_model_get_type(model)), (long long)dctr_model_epochs_trained(model),
           (long long)dctr_dataset_num_rows(train));
    cli_progress prog;
    cli_progress_init(&prog, stdout, task, has_valid);
    cli_progress_attach(&prog, fo);
    if (cli_dist_fit(model, train, fo, &hist) != DCTR_OK) {
        cli_library_error();
        goto done;
    }
    print_summary(model, &hist, task, has_valid, cli_now() - t0);
    if (save_trained(model) != 0)
        goto done;
    rc = CLI_EXIT_OK;
done:
    dctr_history_free(&hist);
    dctr_dataset_free(valid); /* the datasets borrow the model's schema: free them first */
    dctr_dataset_free(train);
    dctr_model_free(model);
    return rc;
}

int cmd_train(int argc, char **argv) {
    if (is_libffm_training(argc, argv) && cli_dist_active())
        return cli_usage_error(&train_cmd, "under mpirun FFM trains from CSV columns (--format csv); "
                               "the libffm-native trainer runs on one process");
    if (is_libffm_training(argc, argv))
        return dctr_cli_ffm_train(argc, argv);
    set_defaults();
    int rc = cli_parse(&train_cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    dctr_model_config cfg;
    dctr_fit_options fo;
    int32_t hidden[MAX_HIDDEN]; /* cfg.hidden_units points here */
    if ((rc = check_flags()) != 0 || (rc = make_config(&cfg, hidden)) != 0 ||
        (rc = make_fit_options(cfg.task, &fo)) != 0)
        return rc;
    if (flags.resume)
        return resume_and_save(&fo);
    return train_and_save(&cfg, &fo);
}
