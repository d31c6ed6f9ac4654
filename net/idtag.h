/* idtag: battle ids in cluster mode, and whether a battle-scoped request is served here.
 *
 * Several battled nodes may share one store (docs/CLUSTER.md). Each node incarnation has a 16-bit
 * number (1..65535), and every battle it creates carries it in bits 47..62 of its id (the "tag",
 * incarnation << IDTAG_SHIFT); bits 0..46 stay random, and bit 63 stays 0 because the wire bounds
 * battle ids to 1..2^63-1. A single node has tag 0 and keeps 63 random bits, as before clusters.
 *
 * A request for a battle whose tag is not ours may be for a battle another node holds: the cluster
 * layer's locate hook (struct server_opts) says which, and the request is answered with `moved`
 * (docs/PROTOCOL.md) instead of being routed. Pure functions: no I/O, any thread. */
/* Layer: net/ internal: route.c and server.c use it; unit-tested alone (tests/unit/test_net_units.c). */
#ifndef BATTLED_NET_IDTAG_H
#define BATTLED_NET_IDTAG_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"

#define IDTAG_SHIFT 47
#define IDTAG_RANDOM_MASK ((UINT64_C(1) << IDTAG_SHIFT) - 1)   /* bits 0..46 */
#define IDTAG_MASK (UINT64_C(0xffff) << IDTAG_SHIFT)           /* bits 47..62 */
#define IDTAG_ADDR_MAX PROTO_ADDR_MAX                          /* locate's addresses, NUL excluded */

/* The cluster layer's answer for one battle id; see server_opts.locate. */
typedef bool (*idtag_locate_fn)(void *arg, uint64_t bid, bool tls, char addr[IDTAG_ADDR_MAX + 1],
                                char ws[IDTAG_ADDR_MAX + 1]);

/* A new battle's id from raw bits (random, or derived from an idempotency key). tag 0 (single
 * node): raw's low 63 bits, which may be 0 (the caller draws again). Otherwise raw's bits 0..46
 * OR tag, never 0. tag must be 0 or have bits only in IDTAG_MASK. */
uint64_t idtag_apply(uint64_t raw, uint64_t tag);

/* The incarnation number carried by a battle id (bits 47..62). */
static inline unsigned idtag_of(uint64_t bid)
{
    return (unsigned)((bid & IDTAG_MASK) >> IDTAG_SHIFT);
}

/* Whether the battle-scoped request r (r->bid nonzero) is to be routed to this node's shards:
 * true when locate is NULL or says the battle is served here (locate is asked for every request,
 * this node's own battles too: a cluster node that cannot confirm it still holds them serves
 * none; the hook knows this node's incarnation). Otherwise fills *moved with the `moved` reply (r's
 * rid and bid, the holder's addresses) and returns false. locate's answer with an empty addr (the
 * holder died and its battles are being taken over, or this node cannot serve right now) gives a
 * server_busy error in *moved instead, also false: the client retries.
 * A holder answer that could not be sent (an over-long addr or ws, one with control characters)
 * counts as "served here": the shard then answers as for any
 * battle it does not have (no_such_battle), rather than the client getting nothing. */
bool idtag_route_here(idtag_locate_fn locate, void *arg, bool tls, const proto_request *r,
                      proto_event *moved);

#endif
