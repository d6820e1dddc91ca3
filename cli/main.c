/* The vmmcsim executable: see cli/cli_run.c. */
#include "cli/cli.h"

int main(int argc, char **argv) { return cli_main(argc, argv); }
