/* Helpers both persistence tests use (unit test_persist through the shard runtime, integration
 * test_it_persist against the real binary): state_digest, one number for "the battle as a client
 * sees it", so either can say a battle came back from a restart exactly as it was (one copy, so a
 * field added to proto_state is hashed by both or neither); largest_journal_file, to pick the file
 * to damage. Include after <cmocka.h>. */
#ifndef BATTLED_TESTS_TEST_PERSIST_UTIL_H
#define BATTLED_TESTS_TEST_PERSIST_UTIL_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/msg.h"

static inline uint64_t sd_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *x = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ x[i]) * 0x100000001b3ull;
    return h;
}
#define SD_FNV(h, x) ((h) = sd_fnv((h), &(x), sizeof(x)))

/* FNV-1a over everything a `state` event says but the time left on the turn timer (a restart
 * restarts it), and its sequence number. e must be a PROTO_T_STATE event. */
static inline uint64_t state_digest(const proto_event *e)
{
    const struct proto_state *s = &e->u.state;
    uint64_t h = 0xcbf29ce484222325ull;
    SD_FNV(h, e->seq);
    SD_FNV(h, s->phase);
    SD_FNV(h, s->band);
    SD_FNV(h, s->round);
    SD_FNV(h, s->round_limit);
    SD_FNV(h, s->active);
    SD_FNV(h, s->acted);
    SD_FNV(h, s->sand_used);
    SD_FNV(h, s->away);
    SD_FNV(h, s->sand_bonus);
    SD_FNV(h, s->timeouts);
    for (int k = 0; k < PROTO_SEATS; k++) {
        const struct proto_ship *sh = &s->ships[k];
        h = sd_fnv(h, sh->type, strlen(sh->type));
        SD_FNV(h, sh->hull);
        SD_FNV(h, sh->hull_max);
        SD_FNV(h, sh->armour);
        SD_FNV(h, sh->nweapons);
        for (int w = 0; w < sh->nweapons; w++)
            SD_FNV(h, sh->weapons[w].ammo);
        SD_FNV(h, sh->crits);
    }
    SD_FNV(h, s->nmissiles);
    for (int m = 0; m < s->nmissiles; m++) {
        SD_FNV(h, s->missiles[m].id);
        SD_FNV(h, s->missiles[m].owner);
        SD_FNV(h, s->missiles[m].band);
        SD_FNV(h, s->missiles[m].pd_tried);
    }
    return h;
}

/* Path of the largest file in dir whose name ends with suffix, into out ("" if none); fails the
 * test if dir cannot be read. */
static inline void largest_journal_file(const char *dir, const char *suffix, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    off_t best = -1;
    out[0] = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), m = strlen(suffix);
        if (n < m || strcmp(e->d_name + n - m, suffix) != 0)
            continue;
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0 && st.st_size > best) {
            best = st.st_size;
            snprintf(out, cap, "%s", p);
        }
    }
    closedir(d);
}

#endif
