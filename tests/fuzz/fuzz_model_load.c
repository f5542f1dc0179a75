/* libFuzzer target: dctr_model_load_from_memory (container + meta + schema + weights).
 * Input: one mode byte, then the file; odd mode recomputes the container checksums first so
 * mutations reach the model code (see fuzz_fixup.h). A model that loads must save, and the saved
 * bytes must load again and save identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deepctr/model.h"
#include "fuzz_fixup.h"

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size);

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size) {
    if (input_size == 0)
        return 0;
    size_t size = input_size - 1;
    uint8_t *data = malloc(size ? size : 1);
    memcpy(data, input + 1, size);
    if (input[0] & 1)
        dctr_fuzz_fix_container(data, size);
    dctr_model *m;
    dctr_status st = dctr_model_load_from_memory(data, size, &m);
    free(data);
    if (st != DCTR_OK)
        return 0;
    int with_opt = (input[0] & 2) != 0;
    void *a, *b;
    size_t na, nb;
    dctr_model *m2;
    if (dctr_model_save_to_memory(m, with_opt, &a, &na) != DCTR_OK)
        abort(); /* a loaded model must save */
    if (dctr_model_load_from_memory(a, na, &m2) != DCTR_OK)
        abort(); /* the library cannot load what it saved */
    if (dctr_model_save_to_memory(m2, with_opt, &b, &nb) != DCTR_OK || na != nb ||
        memcmp(a, b, na) != 0)
        abort(); /* save / load / save is not a fixed point */
    dctr_free_buffer(a);
    dctr_free_buffer(b);
    dctr_model_free(m2);
    dctr_model_free(m);
    return 0;
}
