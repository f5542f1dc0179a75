/* Model-quality options of `deepctr train` and `deepctr eval` (docs/quality.md). */
#include <math.h>
#include <string.h>

#include "quality_cli.h"
#include "json_out.h"

static double rate_or_1(double r) { return r > 0 ? r : 1.0; }

int cli_quality_check(const cli_command *cmd, const cli_quality_train *q, int binary, int has_valid) {
    if (q->negative_rate < 0 || q->negative_rate > 1 || q->downsample < 0 || q->downsample > 1)
        return cli_usage_error(cmd, "--negative-rate and --downsample-negatives take a rate in (0, 1]");
    if (!binary && (q->negative_rate > 0 || q->downsample > 0 || q->calibrate))
        return cli_usage_error(cmd, "--negative-rate, --downsample-negatives and --calibrate need --task binary");
    if (q->calibrate && strcmp(q->calibrate, "platt") != 0 && strcmp(q->calibrate, "isotonic") != 0)
        return cli_usage_error(cmd, "--calibrate must be platt or isotonic, got '%s'", q->calibrate);
    if (q->calibrate && !has_valid)
        return cli_usage_error(cmd, "--calibrate needs validation data (--valid or --valid-split)");
    return 0;
}

int cli_quality_downsample(const cli_quality_train *q, dctr_dataset **train) {
    if (!(q->downsample > 0 && q->downsample < 1))
        return 0;
    dctr_dataset *ds = NULL;
    if (dctr_dataset_downsample_negatives(*train, q->downsample, q->seed, &ds) != DCTR_OK)
        return cli_library_error();
    printf("kept %lld of %lld rows (every positive, negatives with rate %g)\n",
           (long long)dctr_dataset_num_rows(ds), (long long)dctr_dataset_num_rows(*train), q->downsample);
    dctr_dataset_free(*train);
    *train = ds;
    return 0;
}

int cli_quality_after_fit(const cli_quality_train *q, dctr_model *model, const dctr_dataset *train,
                          const dctr_dataset *valid, double validation_split) {
    const double disk = rate_or_1(q->negative_rate), total = disk * rate_or_1(q->downsample);
    if (total < 1 && dctr_model_set_negative_rate(model, total) != DCTR_OK)
        return cli_library_error();
    if (total < 1)
        printf("predictions corrected for negatives kept with rate %g (logit %+.4f)\n", total, log(total));
    if (!q->calibrate)
        return 0;
    dctr_dataset *head = NULL, *tail = NULL;
    double vrate = disk; /* a --valid file is sampled as --train is on disk */
    if (!valid) {        /* the tail fit held out, sampled like the rows trained on */
        if (dctr_dataset_split_tail(train, validation_split, &head, &tail) != DCTR_OK)
            return cli_library_error();
        valid = tail;
        vrate = total;
    }
    int rc = 0;
    double a, b;
    const int platt = strcmp(q->calibrate, "platt") == 0;
    if ((platt ? dctr_model_calibrate_platt(model, valid, vrate) : dctr_model_calibrate_isotonic(model, valid, vrate)) !=
        DCTR_OK)
        rc = cli_library_error();
    else if (dctr_model_get_platt(model, &a, &b))
        printf("Platt scaling on %lld validation rows: p = sigmoid(%.5f * logit %+.5f)\n",
               (long long)dctr_dataset_num_rows(valid), a, b);
    else
        printf("isotonic calibration on %lld validation rows: %d points\n", (long long)dctr_dataset_num_rows(valid),
               (int)dctr_model_isotonic_points(model));
    dctr_dataset_free(head);
    dctr_dataset_free(tail);
    return rc;
}


int cli_print_calibration(FILE *f, const dctr_model *model, const dctr_dataset *ds, int32_t nbins, int json) {
    dctr_reliability_bin bins[100];
    double ece;
    if (nbins < 1 || nbins > 100)
        return cli_runtime_error("--bins must be 1..100, got %d", nbins);
    if (dctr_model_calibration(model, ds, nbins, bins, &ece) != DCTR_OK)
        return cli_library_error();
    if (json) {
        fputs(", \"ece\": ", f);
        cli_json_number(f, ece);
        fputs(", \"reliability\": [", f);
        for (int32_t k = 0; k < nbins; k++) {
            fprintf(f, "%s{\"bin\": %d, \"lo\": %.6g, \"hi\": %.6g, \"count\": %lld, \"mean_prediction\": ",
                    k ? ", " : "", k, bins[k].lo, bins[k].hi, (long long)bins[k].count);
            cli_json_number(f, bins[k].mean_prediction);
            fputs(", \"observed_rate\": ", f);
            cli_json_number(f, bins[k].observed_rate);
            fputc('}', f);
        }
        fputc(']', f);
        return 0;
    }
    fprintf(f, "expected calibration error (%d bins): %.6f\n", nbins, ece);
    fprintf(f, "%-4s %-13s %10s %15s %13s\n", "bin", "range", "count", "mean_pred", "observed");
    for (int32_t k = 0; k < nbins; k++) {
        char range[32];
        snprintf(range, sizeof range, "[%.2f,%.2f%c", bins[k].lo, bins[k].hi, k + 1 == nbins ? ']' : ')');
        if (bins[k].count == 0)
            fprintf(f, "%-4d %-13s %10d %15s %13s\n", k, range, 0, "-", "-");
        else
            fprintf(f, "%-4d %-13s %10lld %15.6f %13.6f\n", k, range, (long long)bins[k].count,
                    bins[k].mean_prediction, bins[k].observed_rate);
    }
    return 0;
}


static void importance_json(FILE *f, const dctr_importance_result *r) {
    fputs(", \"importance\": {\"base_auc\": ", f);
    cli_json_number(f, r->base_auc);
    fputs(", \"base_loss\": ", f);
    cli_json_number(f, r->base_loss);
    fputs(", \"columns\": [", f);
    for (int32_t i = 0; i < r->count; i++) {
        const dctr_importance *it = &r->items[i];
        fprintf(f, "%s{\"rank\": %d, \"column\": ", i ? ", " : "", i + 1);
        cli_json_string(f, it->column);
        const char *keys[6] = {"auc_drop", "auc_drop_sd", "loss_rise", "loss_rise_sd", "missing_auc_drop",
                               "missing_loss_rise"};
        const double vals[6] = {it->auc_drop, it->auc_drop_sd, it->loss_rise, it->loss_rise_sd,
                                it->missing_auc_drop, it->missing_loss_rise};
        for (int k = 0; k < 6; k++) {
            fprintf(f, ", \"%s\": ", keys[k]);
            cli_json_number(f, vals[k]);
        }
        fputc('}', f);
    }
    fputs("]}", f);
}

int cli_print_importance(FILE *f, const dctr_model *model, const dctr_dataset *ds, int32_t repeats,
                         uint64_t seed, int json) {
    dctr_importance_options o;
    dctr_importance_options_default(&o);
    o.repeats = repeats;
    o.seed = seed;
    dctr_importance_result r;
    if (dctr_model_permutation_importance(model, ds, &o, &r) != DCTR_OK)
        return cli_library_error();
    if (json) {
        importance_json(f, &r);
        dctr_importance_result_free(&r);
        return 0;
    }
    const int binary = dctr_model_get_task(model) == DCTR_TASK_BINARY;
    const char *loss = binary ? "logloss" : "mse";
    fprintf(f, "permutation importance (%d shuffle%s per column, seed %llu; change against the untouched rows)\n",
            repeats, repeats == 1 ? "" : "s", (unsigned long long)seed);
    fprintf(f, "%-4s %-24s %10s %9s %10s %9s %14s %15s\n", "rank", "column", "auc_drop", "sd", loss, "sd",
            "missing_auc", binary ? "missing_logloss" : "missing_mse");
    for (int32_t i = 0; i < r.count; i++) {
        const dctr_importance *it = &r.items[i];
        if (binary)
            fprintf(f, "%-4d %-24s %10.6f %9.6f %+10.6f %9.6f %14.6f %+15.6f\n", i + 1, it->column, it->auc_drop,
                    it->auc_drop_sd, it->loss_rise, it->loss_rise_sd, it->missing_auc_drop, it->missing_loss_rise);
        else
            fprintf(f, "%-4d %-24s %10s %9s %+10.6f %9.6f %14s %+15.6f\n", i + 1, it->column, "-", "-",
                    it->loss_rise, it->loss_rise_sd, "-", it->missing_loss_rise);
    }
    dctr_importance_result_free(&r);
    return 0;
}
