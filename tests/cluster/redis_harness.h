/* redis_harness: a private redis-server for one test (label cluster).
 *
 * rh_start picks a free loopback port (binds 127.0.0.1:0, reads the port, closes), starts
 * `redis-server` there in a temporary directory with no persistence of its own (--save ''
 * --appendonly no) unless asked, and polls PING until it answers (at most RH_START_MS). rh_stop
 * always ends it (SIGTERM, then SIGKILL after RH_STOP_MS) and removes the directory; call it from
 * the test's teardown so a failed test leaves nothing running. rh_restart stops and starts it
 * again on the same port and directory (Redis restarted mid-run). */
#ifndef BATTLED_TESTS_CLUSTER_REDIS_HARNESS_H
#define BATTLED_TESTS_CLUSTER_REDIS_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RH_START_MS 10000 /* for redis-server to answer PING */
#define RH_STOP_MS 5000   /* for it to exit after SIGTERM */

typedef struct rh_server {
    pid_t pid;           /* 0 when not running */
    uint16_t port;
    bool aof;            /* --appendonly yes --appendfsync always (survives rh_restart) */
    char dir[64];
    char address[32];    /* "127.0.0.1:<port>", for persistence.redis_address */
} rh_server;

/* Starts a server (r->aof chosen by the caller, the rest filled in). false on failure. */
bool rh_start(rh_server *r);
/* Stops it with sig (SIGTERM: clean; SIGKILL: a crash) and waits, bounded; the directory stays. */
void rh_halt(rh_server *r, int sig);
/* rh_halt(SIGTERM), then the same port and directory again. false on failure. */
bool rh_restart(rh_server *r);
/* Stops it if running and removes its directory. Safe to call twice. */
void rh_stop(rh_server *r);
/* A blocking client for assertions (NULL on failure; redisFree it). */
redisContext *rh_connect(const rh_server *r);

#endif
