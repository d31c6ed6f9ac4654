/* Helpers shared by the journal tests: scratch directories, payloads that are
 * valid msgpack, a warning recorder and a few builders. */
#ifndef BATTLED_TESTS_TEST_JOURNAL_UTIL_H
#define BATTLED_TESTS_TEST_JOURNAL_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.h"

typedef struct warn_log {
    int count;
    int torn;
    int damaged;
    char last_msg[200];
    char last_file[128];
    uint64_t last_offset;
    uint64_t torn_battle;   /* battle named by the last torn-tail warning */
    uint64_t region_battle; /* battle named by the last damaged-region warning */
} warn_log;

static inline void warn_rec(void *ctx, const char *msg, const char *file, uint64_t off, uint64_t id)
{
    warn_log *w = ctx;
    w->count++;
    if (strstr(msg, "torn tail")) {
        w->torn++;
        w->torn_battle = id;
    }
    if (strstr(msg, "damaged region"))
        w->region_battle = id;
    if (strstr(msg, "damaged"))
        w->damaged++;
    snprintf(w->last_msg, sizeof w->last_msg, "%s", msg);
    snprintf(w->last_file, sizeof w->last_file, "%s", file ? file : "");
    w->last_offset = off;
}

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static inline void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory under $TMPDIR (or /tmp); the caller removes it. */
static inline void make_dir(char *out, size_t n)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, n, "%s/journal-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        abort();
    }
}

/* Payload for (id, seq): [id, seq, "<pad bytes>"] as msgpack, pad < 32. */
static inline size_t mk_payload(uint8_t *p, uint64_t id, uint64_t seq, unsigned pad)
{
    size_t n = 0;
    p[n++] = 0x93;
    p[n++] = 0xcf;
    for (int i = 7; i >= 0; i--)
        p[n++] = (uint8_t)(id >> (8 * i));
    p[n++] = 0xcf;
    for (int i = 7; i >= 0; i--)
        p[n++] = (uint8_t)(seq >> (8 * i));
    pad &= 31;
    p[n++] = (uint8_t)(0xa0 | pad);
    for (unsigned i = 0; i < pad; i++)
        p[n++] = (uint8_t)('a' + (id + seq + i) % 26);
    return n;
}

/* Checks a loaded battle: created payload for (id, 0) and actions 1..nactions. */
static inline int battle_matches(const journal_battle *b, uint64_t id, size_t nactions)
{
    uint8_t want[64];
    if (!b || b->id != id || b->nactions != nactions || b->created.seq != 0)
        return 0;
    size_t n = mk_payload(want, id, 0, (unsigned)id);
    if (b->created.payload_len != n || memcmp(b->created.payload, want, n) != 0)
        return 0;
    for (size_t i = 0; i < nactions; i++) {
        const journal_rec *r = &b->actions[i];
        n = mk_payload(want, id, i + 1, (unsigned)(id + i));
        if (r->type != JOURNAL_REC_ACTION || r->battle_id != id || r->seq != i + 1 ||
            r->payload_len != n || memcmp(r->payload, want, n) != 0)
            return 0;
    }
    return 1;
}

static inline int append_created(journal *j, uint64_t id)
{
    uint8_t p[64];
    size_t n = mk_payload(p, id, 0, (unsigned)id);
    return journal_append(j, JOURNAL_REC_CREATED, id, 0, p, n);
}

static inline int append_action(journal *j, uint64_t id, uint64_t seq)
{
    uint8_t p[64];
    size_t n = mk_payload(p, id, seq, (unsigned)(id + seq - 1));
    return journal_append(j, JOURNAL_REC_ACTION, id, seq, p, n);
}

static inline int append_ended(journal *j, uint64_t id)
{
    static const uint8_t nil = 0xc0;
    return journal_append(j, JOURNAL_REC_ENDED, id, 0, &nil, 1);
}

/* Reads a whole file; the caller frees *out. Returns its size or -1. */
static inline long slurp(const char *path, uint8_t **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc(n > 0 ? (size_t)n : 1);
    if (n > 0 && fread(*out, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    fclose(f);
    return n;
}

static inline int spit(const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(d, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

/* Number of files in dir whose name ends with suffix. */
static inline int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

#endif
