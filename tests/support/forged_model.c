#include "forged_model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "feature/schema_io.h"
#include "io/container.h"
#include "models/model_internal.h"

void forged_params_rejected(const dctr_schema *s, const dctr_model_config *cfg) {
    dctr_container_writer *cw = NULL;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    assert_int_equal(dctr_model_meta_write(cfg, 0, &w), DCTR_OK);
    assert_int_equal(dctr_cw_add(cw, "meta", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    dctr_wbuf_init(&w);
    assert_int_equal(dctr_schema_write(s, &w), DCTR_OK);
    assert_int_equal(dctr_cw_add(cw, "schema", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    dctr_wbuf_init(&w);
    float few[4] = {0};
    dctr_wbuf_u64(&w, 4);
    dctr_wbuf_f32s(&w, few, 4);
    assert_int_equal(dctr_cw_add(cw, "deepfm/params", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_cw_to_memory(cw, &buf, &size), DCTR_OK);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_load_from_memory(buf, size, &m), DCTR_ERR_FORMAT);
    assert_null(m);
    assert_non_null(strstr(dctr_last_error(), "parameters"));
    dctr_free(buf);
    dctr_cw_free(cw);
}
