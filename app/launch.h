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

/* The whole lifetime for battled's main: start, wait for a signal in `signals` (which the caller has
 * blocked in every thread), drain on the first, hurry the drain on a second, and return the exit
 * status (0 clean, 1 runtime failure). */
int launch_run(const battled_config *cfg, const sigset_t *signals);

#endif
