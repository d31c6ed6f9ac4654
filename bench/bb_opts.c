/* bb_opts: command line; see bb_opts.h. */
#include "bench/bb_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: battle-bench [options]\n"
    "Plays real battles against a battled server and reports success, latency and throughput.\n"
    "\n"
    "  --server ADDR:PORT[,ADDR:PORT...]  server address(es), IPv4 (default 127.0.0.1:7070);\n"
    "                         connections are spread over them (each has its own port range)\n"
    "  --port-file FILE       read the port from FILE (the server's server.port_file)\n"
    "  --allow-remote         permit addresses outside 127.0.0.0/8\n"
    "  --source IP[,IP...]    local addresses to connect from, round-robin over connections\n"
    "                         (e.g. 127.0.0.1,127.0.0.2: each adds a range of ports to one server)\n"
    "  --sources N            the same for 127.0.0.1 .. 127.0.0.N (1..64)\n"
    "  --mode MODE            match (2 players, lobby), create (2 players, create/join),\n"
    "                         solo (against the server's opponent), idle (hello + ping only)\n"
    "                         (default match)\n"
    "  --battles N            concurrent battles; idle mode: connections (default 100)\n"
    "  --per-conn K           battles multiplexed on one connection (default 1)\n"
    "  --think MS             think time before each action; 0 = saturation (default 1000)\n"
    "  --jitter PCT           think time varies by +-PCT %% (default 25)\n"
    "  --ramp R               battles started per second; 0 = all at once (default 1000)\n"
    "  --duration S           run length in seconds, ramp included (default 10)\n"
    "  --max-battles M        stop after M battles ended (default 0: no limit)\n"
    "  --grace S              after the run, wait up to S s for running battles (default 10)\n"
    "  --warmup S             steady-state latency starts S s after the ramp (default 2)\n"
    "  --battle-timeout S     fail a battle running longer than S s (default 300)\n"
    "  --resume MS            after a lost connection (a server restart), reconnect with backoff\n"
    "                         and jitter and resume its battles by token and last seq for up to\n"
    "                         MS ms before they count as failed; 0 = don't (default 30000)\n"
    "  --reconnect-max MS     longest wait between reconnect attempts (default 5000)\n"
    "  --threads T            event-loop threads (default 1)\n"
    "  --ship KEY             our ship (default scout); --opponent KEY: solo opponent\n"
    "  --band NAME            range band adjacent..distant (default short)\n"
    "  --sweep N1,N2,...      run once per concurrency and print the sweep table\n"
    "  --repeat R             run each configuration R times; report the median (default 1)\n"
    "  --json FILE            write the full report as JSON\n"
    "  --label TEXT           scenario name in the report\n"
    "  --server-pid PID       read the server's CPU and RSS from /proc/PID\n"
    "  --admin ADDR:PORT      read process_* figures from the server's /metrics\n"
    "  --progress / --quiet   force the live progress line on or off (default: on a TTY)\n"
    "  --seed N               think-time jitter seed (default: fixed)\n"
    "  --tls                  connect with TLS (with --port-file: its second line, the TLS port);\n"
    "                         needs --tls-ca FILE or --tls-insecure\n"
    "  --tls-ca FILE          trust the certificates in PEM FILE (e.g. the server's self-signed\n"
    "                         cert.pem from scripts/gen-dev-cert)\n"
    "  --tls-name NAME        name the server's certificate must carry (default localhost)\n"
    "  --tls-insecure         accept any certificate (development only: no verification)\n"
    "  --ws                   speak WebSocket to the server's ws.listen port (with --tls its\n"
    "                         ws.tls_listen port): each request one binary message on /ws;\n"
    "                         --server names that port; --port-file takes ws.port_file\n"
    "  --help\n";

/* Fills o with the defaults (see --help). */
static void opts_default(bb_opts *o)
{
    memset(o, 0, sizeof *o);
    o->mode = BB_MODE_MATCH;
    o->battles = 100;
    o->per_conn = 1;
    o->think_ms = 1000;
    o->jitter_pct = 25;
    o->ramp = 1000;
    o->duration_s = 10;
    o->grace_s = 10;
    o->warmup_s = 2;
    o->battle_timeout_s = 300;
    o->resume_ms = 30000;
    o->reconnect_max_ms = 5000;
    o->threads = 1;
    snprintf(o->ship, sizeof o->ship, "scout");
    o->band = PROTO_BAND_SHORT;
    o->repeat = 1;
    o->progress = -1;
    o->seed = 0x9e3779b97f4a7c15ull;
}

const char *bb_mode_name(bb_mode m)
{
    switch (m) {
    case BB_MODE_MATCH: return "match";
    case BB_MODE_CREATE: return "create";
    case BB_MODE_SOLO: return "solo";
    case BB_MODE_IDLE: return "idle";
    }
    return "?";
}

unsigned bb_opts_seats_per_battle(const bb_opts *o)
{
    return o->mode == BB_MODE_MATCH || o->mode == BB_MODE_CREATE ? 2u : 1u;
}

static int bad(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "battle-bench: %s %s: %s (see --help)\n", opt, val ? val : "", why);
    return -1;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    if (!s || !*s)
        return -1;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* "a.b.c.d:port" (IPv4 literal). */
static int parse_addr(const char *s, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host || colon == s)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    uint64_t port;
    if (parse_u64(colon + 1, 0, 65535, &port) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static bool loopback(const struct sockaddr_in *a)
{
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

static int parse_targets(bb_opts *o, const char *val)
{
    char buf[1024];
    if (strlen(val) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", val);
    o->ntargets = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->ntargets == BB_MAX_TARGETS || parse_addr(t, &o->target[o->ntargets]) != 0)
            return -1;
        o->ntargets++;
    }
    return o->ntargets > 0 ? 0 : -1;
}

/* "a.b.c.d[,a.b.c.d...]" (IPv4 literals, no port). */
static int parse_sources(bb_opts *o, const char *val)
{
    char buf[2048];
    if (strlen(val) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", val);
    o->nsources = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        struct sockaddr_in *a = &o->source[o->nsources];
        if (o->nsources == BB_MAX_SOURCES)
            return -1;
        memset(a, 0, sizeof *a);
        a->sin_family = AF_INET;
        if (inet_pton(AF_INET, t, &a->sin_addr) != 1)
            return -1;
        o->nsources++;
    }
    return o->nsources > 0 ? 0 : -1;
}

/* 127.0.0.1 .. 127.0.0.n */
static void loopback_sources(bb_opts *o, int n)
{
    o->nsources = n;
    for (int i = 0; i < n; i++) {
        memset(&o->source[i], 0, sizeof o->source[i]);
        o->source[i].sin_family = AF_INET;
        o->source[i].sin_addr.s_addr = htonl(0x7f000000u + (uint32_t)i + 1u);
    }
}

/* Builds the TLS settings once, so a missing or bad CA file is a clear error before the run. */
static int check_tls(const bb_opts *o)
{
    if (!o->tls) {
        if (o->tls_insecure || o->tls_ca[0] || o->tls_name[0])
            return bad("--tls-ca/--tls-name/--tls-insecure", NULL, "need --tls");
        return 0;
    }
    if (o->tls_insecure && o->tls_ca[0])
        return bad("--tls-insecure", NULL, "contradicts --tls-ca: give one of them");
    if (!o->tls_insecure && !o->tls_ca[0])
        return bad("--tls", NULL, "needs --tls-ca FILE to verify the server (or --tls-insecure)");
    char why[PC_TLS_ERR_MAX];
    pc_tls_opts to;
    bb_opts_tls(o, &to);
    pc_tls_config *cfg = pc_tls_config_new(&to, why, sizeof why);
    if (!cfg)
        return bad("--tls-ca", o->tls_ca, why);
    pc_tls_config_free(cfg);
    return 0;
}

void bb_opts_tls(const bb_opts *o, pc_tls_opts *to)
{
    memset(to, 0, sizeof *to);
    to->insecure = o->tls_insecure;
    to->ca_file = o->tls_ca[0] ? o->tls_ca : NULL;
    to->server_name = o->tls_name[0] ? o->tls_name : "localhost";
}

static int parse_sweep(bb_opts *o, const char *val)
{
    char buf[1024];
    if (strlen(val) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", val);
    o->nsweep = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (o->nsweep == BB_MAX_SWEEP || parse_u64(t, 1, BB_MAX_BATTLES, &v) != 0)
            return -1;
        o->sweep[o->nsweep++] = (uint32_t)v;
    }
    return o->nsweep > 0 ? 0 : -1;
}

static int parse_band(const char *s, uint8_t *out)
{
    for (int b = 0; b < PROTO_BAND_COUNT; b++)
        if (strcmp(proto_band_name(b), s) == 0) {
            *out = (uint8_t)b;
            return 0;
        }
    return -1;
}

static int parse_ship(const char *s, char *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > PROTO_SHIP_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return -1;
    memcpy(out, s, n + 1);
    return 0;
}

static int read_port_file(bb_opts *o)
{
    FILE *f = fopen(o->port_file, "r");
    if (!f) {
        fprintf(stderr, "battle-bench: --port-file %s: %s\n", o->port_file, strerror(errno));
        return -1;
    }
    /* line 1: the clear-text port; line 2: the TLS port (when tls.listen is set). ws.port_file has
     * the same shape (ws, then wss). */
    char line[32] = {0};
    uint64_t port = 0;
    bool ok = fgets(line, sizeof line, f) != NULL;
    if (ok && o->tls)
        ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    if (!ok && o->tls)
        return bad("--port-file", o->port_file, "has no second line (TLS port): is tls.listen set?");
    if (!ok || parse_u64(line, 1, 65535, &port) != 0)
        return bad("--port-file", o->port_file, "does not hold a port number");
    for (int i = 0; i < o->ntargets; i++)
        o->target[i].sin_port = htons((uint16_t)port);
    return 0;
}

int bb_opts_parse(bb_opts *o, int argc, char **argv)
{
    opts_default(o);
    parse_targets(o, "127.0.0.1:7070");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        /* flags without a value */
        if (strcmp(a, "--allow-remote") == 0) { o->allow_remote = true; continue; }
        if (strcmp(a, "--progress") == 0) { o->progress = 1; continue; }
        if (strcmp(a, "--quiet") == 0) { o->progress = 0; continue; }
        if (strcmp(a, "--tls") == 0) { o->tls = true; continue; }
        if (strcmp(a, "--tls-insecure") == 0) { o->tls_insecure = true; continue; }
        if (strcmp(a, "--ws") == 0) { o->ws = true; continue; }
        if (strncmp(a, "--", 2) != 0)
            return bad(a, NULL, "unexpected argument");
        if (i + 1 >= argc)
            return bad(a, NULL, "needs a value");
        const char *v = argv[++i];
        uint64_t u;
        if (strcmp(a, "--server") == 0) {
            if (parse_targets(o, v) != 0)
                return bad(a, v, "expected IPv4:port[,IPv4:port...], at most 16");
        } else if (strcmp(a, "--source") == 0) {
            if (parse_sources(o, v) != 0)
                return bad(a, v, "expected IPv4[,IPv4...], at most 64");
        } else if (strcmp(a, "--sources") == 0) {
            if (parse_u64(v, 1, BB_MAX_SOURCES, &u) != 0)
                return bad(a, v, "expected 1..64 (127.0.0.1 .. 127.0.0.N)");
            loopback_sources(o, (int)u);
        } else if (strcmp(a, "--tls-ca") == 0) {
            if (strlen(v) >= sizeof o->tls_ca)
                return bad(a, v, "path too long");
            snprintf(o->tls_ca, sizeof o->tls_ca, "%s", v);
        } else if (strcmp(a, "--tls-name") == 0) {
            if (!*v || strlen(v) >= sizeof o->tls_name)
                return bad(a, v, "expected a DNS name of 1..255 characters");
            snprintf(o->tls_name, sizeof o->tls_name, "%s", v);
        } else if (strcmp(a, "--port-file") == 0) {
            if (strlen(v) >= sizeof o->port_file)
                return bad(a, v, "path too long");
            snprintf(o->port_file, sizeof o->port_file, "%s", v);
        } else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "match") == 0) o->mode = BB_MODE_MATCH;
            else if (strcmp(v, "create") == 0) o->mode = BB_MODE_CREATE;
            else if (strcmp(v, "solo") == 0) o->mode = BB_MODE_SOLO;
            else if (strcmp(v, "idle") == 0) o->mode = BB_MODE_IDLE;
            else return bad(a, v, "expected match, create, solo or idle");
        } else if (strcmp(a, "--battles") == 0) {
            if (parse_u64(v, 1, BB_MAX_BATTLES, &u) != 0)
                return bad(a, v, "expected 1..2000000");
            o->battles = (uint32_t)u;
        } else if (strcmp(a, "--per-conn") == 0) {
            if (parse_u64(v, 1, BB_MAX_PER_CONN, &u) != 0)
                return bad(a, v, "expected 1..1000");
            o->per_conn = (uint32_t)u;
        } else if (strcmp(a, "--think") == 0) {
            if (parse_u64(v, 0, 600000, &u) != 0)
                return bad(a, v, "expected 0..600000 ms");
            o->think_ms = (uint32_t)u;
        } else if (strcmp(a, "--jitter") == 0) {
            if (parse_u64(v, 0, 100, &u) != 0)
                return bad(a, v, "expected 0..100 %");
            o->jitter_pct = (uint32_t)u;
        } else if (strcmp(a, "--ramp") == 0) {
            if (parse_double(v, 0, 1e7, &o->ramp) != 0)
                return bad(a, v, "expected 0..1e7 battles/s");
        } else if (strcmp(a, "--duration") == 0) {
            if (parse_double(v, 0.1, 86400, &o->duration_s) != 0)
                return bad(a, v, "expected 0.1..86400 s");
        } else if (strcmp(a, "--grace") == 0) {
            if (parse_double(v, 0, 3600, &o->grace_s) != 0)
                return bad(a, v, "expected 0..3600 s");
        } else if (strcmp(a, "--warmup") == 0) {
            if (parse_double(v, 0, 3600, &o->warmup_s) != 0)
                return bad(a, v, "expected 0..3600 s");
        } else if (strcmp(a, "--max-battles") == 0) {
            if (parse_u64(v, 0, UINT64_MAX, &u) != 0)
                return bad(a, v, "expected a count");
            o->max_battles = u;
        } else if (strcmp(a, "--battle-timeout") == 0) {
            if (parse_u64(v, 1, 86400, &u) != 0)
                return bad(a, v, "expected 1..86400 s");
            o->battle_timeout_s = (uint32_t)u;
        } else if (strcmp(a, "--resume") == 0) {
            if (parse_u64(v, 0, 3600000, &u) != 0)
                return bad(a, v, "expected 0..3600000 ms");
            o->resume_ms = (uint32_t)u;
        } else if (strcmp(a, "--reconnect-max") == 0) {
            if (parse_u64(v, 100, 600000, &u) != 0)
                return bad(a, v, "expected 100..600000 ms");
            o->reconnect_max_ms = (uint32_t)u;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_u64(v, 1, BB_MAX_THREADS, &u) != 0)
                return bad(a, v, "expected 1..64");
            o->threads = (int)u;
        } else if (strcmp(a, "--ship") == 0) {
            if (parse_ship(v, o->ship) != 0)
                return bad(a, v, "expected a ship key [a-z0-9_]{1,32}");
        } else if (strcmp(a, "--opponent") == 0) {
            if (parse_ship(v, o->oship) != 0)
                return bad(a, v, "expected a ship key [a-z0-9_]{1,32}");
        } else if (strcmp(a, "--band") == 0) {
            if (parse_band(v, &o->band) != 0)
                return bad(a, v, "expected adjacent, close, short, medium, long, very_long or distant");
        } else if (strcmp(a, "--sweep") == 0) {
            if (parse_sweep(o, v) != 0)
                return bad(a, v, "expected up to 32 comma-separated battle counts");
        } else if (strcmp(a, "--repeat") == 0) {
            if (parse_u64(v, 1, BB_MAX_REPEAT, &u) != 0)
                return bad(a, v, "expected 1..20");
            o->repeat = (int)u;
        } else if (strcmp(a, "--json") == 0) {
            if (strlen(v) >= sizeof o->json_path)
                return bad(a, v, "path too long");
            snprintf(o->json_path, sizeof o->json_path, "%s", v);
        } else if (strcmp(a, "--label") == 0) {
            snprintf(o->label, sizeof o->label, "%s", v);
        } else if (strcmp(a, "--server-pid") == 0) {
            if (parse_u64(v, 1, 4194304, &u) != 0)
                return bad(a, v, "expected a process id");
            o->server_pid = (pid_t)u;
        } else if (strcmp(a, "--admin") == 0) {
            if (parse_addr(v, &o->admin) != 0 || o->admin.sin_port == 0)
                return bad(a, v, "expected IPv4:port");
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(v, 0, UINT64_MAX, &u) != 0)
                return bad(a, v, "expected a number");
            o->seed = u ? u : 1;
        } else {
            return bad(a, NULL, "unknown option");
        }
    }
    if (o->port_file[0] && read_port_file(o) != 0)
        return -1;
    for (int i = 0; i < o->ntargets; i++) {
        if (o->target[i].sin_port == 0)
            return bad("--server", NULL, "port 0: give the real port (or --port-file)");
        if (!o->allow_remote && !loopback(&o->target[i]))
            return bad("--server", NULL, "load tests talk to 127.0.0.0/8 only (--allow-remote)");
    }
    if (o->admin.sin_port && !o->allow_remote && !loopback(&o->admin))
        return bad("--admin", NULL, "must be in 127.0.0.0/8 (--allow-remote)");
    for (int i = 0; i < o->nsources; i++)
        if (!o->allow_remote && !loopback(&o->source[i]))
            return bad("--source", NULL, "load tests talk from 127.0.0.0/8 only (--allow-remote)");
    return check_tls(o);
}
