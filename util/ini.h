/*
 * A small INI reader for configuration files ([section], key = value,
 * comments starting with # or ;).  It calls back once per key with the file
 * line, so callers can report errors naming the file, line and field.  No
 * dependency on any other module.
 */
#ifndef UTIL_INI_H
#define UTIL_INI_H

#include <stddef.h>

/* Returns 0 to go on, or a negative vs_err after writing a message into err
 * (the reader prefixes nothing: the callback names file, line and field). */
typedef int (*ini_key_fn)(void *arg, const char *section, const char *key,
                          const char *value, int line, char *err,
                          size_t errlen);

/* Reads path.  Syntax errors and I/O errors produce "FILE:LINE: ..." in err
 * and VS_ECONFIG; so do a NUL byte and a line over 1022 characters. */
int ini_parse(const char *path, ini_key_fn fn, void *arg, char *err,
              size_t errlen);

#endif
