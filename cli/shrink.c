#include "cli/sweep.h"
int sweep__shrink(struct sweep *sw) { (void)sw; return 0; }
