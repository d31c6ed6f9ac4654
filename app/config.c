/* config: the schema table and the code that walks it (defaults, TOML load,
 * --set overrides, printing). */
#include "app/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/toml.h"
#include "util/log.h"

#define OFF(f) offsetof(battled_config, f)
#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const fsync_names[] = {"always", "everysec", "no", NULL};
static const char *const sigterm_names[] = {"restart", "drain", NULL};
static const char *const backend_names[] = {"file", "redis", NULL};

#define INT(s, k, f, lo, hi, d, fl, doc) {s, k, CONFIG_T_INT, OFF(f), lo, hi, d, NULL, NULL, fl, doc}
#define MS(s, k, f, lo, hi, d, doc) {s, k, CONFIG_T_DURATION_MS, OFF(f), lo, hi, d, NULL, NULL, 0, doc}
#define BYTES(s, k, f, lo, hi, d, doc) {s, k, CONFIG_T_SIZE_BYTES, OFF(f), lo, hi, d, NULL, NULL, 0, doc}
#define BOOL(s, k, f, d, doc) {s, k, CONFIG_T_BOOL, OFF(f), 0, 1, d, NULL, NULL, 0, doc}
#define STR(s, k, f, d, fl, doc) {s, k, CONFIG_T_STRING, OFF(f), 0, 0, 0, d, NULL, fl, doc}
#define ENUM(s, k, f, names, d, doc) {s, k, CONFIG_T_ENUM, OFF(f), 0, 0, d, NULL, names, 0, doc}

static const config_entry schema[] = {
    STR("server", "listen", server.listen, "127.0.0.1:7070", CONFIG_F_HOSTPORT,
        "game port as host:port; port 0 picks a free port"),
    INT("server", "shards", server.shards, 0, 256, 0, 0,
        "shard threads; 0 = number of cores minus one, at least 1"),
    INT("server", "max_connections", server.max_connections, 1, 1000000, 100000, 0,
        "open client connections; more are refused"),
    BYTES("server", "max_frame", server.max_frame, 256, 1 * MIB, 4096,
          "largest frame a client may send, in bytes"),
    MS("server", "hello_timeout_ms", server.hello_timeout_ms, 100, 10 * MIN, 10 * SEC,
       "time a new connection has to send hello"),
    MS("server", "idle_timeout_ms", server.idle_timeout_ms, 1 * SEC, 1 * DAY, 30 * SEC,
       "a connection silent this long is closed"),
    INT("server", "max_seats_per_conn", server.max_seats_per_conn, 1, 100000, 64, 0,
        "battle seats one connection may hold"),
    BYTES("server", "output_cap", server.output_cap, 4 * KIB, 1 * GIB, 256 * KIB,
          "bytes queued for one slow connection before it is dropped"),
    MS("server", "drain_timeout_ms", server.drain_timeout_ms, 0, 10 * MIN, 30 * SEC,
       "drain: time running battles get to finish before they end as shutdown"),
    ENUM("server", "on_sigterm", server.on_sigterm, sigterm_names, CONFIG_SIGTERM_RESTART,
         "restart | drain: what SIGTERM/SIGINT do; restart needs persistence (else drain)"),
    MS("server", "restart_retry_ms", server.restart_retry_ms, 0, 10 * MIN, 1 * SEC,
       "restart: how long clients are told to wait before reconnecting"),
    INT("server", "ring_slots", server.ring_slots, 64, 1048576, 16384, CONFIG_F_POW2,
        "slots in each net<->shard ring; a power of two"),
    INT("server", "inline_max", server.inline_max, 0, 4096, 32, 0,
        "messages the network thread handles itself per loop pass for shards whose threads are "
        "asleep, instead of waking them; 0 = always wake the shard"),
    STR("server", "port_file", server.port_file, "", 0,
        "if set, the bound game port is written to this file"),
    INT("server", "max_conns_per_addr", server.max_conns_per_addr, 0, 1000000, 256, 0,
        "connections from one source address on the game listeners; 0 = no limit"),
    INT("server", "max_handshakes_per_addr", server.max_handshakes_per_addr, 0, 1000000, 32, 0,
        "connections from one source address still before hello; 0 = no limit"),

    STR("game", "ships_file", game.ships_file, "data/ships.toml", 0,
        "ship catalogue (TOML)"),
    INT("game", "round_limit", game.round_limit, 1, 10000, 100, 0,
        "a battle still running after this many rounds ends in a draw"),
    MS("game", "turn_timer_ms", game.turn_timer_ms, 0, 1 * DAY, 30 * SEC,
       "time a seat has to act before it is skipped; 0 = off"),
    MS("game", "resume_window_ms", game.resume_window_ms, 0, 1 * DAY, 30 * SEC,
       "a disconnected player may resume its seat within this time"),
    MS("game", "idle_battle_ms", game.idle_battle_ms, 1 * SEC, 7 * DAY, 5 * MIN,
       "a battle with no activity this long is closed"),
    MS("game", "finished_keep_ms", game.finished_keep_ms, 0, 1 * DAY, 1 * MIN,
       "a finished battle stays readable this long"),
    INT("game", "max_spectators", game.max_spectators, 0, 1024, 32, 0,
        "spectators per battle"),
    MS("game", "ai_think_ms", game.ai_think_ms, 0, 1 * MIN, 1 * SEC,
       "delay before an AI seat acts"),

    INT("ratelimit", "actions_per_sec", ratelimit.actions_per_sec, 0, 1000, 2, 0,
        "sustained actions per second per connection; 0 = no limit"),
    INT("ratelimit", "burst", ratelimit.burst, 1, 10000, 4, 0,
        "actions allowed in a burst above the sustained rate"),
    INT("ratelimit", "abuse_refusals", ratelimit.abuse_refusals, 0, 100000, 20, 0,
        "refusals within 10 s that disconnect a client; 0 = never"),

    ENUM("log", "level", log.level, level_names, LOG_LEVEL_INFO,
         "error | warn | info | debug (format is always logfmt)"),
    STR("log", "file", log.file, "", 0,
        "append log lines to this file (SIGHUP reopens it); \"\" = stderr"),

    STR("admin", "listen", admin.listen, "127.0.0.1:7079", CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "admin HTTP endpoint as host:port; \"\" disables it"),
    STR("admin", "port_file", admin.port_file, "", 0,
        "if set, the bound admin port is written to this file"),

    STR("tls", "listen", tls.listen, "", CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "TLS game port as host:port; \"\" disables TLS"),
    STR("tls", "cert", tls.cert, "", 0, "PEM certificate chain file (needed when listen is set)"),
    STR("tls", "key", tls.key, "", 0, "PEM private key file (needed when listen is set)"),
    MS("tls", "handshake_timeout_ms", tls.handshake_timeout_ms, 100, 10 * MIN, 10 * SEC,
       "time a TLS handshake may take"),
    INT("tls", "max_handshakes_per_pass", tls.max_handshakes_per_pass, 1, 100000, 64, 0,
        "handshake steps per event-loop pass, so handshakes cannot starve play"),

    BOOL("persistence", "enabled", persistence.enabled, 1,
         "keep battles in an append-only log so they survive a restart"),
    ENUM("persistence", "backend", persistence.backend, backend_names, CONFIG_BACKEND_FILE,
         "where the log lives: \"file\" (persistence.dir) | \"redis\" (persistence.redis_*)"),
    STR("persistence", "dir", persistence.dir, "var/battled", 0, "directory for the log files"),
    STR("persistence", "redis_address", persistence.redis_address, "127.0.0.1:6379",
        CONFIG_F_HOSTPORT, "backend redis: the Redis server as host:port"),
    STR("persistence", "redis_prefix", persistence.redis_prefix, "battled:", 0,
        "backend redis: prefix of every key, at most 64 bytes, no '|'; one node per prefix"),
    STR("persistence", "redis_node", persistence.redis_node, "", 0,
        "backend redis: this node's name in the prefix's owner key; \"\" = the host name"),
    MS("persistence", "redis_timeout_ms", persistence.redis_timeout_ms, 100, 10 * MIN, 2 * SEC,
       "backend redis: a reply later than this counts as Redis down (degraded, readiness 503)"),
    MS("persistence", "redis_lease_ms", persistence.redis_lease_ms, 1 * SEC, 10 * MIN, 10 * SEC,
       "backend redis: the prefix's owner lease; a dead node's battles move after it runs out"),
    ENUM("persistence", "fsync", persistence.fsync, fsync_names, CONFIG_FSYNC_EVERYSEC,
         "always | everysec | no"),
    BYTES("persistence", "compact_bytes", persistence.compact_bytes, 1 * MIB, 1024 * GIB,
          64 * MIB, "the log is compacted when it grows past this many bytes"),
    BOOL("persistence", "skip_damaged", persistence.skip_damaged, 0,
         "on start, skip damaged records instead of refusing to start"),

    STR("ws", "listen", ws.listen, "127.0.0.1:8080", CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "WebSocket (ws://) and web page port as host:port; \"\" disables it"),
    STR("ws", "tls_listen", ws.tls_listen, "", CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "WebSocket over TLS (wss://) port with tls.cert and tls.key; \"\" disables it"),
    STR("ws", "port_file", ws.port_file, "", 0,
        "if set, the bound ws and wss ports are written to this file"),
    MS("ws", "handshake_timeout_ms", ws.handshake_timeout_ms, 100, 10 * MIN, 10 * SEC,
       "time an HTTP request or WebSocket upgrade may take to arrive"),
    STR("ws", "allowed_origins", ws.allowed_origins, "self", 0,
        "browser origins that may open a WebSocket: comma list of origins, self, *"),
    STR("ws", "web_root", ws.web_root, "web", 0, "folder of the web page, served at /"),
    STR("ws", "msgpack_dir", ws.msgpack_dir, "node_modules/@msgpack/msgpack/dist.esm", 0,
        "the npm msgpack module's ES module folder, served at /vendor/msgpack/"),
    BOOL("cluster", "enabled", cluster.enabled, 0,
         "register this node in Redis (persistence.redis_address) and serve /cluster"),
    STR("cluster", "node", cluster.node, "", 0,
        "this node's name: letters, digits, .:-_[]; \"\" = the host name"),
    STR("cluster", "prefix", cluster.prefix, "battled:cluster:", 0,
        "prefix of the cluster's keys in Redis, shared by every node, at most 64 bytes"),
    STR("cluster", "advertise", cluster.advertise, "", CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "the game address other nodes and clients are told; \"\" = server.listen"),
    STR("cluster", "advertise_admin", cluster.advertise_admin, "",
        CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "the admin address other nodes are told; \"\" = admin.listen"),
    STR("cluster", "advertise_ws", cluster.advertise_ws, "", CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "the WebSocket address browsers are sent to; \"\" = ws.listen (none when off)"),
    STR("cluster", "advertise_tls", cluster.advertise_tls, "", CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "the TLS game address TLS clients are sent to; \"\" = tls.listen (none when off)"),
    STR("cluster", "advertise_wss", cluster.advertise_wss, "", CONFIG_F_HOSTPORT | CONFIG_F_EMPTY_OK,
        "the wss:// address https pages are sent to; \"\" = ws.tls_listen (none when off)"),
    MS("cluster", "heartbeat_ms", cluster.heartbeat_ms, 100, 1 * MIN, 1 * SEC,
       "how often this node renews its registration"),
    MS("cluster", "ttl_ms", cluster.ttl_ms, 300, 10 * MIN, 5 * SEC,
       "a node that did not renew for this long is gone; more than heartbeat_ms"),
    BOOL("cluster", "match", cluster.match, 1,
         "match queueing players across nodes (Redis); false: each node matches its own players "
         "only, and a queue is never answered with moved"),
    MS("cluster", "match_delay_ms", cluster.match_delay_ms, 0, 1 * MIN, 200,
       "a queue entry waits this long for an opponent on its own node before it is offered to "
       "the other nodes (Redis)"),
};

#define N_SCHEMA (sizeof schema / sizeof schema[0])

size_t config_schema_count(void)
{
    return N_SCHEMA;
}

const config_entry *config_schema_at(size_t i)
{
    return i < N_SCHEMA ? &schema[i] : NULL;
}

static const config_entry *find_n(const char *section, size_t slen, const char *key)
{
    for (size_t i = 0; i < N_SCHEMA; i++)
        if (strncmp(schema[i].section, section, slen) == 0 && schema[i].section[slen] == '\0' &&
            strcmp(schema[i].key, key) == 0)
            return &schema[i];
    return NULL;
}

const config_entry *config_schema_find(const char *section, const char *key)
{
    return section && key ? find_n(section, strlen(section), key) : NULL;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < N_SCHEMA; i++)
        if (strcmp(schema[i].section, section) == 0)
            return true;
    return false;
}

static bool is_int_type(config_type t)
{
    return t == CONFIG_T_INT || t == CONFIG_T_DURATION_MS || t == CONFIG_T_SIZE_BYTES;
}

static void set_default(battled_config *c, const config_entry *e)
{
    char *f = (char *)c + e->offset;
    switch (e->type) {
    case CONFIG_T_INT:
    case CONFIG_T_DURATION_MS:
    case CONFIG_T_SIZE_BYTES:
        *(int64_t *)(void *)f = e->def_int;
        break;
    case CONFIG_T_BOOL:
        *(bool *)f = e->def_int != 0;
        break;
    case CONFIG_T_ENUM:
        *(int *)(void *)f = (int)e->def_int;
        break;
    case CONFIG_T_STRING:
        snprintf(f, CONFIG_STRING_MAX + 1, "%s", e->def_str);
        break;
    }
}

void config_defaults(battled_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_SCHEMA; i++)
        set_default(c, &schema[i]);
}

/* "host:port" with a non-empty host (bracketed for IPv6) and port 0..65535. */
static bool hostport_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return false;
    if (s[0] == '[' && colon[-1] != ']')
        return false;
    for (const char *p = s; p < colon; p++)
        if ((unsigned char)*p <= ' ' || *p == '/')
            return false;
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        return false;
    long port = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (*p - '0');
    }
    return port <= 65535;
}

/* Stores v into e's field, or writes why not into msg. */
static int set_value(battled_config *c, const config_entry *e, const toml_value *v, char *msg,
                     size_t msglen)
{
    char *f = (char *)c + e->offset;
    toml_type t = toml_type_of(v);
    if (is_int_type(e->type)) {
        if (t != TOML_INT) {
            snprintf(msg, msglen, "expected an integer%s, got a %s",
                     e->type == CONFIG_T_DURATION_MS ? " (milliseconds)"
                     : e->type == CONFIG_T_SIZE_BYTES ? " (bytes)" : "",
                     toml_type_name(t));
            return -1;
        }
        int64_t x = toml_as_int(v);
        if (x < e->min || x > e->max) {
            snprintf(msg, msglen, "%lld is out of range %lld..%lld", (long long)x,
                     (long long)e->min, (long long)e->max);
            return -1;
        }
        if ((e->flags & CONFIG_F_POW2) && (x & (x - 1)) != 0) {
            snprintf(msg, msglen, "%lld is not a power of two", (long long)x);
            return -1;
        }
        *(int64_t *)(void *)f = x;
        return 0;
    }
    if (e->type == CONFIG_T_BOOL) {
        if (t != TOML_BOOL) {
            snprintf(msg, msglen, "expected a boolean (true or false), got a %s",
                     toml_type_name(t));
            return -1;
        }
        *(bool *)f = toml_as_bool(v);
        return 0;
    }
    if (t != TOML_STRING) {
        snprintf(msg, msglen, "expected a string, got a %s", toml_type_name(t));
        return -1;
    }
    size_t len;
    const char *s = toml_as_string(v, &len);
    if (e->type == CONFIG_T_ENUM) {
        for (int i = 0; e->enum_names[i]; i++) {
            if (strlen(e->enum_names[i]) == len && strcmp(e->enum_names[i], s) == 0) {
                *(int *)(void *)f = i;
                return 0;
            }
        }
        size_t o = (size_t)snprintf(msg, msglen, "'%.64s' is not one of ", s);
        for (int i = 0; e->enum_names[i] && o < msglen; i++)
            o += (size_t)snprintf(msg + o, msglen - o, "%s%s", i ? "|" : "", e->enum_names[i]);
        return -1;
    }
    if (len > CONFIG_STRING_MAX) {
        snprintf(msg, msglen, "string is %zu bytes, longer than the limit of %d", len,
                 CONFIG_STRING_MAX);
        return -1;
    }
    if (memchr(s, '\0', len)) {
        snprintf(msg, msglen, "string contains a NUL character");
        return -1;
    }
    if ((e->flags & CONFIG_F_HOSTPORT) && !(len == 0 && (e->flags & CONFIG_F_EMPTY_OK)) &&
        !hostport_ok(s)) {
        snprintf(msg, msglen, "'%.64s' is not host:port with a port 0..65535%s", s,
                 (e->flags & CONFIG_F_EMPTY_OK) ? " (or \"\" to disable)" : "");
        return -1;
    }
    memcpy(f, s, len + 1);
    return 0;
}

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int config_load_text(battled_config *c, const char *text, size_t len, const char *name,
                     char *err, size_t errlen)
{
    toml_error te;
    toml_doc *doc = toml_parse(text, len, name, &te);
    if (!doc) {
        if (te.key[0])
            errf(err, errlen, "%s:%d:%d: %s: %s", te.file, te.line, te.col, te.key, te.msg);
        else
            errf(err, errlen, "%s:%d:%d: %s", te.file, te.line, te.col, te.msg);
        return -1;
    }
    int rc = 0;
    const toml_value *root = toml_root(doc);
    for (size_t i = 0; i < toml_table_count(root) && rc == 0; i++) {
        const char *sec = toml_table_key_at(root, i);
        const toml_value *tbl = toml_table_value_at(root, i);
        if (!section_known(sec)) {
            errf(err, errlen, "%s:%d:%d: %s: unknown section", name, toml_line(tbl),
                 toml_col(tbl), sec);
            rc = -1;
            break;
        }
        if (toml_type_of(tbl) != TOML_TABLE) {
            errf(err, errlen, "%s:%d:%d: %s: expected a [%s] table, got a %s", name,
                 toml_line(tbl), toml_col(tbl), sec, sec, toml_type_name(toml_type_of(tbl)));
            rc = -1;
            break;
        }
        for (size_t j = 0; j < toml_table_count(tbl); j++) {
            const char *key = toml_table_key_at(tbl, j);
            const toml_value *v = toml_table_value_at(tbl, j);
            const config_entry *e = config_schema_find(sec, key);
            char msg[192];
            if (!e) {
                snprintf(msg, sizeof msg, "unknown setting");
            } else if (set_value(c, e, v, msg, sizeof msg) == 0) {
                continue;
            }
            errf(err, errlen, "%s:%d:%d: %s.%s: %s", name, toml_line(v), toml_col(v), sec, key,
                 msg);
            rc = -1;
            break;
        }
    }
    toml_free(doc);
    return rc;
}

int config_set(battled_config *c, const char *assignment, char *err, size_t errlen)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq) {
        errf(err, errlen, "--set %s: expected section.key=value", assignment);
        return -1;
    }
    /* Trim spaces around the name and the value. */
    const char *ks = assignment;
    while (*ks == ' ' || *ks == '\t')
        ks++;
    const char *ke = eq;
    while (ke > ks && (ke[-1] == ' ' || ke[-1] == '\t'))
        ke--;
    const char *vs = eq + 1;
    while (*vs == ' ' || *vs == '\t')
        vs++;
    size_t vlen = strlen(vs);
    while (vlen && (vs[vlen - 1] == ' ' || vs[vlen - 1] == '\t'))
        vlen--;
    char name[96];
    if ((size_t)(ke - ks) >= sizeof name) {
        errf(err, errlen, "--set %s: unknown setting", assignment);
        return -1;
    }
    memcpy(name, ks, (size_t)(ke - ks));
    name[ke - ks] = '\0';
    char *nd = strchr(name, '.');
    const config_entry *e = nd ? find_n(name, (size_t)(nd - name), nd + 1) : NULL;
    if (!e) {
        errf(err, errlen, "--set %s: unknown setting %s", assignment, name);
        return -1;
    }
    if (memchr(vs, '\n', vlen) || memchr(vs, '\r', vlen)) {
        errf(err, errlen, "--set %s: value contains a line break", name);
        return -1;
    }
    /* Parse the value as TOML; bare strings and enum names get quoted here so
     * "--set server.listen=0.0.0.0:7070" works without shell gymnastics. */
    bool bare = (e->type == CONFIG_T_STRING || e->type == CONFIG_T_ENUM) &&
                !(vlen && (vs[0] == '"' || vs[0] == '\''));
    size_t cap = vlen * 6 + 16;
    char *doc_text = malloc(cap);
    if (!doc_text) {
        errf(err, errlen, "--set %s: out of memory", name);
        return -1;
    }
    size_t o = (size_t)snprintf(doc_text, cap, "v = ");
    if (bare) {
        doc_text[o++] = '"';
        for (size_t i = 0; i < vlen; i++) {
            unsigned char ch = (unsigned char)vs[i];
            if (ch == '"' || ch == '\\') {
                doc_text[o++] = '\\';
                doc_text[o++] = (char)ch;
            } else if (ch < 0x20 || ch == 0x7F) {
                o += (size_t)snprintf(doc_text + o, cap - o, "\\u%04x", ch);
            } else {
                doc_text[o++] = (char)ch;
            }
        }
        doc_text[o++] = '"';
    } else {
        memcpy(doc_text + o, vs, vlen);
        o += vlen;
    }
    doc_text[o] = '\0';
    toml_error te;
    toml_doc *doc = toml_parse(doc_text, o, "--set", &te);
    free(doc_text);
    if (!doc) {
        errf(err, errlen, "--set %s: invalid value: %s", name, te.msg);
        return -1;
    }
    char msg[192];
    int rc = set_value(c, e, toml_table_get(toml_root(doc), "v"), msg, sizeof msg);
    toml_free(doc);
    if (rc != 0)
        errf(err, errlen, "--set %s: %s", assignment, msg);
    return rc;
}

/* Rules that involve more than one setting. */
static int cross_check(const battled_config *c, char *err, size_t errlen)
{
    if (c->server.output_cap < c->server.max_frame) {
        errf(err, errlen, "server.output_cap (%lld) must be at least server.max_frame (%lld)",
             (long long)c->server.output_cap, (long long)c->server.max_frame);
        return -1;
    }
    if (c->ws.tls_listen[0] && (!c->tls.cert[0] || !c->tls.key[0])) {
        errf(err, errlen, "ws.tls_listen is set, so tls.cert and tls.key are required");
        return -1;
    }
    if (c->tls.listen[0] && (!c->tls.cert[0] || !c->tls.key[0])) {
        errf(err, errlen, "tls.listen is set, so tls.cert and tls.key are required");
        return -1;
    }
    return 0;
}

int config_load(battled_config *c, const char *path, const char *const *overrides,
                size_t n_overrides, char *err, size_t errlen)
{
    config_defaults(c);
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        char *buf = malloc(CONFIG_FILE_MAX + 1);
        size_t n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
        bool bad = !buf || ferror(f);
        fclose(f);
        if (bad || n > CONFIG_FILE_MAX) {
            errf(err, errlen, bad ? "%s: cannot read" : "%s: larger than %u bytes", path,
                 CONFIG_FILE_MAX);
            free(buf);
            return -1;
        }
        int rc = config_load_text(c, buf, n, path, err, errlen);
        free(buf);
        if (rc != 0)
            return -1;
    }
    for (size_t i = 0; i < n_overrides; i++)
        if (config_set(c, overrides[i], err, errlen) != 0)
            return -1;
    return cross_check(c, err, errlen);
}

const char *config_format_value(const battled_config *c, const config_entry *e, char *buf,
                                size_t buflen)
{
    const char *f = (const char *)c + e->offset;
    switch (e->type) {
    case CONFIG_T_INT:
    case CONFIG_T_DURATION_MS:
    case CONFIG_T_SIZE_BYTES:
        snprintf(buf, buflen, "%lld", (long long)*(const int64_t *)(const void *)f);
        break;
    case CONFIG_T_BOOL:
        snprintf(buf, buflen, "%s", *(const bool *)f ? "true" : "false");
        break;
    case CONFIG_T_ENUM: {
        int i = *(const int *)(const void *)f;
        int n = 0;
        while (e->enum_names[n])
            n++;
        snprintf(buf, buflen, "\"%s\"", i >= 0 && i < n ? e->enum_names[i] : "?");
        break;
    }
    case CONFIG_T_STRING: {
        size_t o = 0;
        if (buflen < 3)
            break;
        buf[o++] = '"';
        for (const unsigned char *p = (const unsigned char *)f; *p && o + 8 < buflen; p++) {
            if (*p == '"' || *p == '\\') {
                buf[o++] = '\\';
                buf[o++] = (char)*p;
            } else if (*p < 0x20 || *p == 0x7F) {
                o += (size_t)snprintf(buf + o, buflen - o, "\\u%04x", *p);
            } else {
                buf[o++] = (char)*p;
            }
        }
        buf[o++] = '"';
        buf[o] = '\0';
        break;
    }
    }
    return buf;
}

void config_print(const battled_config *c, FILE *out)
{
    const char *sec = NULL;
    for (size_t i = 0; i < N_SCHEMA; i++) {
        const config_entry *e = &schema[i];
        if (!sec || strcmp(sec, e->section) != 0) {
            fprintf(out, "%s[%s]\n", sec ? "\n" : "", e->section);
            sec = e->section;
        }
        char buf[CONFIG_STRING_MAX * 6 + 8];
        fprintf(out, "%s = %s\n", e->key, config_format_value(c, e, buf, sizeof buf));
    }
}
