/* Distributed training without a transport dependency: the caller supplies a small table of
 * collective operations (libdeepctr_mpi fills it from an MPI communicator, include/deepctr/mpi.h)
 * and the ordinary fit path runs synchronous data-parallel training with it. The core library
 * never links MPI. docs/distributed.md describes the design and what crosses the network.
 *
 * Every rank calls the same functions with the same arguments except its own data; a rank that
 * fails returns its error, the others return DCTR_ERR_IO naming the failed rank (at the agreement
 * points: encoder fit, fit setup, each step, each epoch end). A failure inside a transfer (a rank
 * killed) is the transport's to report: the MPI component aborts the job. */
#ifndef DEEPCTR_COLLECTIVE_H
#define DEEPCTR_COLLECTIVE_H

#include "deepctr/common.h"
#include "deepctr/data.h"
#include "deepctr/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dctr_collective {
    uint32_t struct_size;  /* sizeof(dctr_collective) */
    int32_t rank, size;    /* 0 <= rank < size */
    void *ctx;             /* passed to the callbacks */
    /* Each rank sends `bytes` bytes (the same count on every rank); recv gets size * bytes, the
     * ranks' blocks in rank order. Returns 0 on success. */
    int (*allgather)(void *ctx, const void *send, int64_t bytes, void *recv);
    /* Each rank sends counts[rank] bytes (counts known and equal on every rank); recv gets the
     * ranks' blocks back to back in rank order. Returns 0 on success. */
    int (*allgatherv)(void *ctx, const void *send, const int64_t *counts, void *recv);
    /* Bytes this rank received through the callbacks (filled by the core; may be read). */
    int64_t bytes_received;
    /* Personalised exchange: this rank sends send_counts[q] bytes to rank q (the blocks back to
     * back in rank order in send) and receives recv_counts[q] bytes from each rank q (back to
     * back in rank order in recv). Returns 0 on success. Needed by DCTR_TABLES_SHARDED only. */
    int (*alltoallv)(void *ctx, const void *send, const int64_t *send_counts, void *recv,
                     const int64_t *recv_counts);
    /* How embedding tables are kept (dctr_table_mode); 0 = replicated. */
    int32_t table_mode;
} dctr_collective;

typedef enum dctr_table_mode {
    /* every rank holds every table; the touched rows' gradients are exchanged and every rank
     * applies the same update */
    DCTR_TABLES_REPLICATED = 0,
    /* rank r owns a contiguous 1/N range of each table's rows (and their optimizer state):
     * before each step a rank fetches the rows its batch uses from their owners, after the
     * backward it sends their gradients to the owners, which alone update them; rows a rank does
     * not own are released (madvise) after use. Every rank ends the fit holding its own rows
     * (dctr_model_save_collective writes the model file) */
    DCTR_TABLES_SHARDED = 1
} dctr_table_mode;

/* Every rank passes its status; every rank returns the agreed verdict: DCTR_OK when all passed
 * DCTR_OK, else this rank's own status when it failed, and DCTR_ERR_IO naming the lowest failed
 * rank (with the start of its message) on the others. */
DCTR_API DCTR_NODISCARD dctr_status dctr_collective_agree(dctr_collective *coll, dctr_status mine,
                                                         const char *what);

/* Fits the schema's encoders on this rank's shard of the training data (a CSV file) and merges
 * the counts and dense statistics of every rank, so every rank ends with the same schema as a
 * single-process fit on the union of the shards (vocabulary ids are sorted keys; min_count
 * applies to the summed counts). A rank with an empty shard is fine when the union has rows. */
DCTR_API DCTR_NODISCARD dctr_status dctr_schema_fit_csv_collective(dctr_schema *schema, const char *path,
                                                                  const dctr_csv_options *opts,
                                                                  dctr_collective *coll);

/* Rows part, part + parts, part + 2 parts, ... of ds (a copy; the schema stays borrowed). */
DCTR_API DCTR_NODISCARD dctr_status dctr_dataset_stripe(const dctr_dataset *ds, int32_t part, int32_t parts,
                                                       dctr_dataset **out);

/* dctr_model_fit on this rank's shard, synchronously data-parallel with the other ranks of coll.
 * opts->batch_size is the GLOBAL batch: rank r takes its share (batch / size, the first
 * batch % size ranks one more) of its own rows each step. Dense parameters are replicated (their
 * gradients summed over ranks in rank order, the same update everywhere); tables follow
 * coll->table_mode: replicated (the touched rows' gradients summed the same way) or sharded
 * (see dctr_table_mode; each rank ends with its own rows). Validation metrics
 * and the train metrics are exact over all ranks' rows; early stopping is decided identically
 * everywhere; only rank 0 writes checkpoint_path. DeepFM, FM, LR, FFM and DeepFFM. With size 1
 * this is dctr_model_fit (up to float summation order), except for FFM / DeepFFM: under a
 * collective they train with a synchronous mini-batch AdaGrad step (one update per touched block
 * per step; libffm's per-sample step is sequential), whose one-rank run is the reference
 * (docs/distributed.md "FFM and DeepFFM"). A libffm-native FFM trains with dctr_ffm_train only. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_fit_collective(dctr_model *model, const dctr_dataset *train,
                                                             const dctr_fit_options *opts,
                                                             dctr_collective *coll,
                                                             dctr_history *history);

/* dctr_model_new for this rank of coll. With coll->table_mode DCTR_TABLES_SHARDED and more
 * than one rank (DeepFM, FM, LR, FFM, DeepFFM) the model holds only this rank's rows of every
 * table, from the start: the rows are initialised to the values dctr_model_new gives them, the
 * other rows take no memory (address space only). Such a model trains with dctr_model_fit_collective on the
 * same collective and is written with dctr_model_save_collective; predicting from it (or
 * dctr_model_save) is DCTR_ERR_STATE: load the saved file. Otherwise this is dctr_model_new.
 * Every rank calls it with the same schema and config. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_new_collective(const dctr_schema *schema,
                                                             const dctr_model_config *cfg,
                                                             dctr_collective *coll,
                                                             dctr_model **out);

/* Every rank calls it; rank 0 writes `path` (atomically, as dctr_model_save) and every rank
 * returns the agreed status. A model holding a shard of sharded tables streams each table's
 * rows from their owners into rank 0's file writer a chunk (1/16 of the owner's rows of a table, 256 KiB to 16 MiB) at a time, so no rank ever
 * holds the whole model; the file is the one dctr_model_save writes for the whole model. */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_save_collective(const dctr_model *model, const char *path,
                                                              int with_optimizer,
                                                              dctr_collective *coll);

/* dctr_model_load on every rank (to resume a distributed fit); every rank returns the agreed
 * status. With sharded tables (DeepFM, FM, LR, FFM, DeepFFM) the model is built as this rank's
 * shard and takes only its rows (parameters and optimizer state) from the file; the file itself
 * is read whole into memory while loading (docs/distributed.md, Limits). */
DCTR_API DCTR_NODISCARD dctr_status dctr_model_load_collective(const char *path, dctr_collective *coll,
                                                              dctr_model **out);

#ifdef __cplusplus
}
#endif
#endif
