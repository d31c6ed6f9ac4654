/* lobby: the matchmaking queue (issue 5), owned by the network thread.
 *
 * One first-come-first-served queue per range band: a request pairs with the oldest waiting request of
 * the same band (any ship), or waits. The original server paired "ready" sockets by connection order
 * and announced every start to every socket; here pairing is by arrival order and only the two players
 * hear of their match (the shard that creates the battle tells them).
 *
 * Every operation is O(1) except that a connection never pairs with itself: a request skips waiting
 * entries of its own connection, of which there are at most server.max_seats_per_conn. Entries come
 * from a pool that grows in blocks and is reused, so queueing allocates nothing in the steady state.
 *
 * Each connection keeps the head of its own entry list (a `lobby_entry *` it owns, initialised to
 * NULL), so cancel and disconnect remove exactly its entries without searching the queues. */
/* Layer: net/ internal: the network thread's files (through net_int.h) and their unit tests. */
#ifndef BATTLED_NET_LOBBY_H
#define BATTLED_NET_LOBBY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOBBY_BANDS 8        /* band indices 0..LOBBY_BANDS-1 */
#define LOBBY_SHIP_MAX 32    /* bytes of a ship type key */
#define LOBBY_BLOCK 256      /* entries allocated at a time */
#define LOBBY_KEY_LEN 16     /* an idempotency key ("key" of queue): bin 16, PROTO_TOKEN_LEN */
#define LOBBY_KEYS 16384     /* matches remembered by key, at most (a direct-mapped table) */
#define LOBBY_KEY_KEEP_MS 60000 /* how long a match is remembered by its keys */

typedef struct lobby_entry lobby_entry;
struct lobby_entry {
    lobby_entry *prev, *next;       /* the band queue */
    lobby_entry *cprev, *cnext;     /* the owning connection's list */
    lobby_entry **owner;            /* the connection's list head */
    uint64_t conn;
    uint64_t enqueued_ms;
    uint64_t ticket;                /* this entry's number, unique in this lobby (from 1) */
    uint32_t rid;                   /* request id to echo, when has_rid */
    bool has_rid;
    uint8_t band;
    bool has_key;
    uint8_t key[LOBBY_KEY_LEN];     /* the queue's idempotency key, when has_key */
    char ship[LOBBY_SHIP_MAX + 1];
};

/* One side of a match, copied out of the queue. */
typedef struct {
    uint64_t conn;
    bool has_rid;
    uint32_t rid;
    uint8_t band;
    bool has_key;
    uint8_t key[LOBBY_KEY_LEN];
    char ship[LOBBY_SHIP_MAX + 1];
    uint64_t waited_ms;
    uint64_t ticket;  /* the entry's ticket (the one who waited); 0 for this request */
} lobby_player;

/* A match remembered by one side's key: a queue repeated with that key (its `started` was lost)
 * is sent to the same battle and seat. */
typedef struct {
    uint8_t key[LOBBY_KEY_LEN];
    uint64_t bid;     /* 0: empty slot */
    uint64_t made_ms;
    uint8_t seat;
} lobby_key;

typedef struct lobby_block lobby_block;
typedef struct {
    lobby_entry *q_head[LOBBY_BANDS], *q_tail[LOBBY_BANDS];
    size_t q_len[LOBBY_BANDS];
    lobby_entry *spare;
    lobby_block *blocks;
    uint64_t matches;  /* pairs made since init */
    uint64_t tickets;  /* the last ticket given */
    lobby_key *keys;   /* LOBBY_KEYS slots, allocated at the first keyed match; NULL before */
} lobby;

void lobby_init(lobby *l);
/* Frees every block; entries still queued are dropped (connections' heads then dangle: call only at
 * shutdown). */
void lobby_destroy(lobby *l);

typedef enum {
    LOBBY_QUEUED = 0,  /* waiting; *conn_list now holds the new entry */
    LOBBY_MATCHED = 1, /* paired: *first (the one who waited) and *second (this request) are filled */
    LOBBY_ENOMEM = -1,
    LOBBY_EBAND = -2,  /* band >= LOBBY_BANDS */
    LOBBY_ESHIP = -3,  /* ship key longer than LOBBY_SHIP_MAX */
} lobby_result;

/* Queues conn for a battle at band with ship, or pairs it with the oldest waiting entry of that band
 * from another connection. conn_list is conn's list head (conn owns it; it must outlive the entries).
 * waiting_conn_list_of is not needed: the matched entry unlinks itself from its owner's list. */
lobby_result lobby_queue(lobby *l, uint64_t conn, lobby_entry **conn_list, uint8_t band,
                         const char *ship, bool has_rid, uint32_t rid, uint64_t now_ms, lobby_player *first,
                         lobby_player *second);

/* lobby_queue with an idempotency key (key NULL or all zero: none), which the entry and the
 * players of a match carry. A new entry gets the next ticket (l->tickets). */
lobby_result lobby_queue_keyed(lobby *l, uint64_t conn, lobby_entry **conn_list, uint8_t band,
                               const char *ship, bool has_rid, uint32_t rid, const uint8_t *key,
                               uint64_t now_ms, lobby_player *first, lobby_player *second);

/* The entry of conn_list (one connection's) queued with key, or NULL (also for no key). */
lobby_entry *lobby_find_queued(lobby_entry *conn_list, const uint8_t *key);

/* Remembers that the queue with key got seat of battle bid (nothing without a key or memory). A
 * newer match whose key maps to the same slot takes it. */
void lobby_key_remember(lobby *l, const uint8_t *key, uint64_t bid, uint8_t seat, uint64_t now_ms);

/* The battle and seat a queue with key was matched to within LOBBY_KEY_KEEP_MS, or false. */
bool lobby_key_find(const lobby *l, const uint8_t *key, uint64_t now_ms, uint64_t *bid,
                    uint8_t *seat);

/* The entry waiting in band with ticket, or NULL. O(entries waiting in band), which are all of one
 * connection (any other would have been paired), so at most server.max_seats_per_conn. */
lobby_entry *lobby_find_ticket(const lobby *l, uint8_t band, uint64_t ticket);

/* Removes one queued entry (from its band queue and its owner's list). */
void lobby_remove(lobby *l, lobby_entry *e);

/* Removes every entry of the connection whose list head is conn_list; returns how many. */
size_t lobby_cancel(lobby *l, lobby_entry **conn_list);

/* Entries waiting in band (0 for a bad band). */
size_t lobby_waiting(const lobby *l, uint8_t band);

#endif
