/*
 * Logging for every layer: LOG(module, level, fmt, ...).  Levels are set per
 * module from the command line (--log vmmc=debug,nicm=info) or from the
 * environment variable VMMCSIM_LOG with the same syntax.  The sink is stderr;
 * the backend registers a stamp function so that each line carries the
 * simulated time and node on the simulator (wall time and pid on an emulator).
 * Tests run with logging off, the default.
 */
#ifndef VS_LOG_H
#define VS_LOG_H

#include <stddef.h>

enum log_level { LOG_OFF = 0, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

enum log_module { LOG_SIM, LOG_NICM, LOG_VMMC, LOG_WL, LOG_CLI, LOG_NMODULES_ };

extern enum log_level log__levels[LOG_NMODULES_];

/* Writes the stamp for a log line into buf (at most len bytes). */
typedef void (*log_stamp_fn)(char *buf, size_t len);

void log_set_stamp(log_stamp_fn fn);
/* Parses "mod=level,mod=level" (modules: sim nicm vmmc wl cli all).  Returns
 * 0, or a negative vs_err on a bad spec. */
int log_parse_levels(const char *spec);
void log__emit(enum log_module m, enum log_level l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG(mod, lvl, ...)                                                  \
    do {                                                                    \
        if (log__levels[LOG_##mod] >= LOG_##lvl)                            \
            log__emit(LOG_##mod, LOG_##lvl, __VA_ARGS__);                   \
    } while (0)

#endif
