/* Fuzz target for battle-cli's two inputs from outside: lines a person (or a script) types, and
 * events a server sends. First byte 0: the rest is text, split into lines for cli_parse. Otherwise
 * the rest is a run of [2-byte big-endian length][msgpack event] records, decoded by proto and fed
 * in order to one cli_view (a hostile server's stream: any order, any battle ids, replays).
 * Invariants checked: the parser returns 0 or -1 with a message, accepted fields are in range; the
 * view never crashes and keeps its model in bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/view.h"
#include "proto/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ship(const char *s)
{
    size_t n = strlen(s);
    if (n > PROTO_SHIP_MAX)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            abort();
}

static void parse_lines(const uint8_t *data, size_t size)
{
    char line[4096];
    size_t i = 0;
    while (i < size) {
        size_t n = 0;
        while (i < size && data[i] != '\n' && n < sizeof line - 1)
            line[n++] = (char)data[i++];
        if (i < size && data[i] == '\n')
            i++;
        line[n] = '\0';
        cli_cmd c;
        char err[CLI_ERR_MAX];
        err[0] = '\0';
        int rc = cli_parse(line, &c, err, sizeof err);
        if (rc == -1) {
            if (!err[0] || !memchr(err, '\0', sizeof err))
                abort();
            continue;
        }
        if (rc != 0)
            abort();
        check_ship(c.ship);
        check_ship(c.oship);
        if (c.band >= PROTO_BAND_COUNT || c.vs >= PROTO_VS_COUNT || c.weapon >= PROTO_MAX_WEAPONS ||
            c.weapon < -1 || c.missile > (int64_t)UINT32_MAX || c.seat > 1 || c.wait_for > CLI_WAIT_END)
            abort();
        if (c.verb == CLI_WAIT && (c.wait_s == 0 || c.wait_s > CLI_WAIT_MAX_S))
            abort();
        if (c.verb == CLI_JOIN && c.bid == 0)
            abort();
    }
}

static FILE *g_null;

static void feed_events(const uint8_t *data, size_t size)
{
    if (!g_null)
        g_null = fopen("/dev/null", "w");
    if (!g_null)
        abort();
    static cli_view v;
    cli_view_init(&v, g_null);
    v.quiet = g_null;
    size_t i = 0;
    while (i + 2 <= size) {
        size_t len = (size_t)data[i] << 8 | data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        proto_event ev;
        if (proto_decode_event(data + i, len, &ev, NULL) == PROTO_E_OK) {
            cli_view_event(&v, &ev);
            if (v.b.nmissiles > PROTO_MAX_MISSILES || v.role > CLI_ROLE_SPECTATOR ||
                v.phase > CLI_PH_ENDED || v.b.ships[0].nweapons > PROTO_MAX_WEAPONS ||
                v.b.ships[1].nweapons > PROTO_MAX_WEAPONS)
                abort();
            (void)cli_view_first_gun(&v);
            (void)cli_view_incoming(&v);
            cli_view_status(&v);
        }
        i += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 0)
        parse_lines(data + 1, size - 1);
    else
        feed_events(data + 1, size - 1);
    return 0;
}
