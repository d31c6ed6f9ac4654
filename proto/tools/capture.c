/* proto_capture: plays one solo battle against a running battled's AI and prints every frame of
 * the exchange, both ways, as an annotated hex dump (the dump in docs/PROTOCOL.md section 12 comes
 * from it, through scripts/capture-exchange).
 *
 * Usage: proto_capture --port N [--host H] [--ship KEY] [--vs-ship KEY] [--band NAME]
 *                      [--name CLIENT] [--timeout-ms MS]
 * Defaults: host 127.0.0.1, ship free_trader, vs-ship scout, band adjacent, timeout 30000 ms.
 *
 * The client says hello, creates a battle vs "ai" once welcome came, and fires weapon 0 whenever it is its turn (once
 * per round) until the battle's `ended`. Frames are seen through the client library's trace hook
 * (pc_set_trace), so what is printed is exactly what crossed the socket, in the order this client
 * wrote and read it. Each frame: a header line (direction, decoded type, size with the 4-byte length
 * prefix, the message as JSON-like text with bin as <binN hex>), then offset / hex / ASCII lines of
 * the whole frame, length prefix included.
 *
 * Exit status: 0 when the battle ended; 1 on an error event, a closed connection or the timeout;
 * 2 on bad arguments. The server's settings make the battle quick: game.ai_think_ms=0 (the AI
 * answers at once) and ratelimit.actions_per_sec=0 (no rate_limited refusals). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/client/pc.h"
#include "proto/codec.h"
#include "proto/mp.h"

#define CAP_CONNECT_MS 5000    /* connect deadline */
#define CAP_MAX_DEPTH 8        /* nesting the renderer follows (the deepest message has 4) */
#define CAP_DEFAULT_TIMEOUT_MS 30000
#define CAP_MAX_TIMEOUT_MS 600000

typedef struct {
    unsigned frames[2]; /* per pc_trace_dir */
    unsigned long bytes[2];
} cap_stats;

/* Prints one msgpack item at c as JSON-like text; false when the bytes are not valid msgpack or
 * nest deeper than CAP_MAX_DEPTH (the rest of the frame is then not rendered). */
static bool render(mp_cur *c, int depth)
{
    mp_item it;
    if (depth > CAP_MAX_DEPTH || mp_next(c, &it) != PROTO_E_OK) {
        printf("<bad msgpack>");
        return false;
    }
    switch (it.kind) {
    case MP_NIL: printf("null"); return true;
    case MP_BOOL: printf(it.b ? "true" : "false"); return true;
    case MP_INT:
        if (it.neg)
            printf("%lld", (long long)it.i);
        else
            printf("%llu", (unsigned long long)it.u);
        return true;
    case MP_STR:
        printf("\"");
        for (uint32_t i = 0; i < it.n; i++) {
            uint8_t ch = it.p[i];
            if (ch == '"' || ch == '\\')
                printf("\\%c", ch);
            else if (ch < 0x20 || ch == 0x7f)
                printf("\\u%04x", ch);
            else
                putchar(ch);
        }
        printf("\"");
        return true;
    case MP_BIN:
        printf("<bin%u ", it.n);
        for (uint32_t i = 0; i < it.n; i++)
            printf("%02x", it.p[i]);
        printf(">");
        return true;
    case MP_ARRAY:
        printf("[");
        for (uint32_t i = 0; i < it.n; i++) {
            if (i)
                printf(",");
            if (!render(c, depth + 1))
                return false;
        }
        printf("]");
        return true;
    case MP_MAP:
        printf("{");
        for (uint32_t i = 0; i < it.n; i++) {
            if (i)
                printf(",");
            if (!render(c, depth + 1))
                return false;
            printf(":");
            if (!render(c, depth + 1))
                return false;
        }
        printf("}");
        return true;
    default: printf("<%s>", it.kind == MP_FLOAT ? "float" : "ext"); return true;
    }
}

/* The message type as this library decodes it, or why it does not. */
static const char *decoded_type(pc_trace_dir dir, const uint8_t *body, size_t len, char *buf, size_t cap)
{
    proto_error e;
    int type;
    if (dir == PC_TRACE_SENT) {
        static proto_request r;
        e = proto_decode_request(body, len, &r, NULL);
        type = r.type;
    } else {
        static proto_event ev;
        e = proto_decode_event(body, len, &ev, NULL);
        type = ev.type;
    }
    if (e != PROTO_E_OK)
        snprintf(buf, cap, "undecodable: %s", proto_error_name(e));
    else
        snprintf(buf, cap, "%s", proto_type_name(type));
    return buf;
}

/* One offset / hex / ASCII line per 16 bytes of the frame (prefix + body). */
static void hex_lines(const uint8_t *prefix, const uint8_t *body, size_t len)
{
    size_t total = len + 4;
    for (size_t off = 0; off < total; off += 16) {
        char ascii[17];
        size_t k = 0;
        printf("  %04zx ", off);
        for (size_t i = off; i < off + 16; i++) {
            if (i >= total) {
                printf("   ");
                continue;
            }
            uint8_t b = i < 4 ? prefix[i] : body[i - 4];
            printf(" %02x", b);
            ascii[k++] = b >= 0x20 && b < 0x7f ? (char)b : '.';
        }
        ascii[k] = '\0';
        printf("  |%s|\n", ascii);
    }
}

static void on_frame(void *ud, pc_trace_dir dir, const uint8_t *body, size_t len)
{
    cap_stats *st = ud;
    st->frames[dir]++;
    st->bytes[dir] += len + 4;
    uint8_t prefix[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    char tbuf[64];
    printf("%s %s (%zu bytes)  ", dir == PC_TRACE_SENT ? "C->S" : "S->C",
           decoded_type(dir, body, len, tbuf, sizeof tbuf), len + 4);
    mp_cur c = {body, body + len};
    render(&c, 0);
    printf("\n");
    hex_lines(prefix, body, len);
    printf("\n");
    fflush(stdout);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(const char *why)
{
    fprintf(stderr,
            "proto_capture: %s\n"
            "usage: proto_capture --port N [--host H] [--ship KEY] [--vs-ship KEY] [--band NAME]\n"
            "                     [--name CLIENT] [--timeout-ms MS]\n",
            why);
    return 2;
}

static int parse_band(const char *s)
{
    for (int b = 0; b < PROTO_BAND_COUNT; b++)
        if (strcmp(proto_band_name(b), s) == 0)
            return b;
    return -1;
}

/* Strict unsigned parse within [lo, hi]; -1 on anything else. */
static long parse_num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    return v;
}

typedef struct {
    const char *host, *ship, *vs_ship, *name;
    int band;
    long port, timeout_ms;
} cap_opts;

static int parse_args(int argc, char **argv, cap_opts *o)
{
    *o = (cap_opts){.host = "127.0.0.1", .ship = "free_trader", .vs_ship = "scout", .name = "capture",
                    .band = PROTO_BAND_ADJACENT, .port = -1, .timeout_ms = CAP_DEFAULT_TIMEOUT_MS};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            return usage("every option takes a value");
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            if ((o->port = parse_num(v, 1, 65535)) < 0)
                return usage("--port: 1..65535");
        } else if (strcmp(a, "--host") == 0) {
            o->host = v;
        } else if (strcmp(a, "--ship") == 0) {
            o->ship = v;
        } else if (strcmp(a, "--vs-ship") == 0) {
            o->vs_ship = v;
        } else if (strcmp(a, "--name") == 0) {
            o->name = v;
        } else if (strcmp(a, "--band") == 0) {
            if ((o->band = parse_band(v)) < 0)
                return usage("--band: adjacent, close, short, medium, long, very_long or distant");
        } else if (strcmp(a, "--timeout-ms") == 0) {
            if ((o->timeout_ms = parse_num(v, 1, CAP_MAX_TIMEOUT_MS)) < 0)
                return usage("--timeout-ms: 1..600000");
        } else {
            return usage("unknown option");
        }
    }
    if (o->port < 0)
        return usage("--port is required");
    return 0;
}

/* Plays the battle; returns the exit status. Every frame is printed by on_frame as it passes. */
static int play(pc_conn *c, const cap_opts *o)
{
    int64_t deadline = now_ms() + o->timeout_ms;
    uint64_t bid = 0;
    int seat = -1, active = -1;
    uint32_t round = 0, fired_round = 0;
    static proto_event ev; /* large (ship lists): not on the stack */

    if (pc_hello(c, o->name) < 0) {
        fprintf(stderr, "proto_capture: cannot send hello: %s\n", strerror(errno));
        return 1;
    }
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            fprintf(stderr, "proto_capture: no battle end within %ld ms\n", o->timeout_ms);
            return 1;
        }
        int rc = pc_recv(c, &ev, (int)left);
        if (rc == 0)
            continue;
        if (rc < 0) {
            fprintf(stderr, "proto_capture: connection lost: %s (%s)\n", errno ? strerror(errno) : "closed",
                    proto_error_name(pc_last_error(c)));
            return 1;
        }
        switch (ev.type) {
        case PROTO_T_ERROR:
            fprintf(stderr, "proto_capture: server refused a request: %s (%s)\n",
                    proto_error_name(ev.u.error.code), ev.u.error.msg);
            return 1;
        case PROTO_T_WELCOME:
            /* create waits for welcome (pipelining is allowed) so the dump reads in protocol order */
            if (pc_create(c, o->ship, (proto_band)o->band, PROTO_VS_AI, o->vs_ship) < 0) {
                fprintf(stderr, "proto_capture: cannot send create: %s\n", strerror(errno));
                return 1;
            }
            break;
        case PROTO_T_STARTED:
            bid = ev.bid;
            seat = ev.u.started.seat;
            active = ev.u.started.first;
            round = 1;
            break;
        case PROTO_T_TURN:
            active = ev.u.turn.active;
            round = ev.u.turn.round;
            break;
        case PROTO_T_ROUND:
            active = ev.u.round.active;
            round = ev.u.round.round;
            break;
        case PROTO_T_ENDED:
            if (ev.bid != bid)
                break;
            fprintf(stderr, "proto_capture: battle %llu ended: %s, winner %d, %u rounds\n",
                    (unsigned long long)bid, proto_reason_name(ev.u.ended.reason), ev.u.ended.winner,
                    ev.u.ended.rounds);
            return 0;
        default: break;
        }
        if (bid && active == seat && round > fired_round) {
            fired_round = round;
            if (pc_fire(c, bid, 0) < 0) {
                fprintf(stderr, "proto_capture: cannot send fire: %s\n", strerror(errno));
                return 1;
            }
        }
    }
}

int main(int argc, char **argv)
{
    cap_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    pc_conn *c = pc_connect(o.host, (uint16_t)o.port, CAP_CONNECT_MS, 0);
    if (!c) {
        fprintf(stderr, "proto_capture: cannot connect to %s:%ld: %s\n", o.host, o.port, strerror(errno));
        return 1;
    }
    cap_stats st = {0};
    pc_set_trace(c, on_frame, &st);
    rc = play(c, &o);
    pc_close(c);
    fprintf(stderr, "proto_capture: %u frames (%lu bytes) sent, %u frames (%lu bytes) received\n",
            st.frames[PC_TRACE_SENT], st.bytes[PC_TRACE_SENT], st.frames[PC_TRACE_RECV],
            st.bytes[PC_TRACE_RECV]);
    return rc;
}
