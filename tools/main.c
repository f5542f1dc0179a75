/* The `deepctr` command-line program: dispatches to one command per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "dist_cli.h"
#include "memlimit.h"
#include "outsafe.h"
#include "deepctr/deepctr.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"train", cmd_train, "train a model on a CSV (or libffm) file and save it"},
    {"predict", cmd_predict, "write one prediction per row of a file"},
    {"eval", cmd_eval, "AUC / logloss or MSE / RMSE of a model on a labelled file"},
    {"inspect", cmd_inspect, "show what a model file holds"},
    {"synth", cmd_synth, "generate synthetic Criteo-shaped data with a planted model"},
    {"export-embeddings", cmd_export_embeddings, "write an embedding table as TSV (id, value, vector)"},
    {"tune", cmd_tune, "search model type and hyper-parameters (successive halving) and save the best"},
};
#define NUM_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fputs("usage: deepctr COMMAND [options]    (deepctr COMMAND --help for its options)\n\ncommands:\n", f);
    for (size_t i = 0; i < NUM_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\n  --version  print the library version and build information\n"
          "  --help     show this help\n",
          f);
}

/* The library, the BLAS kernel it runs and the CPU's SIMD level: what decides the speed. */
static void print_version(void) {
    printf("deepctr %s\n%s\n", dctr_version(), dctr_build_info());
    dctr_runtime_info ri = {.struct_size = sizeof ri};
    if (dctr_runtime_info_get(&ri) != DCTR_OK)
        return;
    printf("blas kernel %s, %d thread%s; cpu %s; libdeepctr kernels %s\n", ri.blas_kernel,
           ri.blas_threads, ri.blas_threads == 1 ? "" : "s", ri.cpu_simd, ri.kernel_simd);
    if (ri.blas_coretype_auto_set)
        printf("OPENBLAS_CORETYPE=%s set automatically: OpenBLAS had picked a generic kernel\n",
               ri.blas_coretype_auto_set);
    if (ri.blas_kernel_generic)
        printf("warning: OpenBLAS runs generic kernels on this CPU; set OPENBLAS_CORETYPE=%s\n",
               ri.blas_recommended_coretype);
}

int main(int argc, char **argv) {
    /* before any work: OpenBLAS starts its threads and picks its kernels when it is loaded */
    cli_single_blas_thread_under_low_limit(argv);
    (void)dctr_blas_use_native_kernel(argv);
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        print_version();
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < NUM_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            if (commands[i].run == cmd_train) /* under mpirun: distributed training */
                cli_dist_begin(&argc, &argv);
            int rc = commands[i].run(argc - 2, argv + 2);
            /* a lost stdout write (`> /dev/full`) fails the command; a lost stderr one too */
            if (rc == CLI_EXIT_OK && cli_check_stdout() != CLI_EXIT_OK)
                rc = CLI_EXIT_ERROR;
            if (fflush(stderr) != 0 || ferror(stderr))
                rc = rc == CLI_EXIT_OK ? CLI_EXIT_ERROR : rc;
            return cli_dist_end(rc); /* a failed rank ends the whole job */
        }
    fprintf(stderr, "deepctr: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
