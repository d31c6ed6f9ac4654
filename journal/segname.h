/* segname: the names of journal segments, shared by the backends (store_file.c names files so,
 * store_redis.c names keys so): shard-<k>-<gen>.log and shard-<k>-<base>-<gen>.snap, their
 * parsing, which snapshot supersedes which segment, and the replay order. */
/* Layer: journal/ internal. */
#ifndef BATTLED_JOURNAL_SEGNAME_H
#define BATTLED_JOURNAL_SEGNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEGNAME_MAX 96 /* bytes of a name we write (shard-<k>-<base>-<gen>.snap.tmp) */

typedef struct segname {
    unsigned shard;
    uint64_t base; /* snapshots only */
    uint64_t gen;
    bool is_log;
    bool superseded; /* set by segname_order */
    const char *name; /* the parsed string, not copied */
} segname;

/* Writes a log segment's name into buf (SEGNAME_MAX bytes). */
void segname_log(char *buf, unsigned shard, uint64_t gen);
/* Writes a snapshot's name into buf (SEGNAME_MAX bytes); tmp adds ".tmp" (files being written). */
void segname_snap(char *buf, unsigned shard, uint64_t base, uint64_t gen, bool tmp);
/* Parses shard-<k>-<gen>.log or shard-<k>-<base>-<gen>.snap (strict decimal, no overflow,
 * generations from 1, base <= gen), nothing else. */
bool segname_parse(const char *name, segname *e);
/* Parses names[0..n) into es (room for n), skipping what is not a segment name, marks every
 * segment a snapshot of its shard supersedes (generation in the snapshot's [base, gen)) and sorts
 * them into replay order (generation, snapshot before log, shard). Returns how many it kept;
 * *top gets the highest generation (0 for none). */
size_t segname_order(char *const *names, size_t n, segname *es, uint64_t *top);

#endif
