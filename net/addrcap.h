/* addrcap: connections and handshakes per source address, for the game listeners (native, TLS,
 * WebSocket, WebSocket over TLS), so one address cannot take every connection slot or keep the
 * server busy with handshakes (server.max_conns_per_addr, server.max_handshakes_per_addr).
 *
 * A handshake is everything before a connection is usable: the TLS handshake, the WebSocket
 * upgrade and the hello. An open-addressing table keyed by the address (IPv4 addresses as
 * v4-mapped IPv6), one entry per address with a connection, grown by doubling (an allocation per
 * growth, none per connection). Network thread only. */
/* Layer: net/ internal: the network thread's files (through net_int.h) and their unit tests. */
#ifndef BATTLED_NET_ADDRCAP_H
#define BATTLED_NET_ADDRCAP_H

#include <stdbool.h>
#include <stdint.h>

struct sockaddr;

typedef struct {
    uint8_t b[16];
} addrcap_key;

typedef struct {
    addrcap_key key;
    uint32_t conns;      /* 0: the slot is free */
    uint32_t handshakes;
} addrcap_slot;

typedef struct {
    addrcap_slot *slots;
    uint32_t mask;       /* slots - 1 (a power of two), or 0 before the first use */
    uint32_t used;       /* addresses with a connection */
} addrcap;

typedef enum {
    ADDRCAP_OK = 0,
    ADDRCAP_CONNS,       /* the address has max_conns connections already */
    ADDRCAP_HANDSHAKES,  /* the address has max_handshakes handshakes in progress */
    ADDRCAP_NOMEM,
} addrcap_result;

/* The key for a socket address (AF_INET or AF_INET6; anything else maps to all zeros). */
addrcap_key addrcap_key_of(const struct sockaddr *sa);

/* Counts a new connection, in handshake, from k unless that would pass max_conns connections or
 * max_handshakes handshakes (0 = no limit for either). Returns ADDRCAP_OK when counted. */
addrcap_result addrcap_acquire(addrcap *t, const addrcap_key *k, uint32_t max_conns,
                               uint32_t max_handshakes);
/* The connection from k finished its handshake (it still counts as a connection). */
void addrcap_handshake_done(addrcap *t, const addrcap_key *k);
/* The connection from k is gone; in_handshake: it had not finished its handshake. */
void addrcap_release(addrcap *t, const addrcap_key *k, bool in_handshake);
/* Addresses with at least one connection. */
uint32_t addrcap_addresses(const addrcap *t);
void addrcap_destroy(addrcap *t);

#endif
