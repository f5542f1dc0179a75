/* Private structures of the DeepFM family, shared by its files: deepfm_build.c (structure,
 * parameters), deepfm_workspace.c, deepfm_forward.c, deepfm_backward.c, deepfm_train.c (step,
 * optimizer, snapshots), deepfm_step_blocks.c (the serial step in row blocks), deepfm_io.c
 * (model-file sections), deepfm.c (ops table) and deepfm_test_hooks.c. */
#ifndef DCTR_MODELS_DEEPFM_IMPL_H
#define DCTR_MODELS_DEEPFM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/rng.h"
#include "layers/dnn.h"
#include "layers/embedding.h"
#include "models/deepfm.h"
#include "optim/optim.h"

/* A sparse / varlen column feeding the FM/DNN part (one k-wide slice of X) or the linear part. */
typedef struct dfm_col {
    int32_t col;       /* schema column */
    int32_t table;     /* schema table */
    int32_t k;         /* width (1 for the linear part) */
    int64_t off;       /* slice offset in X (FM/DNN part) */
    int varlen;
    int32_t T;
    int weighted;
    int weight_norm;
    dctr_combiner combiner;
    int32_t vi;        /* index of its varlen buffers in the workspace, -1 for sparse */
} dfm_col;

typedef struct dfm_group {
    int64_t off;       /* first field's offset in X */
    int32_t F, k;
} dfm_group;

/* What a varlen column's forward keeps for its backward, for up to cap rows of T ids of k-wide
 * table rows (k = 1 in the linear part). */
typedef struct dfm_vbuf {
    float *E;          /* [cap * T * k] gathered rows */
    float *Ew;         /* [cap * T * k] weighted rows (weighted columns only) */
    float *alpha;      /* [cap * T] normalised weights (weighted columns only) */
    int32_t *argmax;   /* [cap * k] max pooling's winners */
} dfm_vbuf;

typedef struct dfm_ws {
    int64_t cap;
    int training;
    float *X;          /* [cap x xw] embeddings then dense values */
    float *XL;         /* [cap x dl] linear dense values */
    float *logit, *pred, *tmp;
    void *job;         /* per-row thread job (deepfm_forward.c) */
    dfm_vbuf *var;     /* [nvar] per FM/DNN varlen column (index dfm_col.vi) */
    dfm_vbuf *var1;    /* [nvar1] per linear varlen column */
    int32_t nvar, nvar1;
    dctr_dnn_workspace *dnn;
    const float *H;    /* DNN output of the last forward and its row stride */
    int64_t ldh;
    /* training only */
    float *dX, *dH, *dpred, *dlogit;
    float *grad;                   /* the dense-tail gradients the backward adds into: the */
    const dctr_dnn_params *dnng;   /* model's (d->grad, d->dnng) or a lane's (deepfm_step_blocks.c) */
    float *dA, *dB;    /* [cap * max T * max k] scratch for varlen backward */
    float *d1a, *d1b;  /* [cap * max T] for linear varlen backward */
} dfm_ws;

/* A named tensor: [rows x cols] floats at off in the parameter (state 0) or state arena. */
typedef struct dfm_tensor {
    char *name;
    int state;
    int64_t off, rows, cols;
} dfm_tensor;

typedef struct dfm {
    /* structure */
    int use_fm, use_dnn;
    int32_t nemb;
    dfm_col *emb;            /* FM/DNN columns in X order */
    int32_t nvar;            /* varlen columns among emb */
    int32_t ndense_x;
    int32_t *dense_x;        /* dense columns copied into X after the embeddings */
    int64_t *dense_x_off;
    int64_t xw;              /* X width */
    int32_t nfm;
    dfm_group *fm;
    int32_t nlin;
    dfm_col *lin;            /* linear sparse / varlen columns */
    int32_t nvar1;
    int32_t nlin_dense;
    int32_t *lin_dense;      /* dense columns of the linear part */
    int64_t *lin_dense_off;
    int64_t dl;              /* linear dense width */
    int32_t max_T, max_k;
    dctr_dnn_config dnn_cfg;
    int32_t h;               /* DNN output width (= xw without hidden layers) */

    /* parameters */
    int32_t ntables;
    int64_t *emb_off, *lin_off; /* per schema table, -1 when unused */
    int64_t lin_kernel_off, dnn_off, out_w_off, bias_off;
    int64_t dense_begin;     /* first element of the dense tail */
    int64_t nparams;
    float *params;
    int64_t nstate;
    float *state;
    dctr_dnn_params dnnp;
    dfm_tensor *tensors;     /* deepfm_tensors.c */
    int32_t ntensors;

    /* training */
    dctr_optim opt;
    float *slots[DCTR_OPTIM_MAX_SLOTS]; /* [nparams] each, allocated at the first step */
    float *grad;             /* dense tail gradients [nparams - dense_begin] */
    dctr_dnn_params dnng;
    dctr_sparse_grad *g_emb, *g_lin; /* per table (capacity 0 when unused) */
    double *reg_tab;         /* [2 * ntables] per-table L2 terms (linear, embedding) */
    double *sq_tab;          /* [ntables] per-table sums of squared gradients, when sq_valid */
    int sq_valid;            /* the last backward filled sq_tab (the per-table path) */
    dfm_ws *tws;
    struct dfm_lanes *lanes; /* per pool thread after the first: the lanes' own buffers */
    int whole_batch;         /* tests: never the blocked step or lanes (the reference path) */
    dctr_rng drop_rng;
    int32_t threads;
    dctr_pool *pool;
    /* sharded model (model->shard_size > 1 at creation): params and slots are lazily committed
     * (dctr_shard_alloc) and freed with dctr_shard_free; save_dist set while rank 0 streams a
     * save from the owners (deepfm_shard_io.c) */
    int lazy;
    struct dctr_dist *save_dist;
    struct dfm_shard_step *sstep; /* a sharded step's window (deepfm_shard_step.c), or NULL */
} dfm;

/* The per-table gradient scatter and optimizer updates go to the pool from this many batch rows
 * on (one scatter block): below it a table's share of a step is a few microseconds. Since the
 * lanes (deepfm_step_blocks.c) leave each thread's rows in its own cache, batch 256 gains from
 * it too (FM 0.80-1.05M vs 0.76-0.78M samples/s on 2 threads, LR 1.52-1.67M vs 1.31-1.41M). */
#define DFM_TABLES_POOL_MIN_ROWS 256

static inline int dfm_tables_on_pool(const dfm *d, int64_t batch_rows) {
    return d->pool && d->ntables > 1 && batch_rows >= DFM_TABLES_POOL_MIN_ROWS;
}

/* Row-local work (gather, FM, linear; their backward) is claimed by the threads in chunks of
 * this many rows; a batch of fewer than two chunks stays on the calling thread (handing it over
 * would cost about what the work does). */
#define DFM_ROWS_GRAIN 256

/* Structure from schema + config and the parameter arena (allocated, not initialised). */
dctr_status dfm_build(const dctr_model *model, dfm *d);
/* Initial parameter values and the dropout stream, from the model seed. */
void dfm_init_params(const dctr_model *model, dfm *d);
/* Frees a dfm and everything it owns (the ops table's free_impl). */
void dfm_free(void *impl);

dctr_status dfm_ws_new(const dctr_model *model, int64_t cap, int training, dfm_ws **out);
void dfm_ws_free(dfm_ws *ws);
/* Bytes of the forward's per-workspace thread job (ws->job). */
size_t dfm_rows_job_size(void);
/* Forward into ws->pred (training: BN batch stats, dropout from drop_rng). */
dctr_status dfm_forward(const dctr_model *model, dfm_ws *ws, const dctr_batch *b, int training,
                        dctr_rng *drop_rng, dctr_pool *pool);
/* Loss + backward of the last training forward: fills d->grad and the sparse accumulators. */
dctr_status dfm_backward(dctr_model *model, dfm_ws *ws, const dctr_batch *b, double *data_loss,
                         double *reg_loss);

/* Rows per block of the table scatter (each thread scatters a block of dX rows into all of its
 * tables while the block is in cache) and of the blocked training step (deepfm_step_blocks.c):
 * one value, so both add each table's rows in the same order. */
#define DFM_BLOCK_ROWS 256

/* The pieces of a training step over rows [r0, r0 + n) of a batch, for the blocked step (and
 * the whole-batch one with r0 = 0, n = B). Forward (deepfm_forward.c): */
/* embeddings into X, FM and the linear logit (row-local) */
dctr_status dfm_forward_rows(const dctr_model *model, dfm_ws *ws, const dctr_batch *b, int training,
                             int64_t r0, int64_t r1);
/* DNN and its output layer added to the logits, then the prediction; the DNN workspace holds
 * these rows from its row 0 (ws->H) */
void dfm_forward_head(const dctr_model *model, dfm_ws *ws, int64_t r0, int64_t n, int training,
                      dctr_rng *drop_rng);
/* Backward (deepfm_backward.c): */
/* d->grad zeroed, no squares cached; clear: every table's accumulators emptied too */
void dfm_backward_begin(dfm *d, int clear);
/* the rows' loss added to total (row order) and its gradient down to dlogit and the bias
 * (ws->grad, as every *_rows backward piece below) */
double dfm_loss_rows(const dctr_model *model, dfm_ws *ws, const dctr_batch *b, int64_t r0,
                     int64_t n, double total);
/* the linear dense kernel's gradient of the rows */
void dfm_linear_dense_rows(const dctr_model *model, dfm_ws *ws, int64_t r0, int64_t n);
/* the output layer, DNN and FM gradients of the rows into dX (and ws->grad); wt: the DNN's
 * transposed weights (dctr_dnn_backward_prepare), or NULL to transpose here; pool: the FM
 * backward's rows split on it (NULL: this thread) */
void dfm_deep_backward_rows(dfm *d, dfm_ws *ws, int64_t r0, int64_t n, const float *const *wt,
                            dctr_pool *pool);
/* the X columns the DNN's dX covers (the embeddings, not the dense values after them) */
int32_t dfm_dnn_dx_cols(const dfm *d);
/* the rows' plain sparse columns of tables [t0, t1) into their accumulators (per table: linear
 * columns, then embedding columns, each in row order); the error names the column */
dctr_status dfm_scatter_rows(const dctr_model *model, const dctr_batch *b, const float *dlogit,
                             const float *dX, int64_t t0, int64_t t1, int64_t r0, int64_t n);
/* tables [t0, t1): accumulators emptied / L2 terms and squared gradients (reg_tab, sq_tab) */
void dfm_tables_clear(dfm *d, int64_t t0, int64_t t1);
void dfm_tables_finish(const dctr_model *model, int64_t t0, int64_t t1);
/* every table cleared, scattered from ws->dlogit / ws->dX in DFM_BLOCK_ROWS blocks and
 * finished, per table (on the pool from DFM_TABLES_POOL_MIN_ROWS rows) */
dctr_status dfm_scatter_tables(const dctr_model *model, dfm_ws *ws, const dctr_batch *b);
/* the L2 terms (dense kernel, tables, DNN) into the gradients and *reg_loss; per_table: every
 * table finished already (dfm_tables_finish), its terms only summed */
dctr_status dfm_backward_reg(dctr_model *model, int per_table, double *reg_loss);
/* deepfm_step_blocks.c: whether a step over b runs forward and backward block by block, on
 * this thread (blocked) or on each pool thread over its share of the rows (lanes), and that
 * step (the same gradients and loss as dfm_forward + dfm_backward, to rounding) on the
 * training workspace (dfm_prepare_training sized it for b) */
int dfm_step_blocked(const dctr_model *model, const dctr_batch *b);
int dfm_step_lanes(const dctr_model *model, const dctr_batch *b);
dctr_status dfm_forward_backward_blocks(dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                        double *data_loss, double *reg_loss);
dctr_status dfm_forward_backward_lanes(dctr_model *model, dfm_ws *ws, const dctr_batch *b,
                                       double *data_loss, double *reg_loss);
/* the lanes' buffers for the pool's thread count (kept while it stays), and their release */
dctr_status dfm_lanes_prepare(dfm *d);
void dfm_lanes_free(struct dfm_lanes *lanes);
/* Ensures training buffers for batches of up to n rows (slots, grads, workspace). */
dctr_status dfm_prepare_training(dctr_model *model, int64_t n);

dctr_status dfm_train_step(dctr_model *model, const dctr_batch *batch, double *data_loss,
                           double *reg_loss, float *pred);
dctr_status dfm_snapshot(const dctr_model *model, void **state);
dctr_status dfm_restore(dctr_model *model, const void *state);
void dfm_snapshot_free(void *state);
dctr_status dfm_save(const dctr_model *model, dctr_container_writer *cw, int with_optimizer);
/* The "deepfm/optim" section's header (kind, slots, steps, dropout stream): its bytes. */
#define DFM_OPTIM_HEADER_BYTES 48
void dfm_optim_header(const dctr_model *model, dctr_wbuf *w);
dctr_status dfm_load(dctr_model *model, const dctr_container *c);

/* deepfm_dist.c (model->dist set: dctr_model_fit_collective): scales the loss gradient to this
 * rank's share of the step, and sums the data gradients (and the mean loss) over the ranks. */
void dfm_dist_scale(const dctr_model *model, float *dpred, int64_t n, int64_t B); /* n of B rows */
dctr_status dfm_dist_exchange(dctr_model *model, double *loss, int64_t B);
/* deepfm_shard.c (DCTR_TABLES_SHARDED): whether the fit runs sharded; rows of a batch fetched
 * from their owners; rows not owned released (with_slots: their optimizer state too). */
int dfm_dist_sharded(const dctr_model *model);
dctr_status dfm_shard_fetch(dctr_model *model, const dctr_batch *b);
void dfm_shard_release(dctr_model *model, int with_slots);
/* deepfm_shard.c: a sharded model's initial table rows (only the owned ones, with the values
 * single-process init gives them); its optimizer slots (owned rows and the dense tail at their
 * initial values, the rest never committed); the peak probe's note of this rank's resident table
 * bytes (parameters, step window, optimizer state) plus in_flight bytes of table rows in
 * exchange buffers (a save's chunk). */
void dfm_shard_init_table(const dctr_model *model, dfm *d, int32_t t, dctr_rng *rng);
void dfm_shard_init_slots(const dctr_model *model, dfm *d);
void dfm_shard_note(const dctr_model *model, int64_t in_flight);
/* A shard's own table rows and the dense tail from src to dst (restore-best snapshots). */
void dfm_shard_copy_owned(const dctr_model *model, float *dst, const float *src);
/* deepfm_shard.c: the rows of b's ids fetched from their owners (all: every id and row 0, into
 * the window, row i of table t holding ids[t][i]; else the rows of other ranks, to their places
 * in the arena); ids[t] malloc'ed, n[t] their counts. */
dctr_status dfm_shard_fetch_ids(dctr_model *model, const dctr_batch *b, int all, int64_t **ids,
                                int64_t *n);
/* deepfm_shard_step.c: a sharded training step in the window: begin fetches b's rows and sets
 * *use to the batch the forward and backward take; ids turns the accumulators' window rows
 * back into ids (before the gradient exchange); end restores the offsets (any path). */
dctr_status dfm_shard_step_begin(dctr_model *model, const dctr_batch *b, const dctr_batch **use);
dctr_status dfm_shard_step_ids(dctr_model *model);
void dfm_shard_step_end(dctr_model *model);
void dfm_shard_step_free(dfm *d);
/* deepfm_shard_io.c: the streamed save of a sharded model (every rank calls it; rank 0 writes
 * `path` atomically, the others send their rows; all return the agreed status), and the
 * producers of the sections dfm_save streams instead of the arena while rank 0 saves. */
dctr_status dfm_shard_save(const dctr_model *model, struct dctr_dist *dist, const char *path,
                           int with_optimizer);
/* The arena's table regions (each table's embedding and linear part: rows x w floats at off),
 * by offset (malloc'ed): the order a streamed save writes and a shard load reads them in. */
typedef struct dfm_region {
    int64_t off, rows, w;
} dfm_region;
dctr_status dfm_shard_regions(const dctr_model *model, dfm_region **out, int32_t *n);
dctr_status dfm_shard_produce_params(const void *model, dctr_cw_sink sink, void *sink_ctx);
dctr_status dfm_shard_produce_optim(const void *model, dctr_cw_sink sink, void *sink_ctx);
/* Sharded: *x (this rank's part of a sum over the table rows it owns) summed over the ranks. */
dctr_status dfm_dist_sum_tables(const dctr_model *model, double *x);
/* The batch-norm sync of this step for the DNN workspace, or NULL (single process). */
const dctr_bn_sync *dfm_dist_bn_sync(const dctr_model *model);

/* deepfm_services.c */
dctr_status dfm_predict_logit(const dctr_model *m, void *ws, const dctr_batch *b, float *out,
                              float *logit);
float *dfm_embedding_table(const dctr_model *m, int32_t table, int64_t *rows, int32_t *dim);

/* deepfm_tensors.c: the named-tensor table (built by dfm_build, freed by dfm_free). */
dctr_status dfm_build_tensors(const dctr_model *m, dfm *d);
void dfm_free_tensors(dfm *d);
int32_t dfm_tensor_at(const dctr_model *m, int32_t i, dctr_tensor_view *out);

#endif
