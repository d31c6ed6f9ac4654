/* idtag: see idtag.h. */
#include "net/idtag.h"

#include <stdio.h>
#include <string.h>

#include "proto/codec.h"

uint64_t idtag_apply(uint64_t raw, uint64_t tag)
{
    if (tag == 0)
        return raw & (uint64_t)INT64_MAX;
    return (raw & IDTAG_RANDOM_MASK) | (tag & IDTAG_MASK);
}

bool idtag_route_here(idtag_locate_fn locate, void *arg, bool tls,
                      const proto_request *r, proto_event *moved)
{
    if (!locate)
        return true;
    char addr[IDTAG_ADDR_MAX + 1] = "", ws[IDTAG_ADDR_MAX + 1] = "";
    if (locate(arg, r->bid, tls, addr, ws))
        return true;
    addr[IDTAG_ADDR_MAX] = ws[IDTAG_ADDR_MAX] = '\0'; /* the hook's bound, kept whatever it wrote */
    if (!addr[0]) {
        /* Its holder died and no node has finished taking it over: worth a retry, not a refusal. */
        memset(moved, 0, sizeof *moved);
        moved->type = PROTO_T_ERROR;
        moved->has_rid = r->has_rid;
        moved->rid = r->rid;
        moved->bid = r->bid;
        moved->u.error.code = PROTO_E_SERVER_BUSY;
        snprintf(moved->u.error.msg, sizeof moved->u.error.msg,
                 "the battle's holder cannot serve it right now (a takeover under way, or this "
                 "node lost touch with the cluster); retry shortly");
        return false;
    }
    memset(moved, 0, offsetof(proto_event, u) + sizeof moved->u.moved);
    moved->type = PROTO_T_MOVED;
    moved->has_rid = r->has_rid;
    moved->rid = r->rid;
    moved->bid = r->bid;
    memcpy(moved->u.moved.addr, addr, sizeof addr);
    memcpy(moved->u.moved.ws, ws, sizeof ws);
    /* Checked by encoding it once: what the codec would refuse is not a usable answer. */
    uint8_t buf[PROTO_FRAME_HEADER + 256];
    size_t len;
    return proto_encode_event(buf, sizeof buf, moved, &len) != PROTO_E_OK;
}
