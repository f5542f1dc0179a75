/* `deepctr inspect --json`: everything the services API tells about a loaded model, as one JSON
 * object (strings escaped; NaN and absent values as null). */
#include <math.h>
#include <stdio.h>

#include "cli_common.h"
#include "inspect_json.h"
#include "json_out.h"



/* A float field: its shortest round-trip form. */
static void json_float(FILE *f, float x) {
    if (isfinite(x))
        fprintf(f, "%.9g", (double)x);
    else
        fputs("null", f);
}

static const char *const kinds[] = {"sparse", "dense", "varlen"};
static const char *const transforms[] = {"none", "log1p", "minmax", "standardize"};
static const char *const oovs[] = {"error", "reserved_row", "hash"};
static const char *const combiners[] = {"sum", "mean", "max"};
static const char *const activations[] = {"relu", "sigmoid", "tanh", "linear", "prelu", "dice"};

static void print_column(FILE *f, const dctr_column_info *c) {
    fputs("    {\"name\": ", f);
    cli_json_string(f, c->name);
    fprintf(f, ", \"kind\": \"%s\"", kinds[c->kind]);
    if (c->kind == DCTR_COLUMN_DENSE) {
        fprintf(f, ", \"dimension\": %d, \"transform\": \"%s\", \"fill_value\": ", (int)c->dimension,
                transforms[c->transform]);
        json_float(f, c->fill_value);
        fputs(", \"min\": ", f);
        cli_json_number(f, c->stat_min);
        fputs(", \"max\": ", f);
        cli_json_number(f, c->stat_max);
        fputs(", \"mean\": ", f);
        cli_json_number(f, c->stat_mean);
        fputs(", \"std\": ", f);
        cli_json_number(f, c->stat_std);
        fputs("}", f);
        return;
    }
    fprintf(f, ", \"dtype\": \"%s\", \"use_hash\": %s, \"vocabulary_size\": %lld, \"embedding_dim\": %d",
            c->dtype == DCTR_DTYPE_STRING ? "string" : "int", c->use_hash ? "true" : "false",
            (long long)c->vocabulary_size, (int)c->embedding_dim);
    fputs(", \"embedding_name\": ", f);
    cli_json_string(f, c->embedding_name);
    fputs(", \"group\": ", f);
    cli_json_string(f, c->group_name);
    fprintf(f, ", \"trainable\": %s, \"oov_policy\": \"%s\", \"fitted_values\": %lld, \"oov_buckets\": %lld",
            c->trainable ? "true" : "false", oovs[c->oov_policy], (long long)c->fitted_values,
            (long long)c->oov_buckets);
    fputs(", \"vocabulary_path\": ", f);
    cli_json_string(f, c->vocabulary_path);
    if (c->kind == DCTR_COLUMN_VARLEN) {
        fprintf(f, ", \"maxlen\": %d, \"combiner\": \"%s\", \"length_column\": ", (int)c->maxlen,
                combiners[c->combiner]);
        cli_json_string(f, c->length_name);
        fputs(", \"weight_column\": ", f);
        cli_json_string(f, c->weight_name);
    }
    fputs("}", f);
}

static void print_config(FILE *f, const dctr_model_config *cfg) {
    fputs("  \"config\": {\"hidden_units\": ", f);
    if (cfg->num_hidden < 0 || !cfg->hidden_units) {
        fputs(cfg->num_hidden == 0 ? "[]" : "\"default\"", f);
    } else {
        fputc('[', f);
        for (int32_t i = 0; i < cfg->num_hidden; i++)
            fprintf(f, "%s%d", i ? ", " : "", (int)cfg->hidden_units[i]);
        fputc(']', f);
    }
    fprintf(f, ", \"activation\": \"%s\", \"use_bn\": %s, \"dropout\": ", activations[cfg->activation],
            cfg->use_bn ? "true" : "false");
    json_float(f, cfg->dropout);
    fputs(", \"l2_linear\": ", f);
    json_float(f, cfg->l2_linear);
    fputs(", \"l2_embedding\": ", f);
    json_float(f, cfg->l2_embedding);
    fputs(", \"l2_dnn\": ", f);
    json_float(f, cfg->l2_dnn);
    fprintf(f, ", \"seed\": %llu, \"ffm_k\": %d, \"optimizer\": ", (unsigned long long)cfg->seed, (int)cfg->ffm_k);
    cli_json_string(f, cli_choice_name(cli_optimizers, cli_num_optimizers, (int)cfg->optimizer.kind));
    fputs(", \"learning_rate\": ", f);
    cli_json_number(f, cfg->optimizer.learning_rate);
    fputs(", \"linear_lr_scale\": ", f);
    json_float(f, cfg->linear_lr_scale);
    fputs(", \"fm_groups\": ", f);
    if (!cfg->fm_groups) {
        fputs("[\"default_group\"]", f);
    } else {
        fputc('[', f);
        for (int32_t i = 0; i < cfg->num_fm_groups; i++) {
            fputs(i ? ", " : "", f);
            cli_json_string(f, cfg->fm_groups[i]);
        }
        fputc(']', f);
    }
    fputs("},\n", f);
}

void cli_inspect_json(FILE *f, const char *path, long long size, const dctr_model *m) {
    fputs("{\n  \"file\": ", f);
    cli_json_string(f, path);
    fprintf(f, ",\n  \"bytes\": %lld,\n  \"format_version\": %u,\n  \"model\": \"%s\",\n  \"task\": \"%s\",\n",
            size, (unsigned)dctr_model_format_version(), cli_model_type_name(dctr_model_get_type(m)),
            cli_task_name(dctr_model_get_task(m)));
    fprintf(f, "  \"parameters\": %lld,\n  \"parameter_bytes\": %lld,\n  \"optimizer_state_bytes\": ",
            (long long)dctr_model_num_parameters(m), (long long)dctr_model_parameter_bytes(m));
    if (dctr_model_has_optimizer_state(m))
        fprintf(f, "%lld", (long long)dctr_model_optimizer_bytes(m));
    else
        fputs("null", f);
    fprintf(f, ",\n  \"epochs_trained\": %lld,\n", (long long)dctr_model_epochs_trained(m));
    double pa, pb; /* output calibration: docs/quality.md */
    fprintf(f, "  \"negative_rate\": %.17g,\n  \"platt\": ", dctr_model_get_negative_rate(m));
    if (dctr_model_get_platt(m, &pa, &pb))
        fprintf(f, "{\"a\": %.17g, \"b\": %.17g},\n", pa, pb);
    else
        fputs("null,\n", f);
    fprintf(f, "  \"isotonic_points\": %d,\n", (int)dctr_model_isotonic_points(m));
    dctr_model_config cfg;
    if (dctr_model_get_config(m, &cfg) == DCTR_OK)
        print_config(f, &cfg);
    const dctr_schema *s = dctr_model_schema(m);
    fputs("  \"label\": ", f);
    cli_json_string(f, s ? dctr_schema_label(s) : NULL);
    fputs(",\n  \"weight_column\": ", f);
    cli_json_string(f, s ? dctr_schema_weight_column(s) : NULL);
    fputs(",\n  \"columns\": [\n", f);
    for (int32_t i = 0; s && i < dctr_schema_num_columns(s); i++) {
        dctr_column_info c = {.struct_size = sizeof c};
        if (dctr_schema_column_info(s, i, &c) != DCTR_OK)
            continue;
        print_column(f, &c);
        fputs(i + 1 < dctr_schema_num_columns(s) ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"metadata\": {", f);
    for (int32_t i = 0; i < dctr_model_metadata_count(m); i++) {
        const char *k = dctr_model_metadata_key(m, i);
        fputs(i ? ", " : "", f);
        cli_json_string(f, k);
        fputs(": ", f);
        cli_json_string(f, dctr_model_get_metadata(m, k));
    }
    fputs("}\n}\n", f);
}
