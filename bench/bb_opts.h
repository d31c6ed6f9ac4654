/* bb_opts: battle-bench's settings and its command line. */
#ifndef BATTLED_BENCH_BB_OPTS_H
#define BATTLED_BENCH_BB_OPTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/client/pctls.h"
#include "proto/msg.h"

#define BB_MAX_TARGETS 16        /* --server addresses (each gives its own ephemeral port range) */
#define BB_MAX_SOURCES 64        /* --source / --sources local addresses (likewise) */
#define BB_MAX_SWEEP 32          /* --sweep values */
#define BB_MAX_THREADS 64        /* --threads */
#define BB_MAX_BATTLES 2000000u  /* --battles */
#define BB_MAX_PER_CONN 1000u    /* --per-conn; the server's max_seats_per_conn applies too */
#define BB_MAX_REPEAT 20         /* --repeat */
#define BB_PATH_MAX 512

typedef enum bb_mode {
    BB_MODE_MATCH = 0, /* both seats played by the bench, paired by the server's lobby ("queue") */
    BB_MODE_CREATE,    /* both seats played by the bench: one creates, its partner joins by id */
    BB_MODE_SOLO,      /* one seat against the server's opponent ("create" with vs=ai) */
    BB_MODE_IDLE,      /* connections that say hello and then only ping (memory per connection) */
} bb_mode;

typedef struct bb_opts {
    struct sockaddr_in target[BB_MAX_TARGETS];
    int ntargets;
    char port_file[BB_PATH_MAX];   /* read the port from here (server.port_file) */
    bool allow_remote;             /* permit targets outside 127.0.0.0/8 */
    struct sockaddr_in source[BB_MAX_SOURCES]; /* local addresses, round-robin over connections */
    int nsources;                  /* 0: the kernel picks */
    bool tls;                      /* connect with TLS (the port file's second line) */
    bool tls_insecure;             /* no certificate verification */
    bool ws;                       /* speak WebSocket (battled's ws.listen; wss with tls) */
    char tls_ca[BB_PATH_MAX];      /* PEM of the certificates to trust */
    char tls_name[PC_TLS_NAME_MAX + 1]; /* name the certificate must carry (default localhost) */
    bb_mode mode;
    uint32_t battles;              /* concurrent battles (idle mode: connections) */
    uint32_t per_conn;             /* battles (seats) multiplexed on one connection */
    uint32_t think_ms;             /* pause before each action; 0 = saturation */
    uint32_t jitter_pct;           /* think time varies uniformly by +-jitter_pct % */
    double ramp;                   /* battles started per second; 0 = all at once */
    double duration_s;             /* run length, ramp included */
    double grace_s;                /* after the run: wait this long for running battles to end */
    double warmup_s;               /* steady-state latency counts from ramp end + warmup_s */
    uint64_t max_battles;          /* stop after this many battles ended (0 = no limit) */
    uint32_t battle_timeout_s;     /* a battle running longer is failed (timeout) */
    uint32_t resume_ms;            /* a lost connection's battles are resumed for this long; 0 = no
                                    * resume (a lost connection fails its battles) */
    uint32_t reconnect_max_ms;     /* longest wait between two reconnect attempts */
    int threads;                   /* event loops (one thread each) */
    char ship[PROTO_SHIP_MAX + 1];
    char oship[PROTO_SHIP_MAX + 1];
    uint8_t band;
    char json_path[BB_PATH_MAX];
    char label[64];
    pid_t server_pid;              /* read the server's CPU and RSS from /proc/<pid> */
    struct sockaddr_in admin;      /* GET /metrics for process_* figures; port 0 = off */
    uint32_t sweep[BB_MAX_SWEEP];
    int nsweep;
    int repeat;                    /* runs of each configuration; the report gives the median */
    int progress;                  /* -1 auto (a TTY), 0 off, 1 on */
    uint64_t seed;
} bb_opts;

/* Parses argv into o (defaults first). Returns 0, 1 after printing --help (exit 0), or -1 after
 * printing a clear error to stderr (exit 2). */
int bb_opts_parse(bb_opts *o, int argc, char **argv);

/* Seats one battle needs from the bench: 2 in match/create mode, 1 in solo and idle mode. */
unsigned bb_opts_seats_per_battle(const bb_opts *o);

const char *bb_mode_name(bb_mode m);

/* Fills *to with o's TLS settings (o->tls set); the strings point into o. */
void bb_opts_tls(const bb_opts *o, pc_tls_opts *to);

#endif
