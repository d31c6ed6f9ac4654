/* game_fanout: encoding events once and sending them to every recipient of a battle (seats,
 * spectators, one requester), plus errors and seat notices, through the shard's outbox. */
#include "shards/game_int.h"

#include <stddef.h>
#include <string.h>

#include "util/log.h"

static void count_error(struct game *g, proto_error code)
{
    game_stat_add(&g->stats->errors[(unsigned)code < SHARD_ERROR_CODES ? code : 0], 1);
}

/* Encodes pe into the scratch buffer. 0 length on failure (a bug: logged, counted as internal). */
static size_t encode(struct game *g, const proto_event *pe)
{
    size_t len = 0;
    proto_error e = proto_encode_event(g->scratch, sizeof g->scratch, pe, &len);
    if (e != PROTO_E_OK) {
        log_error("event encode failed", "type", proto_type_name(pe->type), "err",
                  proto_error_name(e), "battle", LOG_U64(pe->bid));
        count_error(g, PROTO_E_INTERNAL);
        return 0;
    }
    return len;
}

void game_send_event(struct game *g, conn_id conn, const proto_event *pe)
{
    size_t len = encode(g, pe);
    if (len)
        outbox_send(g->out, conn, g->scratch, len);
}

void game_send_error(struct game *g, conn_id conn, proto_error code, const char *msg, bool has_rid,
                     uint32_t rid, uint64_t bid)
{
    count_error(g, code);
    if (!conn)
        return;
    size_t len = 0;
    if (proto_encode_error(g->scratch, sizeof g->scratch, code, msg, has_rid, rid, bid, &len) ==
        PROTO_E_OK)
        outbox_send(g->out, conn, g->scratch, len);
}

void game_send_seat(struct game *g, conn_id conn, uint64_t bid, uint8_t role, int8_t delta)
{
    if (!conn)
        return;
    struct shard_out m;
    memset(&m, 0, offsetof(struct shard_out, u));
    m.kind = SHARD_OUT_SEAT;
    m.conn = conn;
    m.battle_id = bid;
    m.role = role;
    m.delta = delta;
    outbox_put(g->out, &m);
}

void game_send_left(struct game *g, conn_id conn, uint64_t bid, bool has_rid, uint32_t rid)
{
    proto_event pe;
    memset(&pe, 0, sizeof pe);
    pe.type = PROTO_T_LEFT;
    pe.bid = bid;
    pe.has_rid = has_rid;
    pe.rid = rid;
    game_send_event(g, conn, &pe);
}

/* Who hears a battle's events: the seats' connections, then the spectators. */
void game_broadcast(struct game *g, struct game_battle *sb, proto_event *pe, conn_id requester,
                    bool has_rid, uint32_t rid)
{
    pe->has_rid = false;
    size_t len = encode(g, pe);
    if (!len)
        return;
    bool requester_waits = false;
    for (int s = 0; s < 2; s++) {
        conn_id c = sb->seat[s].conn;
        if (!c)
            continue;
        if (c == requester && has_rid)
            requester_waits = true;
        else
            outbox_send(g->out, c, g->scratch, len);
    }
    for (uint32_t i = sb->spect_head; i != GAME_NONE_IDX; i = g->spec[i].next)
        for (uint32_t k = 0; k < g->spec[i].n; k++) {
            conn_id c = g->spec[i].c[k];
            if (c == requester && has_rid)
                requester_waits = true;
            else
                outbox_send(g->out, c, g->scratch, len);
        }
    if (requester_waits) {
        pe->has_rid = true;
        pe->rid = rid;
        game_send_event(g, requester, pe);
    }
}

static uint32_t turn_left_ms(const struct game *g, const struct game_battle *sb)
{
    if (sb->turn_deadline == GAME_NO_DEADLINE || sb->turn_deadline <= g->now)
        return 0;
    uint64_t left = sb->turn_deadline - g->now;
    return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

void game_send_state(struct game *g, struct game_battle *sb, conn_id conn, uint8_t seat,
                     bool has_rid, uint32_t rid)
{
    proto_event pe;
    events_state(&sb->b, sb->id, seat, turn_left_ms(g, sb), &pe);
    pe.seq = game_wire_seq(sb, pe.seq);
    pe.has_rid = has_rid;
    pe.rid = rid;
    game_send_event(g, conn, &pe);
}

/* "started" differs per seat (its own seat number and token); spectators get a full state. */
void game_send_started(struct game *g, struct game_battle *sb, proto_event *pe,
                       const bool has_rid[2], const uint32_t rid[2])
{
    for (int s = 0; s < 2; s++) {
        if (!sb->seat[s].conn)
            continue;
        pe->u.started.seat = (uint8_t)s;
        memcpy(pe->u.started.token, sb->seat[s].token, SHARD_TOKEN_BYTES);
        pe->has_rid = has_rid ? has_rid[s] : false;
        pe->rid = rid ? rid[s] : 0;
        game_send_event(g, sb->seat[s].conn, pe);
    }
    memset(pe->u.started.token, 0, SHARD_TOKEN_BYTES);
    for (uint32_t i = sb->spect_head; i != GAME_NONE_IDX; i = g->spec[i].next)
        for (uint32_t k = 0; k < g->spec[i].n; k++)
            game_send_state(g, sb, g->spec[i].c[k], PROTO_SEAT_SPECTATOR, false, 0);
}
