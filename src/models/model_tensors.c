/* Named tensors of a model (include/deepctr/services.h): lookup by name with size checks over
 * the family's tensor hook (DeepFM / FM / LR: src/models/deepfm_tensors.c). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "deepctr/services.h"
#include "models/model_internal.h"

int32_t dctr_model_num_tensors(const dctr_model *m) {
    return m && m->ops && m->ops->tensor ? m->ops->tensor(m, -1, NULL) : 0;
}

const char *dctr_model_tensor_name(const dctr_model *m, int32_t i) {
    dctr_tensor_view v;
    if (i < 0 || i >= dctr_model_num_tensors(m))
        return NULL;
    m->ops->tensor(m, i, &v);
    return v.name;
}

static dctr_status find(const dctr_model *m, const char *name, const char *fn, dctr_tensor_view *v) {
    if (!m || !name)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: NULL model or name", fn);
    int32_t n = dctr_model_num_tensors(m);
    for (int32_t i = 0; i < n; i++) {
        m->ops->tensor(m, i, v);
        if (strcmp(v->name, name) == 0)
            return DCTR_OK;
    }
    return dctr_set_error(n ? DCTR_ERR_RANGE : DCTR_ERR_UNSUPPORTED, "%s: this %s model has no tensor '%s'",
                          fn, m->ops ? m->ops->name : "?", name);
}

dctr_status dctr_model_tensor_shape(const dctr_model *m, const char *name, int64_t *rows, int64_t *cols) {
    dctr_tensor_view v;
    DCTR_TRY(find(m, name, "dctr_model_tensor_shape", &v));
    if (rows)
        *rows = v.rows;
    if (cols)
        *cols = v.cols;
    return DCTR_OK;
}

static dctr_status check_count(const dctr_tensor_view *v, int64_t count, const void *p, const char *fn) {
    if (!p)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: '%s': NULL buffer", fn, v->name);
    if (count != v->rows * v->cols)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: '%s' is [%lld x %lld] = %lld values, got %lld", fn,
                              v->name, (long long)v->rows, (long long)v->cols, (long long)(v->rows * v->cols),
                              (long long)count);
    return DCTR_OK;
}

dctr_status dctr_model_get_tensor(const dctr_model *m, const char *name, float *out, int64_t count) {
    dctr_tensor_view v;
    DCTR_TRY(find(m, name, "dctr_model_get_tensor", &v));
    DCTR_TRY(check_count(&v, count, out, "dctr_model_get_tensor"));
    memcpy(out, v.data, sizeof(float) * (size_t)count);
    return DCTR_OK;
}

dctr_status dctr_model_set_tensor(dctr_model *m, const char *name, const float *values, int64_t count) {
    static const char fn[] = "dctr_model_set_tensor";
    dctr_tensor_view v;
    DCTR_TRY(find(m, name, fn, &v));
    DCTR_TRY(check_count(&v, count, values, fn));
    size_t len = strlen(name);
    const int is_var = len >= 9 && strcmp(name + len - 9, "_variance") == 0; /* moving / dice */
    for (int64_t i = 0; i < count; i++) {
        if (!isfinite(values[i]))
            return dctr_set_error(DCTR_ERR_NUMERIC, "%s: '%s'[%lld] is not finite", fn, name, (long long)i);
        if (is_var && values[i] < 0.0f)
            return dctr_set_error(DCTR_ERR_RANGE, "%s: '%s'[%lld] = %g is a negative variance", fn, name,
                                  (long long)i, (double)values[i]);
    }
    memcpy(v.data, values, sizeof(float) * (size_t)count);
    return DCTR_OK;
}
