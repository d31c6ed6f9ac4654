/* itest: helpers for the integration tests, which run the REAL battled binary.
 *
 * Each test starts its own server on 127.0.0.1 port 0 (server.port_file tells the port), talks to it
 * with proto's blocking client library (proto/client/pc.h), and stops it with a signal. Every wait is
 * a poll for a condition with a deadline, never a bare sleep. The binary and the shard count come
 * from the command line that ctest passes: `test_it_x BATTLED_BINARY --shards N`; the server runs in
 * $BATTLED_SOURCE_DIR so it finds config.toml and data/ships.toml. Server logs go to a file in the
 * test's temporary directory and are printed when a test fails (itest_dump_log).
 *
 * TLS mode (`--tls` on the command line; net.cmake registers each test_it_x a second time as
 * test_it_x_tls): itest_init makes one self-signed certificate for "localhost" with mbedTLS, every
 * server gets it (tls.listen=127.0.0.1:0, tls.cert, tls.key), s->port is the TLS port (the port
 * file's second line) and itest_connect/itest_client speak TLS verifying that certificate. Tests
 * need no change: pc_send_raw writes into the TLS stream and pc_recv reads out of it. WebSocket mode
 * (`--ws`, with or without --tls) runs the same tests over ws:// or wss:// (itest_ws). `--skip
 * PATTERN` skips the tests whose names match (cmocka's glob), for the few that cannot apply;
 * `--only PATTERN` runs only those (a focused run by hand). */
#ifndef BATTLED_TESTS_ITEST_H
#define BATTLED_TESTS_ITEST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include "proto/client/pc.h"
#include "proto/client/tracker.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define ITEST_WAIT_MS 5000   /* default deadline for one expected message */
#define ITEST_START_MS 10000 /* deadline for the port file to appear */
#define ITEST_MAX_SETS 24

typedef struct {
    pid_t pid;
    uint16_t port;       /* the port tests connect to: tls_port in TLS mode, else plain_port */
    uint16_t plain_port; /* the clear-text game port (first line of the port file) */
    uint16_t tls_port;   /* the TLS game port (second line), 0 when TLS is off */
    uint16_t ws_port;    /* WebSocket mode: the ws:// port (ws.port_file's first line) */
    uint16_t wss_port;   /* WebSocket mode with --tls: the wss:// port (its second line) */
    char dir[128];
    char log[160];
    int exited;   /* waitpid done */
    int status;   /* its raw status when exited */
} itest_server;

/* Takes "name VALUE" out of argv (argc and argv shrink, argv stays NULL-terminated) and returns
 * VALUE, or NULL when absent: for a test's own options (--cli PATH, --bench PATH) before
 * itest_init sees the rest. */
const char *itest_take_option(int *argc, char **argv, const char *name);
/* Parses argv (binary path, --shards N); call first from main. */
void itest_init(int argc, char **argv);
/* Shard count of this run (1 or 4). */
int itest_shards(void);
/* True in TLS mode (--tls). */
bool itest_tls(void);
/* True in WebSocket mode (--ws): every server also listens on ws:// (wss:// with --tls), s->port is
 * that port and itest_connect upgrades each connection on /ws (pc_ws_upgrade). */
bool itest_ws(void);
/* The run's certificate as PEM (TLS mode only; "" otherwise), for tests that connect themselves. */
const char *itest_tls_ca_pem(void);

/* Starts battled with the standard test settings (listen 127.0.0.1:0, port file, the run's shard
 * count, admin off, rate limit off, debug logs, drain_timeout_ms 500, persistence.dir in the
 * server's own temporary directory (persistence is on by default); a later --set wins) plus `sets` ("section.key=value", NULL-terminated,
 * may be NULL); returns false (after printing the log) when it did not come up. */
bool itest_start(itest_server *s, const char *const *sets);
/* Servers started after this call run with RLIMIT_NOFILE (soft and hard) set to n in the child
 * before exec, as `prlimit --nofile=n` would; 0 (the default) leaves the limit alone. */
void itest_set_nofile(unsigned n);
/* Sends sig and waits up to wait_ms for the exit; returns the exit code, or -1 on timeout (the
 * server is then killed) or -2 when it died of a signal. */
int itest_stop(itest_server *s, int sig, int wait_ms);
/* Whether a line of the text file at path contains needle (false when it cannot be read). */
bool itest_file_has(const char *path, const char *needle);
/* Removes the files of dir (not recursive) and dir itself; quiet when it does not exist. */
void itest_rm_dir(const char *dir);
/* Kills the server if still running and removes its temporary directory. */
void itest_cleanup(itest_server *s);
void itest_dump_log(const itest_server *s);
/* The usual end of a test's server: itest_stop with SIGTERM, the log printed when the exit code is
 * not 0, then itest_cleanup. Returns itest_stop's result (0 for a clean exit). */
int itest_finish(itest_server *s, int wait_ms);

/* Connects to s->port, with TLS in TLS mode (fails the test if it cannot). */
pc_conn *itest_connect(const itest_server *s);
/* Connects and completes hello -> welcome. */
pc_conn *itest_client(const itest_server *s, const char *name);

/* Sends one raw frame: the 4-byte big-endian length, then body (for hostile or hand-made bodies);
 * fails the test if the write fails. */
void itest_send_frame(pc_conn *c, const void *body, uint32_t len);
/* Packs s as a msgpack str (header and bytes). */
void itest_pack_str(msgpack_packer *pk, const char *s);

/* Waits for the next event of `type` (others are skipped; an error event is returned too) and fails
 * the test when none comes within ITEST_WAIT_MS or an error arrives instead. */
void itest_expect_at(pc_conn *c, int type, proto_event *ev, const char *file, int line);
#define itest_expect(c, t, ev) itest_expect_at(c, t, ev, __FILE__, __LINE__)
/* Waits for the next event of any type; fails the test on timeout or close. */
void itest_next_at(pc_conn *c, proto_event *ev, const char *file, int line);
#define itest_next(c, ev) itest_next_at(c, ev, __FILE__, __LINE__)
/* Waits for an error event with `code` (other events are skipped) and fails the test otherwise. */
void itest_expect_error_at(pc_conn *c, proto_error code, proto_event *ev, const char *file, int line);
#define itest_expect_error(c, code, ev) itest_expect_error_at(c, code, ev, __FILE__, __LINE__)
/* Fails the test if any event arrives within ms. */
void itest_expect_silence(pc_conn *c, int ms);
/* Waits up to ms for the server to close c (pc_recv returning -1); other events are skipped. */
bool itest_wait_closed(pc_conn *c, int ms);

/* Monotonic milliseconds. */
uint64_t itest_now_ms(void);
/* For a child the test forked (call it first thing in the child, with the test's pid from before
 * the fork): it is killed when the test process dies (a crash, ctest's timeout), so a failed test
 * cannot leave a server running; _exit(124) if the test is already gone. */
void itest_child_dies_with(pid_t parent);

/* A battle as one player sees it: the battle followed (proto/client/tracker: bid, seat, token,
 * whose turn, round, ended and the `ended` body) and every event with a sequence number, in
 * arrival order (replays included). */
#define ITEST_MAX_EVENTS 4096
typedef struct {
    pc_conn *c;
    pct_battle t;
    uint32_t fired_round; /* last round this side took its turn action */
    uint32_t nseq;
    uint32_t seqs[ITEST_MAX_EVENTS];
    uint8_t types[ITEST_MAX_EVENTS];
    uint32_t actions; /* turn actions this side sent */
} itest_player;

/* Zeroes p for connection c, following no battle yet. */
void itest_player_init(itest_player *p, pc_conn *c);
/* Takes a `started` event into p (battle id, seat, resume token) and tracks it; fails the test if
 * ev is not `started`. */
void itest_take_started(itest_player *p, const proto_event *ev);
/* Two new clients, "host" and "guest", on one private battle at `band`: host creates it with a scout
 * (vs player), guest joins it by id with a free trader; both have taken their `started`. */
void itest_private_pair(const itest_server *s, itest_player *a, itest_player *b, proto_band band);

/* Records a battle event into p (seq and type) and folds it into p->t (pct_apply: a replay is
 * recorded but changes nothing); a state whose `acted` has p's bit set counts as p's turn action
 * this round. Returns true if ev belonged to p's battle. Fails the test on an error event for that
 * battle. */
bool itest_track(itest_player *p, const proto_event *ev);

/* Reads p's connection, tracking every event of p's battle, until an event of `type` for that
 * battle arrives (left in *ev); fails the test on timeout, close or an error for the battle. */
void itest_until_at(itest_player *p, int type, proto_event *ev, const char *file, int line);
#define itest_until(p, t, ev) itest_until_at(p, t, ev, __FILE__, __LINE__)

/* Takes one turn action (fire weapon 0) if it is p's turn and p has not acted this round. */
void itest_act(itest_player *p);

/* Plays both seats of one battle (weapon 0 whenever it is a seat's turn) until it ends or
 * deadline_ms passes; fails the test on any error. Either player may be NULL (an AI seat). */
void itest_play(itest_player *a, itest_player *b, int deadline_ms);

/* Encodes n fire requests for battle bid with request ids 1..n into one malloc'd buffer of native
 * frames (length prefix included; the caller frees it); *total receives its length. */
uint8_t *itest_encode_fires(uint32_t n, uint64_t bid, size_t *total);

/* The admin port a server wrote to port_file (admin.port_file), or 0. */
uint16_t itest_admin_port(const char *port_file);
/* GETs path from 127.0.0.1:port into out (cap bytes, headers included, NUL-terminated). Returns the
 * HTTP status, or -1 when there was no answer. */
int itest_http_get(uint16_t port, const char *path, char *out, size_t cap);
/* The value of the first sample of metric name in a /metrics page (its line starts with name, then
 * a space or labels), or -1 when absent. */
double itest_metric(const char *page, const char *name);

/* ---- fake nodes and proxies that tests run themselves (127.0.0.1 only) ---- */

/* A TCP socket listening on 127.0.0.1 on a port the kernel picks (*port). Returns its descriptor;
 * the test fails when it cannot. */
int itest_listen_loopback(uint16_t *port);
/* Gets each whole frame's body (length prefix removed) that itest_read_frames reads. */
typedef void (*itest_frame_fn)(void *arg, const uint8_t *body, uint32_t len);
/* Reads once from fd and hands every whole frame to fn (fr keeps a partial one for the next
 * call). Returns false when the peer closed, the read failed or the bytes are not frames. */
bool itest_read_frames(int fd, frame_reader *fr, itest_frame_fn fn, void *arg);

#endif
