/* bb_sys: the resources a run used: the bench's own CPU (getrusage), and the server's CPU time and
 * resident memory, read from /proc/<pid> when the pid is known, else from the server's admin
 * /metrics (process_cpu_seconds_total, process_resident_memory_bytes) when it is reachable. */
#ifndef BATTLED_BENCH_BB_SYS_H
#define BATTLED_BENCH_BB_SYS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BB_ADMIN_TIMEOUT_MS 500 /* one /metrics request; past it the figures are left out */
#define BB_ADMIN_MAX 262144     /* bytes of /metrics read at most */

typedef struct bb_proc {
    bool ok;             /* the figures below were read */
    double cpu_s;        /* user + system CPU seconds so far */
    uint64_t rss;        /* resident set size, bytes */
    uint64_t rss_peak;   /* VmHWM when read from /proc, else = rss */
    int threads;         /* 0 when unknown */
} bb_proc;

/* This process's CPU seconds (user + system, all threads). */
double bb_sys_self_cpu(void);

/* Reads /proc/<pid>/stat and /proc/<pid>/status. */
bb_proc bb_sys_proc(pid_t pid);

/* GET /metrics from the admin endpoint; ok=false when it cannot be reached or lacks the figures. */
bb_proc bb_sys_admin(const struct sockaddr_in *admin);

/* Monotonic seconds. */
double bb_sys_now(void);

#endif
