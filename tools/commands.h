/* The `deepctr` commands. Each takes the arguments after its own name and returns the exit
 * code (0 ok, 1 runtime error, 2 usage error). */
#ifndef DCTR_TOOLS_COMMANDS_H
#define DCTR_TOOLS_COMMANDS_H

int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_export_embeddings(int argc, char **argv);
int cmd_tune(int argc, char **argv);

#endif
