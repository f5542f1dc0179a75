/* Schema from the column flags plus inference from the training file (see columns.h). */
#include "columns.h"

#include <stdlib.h>
#include <string.h>

#include "colspec.h"
#include "csvpeek.h"

#define SNIFF_ROWS 1000

static int list_contains(const cli_list *l, const char *name) {
    for (int i = 0; i < l->count; i++) {
        /* --ignore takes comma lists too */
        const char *p = l->items[i];
        size_t n = strlen(name);
        while (*p) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len == n && strncmp(p, name, n) == 0)
                return 1;
            p += len + (e ? 1 : 0);
        }
    }
    return 0;
}

/* A column some varlen spec uses as its weight or length source. */
static int is_aux_column(const dctr_colspec *cs, const char *name) {
    for (int32_t i = 0; i < cs->count; i++) {
        const dctr_colspec_entry *e = &cs->entries[i];
        if ((e->weight_name && strcmp(e->weight_name, name) == 0) ||
            (e->length_name && strcmp(e->length_name, name) == 0))
            return 1;
    }
    return 0;
}

static void sparse_from_entry(dctr_sparse_feat *s, const dctr_colspec_entry *e, int32_t default_dim,
                              const cli_column_flags *f) {
    dctr_sparse_feat_default(s, e->name);
    s->dtype = DCTR_DTYPE_STRING;
    s->embedding_dim = e->dim != 0 ? e->dim : default_dim;
    if (e->hash_buckets > 0) {
        s->use_hash = 1;
        s->vocabulary_size = e->hash_buckets;
    } else {
        s->vocabulary_size = DCTR_VOCAB_FIT;
        if (f->min_count > 1)
            s->min_count = f->min_count;
    }
    if (f->init_std > 0)
        s->init_std = (float)f->init_std;
    s->group_name = e->group;
    s->embedding_name = e->embedding_name;
    if (e->oov >= 0)
        s->oov_policy = (dctr_oov_policy)e->oov;
    else if (f->oov >= 0)
        s->oov_policy = (dctr_oov_policy)f->oov;
    if (e->trainable >= 0)
        s->trainable = e->trainable;
    if (e->vocab_path) { /* a vocabulary file replaces the fitted vocabulary */
        s->vocabulary_path = e->vocab_path;
        s->use_hash = 0;
    }
}

static dctr_status add_entry(dctr_schema *s, const dctr_colspec_entry *e, int32_t default_dim,
                             const cli_column_flags *cf) {
    if (e->kind == DCTR_COLUMN_SPARSE) {
        dctr_sparse_feat f;
        sparse_from_entry(&f, e, default_dim, cf);
        return dctr_schema_add_sparse(s, &f);
    }
    if (e->kind == DCTR_COLUMN_DENSE) {
        dctr_dense_feat f;
        dctr_dense_feat_default(&f, e->name);
        f.transform = e->transform >= 0 ? (dctr_transform)e->transform : DCTR_TRANSFORM_MINMAX;
        if (e->dim > 0)
            f.dimension = e->dim;
        f.fill_value = (float)e->fill;
        if (e->separator)
            f.separator = e->separator;
        return dctr_schema_add_dense(s, &f);
    }
    dctr_varlen_feat f;
    dctr_varlen_feat_default(&f, e->name, e->maxlen);
    sparse_from_entry(&f.sparse, e, default_dim, cf);
    if (e->combiner >= 0)
        f.combiner = (dctr_combiner)e->combiner;
    f.weight_name = e->weight_name;
    f.length_name = e->length_name;
    if (e->weight_norm >= 0)
        f.weight_norm = e->weight_norm;
    if (e->separator)
        f.separator = e->separator;
    return dctr_schema_add_varlen(s, &f);
}

/* Prints "inferred 3 dense (minmax) columns: I1 I2 I3" for one kind. */
static void print_inferred(FILE *info, const char *what, const cli_csv_peek *p, const int *kind, int want) {
    int n = 0;
    for (int32_t i = 0; i < p->num_columns; i++)
        if (kind[i] == want)
            n++;
    if (!info || n == 0)
        return;
    fprintf(info, "inferred %d %s column%s:", n, what, n == 1 ? "" : "s");
    for (int32_t i = 0; i < p->num_columns; i++)
        if (kind[i] == want)
            fprintf(info, " %s", p->names[i]);
    fputc('\n', info);
}

/* The --sparse / --dense / --varlen specs into cs; 0 or a usage error. */
static int parse_specs(const cli_command *cmd, const cli_column_flags *f, dctr_colspec *cs) {
    char err[256];
    const struct { const cli_list *l; dctr_column_kind k; } specs[] = {
        {&f->sparse, DCTR_COLUMN_SPARSE}, {&f->dense, DCTR_COLUMN_DENSE}, {&f->varlen, DCTR_COLUMN_VARLEN}};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < specs[k].l->count; i++)
            if (dctr_colspec_parse(specs[k].l->items[i], specs[k].k, cs, err, sizeof err) != 0)
                return cli_usage_error(cmd, "bad column spec: %s", err);
    if (dctr_colspec_find(cs, f->label) >= 0)
        return cli_usage_error(cmd, "the label column '%s' is also named as a feature", f->label);
    /* a weight= / length= source that is itself a named feature (X:...:weight=X) would make
     * add_columns skip that feature silently: refuse it instead */
    for (int32_t i = 0; i < cs->count; i++) {
        const dctr_colspec_entry *e = &cs->entries[i];
        const char *aux[2] = {e->weight_name, e->length_name};
        for (int k = 0; k < 2; k++)
            if (aux[k] && dctr_colspec_find(cs, aux[k]) >= 0)
                return cli_usage_error(cmd, "--varlen %s: %s=%s is also named as a feature column",
                                       e->name, k ? "length" : "weight", aux[k]);
    }
    return 0;
}

/* The label and every named column must be in the file's header; 0 or a runtime error. */
static int check_header_names(const cli_column_flags *f, const dctr_colspec *cs,
                              const cli_csv_peek *peek, const char *train_path) {
    if (cli_csv_peek_find(peek, f->label) < 0)
        return cli_runtime_error("%s: the header has no label column '%s'", train_path, f->label);
    for (int32_t i = 0; i < cs->count; i++)
        if (cli_csv_peek_find(peek, cs->entries[i].name) < 0)
            return cli_runtime_error("%s: the header has no column '%s'", train_path,
                                     cs->entries[i].name);
    return 0;
}

/* Column i of the header inferred from its sniffed values: numeric -> dense (log1p for
 * heavy-tailed counts, else min-max), anything else -> sparse. *how: 1 dense minmax, 2 sparse,
 * 3 dense log1p (for print_inferred). */
static dctr_colspec_entry inferred_entry(const cli_csv_peek *peek, int32_t i, int *how) {
    dctr_colspec_entry e;
    memset(&e, 0, sizeof e);
    e.name = peek->names[i];
    e.transform = -1;
    e.oov = -1;       /* the defaults (--oov, trainable) */
    e.trainable = -1;
    e.kind = peek->numeric[i] ? DCTR_COLUMN_DENSE : DCTR_COLUMN_SPARSE;
    *how = peek->numeric[i] ? 1 : 2;
    if (peek->log_counts[i]) { /* heavy-tailed counts: log1p keeps their spread */
        e.transform = DCTR_TRANSFORM_LOG1P;
        *how = 3;
    }
    return e;
}

/* Columns in header order: named ones from their spec, the rest inferred (inferred[i] as in
 * inferred_entry, 0 for the others). Returns 0 or a library error. */
static int add_columns(dctr_schema *s, const cli_column_flags *f, const dctr_colspec *cs,
                       const cli_csv_peek *peek, int *inferred, int *allow_extra) {
    for (int32_t i = 0; i < peek->num_columns; i++) {
        const char *name = peek->names[i];
        int32_t j = dctr_colspec_find(cs, name);
        dctr_status st;
        if (strcmp(name, f->label) == 0 || (f->weight_column && strcmp(name, f->weight_column) == 0) ||
            is_aux_column(cs, name))
            continue;
        if (j >= 0) {
            st = add_entry(s, &cs->entries[j], (int32_t)f->embedding_dim, f);
        } else if (list_contains(&f->ignore, name)) {
            continue;
        } else if (f->no_infer) {
            *allow_extra = 1; /* --no-infer: columns not named are skipped */
            continue;
        } else {
            dctr_colspec_entry e = inferred_entry(peek, i, &inferred[i]);
            st = add_entry(s, &e, (int32_t)f->embedding_dim, f);
        }
        if (st != DCTR_OK)
            return cli_library_error();
    }
    return 0;
}

int cli_schema_from_flags(const cli_command *cmd, const cli_column_flags *f, const char *train_path,
                          FILE *info, dctr_schema **out, int *allow_extra) {
    dctr_colspec cs;
    dctr_colspec_init(&cs);
    cli_csv_peek peek;
    memset(&peek, 0, sizeof peek);
    dctr_schema *s = NULL;
    int *inferred = NULL;
    int rc = CLI_EXIT_ERROR;
    *out = NULL;
    *allow_extra = f->ignore.count > 0;
    if ((rc = parse_specs(cmd, f, &cs)) != 0)
        goto done;
    rc = CLI_EXIT_ERROR;
    if (cli_csv_peek_file(train_path, f->delimiter, SNIFF_ROWS, &peek) != 0)
        goto done;
    if ((rc = check_header_names(f, &cs, &peek, train_path)) != 0)
        goto done;
    if (dctr_schema_new(&s) != DCTR_OK) {
        rc = cli_library_error();
        goto done;
    }
    inferred = calloc((size_t)peek.num_columns + 1, sizeof *inferred);
    if (!inferred) {
        rc = cli_runtime_error("out of memory");
        goto done;
    }
    if ((rc = add_columns(s, f, &cs, &peek, inferred, allow_extra)) != 0)
        goto done;
    print_inferred(info, "dense (log1p: heavy-tailed counts)", &peek, inferred, 3);
    print_inferred(info, "dense (minmax)", &peek, inferred, 1);
    print_inferred(info, "sparse (fitted vocabulary)", &peek, inferred, 2);
    if (dctr_schema_set_label(s, f->label) != DCTR_OK ||
        (f->weight_column && dctr_schema_set_weight_column(s, f->weight_column) != DCTR_OK) ||
        dctr_schema_validate(s) != DCTR_OK) {
        rc = cli_library_error();
        goto done;
    }
    if (dctr_schema_num_columns(s) == 0) {
        rc = cli_runtime_error("%s: no feature columns left (all named as label, ignored or unused)", train_path);
        goto done;
    }
    *out = s;
    s = NULL;
    rc = 0;
done:
    dctr_schema_free(s);
    free(inferred);
    cli_csv_peek_free(&peek);
    dctr_colspec_free(&cs);
    return rc;
}
