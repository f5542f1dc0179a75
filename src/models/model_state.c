/* Model state beyond the parameters: the training position (so that a resumed fit equals an
 * uninterrupted one), whether optimizer state exists, user key/value metadata, and the
 * reference count that keeps a model alive under its predictors.
 *
 * Sections (both optional; files of older versions have neither and load as before):
 *   train/state  u32 version 1, u64 shuffle seed, u64 shuffle generator s[4], i64 epochs run
 *   user/meta    u32 count, then count x (str key, str value) */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "models/model_internal.h"

#define TRAIN_STATE_VERSION 1u
#define MAX_KV 4096
#define MAX_KV_LEN (1u << 20)

struct dctr_model_kv {
    char *key;
    char *value;
};

dctr_status dctr_model_section_put(dctr_container_writer *cw, const char *name, dctr_wbuf *w) {
    dctr_status st = dctr_wbuf_status(w);
    if (st == DCTR_OK)
        st = dctr_cw_add(cw, name, w);
    dctr_wbuf_free(w);
    return st;
}

dctr_status dctr_model_train_state_save(const dctr_model *model, dctr_container_writer *cw) {
    if (!model->shuffle_valid)
        return DCTR_OK;
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u32(&w, TRAIN_STATE_VERSION);
    dctr_wbuf_u64(&w, model->shuffle_seed);
    for (int i = 0; i < 4; i++)
        dctr_wbuf_u64(&w, model->shuffle_state[i]);
    dctr_wbuf_i64(&w, model->epochs_done);
    return dctr_model_section_put(cw, "train/state", &w);
}

dctr_status dctr_model_train_state_load(dctr_model *model, const dctr_container *c) {
    /* optimizer state in the file: what `deepctr inspect` and dctr_model_has_optimizer_state
     * report (the family allocates its buffers either way) */
    if (dctr_container_has(c, "deepfm/optim") || dctr_container_has(c, "ffm.opt") ||
        dctr_container_has(c, "ffm.dnn_opt"))
        model->optimizer_state_present = 1;
    if (!dctr_container_has(c, "train/state"))
        return DCTR_OK;
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "train/state", &r));
    uint32_t version = 0;
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "train state version"));
    if (version != TRAIN_STATE_VERSION)
        return dctr_set_error(DCTR_ERR_FORMAT, "train/state: version %u (this build reads %u)", version,
                              TRAIN_STATE_VERSION);
    uint64_t seed = 0, s[4];
    int64_t epochs = 0;
    DCTR_TRY(dctr_rbuf_u64(&r, &seed, "shuffle seed"));
    for (int i = 0; i < 4; i++)
        DCTR_TRY(dctr_rbuf_u64(&r, &s[i], "shuffle state"));
    DCTR_TRY(dctr_rbuf_i64(&r, &epochs, "epochs run"));
    if (epochs < 0 || (s[0] | s[1] | s[2] | s[3]) == 0 || dctr_rbuf_remaining(&r) != 0)
        return dctr_set_error(DCTR_ERR_FORMAT, "train/state: bad contents");
    model->shuffle_seed = seed;
    memcpy(model->shuffle_state, s, sizeof s);
    model->shuffle_valid = 1;
    model->epochs_done = epochs;
    return DCTR_OK;
}

int dctr_model_has_optimizer_state(const dctr_model *model) {
    return model ? model->optimizer_state_present : 0;
}

int64_t dctr_model_epochs_trained(const dctr_model *model) { return model ? model->epochs_done : 0; }

dctr_model *dctr_model_retain(dctr_model *model) {
    if (model)
        __atomic_add_fetch(&model->refcount, 1, __ATOMIC_RELAXED);
    return model;
}

/* ---------------- user metadata ---------------- */

void dctr_model_kv_release(dctr_model *model) {
    for (int32_t i = 0; i < model->nkv; i++) {
        dctr_free(model->kv[i].key);
        dctr_free(model->kv[i].value);
    }
    dctr_free(model->kv);
    model->kv = NULL;
    model->nkv = 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = dctr_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int32_t kv_find(const dctr_model *model, const char *key) {
    for (int32_t i = 0; i < model->nkv; i++)
        if (strcmp(model->kv[i].key, key) == 0)
            return i;
    return -1;
}

/* Sets (value != NULL) or removes (value == NULL) one entry. */
dctr_status dctr_model_set_metadata(dctr_model *model, const char *key, const char *value) {
    if (!model || !key || !*key)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_set_metadata: NULL model or empty key");
    if (strlen(key) >= MAX_KV_LEN || (value && strlen(value) >= MAX_KV_LEN))
        return dctr_set_error(DCTR_ERR_LIMIT, "dctr_model_set_metadata: key or value over %u bytes",
                              MAX_KV_LEN - 1);
    int32_t i = kv_find(model, key);
    if (!value) {
        if (i >= 0) {
            dctr_free(model->kv[i].key);
            dctr_free(model->kv[i].value);
            memmove(&model->kv[i], &model->kv[i + 1], sizeof(*model->kv) * (size_t)(model->nkv - i - 1));
            model->nkv--;
        }
        return DCTR_OK;
    }
    char *v = dup_str(value);
    if (!v)
        return DCTR_ERR_NOMEM;
    if (i >= 0) {
        dctr_free(model->kv[i].value);
        model->kv[i].value = v;
        return DCTR_OK;
    }
    if (model->nkv >= MAX_KV) {
        dctr_free(v);
        return dctr_set_error(DCTR_ERR_LIMIT, "dctr_model_set_metadata: more than %d entries", MAX_KV);
    }
    struct dctr_model_kv *kv = dctr_realloc_array(model->kv, (size_t)model->nkv + 1, sizeof(*kv));
    char *k = kv ? dup_str(key) : NULL;
    if (kv)
        model->kv = kv;
    if (!k) {
        dctr_free(v);
        return DCTR_ERR_NOMEM;
    }
    model->kv[model->nkv].key = k;
    model->kv[model->nkv].value = v;
    model->nkv++;
    return DCTR_OK;
}

const char *dctr_model_get_metadata(const dctr_model *model, const char *key) {
    if (!model || !key)
        return NULL;
    int32_t i = kv_find(model, key);
    return i >= 0 ? model->kv[i].value : NULL;
}

int32_t dctr_model_metadata_count(const dctr_model *model) { return model ? model->nkv : 0; }

const char *dctr_model_metadata_key(const dctr_model *model, int32_t i) {
    return model && i >= 0 && i < model->nkv ? model->kv[i].key : NULL;
}

dctr_status dctr_model_kv_save(const dctr_model *model, dctr_container_writer *cw) {
    if (model->nkv == 0)
        return DCTR_OK;
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u32(&w, (uint32_t)model->nkv);
    for (int32_t i = 0; i < model->nkv; i++) {
        dctr_wbuf_str(&w, model->kv[i].key);
        dctr_wbuf_str(&w, model->kv[i].value);
    }
    return dctr_model_section_put(cw, "user/meta", &w);
}

dctr_status dctr_model_kv_load(dctr_model *model, const dctr_container *c) {
    if (!dctr_container_has(c, "user/meta"))
        return DCTR_OK;
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "user/meta", &r));
    uint32_t n = 0;
    DCTR_TRY(dctr_rbuf_u32(&r, &n, "metadata count"));
    if (n > MAX_KV)
        return dctr_set_error(DCTR_ERR_FORMAT, "user/meta: %u entries", n);
    for (uint32_t i = 0; i < n; i++) {
        char *k = NULL, *v = NULL;
        dctr_status st = dctr_rbuf_str(&r, &k, MAX_KV_LEN, "metadata key");
        if (st == DCTR_OK)
            st = dctr_rbuf_str(&r, &v, MAX_KV_LEN, "metadata value");
        if (st == DCTR_OK)
            st = *k ? dctr_model_set_metadata(model, k, v)
                    : dctr_set_error(DCTR_ERR_FORMAT, "user/meta: empty key");
        dctr_free(k);
        dctr_free(v);
        DCTR_TRY(st);
    }
    return DCTR_OK;
}
