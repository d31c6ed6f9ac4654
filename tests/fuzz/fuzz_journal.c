/* Fuzzes the journal reader: record framing, checksum, body decoding and the
 * per-battle replay rules, over one to eight segments.
 *
 * Input: one flags byte, then segments separated by "JSEG". Flag bit 0 turns
 * on skip_damaged; bit 1+i (i < 6) makes segment i a snapshot instead of a
 * log; bit 7 rewrites every record's checksum to match its body first, so the
 * fuzzer reaches the body decoder and replay rules without forging CRCs.
 *
 * Beyond "no crash, no leak", it checks what recovery relies on: every battle
 * returned has actions numbered on from its created record, every payload is
 * one valid msgpack object inside the input, and writing the set out again
 * and reading that back gives the same battles. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal/crc32c.h"
#include "journal/journal.h"
#include "journal/journal_codec.h"

#define FUZZ_SEGMENTS_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, const char *msg, const char *file, uint64_t off, uint64_t id)
{
    (void)ctx;
    (void)msg;
    (void)file;
    (void)off;
    (void)id;
}

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return p >= data && n <= size && (size_t)(p - data) <= size - n;
}

static bool same_rec(const journal_rec *a, const journal_rec *b)
{
    return a->battle_id == b->battle_id && a->seq == b->seq &&
           a->payload_len == b->payload_len && memcmp(a->payload, b->payload, a->payload_len) == 0;
}

/* Walks a segment's length prefixes and rewrites each record's CRC. */
static void fix_crcs(uint8_t *seg, size_t len)
{
    size_t off = 0;
    while (len - off >= 8) {
        size_t body = (size_t)seg[off] << 24 | (size_t)seg[off + 1] << 16 |
                      (size_t)seg[off + 2] << 8 | seg[off + 3];
        if (body > len - off - 8)
            return;
        uint32_t c = crc32c(seg + off + 8, body);
        seg[off + 4] = (uint8_t)(c >> 24);
        seg[off + 5] = (uint8_t)(c >> 16);
        seg[off + 6] = (uint8_t)(c >> 8);
        seg[off + 7] = (uint8_t)c;
        off += 8 + body;
    }
}

static int run(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!(data[0] & 0x80))
        return run(data, size);
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    int rc = run(copy, size);
    free(copy);
    return rc;
}

static int run(const uint8_t *data, size_t size)
{
    uint8_t flags = data[0];
    const uint8_t *segs[FUZZ_SEGMENTS_MAX];
    size_t lens[FUZZ_SEGMENTS_MAX];
    bool is_log[FUZZ_SEGMENTS_MAX];
    size_t n = 0, start = 1;
    for (size_t i = 1; n < FUZZ_SEGMENTS_MAX - 1 && i + 4 <= size; i++)
        if (memcmp(data + i, "JSEG", 4) == 0) {
            segs[n] = data + start;
            lens[n] = i - start;
            n++;
            start = i + 4;
            i += 3;
        }
    segs[n] = data + start;
    lens[n] = size - start;
    n++;
    for (size_t i = 0; i < n; i++) {
        is_log[i] = i >= 6 || !(flags & (2u << i));
        if (flags & 0x80)
            fix_crcs((uint8_t *)segs[i], lens[i]); /* run() got a private copy */
    }

    journal_load_opts lo = {.skip_damaged = flags & 1, .warn = quiet};
    journal_set *set;
    journal_error err;
    if (journal_load_buffers(segs, lens, NULL, is_log, n, &lo, &set, &err) != 0) {
        check(set == NULL && err.code != JOURNAL_OK && err.msg[0]);
        return 0;
    }
    size_t count = journal_set_count(set);
    for (size_t i = 0; i < count; i++) {
        const journal_battle *b = journal_set_battle(set, i);
        check(journal_set_find(set, b->id) == b);
        check(b->created.type == JOURNAL_REC_CREATED && b->created.battle_id == b->id);
        check(inside(b->created.payload, b->created.payload_len, data, size));
        check(journal_msgpack_valid(b->created.payload, b->created.payload_len));
        for (size_t k = 0; k < b->nactions; k++) {
            const journal_rec *r = &b->actions[k];
            check(r->type == JOURNAL_REC_ACTION && r->battle_id == b->id);
            check(r->seq == b->created.seq + 1 + k);
            check(inside(r->payload, r->payload_len, data, size));
            check(journal_msgpack_valid(r->payload, r->payload_len));
        }
    }
    /* Round trip: the set written as a snapshot reads back the same. */
    uint8_t *enc;
    size_t elen;
    if (journal_set_encode(set, &enc, &elen) == 0) {
        const uint8_t *eb[1] = {enc};
        bool snap[1] = {false};
        journal_load_opts strict = {.warn = quiet};
        journal_set *again;
        check(journal_load_buffers(eb, &elen, NULL, snap, 1, &strict, &again, &err) == 0);
        check(journal_set_count(again) == count);
        for (size_t i = 0; i < count; i++) {
            const journal_battle *a = journal_set_battle(set, i);
            const journal_battle *b = journal_set_battle(again, i);
            check(a->id == b->id && a->nactions == b->nactions);
            check(same_rec(&a->created, &b->created));
            for (size_t k = 0; k < a->nactions; k++)
                check(same_rec(&a->actions[k], &b->actions[k]));
        }
        journal_set_free(again);
        free(enc);
    }
    journal_set_free(set);
    return 0;
}
