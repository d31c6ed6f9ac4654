/* launch: turns battled's configuration into a running server, for main.c and for tests that
 * start the real server in-process.
 *
 * app/ is the program: it alone reads the whole configuration (app/config.h). It loads the ship
 * table named by game.ships_file, fills the network thread's plain options (struct server_opts,
 * net/server.h) and the shards' (struct shards_opts, shards/shard.h) from the configuration, and
 * starts the server; net/ and shards/ never see battled_config through it. */
/* Layer: app/ API: main.c and the tests that run the server in-process. */
#ifndef BATTLED_APP_LAUNCH_H
#define BATTLED_APP_LAUNCH_H

#include <signal.h>

#include "app/config.h"
#include "net/server.h"

/* Loads the ship table from cfg->game.ships_file and starts the server for cfg. Returns NULL on
 * failure, already logged (cannot read or parse the ship table, and every server_start failure).
 * The caller ends it with server_drain + server_wait. */
server *launch_server(const battled_config *cfg);

/* Exit status when persistence is on and persistence.dir cannot be created or written. */
#define LAUNCH_EXIT_DATA_DIR 3

/* Exit status of a cluster node that found another node took its battles over (it was paused or
 * cut off past its lease): it told its players to reconnect and kept nothing; start it again (a
 * new incarnation). 75 is EX_TEMPFAIL, which systemd's Restart=on-failure restarts. */
#define LAUNCH_EXIT_FENCED 75

/* How long the shards may take to put one dead node's battles back (cluster/adopt.h). */
#define LAUNCH_ADOPT_TIMEOUT_MS 60000

/* With persistence on: creates persistence.dir (and its parents) if missing and checks that a file
 * can be created in it. Returns 0, or LAUNCH_EXIT_DATA_DIR after logging why and how to fix it. */
int launch_check_data_dir(const battled_config *cfg);

/* Opens log.file (append) and sends log lines there; nothing when it is "". 0, or -1 after a
 * message on stderr. The descriptor stays open for the process (SIGHUP reopens it in place). */
int launch_open_log(const battled_config *cfg);
extern int launch_log_fd; /* log.file's descriptor, -1 when logging to stderr */

/* The whole lifetime for battled's main: checks persistence.dir, starts, and waits for a signal in
 * `signals` (which the caller has blocked in every thread: SIGTERM, SIGINT, SIGUSR1, SIGHUP).
 * SIGHUP reopens log.file and reloads the TLS certificate, any number of times (once
 * shutting down, it only reopens the log). SIGTERM/SIGINT
 * restart (server_restart) when server.on_sigterm is "restart" and persistence is on, else drain;
 * SIGUSR1 always drains. A second stop signal hurries whichever runs. In a cluster, also takes over
 * the battles of nodes that died (cluster/adopt.h). Returns the exit status (0 clean, 1 runtime
 * failure, LAUNCH_EXIT_DATA_DIR, LAUNCH_EXIT_FENCED). */
int launch_run(const battled_config *cfg, const sigset_t *signals);

#endif
