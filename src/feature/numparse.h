/* Locale-independent number parsing for CSV fields (no NUL terminator needed). */
#ifndef DCTR_FEATURE_NUMPARSE_H
#define DCTR_FEATURE_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>

#define DCTR_NUM_OK 0
#define DCTR_NUM_SYNTAX 1    /* not a number */
#define DCTR_NUM_NONFINITE 2 /* nan / inf literal, or a value overflowing double */
#define DCTR_NUM_RANGE 3     /* integer outside int64 */

/* Decimal floating point: [+-]digits[.digits][(e|E)[+-]digits], surrounding blanks allowed.
 * Correctly rounded (fast exact path for short inputs, strtod otherwise). */
int dctr_parse_double(const char *s, size_t len, double *out);
/* Integer: [+-]digits, optionally followed by ".0..." (pandas writes ints as 5.0). */
int dctr_parse_int64(const char *s, size_t len, int64_t *out);
/* Writes the canonical decimal form of v into buf (>= 21 bytes); returns the length. */
size_t dctr_format_int64(int64_t v, char *buf);

#endif
