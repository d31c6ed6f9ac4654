/* Bounded msgpack reader: see mp.h. */
#include "proto/mp.h"

#include <string.h>

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Takes n bytes of header payload; returns NULL when the frame ends first. */
static const uint8_t *take(mp_cur *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        return NULL;
    const uint8_t *q = c->p;
    c->p += n;
    return q;
}

static proto_error body(mp_cur *c, mp_item *it, mp_kind k, int lenbytes)
{
    const uint8_t *q = take(c, (size_t)lenbytes);
    if (!q)
        return PROTO_E_BAD_MSGPACK;
    it->kind = k;
    it->n = (uint32_t)be(q, lenbytes);
    it->p = take(c, it->n);
    return it->p ? PROTO_E_OK : PROTO_E_BAD_MSGPACK;
}

static proto_error count(mp_cur *c, mp_item *it, mp_kind k, uint32_t n)
{
    it->kind = k;
    it->n = n;
    /* Each element takes at least one byte, each map pair two. */
    uint64_t need = (uint64_t)n * (k == MP_MAP ? 2u : 1u);
    return need <= (uint64_t)(c->end - c->p) ? PROTO_E_OK : PROTO_E_TOO_MANY;
}

/* ext 8/16/32: length, then a type byte, then the data. */
static proto_error ext(mp_cur *c, mp_item *it, int lenbytes)
{
    const uint8_t *q = take(c, (size_t)lenbytes);
    if (!q || !take(c, 1))
        return PROTO_E_BAD_MSGPACK;
    it->kind = MP_EXT;
    it->n = (uint32_t)be(q, lenbytes);
    it->p = take(c, it->n);
    return it->p ? PROTO_E_OK : PROTO_E_BAD_MSGPACK;
}

static proto_error counthdr(mp_cur *c, mp_item *it, mp_kind k, int lenbytes)
{
    const uint8_t *q = take(c, (size_t)lenbytes);
    if (!q)
        return PROTO_E_BAD_MSGPACK;
    return count(c, it, k, (uint32_t)be(q, lenbytes));
}

static proto_error fixed(mp_cur *c, mp_item *it, mp_kind k, size_t n)
{
    it->kind = k;
    it->p = take(c, n);
    it->n = (uint32_t)n;
    return it->p ? PROTO_E_OK : PROTO_E_BAD_MSGPACK;
}

static proto_error uint_n(mp_cur *c, mp_item *it, int n)
{
    const uint8_t *q = take(c, (size_t)n);
    if (!q)
        return PROTO_E_BAD_MSGPACK;
    it->kind = MP_INT;
    it->u = be(q, n);
    return PROTO_E_OK;
}

static proto_error int_n(mp_cur *c, mp_item *it, int n)
{
    const uint8_t *q = take(c, (size_t)n);
    if (!q)
        return PROTO_E_BAD_MSGPACK;
    uint64_t raw = be(q, n);
    int64_t v;
    if (n < 8 && (raw >> (n * 8 - 1)) & 1)
        raw |= ~0ULL << (n * 8); /* sign-extend */
    memcpy(&v, &raw, sizeof v);
    it->kind = MP_INT;
    if (v < 0) {
        it->neg = 1;
        it->i = v;
    } else {
        it->u = (uint64_t)v;
    }
    return PROTO_E_OK;
}

proto_error mp_next(mp_cur *c, mp_item *it)
{
    memset(it, 0, sizeof *it);
    if (c->p >= c->end)
        return PROTO_E_BAD_MSGPACK;
    uint8_t b = *c->p++;
    if (b <= 0x7f) {
        it->kind = MP_INT;
        it->u = b;
        return PROTO_E_OK;
    }
    if (b >= 0xe0) {
        it->kind = MP_INT;
        it->neg = 1;
        it->i = (int8_t)b;
        return PROTO_E_OK;
    }
    if (b <= 0x8f)
        return count(c, it, MP_MAP, b & 0x0f);
    if (b <= 0x9f)
        return count(c, it, MP_ARRAY, b & 0x0f);
    if (b <= 0xbf) {
        it->kind = MP_STR;
        it->n = b & 0x1f;
        it->p = take(c, it->n);
        return it->p ? PROTO_E_OK : PROTO_E_BAD_MSGPACK;
    }
    switch (b) {
    case 0xc0: it->kind = MP_NIL; return PROTO_E_OK;
    case 0xc2: it->kind = MP_BOOL; it->b = 0; return PROTO_E_OK;
    case 0xc3: it->kind = MP_BOOL; it->b = 1; return PROTO_E_OK;
    case 0xc4: return body(c, it, MP_BIN, 1);
    case 0xc5: return body(c, it, MP_BIN, 2);
    case 0xc6: return body(c, it, MP_BIN, 4);
    case 0xc7: return ext(c, it, 1);
    case 0xc8: return ext(c, it, 2);
    case 0xc9: return ext(c, it, 4);
    case 0xca: return fixed(c, it, MP_FLOAT, 4);
    case 0xcb: return fixed(c, it, MP_FLOAT, 8);
    case 0xcc: return uint_n(c, it, 1);
    case 0xcd: return uint_n(c, it, 2);
    case 0xce: return uint_n(c, it, 4);
    case 0xcf: return uint_n(c, it, 8);
    case 0xd0: return int_n(c, it, 1);
    case 0xd1: return int_n(c, it, 2);
    case 0xd2: return int_n(c, it, 4);
    case 0xd3: return int_n(c, it, 8);
    case 0xd4: return fixed(c, it, MP_EXT, 2);
    case 0xd5: return fixed(c, it, MP_EXT, 3);
    case 0xd6: return fixed(c, it, MP_EXT, 5);
    case 0xd7: return fixed(c, it, MP_EXT, 9);
    case 0xd8: return fixed(c, it, MP_EXT, 17);
    case 0xd9: return body(c, it, MP_STR, 1);
    case 0xda: return body(c, it, MP_STR, 2);
    case 0xdb: return body(c, it, MP_STR, 4);
    case 0xdc: return counthdr(c, it, MP_ARRAY, 2);
    case 0xdd: return counthdr(c, it, MP_ARRAY, 4);
    case 0xde: return counthdr(c, it, MP_MAP, 2);
    case 0xdf: return counthdr(c, it, MP_MAP, 4);
    default: return PROTO_E_BAD_MSGPACK; /* 0xc1: never used */
    }
}

proto_error mp_skip(mp_cur *c, int depth, int max_depth)
{
    if (depth > max_depth)
        return PROTO_E_TOO_DEEP;
    mp_item it;
    proto_error e = mp_next(c, &it);
    if (e != PROTO_E_OK)
        return e;
    if (it.kind != MP_ARRAY && it.kind != MP_MAP)
        return PROTO_E_OK;
    if (it.n > 0 && depth + 1 > max_depth)
        return PROTO_E_TOO_DEEP;
    uint64_t n = (uint64_t)it.n * (it.kind == MP_MAP ? 2u : 1u);
    for (uint64_t k = 0; k < n; k++) {
        e = mp_skip(c, depth + 1, max_depth);
        if (e != PROTO_E_OK)
            return e;
    }
    return PROTO_E_OK;
}

proto_error mp_check(const uint8_t *buf, size_t len, int max_depth)
{
    mp_cur c = {buf, buf + len};
    proto_error e = mp_skip(&c, 1, max_depth);
    if (e != PROTO_E_OK)
        return e;
    return c.p == c.end ? PROTO_E_OK : PROTO_E_BAD_MSGPACK; /* one object, nothing after it */
}
