/* Read-only introspection of a schema (include/deepctr/schema.h, "introspection"): what a
 * service needs to know about a loaded model's inputs without reading the model file itself. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "feature/schema_internal.h"

static void sparse_info(const dctr_column *c, dctr_column_info *o) {
    o->dtype = c->dtype;
    o->use_hash = c->use_hash;
    o->vocabulary_size = c->vocab_size;
    o->embedding_dim = c->dim;
    o->embedding_name = c->embedding_name;
    o->group_name = c->group_name;
    o->trainable = c->trainable;
    o->oov_policy = c->oov_policy;
    o->vocabulary_path = c->vocabulary_path;
    o->fitted_values = c->vocab && !c->vocabulary_path ? c->vocab_count : -1;
    o->first_id = c->vocab_base;
    o->oov_buckets = c->oov_buckets;
}

dctr_status dctr_schema_column_info(const dctr_schema *schema, int32_t i, dctr_column_info *out) {
    if (!schema || !out || out->struct_size != sizeof(*out))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_schema_column_info: NULL argument or "
                              "struct_size not sizeof(dctr_column_info)");
    if (i < 0 || i >= schema->ncols)
        return dctr_set_error(DCTR_ERR_RANGE, "dctr_schema_column_info: column %d of %d", (int)i,
                              (int)schema->ncols);
    const dctr_column *c = &schema->cols[i];
    memset(out, 0, sizeof(*out));
    out->struct_size = (uint32_t)sizeof(*out);
    out->name = c->name;
    out->kind = c->kind;
    out->fitted_values = -1;
    out->stat_min = out->stat_max = out->stat_mean = out->stat_std = NAN;
    if (c->kind != DCTR_COLUMN_DENSE)
        sparse_info(c, out);
    if (c->kind == DCTR_COLUMN_VARLEN) {
        out->maxlen = c->maxlen;
        out->combiner = c->combiner;
        out->length_name = c->length_name;
        out->weight_name = c->weight_name;
    }
    if (c->kind == DCTR_COLUMN_DENSE) {
        out->dimension = c->dense_dim;
        out->transform = c->transform;
        out->fill_value = c->fill_value;
        if (schema->fitted && c->transform == DCTR_TRANSFORM_MINMAX) {
            out->stat_min = c->stat_a;
            out->stat_max = c->stat_b;
        } else if (schema->fitted && c->transform == DCTR_TRANSFORM_STANDARDIZE) {
            out->stat_mean = c->stat_a;
            out->stat_std = c->stat_b;
        }
    }
    return DCTR_OK;
}

const char *dctr_schema_label(const dctr_schema *schema) {
    return schema ? dctr_schema_label_name(schema) : NULL;
}

const char *dctr_schema_weight_column(const dctr_schema *schema) {
    return schema ? schema->weight_column : NULL;
}

const char *dctr_schema_column_group(const dctr_schema *schema, int32_t i) {
    if (!schema || i < 0 || i >= schema->ncols || schema->cols[i].kind == DCTR_COLUMN_DENSE)
        return NULL;
    return schema->cols[i].group_name;
}
