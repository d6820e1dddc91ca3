/* Internal to cli/: running the vmmcsim command in a child process. */
#ifndef CLI_CLI_INT_H
#define CLI_CLI_INT_H

#include <stddef.h>

/* Runs cli_main(argc, argv) in a forked child with stdout and stderr
 * captured into out and err (NUL-terminated, truncated to their sizes).
 * Returns the child's exit status, 128 + signal if it died, or -1 if it
 * could not be started. */
int cli__run_child(int argc, char **argv, char *out, size_t outlen, char *err,
                   size_t errlen);

#endif
