/* DeepFM / FM / LR named tensors (dctr_model_tensor_* in services.h): every parameter and every
 * non-trainable state array under a stable name, so converters (python/libdeepctr/
 * convert_torch.py) can set a whole model. Built once with the structure; a tensor is an
 * offset into the parameter or state arena, so it stays valid whatever rebinds the arenas. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "feature/schema_types.h"
#include "models/deepfm_impl.h"

typedef struct tensor_list {
    dfm_tensor *t;
    int32_t n, cap;
} tensor_list;

static dctr_status add(tensor_list *l, const char *name, int state, int64_t off, int64_t rows, int64_t cols) {
    if (l->n == l->cap) {
        int32_t cap = l->cap ? 2 * l->cap : 16;
        dfm_tensor *t = dctr_realloc_array(l->t, (size_t)cap, sizeof(*t));
        if (!t)
            return DCTR_ERR_NOMEM;
        l->t = t;
        l->cap = cap;
    }
    char *copy = dctr_strdup(name);
    if (!copy)
        return DCTR_ERR_NOMEM;
    l->t[l->n++] = (dfm_tensor){copy, state, off, rows, cols};
    return DCTR_OK;
}

/* A DNN array bound into the parameter (state = 0) or state arena: its offset there. */
static dctr_status add_dnn(tensor_list *l, const dfm *d, int32_t layer, const char *what, const float *p,
                           int state, int64_t rows, int64_t cols) {
    if (!p)
        return DCTR_OK;
    char name[64];
    snprintf(name, sizeof name, "dnn/%d/%s", (int)layer, what);
    const float *base = state ? d->state : d->params;
    return add(l, name, state, (int64_t)(p - base), rows, cols);
}

static dctr_status add_tables(tensor_list *l, const dctr_schema *s, const dfm *d) {
    char name[4200];
    for (int32_t t = 0; t < s->ntables; t++) {
        if (d->emb_off[t] >= 0) {
            snprintf(name, sizeof name, "embedding/%s", s->tables[t].name);
            DCTR_TRY(add(l, name, 0, d->emb_off[t], s->tables[t].vocab_size, s->tables[t].dim));
        }
    }
    for (int32_t t = 0; t < s->ntables; t++) {
        if (d->lin_off[t] >= 0) {
            snprintf(name, sizeof name, "linear/%s", s->tables[t].name);
            DCTR_TRY(add(l, name, 0, d->lin_off[t], s->tables[t].vocab_size, 1));
        }
    }
    return DCTR_OK;
}

static dctr_status add_dnn_layers(tensor_list *l, const dfm *d) {
    const dctr_dnn_config *c = &d->dnn_cfg;
    for (int32_t i = 0; i < c->num_layers; i++) {
        const dctr_dnn_layer_params *p = &d->dnnp.layer[i];
        int64_t in = i == 0 ? c->in_dim : c->units[i - 1], out = c->units[i];
        DCTR_TRY(add_dnn(l, d, i, "kernel", p->W, 0, in, out));
        DCTR_TRY(add_dnn(l, d, i, "bias", p->b, 0, out, 1));
        DCTR_TRY(add_dnn(l, d, i, "gamma", p->gamma, 0, out, 1));
        DCTR_TRY(add_dnn(l, d, i, "beta", p->beta, 0, out, 1));
        DCTR_TRY(add_dnn(l, d, i, "alpha", p->alpha, 0, out, 1));
        DCTR_TRY(add_dnn(l, d, i, "moving_mean", p->bn_mean, 1, out, 1));
        DCTR_TRY(add_dnn(l, d, i, "moving_variance", p->bn_var, 1, out, 1));
        DCTR_TRY(add_dnn(l, d, i, "dice_mean", p->dice_mean, 1, out, 1));
        DCTR_TRY(add_dnn(l, d, i, "dice_variance", p->dice_var, 1, out, 1));
    }
    return DCTR_OK;
}

dctr_status dfm_build_tensors(const dctr_model *m, dfm *d) {
    tensor_list l = {0};
    dctr_status st = add_tables(&l, m->schema, d);
    if (st == DCTR_OK && d->dl > 0)
        st = add(&l, "linear/dense_kernel", 0, d->lin_kernel_off, d->dl, 1);
    if (st == DCTR_OK && d->use_dnn)
        st = add_dnn_layers(&l, d);
    if (st == DCTR_OK && d->use_dnn)
        st = add(&l, "output/kernel", 0, d->out_w_off, d->h, 1);
    if (st == DCTR_OK)
        st = add(&l, "bias", 0, d->bias_off, 1, 1);
    d->tensors = l.t; /* freed by dfm_free, also on failure */
    d->ntensors = l.n;
    return st;
}

void dfm_free_tensors(dfm *d) {
    for (int32_t i = 0; i < d->ntensors; i++)
        dctr_free(d->tensors[i].name);
    dctr_free(d->tensors);
    d->tensors = NULL;
    d->ntensors = 0;
}

int32_t dfm_tensor_at(const dctr_model *m, int32_t i, dctr_tensor_view *out) {
    const dfm *d = m->impl;
    if (i < 0 || i >= d->ntensors || !out)
        return d->ntensors;
    const dfm_tensor *t = &d->tensors[i];
    out->name = t->name;
    out->data = (t->state ? d->state : d->params) + t->off;
    out->rows = t->rows;
    out->cols = t->cols;
    out->state = t->state;
    return d->ntensors;
}
