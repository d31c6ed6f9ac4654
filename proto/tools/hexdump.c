/* proto_hexdump: prints a scripted client/server exchange (hello to battle end) frame by frame, as
 * JSON-like text and as a hex dump, for docs/PROTOCOL.md. The frames come from our own encoder; once
 * the server runs, the dump in the doc is to be re-captured from a real session.
 * Usage: proto_hexdump > exchange.txt */
#include <stdio.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/mp.h"
#include "proto/tools/samples.h"

#define BID 0x1d2c3b4a59687786ULL

static void render(mp_cur *c)
{
    mp_item it;
    if (mp_next(c, &it) != PROTO_E_OK) {
        printf("<bad>");
        return;
    }
    switch (it.kind) {
    case MP_NIL: printf("null"); break;
    case MP_BOOL: printf(it.b ? "true" : "false"); break;
    case MP_INT:
        if (it.neg)
            printf("%lld", (long long)it.i);
        else
            printf("%llu", (unsigned long long)it.u);
        break;
    case MP_STR: printf("\"%.*s\"", (int)it.n, (const char *)it.p); break;
    case MP_BIN:
        printf("<bin%u ", it.n);
        for (uint32_t i = 0; i < it.n; i++)
            printf("%02x", it.p[i]);
        printf(">");
        break;
    case MP_ARRAY:
        printf("[");
        for (uint32_t i = 0; i < it.n; i++) {
            if (i)
                printf(",");
            render(c);
        }
        printf("]");
        break;
    case MP_MAP:
        printf("{");
        for (uint32_t i = 0; i < it.n; i++) {
            if (i)
                printf(",");
            render(c);
            printf(":");
            render(c);
        }
        printf("}");
        break;
    default: printf("<other>"); break;
    }
}

static void dump(const char *dir, const uint8_t *f, size_t len)
{
    mp_cur c = {f + 4, f + len};
    printf("%s (%zu bytes)  ", dir, len);
    render(&c);
    printf("\n");
    for (size_t off = 0; off < len; off += 16) {
        printf("  %04zx ", off);
        for (size_t i = off; i < off + 16 && i < len; i++)
            printf(" %02x", f[i]);
        printf("\n");
    }
    printf("\n");
}

static void req(proto_request *r)
{
    static uint8_t buf[PROTO_FRAME_DEFAULT_MAX];
    size_t len;
    if (proto_encode_request(buf, sizeof buf, r, &len) != PROTO_E_OK) {
        fprintf(stderr, "cannot encode request %d\n", r->type);
        return;
    }
    dump("C->S", buf, len);
}

static void evt(proto_event *e)
{
    static uint8_t buf[PROTO_FRAME_DEFAULT_MAX];
    size_t len;
    if (proto_encode_event(buf, sizeof buf, e, &len) != PROTO_E_OK) {
        fprintf(stderr, "cannot encode event %d\n", e->type);
        return;
    }
    dump("S->C", buf, len);
}

int main(void)
{
    proto_request r;
    static proto_event e;

    memset(&r, 0, sizeof r);
    r.type = PROTO_T_HELLO;
    r.has_rid = true;
    r.rid = 1;
    r.u.hello.version = PROTO_VERSION;
    strcpy(r.u.hello.name, "docs-example");
    req(&r);
    sample_event(PROTO_T_WELCOME, &e);
    e.rid = 1;
    evt(&e);

    memset(&r, 0, sizeof r);
    r.type = PROTO_T_CREATE;
    r.has_rid = true;
    r.rid = 2;
    strcpy(r.u.create.ship, "scout");
    r.u.create.band = PROTO_BAND_SHORT;
    r.u.create.vs = PROTO_VS_AI;
    req(&r);
    sample_event(PROTO_T_STARTED, &e);
    e.has_rid = true;
    e.rid = 2;
    e.u.started.seat = 0;
    evt(&e);

    memset(&r, 0, sizeof r);
    r.type = PROTO_T_FIRE;
    r.has_rid = true;
    r.rid = 3;
    r.bid = BID;
    r.u.fire.weapon = 0;
    req(&r);
    sample_event(PROTO_T_ATTACK, &e);
    e.rid = 3;
    e.seq = 2;
    e.u.attack.dice[0] = 4;
    e.u.attack.dice[1] = 3;
    e.u.attack.total = 9; /* 7 + pilot 2 + Short 0 */
    e.u.attack.effect = 1;
    e.u.attack.damage = 3; /* say 2D6 = 5, minus armour 2 */
    e.u.attack.hull = 77;
    evt(&e);
    memset(&e, 0, sizeof e);
    e.type = PROTO_T_TURN;
    e.bid = BID;
    e.seq = 3;
    e.u.turn.round = 1;
    e.u.turn.active = 1;
    evt(&e);

    /* acting out of turn */
    r.rid = 4;
    req(&r);
    size_t len;
    static uint8_t buf[512];
    proto_encode_error(buf, sizeof buf, PROTO_E_NOT_YOUR_TURN, "seat 1 is acting", true, 4, BID, &len);
    dump("S->C", buf, len);

    sample_event(PROTO_T_ATTACK, &e); /* the server's opponent fires back and misses */
    e.has_rid = false;
    e.seq = 4;
    e.u.attack.seat = 1;
    e.u.attack.dice[0] = 2;
    e.u.attack.dice[1] = 3;
    e.u.attack.total = 6;
    e.u.attack.effect = -2;
    e.u.attack.hit = false;
    e.u.attack.damage = 0;
    e.u.attack.hull = 40;
    evt(&e);
    memset(&e, 0, sizeof e);
    e.type = PROTO_T_ROUND;
    e.bid = BID;
    e.seq = 5;
    e.u.round.round = 2;
    e.u.round.active = 1;
    e.u.round.hull[0] = 40;
    e.u.round.hull[1] = 77;
    evt(&e);

    memset(&r, 0, sizeof r);
    r.type = PROTO_T_FORFEIT;
    r.has_rid = true;
    r.rid = 5;
    r.bid = BID;
    req(&r);
    memset(&e, 0, sizeof e);
    e.type = PROTO_T_ENDED;
    e.has_rid = true;
    e.rid = 5;
    e.bid = BID;
    e.seq = 6;
    e.u.ended.winner = 1;
    e.u.ended.reason = PROTO_END_FORFEIT;
    e.u.ended.hull[0] = 40;
    e.u.ended.hull[1] = 77;
    e.u.ended.rounds = 2;
    evt(&e);
    return 0;
}
