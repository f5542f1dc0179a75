/* JSON values for the tool's --json outputs (inspect, eval's calibration and importance). */
#ifndef DCTR_TOOLS_JSON_OUT_H
#define DCTR_TOOLS_JSON_OUT_H

#include <stdio.h>

/* A quoted string ('"' and '\\' escaped, control bytes as \u00XX), or null for NULL. */
void cli_json_string(FILE *f, const char *s);
/* A number in its round-trip form (%.17g), or null when not finite. */
void cli_json_number(FILE *f, double x);

#endif
