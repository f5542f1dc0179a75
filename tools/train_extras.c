/* `deepctr train` options at the services API's level: see train_extras.h. */
#include "train_extras.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const cli_choice cli_activations[] = {
    {"relu", DCTR_ACT_RELU},     {"sigmoid", DCTR_ACT_SIGMOID}, {"tanh", DCTR_ACT_TANH},
    {"linear", DCTR_ACT_LINEAR}, {"prelu", DCTR_ACT_PRELU},     {"dice", DCTR_ACT_DICE}};
const size_t cli_num_activations = CLI_NCHOICES(cli_activations);

const cli_choice cli_oov_policies[] = {
    {"reserved", DCTR_OOV_RESERVED_ROW}, {"hash", DCTR_OOV_HASH}, {"error", DCTR_OOV_ERROR}};
const size_t cli_num_oov_policies = CLI_NCHOICES(cli_oov_policies);

int cli_parse_class_weight(const char *s, float *w0, float *w1) {
    char *end = NULL;
    errno = 0;
    double a = strtod(s, &end);
    if (end == s || *end != ',')
        return -1;
    const char *t = end + 1;
    double b = strtod(t, &end);
    if (end == t || *end || errno || !(a >= 0 && b >= 0) || !isfinite(a) || !isfinite(b) || a > 1e6 || b > 1e6)
        return -1;
    *w0 = (float)a;
    *w1 = (float)b;
    return 0;
}

/* One TSV line "id<TAB>key<TAB>v1...vk" into row[dim]; returns the id or -1. */
static int64_t parse_line(char *line, int32_t dim, float *row) {
    char *p = line, *end = NULL;
    long long id = strtoll(p, &end, 10);
    if (end == p || *end != '\t')
        return -1;
    p = strchr(end + 1, '\t'); /* skip the key */
    for (int32_t k = 0; k < dim; k++) {
        if (!p || *p != '\t')
            return -1;
        double v = strtod(p + 1, &end);
        if (end == p + 1 || !isfinite(v))
            return -1;
        row[k] = (float)v;
        p = end;
    }
    return p && (*p == '\0' || *p == '\n' || *p == '\r') ? (int64_t)id : -1;
}

static int load_table(dctr_model *model, const char *table, const char *path) {
    int32_t t = dctr_model_find_table(model, table);
    int64_t rows = 0;
    int32_t dim = 0;
    if (t < 0)
        return cli_runtime_error("--init-embeddings: no embedding table '%s' in the model", table);
    if (dctr_model_table_shape(model, t, &rows, &dim) != DCTR_OK)
        return cli_library_error();
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_runtime_error("%s: cannot open: %s", path, strerror(errno));
    char line[1 << 16];
    float row[4096];
    int64_t lineno = 0, set = 0;
    int rc = 0;
    if (dim > 4096)
        rc = cli_runtime_error("--init-embeddings: table '%s' dim %d over 4096", table, (int)dim);
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        int64_t id = parse_line(line, dim, row);
        if (id < 0 || id >= rows)
            rc = cli_runtime_error("%s:%lld: want 'id<TAB>key' then %d numbers with id in [0, %lld)", path,
                                   (long long)lineno, (int)dim, (long long)rows);
        else if (dctr_model_set_embeddings(model, t, id, 1, row) != DCTR_OK)
            rc = cli_library_error();
        else
            set++;
    }
    fclose(f);
    if (rc == 0)
        printf("initial embeddings: %lld rows of table %s from %s\n", (long long)set, table, path);
    return rc;
}

int cli_init_embeddings(dctr_model *model, const char *spec) {
    char *copy = strdup(spec);
    if (!copy)
        return cli_runtime_error("out of memory");
    int rc = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1]) {
            rc = cli_runtime_error("--init-embeddings wants TABLE=FILE.tsv, got '%s'", item);
            break;
        }
        *eq = '\0';
        rc = load_table(model, item, eq + 1);
    }
    free(copy);
    return rc;
}
