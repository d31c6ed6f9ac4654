/* core_bench: the battle engine's micro-benchmark. Plays full battles in a
 * loop on one core and reports battles/s and actions/s, in two modes:
 *   ai     - both seats played by battle_ai_choose, as a solo/AI battle runs
 *            on a shard (engine + AI);
 *   apply  - the same battles re-applied from their recorded action logs
 *            (engine alone, as human battles run).
 * Timing is wall clock and noisy on a shared machine; for a stable figure run
 * under callgrind, which counts instructions in bench_play/bench_apply only:
 *   valgrind --tool=callgrind --toggle-collect=bench_play \
 *            --toggle-collect=bench_apply build/bench/core_bench --battles 2000 --runs 1
 * then divide the Ir total by the printed action count.
 * Usage: core_bench [--ships FILE] [--battles N] [--runs R] [--mix] [--seed S]
 * Defaults: data/ships.toml, 20000 battles, 3 runs, Scout vs Free Trader at
 * Short (the original's flow); --mix draws random hulls and bands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/battle.h"
#include "core/dice.h"
#include "core/ships.h"

#define BENCH_MAX_LOG 8192

typedef struct {
    battle_setup setup;
    uint32_t first_action; /* index into the shared action array */
    uint32_t nactions;
} recorded;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Plays n AI-vs-AI battles, recording every action. Returns the action count. */
__attribute__((noinline)) static size_t bench_play(recorded *rec, size_t n, battle_action *acts,
                                                    size_t acts_cap, battle *b)
{
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        battle_create(b, &rec[i].setup, ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL);
        rec[i].first_action = (uint32_t)total;
        while (!battle_is_over(b)) {
            battle_action a;
            int s = battle_active_seat(b);
            if (!battle_ai_choose(b, 1 - s, &a) && !battle_ai_choose(b, s, &a))
                break; /* cannot happen: the active seat always has a move */
            if (battle_apply(b, &a, ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL) != BATTLE_OK)
                abort();
            if (total < acts_cap)
                acts[total] = a;
            total++;
        }
        rec[i].nactions = (uint32_t)(total - rec[i].first_action);
    }
    return total;
}

/* Re-applies the recorded battles. Returns the action count. */
__attribute__((noinline)) static size_t bench_apply(const recorded *rec, size_t n,
                                                     const battle_action *acts, battle *b)
{
    battle_event ev[BATTLE_MAX_EVENTS_PER_APPLY];
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        battle_create(b, &rec[i].setup, ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL);
        const battle_action *a = acts + rec[i].first_action;
        for (uint32_t k = 0; k < rec[i].nactions; k++)
            if (battle_apply(b, &a[k], ev, BATTLE_MAX_EVENTS_PER_APPLY, NULL) != BATTLE_OK)
                abort();
        total += rec[i].nactions;
    }
    return total;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(SHIPS_TEXT_MAX + 1);
    *len = buf ? fread(buf, 1, SHIPS_TEXT_MAX + 1, f) : 0;
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *ships_path = "data/ships.toml";
    size_t nbattles = 20000, runs = 3;
    int mix = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ships") && i + 1 < argc)
            ships_path = argv[++i];
        else if (!strcmp(argv[i], "--battles") && i + 1 < argc)
            nbattles = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--mix"))
            mix = 1;
        else {
            fprintf(stderr, "usage: %s [--ships FILE] [--battles N] [--runs R] [--mix] "
                            "[--seed S]\n", argv[0]);
            return 2;
        }
    }
    if (nbattles == 0 || runs == 0 || runs > 100) {
        fprintf(stderr, "core_bench: --battles must be > 0 and --runs 1..100\n");
        return 2;
    }
    size_t len;
    char *text = slurp(ships_path, &len);
    if (!text) {
        fprintf(stderr, "core_bench: cannot read %s (run from the repo root or pass --ships)\n",
                ships_path);
        return 1;
    }
    static ships_table table;
    char err[256];
    if (ships_load_toml(text, len, &table, err, sizeof err) != 0) {
        fprintf(stderr, "core_bench: %s: %s\n", ships_path, err);
        return 1;
    }
    free(text);
    const ships_ship *scout = ships_find(&table, "scout"), *trader = ships_find(&table, "free_trader");
    if (!mix && (!scout || !trader)) {
        fprintf(stderr, "core_bench: the table needs scout and free_trader (or use --mix)\n");
        return 1;
    }

    recorded *rec = calloc(nbattles, sizeof *rec);
    size_t acts_cap = nbattles * 256;
    battle_action *acts = malloc(acts_cap * sizeof *acts);
    battle *b = malloc(sizeof *b);
    if (!rec || !acts || !b) {
        fprintf(stderr, "core_bench: out of memory\n");
        return 1;
    }
    dice_rng r;
    dice_seed(&r, seed, 99);
    for (size_t i = 0; i < nbattles; i++) {
        battle_setup *st = &rec[i].setup;
        st->seed = ((uint64_t)dice_next(&r) << 32) | dice_next(&r);
        if (mix) {
            st->ship[0] = table.ships[dice_next(&r) % table.count];
            st->ship[1] = table.ships[dice_next(&r) % table.count];
            st->band = (uint8_t)(dice_next(&r) % BATTLE_BAND_COUNT);
        } else {
            st->ship[0] = *scout;
            st->ship[1] = *trader;
            st->band = BATTLE_BAND_SHORT;
        }
    }

    double ai_rate[100], ap_rate[100], ai_brate[100], ap_brate[100];
    size_t actions = 0;
    for (size_t k = 0; k < runs; k++) {
        double t0 = now_s();
        actions = bench_play(rec, nbattles, acts, acts_cap, b);
        double t1 = now_s();
        if (actions > acts_cap) {
            fprintf(stderr, "core_bench: action log overflow\n");
            return 1;
        }
        size_t again = bench_apply(rec, nbattles, acts, b);
        double t2 = now_s();
        if (again != actions)
            abort();
        ai_rate[k] = (double)actions / (t1 - t0);
        ap_rate[k] = (double)actions / (t2 - t1);
        ai_brate[k] = (double)nbattles / (t1 - t0);
        ap_brate[k] = (double)nbattles / (t2 - t1);
        printf("run %zu: ai %.0f actions/s %.0f battles/s | apply %.0f actions/s %.0f battles/s\n",
               k + 1, ai_rate[k], ai_brate[k], ap_rate[k], ap_brate[k]);
    }
    qsort(ai_rate, runs, sizeof(double), cmp_double);
    qsort(ap_rate, runs, sizeof(double), cmp_double);
    qsort(ai_brate, runs, sizeof(double), cmp_double);
    qsort(ap_brate, runs, sizeof(double), cmp_double);
    printf("battles per run: %zu (%s), actions per run: %zu (%.1f per battle), "
           "sizeof(battle) = %zu\n",
           nbattles, mix ? "mixed hulls and bands" : "scout vs free_trader at short", actions,
           (double)actions / (double)nbattles, sizeof(battle));
    printf("median of %zu: ai %.0f actions/s (%.0f battles/s), apply %.0f actions/s "
           "(%.0f battles/s); min..max ai %.0f..%.0f, apply %.0f..%.0f\n",
           runs, ai_rate[runs / 2], ai_brate[runs / 2], ap_rate[runs / 2], ap_brate[runs / 2],
           ai_rate[0], ai_rate[runs - 1], ap_rate[0], ap_rate[runs - 1]);
    free(rec);
    free(acts);
    free(b);
    return 0;
}
