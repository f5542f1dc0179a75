/* `deepctr synth`: Criteo-shaped synthetic data with a planted model. */
#include <string.h>

#include "cli_common.h"
#include "commands.h"

static struct {
    int64_t rows, seed, dense, sparse, max_vocab;
    double ctr, missing, zipf, holdout;
    const char *out, *libffm, *structure;
} flags;

static const cli_opt synth_opts[] = {
    {"rows", 0, CLI_INT, &flags.rows, 1, 1e12, "N", "rows to write (default 200000)"},
    {"seed", 0, CLI_INT, &flags.seed, 0, 1e18, "S", "generator seed (default 1)"},
    {"out", 0, CLI_STRING, &flags.out, 0, 0, "FILE", "CSV output (label,I1..,C1..)"},
    {"libffm", 0, CLI_STRING, &flags.libffm, 0, 0, "FILE", "the same rows as libffm text"},
    {"dense", 0, CLI_INT, &flags.dense, 0, 1000, "N", "dense columns (default 13)"},
    {"sparse", 0, CLI_INT, &flags.sparse, 0, 1000, "N", "sparse columns (default 26)"},
    {"max-vocab", 0, CLI_INT, &flags.max_vocab, 1, 1e12, "N", "largest vocabulary of a sparse column (default 1000000)"},
    {"ctr", 0, CLI_DOUBLE, &flags.ctr, 0.001, 0.999, "X", "target positive rate (default 0.25)"},
    {"missing", 0, CLI_DOUBLE, &flags.missing, 0, 0.99, "X", "fraction of missing values (default 0.05)"},
    {"zipf", 0, CLI_DOUBLE, &flags.zipf, 0.01, 10, "X", "Zipf exponent of the category frequencies (default 1.4)"},
    {"holdout", 0, CLI_DOUBLE, &flags.holdout, 0, 0.99, "X", "also report the planted model on the last X of the rows (default 0.1, as train's --valid-split; 0 = off)"},
    {"structure", 0, CLI_STRING, &flags.structure, 0, 0, "NAME",
     "planted model: legacy (default), first-order, pairwise, field-pairwise, nonlinear (docs/synthetic-data.md)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command synth_cmd = {
    "synth", "--out data.csv [--libffm data.ffm] [--rows N] [--seed S]",
    "Write deterministic Criteo-shaped data (label, I1..I13, C1..C26) drawn from a planted model,\n"
    "and print that model's own AUC and logloss on the rows: the best a trained model can reach.",
    synth_opts};

int cmd_synth(int argc, char **argv) {
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    memset(&flags, 0, sizeof flags);
    flags.rows = o.rows;
    flags.seed = (int64_t)o.seed;
    flags.dense = o.num_dense;
    flags.sparse = o.num_sparse;
    flags.max_vocab = o.max_vocabulary;
    flags.ctr = o.target_ctr;
    flags.missing = o.missing_rate;
    flags.zipf = o.zipf_exponent;
    flags.holdout = o.holdout_fraction;
    int rc = cli_parse(&synth_cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    if (!flags.out && !flags.libffm)
        return cli_usage_error(&synth_cmd, "missing --out FILE (and/or --libffm FILE)");
    o.rows = flags.rows;
    o.seed = (uint64_t)flags.seed;
    o.num_dense = (int32_t)flags.dense;
    o.num_sparse = (int32_t)flags.sparse;
    o.max_vocabulary = flags.max_vocab;
    o.target_ctr = flags.ctr;
    o.missing_rate = flags.missing;
    o.zipf_exponent = flags.zipf;
    o.holdout_fraction = flags.holdout;
    if (flags.structure) {
        o.structure = dctr_synth_structure_from_name(flags.structure);
        if (o.structure < 0)
            return cli_usage_error(&synth_cmd, "unknown --structure (legacy, first-order, pairwise, field-pairwise, nonlinear)");
    }
    o.csv_path = flags.out;
    o.libffm_path = flags.libffm;
    dctr_synth_report r;
    if (dctr_synth_generate(&o, &r) != DCTR_OK)
        return cli_library_error();
    printf("wrote %lld rows", (long long)r.rows);
    if (flags.out)
        printf(" to %s", flags.out);
    if (flags.libffm)
        printf("%s%s", flags.out ? " and " : " to ", flags.libffm);
    printf("\npositive rate %.4f; planted model: auc %.6f logloss %.6f\n", r.positive_rate, r.planted_auc,
           r.planted_logloss);
    if (r.holdout_rows > 0)
        printf("planted model on the last %lld rows (the --valid-split %g hold-out): auc %.6f logloss %.6f\n",
               (long long)r.holdout_rows, flags.holdout, r.holdout_auc, r.holdout_logloss);
    return CLI_EXIT_OK;
}
