/* Shared declarations of the `deepctr` command-line program's parts (CONTRACT between
 * tools/main.c + tools/cmd_*.c (the "cli" engineer) and tools/cli_ffm.c (the "ffm" engineer)).
 * Every command takes the arguments after its own name and returns the process exit code:
 * 0 success, 1 runtime error (message on stderr), 2 usage error. */
#ifndef DCTR_TOOLS_CLI_H
#define DCTR_TOOLS_CLI_H

/* libffm-format FFM training / prediction / evaluation (tools/cli_ffm.c). Called by the
 * train / predict / eval commands when the model is FFM on libffm text (--format libffm, or a
 * model file that holds a libffm-native FFM). */
int dctr_cli_ffm_train(int argc, char **argv);
int dctr_cli_ffm_predict(int argc, char **argv);
int dctr_cli_ffm_eval(int argc, char **argv);

#endif
