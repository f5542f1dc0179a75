/* `mpirun -np N deepctr train ...`: distributed training in the CLI when the program is built
 * with libdeepctr_mpi (DCTR_MPI) and started by an MPI launcher. Every entry point falls back to
 * the single-process call when not distributed, so cmd_train.c calls these unconditionally. */
#ifndef DCTR_TOOLS_DIST_CLI_H
#define DCTR_TOOLS_DIST_CLI_H

#include "deepctr/deepctr.h"

/* Starts MPI when launched by mpirun (OMPI_COMM_WORLD_SIZE / PMIX_RANK in the environment) and
 * the build has MPI; ranks other than 0 then write nothing to stdout (progress printed once). */
void cli_dist_begin(int *argc, char ***argv);
/* Ends MPI. A failed command (rc != 0) on any rank names the rank and aborts the whole job
 * (MPI_Abort with rc), so no rank waits forever for it. Returns rc. */
int cli_dist_end(int rc);
int cli_dist_active(void);
int cli_dist_rank(void);
/* --shard: 0 = stripe (every rank reads --train and keeps rows rank, rank + N, ...), 1 = file
 * (the path's "{rank}" is this rank's number: each rank reads its own file). */
void cli_dist_set_shard_mode(int file_mode);
/* --tables sharded: each rank keeps 1/N of each table (DCTR_TABLES_SHARDED). */
void cli_dist_set_sharded_tables(int sharded);
/* The path for this rank ("{rank}" replaced in file mode) into buf; rank0 asks for rank 0's. */
const char *cli_dist_path(const char *path, int rank0, char *buf, size_t cap);
dctr_status cli_dist_fit_schema(dctr_schema *schema, const char *path, const dctr_csv_options *opts);
/* This rank's rows of a CSV file (the whole file when not distributed). */
dctr_status cli_dist_read_csv(const dctr_schema *schema, const char *path, const dctr_csv_options *opts,
                              dctr_dataset **out);
dctr_status cli_dist_fit(dctr_model *model, const dctr_dataset *train, const dctr_fit_options *opts,
                         dctr_history *history);
/* The model of this rank (with --tables sharded: only its rows of every table). */
dctr_status cli_dist_model_new(const dctr_schema *schema, const dctr_model_config *cfg, dctr_model **out);
/* --resume MODEL on every rank (cli_load_model when not distributed); returns an exit code. */
int cli_dist_load_model(const char *path, dctr_model **out);
/* Rank 0 writes the model (sharded tables streamed from their owners); every rank learns the
 * outcome. */
dctr_status cli_dist_save(const dctr_model *model, const char *path, int with_optimizer);

#endif
