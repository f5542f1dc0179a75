/* `deepctr inspect --json` output (tools/inspect_json.c). */
#ifndef DCTR_TOOLS_INSPECT_JSON_H
#define DCTR_TOOLS_INSPECT_JSON_H

#include <stdio.h>

#include "deepctr/deepctr.h"

/* One JSON object: file, format version, model, task, sizes, config, label, columns (kind,
 * dtype, transform, fitted statistics, ...), user metadata. */
void cli_inspect_json(FILE *f, const char *path, long long size, const dctr_model *m);

#endif
