/* Model files with valid checksums whose declared sizes lie: the loader must refuse them before
 * it allocates or writes (tests of model-file hardening share this builder). */
#ifndef DCTR_TEST_FORGED_MODEL_H
#define DCTR_TEST_FORGED_MODEL_H

#include "deepctr/deepctr.h"

/* Writes meta (cfg) + schema (s) + a "deepfm/params" section of only 4 floats, loads it from
 * memory and asserts DCTR_ERR_FORMAT with a message about the parameters, and no model. */
void forged_params_rejected(const dctr_schema *s, const dctr_model_config *cfg);

#endif
