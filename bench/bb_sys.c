/* bb_sys: CPU and memory probes; see bb_sys.h. */
#include "bench/bb_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double bb_sys_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bb_sys_self_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

bb_proc bb_sys_proc(pid_t pid)
{
    bb_proc p;
    memset(&p, 0, sizeof p);
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return p;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* the command name may hold spaces and parentheses: fields start after the last ')' */
    char *q = strrchr(buf, ')');
    if (!q)
        return p;
    unsigned long long ut = 0, st = 0;
    long nthreads = 0;
    /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     * cutime cstime priority nice num_threads */
    if (sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %ld", &ut,
               &st, &nthreads) != 3)
        return p;
    long hz = sysconf(_SC_CLK_TCK);
    p.cpu_s = (double)(ut + st) / (double)(hz > 0 ? hz : 100);
    p.threads = (int)nthreads;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return p;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
            p.rss = kb * 1024;
        else if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            p.rss_peak = kb * 1024;
    }
    fclose(f);
    p.ok = p.rss > 0;
    return p;
}

/* Waits for fd to be ready for events until the deadline. */
static int wait_fd(int fd, short events, double deadline)
{
    double left = deadline - bb_sys_now();
    if (left <= 0)
        return -1;
    struct pollfd pfd = {.fd = fd, .events = events};
    return poll(&pfd, 1, (int)(left * 1000) + 1) == 1 ? 0 : -1;
}

static bool metric(const char *body, const char *name, double *out)
{
    size_t n = strlen(name);
    for (const char *p = body; (p = strstr(p, name)) != NULL; p += n) {
        if ((p != body && p[-1] != '\n') || (p[n] != ' ' && p[n] != '{'))
            continue;
        const char *v = strchr(p + n, ' ');
        if (!v)
            return false;
        *out = strtod(v + 1, NULL);
        return true;
    }
    return false;
}

bb_proc bb_sys_admin(const struct sockaddr_in *admin)
{
    bb_proc p;
    memset(&p, 0, sizeof p);
    if (!admin || admin->sin_port == 0)
        return p;
    double deadline = bb_sys_now() + BB_ADMIN_TIMEOUT_MS / 1000.0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return p;
    char *buf = NULL;
    if (connect(fd, (const struct sockaddr *)admin, sizeof *admin) != 0 && errno != EINPROGRESS)
        goto out;
    if (wait_fd(fd, POLLOUT, deadline) != 0)
        goto out;
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: battled\r\nConnection: close\r\n\r\n";
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
        goto out;
    buf = malloc(BB_ADMIN_MAX + 1);
    if (!buf)
        goto out;
    size_t have = 0;
    while (have < BB_ADMIN_MAX) {
        if (wait_fd(fd, POLLIN, deadline) != 0)
            break;
        ssize_t r = recv(fd, buf + have, BB_ADMIN_MAX - have, 0);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    buf[have] = 0;
    double cpu, rss;
    if (metric(buf, "process_cpu_seconds_total", &cpu) &&
        metric(buf, "process_resident_memory_bytes", &rss)) {
        p.ok = true;
        p.cpu_s = cpu;
        p.rss = p.rss_peak = (uint64_t)rss;
    }
out:
    free(buf);
    close(fd);
    return p;
}
