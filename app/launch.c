/* launch: ship table loading, the configuration -> options mapping, and the signal-driven lifetime
 * (see launch.h). */
#include "app/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/adopt.h"
#include "cluster/match.h"
#include "cluster/node.h"
#include "journal/store_redis.h"
#include "util/log.h"

_Static_assert(CONFIG_STRING_MAX <= SERVER_STRING_MAX, "a config string must fit a server option");
_Static_assert((int)CLUSTER_MATCH_WAITING == (int)SERVER_QUEUE_WAITING &&
                   (int)CLUSTER_MATCH_GONE == (int)SERVER_QUEUE_GONE,
               "the queue hook's events are the cluster layer's");

/* Reads and parses the ship table at path. Returns a malloc'd table the caller owns, or NULL
 * (logged: cannot open, too large, no memory, bad table). */
static ships_table *load_ships(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_error("cannot open ship table", "file", path, "error", strerror(errno));
        return NULL;
    }
    char *text = malloc(SHIPS_TEXT_MAX + 1);
    size_t n = text ? fread(text, 1, SHIPS_TEXT_MAX + 1, f) : 0;
    fclose(f);
    if (!text || n > SHIPS_TEXT_MAX) {
        log_error("ship table too large or no memory", "file", path);
        free(text);
        return NULL;
    }
    ships_table *t = malloc(sizeof *t);
    char err[256];
    if (!t || ships_load_toml(text, n, t, err, sizeof err) != 0) {
        log_error("bad ship table", "file", path, "error", t ? err : "no memory");
        free(text);
        free(t);
        return NULL;
    }
    free(text);
    return t;
}

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src))

/* Fills *o from cfg: every network setting, the shards' options, and no ship table (o->ships is
 * NULL). cfg must outlive the server_start call made with *o (shards_start copies what it keeps). */
static void fill_opts(const battled_config *cfg, struct server_opts *o)
{
    memset(o, 0, sizeof *o);
    COPY(o->listen, cfg->server.listen);
    COPY(o->port_file, cfg->server.port_file);
    o->max_connections = cfg->server.max_connections;
    o->max_frame = cfg->server.max_frame;
    o->hello_timeout_ms = cfg->server.hello_timeout_ms;
    o->idle_timeout_ms = cfg->server.idle_timeout_ms;
    o->max_seats_per_conn = cfg->server.max_seats_per_conn;
    o->output_cap = cfg->server.output_cap;
    o->drain_timeout_ms = cfg->server.drain_timeout_ms;
    o->restart_retry_ms = cfg->server.restart_retry_ms;
    o->ring_slots = cfg->server.ring_slots;
    o->turn_timer_ms = cfg->game.turn_timer_ms;
    o->resume_window_ms = cfg->game.resume_window_ms;
    o->ratelimit.actions_per_sec = cfg->ratelimit.actions_per_sec;
    o->ratelimit.burst = cfg->ratelimit.burst;
    o->ratelimit.abuse_refusals = cfg->ratelimit.abuse_refusals;
    COPY(o->tls.listen, cfg->tls.listen);
    COPY(o->tls.cert, cfg->tls.cert);
    COPY(o->tls.key, cfg->tls.key);
    o->tls.handshake_timeout_ms = cfg->tls.handshake_timeout_ms;
    o->tls.max_handshakes_per_pass = cfg->tls.max_handshakes_per_pass;
    COPY(o->admin.listen, cfg->admin.listen);
    COPY(o->admin.port_file, cfg->admin.port_file);
    o->max_conns_per_addr = cfg->server.max_conns_per_addr;
    o->max_handshakes_per_addr = cfg->server.max_handshakes_per_addr;
    COPY(o->ws.listen, cfg->ws.listen);
    COPY(o->ws.tls_listen, cfg->ws.tls_listen);
    COPY(o->ws.port_file, cfg->ws.port_file);
    o->ws.handshake_timeout_ms = cfg->ws.handshake_timeout_ms;
    COPY(o->ws.allowed_origins, cfg->ws.allowed_origins);
    COPY(o->ws.web_root, cfg->ws.web_root);
    COPY(o->ws.msgpack_dir, cfg->ws.msgpack_dir);
    o->ships = NULL;
    struct shards_opts *so = &o->shards;
    so->shards = cfg->server.shards;
    so->ring_slots = cfg->server.ring_slots;
    so->inline_max = cfg->server.inline_max;
    so->game.round_limit = cfg->game.round_limit;
    so->game.turn_timer_ms = cfg->game.turn_timer_ms;
    so->game.resume_window_ms = cfg->game.resume_window_ms;
    so->game.idle_battle_ms = cfg->game.idle_battle_ms;
    so->game.finished_keep_ms = cfg->game.finished_keep_ms;
    so->game.max_spectators = cfg->game.max_spectators;
    so->game.ai_think_ms = cfg->game.ai_think_ms;
    so->persistence.enabled = cfg->persistence.enabled;
    so->persistence.backend = "file";
    so->persistence.dir = cfg->persistence.dir;
    if (cfg->persistence.backend == CONFIG_BACKEND_REDIS) {
        /* The Redis backend's location string; kept here because the shards read it during
         * shards_start, and one process launches one server. */
        static char where[STORE_REDIS_WHERE_MAX];
        store_redis_opts ro = {.address = cfg->persistence.redis_address,
                               .prefix = cfg->persistence.redis_prefix,
                               .node = cfg->persistence.redis_node,
                               .timeout_ms = (unsigned)cfg->persistence.redis_timeout_ms,
                               .lease_ms = (unsigned)cfg->persistence.redis_lease_ms};
        so->persistence.backend = "redis";
        if (store_redis_where(where, sizeof where, &ro) != 0)
            log_error("persistence.redis_* cannot be used: '|' in a value, or too long");
        so->persistence.dir = where;
    }
    int fs = cfg->persistence.fsync;
    so->persistence.fsync = fs == CONFIG_FSYNC_ALWAYS ? JOURNAL_SYNC_ALWAYS
                            : fs == CONFIG_FSYNC_NO   ? JOURNAL_SYNC_NO
                                                      : JOURNAL_SYNC_EVERYSEC;
    so->persistence.compact_bytes = cfg->persistence.compact_bytes;
    so->persistence.skip_damaged = cfg->persistence.skip_damaged;
}

/* What the /metrics hook reads: the node, and the adoption thread once it runs. */
static struct {
    cluster_node *node;
    _Atomic(cluster_adopt *) adopt;
} g_cluster;

/* server_opts.cluster_metrics (network thread). */
static void cluster_metrics(void *arg, prom_out *o)
{
    (void)arg;
    cluster_node_metrics(g_cluster.node, o);
    cluster_adopt *a = atomic_load(&g_cluster.adopt);
    if (a)
        cluster_adopt_metrics(a, o);
}

/* This node's name in the cluster: cluster.node, or the host name. */
static const char *node_name(const battled_config *cfg)
{
    static char host[CLUSTER_NAME_MAX + 1];
    if (cfg->cluster.node[0])
        return cfg->cluster.node;
    if (!host[0] && gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "battled");
    return host;
}

/* /metrics' matchmaking counters from the cluster layer's (network thread). */
static void match_counters(void *arg, struct server_match_counters *out)
{
    cluster_match_stats st;
    cluster_match_stats_get(arg, &st);
    *out = (struct server_match_counters){.published = st.published, .matched = st.matched,
                                          .stale = st.stale, .events_dropped = st.events_dropped,
                                          .errors = st.errors};
}

/* Starts the server, with node's view behind the admin /cluster page when node is not NULL. In a
 * cluster the node also decides the battle ids (its incarnation in bits 47..62), where a battle is
 * served (moved replies), and this incarnation's journal prefix and owner name in Redis; match
 * (when not NULL) is told about the queue entries that wait (matchmaking across nodes). */
static server *start_server(const battled_config *cfg, cluster_node *node, cluster_match *match)
{
    struct server_opts o;
    fill_opts(cfg, &o);
    if (match) {
        o.queue_hook = cluster_match_hook;
        o.match_counters = match_counters;
        o.match_arg = match;
    }
    if (node) {
        o.cluster_view = cluster_node_view_hook;
        o.cluster_arg = node;
        g_cluster.node = node;
        o.cluster_metrics = cluster_metrics;
        o.id_tag = (uint64_t)cluster_node_incarnation(node) << CLUSTER_INC_SHIFT;
        o.locate = cluster_node_locate;
        o.locate_arg = node;
        if (cfg->persistence.backend == CONFIG_BACKEND_REDIS) {
            static char where[STORE_REDIS_WHERE_MAX];
            char prefix[STORE_REDIS_PREFIX_MAX + 1];
            store_redis_opts ro = {.address = cfg->persistence.redis_address,
                                   .prefix = prefix,
                                   .node = node_name(cfg),
                                   .timeout_ms = (unsigned)cfg->persistence.redis_timeout_ms,
                                   .lease_ms = (unsigned)cfg->persistence.redis_lease_ms};
            if (cluster_node_journal_prefix(node, prefix, sizeof prefix) == 0 ||
                store_redis_where(where, sizeof where, &ro) != 0) {
                log_error("cluster: persistence.redis_prefix too long for an incarnation's prefix");
                return NULL;
            }
            o.shards.persistence.dir = where;
        }
    }
    o.ships = load_ships(cfg->game.ships_file);
    if (!o.ships)
        return NULL;
    return server_start(&o); /* owns o.ships from here on */
}

/* Creates dir and its parents (mode 0750) like mkdir -p. 0, or -1 with errno set. */
static int mkdir_p(const char *dir)
{
    char path[CONFIG_STRING_MAX + 1];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int launch_check_data_dir(const battled_config *cfg)
{
    if (!cfg->persistence.enabled || cfg->persistence.backend != CONFIG_BACKEND_FILE)
        return 0; /* the redis backend keeps no files here */
    const char *dir = cfg->persistence.dir;
    char cwd[512];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "?");
    const char *fix = "create the directory and give the user battled runs as write access to it "
                      "(under systemd: StateDirectory=battled makes /var/lib/battled), or set "
                      "persistence.dir to a writable directory, or persistence.enabled=false to "
                      "run without keeping battles";
    struct stat st;
    if (mkdir_p(dir) != 0 || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        int e = errno ? errno : ENOTDIR;
        log_error("persistence.dir cannot be created: not starting", "dir", dir, "cwd", cwd,
                  "error", strerror(e), "fix", fix);
        return LAUNCH_EXIT_DATA_DIR;
    }
    /* Writable for real (a read-only mount or a foreign owner), not only by its mode bits. */
    char probe[CONFIG_STRING_MAX + 32];
    snprintf(probe, sizeof probe, "%s/.probe-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("persistence.dir is not writable: not starting", "dir", dir, "cwd", cwd, "error",
                  strerror(errno), "fix", fix);
        return LAUNCH_EXIT_DATA_DIR;
    }
    close(fd);
    unlink(probe);
    return 0;
}

/* SIGHUP: reopen the log file (after logrotate moved it) over the same descriptor, so no thread
 * ever writes to a closed one. Logged either way. */
static void reopen_log(const battled_config *cfg)
{
    if (!cfg->log.file[0]) {
        log_info("reload: logging to stderr (log.file is empty), nothing to reopen");
        return;
    }
    int fd = open(cfg->log.file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("reload: log file cannot be reopened, still writing to the old one", "file",
                  cfg->log.file, "error", strerror(errno));
        return;
    }
    if (dup2(fd, launch_log_fd) < 0)
        log_error("reload: log file cannot be reopened", "file", cfg->log.file, "error",
                  strerror(errno));
    else
        log_info("reload: log file reopened", "file", cfg->log.file);
    close(fd);
}

int launch_log_fd = -1;

int launch_open_log(const battled_config *cfg)
{
    if (!cfg->log.file[0])
        return 0;
    int fd = open(cfg->log.file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        fprintf(stderr, "battled: log.file %s cannot be opened: %s\n", cfg->log.file,
                strerror(errno));
        return -1;
    }
    launch_log_fd = fd;
    log_set_fd(fd);
    return 0;
}

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGHUP: return "SIGHUP";
    default: return "other";
    }
}

/* Whether SIGTERM/SIGINT restart (battles kept) rather than drain: the setting, and only with a
 * journal to restart from. */
static bool sigterm_restarts(const battled_config *cfg)
{
    return cfg->server.on_sigterm == CONFIG_SIGTERM_RESTART && cfg->persistence.enabled;
}

server *launch_server(const battled_config *cfg)
{
    return start_server(cfg, NULL, NULL);
}

/* The node's heartbeat status from the shards' counters (cluster thread; atomics only). */
static void node_status(void *arg, uint64_t *battles, bool *degraded)
{
    const server *s = arg;
    for (unsigned k = 0; k < server_shard_count(s); k++) {
        const struct shard_stats *st = server_shard_stats(s, k);
        *battles += atomic_load_explicit(&st->battles_live, memory_order_relaxed);
        *degraded |= atomic_load_explicit(&st->journal_degraded, memory_order_relaxed) != 0;
    }
}

/* cluster.enabled: registers this node (cluster/node.h). 0 (and *out NULL when off) or -1. */
static int start_node(const battled_config *cfg, cluster_node **out)
{
    *out = NULL;
    if (!cfg->cluster.enabled)
        return 0;
    if (!cfg->persistence.enabled || cfg->persistence.backend != CONFIG_BACKEND_REDIS)
        log_warn("cluster: persistence is not in Redis (persistence.enabled, persistence.backend): "
                 "no other node can take this node's battles over");
    cluster_node_opts o = {
        .redis_address = cfg->persistence.redis_address,
        .prefix = cfg->cluster.prefix,
        .name = node_name(cfg),
        .player_address = cfg->cluster.advertise[0] ? cfg->cluster.advertise : cfg->server.listen,
        .admin_address =
            cfg->cluster.advertise_admin[0] ? cfg->cluster.advertise_admin : cfg->admin.listen,
        .ws_address = cfg->cluster.advertise_ws[0] ? cfg->cluster.advertise_ws : cfg->ws.listen,
        .tls_address = cfg->cluster.advertise_tls[0] ? cfg->cluster.advertise_tls : cfg->tls.listen,
        .wss_address =
            cfg->cluster.advertise_wss[0] ? cfg->cluster.advertise_wss : cfg->ws.tls_listen,
        .journal_prefix = cfg->persistence.redis_prefix,
        /* The count the server will run: survivors split this node's battles by it. */
        .shards = shards_count_for(cfg->server.shards, sysconf(_SC_NPROCESSORS_ONLN)),
        .heartbeat_ms = (unsigned)cfg->cluster.heartbeat_ms,
        .ttl_ms = (unsigned)cfg->cluster.ttl_ms,
        .timeout_ms = (unsigned)cfg->persistence.redis_timeout_ms,
    };
    char err[200];
    if (cluster_node_start(&o, out, err, sizeof err) != 0) {
        log_error("cluster: cannot register this node", "error", err);
        return -1;
    }
    log_info("cluster: node registered", "node", o.name, "incarnation",
             LOG_U64(cluster_node_incarnation(*out)), "player", o.player_address, "admin",
             o.admin_address);
    return 0;
}

/* With a cluster and cluster.match: matchmaking across nodes (cluster/match.h), created before the
 * server (which is given its hook) and started after it. 0 (and *out NULL when off) or -1. */
static int create_match(const battled_config *cfg, cluster_node *node, cluster_match **out)
{
    *out = NULL;
    if (!node || !cfg->cluster.match)
        return 0;
    cluster_match_opts o = {
        .node = node,
        .redis_address = cfg->persistence.redis_address,
        .prefix = cfg->cluster.prefix,
        .timeout_ms = (unsigned)cfg->persistence.redis_timeout_ms,
        .delay_ms = (unsigned)cfg->cluster.match_delay_ms,
        .refresh_ms = (unsigned)cfg->cluster.heartbeat_ms,
    };
    char err[200];
    if (cluster_match_create(&o, out, err, sizeof err) != 0) {
        log_error("cluster: cannot set up matchmaking across nodes", "error", err);
        return -1;
    }
    return 0;
}

/* The match thread's way to move a player of this node to the one it was matched with. */
static bool redirect_queue(void *arg, uint8_t band, uint64_t ticket, const char *addr,
                           const char *ws, const char *tls_addr, const char *wss)
{
    return server_queue_redirect(arg, band, ticket, addr, ws, tls_addr, wss);
}

/* "host:port" of listen with its port replaced by the one bound (listen's port may be 0). */
static void bound_address(char *buf, size_t cap, const char *listen, uint16_t port)
{
    const char *colon = strrchr(listen, ':');
    int hostlen = colon ? (int)(colon - listen) : (int)strlen(listen);
    snprintf(buf, cap, "%.*s:%u", hostlen, listen, (unsigned)port);
}

/* One advertised address: the configured one, else listen's host with the port bound ("" when
 * the listener is off). */
static void advertised(char *buf, size_t cap, const char *configured, const char *listen,
                       uint16_t port)
{
    if (configured[0])
        snprintf(buf, cap, "%s", configured);
    else if (listen[0] && port)
        bound_address(buf, cap, listen, port);
    else
        buf[0] = '\0';
}

/* What the node advertises when the configuration does not say: the addresses actually bound. */
static void advertise_bound(const battled_config *cfg, cluster_node *node, const server *s)
{
    char player[CONFIG_STRING_MAX + 1], ws[CONFIG_STRING_MAX + 1], tls[CONFIG_STRING_MAX + 1],
        wss[CONFIG_STRING_MAX + 1];
    advertised(player, sizeof player, cfg->cluster.advertise, cfg->server.listen, server_port(s));
    advertised(ws, sizeof ws, cfg->cluster.advertise_ws, cfg->ws.listen, server_ws_port(s));
    advertised(tls, sizeof tls, cfg->cluster.advertise_tls, cfg->tls.listen, server_tls_port(s));
    advertised(wss, sizeof wss, cfg->cluster.advertise_wss, cfg->ws.tls_listen, server_wss_port(s));
    cluster_node_set_addresses(node, player, ws, tls, wss);
}

/* Set by the cluster thread when another node took this node's battles over. */
static atomic_bool g_fenced;

static void on_fenced(void *arg)
{
    (void)arg;
    atomic_store(&g_fenced, true);
    kill(getpid(), SIGTERM); /* launch_run's sigwait picks it up and restarts, keeping nothing */
}

/* The adoption thread's hand-over to the shards (cluster/adopt.h). */
static int adopt_battles(void *arg, const journal_set *set, uint64_t *n, char *why, size_t whylen)
{
    server *s = arg;
    struct shards_adopt_result r;
    int rc = shards_adopt(server_shards(s), set, LAUNCH_ADOPT_TIMEOUT_MS, &r);
    if (rc != 0) {
        snprintf(why, whylen, "%s", strerror(-rc));
        return rc;
    }
    *n = r.adopted + r.ended_kept;
    if (r.failed || r.duplicates)
        log_warn("cluster: some battles were not taken over", "failed", LOG_U64(r.failed),
                 "duplicates", LOG_U64(r.duplicates));
    return 0;
}

/* Starts the adoption thread (cluster with the journal in Redis). 0 (and *out NULL when off) or
 * -1. */
static int start_adopt(const battled_config *cfg, cluster_node *node, server *s, cluster_adopt **out)
{
    *out = NULL;
    if (!node || !cfg->persistence.enabled || cfg->persistence.backend != CONFIG_BACKEND_REDIS)
        return 0;
    cluster_adopt_opts o = {
        .node = node,
        .redis_address = cfg->persistence.redis_address,
        .prefix = cfg->cluster.prefix,
        .name = node_name(cfg),
        .timeout_ms = (unsigned)cfg->persistence.redis_timeout_ms,
        .heartbeat_ms = (unsigned)cfg->cluster.heartbeat_ms,
        .lease_ms = (unsigned)cfg->persistence.redis_lease_ms,
        .adopt = adopt_battles,
        .adopt_arg = s,
    };
    char err[200];
    if (cluster_adopt_start(&o, out, err, sizeof err) != 0) {
        log_error("cluster: cannot start taking over battles", "error", err);
        return -1;
    }
    return 0;
}

int launch_run(const battled_config *cfg, const sigset_t *signals)
{
    int rc = launch_check_data_dir(cfg);
    if (rc != 0)
        return rc;
    if (cfg->server.on_sigterm == CONFIG_SIGTERM_RESTART && !cfg->persistence.enabled)
        log_warn("server.on_sigterm=restart needs persistence: SIGTERM will drain (end battles)");
    cluster_node *node;
    if (start_node(cfg, &node) != 0)
        return 1;
    cluster_match *match;
    if (create_match(cfg, node, &match) != 0) {
        cluster_node_stop(node);
        return 1;
    }
    server *s = start_server(cfg, node, match);
    if (!s) {
        cluster_match_stop(match);
        cluster_node_stop(node);
        return 1;
    }
    cluster_adopt *adopt = NULL;
    if (node) {
        advertise_bound(cfg, node, s);
        cluster_node_set_status(node, node_status, s);
        cluster_node_set_fenced(node, on_fenced, NULL);
        if ((match && cluster_match_start(match, redirect_queue, s) != 0) ||
            start_adopt(cfg, node, s, &adopt) != 0) {
            server_drain(s);
            while (!server_finished(s))
                usleep(10 * 1000);
            cluster_match_stop(match);
            server_wait(s);
            cluster_node_stop(node);
            return 1;
        }
        atomic_store(&g_cluster.adopt, adopt);
    }
    int sig = 0;
    for (;;) {
        if (sigwait(signals, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        log_info("SIGHUP: reloading the log file and the TLS certificate");
        reopen_log(cfg);
        server_reload(s);
    }
    /* No more takeovers once leaving: the battles would only have to move again (and the shards
     * they would go to are stopping). Freed after the network thread, which reads its counters. */
    cluster_adopt_halt(adopt);
    /* The heartbeat reads the shards' counters; the network thread frees the shards while it
     * stops, so the heartbeat stops reading them first (and says the node is stopping). */
    if (node)
        cluster_node_set_stopping(node);
    bool fenced = atomic_load(&g_fenced);
    /* Fenced: the battles are another node's now; tell the players to reconnect (they are
     * redirected there) and keep nothing, whatever on_sigterm says. */
    bool restart = fenced || (sig != SIGUSR1 && sigterm_restarts(cfg));
    log_info("shutting down", "signal", sig_name(sig), "mode",
             fenced ? "fenced" : restart ? "restart" : "drain");
    if (restart)
        server_restart(s);
    else
        server_drain(s);
    /* A second stop signal hurries whichever is running; SIGHUP still reopens the log (not the TLS
     * pair: the listeners are closed, and the network thread's handles may be closing). Poll until
     * the network thread is done. */
    while (!server_finished(s)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        int got = sigtimedwait(signals, NULL, &ts);
        if (got == SIGHUP) {
            reopen_log(cfg);
        } else if (got > 0) {
            log_info("second signal: hurrying the shutdown", "signal", sig_name(got));
            server_drain(s);
        }
    }
    cluster_match_stop(match); /* the network thread is done with its hook; s is still there */
    rc = server_wait(s);
    atomic_store(&g_cluster.adopt, NULL);
    cluster_adopt_stop(adopt);
    cluster_node_stop(node); /* after the admin listener is gone: it reads the node's view */
    return fenced ? LAUNCH_EXIT_FENCED : rc;
}
