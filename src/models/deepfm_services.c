/* DeepFM family hooks for services (model_types.h): predictions with their raw logits, and an
 * embedding table's parameters for dctr_model_get/set_embeddings. */
#include <string.h>

#include "core/error.h"
#include "models/deepfm_impl.h"

dctr_status dfm_predict_logit(const dctr_model *m, void *wsp, const dctr_batch *b, float *out,
                              float *logit) {
    dfm_ws *ws = wsp;
    const dfm *d = m->impl;
    DCTR_TRY(dfm_forward(m, ws, b, 0, NULL, NULL));
    memcpy(out, ws->pred, sizeof(float) * (size_t)b->n);
    /* the prediction layer left ws->logit before the bias: add it as that layer does */
    const float bias = m->cfg.use_bias ? d->params[d->bias_off] : 0.0f;
    for (int64_t r = 0; r < b->n; r++)
        logit[r] = ws->logit[r] + bias;
    return DCTR_OK;
}

float *dfm_embedding_table(const dctr_model *m, int32_t table, int64_t *rows, int32_t *dim) {
    const dfm *d = m->impl;
    *rows = 0;
    *dim = 0;
    if (table < 0 || table >= d->ntables || d->emb_off[table] < 0)
        return NULL;
    const dctr_table_info *t = &m->schema->tables[table];
    *rows = t->vocab_size;
    *dim = t->dim;
    return d->params + d->emb_off[table];
}
