/* lobby: per-band FIFO matchmaking; see lobby.h. */
#include "net/lobby.h"

#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"

struct lobby_block {
    lobby_block *next;
    lobby_entry e[LOBBY_BLOCK];
};

void lobby_init(lobby *l)
{
    memset(l, 0, sizeof *l);
}

void lobby_destroy(lobby *l)
{
    free(l->keys);
    while (l->blocks) {
        lobby_block *b = l->blocks;
        l->blocks = b->next;
        free(b);
    }
    memset(l, 0, sizeof *l);
}

static lobby_entry *entry_get(lobby *l)
{
    if (!l->spare) {
        lobby_block *b = malloc(sizeof *b);
        if (!b)
            return NULL;
        b->next = l->blocks;
        l->blocks = b;
        for (size_t i = 0; i < LOBBY_BLOCK; i++) {
            b->e[i].next = l->spare;
            l->spare = &b->e[i];
        }
    }
    lobby_entry *e = l->spare;
    l->spare = e->next;
    return e;
}

static void unlink_entry(lobby *l, lobby_entry *e)
{
    uint8_t b = e->band;
    if (e->prev)
        e->prev->next = e->next;
    else
        l->q_head[b] = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->q_tail[b] = e->prev;
    l->q_len[b]--;

    if (e->cprev)
        e->cprev->cnext = e->cnext;
    else
        *e->owner = e->cnext;
    if (e->cnext)
        e->cnext->cprev = e->cprev;

    e->next = l->spare;
    l->spare = e;
}

static bool key_present(const uint8_t *key)
{
    return key && proto_key_present(key);
}

static void fill_player(lobby_player *p, uint64_t conn, bool has_rid, uint32_t rid, uint8_t band, const char *ship,
                        uint64_t waited, const uint8_t *key)
{
    p->has_key = key_present(key);
    if (p->has_key)
        memcpy(p->key, key, LOBBY_KEY_LEN);
    else
        memset(p->key, 0, LOBBY_KEY_LEN);
    p->conn = conn;
    p->has_rid = has_rid;
    p->rid = rid;
    p->band = band;
    strcpy(p->ship, ship);
    p->waited_ms = waited;
}

lobby_result lobby_queue(lobby *l, uint64_t conn, lobby_entry **conn_list, uint8_t band,
                         const char *ship, bool has_rid, uint32_t rid, uint64_t now_ms, lobby_player *first,
                         lobby_player *second)
{
    return lobby_queue_keyed(l, conn, conn_list, band, ship, has_rid, rid, NULL, now_ms, first,
                             second);
}

lobby_result lobby_queue_keyed(lobby *l, uint64_t conn, lobby_entry **conn_list, uint8_t band,
                               const char *ship, bool has_rid, uint32_t rid, const uint8_t *key,
                               uint64_t now_ms, lobby_player *first, lobby_player *second)
{
    if (band >= LOBBY_BANDS)
        return LOBBY_EBAND;
    size_t slen = strlen(ship);
    if (slen > LOBBY_SHIP_MAX)
        return LOBBY_ESHIP;

    for (lobby_entry *w = l->q_head[band]; w; w = w->next) {
        if (w->conn == conn)
            continue; /* never pair a connection with itself */
        fill_player(first, w->conn, w->has_rid, w->rid, band, w->ship,
                    now_ms > w->enqueued_ms ? now_ms - w->enqueued_ms : 0,
                    w->has_key ? w->key : NULL);
        fill_player(second, conn, has_rid, rid, band, ship, 0, key);
        first->ticket = w->ticket;
        second->ticket = 0;
        unlink_entry(l, w);
        l->matches++;
        return LOBBY_MATCHED;
    }

    lobby_entry *e = entry_get(l);
    if (!e)
        return LOBBY_ENOMEM;
    e->conn = conn;
    e->rid = rid;
    e->has_rid = has_rid;
    e->band = band;
    e->enqueued_ms = now_ms;
    e->ticket = ++l->tickets;
    e->has_key = key_present(key);
    if (e->has_key)
        memcpy(e->key, key, LOBBY_KEY_LEN);
    memcpy(e->ship, ship, slen + 1);
    e->next = NULL;
    e->prev = l->q_tail[band];
    if (e->prev)
        e->prev->next = e;
    else
        l->q_head[band] = e;
    l->q_tail[band] = e;
    l->q_len[band]++;
    e->owner = conn_list;
    e->cprev = NULL;
    e->cnext = *conn_list;
    if (e->cnext)
        e->cnext->cprev = e;
    *conn_list = e;
    return LOBBY_QUEUED;
}

lobby_entry *lobby_find_ticket(const lobby *l, uint8_t band, uint64_t ticket)
{
    if (band >= LOBBY_BANDS)
        return NULL;
    for (lobby_entry *e = l->q_head[band]; e; e = e->next)
        if (e->ticket == ticket)
            return e;
    return NULL;
}

void lobby_remove(lobby *l, lobby_entry *e)
{
    unlink_entry(l, e);
}

size_t lobby_cancel(lobby *l, lobby_entry **conn_list)
{
    size_t n = 0;
    while (*conn_list) {
        unlink_entry(l, *conn_list);
        n++;
    }
    return n;
}

size_t lobby_waiting(const lobby *l, uint8_t band)
{
    return band < LOBBY_BANDS ? l->q_len[band] : 0;
}

lobby_entry *lobby_find_queued(lobby_entry *conn_list, const uint8_t *key)
{
    if (!key_present(key))
        return NULL;
    for (lobby_entry *e = conn_list; e; e = e->cnext)
        if (e->has_key && memcmp(e->key, key, LOBBY_KEY_LEN) == 0)
            return e;
    return NULL;
}

/* Keys are random bytes: their first eight pick the slot. */
static size_t key_slot(const uint8_t *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return (size_t)(h >> 32) & (LOBBY_KEYS - 1);
}

void lobby_key_remember(lobby *l, const uint8_t *key, uint64_t bid, uint8_t seat, uint64_t now_ms)
{
    if (!key_present(key) || !bid)
        return;
    if (!l->keys && !(l->keys = calloc(LOBBY_KEYS, sizeof *l->keys)))
        return;
    lobby_key *k = &l->keys[key_slot(key)];
    memcpy(k->key, key, LOBBY_KEY_LEN);
    k->bid = bid;
    k->seat = seat;
    k->made_ms = now_ms;
}

bool lobby_key_find(const lobby *l, const uint8_t *key, uint64_t now_ms, uint64_t *bid,
                    uint8_t *seat)
{
    if (!l->keys || !key_present(key))
        return false;
    const lobby_key *k = &l->keys[key_slot(key)];
    if (!k->bid || memcmp(k->key, key, LOBBY_KEY_LEN) != 0 || now_ms - k->made_ms > LOBBY_KEY_KEEP_MS)
        return false;
    *bid = k->bid;
    *seat = k->seat;
    return true;
}
