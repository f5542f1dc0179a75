/* Building a schema from the column flags of `deepctr train`: named columns from their specs
 * (colspec.h), every other header column inferred from the training file's first rows:
 * heavy-tailed integer counts → dense log1p, other numeric → dense (min-max), anything else →
 * sparse with a fitted vocabulary (csvpeek.h has the count rule). */
#ifndef DCTR_TOOLS_COLUMNS_H
#define DCTR_TOOLS_COLUMNS_H

#include <stdio.h>

#include "args.h"
#include "deepctr/deepctr.h"

typedef struct cli_column_flags {
    cli_list sparse, dense, varlen, ignore;
    const char *label;          /* required */
    const char *weight_column;  /* optional per-sample weight column */
    int64_t embedding_dim;      /* default k for sparse / varlen columns */
    int64_t min_count;
    double init_std;            /* > 0: embedding initialisation std of sparse / varlen columns */          /* fitted vocabularies: values seen fewer times share the OOV row */
    int no_infer;               /* 1: unnamed columns are an error instead of inferred */
    char delimiter;
    int oov;                    /* --oov: dctr_oov_policy of fitted vocabularies, -1 = default */
} cli_column_flags;

/* Builds and validates (does not fit) the schema. `info` (may be NULL) receives one line per
 * inferred kind. *allow_extra is set when some header columns are deliberately not used.
 * Returns 0, 1 (runtime error, printed) or 2 (bad column spec, usage printed). */
int cli_schema_from_flags(const cli_command *cmd, const cli_column_flags *f, const char *train_path,
                          FILE *info, dctr_schema **out, int *allow_extra);

#endif
