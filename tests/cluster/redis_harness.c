/* redis_harness: see redis_harness.h. */
#include "tests/cluster/redis_harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* A port the kernel just gave out on 127.0.0.1 (0 on failure). Another process may take it
 * before redis-server binds it; rh_start then tries again. */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

redisContext *rh_connect(const rh_server *r)
{
    struct timeval tv = {.tv_sec = 1};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c)
        redisSetTimeout(c, tv);
    return c;
}

static bool answers(const rh_server *r)
{
    redisContext *c = rh_connect(r);
    if (!c)
        return false;
    redisReply *rep = redisCommand(c, "PING");
    bool ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return ok;
}

static bool spawn(rh_server *r)
{
    char port[8], log[96];
    snprintf(port, sizeof port, "%u", r->port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        /* A test that dies (a crash, ctest's timeout) takes this child with it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(124);
        const char *aof = r->aof ? "yes" : "no";
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", aof, "--appendfsync", "always", "--dir", r->dir,
               "--logfile", log, "--loglevel", "verbose", "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    uint64_t end = now_ms() + RH_START_MS;
    while (now_ms() < end) {
        if (answers(r))
            return true;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) { /* exited: port taken, or no redis-server */
            r->pid = 0;
            return false;
        }
        nap_ms(20);
    }
    rh_halt(r, SIGKILL);
    return false;
}

bool rh_start(rh_server *r)
{
    bool aof = r->aof;
    memset(r, 0, sizeof *r);
    r->aof = aof;
    snprintf(r->dir, sizeof r->dir, "/tmp/battled-redis-XXXXXX");
    if (!mkdtemp(r->dir))
        return false;
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = free_port();
        snprintf(r->address, sizeof r->address, "127.0.0.1:%u", r->port);
        if (r->port && spawn(r))
            return true;
    }
    fprintf(stderr, "redis_harness: redis-server did not start (is it installed?)\n");
    rh_stop(r);
    return false;
}

void rh_halt(rh_server *r, int sig)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, sig);
    uint64_t end = now_ms() + RH_STOP_MS;
    int st;
    while (waitpid(r->pid, &st, WNOHANG) == 0) {
        if (now_ms() > end) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &st, 0);
            break;
        }
        nap_ms(10);
    }
    r->pid = 0;
}

bool rh_restart(rh_server *r)
{
    rh_halt(r, SIGTERM);
    return spawn(r);
}

void rh_stop(rh_server *r)
{
    rh_halt(r, SIGTERM);
    if (!r->dir[0])
        return;
    if (getenv("RH_DUMP")) { /* debugging: the server's log on stderr */
        char p[128], line[512];
        snprintf(p, sizeof p, "%s/redis.log", r->dir);
        FILE *f = fopen(p, "r");
        while (f && fgets(line, sizeof line, f))
            fputs(line, stderr);
        if (f)
            fclose(f);
    }
    DIR *d = opendir(r->dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(p, sizeof p, "%s/%s", r->dir, e->d_name);
                if (unlink(p) != 0 && errno == EISDIR) {
                    /* Redis 7 keeps its AOF in a folder */
                    DIR *sd = opendir(p);
                    struct dirent *se;
                    char q[1024];
                    while (sd && (se = readdir(sd)))
                        if (se->d_name[0] != '.') {
                            snprintf(q, sizeof q, "%s/%s", p, se->d_name);
                            unlink(q);
                        }
                    if (sd)
                        closedir(sd);
                    rmdir(p);
                }
            }
        closedir(d);
    }
    rmdir(r->dir);
    r->dir[0] = '\0';
}
