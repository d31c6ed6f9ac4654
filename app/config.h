/* config: battled's settings, read from a TOML file and "--set" overrides.
 *
 * A single table-driven schema (config_schema_at) names every setting with its
 * type, range, default and a one-line doc; loading, overriding, printing and
 * the tests all walk that table, so a setting exists in exactly one place.
 * Unknown sections or keys, wrong types and out-of-range values are errors: a
 * typo must never pass silently. Times are milliseconds, sizes are bytes.
 * String settings hold at most CONFIG_STRING_MAX bytes. */
/* Layer: app/ API: main.c, launch.c and tests; nothing below app/ includes it. */
#ifndef BATTLED_APP_CONFIG_H
#define BATTLED_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_STRING_MAX 255  /* bytes in a string setting, NUL excluded */
#define CONFIG_FILE_MAX (1u << 20) /* largest config file read */

typedef enum { CONFIG_FSYNC_ALWAYS = 0, CONFIG_FSYNC_EVERYSEC = 1, CONFIG_FSYNC_NO = 2 } config_fsync;
/* server.on_sigterm: what SIGTERM/SIGINT do (SIGUSR1 always drains). */
typedef enum { CONFIG_SIGTERM_RESTART = 0, CONFIG_SIGTERM_DRAIN = 1 } config_on_sigterm;
typedef enum { CONFIG_BACKEND_FILE = 0, CONFIG_BACKEND_REDIS = 1 } config_backend;

/* Plain struct; config_defaults fills every field. Ranges and defaults are in
 * the schema (app/config.c) and documented in config.toml. */
typedef struct battled_config {
    struct {
        char listen[CONFIG_STRING_MAX + 1];   /* "host:port", port 0 = ephemeral */
        int64_t shards;                       /* 0 = cores-1 (at least 1); 0..256 */
        int64_t max_connections;
        int64_t max_frame;                    /* bytes */
        int64_t hello_timeout_ms;
        int64_t idle_timeout_ms;
        int64_t max_seats_per_conn;
        int64_t output_cap;                   /* bytes per connection */
        int64_t drain_timeout_ms;
        int on_sigterm;                       /* a config_on_sigterm */
        int64_t restart_retry_ms;             /* announced in "restarting" */
        int64_t ring_slots;                   /* power of two */
        int64_t inline_max;                   /* messages per net pass run for sleeping shards */
        char port_file[CONFIG_STRING_MAX + 1]; /* "" = don't write */
        int64_t max_conns_per_addr;           /* every game listener; 0 = no limit */
        int64_t max_handshakes_per_addr;      /* connections not past hello yet; 0 = no limit */
    } server;
    struct {
        char ships_file[CONFIG_STRING_MAX + 1];
        int64_t round_limit;
        int64_t turn_timer_ms;                /* 0 = off */
        int64_t resume_window_ms;
        int64_t idle_battle_ms;
        int64_t finished_keep_ms;
        int64_t max_spectators;
        int64_t ai_think_ms;
    } game;
    struct {
        int64_t actions_per_sec;              /* 0 = off */
        int64_t burst;
        int64_t abuse_refusals;               /* within 10 s; 0 = never disconnect */
    } ratelimit;
    struct {
        int level;                            /* a log_level (util/log.h) */
        char file[CONFIG_STRING_MAX + 1];     /* "" = stderr only */
    } log;
    struct {
        char listen[CONFIG_STRING_MAX + 1];   /* "" disables */
        char port_file[CONFIG_STRING_MAX + 1]; /* "" = don't write */
    } admin;
    struct {
        char listen[CONFIG_STRING_MAX + 1];   /* "" disables */
        char cert[CONFIG_STRING_MAX + 1];
        char key[CONFIG_STRING_MAX + 1];
        int64_t handshake_timeout_ms;
        int64_t max_handshakes_per_pass;
    } tls;
    struct {
        bool enabled;
        int backend;                          /* a config_backend */
        char dir[CONFIG_STRING_MAX + 1];
        char redis_address[CONFIG_STRING_MAX + 1];
        char redis_prefix[CONFIG_STRING_MAX + 1];
        char redis_node[CONFIG_STRING_MAX + 1];
        int64_t redis_timeout_ms;
        int64_t redis_lease_ms;
        int fsync;                            /* a config_fsync */
        int64_t compact_bytes;
        bool skip_damaged;
    } persistence;
    struct {                                  /* WebSocket listeners and the web page (net/ws.h) */
        char listen[CONFIG_STRING_MAX + 1];   /* ws://, "" disables */
        char tls_listen[CONFIG_STRING_MAX + 1]; /* wss:// with tls.cert/tls.key, "" disables */
        char port_file[CONFIG_STRING_MAX + 1]; /* "" = don't write */
        int64_t handshake_timeout_ms;
        char allowed_origins[CONFIG_STRING_MAX + 1];
        char web_root[CONFIG_STRING_MAX + 1];
        char msgpack_dir[CONFIG_STRING_MAX + 1];
    } ws;
    struct {
        bool enabled;
        char node[CONFIG_STRING_MAX + 1];            /* "" = the host name */
        char prefix[CONFIG_STRING_MAX + 1];
        char advertise[CONFIG_STRING_MAX + 1];       /* "" = server.listen */
        char advertise_admin[CONFIG_STRING_MAX + 1]; /* "" = admin.listen */
        char advertise_ws[CONFIG_STRING_MAX + 1];    /* "" = ws.listen (none when off) */
        char advertise_tls[CONFIG_STRING_MAX + 1];   /* "" = tls.listen (none when off) */
        char advertise_wss[CONFIG_STRING_MAX + 1];   /* "" = ws.tls_listen (none when off) */
        int64_t heartbeat_ms;
        int64_t ttl_ms;
        bool match;             /* matchmaking across nodes (cluster/match.h) */
        int64_t match_delay_ms; /* a queue entry waits this long for a local opponent */
    } cluster;
} battled_config;

typedef enum {
    CONFIG_T_INT,
    CONFIG_T_BOOL,
    CONFIG_T_STRING,
    CONFIG_T_ENUM,        /* stored as int: index into enum_names */
    CONFIG_T_DURATION_MS, /* int64_t milliseconds */
    CONFIG_T_SIZE_BYTES,  /* int64_t bytes */
} config_type;

/* Extra checks on top of type and range. */
#define CONFIG_F_POW2 1u     /* integer must be a power of two */
#define CONFIG_F_HOSTPORT 2u /* string must be "host:port" (port 0..65535) or "" when EMPTY_OK */
#define CONFIG_F_EMPTY_OK 4u /* with HOSTPORT: "" allowed (disables the listener) */

typedef struct {
    const char *section;
    const char *key;
    config_type type;
    size_t offset;                  /* into battled_config */
    int64_t min, max;               /* integer types only */
    int64_t def_int;                /* integer, bool (0/1) and enum (index) default */
    const char *def_str;            /* string default */
    const char *const *enum_names;  /* NULL-terminated, enum only */
    unsigned flags;                 /* CONFIG_F_* */
    const char *doc;                /* one line */
} config_entry;

/* Fills c with every default. */
void config_defaults(battled_config *c);

/* Resets c to defaults, loads the TOML file at path over them (path NULL: no
 * file), then applies overrides "section.key=value" in order. Returns 0, or -1
 * with a one-line message in err, such as
 * "config.toml:12:3: server.shards: 300 is out of range 0..256". On error c
 * may be partly updated. */
int config_load(battled_config *c, const char *path, const char *const *overrides,
                size_t n_overrides, char *err, size_t errlen);

/* Loads a document already in memory (name is used in messages) over the
 * current contents of c. Returns 0 or -1 with err filled in. */
int config_load_text(battled_config *c, const char *text, size_t len, const char *name,
                     char *err, size_t errlen);

/* Applies one override "section.key=value". Strings and enums may be bare
 * (listen=0.0.0.0:7070) or TOML-quoted; other values use TOML syntax
 * (true, 4096, 0x40). Returns 0 or -1 with err filled in. */
int config_set(battled_config *c, const char *assignment, char *err, size_t errlen);

/* Writes the effective configuration as valid TOML that loads back to c. */
void config_print(const battled_config *c, FILE *out);

/* The schema, in the order of config.toml. */
size_t config_schema_count(void);
const config_entry *config_schema_at(size_t i);
/* The entry for section.key, or NULL. */
const config_entry *config_schema_find(const char *section, const char *key);
/* Formats the value of entry e in c as a TOML value into buf. Returns buf. */
const char *config_format_value(const battled_config *c, const config_entry *e, char *buf,
                                size_t buflen);

#endif
