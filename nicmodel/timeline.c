/*
 * --timeline FILE: every busy interval of every NIC engine and link as a
 * Chrome trace-event file (the JSON "traceEvents" format that Perfetto and
 * chrome://tracing open).  One process per node with one thread per engine
 * (NIC processor, host-DMA, send-DMA, receive-DMA, PCI bus), and one
 * process "fabric" with a thread per link.  Each interval is a complete
 * event ("ph":"X") written when the model schedules it; an engine's
 * intervals are scheduled one after the other, so each track is in time
 * order and its durations add up to the busy time in the statistics.
 * Times are microseconds with picosecond digits.
 */
#include <inttypes.h>
#include <stdio.h>

#include "nicmodel/nic_int.h"

static const char *const engine_names[NICM_TL_NENGINES] = {
    [NICM_TL_CPU] = "NIC processor", [NICM_TL_HDMA] = "host-DMA",
    [NICM_TL_SDMA] = "send-DMA",     [NICM_TL_RDMA] = "receive-DMA",
    [NICM_TL_BUS] = "PCI bus",
};

static void meta(FILE *f, int pid, int tid, const char *what,
                 const char *name)
{
    fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"%s\","
               "\"args\":{\"name\":\"",
            pid, tid, what);
    for (const char *s = name; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    fputs("\"}}", f);
}

void nicm_timeline_start(nicm_cluster *cl, FILE *f)
{
    cl->tl = f;
    if (!f)
        return;
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
          "{\"ph\":\"M\",\"pid\":0,\"tid\":0,\"name\":\"process_name\","
          "\"args\":{\"name\":\"vmmcsim\"}}",
          f);
    char name[64];
    for (int i = 0; i < cl->nnodes; i++) {
        snprintf(name, sizeof name, "node %d", i);
        meta(f, i + 1, 0, "process_name", name);
        for (int e = 0; e < NICM_TL_NENGINES; e++)
            meta(f, i + 1, e + 1, "thread_name", engine_names[e]);
    }
    meta(f, cl->nnodes + 1, 0, "process_name", "fabric");
    for (size_t l = 0; l < cl->topo.nlinks; l++)
        meta(f, cl->nnodes + 1, (int)l + 1, "thread_name",
             cl->topo.link_name ? cl->topo.link_name[l] : "link");
}

void nicm__tl_event(struct nicm_cluster *cl, int pid, int tid,
                    const char *name, hw_time_t start, hw_time_t end)
{
    if (end <= start)
        return; /* nothing to draw; adds nothing to the busy time */
    fprintf(cl->tl,
            ",\n{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":\"%s\","
            "\"ts\":%" PRId64 ".%06" PRId64 ",\"dur\":%" PRId64 ".%06" PRId64
            "}",
            pid, tid, name, start / HW_US, start % HW_US,
            (end - start) / HW_US, (end - start) % HW_US);
}

int nicm_timeline_finish(nicm_cluster *cl)
{
    FILE *f = cl->tl;
    if (!f)
        return 0;
    fputs("\n]}\n", f);
    cl->tl = NULL;
    return ferror(f) ? -1 : 0;
}
