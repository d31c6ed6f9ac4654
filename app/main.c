/* battled: command line, configuration and process lifetime.
 *
 * main parses the command line, loads the configuration, blocks SIGINT, SIGTERM, SIGUSR1 and SIGHUP
 * in every thread and hands over to launch_run (app/launch.h): the network thread and the shards run
 * until the first stop signal, which starts a restart or a drain; a second signal hurries it. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config.h"
#include "app/launch.h"
#include "shards/shards.h"
#include "util/log.h"

#ifndef BATTLED_VERSION
#define BATTLED_VERSION "0.1.0"
#endif

/* Exit codes (also listed in --help). */
enum {
    EXIT_OK = 0,     /* clean shutdown, or --check-config/--help/--version */
    EXIT_RUNTIME = 1, /* failed while running (cannot bind, out of memory, ...) */
    EXIT_USAGE = 2,  /* bad command line or bad configuration */
    /* 3: persistence.dir unusable (LAUNCH_EXIT_DATA_DIR, app/launch.h) */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: battled [-c FILE] [--set section.key=value ...] [--check-config]\n"
            "\n"
            "Hosts turn-based starship battles.\n"
            "\n"
            "  -c, --config FILE   configuration file (default ./config.toml)\n"
            "  --set S.K=V         override one setting after the file, e.g.\n"
            "                      --set server.shards=4 --set log.level=debug (repeatable)\n"
            "  --check-config      validate the configuration, print it as TOML, exit\n"
            "  --version           print the version and exit\n"
            "  -h, --help          print this help and exit\n"
            "\n"
            "Logs go to stderr (or log.file) as logfmt. SIGTERM or SIGINT restarts:\n"
            "clients are told \"restarting\", battles are kept in the journal and come\n"
            "back on the next start (server.on_sigterm=\"restart\", the default, with\n"
            "persistence on); otherwise, and always on SIGUSR1, the server drains: no new\n"
            "battles, running ones may finish within server.drain_timeout_ms and are then\n"
            "ended as \"shutdown\". A second signal hurries either. SIGHUP reopens\n"
            "log.file and reloads the TLS certificate and key.\n"
            "\n"
            "Exit status:\n"
            "  0  clean shutdown, or --check-config, --help, --version succeeded\n"
            "  1  runtime failure (for example the port cannot be bound)\n"
            "  2  bad command line or invalid configuration (message on stderr)\n"
            "  3  persistence.dir cannot be created or written (the log says why and how\n"
            "     to fix it)\n");
}

static void log_effective(const battled_config *c)
{
    /* The count the shards will run: the one policy, in shards/. */
    char shards[24];
    snprintf(shards, sizeof shards, "%u",
             shards_count_for(c->server.shards, sysconf(_SC_NPROCESSORS_ONLN)));
    log_info("battled starting", "version", BATTLED_VERSION, "listen", c->server.listen,
             "shards", shards, "max_connections", LOG_I64(c->server.max_connections),
             "max_frame", LOG_I64(c->server.max_frame), "admin", c->admin.listen, "tls",
             c->tls.listen, "persistence", c->persistence.enabled ? "on" : "off", "log_level",
             log_level_name((log_level)c->log.level));
    if (!log_enabled(LOG_LEVEL_DEBUG))
        return;
    for (size_t i = 0; i < config_schema_count(); i++) {
        const config_entry *e = config_schema_at(i);
        char name[96], val[CONFIG_STRING_MAX * 6 + 8];
        snprintf(name, sizeof name, "%s.%s", e->section, e->key);
        log_debug("config", "key", name, "value", config_format_value(c, e, val, sizeof val));
    }
}

static int run_server(const battled_config *c, const sigset_t *set)
{
    log_effective(c);
    return launch_run(c, set);
}

int main(int argc, char **argv)
{
    const char *path = "config.toml";
    bool check = false;
    const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    size_t n_over = 0;
    if (!overrides) {
        fprintf(stderr, "battled: out of memory\n");
        return EXIT_RUNTIME;
    }
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            goto out;
        } else if (strcmp(a, "--version") == 0) {
            printf("battled %s\n", BATTLED_VERSION);
            goto out;
        } else if (strcmp(a, "--check-config") == 0) {
            check = true;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 ||
                   strcmp(a, "--set") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "battled: %s needs a value (see --help)\n", a);
                rc = EXIT_USAGE;
                goto out;
            }
            if (a[2] == 's')
                overrides[n_over++] = argv[++i];
            else
                path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        } else if (strncmp(a, "--set=", 6) == 0) {
            overrides[n_over++] = a + 6;
        } else {
            fprintf(stderr, "battled: unknown argument '%s' (see --help)\n", a);
            rc = EXIT_USAGE;
            goto out;
        }
    }

    static battled_config cfg;
    char err[512];
    if (config_load(&cfg, path, overrides, n_over, err, sizeof err) != 0) {
        fprintf(stderr, "battled: %s\n", err);
        rc = EXIT_USAGE;
        goto out;
    }
    if (check) {
        config_print(&cfg, stdout);
        goto out;
    }

    /* Block the shutdown signals before any thread exists so every thread
     * inherits the mask and only sigwait sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    log_init((log_level)cfg.log.level);
    if (launch_open_log(&cfg) != 0) {
        rc = EXIT_RUNTIME;
        goto out;
    }
    log_set_thread_name("main");
    rc = run_server(&cfg, &set);
out:
    free(overrides);
    return rc;
}
