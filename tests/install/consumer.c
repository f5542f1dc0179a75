/* A tiny program built against the INSTALLED library (CI): proves headers, pkg-config and
 * linking work for a downstream service. */
#include <stdio.h>
#include <string.h>

#include <deepctr/deepctr.h>

int main(void) {
    dctr_schema *schema = NULL;
    if (dctr_schema_new(&schema) != DCTR_OK) {
        fprintf(stderr, "schema_new failed: %s\n", dctr_last_error());
        return 1;
    }
    dctr_sparse_feat c1;
    dctr_sparse_feat_default(&c1, "C1");
    c1.vocabulary_size = 10;
    dctr_status s = dctr_schema_add_sparse(schema, &c1);
    if (s == DCTR_OK)
        s = dctr_schema_validate(schema);
    int ok = s == DCTR_OK && dctr_schema_num_columns(schema) == 1 &&
             dctr_hash_bucket("Hello", 5, 3, 0) == 0;
    dctr_schema_free(schema);
    printf("libdeepctr %s consumer: %s\n", dctr_version(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
