/* The vmmcsim executable: see cli/cli_run.c. */
#include "cli/cli.h"
#include "util/layout.h"

int main(int argc, char **argv)
{
    vs_stable_layout(argv);
    return cli_main(argc, argv);
}
