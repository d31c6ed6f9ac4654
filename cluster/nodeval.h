/* nodeval: a node's registry value (<prefix>node:<name>, docs/CLUSTER.md "Keys") and the names
 * and addresses in it, checked before anything read from Redis is shown or used. */
#ifndef BATTLED_CLUSTER_NODEVAL_H
#define BATTLED_CLUSTER_NODEVAL_H

/* Layer: cluster/ internal. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/node.h"

typedef struct node_entry {
    char name[CLUSTER_NAME_MAX + 1];
    char player[CLUSTER_NAME_MAX + 1];
    char admin[CLUSTER_NAME_MAX + 1];
    uint64_t started_ms;
    uint64_t battles;
    char state[16];
    unsigned inc;                   /* its incarnation */
    char ws[CLUSTER_NAME_MAX + 1];  /* "" when it has no WebSocket listener */
    char tls[CLUSTER_NAME_MAX + 1]; /* its TLS game port; "" when none */
    char wss[CLUSTER_NAME_MAX + 1]; /* its wss:// port; "" when none */
} node_entry;

/* Whether s[0..n) is a name or address we accept: 1..CLUSTER_NAME_MAX of [A-Za-z0-9._:-[]]
 * (nothing that needs escaping in JSON, a log line or a `moved` reply). */
bool nodeval_token_ok(const char *s, size_t n);

/* Parses "name|player|admin|started|battles|state|inc|ws|tls|wss" (v, len bytes, not
 * NUL-terminated) into e: every name and address a token (an optional address "-": none, stored
 * ""), started and battles 1..19 digits, state a token under 16 bytes, inc 1..CLUSTER_INC_MAX.
 * Returns false, e partly written, when anything is off. */
bool nodeval_parse(const char *v, size_t len, node_entry *e);

#endif
