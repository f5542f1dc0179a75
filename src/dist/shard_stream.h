/* The streamed model file of sharded tables (shard_stream.c), shared by DeepFM / FM / LR
 * (src/models/deepfm_shard_io.c) and FFM / DeepFFM (src/models/ffm/shard_io.c): rank 0 writes the
 * ordinary model file without ever holding the other ranks' rows. A table section is emitted in
 * row order, rank 0's own rows from its memory, every other rank's rows in chunks the owner
 * sends through the personalised exchange. The container runs a section's producer more than
 * once (checksum, then write), so before each run rank 0 names the section the others serve
 * (dctr_shard_command: one allgather), and "done" (0) after the save. */
#ifndef DCTR_DIST_SHARD_STREAM_H
#define DCTR_DIST_SHARD_STREAM_H

#include "dist/dist.h"
#include "io/bytes.h"
#include "io/container.h"

/* Where rank 0's bytes go; sink NULL on the other ranks. After a sink failure the data is
 * dropped but the exchanges go on, so no rank is left waiting. */
typedef struct dctr_shard_out {
    dctr_cw_sink sink;
    void *ctx;
    dctr_status st;
} dctr_shard_out;

#define DCTR_SHARD_ENCODE_FLOATS ((int64_t)16 * 1024) /* rank 0's encoding scratch: 64 KiB */

/* n floats (the file's encoding) / a buffer (freed) to rank 0's sink; nothing elsewhere. */
void dctr_shard_put_floats(dctr_shard_out *o, const float *v, int64_t n);
void dctr_shard_put_wbuf(dctr_shard_out *o, dctr_wbuf *w);

/* Writes the file's floats of rows [a, b) of an owner's table (w floats each) to out. */
typedef void (*dctr_shard_pack_fn)(const void *ctx, int64_t a, int64_t b, float *out);

/* Rows [0, V) of a table sharded by dctr_shard_range, w floats each, to rank 0's sink in row
 * order. pack NULL: the rows lie contiguous at ctx (a const float *), sent without a copy.
 * Every rank calls it with the same V and w (the schedule of exchanges depends only on them). */
dctr_status dctr_shard_stream_rows(dctr_dist *dist, int64_t V, int64_t w, dctr_shard_pack_fn pack,
                                   const void *ctx, dctr_shard_out *o);
/* The most floats this rank holds in flight while a table of V rows of width w streams. */
int64_t dctr_shard_stream_floats(const dctr_dist *dist, int64_t V, int64_t w);

/* Rank 0 names the section the others serve next (0: the save is over). */
dctr_status dctr_shard_command(dctr_dist *dist, int64_t cmd);
/* The save: rank 0 attaches dist to the model (attach(m, NULL) detaches it), runs
 * dctr_model_save (whose streamed producers call dctr_shard_command before emitting), then says
 * done; every other rank serves each section rank 0 names until done. Returns the status all
 * ranks agree on. */
struct dctr_model;
typedef void (*dctr_shard_attach_fn)(const struct dctr_model *m, dctr_dist *dist);
typedef dctr_status (*dctr_shard_serve_fn)(const struct dctr_model *m, dctr_dist *dist, int64_t cmd);
dctr_status dctr_shard_save_run(dctr_dist *dist, const struct dctr_model *m, const char *path,
                                int with_optimizer, dctr_shard_attach_fn attach,
                                dctr_shard_serve_fn serve);

/* Test reference for the streamed save: gather(model) brings every row to rank 0 (or to every
 * rank), rank 0 saves with dctr_model_save, release(model, 1) gives the other rows back. Every
 * rank calls it; returns the agreed status. */
dctr_status dctr_shard_gather_save(struct dctr_model *model, dctr_collective *coll,
                                   dctr_status (*gather)(struct dctr_model *m),
                                   void (*release)(struct dctr_model *m, int with_slots),
                                   const char *path, int with_optimizer);

#endif
