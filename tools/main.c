/* The `deepctr` command-line program: dispatches to one command per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
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

int main(int argc, char **argv) {
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
        printf("deepctr %s\n%s\n", dctr_version(), dctr_build_info());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < NUM_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "deepctr: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
