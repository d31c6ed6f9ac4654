/* Record encoding and strict, allocation-free decoding. The decoder never
 * trusts a declared count: every container's count is checked against the
 * bytes that remain before any element is looked at, so hostile input costs
 * time linear in its size and no memory. */
#include "journal/journal_codec.h"

#include <string.h>

#include "journal/crc32c.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static size_t uint_size(uint64_t v)
{
    return v < 0x80 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffffu ? 5 : 9;
}

static uint8_t *put_uint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p++ = (uint8_t)v;
        return p;
    }
    int n;
    if (v <= 0xff) {
        *p++ = 0xcc;
        n = 1;
    } else if (v <= 0xffff) {
        *p++ = 0xcd;
        n = 2;
    } else if (v <= 0xffffffffu) {
        *p++ = 0xce;
        n = 4;
    } else {
        *p++ = 0xcf;
        n = 8;
    }
    for (int i = n - 1; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_key(uint8_t *p, char k)
{
    *p++ = 0xa1;
    *p++ = (uint8_t)k;
    return p;
}

size_t journal_rec_encoded_size(uint64_t battle_id, uint64_t seq, size_t payload_len)
{
    /* header, fixmap, 4 keys of 2 bytes, type (one byte), ids, payload */
    return JOURNAL_HEADER_BYTES + 1 + 8 + 1 + uint_size(battle_id) + uint_size(seq) + payload_len;
}

size_t journal_record_encode(uint8_t *buf, size_t cap, journal_rec_type type, uint64_t battle_id,
                             uint64_t seq, const void *payload, size_t payload_len)
{
    size_t n = journal_rec_encoded_size(battle_id, seq, payload_len);
    if (n > cap || n - JOURNAL_HEADER_BYTES > UINT32_MAX || (unsigned)type > 0x7f)
        return 0;
    uint8_t *p = buf + JOURNAL_HEADER_BYTES;
    *p++ = 0x84;
    p = put_key(p, 't');
    p = put_uint(p, (uint64_t)type);
    p = put_key(p, 'b');
    p = put_uint(p, battle_id);
    p = put_key(p, 's');
    p = put_uint(p, seq);
    p = put_key(p, 'd');
    memcpy(p, payload, payload_len);
    size_t body = n - JOURNAL_HEADER_BYTES;
    put_be32(buf, (uint32_t)body);
    put_be32(buf + 4, crc32c(buf + JOURNAL_HEADER_BYTES, body));
    return n;
}

/* ---- msgpack validation --------------------------------------------------- */

/* Bytes of a fixed-size scalar after its type byte, or -1 if b is not one. */
static int fixed_tail(uint8_t b)
{
    switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return 0;
    case 0xcc: case 0xd0: return 1;
    case 0xcd: case 0xd1: return 2;
    case 0xca: case 0xce: case 0xd2: return 4;
    case 0xcb: case 0xcf: case 0xd3: return 8;
    case 0xd4: return 2;  /* fixext 1: type + 1 */
    case 0xd5: return 3;
    case 0xd6: return 5;
    case 0xd7: return 9;
    case 0xd8: return 17;
    default: return -1;
    }
}

/* Skips one object at p[*pos..len); false if malformed or too deep. */
static bool mp_skip(const uint8_t *p, size_t len, size_t *pos, int depth)
{
    if (*pos >= len)
        return false;
    uint8_t b = p[(*pos)++];
    size_t left = len - *pos;
    uint64_t count = 0, bytes = 0;
    bool container = false;
    if (b <= 0x7f || b >= 0xe0)
        return true;
    if (b <= 0x8f) {
        count = 2u * (b & 0x0f);
        container = true;
    } else if (b <= 0x9f) {
        count = b & 0x0f;
        container = true;
    } else if (b <= 0xbf) {
        bytes = b & 0x1f;
    } else if (fixed_tail(b) >= 0) {
        bytes = (uint64_t)fixed_tail(b);
    } else {
        int lw; /* width of the length field */
        int extra = 0;
        switch (b) {
        case 0xc4: case 0xd9: lw = 1; break;
        case 0xc5: case 0xda: lw = 2; break;
        case 0xc6: case 0xdb: lw = 4; break;
        case 0xc7: lw = 1; extra = 1; break;
        case 0xc8: lw = 2; extra = 1; break;
        case 0xc9: lw = 4; extra = 1; break;
        case 0xdc: lw = 2; container = true; break;
        case 0xdd: lw = 4; container = true; break;
        case 0xde: lw = 2; container = true; break;
        case 0xdf: lw = 4; container = true; break;
        default: return false; /* 0xc1, never used */
        }
        if (left < (size_t)lw)
            return false;
        uint64_t v = get_be(p + *pos, lw);
        *pos += (size_t)lw;
        left -= (size_t)lw;
        if (container)
            count = (b == 0xde || b == 0xdf) ? 2 * v : v;
        else
            bytes = v + (uint64_t)extra;
    }
    if (!container) {
        if (bytes > left)
            return false;
        *pos += (size_t)bytes;
        return true;
    }
    if (depth >= JOURNAL_PAYLOAD_DEPTH_MAX || count > left) /* each element takes a byte */
        return false;
    for (uint64_t i = 0; i < count; i++)
        if (!mp_skip(p, len, pos, depth + 1))
            return false;
    return true;
}

bool journal_msgpack_valid(const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    return mp_skip(buf, len, &pos, 0) && pos == len;
}

/* ---- decoding ------------------------------------------------------------- */

static bool get_uint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    if (*pos >= len)
        return false;
    uint8_t b = p[(*pos)++];
    if (b <= 0x7f) {
        *out = b;
        return true;
    }
    int n = b == 0xcc ? 1 : b == 0xcd ? 2 : b == 0xce ? 4 : b == 0xcf ? 8 : 0;
    if (n == 0 || len - *pos < (size_t)n)
        return false;
    *out = get_be(p + *pos, n);
    *pos += (size_t)n;
    return true;
}

uint64_t journal_rec_peek_battle(const uint8_t *p, size_t len)
{
    if (len < 1 || (p[0] & 0xf0) != 0x80)
        return 0;
    unsigned n = p[0] & 0x0f;
    size_t pos = 1;
    for (unsigned i = 0; i < n; i++) {
        if (pos >= len || (p[pos] & 0xe0) != 0xa0)
            return 0;
        size_t kl = p[pos] & 0x1f;
        if (len - pos - 1 < kl)
            return 0;
        bool is_b = kl == 1 && p[pos + 1] == 'b';
        pos += 1 + kl;
        uint64_t v = 0;
        if (is_b)
            return get_uint(p, len, &pos, &v) ? v : 0;
        if (!mp_skip(p, len, &pos, 0))
            return 0;
    }
    return 0;
}

bool journal_rec_decode_body(const uint8_t *p, size_t len, journal_rec *rec)
{
    size_t pos = 0;
    if (len < 1 || (p[0] & 0xf0) != 0x80)
        return false;
    unsigned n = p[0] & 0x0f;
    pos = 1;
    unsigned seen = 0; /* bit per known key, so duplicates are refused */
    uint64_t t = 0, id = 0, seq = 0;
    size_t d_off = 0, d_len = 0;
    for (unsigned i = 0; i < n; i++) {
        /* Keys are short strings; unknown ones (later versions) are skipped. */
        if (pos >= len || (p[pos] & 0xe0) != 0xa0)
            return false;
        size_t kl = p[pos] & 0x1f;
        if (len - pos - 1 < kl)
            return false;
        const uint8_t *k = p + pos + 1;
        pos += 1 + kl;
        unsigned bit = 0;
        if (kl == 1)
            bit = k[0] == 't' ? 1 : k[0] == 'b' ? 2 : k[0] == 's' ? 4 : k[0] == 'd' ? 8 : 0;
        if (bit & seen)
            return false;
        seen |= bit;
        bool ok;
        switch (bit) {
        case 1: ok = get_uint(p, len, &pos, &t); break;
        case 2: ok = get_uint(p, len, &pos, &id); break;
        case 4: ok = get_uint(p, len, &pos, &seq); break;
        case 8:
            d_off = pos;
            ok = mp_skip(p, len, &pos, 0);
            d_len = pos - d_off;
            break;
        default: ok = mp_skip(p, len, &pos, 0); break;
        }
        if (!ok)
            return false;
    }
    if (seen != 15 || pos != len || t < JOURNAL_REC_CREATED || t > JOURNAL_REC_ENDED ||
        d_len > JOURNAL_PAYLOAD_MAX)
        return false;
    rec->type = (journal_rec_type)t;
    rec->battle_id = id;
    rec->seq = seq;
    rec->payload = p + d_off;
    rec->payload_len = d_len;
    return true;
}

journal_rec_status journal_rec_parse(const uint8_t *data, size_t len, size_t off, journal_rec *rec, size_t *reclen)
{
    if (off > len || len - off < JOURNAL_HEADER_BYTES)
        return JOURNAL_REC_SHORT;
    uint64_t body = get_be(data + off, 4);
    uint32_t crc = (uint32_t)get_be(data + off + 4, 4);
    if (body < JOURNAL_BODY_MIN || body > JOURNAL_BODY_MAX)
        return JOURNAL_REC_BADLEN;
    if (len - off - JOURNAL_HEADER_BYTES < body)
        return JOURNAL_REC_SHORT;
    const uint8_t *b = data + off + JOURNAL_HEADER_BYTES;
    if (crc32c(b, (size_t)body) != crc)
        return JOURNAL_REC_BADCRC;
    if (!journal_rec_decode_body(b, (size_t)body, rec))
        return JOURNAL_REC_BADBODY;
    *reclen = JOURNAL_HEADER_BYTES + (size_t)body;
    return JOURNAL_REC_OK;
}

const char *journal_rec_status_text(journal_rec_status s)
{
    switch (s) {
    case JOURNAL_REC_OK: return "ok";
    case JOURNAL_REC_SHORT: return "truncated record";
    case JOURNAL_REC_BADLEN: return "record length out of bounds";
    case JOURNAL_REC_BADCRC: return "checksum mismatch";
    case JOURNAL_REC_BADBODY: return "malformed record body";
    }
    return "?";
}
