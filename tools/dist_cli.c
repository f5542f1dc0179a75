/* The CLI side of distributed training (tools/dist_cli.h). Without MPI in the build every call
 * is the single-process one. */
#include "dist_cli.h"

#include "args.h"
#include "cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DCTR_WITH_MPI
#include "deepctr/mpi.h"
static dctr_mpi *g_mp;
#endif
static int g_file_mode;

void cli_dist_set_shard_mode(int file_mode) { g_file_mode = file_mode; }

void cli_dist_set_sharded_tables(int sharded) {
#ifdef DCTR_WITH_MPI
    if (g_mp)
        dctr_mpi_collective(g_mp)->table_mode = sharded ? DCTR_TABLES_SHARDED : DCTR_TABLES_REPLICATED;
#else
    (void)sharded;
#endif
}

int cli_dist_active(void) {
#ifdef DCTR_WITH_MPI
    return g_mp != NULL;
#else
    return 0;
#endif
}

int cli_dist_rank(void) {
#ifdef DCTR_WITH_MPI
    return g_mp ? dctr_mpi_rank(g_mp) : 0;
#else
    return 0;
#endif
}

void cli_dist_begin(int *argc, char ***argv) {
#ifdef DCTR_WITH_MPI
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
        return;
    MPI_Init(argc, argv);
    if (dctr_mpi_new(MPI_COMM_WORLD, &g_mp) != DCTR_OK) {
        fprintf(stderr, "deepctr: cannot set up MPI\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (dctr_mpi_rank(g_mp) != 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "deepctr: rank %d: cannot silence stdout\n", (int)dctr_mpi_rank(g_mp));
#else
    (void)argc;
    (void)argv;
#endif
}

int cli_dist_end(int rc) {
#ifdef DCTR_WITH_MPI
    if (!g_mp)
        return rc;
    if (rc != 0) {
        fprintf(stderr, "deepctr: rank %d of %d failed (exit %d): ending the job\n",
                (int)dctr_mpi_rank(g_mp), (int)dctr_mpi_size(g_mp), rc);
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    dctr_mpi_free(g_mp);
    g_mp = NULL;
    MPI_Finalize();
#endif
    return rc;
}

const char *cli_dist_path(const char *path, int rank0, char *buf, size_t cap) {
    const char *at = path ? strstr(path, "{rank}") : NULL;
    if (!g_file_mode || !at)
        return path;
    snprintf(buf, cap, "%.*s%d%s", (int)(at - path), path, rank0 ? 0 : cli_dist_rank(), at + 6);
    return buf;
}

dctr_status cli_dist_fit_schema(dctr_schema *schema, const char *path, const dctr_csv_options *opts) {
#ifdef DCTR_WITH_MPI
    if (g_mp) {
        char buf[4096];
        return dctr_mpi_schema_fit_csv(g_mp, schema, cli_dist_path(path, 0, buf, sizeof buf), opts,
                                       g_file_mode ? DCTR_SHARD_FILE : DCTR_SHARD_STRIPE);
    }
#endif
    return dctr_schema_fit_csv(schema, path, opts);
}

dctr_status cli_dist_read_csv(const dctr_schema *schema, const char *path, const dctr_csv_options *opts,
                              dctr_dataset **out) {
#ifdef DCTR_WITH_MPI
    if (g_mp) {
        char buf[4096];
        return dctr_mpi_read_csv(g_mp, schema, cli_dist_path(path, 0, buf, sizeof buf), opts,
                                 g_file_mode ? DCTR_SHARD_FILE : DCTR_SHARD_STRIPE, out);
    }
#endif
    return dctr_dataset_read_csv(schema, path, opts, out);
}

dctr_status cli_dist_fit(dctr_model *model, const dctr_dataset *train, const dctr_fit_options *opts,
                         dctr_history *history) {
#ifdef DCTR_WITH_MPI
    if (g_mp)
        return dctr_model_fit_collective(model, train, opts, dctr_mpi_collective(g_mp), history);
#endif
    return dctr_model_fit(model, train, opts, history);
}

dctr_status cli_dist_model_new(const dctr_schema *schema, const dctr_model_config *cfg, dctr_model **out) {
#ifdef DCTR_WITH_MPI
    if (g_mp)
        return dctr_model_new_collective(schema, cfg, dctr_mpi_collective(g_mp), out);
#endif
    return dctr_model_new(schema, cfg, out);
}

int cli_dist_load_model(const char *path, dctr_model **out) {
#ifdef DCTR_WITH_MPI
    if (g_mp) /* every rank loads; with --tables sharded each keeps its rows */
        return dctr_model_load_collective(path, dctr_mpi_collective(g_mp), out) == DCTR_OK
                   ? 0
                   : cli_library_error();
#endif
    return cli_load_model(path, out);
}

dctr_status cli_dist_save(const dctr_model *model, const char *path, int with_optimizer) {
#ifdef DCTR_WITH_MPI
    if (g_mp) {
        /* rank 0 writes; sharded tables stream from their owners */
        return dctr_model_save_collective(model, path, with_optimizer, dctr_mpi_collective(g_mp));
    }
#endif
    return dctr_model_save(model, path, with_optimizer);
}
