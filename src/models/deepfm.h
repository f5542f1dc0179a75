/* DeepFM family internals (DeepFM, FM = linear + FM, LR = linear only): the structure derived
 * from schema + config, the parameter arena, and entry points for tests.
 *
 * Parameter arena (one float array): sparse tables first (per table used by the FM/DNN part a
 * V x k embedding "emb:<table>", per table used by the linear part a V x 1 "lin:<table>"), then
 * the dense tail: "lin_kernel" (D_lin), "dnn" (dctr_dnn layout), "out_w" (h), "bias" (1).
 * Gradients of the dense tail live in an arena of the same layout; gradients of tables are
 * sparse accumulators (touched rows only). Non-trainable state (BN moving statistics) lives in a
 * separate "state" arena. Optimizer slots mirror the whole parameter arena. */
#ifndef DCTR_MODELS_DEEPFM_H
#define DCTR_MODELS_DEEPFM_H

#include <stdint.h>

#include "models/model_types.h"

/* Forward + loss + backward on a batch WITHOUT updating anything (dropout uses the model's
 * dropout stream; BN uses batch statistics and updates its moving statistics as training
 * does). Gradients are then readable with dctr_deepfm_grad_at. */
dctr_status dctr_deepfm_compute_gradients(dctr_model *model, const dctr_batch *batch,
                                          double *data_loss, double *reg_loss);
/* The whole parameter arena. */
float *dctr_deepfm_params(dctr_model *model, int64_t *count);
/* Offset and float count of a named tensor ("emb:C1", "lin:C1", "lin_kernel", "dnn", "out_w",
 * "bias"); -1 when the model has no such tensor. */
int64_t dctr_deepfm_tensor(const dctr_model *model, const char *name, int64_t *count);
/* Gradient of arena element i from the last compute_gradients (0 for untouched table rows). */
float dctr_deepfm_grad_at(const dctr_model *model, int64_t i);
/* on = 1: every step takes the whole-batch pass, never the blocked step or the per-thread lanes
 * (the reference those are tested against). */
void dctr_deepfm_set_whole_batch(dctr_model *model, int on);
/* Sharded models (tests): the former save, every table gathered to rank 0 (which then holds
 * the whole model while dctr_model_save writes it), as the reference the streamed
 * dctr_model_save_collective must equal byte for byte. Every rank calls it. */
struct dctr_collective;
dctr_status dctr_deepfm_shard_gather_save(dctr_model *model, struct dctr_collective *coll,
                                          const char *path, int with_optimizer);
/* Binds the DNN parameters (for tests that hand-set or inspect them). */
const void *dctr_deepfm_dnn(const dctr_model *model, const void **cfg);

#endif
