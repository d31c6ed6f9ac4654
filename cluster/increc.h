/* increc: an incarnation's record (<prefix>inc:<x>, docs/CLUSTER.md "Keys") as HGETALL returns
 * it, parsed and checked, for the heartbeat's routing table (node.c) and the takeovers (adopt.c). */
#ifndef BATTLED_CLUSTER_INCREC_H
#define BATTLED_CLUSTER_INCREC_H

/* Layer: cluster/ internal. */

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct inc_rec {
    uint64_t holder;     /* the incarnation itself, another (it took them all), or 0 (split) */
    unsigned shards;     /* its shard count; 0: not recorded */
    bool released;       /* its node left cleanly */
    const char *node;    /* its node's name (points into the reply), node_len bytes; NULL: none */
    size_t node_len;
    const char *prefix;  /* its journal prefix (into the reply); NULL: none */
    size_t prefix_len;
} inc_rec;

/* Parses an HGETALL reply into rec; each h<k> field (k < cap) goes to taken[k] (the caller zeroes
 * taken; 0 = not taken). Returns false when the record is empty or malformed: no holder, a number
 * out of range (holder past CLUSTER_INC_MAX, shards 0 or past CLUSTER_SHARDS_MAX, a shard index
 * past cap), or a split record (holder 0) without shards. rec points into v: keep v alive. */
bool inc_rec_parse(const redisReply *v, inc_rec *rec, uint16_t *taken, size_t cap);

/* Parses 1..19 decimal digits into *out. */
bool inc_rec_dec(const char *s, size_t n, uint64_t *out);

#endif
