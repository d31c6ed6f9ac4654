/* libFuzzer target for the engine's action entry point: a hostile stream of
 * actions (any kind, seat and argument, player and server inputs alike) is
 * applied to a battle. Properties checked on every input:
 *   - a refused action changes nothing (the struct is byte-for-byte equal);
 *   - replaying the accepted actions from the setup gives the same battle;
 *   - the history never reports a sequence number above the last one.
 * Input: byte 0 picks the ships, byte 1 the band, bytes 2..9 the seed, then
 * 4 bytes per action: kind, seat, arg (little-endian 16 bits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/battle.h"
#include "core/ships.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ACTIONS 1024

/* Two ships in the table's own format: the original's Scout (every weapon
 * kind) and an unarmed hull, so empty weapon lists are exercised too. */
static const char fuzz_ships_toml[] =
    "[ships.scout]\nname = \"Scout\"\nhull = 40\narmour = 4\npilot = 2\nthrust = 2\n"
    "weapons = [\n"
    "  { name = \"Pulse Laser\", kind = \"laser\", dice = 2 },\n"
    "  { name = \"Missiles\", kind = \"missile\", dice = 4, long_range_dm = 2, ammo = 6 },\n"
    "  { name = \"Missile Rack\", kind = \"rack\", ammo = 12 },\n"
    "  { name = \"Sandcaster\", kind = \"sand\", ammo = 20 },\n]\n"
    "[ships.free_trader]\nname = \"Free Trader\"\nhull = 80\narmour = 2\npilot = 1\nthrust = 1\n"
    "weapons = [\n"
    "  { name = \"Beam Laser\", kind = \"laser\", dice = 3 },\n"
    "  { name = \"Beam Laser\", kind = \"laser\", dice = 3 },\n]\n"
    "[ships.liner]\nname = \"Liner\"\nhull = 24\narmour = 0\nthrust = 1\nweapons = []\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ships_table table;
    static int loaded;
    if (!loaded) {
        char err[256];
        if (ships_load_toml(fuzz_ships_toml, sizeof fuzz_ships_toml - 1, &table, err, sizeof err))
            abort();
        loaded = 1;
    }
    if (size < 10)
        return 0;

    battle_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.ship[0] = table.ships[data[0] % table.count];
    setup.ship[1] = table.ships[(data[0] / 4) % table.count];
    setup.band = data[1] % 7;
    setup.round_limit = 30;
    memcpy(&setup.seed, data + 2, sizeof setup.seed);
    data += 10;
    size -= 10;

    static battle b, before, replayed;
    static battle_action accepted[FUZZ_MAX_ACTIONS];
    size_t naccepted = 0;
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    size_t n;
    if (battle_create(&b, &setup, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n) != BATTLE_OK)
        abort();

    for (size_t off = 0; off + 4 <= size && naccepted < FUZZ_MAX_ACTIONS; off += 4) {
        battle_action a = {
            .kind = data[off] % (BATTLE_ACT_COUNT + 2), /* unknown kinds too */
            .seat = data[off + 1] % 3,                  /* seat 2 is invalid */
            .arg = (uint16_t)(data[off + 2] | (data[off + 3] << 8)),
        };
        before = b;
        battle_err e = battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n);
        if (e != BATTLE_OK) {
            if (memcmp(&before, &b, sizeof b) != 0)
                abort(); /* a refused action must change nothing */
            continue;
        }
        for (size_t i = 0; i < n; i++)
            if (ev[i].seq > battle_last_seq(&b))
                abort();
        accepted[naccepted++] = a;
    }

    size_t failed_at = 0;
    if (battle_replay(&setup, accepted, naccepted, &replayed, &failed_at) != BATTLE_OK)
        abort();
    if (memcmp(&replayed, &b, sizeof b) != 0)
        abort(); /* same seed + same accepted actions = the same battle */
    return 0;
}
