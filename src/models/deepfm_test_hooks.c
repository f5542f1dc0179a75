/* DeepFM entry points for tests (deepfm.h): the parameter arena, named tensors, gradients of the
 * last compute_gradients, the whole-batch switch and the DNN's binding. */
#include "models/deepfm_impl.h"

#include <string.h>

#include "feature/schema_types.h"

float *dctr_deepfm_params(dctr_model *model, int64_t *count) {
    dfm *d = model->impl;
    if (count)
        *count = d->nparams;
    return d->params;
}

int64_t dctr_deepfm_tensor(const dctr_model *model, const char *name, int64_t *count) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    int64_t off = -1, n = 0;
    if (strncmp(name, "emb:", 4) == 0 || strncmp(name, "lin:", 4) == 0) {
        for (int32_t t = 0; t < s->ntables; t++) {
            if (strcmp(s->tables[t].name, name + 4) != 0)
                continue;
            int lin = name[0] == 'l';
            off = lin ? d->lin_off[t] : d->emb_off[t];
            n = s->tables[t].vocab_size * (lin ? 1 : s->tables[t].dim);
        }
    } else if (strcmp(name, "lin_kernel") == 0 && d->dl > 0) {
        off = d->lin_kernel_off, n = d->dl;
    } else if (strcmp(name, "dnn") == 0 && d->use_dnn && d->dnn_cfg.num_layers > 0) {
        off = d->dnn_off, n = dctr_dnn_num_params(&d->dnn_cfg);
    } else if (strcmp(name, "out_w") == 0 && d->use_dnn) {
        off = d->out_w_off, n = d->h;
    } else if (strcmp(name, "bias") == 0) {
        off = d->bias_off, n = 1;
    }
    if (count)
        *count = off >= 0 ? n : 0;
    return off;
}

float dctr_deepfm_grad_at(const dctr_model *model, int64_t i) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    if (i >= d->dense_begin)
        return d->grad ? d->grad[i - d->dense_begin] : 0.0f;
    for (int32_t t = 0; t < s->ntables; t++) {
        int32_t k = s->tables[t].dim;
        int64_t V = s->tables[t].vocab_size;
        if (d->emb_off[t] >= 0 && i >= d->emb_off[t] && i < d->emb_off[t] + V * k) {
            int64_t rel = i - d->emb_off[t];
            const float *row = dctr_sparse_grad_find(&d->g_emb[t], rel / k);
            return row ? row[rel % k] : 0.0f;
        }
        if (d->lin_off[t] >= 0 && i >= d->lin_off[t] && i < d->lin_off[t] + V) {
            const float *row = dctr_sparse_grad_find(&d->g_lin[t], i - d->lin_off[t]);
            return row ? row[0] : 0.0f;
        }
    }
    return 0.0f;
}

void dctr_deepfm_set_whole_batch(dctr_model *model, int on) {
    dfm *d = model->impl;
    d->whole_batch = on;
}

const void *dctr_deepfm_dnn(const dctr_model *model, const void **cfg) {
    const dfm *d = model->impl;
    if (cfg)
        *cfg = &d->dnn_cfg;
    return d->use_dnn ? &d->dnnp : NULL;
}

