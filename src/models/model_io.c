/* Model file: sections "meta" (format version, type, task, config, step count) and "schema"
 * (dctr_schema_write), then the family's sections (ops->save). Loading rebuilds the model from
 * meta + schema, so every family section is checked against the rebuilt structure. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "feature/schema_io.h"
#include "io/container.h"
#include "models/ffm/ffm.h"
#include "models/model_internal.h"

#define MAX_NAMES 65536
#define MAX_NAME_LEN 4096

static void write_names(dctr_wbuf *w, const char *const *names, int32_t n) {
    dctr_wbuf_i32(w, names ? n : -1);
    for (int32_t i = 0; names && i < n; i++)
        dctr_wbuf_str(w, names[i]);
}

dctr_status dctr_model_meta_write(const dctr_model_config *cfg, int64_t steps, dctr_wbuf *w) {
    const int bn_default = cfg->bn_eps == 1e-3f && cfg->bn_momentum == 0.99f;
    const int linlr_default = cfg->linear_lr_scale == 1.0f;
    dctr_wbuf_u32(w, !linlr_default ? DCTR_MODEL_META_VERSION_LINLR
                     : bn_default   ? DCTR_MODEL_META_VERSION
                                    : DCTR_MODEL_META_VERSION_BN);
    dctr_wbuf_u32(w, (uint32_t)cfg->type);
    dctr_wbuf_u32(w, (uint32_t)cfg->task);
    write_names(w, cfg->linear_columns, cfg->num_linear_columns);
    write_names(w, cfg->dnn_columns, cfg->num_dnn_columns);
    write_names(w, cfg->fm_groups, cfg->num_fm_groups);
    dctr_wbuf_i32(w, cfg->num_hidden);
    dctr_wbuf_u8(w, cfg->hidden_units ? 1 : 0);
    for (int32_t i = 0; cfg->hidden_units && i < cfg->num_hidden; i++)
        dctr_wbuf_i32(w, cfg->hidden_units[i]);
    dctr_wbuf_u32(w, (uint32_t)cfg->activation);
    dctr_wbuf_i32(w, cfg->use_bn);
    dctr_wbuf_f32(w, cfg->dropout);
    dctr_wbuf_f32(w, cfg->l2_linear);
    dctr_wbuf_f32(w, cfg->l2_embedding);
    dctr_wbuf_f32(w, cfg->l2_dnn);
    dctr_wbuf_i32(w, cfg->use_bias);
    dctr_wbuf_u64(w, cfg->seed);
    dctr_wbuf_i32(w, cfg->ffm_k);
    dctr_wbuf_i32(w, cfg->ffm_linear);
    dctr_wbuf_i32(w, cfg->ffm_normalize);
    const dctr_optimizer_config *o = &cfg->optimizer;
    dctr_wbuf_u32(w, (uint32_t)o->kind);
    dctr_wbuf_f64(w, o->learning_rate);
    dctr_wbuf_f64(w, o->beta1);
    dctr_wbuf_f64(w, o->beta2);
    dctr_wbuf_f64(w, o->epsilon);
    dctr_wbuf_f64(w, o->momentum);
    dctr_wbuf_f64(w, o->rho);
    dctr_wbuf_f64(w, o->initial_accumulator);
    dctr_wbuf_f64(w, o->l1);
    dctr_wbuf_f64(w, o->l2);
    dctr_wbuf_f64(w, o->lr_power);
    dctr_wbuf_f64(w, o->clipnorm);
    dctr_wbuf_i64(w, steps);
    if (!bn_default || !linlr_default) {
        dctr_wbuf_f32(w, cfg->bn_eps);
        dctr_wbuf_f32(w, cfg->bn_momentum);
    }
    if (!linlr_default)
        dctr_wbuf_f32(w, cfg->linear_lr_scale);
    return dctr_wbuf_status(w);
}

static dctr_status read_names(dctr_rbuf *r, const char *const **out, int32_t *n, const char *what) {
    int32_t cnt = 0;
    *out = NULL;
    *n = 0;
    DCTR_TRY(dctr_rbuf_i32(r, &cnt, what));
    if (cnt < 0)
        return DCTR_OK;
    if (cnt > MAX_NAMES)
        return dctr_set_error(DCTR_ERR_FORMAT, "meta: %s has %d names", what, cnt);
    DCTR_TRY(dctr_rbuf_need(r, (uint64_t)cnt, 4, what));
    char **names = dctr_calloc((size_t)cnt + 1, sizeof(char *));
    if (!names)
        return DCTR_ERR_NOMEM;
    *out = (const char *const *)names;
    for (int32_t i = 0; i < cnt; i++) {
        DCTR_TRY(dctr_rbuf_str(r, &names[i], MAX_NAME_LEN, what));
        *n = i + 1;
    }
    *n = cnt;
    return DCTR_OK;
}

static dctr_status meta_read(dctr_rbuf *r, dctr_model_config *cfg, int64_t *steps) {
    uint32_t version = 0, type = 0, task = 0, act = 0, kind = 0;
    DCTR_TRY(dctr_rbuf_u32(r, &version, "meta version"));
    if (version < DCTR_MODEL_META_VERSION || version > DCTR_MODEL_META_VERSION_LINLR)
        return dctr_set_error(DCTR_ERR_FORMAT, "meta: version %u (this build reads %u to %u)", version,
                              DCTR_MODEL_META_VERSION, DCTR_MODEL_META_VERSION_LINLR);
    DCTR_TRY(dctr_rbuf_u32(r, &type, "model type"));
    DCTR_TRY(dctr_rbuf_u32(r, &task, "task"));
    if (type > DCTR_MODEL_DEEPFFM || task > DCTR_TASK_REGRESSION)
        return dctr_set_error(DCTR_ERR_FORMAT, "meta: bad model type %u or task %u", type, task);
    cfg->type = (dctr_model_type)type;
    cfg->task = (dctr_task)task;
    DCTR_TRY(read_names(r, &cfg->linear_columns, &cfg->num_linear_columns, "linear_columns"));
    DCTR_TRY(read_names(r, &cfg->dnn_columns, &cfg->num_dnn_columns, "dnn_columns"));
    DCTR_TRY(read_names(r, &cfg->fm_groups, &cfg->num_fm_groups, "fm_groups"));
    uint8_t has_units = 0;
    DCTR_TRY(dctr_rbuf_i32(r, &cfg->num_hidden, "num_hidden"));
    DCTR_TRY(dctr_rbuf_u8(r, &has_units, "hidden units flag"));
    if (cfg->num_hidden > 1024 || cfg->num_hidden < -1 || (has_units && cfg->num_hidden < 0))
        return dctr_set_error(DCTR_ERR_FORMAT, "meta: %d hidden layers", cfg->num_hidden);
    if (has_units && cfg->num_hidden > 0) {
        int32_t *h = dctr_calloc((size_t)cfg->num_hidden, sizeof(int32_t));
        if (!h)
            return DCTR_ERR_NOMEM;
        cfg->hidden_units = h;
        for (int32_t i = 0; i < cfg->num_hidden; i++)
            DCTR_TRY(dctr_rbuf_i32(r, &h[i], "hidden units"));
    }
    DCTR_TRY(dctr_rbuf_u32(r, &act, "activation"));
    if (act > DCTR_ACT_DICE)
        return dctr_set_error(DCTR_ERR_FORMAT, "meta: bad activation %u", act);
    cfg->activation = (dctr_activation)act;
    DCTR_TRY(dctr_rbuf_i32(r, &cfg->use_bn, "use_bn"));
    DCTR_TRY(dctr_rbuf_f32(r, &cfg->dropout, "dropout"));
    DCTR_TRY(dctr_rbuf_f32(r, &cfg->l2_linear, "l2_linear"));
    DCTR_TRY(dctr_rbuf_f32(r, &cfg->l2_embedding, "l2_embedding"));
    DCTR_TRY(dctr_rbuf_f32(r, &cfg->l2_dnn, "l2_dnn"));
    DCTR_TRY(dctr_rbuf_i32(r, &cfg->use_bias, "use_bias"));
    DCTR_TRY(dctr_rbuf_u64(r, &cfg->seed, "seed"));
    DCTR_TRY(dctr_rbuf_i32(r, &cfg->ffm_k, "ffm_k"));
    DCTR_TRY(dctr_rbuf_i32(r, &cfg->ffm_linear, "ffm_linear"));
    DCTR_TRY(dctr_rbuf_i32(r, &cfg->ffm_normalize, "ffm_normalize"));
    dctr_optimizer_config *o = &cfg->optimizer;
    DCTR_TRY(dctr_rbuf_u32(r, &kind, "optimizer kind"));
    if (kind > DCTR_OPT_FTRL)
        return dctr_set_error(DCTR_ERR_FORMAT, "meta: bad optimizer kind %u", kind);
    o->struct_size = (uint32_t)sizeof(*o);
    o->kind = (dctr_optimizer_kind)kind;
    double *f[] = {&o->learning_rate, &o->beta1, &o->beta2, &o->epsilon, &o->momentum, &o->rho,
                   &o->initial_accumulator, &o->l1, &o->l2, &o->lr_power, &o->clipnorm};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        DCTR_TRY(dctr_rbuf_f64(r, f[i], "optimizer config"));
    DCTR_TRY(dctr_rbuf_i64(r, steps, "step count"));
    if (*steps < 0)
        return dctr_set_error(DCTR_ERR_FORMAT, "meta: negative step count");
    if (version >= DCTR_MODEL_META_VERSION_BN) {
        DCTR_TRY(dctr_rbuf_f32(r, &cfg->bn_eps, "bn_eps"));
        DCTR_TRY(dctr_rbuf_f32(r, &cfg->bn_momentum, "bn_momentum"));
        if (!(cfg->bn_eps > 0.0f && cfg->bn_momentum >= 0.0f && cfg->bn_momentum <= 1.0f))
            return dctr_set_error(DCTR_ERR_FORMAT, "meta: bad bn_eps %g / bn_momentum %g",
                                  (double)cfg->bn_eps, (double)cfg->bn_momentum);
    }
    if (version >= DCTR_MODEL_META_VERSION_LINLR) {
        DCTR_TRY(dctr_rbuf_f32(r, &cfg->linear_lr_scale, "linear_lr_scale"));
        if (!(cfg->linear_lr_scale > 0.0f && cfg->linear_lr_scale <= 1e6f))
            return dctr_set_error(DCTR_ERR_FORMAT, "meta: bad linear_lr_scale %g", (double)cfg->linear_lr_scale);
    }
    if (dctr_rbuf_remaining(r) != 0)
        return dctr_set_error(DCTR_ERR_FORMAT, "meta: %zu trailing bytes", dctr_rbuf_remaining(r));
    return DCTR_OK;
}

dctr_status dctr_model_meta_read(dctr_rbuf *r, dctr_model_config *cfg, int64_t *steps) {
    dctr_model_config_default(cfg, DCTR_MODEL_DEEPFM);
    dctr_status st = meta_read(r, cfg, steps);
    if (st != DCTR_OK)
        dctr_model_config_release(cfg);
    return st;
}

/* ---------------- save ---------------- */

/* The sections any model may carry after its family's: training state (tiny; epochs run are
 * worth knowing even without the optimizer), user metadata, output calibration. */
static dctr_status save_optional(const dctr_model *model, dctr_container_writer *cw) {
    DCTR_TRY(dctr_model_train_state_save(model, cw));
    DCTR_TRY(dctr_model_kv_save(model, cw));
    return dctr_model_calib_save(model, cw);
}

static dctr_status load_optional(dctr_model *model, const dctr_container *c) {
    DCTR_TRY(dctr_model_train_state_load(model, c));
    DCTR_TRY(dctr_model_kv_load(model, c));
    return dctr_model_calib_load(model, c);
}

static dctr_status build_container(const dctr_model *model, int with_optimizer,
                                   dctr_container_writer **out) {
    dctr_container_writer *cw = NULL;
    DCTR_TRY(dctr_cw_new(&cw));
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_status st = dctr_model_meta_write(&model->cfg, model->steps, &w);
    if (st == DCTR_OK)
        st = dctr_model_section_put(cw, "meta", &w); /* frees w */
    else
        dctr_wbuf_free(&w);
    /* a libffm-native FFM model's schema is synthesized from its "ffm.*" sections at load */
    if (st == DCTR_OK && model->schema && !dctr_ffm_is_native(model)) {
        dctr_wbuf_init(&w);
        st = dctr_schema_write(model->schema, &w);
        if (st == DCTR_OK)
            st = dctr_model_section_put(cw, "schema", &w);
        else
            dctr_wbuf_free(&w);
    }
    if (st == DCTR_OK)
        st = model->ops->save(model, cw, with_optimizer);
    if (st == DCTR_OK)
        st = save_optional(model, cw);
    if (st != DCTR_OK) {
        dctr_cw_free(cw);
        return st;
    }
    *out = cw;
    return DCTR_OK;
}

/* The model's container written to `path`, or (path NULL) to memory. */
static dctr_status save_to(const dctr_model *model, int with_optimizer, const char *path, void **data,
                           size_t *size) {
    dctr_container_writer *cw = NULL;
    DCTR_TRY(build_container(model, with_optimizer, &cw));
    dctr_status st = path ? dctr_cw_save(cw, path) : dctr_cw_to_memory(cw, data, size);
    dctr_cw_free(cw);
    return st;
}

dctr_status dctr_model_save(const dctr_model *model, const char *path, int with_optimizer) {
    if (!model || !path)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_save: NULL argument");
    return save_to(model, with_optimizer, path, NULL, NULL);
}

dctr_status dctr_model_save_to_memory(const dctr_model *model, int with_optimizer, void **data,
                                      size_t *size) {
    if (!model || !data || !size)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_save_to_memory: NULL argument");
    return save_to(model, with_optimizer, NULL, data, size);
}

void dctr_free_buffer(void *data) { dctr_free(data); }

/* ---------------- load ---------------- */

/* shard_size > 1: the model as rank shard_rank's shard (dctr_model_load_shard): the DeepFM
 * family's and FFM / DeepFFM's feature-column models. */
static dctr_status load_container(const dctr_container *c, int32_t shard_rank, int32_t shard_size,
                                  dctr_model **out) {
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "meta", &r));
    dctr_model_config cfg;
    int64_t steps = 0;
    DCTR_TRY(dctr_model_meta_read(&r, &cfg, &steps));
    dctr_schema *schema = NULL;
    dctr_status st = DCTR_OK;
    if (dctr_container_has(c, "schema")) {
        st = dctr_container_section(c, "schema", &r);
        if (st == DCTR_OK)
            st = dctr_schema_read(&r, &schema);
    } else if (cfg.type != DCTR_MODEL_FFM) {
        st = dctr_set_error(DCTR_ERR_FORMAT, "model file has no 'schema' section");
    }
    /* the parameter count the file can fill: the structure must not need more */
    int64_t cap = 0;
    int deepfm_family = cfg.type == DCTR_MODEL_DEEPFM || cfg.type == DCTR_MODEL_FM ||
                        cfg.type == DCTR_MODEL_LR;
    if (st == DCTR_OK && deepfm_family && !dctr_container_has(c, "deepfm/params"))
        st = dctr_set_error(DCTR_ERR_FORMAT, "model file has no 'deepfm/params' section");
    if (st == DCTR_OK && deepfm_family) {
        uint64_t bytes = 0; /* the size only: the payload streams at the load */
        st = dctr_container_section_size(c, "deepfm/params", &bytes);
        cap = (int64_t)(bytes / sizeof(float)) + 1;
    }
    if (st == DCTR_OK && (cfg.type == DCTR_MODEL_FFM || cfg.type == DCTR_MODEL_DEEPFFM))
        st = dctr_ffm_check_sections(schema, &cfg, c); /* the FFM family's pre-allocation check */
    /* sharded: the DeepFM family and FFM / DeepFFM from feature columns (not libffm-native) */
    const int shards = deepfm_family || (schema && (cfg.type == DCTR_MODEL_FFM ||
                                                    cfg.type == DCTR_MODEL_DEEPFFM));
    dctr_model *m = NULL;
    if (st == DCTR_OK) {
        st = dctr_model_create_shard(NULL, &cfg, schema, cap, shards ? shard_rank : 0,
                                     shards ? shard_size : 0, &m);
        schema = NULL; /* taken over (or freed) */
        if (st != DCTR_OK && st != DCTR_ERR_NOMEM)
            st = dctr_error_prefix(DCTR_ERR_FORMAT, "model file: inconsistent meta / schema / sizes");
    }
    dctr_schema_free(schema);
    dctr_model_config_release(&cfg);
    if (st == DCTR_OK) {
        st = m->ops->load(m, c);
        if (st == DCTR_OK && m->steps == 0)
            m->steps = steps;
        if (st == DCTR_OK)
            st = load_optional(m, c);
    }
    if (st != DCTR_OK) {
        dctr_model_free(m);
        return st;
    }
    *out = m;
    return DCTR_OK;
}

/* The model in an opened container; frees the container. */
static dctr_status load_opened(dctr_container *c, int32_t shard_rank, int32_t shard_size,
                               dctr_model **out) {
    dctr_status st = load_container(c, shard_rank, shard_size, out);
    dctr_container_free(c);
    return st;
}

dctr_status dctr_model_load(const char *path, dctr_model **out) {
    return dctr_model_load_shard(path, 0, 0, out);
}

/* path's model: the whole file read first, or (file_backed) through a file-backed container
 * whose table sections stream (dctr_container_open_file); *held_peak: its held_peak. */
static dctr_status load_path(const char *path, int file_backed, int32_t shard_rank,
                             int32_t shard_size, int64_t *held_peak, dctr_model **out) {
    if (!path || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_load: NULL argument");
    *out = NULL;
    dctr_container *c = NULL;
    DCTR_TRY(file_backed ? dctr_container_open_file(path, &c) : dctr_container_open(path, 0, &c));
    dctr_status st = load_container(c, shard_rank, shard_size, out);
    if (st == DCTR_OK)
        st = dctr_container_verify(c); /* file-backed: the sections the load did not read */
    if (st != DCTR_OK && *out) {
        dctr_model_free(*out);
        *out = NULL;
    }
    if (held_peak)
        *held_peak = dctr_container_held_peak(c);
    dctr_container_free(c);
    return st == DCTR_OK ? DCTR_OK : dctr_error_prefix(st, "%s", path);
}

dctr_status dctr_model_load_shard(const char *path, int32_t shard_rank, int32_t shard_size,
                                  dctr_model **out) {
    return load_path(path, 0, shard_rank, shard_size, NULL, out);
}

dctr_status dctr_model_load_shard_file(const char *path, int32_t shard_rank, int32_t shard_size,
                                       int64_t *held_peak, dctr_model **out) {
    return load_path(path, 1, shard_rank, shard_size, held_peak, out);
}

dctr_status dctr_model_load_from_memory(const void *data, size_t size, dctr_model **out) {
    if (!data || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_load_from_memory: NULL argument");
    *out = NULL;
    dctr_container *c = NULL;
    DCTR_TRY(dctr_container_from_memory(data, size, &c));
    return load_opened(c, 0, 0, out);
}
