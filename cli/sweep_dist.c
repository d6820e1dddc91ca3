/*
 * A sweep spread over a Slurm job array (vmmcsim sweep --emit-slurm DIR),
 * and the results gathered back (--merge DIR).
 *
 * DIR/scenario     the sweep: seed range, number of tasks, and the
 *                  scenario's arguments, one per line;
 * DIR/sweep.sbatch the job array: task K runs its own slice of the seeds
 *                  as a local sweep with --results DIR/results/task-K.tsv;
 * DIR/results/     one results file per task:
 *                    # vmmcsim sweep results 1
 *                    SEED<TAB>STATUS<TAB>INVARIANT or -<TAB>MESSAGE
 *                    # end COUNT WALL_SECONDS
 *                  the end line is written last, so a task that died
 *                  leaves a file --merge recognises as incomplete.
 * --merge reads the scenario and every task's results and reports them as
 * the local sweep would (summary, --json, --junit, reproducers).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "cli/sweep.h"

#define bad(...) cli__error("sweep: ", __VA_ARGS__)

#define RESULTS_MAGIC "# vmmcsim sweep results 1"
#define SCENARIO_MAGIC "# vmmcsim sweep scenario 1"

/* Task k of n's slice of [first, last]: as even as can be. */
static void slice(uint64_t first, uint64_t last, int n, int k, uint64_t *a,
                  uint64_t *b)
{
    uint64_t total = last - first + 1, per = total / (uint64_t)n,
             extra = total % (uint64_t)n, uk = (uint64_t)k;
    *a = first + uk * per + (uk < extra ? uk : extra);
    *b = *a + per + (uk < extra) - 1;
}

int sweep__write_results(const struct sweep *sw)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.part", sw->results);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return bad("--results %s: cannot write: %s", sw->results,
                   strerror(errno));
    fprintf(f, RESULTS_MAGIC "\n");
    for (size_t i = 0; i < sw->nres; i++) {
        const struct sweep_result *r = &sw->res[i];
        fprintf(f, "%" PRIu64 "\t%d\t%s\t", r->seed, r->status,
                r->invariant ? r->invariant : "-");
        for (const char *m = r->invariant ? r->message : ""; *m; m++)
            fputc(*m == '\t' || *m == '\n' ? ' ' : *m, f);
        fputc('\n', f);
    }
    fprintf(f, "# end %zu %.3f\n", sw->nres, sw->wall);
    if (fclose(f) || rename(tmp, sw->results))
        return bad("--results %s: write failed: %s", sw->results,
                   strerror(errno));
    return 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0777) && errno != EEXIST)
        return -1;
    struct stat st;
    return stat(path, &st) || !S_ISDIR(st.st_mode) ? -1 : 0;
}

/* Writes s single-quoted for the shell. */
static void shell_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* The vmmcsim binary for the job script: this one when it is vmmcsim,
 * else the vmmcsim beside it (the test runner), else the one on PATH. */
static void program_path(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    snprintf(buf, len, "vmmcsim");
    if (n <= 0)
        return;
    exe[n] = 0;
    if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
        exe[n - 10] = 0; /* rebuilt while it runs */
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    if (!strcmp(slash + 1, "vmmcsim")) {
        snprintf(buf, len, "%s", exe);
        return;
    }
    if ((size_t)(slash - exe) + 9 > len)
        return;
    memcpy(buf, exe, (size_t)(slash - exe));
    memcpy(buf + (slash - exe), "/vmmcsim", 9);
    if (access(buf, X_OK))
        snprintf(buf, len, "vmmcsim");
}

int sweep__emit_slurm(struct sweep *sw)
{
    char dir[PATH_MAX], path[PATH_MAX + 32], cwd[PATH_MAX], prog[PATH_MAX];
    uint64_t nseeds = sw->last - sw->first + 1;
    if ((uint64_t)sw->tasks > nseeds)
        sw->tasks = (int)nseeds;
    if (make_dir(sw->emit_dir) || !realpath(sw->emit_dir, dir))
        return bad("--emit-slurm %s: cannot create the directory: %s",
                   sw->emit_dir, strerror(errno));
    snprintf(path, sizeof path, "%s/results", dir);
    if (make_dir(path))
        return bad("--emit-slurm %s: cannot create %s: %s", sw->emit_dir,
                   path, strerror(errno));
    /* Results of an earlier sweep would be merged into this one. */
    DIR *d = opendir(path);
    struct dirent *e;
    int stale = 0;
    while (d && (e = readdir(d)))
        stale |= strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    if (stale)
        return bad("--emit-slurm %s: %s holds the results of an earlier "
                   "sweep: remove them or choose another folder",
                   sw->emit_dir, path);
    snprintf(path, sizeof path, "%s/logs", dir);
    if (make_dir(path))
        return bad("--emit-slurm %s: cannot create %s: %s", sw->emit_dir,
                   path, strerror(errno));
    if (!getcwd(cwd, sizeof cwd))
        return bad("--emit-slurm: cannot read the working directory: %s",
                   strerror(errno));
    program_path(prog, sizeof prog);

    snprintf(path, sizeof path, "%s/scenario", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return bad("--emit-slurm %s: cannot write %s: %s", sw->emit_dir, path,
                   strerror(errno));
    fprintf(f, SCENARIO_MAGIC "\nseeds %" PRIu64 "-%" PRIu64 "\ntasks %d\n",
            sw->first, sw->last, sw->tasks);
    for (int i = 0; i < SWEEP_NARGS(sw); i++)
        fprintf(f, "arg %s\n", SWEEP_ARGS(sw)[i]);
    if (fclose(f))
        return bad("--emit-slurm %s: write failed", path);

    snprintf(path, sizeof path, "%s/sweep.sbatch", dir);
    f = fopen(path, "w");
    if (!f)
        return bad("--emit-slurm %s: cannot write %s: %s", sw->emit_dir, path,
                   strerror(errno));
    fprintf(f, "#!/bin/bash\n"
               "# vmmcsim sweep of seeds %" PRIu64 "-%" PRIu64
               " as a job array of %d tasks.\n"
               "# Submit: sbatch --wait %s; then vmmcsim sweep --merge %s\n"
               "#SBATCH --job-name=vmmcsim-sweep\n"
               "#SBATCH --array=0-%d\n"
               "#SBATCH --ntasks=1\n"
               "#SBATCH --output=%s/logs/task-%%a.out\n"
               "set -eu\n"
               "cd ",
            sw->first, sw->last, sw->tasks, path, dir, sw->tasks - 1, dir);
    shell_quote(f, cwd);
    fprintf(f, "\ncase \"$SLURM_ARRAY_TASK_ID\" in\n");
    for (int k = 0; k < sw->tasks; k++) {
        uint64_t a, b;
        slice(sw->first, sw->last, sw->tasks, k, &a, &b);
        fprintf(f, "%d) SEEDS=%" PRIu64 "-%" PRIu64 " ;;\n", k, a, b);
    }
    fprintf(f, "*) echo \"unknown task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 "
               ";;\nesac\n");
    /* A failing seed is a result, not a failed task: exit 1 is kept in the
     * results file, and only a task that could not run fails the job. */
    fputs("rc=0\n", f);
    shell_quote(f, prog);
    fprintf(f, " sweep --seeds \"$SEEDS\" --jobs \"${SLURM_CPUS_ON_NODE:-1}\" "
               "--results ");
    char res[PATH_MAX + 64];
    snprintf(res, sizeof res, "%s/results/task-", dir);
    shell_quote(f, res);
    fputs("\"$SLURM_ARRAY_TASK_ID\".tsv", f);
    for (int i = 0; i < SWEEP_NARGS(sw); i++) {
        fputc(' ', f);
        shell_quote(f, SWEEP_ARGS(sw)[i]);
    }
    fputs(" >/dev/null || rc=$?\n[ \"$rc\" -le 1 ] || exit \"$rc\"\n", f);
    if (fclose(f) || chmod(path, 0755))
        return bad("--emit-slurm %s: write failed", path);
    printf("sbatch --wait %s\n", path);
    return 0;
}

/* Reads "KEY VALUE" lines of DIR/scenario into sw. */
static int read_scenario(struct sweep *sw, const char *dir)
{
    char path[PATH_MAX + 32], line[4096];
    snprintf(path, sizeof path, "%s/scenario", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return bad("--merge %s: cannot read %s: %s", dir, path,
                   strerror(errno));
    int lineno = 0, seeds = 0, tasks = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = 0;
        if (lineno == 1) {
            if (strcmp(line, SCENARIO_MAGIC))
                goto bad_line;
            continue;
        }
        if (!strncmp(line, "seeds ", 6)) {
            char *end;
            sw->first = strtoull(line + 6, &end, 10);
            if (*end != '-')
                goto bad_line;
            sw->last = strtoull(end + 1, &end, 10);
            if (*end || sw->last < sw->first ||
                sw->last - sw->first >= 10000000)
                goto bad_line;
            seeds = 1;
        } else if (!strncmp(line, "tasks ", 6)) {
            char *end;
            long t = strtol(line + 6, &end, 10);
            if (*end || t < 1 || t > 100000)
                goto bad_line;
            sw->tasks = (int)t;
            tasks = 1;
        } else if (!strncmp(line, "arg ", 4)) {
            char **v = realloc(sw->run_argv,
                               ((size_t)sw->run_argc + 2) * sizeof *v);
            char *a = strdup(line + 4);
            if (!v || !a) {
                free(a);
                if (v)
                    sw->run_argv = v;
                fclose(f);
                return bad("out of memory");
            }
            sw->run_argv = v;
            v[sw->run_argc++] = a;
        } else {
            goto bad_line;
        }
    }
    fclose(f);
    if (!seeds || !tasks || !SWEEP_NARGS(sw))
        return bad("--merge %s: %s is incomplete (no seeds, tasks or "
                   "arguments)",
                   dir, path);
    return 0;
bad_line:
    fclose(f);
    return bad("--merge %s: %s:%d: not a vmmcsim sweep scenario line", dir,
               path, lineno);
}

/* Reads task k's results into sw->res; 0, or 2 with a message. */
static int read_task(struct sweep *sw, const char *dir, int k, double *wall)
{
    uint64_t a, b;
    slice(sw->first, sw->last, sw->tasks, k, &a, &b);
    char path[PATH_MAX + 64], line[512];
    snprintf(path, sizeof path, "%s/results/task-%d.tsv", dir, k);
    FILE *f = fopen(path, "r");
    if (!f)
        return bad("--merge %s: task %d (seeds %" PRIu64 "-%" PRIu64
                   ") has no results: %s: %s",
                   dir, k, a, b, path, strerror(errno));
    int lineno = 0, ended = 0;
    size_t count = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = 0;
        if (ended)
            goto bad_line;
        if (lineno == 1) {
            if (strcmp(line, RESULTS_MAGIC))
                goto bad_line;
            continue;
        }
        if (!strncmp(line, "# end ", 6)) {
            char *end;
            size_t n = strtoull(line + 6, &end, 10);
            double w = strtod(end, &end);
            if (*end || n != count || n != b - a + 1)
                goto bad_line;
            if (w > *wall)
                *wall = w;
            ended = 1;
            continue;
        }
        char *end, *inv, *msg;
        uint64_t seed = strtoull(line, &end, 10);
        if (*end != '\t' || seed < a || seed > b)
            goto bad_line;
        struct sweep_result *r = &sw->res[seed - sw->first];
        if (r->done)
            goto bad_line; /* twice */
        r->status = (int)strtol(end + 1, &inv, 10);
        if (*inv != '\t' || !(msg = strchr(inv + 1, '\t')))
            goto bad_line;
        *msg++ = 0;
        inv++;
        r->invariant = NULL;
        if (strcmp(inv, "-")) {
            for (int i = 0; i < SWEEP_NKINDS; i++)
                if (!strcmp(inv, sweep_kinds[i]))
                    r->invariant = sweep_kinds[i];
            if (!r->invariant)
                goto bad_line;
            snprintf(r->message, sizeof r->message, "%s", msg);
        }
        r->done = 1;
        count++;
    }
    fclose(f);
    if (!ended)
        return bad("--merge %s: task %d (seeds %" PRIu64 "-%" PRIu64
                   ") is incomplete: %s has no end line",
                   dir, k, a, b, path);
    return 0;
bad_line:
    fclose(f);
    return bad("--merge %s: task %d (seeds %" PRIu64 "-%" PRIu64
               "): %s:%d: malformed or out of place",
               dir, k, a, b, path, lineno);
}

int sweep__merge(struct sweep *sw)
{
    const char *dir = sw->merge_dir;
    int rc = read_scenario(sw, dir);
    if (rc)
        return rc;
    sw->nres = (size_t)(sw->last - sw->first + 1);
    sw->res = calloc(sw->nres, sizeof *sw->res);
    if (!sw->res)
        return bad("out of memory for %zu seeds", sw->nres);
    for (size_t i = 0; i < sw->nres; i++)
        sw->res[i].seed = sw->first + i;
    /* The tasks ran in parallel: the sweep took as long as the slowest. */
    sw->wall = 0;
    for (int k = 0; k < sw->tasks; k++)
        if ((rc = read_task(sw, dir, k, &sw->wall)))
            return rc;
    return 0;
}
