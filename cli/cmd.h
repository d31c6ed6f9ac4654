/* cli/cmd: parses one line a person typed into a battle-cli command.
 *
 * Pure: no I/O, no globals. Every rejection comes with a message a person can act on ("fire takes a
 * weapon number 0..15, got 'x'"). Verbs and words are case-insensitive; a line is at most
 * CLI_LINE_MAX bytes of printable ASCII. '#' starts a comment, so scripts can be annotated. */
#ifndef BATTLED_CLI_CMD_H
#define BATTLED_CLI_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define CLI_LINE_MAX 256     /* longest command line accepted; longer lines are refused whole */
#define CLI_ERR_MAX 160      /* room for a parse error message */
#define CLI_WAIT_DEFAULT_S 600 /* "wait" without a limit gives up after this many seconds */
#define CLI_WAIT_MAX_S 86400

typedef enum cli_verb {
    CLI_NONE = 0, /* empty line or comment */
    CLI_HELP,
    CLI_QUIT,
    CLI_QUEUE,
    CLI_CANCEL,
    CLI_CREATE,
    CLI_JOIN,
    CLI_WATCH,
    CLI_RESUME,
    CLI_FIRE,
    CLI_MISSILE,
    CLI_PD,
    CLI_SAND,
    CLI_END,
    CLI_FORFEIT,
    CLI_LEAVE,
    CLI_STATUS,
    CLI_PING,
    CLI_WAIT,
} cli_verb;

typedef enum cli_wait_for {
    CLI_WAIT_TURN = 0, /* until it is this seat's turn (or the battle is over) */
    CLI_WAIT_START,    /* until the battle starts (queued or created battles) */
    CLI_WAIT_END,      /* until the battle ends */
} cli_wait_for;

typedef struct cli_cmd {
    cli_verb verb;
    char ship[PROTO_SHIP_MAX + 1];  /* queue, create, join */
    char oship[PROTO_SHIP_MAX + 1]; /* create ... vs ai <ship>; "" = server picks */
    uint8_t band;                   /* proto_band: queue, create */
    uint8_t vs;                     /* proto_vs: create */
    uint64_t bid;                   /* join, watch, resume with arguments */
    int weapon;                     /* fire: 0..PROTO_MAX_WEAPONS-1, or -1 = first that fires */
    int64_t missile;                /* pd: missile id, or -1 = nearest incoming */
    /* resume with arguments (has_args): seat, token, last */
    int has_args;
    uint8_t seat;
    uint8_t token[PROTO_TOKEN_LEN];
    uint32_t last;
    uint8_t wait_for;               /* cli_wait_for */
    uint32_t wait_s;                /* wait limit in seconds */
    char topic[16];                 /* help <topic>; "" = overview */
} cli_cmd;

/* Parses line (NUL-terminated, a trailing newline is allowed). Returns 0 and fills *out (verb
 * CLI_NONE for an empty line or a comment), or -1 with a one-line message in err. */
int cli_parse(const char *line, cli_cmd *out, char *err, size_t errlen);

/* Band from a word: "adjacent".."distant", also with '-' for '_' ("very-long") or a unique prefix
 * ("med"). Returns the proto_band or -1. */
int cli_parse_band(const char *word);

/* The help text for topic ("" or unknown = the overview): a static string, never NULL. */
const char *cli_help(const char *topic);

/* Hex codec for resume tokens: 32 lowercase hex digits. cli_token_hex writes 33 bytes with NUL;
 * cli_token_parse returns 0 or -1 when hex is not exactly 32 hex digits. */
void cli_token_hex(const uint8_t token[PROTO_TOKEN_LEN], char out[2 * PROTO_TOKEN_LEN + 1]);
int cli_token_parse(const char *hex, uint8_t token[PROTO_TOKEN_LEN]);

#endif
