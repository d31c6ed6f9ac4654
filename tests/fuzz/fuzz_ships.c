/* libFuzzer target for the ship table loader: any text must load or fail with
 * a message, and every ship of a loaded table must be playable: two of them
 * fight a bounded AI-vs-AI battle that must end or stay legal throughout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/battle.h"
#include "core/ships.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A battle between arbitrary valid ships may last up to the round limit; the
 * bound keeps one input cheap while still crossing several rounds. */
#define FUZZ_MAX_ACTIONS 400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ships_table table;
    char err[256];
    if (ships_load_toml((const char *)data, size, &table, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort(); /* a refusal must say why */
        return 0;
    }
    if (table.count == 0)
        return 0;

    battle_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.seed = size;
    setup.ship[0] = table.ships[0];
    setup.ship[1] = table.ships[table.count - 1];
    setup.band = (uint8_t)(size % 7);
    setup.round_limit = 20;

    static battle b;
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    size_t n = 0;
    if (battle_create(&b, &setup, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n) != BATTLE_OK)
        abort(); /* a validated table must always give a valid setup */
    for (int i = 0; i < FUZZ_MAX_ACTIONS && !battle_is_over(&b); i++) {
        battle_action a;
        int seat = battle_active_seat(&b);
        if (!battle_ai_choose(&b, seat, &a)) {
            a.kind = BATTLE_ACT_END_TURN;
            a.seat = (uint8_t)seat;
            a.arg = 0;
        }
        if (battle_apply(&b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, &n) != BATTLE_OK)
            abort(); /* the AI and end-turn must always be legal for the active seat */
    }
    return 0;
}
