/* `deepctr export-embeddings`: one embedding table of a model as TSV, one line per id
 * (dctr_model_export_embeddings_tsv); `train --init-embeddings` reads the same format. */
#include <string.h>

#include "cli_common.h"
#include "commands.h"

static struct {
    const char *model_file, *table, *out;
} flags;

static const cli_opt export_opts[] = {
    {"model-file", 0, CLI_STRING, &flags.model_file, 0, 0, "FILE", "model file (required)"},
    {"table", 0, CLI_STRING, &flags.table, 0, 0, "NAME", "embedding table (a column's name, or its emb= name) (required)"},
    {"out", 0, CLI_STRING, &flags.out, 0, 0, "FILE", "TSV to write (required)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const cli_command export_cmd = {
    "export-embeddings", "--model-file MODEL --table NAME --out FILE.tsv",
    "Write one embedding table as TSV: 'id<TAB>value<TAB>v1<TAB>...<TAB>vk' per id, value being the\n"
    "fitted or vocabulary-file value of the id (empty for hashed ids and reserved rows).",
    export_opts};

int cmd_export_embeddings(int argc, char **argv) {
    memset(&flags, 0, sizeof flags);
    int rc = cli_parse(&export_cmd, argc, argv);
    if (rc == CLI_PARSE_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_PARSE_OK)
        return rc;
    if (!flags.model_file || !flags.table || !flags.out)
        return cli_usage_error(&export_cmd, "need --model-file, --table and --out");
    dctr_model *model = NULL;
    if (cli_load_model(flags.model_file, &model) != 0)
        return CLI_EXIT_ERROR;
    int32_t t = dctr_model_find_table(model, flags.table);
    if (t < 0)
        rc = cli_runtime_error("%s: no embedding table '%s'", flags.model_file, flags.table);
    else if (dctr_model_export_embeddings_tsv(model, t, flags.out) != DCTR_OK)
        rc = cli_library_error();
    else
        rc = CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK)
        fprintf(stderr, "wrote table %s to %s\n", flags.table, flags.out);
    dctr_model_free(model);
    return rc;
}
