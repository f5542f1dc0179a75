/* `deepctr train` options at the services API's level (tools/train_extras.c): activation and
 * OOV names, class weights, initial embeddings from TSV files. */
#ifndef DCTR_TOOLS_TRAIN_EXTRAS_H
#define DCTR_TOOLS_TRAIN_EXTRAS_H

#include "cli_common.h"

extern const cli_choice cli_activations[];
extern const size_t cli_num_activations;
extern const cli_choice cli_oov_policies[];
extern const size_t cli_num_oov_policies;

/* "W0,W1" -> two finite weights >= 0. Returns 0 or -1. */
int cli_parse_class_weight(const char *s, float *w0, float *w1);
/* "TABLE=FILE.tsv[,TABLE=FILE.tsv...]": each file's lines "id<TAB>key<TAB>v1..vk" set row id
 * of the table (rows not listed keep their initialisation). Returns 0 or 1 (error printed). */
int cli_init_embeddings(dctr_model *model, const char *spec);

#endif
