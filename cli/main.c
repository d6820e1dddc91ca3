/*
 * The vmmcsim executable: see cli/cli_run.c.
 *
 * It turns off address randomisation by re-executing itself (util/layout.c)
 * before anything heavy is loaded: the simulator (libvmmcsim.so, and with
 * it SimGrid and ns-3, whose relocations and constructors take tens of
 * milliseconds) is opened with dlopen afterwards, so a run loads it once,
 * not once before the re-execution and again after it.  Opened with
 * RTLD_GLOBAL, it is the one copy the programs of vmmcsim exec use too.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/layout.h"

int main(int argc, char **argv)
{
    vs_stable_layout(argv);
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    const char *lib = "libvmmcsim.so";
    if (n > 0) {
        path[n] = 0;
        char *slash = strrchr(path, '/');
        if (slash && (size_t)(slash + 1 - path) + strlen(lib) < sizeof path) {
            strcpy(slash + 1, lib);
            lib = path;
        }
    }
    void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "vmmcsim: cannot load the simulator: %s\n",
                dlerror());
        return 70;
    }
    int (*cli_main)(int, char **);
    *(void **)&cli_main = dlsym(h, "cli_main");
    if (!cli_main) {
        fprintf(stderr, "vmmcsim: %s has no cli_main: %s\n", lib, dlerror());
        return 70;
    }
    return cli_main(argc, argv);
}
