/* `deepctr inspect`: what a model file holds. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_common.h"
#include "commands.h"
#include "inspect_json.h"

static struct {
    const char *model_file;
    int json;
} flags;

static const cli_opt inspect_opts[] = {
    {"model-file", 0, CLI_STRING, &flags.model_file, 0, 0, "FILE", "model file (required)"},
    {"json", 0, CLI_FLAG, &flags.json, 0, 0, NULL, "one JSON object: config, columns with fitted statistics, metadata"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command inspect_cmd = {
    "inspect", "--model-file MODEL",
    "Print a model file's type, task, columns (kind, vocabulary size, embedding dim),\n"
    "parameter counts and file format version.",
    inspect_opts};

/* The container header: "DCTRMODL" then a little-endian uint32 format version. */
static long read_format_version(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char h[12];
    long v = -1;
    if (!f)
        return -1;
    if (fread(h, 1, sizeof h, f) == sizeof h && memcmp(h, "DCTRMODL", 8) == 0)
        v = (long)((uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24);
    fclose(f);
    return v;
}

static const char *kind_name(dctr_column_kind kind) {
    switch (kind) {
    case DCTR_COLUMN_SPARSE: return "sparse";
    case DCTR_COLUMN_DENSE: return "dense";
    case DCTR_COLUMN_VARLEN: return "varlen";
    case DCTR_COLUMN_NONE: break;
    }
    return "?";
}

static void print_bytes(const char *label, int64_t b) {
    if (b >= (1 << 20))
        printf("%s %.1f MiB", label, (double)b / (1 << 20));
    else
        printf("%s %.1f KiB", label, (double)b / 1024);
}

int cmd_inspect(int argc, char **argv) {
    memset(&flags, 0, sizeof flags);
    int rc = cli_parse(&inspect_cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    if (!flags.model_file)
        return cli_usage_error(&inspect_cmd, "missing --model-file FILE");
    dctr_model *model = NULL;
    if (cli_load_model(flags.model_file, &model) != 0)
        return CLI_EXIT_ERROR;
    const dctr_schema *s = dctr_model_schema(model);
    struct stat st;
    long long size = stat(flags.model_file, &st) == 0 ? (long long)st.st_size : -1;
    if (flags.json) {
        cli_inspect_json(stdout, flags.model_file, size, model);
        dctr_model_free(model);
        return CLI_EXIT_OK;
    }
    printf("file:        %s (%lld bytes, format version %ld)\n", flags.model_file, size,
           read_format_version(flags.model_file));
    printf("model:       %s\n", cli_model_type_name(dctr_model_get_type(model)));
    printf("task:        %s\n", cli_task_name(dctr_model_get_task(model)));
    printf("parameters:  %lld (", (long long)dctr_model_num_parameters(model));
    print_bytes("weights", dctr_model_parameter_bytes(model));
    if (dctr_model_has_optimizer_state(model))
        print_bytes(", optimizer state", dctr_model_optimizer_bytes(model));
    else
        printf(", no optimizer state");
    printf(")\n");
    double pa, pb; /* output calibration (docs/quality.md), when the model has any */
    const int platt = dctr_model_get_platt(model, &pa, &pb);
    const int32_t iso = dctr_model_isotonic_points(model);
    if (dctr_model_get_negative_rate(model) < 1 || platt || iso > 0) {
        printf("calibrated:  negative rate %g", dctr_model_get_negative_rate(model));
        if (platt)
            printf(", Platt a %.6g b %.6g", pa, pb);
        if (iso > 0)
            printf(", isotonic %d points", (int)iso);
        printf("\n");
    }
    if (dctr_ffm_is_native(model)) {
        printf("libffm:      %d fields, %lld features, k %d\n", (int)dctr_ffm_num_fields(model),
               (long long)dctr_ffm_num_features(model), (int)dctr_ffm_k(model));
        dctr_model_free(model);
        return CLI_EXIT_OK;
    }
    int32_t n = dctr_schema_num_columns(s);
    printf("columns:     %d\n", n);
    printf("  %-24s %-7s %12s %5s\n", "name", "kind", "vocabulary", "dim");
    for (int32_t i = 0; i < n; i++) {
        const char *name = dctr_schema_column_name(s, i);
        dctr_column_kind kind = dctr_schema_column_kind(s, i);
        if (kind == DCTR_COLUMN_DENSE)
            printf("  %-24s %-7s %12s %5s\n", name, kind_name(kind), "-", "-");
        else
            printf("  %-24s %-7s %12lld %5d\n", name, kind_name(kind),
                   (long long)dctr_schema_vocabulary_size(s, name), (int)dctr_schema_embedding_dim(s, name));
    }
    dctr_model_free(model);
    return CLI_EXIT_OK;
}
