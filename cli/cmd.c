/* cli/cmd: command-line parsing for battle-cli; see cmd.h. */
#include "cli/cmd.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 8   /* the longest command (resume with arguments) has 5 words */
#define TOKEN_MAX 64   /* a token is a word or a number; a resume token is 32 hex digits */

typedef struct {
    int n;
    char t[MAX_TOKENS][TOKEN_MAX + 1];
} tokens;

struct verb_name {
    const char *name;
    cli_verb verb;
};

static const struct verb_name verbs[] = {
    {"help", CLI_HELP},     {"?", CLI_HELP},        {"h", CLI_HELP},
    {"quit", CLI_QUIT},     {"exit", CLI_QUIT},     {"q", CLI_QUIT},
    {"queue", CLI_QUEUE},   {"cancel", CLI_CANCEL}, {"create", CLI_CREATE},
    {"join", CLI_JOIN},     {"watch", CLI_WATCH},   {"resume", CLI_RESUME},
    {"fire", CLI_FIRE},     {"f", CLI_FIRE},        {"missile", CLI_MISSILE},
    {"launch", CLI_MISSILE}, {"m", CLI_MISSILE},    {"pd", CLI_PD},
    {"sand", CLI_SAND},     {"sandcaster", CLI_SAND}, {"end", CLI_END},
    {"pass", CLI_END},      {"forfeit", CLI_FORFEIT}, {"surrender", CLI_FORFEIT},
    {"leave", CLI_LEAVE},   {"status", CLI_STATUS}, {"s", CLI_STATUS},
    {"ping", CLI_PING},     {"wait", CLI_WAIT},
};

static int fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return -1;
}

/* Splits line into lowercase words. Returns 0, or -1 with a message. */
static int tokenize(const char *line, tokens *tk, char *err, size_t errlen)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len > CLI_LINE_MAX) {
        snprintf(err, errlen, "line too long (%zu bytes; at most %d)", len, CLI_LINE_MAX);
        return -1;
    }
    tk->n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char ch = (unsigned char)line[i];
        /* '#' starts a comment, except "#12", the way missile ids are printed */
        if (ch == '#' && !(i + 1 < len && isdigit((unsigned char)line[i + 1])))
            break;
        if (ch == ' ' || ch == '\t') {
            i++;
            continue;
        }
        if (ch < 0x20 || ch > 0x7e) {
            snprintf(err, errlen, "unexpected byte 0x%02x at column %zu: commands are plain ASCII", ch,
                     i + 1);
            return -1;
        }
        if (tk->n == MAX_TOKENS) {
            snprintf(err, errlen, "too many words (at most %d); type 'help'", MAX_TOKENS);
            return -1;
        }
        size_t w = 0;
        while (i < len && line[i] != ' ' && line[i] != '\t') {
            ch = (unsigned char)line[i];
            if (ch < 0x20 || ch > 0x7e) {
                snprintf(err, errlen, "unexpected byte 0x%02x at column %zu: commands are plain ASCII",
                         ch, i + 1);
                return -1;
            }
            if (w == TOKEN_MAX) {
                snprintf(err, errlen, "word %d is too long (at most %d characters)", tk->n + 1, TOKEN_MAX);
                return -1;
            }
            tk->t[tk->n][w++] = (char)tolower(ch);
            i++;
        }
        tk->t[tk->n][w] = '\0';
        tk->n++;
    }
    return 0;
}

/* Strict unsigned decimal: digits only, no sign, no overflow, <= max. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_band(const char *word)
{
    char w[TOKEN_MAX + 1];
    size_t n = 0;
    for (; word[n] && n < TOKEN_MAX; n++)
        w[n] = word[n] == '-' ? '_' : (char)tolower((unsigned char)word[n]);
    if (word[n] || n == 0)
        return -1;
    w[n] = '\0';
    int found = -1;
    for (int b = 0; b < PROTO_BAND_COUNT; b++) {
        const char *name = proto_band_name(b);
        if (strcmp(name, w) == 0)
            return b;
        if (strncmp(name, w, n) == 0) {
            if (found >= 0)
                return -1; /* ambiguous prefix */
            found = b;
        }
    }
    if (found < 0 && strcmp(w, "vlong") == 0)
        return PROTO_BAND_VERY_LONG;
    return found;
}

static int check_ship(const char *s, char *out, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n == 0 || n > PROTO_SHIP_MAX)
        return fail(err, errlen, "'%s' is not a ship name (at most 32 of a-z, 0-9, _)", s);
    for (size_t i = 0; i < n; i++) {
        char c = s[i] == '-' ? '_' : s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return fail(err, errlen, "'%s' is not a ship name (letters, digits and _ only; try "
                                     "scout or free_trader)", s);
        out[i] = c;
    }
    out[n] = '\0';
    return 0;
}

static int need_band(const char *w, cli_cmd *out, char *err, size_t errlen)
{
    int b = cli_parse_band(w);
    if (b < 0)
        return fail(err, errlen, "'%s' is not a range band: adjacent, close, short, medium, long, "
                                 "very_long or distant", w);
    out->band = (uint8_t)b;
    return 0;
}

static int need_bid(const char *w, cli_cmd *out, char *err, size_t errlen)
{
    uint64_t v;
    if (parse_u64(w, UINT64_MAX, &v) != 0 || v == 0)
        return fail(err, errlen, "'%s' is not a battle id (a positive number)", w);
    out->bid = v;
    return 0;
}

static int arity(const tokens *tk, int lo, int hi, const char *usage, char *err, size_t errlen)
{
    if (tk->n - 1 < lo || tk->n - 1 > hi)
        return fail(err, errlen, "usage: %s", usage);
    return 0;
}

static int parse_create(const tokens *tk, cli_cmd *out, char *err, size_t errlen)
{
    static const char usage[] = "create <ship> <band> [vs ai [<ship>] | vs player]";
    if (arity(tk, 2, 5, usage, err, errlen) ||
        check_ship(tk->t[1], out->ship, err, errlen) || need_band(tk->t[2], out, err, errlen))
        return -1;
    out->vs = PROTO_VS_PLAYER;
    int i = 3;
    if (i < tk->n && strcmp(tk->t[i], "vs") == 0)
        i++;
    else if (i < tk->n)
        return fail(err, errlen, "usage: %s", usage);
    if (i == tk->n && i > 3)
        return fail(err, errlen, "usage: %s (vs what?)", usage);
    if (i < tk->n) {
        if (strcmp(tk->t[i], "ai") == 0 || strcmp(tk->t[i], "server") == 0)
            out->vs = PROTO_VS_AI;
        else if (strcmp(tk->t[i], "player") != 0 && strcmp(tk->t[i], "human") != 0)
            return fail(err, errlen, "'%s': create ... vs ai or vs player", tk->t[i]);
        i++;
    }
    if (i < tk->n) {
        if (out->vs != PROTO_VS_AI)
            return fail(err, errlen, "usage: %s (only an ai opponent takes a ship)", usage);
        if (check_ship(tk->t[i], out->oship, err, errlen))
            return -1;
        i++;
    }
    return i == tk->n ? 0 : fail(err, errlen, "usage: %s", usage);
}

static int parse_resume(const tokens *tk, cli_cmd *out, char *err, size_t errlen)
{
    static const char usage[] = "resume  |  resume <battle id> <seat 0|1> <token> [<last seq>]";
    if (tk->n == 1)
        return 0;
    if (arity(tk, 3, 4, usage, err, errlen) || need_bid(tk->t[1], out, err, errlen))
        return -1;
    uint64_t v;
    if (parse_u64(tk->t[2], 1, &v) != 0)
        return fail(err, errlen, "'%s' is not a seat (0 or 1)", tk->t[2]);
    out->seat = (uint8_t)v;
    if (cli_token_parse(tk->t[3], out->token) != 0)
        return fail(err, errlen, "'%s' is not a resume token (32 hex digits)", tk->t[3]);
    if (tk->n == 5) {
        if (parse_u64(tk->t[4], UINT32_MAX, &v) != 0)
            return fail(err, errlen, "'%s' is not a sequence number", tk->t[4]);
        out->last = (uint32_t)v;
    }
    out->has_args = 1;
    return 0;
}

static int parse_wait(const tokens *tk, cli_cmd *out, char *err, size_t errlen)
{
    static const char usage[] = "wait [turn|start|end] [<seconds>]";
    if (arity(tk, 0, 2, usage, err, errlen))
        return -1;
    out->wait_for = CLI_WAIT_TURN;
    out->wait_s = CLI_WAIT_DEFAULT_S;
    int i = 1;
    if (i < tk->n && !isdigit((unsigned char)tk->t[i][0])) {
        if (strcmp(tk->t[i], "turn") == 0)
            out->wait_for = CLI_WAIT_TURN;
        else if (strcmp(tk->t[i], "start") == 0)
            out->wait_for = CLI_WAIT_START;
        else if (strcmp(tk->t[i], "end") == 0)
            out->wait_for = CLI_WAIT_END;
        else
            return fail(err, errlen, "'%s': wait for turn, start or end", tk->t[i]);
        i++;
    }
    if (i < tk->n) {
        uint64_t v;
        if (parse_u64(tk->t[i], CLI_WAIT_MAX_S, &v) != 0 || v == 0)
            return fail(err, errlen, "'%s' is not a number of seconds (1..86400)", tk->t[i]);
        out->wait_s = (uint32_t)v;
        i++;
    }
    return i == tk->n ? 0 : fail(err, errlen, "usage: %s", usage);
}

int cli_parse(const char *line, cli_cmd *out, char *err, size_t errlen)
{
    tokens tks;
    tokens *tk = &tks;
    memset(out, 0, sizeof *out);
    out->weapon = -1;
    out->missile = -1;
    if (tokenize(line, tk, err, errlen) != 0)
        return -1;
    if (tk->n == 0)
        return 0;
    cli_verb verb = CLI_NONE;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(verbs[i].name, tk->t[0]) == 0)
            verb = verbs[i].verb;
    if (verb == CLI_NONE)
        return fail(err, errlen, "unknown command '%s'; type 'help' for the list", tk->t[0]);
    out->verb = verb;
    uint64_t v;
    switch (verb) {
    case CLI_HELP:
        if (arity(tk, 0, 1, "help [<command>]", err, errlen))
            return -1;
        if (tk->n == 2) /* a longer word names no topic: truncation just shows the overview */
            snprintf(out->topic, sizeof out->topic, "%.15s", tk->t[1]);
        return 0;
    case CLI_QUEUE:
        if (arity(tk, 2, 2, "queue <ship> <band>   e.g. queue scout medium", err, errlen))
            return -1;
        return check_ship(tk->t[1], out->ship, err, errlen) || need_band(tk->t[2], out, err, errlen)
                   ? -1 : 0;
    case CLI_CREATE:
        return parse_create(tk, out, err, errlen);
    case CLI_JOIN:
        if (arity(tk, 2, 2, "join <battle id> <ship>", err, errlen))
            return -1;
        return need_bid(tk->t[1], out, err, errlen) || check_ship(tk->t[2], out->ship, err, errlen)
                   ? -1 : 0;
    case CLI_WATCH:
        if (arity(tk, 1, 1, "watch <battle id>", err, errlen))
            return -1;
        return need_bid(tk->t[1], out, err, errlen);
    case CLI_RESUME:
        return parse_resume(tk, out, err, errlen);
    case CLI_FIRE:
        if (arity(tk, 0, 1, "fire [<weapon number>]", err, errlen))
            return -1;
        if (tk->n == 2) {
            if (parse_u64(tk->t[1], PROTO_MAX_WEAPONS - 1, &v) != 0)
                return fail(err, errlen, "fire takes a weapon number 0..15 (see 'status'), got '%s'",
                            tk->t[1]);
            out->weapon = (int)v;
        }
        return 0;
    case CLI_PD:
        if (arity(tk, 0, 1, "pd [<missile id>]", err, errlen))
            return -1;
        if (tk->n == 2) {
            const char *w = tk->t[1][0] == '#' ? tk->t[1] + 1 : tk->t[1];
            if (parse_u64(w, UINT32_MAX, &v) != 0)
                return fail(err, errlen, "pd takes a missile id like 3 or #3, got '%s'", tk->t[1]);
            out->missile = (int64_t)v;
        }
        return 0;
    case CLI_WAIT:
        return parse_wait(tk, out, err, errlen);
    default: /* verbs without arguments */
        if (tk->n != 1)
            return fail(err, errlen, "'%s' takes no arguments", tk->t[0]);
        return 0;
    }
}

void cli_token_hex(const uint8_t token[PROTO_TOKEN_LEN], char out[2 * PROTO_TOKEN_LEN + 1])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < PROTO_TOKEN_LEN; i++) {
        out[2 * i] = hx[token[i] >> 4];
        out[2 * i + 1] = hx[token[i] & 15];
    }
    out[2 * PROTO_TOKEN_LEN] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int cli_token_parse(const char *hex, uint8_t token[PROTO_TOKEN_LEN])
{
    if (strlen(hex) != 2 * PROTO_TOKEN_LEN)
        return -1;
    for (int i = 0; i < PROTO_TOKEN_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        token[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

const char *cli_help(const char *topic)
{
    static const struct {
        const char *topic, *text;
    } topics[] = {
        {"queue", "queue <ship> <band>\n  Wait for a stranger who queues for the same band; the battle starts\n"
                  "  when one arrives. 'cancel' leaves the queue. Bands: adjacent close short medium\n"
                  "  long very_long distant. Ships: scout free_trader seeker safari_ship\n"
                  "  patrol_corvette laboratory_ship subsidised_liner mercenary_cruiser far_trader\n"},
        {"create", "create <ship> <band> [vs ai [<ship>] | vs player]\n"
                   "  vs ai: a solo battle against the server's own captain (optionally in <ship>).\n"
                   "  vs player (default): a private battle; give its id to a friend, who types\n"
                   "  'join <id> <ship>'.\n"},
        {"join", "join <battle id> <ship>\n  Take the free seat of a private battle.\n"},
        {"watch", "watch <battle id>\n  Follow a running battle as a spectator; 'leave' stops watching.\n"},
        {"resume", "resume  |  resume <battle id> <seat> <token> [<last seq>]\n"
                   "  Take your seat back after a dropped connection. Without arguments it uses the\n"
                   "  battle this session (or --resume-file) remembers. battle-cli also resumes by\n"
                   "  itself when the connection drops.\n"},
        {"fire", "fire [<weapon>]\n  Turn action: fire weapon number <weapon> (see 'status'); without a\n"
                 "  number, the first weapon that can fire.\n"},
        {"missile", "missile\n  Turn action: launch a missile from your rack. It flies one band closer\n"
                    "  each round and strikes at adjacent for 4D6, armour ignored.\n"},
        {"pd", "pd [<missile id>]\n  Reaction: point defense against an incoming missile (one try per\n"
               "  missile per round). Without an id, the nearest incoming missile.\n"},
        {"sand", "sand\n  Reaction (adjacent or close, once a round): a sand cloud that adds armour\n"
                 "  against the next laser hit this round.\n"},
        {"wait", "wait [turn|start|end] [<seconds>]\n  For scripts: stop reading commands until it is "
                 "your turn, the battle\n  starts or it ends (default: turn; gives up after 600 s).\n"},
    };
    for (size_t i = 0; topic && *topic && i < sizeof topics / sizeof topics[0]; i++)
        if (strcmp(topics[i].topic, topic) == 0)
            return topics[i].text;
    return "Commands (help <command> for more):\n"
           "  queue <ship> <band>            find an opponent   (e.g. queue scout medium)\n"
           "  create <ship> <band> vs ai     solo battle against the server\n"
           "  create <ship> <band>           private battle; a friend joins by id\n"
           "  join <id> <ship>               join a private battle\n"
           "  watch <id>                     watch a battle\n"
           "  cancel                         leave the queue\n"
           "  fire [<n>]   missile   end     turn actions (one per round, on your turn)\n"
           "  pd [<id>]    sand              reactions (any time in the round)\n"
           "  status                         both ships, missiles in flight, whose turn\n"
           "  forfeit      leave             give up / stop watching\n"
           "  resume                         take your seat back after a dropped connection\n"
           "  wait [turn|start|end] [<s>]    for scripts: wait for the battle\n"
           "  ping   help   quit\n";
}
