/* The journal's format and reader: checksum, record codec, round trip of every
 * record type, torn tails, damage in the middle, several shard files, restart
 * with another shard count. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "journal/crc32c.h"
#include "journal/journal.h"
#include "journal/journal_codec.h"
#include "tests/unit/test_journal_util.h"

static void test_crc32c_known_values(void **state)
{
    (void)state;
    assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c("", 0), 0);
    uint8_t zeros[32] = {0};
    assert_int_equal(crc32c(zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    /* Pieces give the same checksum as the whole, at every split and
     * alignment, and the hardware and table paths agree. */
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += 13) {
            uint32_t whole = crc32c(buf + off, len);
            assert_int_equal(whole, crc32c_portable(0, buf + off, len));
            size_t half = len / 3;
            assert_int_equal(whole, crc32c_extend(crc32c(buf + off, half), buf + off + half,
                                                  len - half));
        }
}

static void test_msgpack_validation(void **state)
{
    (void)state;
    static const uint8_t ok1[] = {0xc0};
    static const uint8_t ok2[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0xcb, 0, 0, 0, 0, 0,
                                  0, 0, 0, 0xc4, 0x01, 0xff};
    static const uint8_t ok3[] = {0xd6, 0xff, 1, 2, 3, 4}; /* fixext 4 (timestamp) */
    assert_true(journal_msgpack_valid(ok1, sizeof ok1));
    assert_true(journal_msgpack_valid(ok2, sizeof ok2));
    assert_true(journal_msgpack_valid(ok3, sizeof ok3));
    static const uint8_t two[] = {0x01, 0x02};                    /* two objects */
    static const uint8_t never[] = {0xc1};                        /* reserved byte */
    static const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff}; /* 4G elements, 0 bytes */
    static const uint8_t shortstr[] = {0xa5, 'a'};
    static const uint8_t shortmap[] = {0x81, 0x01};
    assert_false(journal_msgpack_valid(two, sizeof two));
    assert_false(journal_msgpack_valid(never, sizeof never));
    assert_false(journal_msgpack_valid(huge, sizeof huge));
    assert_false(journal_msgpack_valid(shortstr, sizeof shortstr));
    assert_false(journal_msgpack_valid(shortmap, sizeof shortmap));
    assert_false(journal_msgpack_valid(NULL, 0));
    /* Nesting: JOURNAL_PAYLOAD_DEPTH_MAX arrays are fine, one more is not. */
    uint8_t deep[JOURNAL_PAYLOAD_DEPTH_MAX + 2];
    memset(deep, 0x91, sizeof deep);
    deep[JOURNAL_PAYLOAD_DEPTH_MAX] = 0xc0;
    assert_true(journal_msgpack_valid(deep, JOURNAL_PAYLOAD_DEPTH_MAX + 1));
    deep[JOURNAL_PAYLOAD_DEPTH_MAX] = 0x91;
    deep[JOURNAL_PAYLOAD_DEPTH_MAX + 1] = 0xc0;
    assert_false(journal_msgpack_valid(deep, JOURNAL_PAYLOAD_DEPTH_MAX + 2));
}

static void test_record_layout(void **state)
{
    (void)state;
    uint8_t buf[128];
    static const uint8_t nil = 0xc0;
    size_t n = journal_record_encode(buf, sizeof buf, JOURNAL_REC_ACTION, 300, 5, &nil, 1);
    /* 4-byte big-endian length, CRC-32C of the body, body = fixmap of 4. */
    assert_int_equal(n, 8 + 1 + 2 + 1 + 2 + 3 + 2 + 1 + 2 + 1);
    assert_int_equal(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3], n - 8);
    uint32_t crc = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    assert_int_equal(crc, crc32c(buf + 8, n - 8));
    static const uint8_t body[] = {0x84, 0xa1, 't', 0x02, 0xa1, 'b', 0xcd, 0x01, 0x2c,
                                   0xa1, 's',  0x05, 0xa1, 'd', 0xc0};
    assert_memory_equal(buf + 8, body, sizeof body);
    assert_int_equal(journal_record_encode(buf, n - 1, JOURNAL_REC_ACTION, 300, 5, &nil, 1), 0);
}

/* Writes, in dir, shard 0's journal with battles 1..nb: created, then
 * actions interleaved (battle b gets b actions), and battle nb+1 created and
 * ended. Returns the file's path in path. */
static void write_sample(const char *dir, unsigned nb, char *path, size_t pn)
{
    journal_opts o = {.dir = dir, .shard = 0, .first_gen = 1, .policy = JOURNAL_SYNC_NO};
    journal *j;
    journal_error err;
    assert_int_equal(journal_open(&o, NULL, 0, &j, &err), 0);
    for (unsigned b = 1; b <= nb; b++)
        assert_int_equal(append_created(j, b), 0);
    assert_int_equal(append_created(j, nb + 1), 0);
    for (unsigned s = 1; s <= nb; s++)
        for (unsigned b = s; b <= nb; b++)
            assert_int_equal(append_action(j, b, s), 0);
    assert_int_equal(append_ended(j, nb + 1), 0);
    assert_int_equal(journal_close(j), 0);
    snprintf(path, pn, "%s/shard-0-1.log", dir);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    char dir[256], path[300];
    make_dir(dir, sizeof dir);
    write_sample(dir, 4, path, sizeof path);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0); /* seat tokens inside: owner only */
    journal_set *set;
    journal_error err;
    warn_log w = {0};
    journal_load_opts lo = {.warn = warn_rec, .warn_ctx = &w};
    assert_int_equal(journal_load(dir, &lo, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 4); /* battle 5 ended */
    for (unsigned b = 1; b <= 4; b++) {
        assert_true(battle_matches(journal_set_battle(set, b - 1), b, b));
        assert_ptr_equal(journal_set_find(set, b), journal_set_battle(set, b - 1));
    }
    assert_null(journal_set_find(set, 5));
    journal_load_stats st = journal_set_stats(set);
    assert_int_equal(st.records, 5 + 10 + 1);
    assert_int_equal(st.ended, 1);
    assert_int_equal(st.torn_tails, 0);
    assert_int_equal(w.count, 0);
    assert_int_equal(journal_set_next_gen(set), 2);
    journal_set_free(set);

    /* keep_ended: the ended battle comes back whole, flagged, and a snapshot of it keeps its end */
    lo.keep_ended = true;
    assert_int_equal(journal_load(dir, &lo, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 5);
    const journal_battle *e = journal_set_find(set, 5);
    assert_non_null(e);
    assert_true(e->ended && e->end.type == JOURNAL_REC_ENDED && e->end.battle_id == 5);
    assert_false(journal_set_find(set, 4)->ended);
    uint8_t *snap = NULL;
    size_t snap_len = 0;
    assert_int_equal(journal_battles_encode(&e, 1, &snap, &snap_len), 0);
    journal_set_free(set);
    const uint8_t *bufs[1] = {snap};
    bool is_log[1] = {false};
    assert_int_equal(journal_load_buffers(bufs, &snap_len, NULL, is_log, 1, NULL, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 0); /* without keep_ended: over, not returned */
    assert_int_equal(journal_set_stats(set).ended, 1);
    journal_set_free(set);
    free(snap);
    rm_rf(dir);
}

static void test_empty_and_missing_dir(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    journal_set *set;
    journal_error err;
    assert_int_equal(journal_load(dir, NULL, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 0);
    assert_int_equal(journal_set_next_gen(set), 1);
    journal_set_free(set);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    assert_int_equal(journal_load(missing, NULL, &set, &err), -1);
    assert_null(set);
    assert_int_equal(err.code, JOURNAL_E_IO);
    assert_non_null(strstr(err.msg, "nope"));
    rm_rf(dir);
}

/* A crash mid-write leaves any prefix of the last record: each is cut with a
 * warning and everything before it loads. */
static void test_torn_tail_every_offset(void **state)
{
    (void)state;
    char dir[256], path[300];
    make_dir(dir, sizeof dir);
    write_sample(dir, 3, path, sizeof path);
    /* Append one more action of battle 3 by hand and find its extent. */
    uint8_t *d = NULL;
    long n = slurp(path, &d);
    assert_true(n > 0);
    uint8_t rec[128], pl[64];
    size_t pn = mk_payload(pl, 3, 4, 6);
    size_t rn = journal_record_encode(rec, sizeof rec, JOURNAL_REC_ACTION, 3, 4, pl, pn);
    uint8_t *full = malloc((size_t)n + rn);
    memcpy(full, d, (size_t)n);
    memcpy(full + n, rec, rn);
    for (size_t cut = 0; cut <= rn; cut++) {
        for (int zero_fill = 0; zero_fill < 2; zero_fill++) {
            /* zero_fill: the cut-off bytes read back as zeros (blocks
             * allocated, data never written) instead of missing. */
            uint8_t *img = malloc((size_t)n + rn);
            memcpy(img, full, (size_t)n + cut);
            size_t len = (size_t)n + cut;
            if (zero_fill) {
                memset(img + len, 0, rn - cut);
                len = (size_t)n + rn;
                if (cut == rn)
                    len = (size_t)n + rn;
            }
            assert_int_equal(spit(path, img, len), 0);
            warn_log w = {0};
            journal_load_opts lo = {.warn = warn_rec, .warn_ctx = &w};
            journal_set *set;
            journal_error err;
            assert_int_equal(journal_load(dir, &lo, &set, &err), 0);
            assert_int_equal(journal_set_count(set), 3);
            assert_true(battle_matches(journal_set_battle(set, 0), 1, 1));
            assert_true(battle_matches(journal_set_battle(set, 1), 2, 2));
            bool whole = cut == rn;
            bool torn = !whole && (cut > 0 || zero_fill);
            const journal_battle *b3 = journal_set_battle(set, 2);
            assert_int_equal(b3->nactions, whole ? 4 : 3);
            assert_int_equal(w.torn, torn ? 1 : 0);
            if (torn) {
                assert_int_equal(w.last_offset, (uint64_t)n);
                assert_string_equal(w.last_file, "shard-0-1.log");
                assert_int_equal(journal_set_stats(set).torn_bytes, len - (size_t)n);
                /* header, {"t": 2, "b": 3: the cut record still names its battle */
                if (cut >= 8 + 1 + 2 + 1 + 2 + 1)
                    assert_int_equal(w.torn_battle, 3);
            }
            journal_set_free(set);
            free(img);
        }
    }
    free(full);
    free(d);
    rm_rf(dir);
}

/* Offsets of the records in a segment. */
static size_t record_offsets(const uint8_t *d, size_t n, size_t *offs, size_t max)
{
    size_t k = 0, off = 0;
    while (off + 8 <= n && k < max) {
        offs[k++] = off;
        off += 8 + ((size_t)d[off] << 24 | (size_t)d[off + 1] << 16 | (size_t)d[off + 2] << 8 |
                    d[off + 3]);
    }
    return k;
}

/* Any byte of a record in the middle changed: without skip_damaged the load
 * stops naming file and offset; with it only that battle is left out. */
static void test_corrupt_middle(void **state)
{
    (void)state;
    char dir[256], path[300];
    make_dir(dir, sizeof dir);
    write_sample(dir, 4, path, sizeof path);
    uint8_t *d = NULL;
    long n = slurp(path, &d);
    size_t offs[64];
    size_t nrec = record_offsets(d, (size_t)n, offs, 64);
    /* Records: created 1..5, then actions s=1: b1 b2 b3 b4, s=2: b2 b3 b4,
     * s=3: b3 b4, s=4: b4, ended 5. Battle 3's action 2 is record 5+4+1. */
    assert_int_equal(nrec, 5 + 10 + 1);
    size_t target = 5 + 4 + 1;
    size_t start = offs[target], end = offs[target + 1];
    uint8_t *img = malloc((size_t)n);
    for (size_t at = start; at < end; at++) {
        memcpy(img, d, (size_t)n);
        img[at] ^= 0x5a;
        assert_int_equal(spit(path, img, (size_t)n), 0);
        journal_set *set;
        journal_error err;
        warn_log w = {0};
        journal_load_opts strict = {.warn = warn_rec, .warn_ctx = &w};
        assert_int_equal(journal_load(dir, &strict, &set, &err), -1);
        assert_null(set);
        assert_int_equal(err.code, JOURNAL_E_DAMAGED);
        assert_string_equal(err.file, "shard-0-1.log");
        assert_int_equal(err.offset, start);
        assert_non_null(strstr(err.msg, "shard-0-1.log"));

        journal_load_opts skip = {.skip_damaged = true, .warn = warn_rec, .warn_ctx = &w};
        assert_int_equal(journal_load(dir, &skip, &set, &err), 0);
        assert_null(journal_set_find(set, 3));
        assert_int_equal(journal_set_count(set), 3);
        assert_true(battle_matches(journal_set_find(set, 1), 1, 1));
        assert_true(battle_matches(journal_set_find(set, 2), 2, 2));
        assert_true(battle_matches(journal_set_find(set, 4), 4, 4));
        journal_load_stats st = journal_set_stats(set);
        assert_true(st.skipped_battles >= 1);
        assert_int_equal(st.damaged_regions, 1);
        assert_true(w.damaged >= 1);
        if (at >= start + 4 && at < start + 8) /* the checksum only: the body names battle 3 */
            assert_int_equal(w.region_battle, 3);
        journal_set_free(set);
    }
    free(img);
    free(d);
    rm_rf(dir);
}

/* A gap in a battle's actions (a record lost, whatever the cause) is damage
 * of that battle; an action of an unknown battle too. */
static void test_sequence_rules(void **state)
{
    (void)state;
    uint8_t seg[1024], pl[64];
    size_t n = 0, pn;
    pn = mk_payload(pl, 1, 0, 1);
    n += journal_record_encode(seg + n, sizeof seg - n, JOURNAL_REC_CREATED, 1, 0, pl, pn);
    pn = mk_payload(pl, 1, 1, 1);
    n += journal_record_encode(seg + n, sizeof seg - n, JOURNAL_REC_ACTION, 1, 1, pl, pn);
    size_t gap_at = n;
    pn = mk_payload(pl, 1, 3, 3);
    n += journal_record_encode(seg + n, sizeof seg - n, JOURNAL_REC_ACTION, 1, 3, pl, pn);
    pn = mk_payload(pl, 9, 1, 9);
    n += journal_record_encode(seg + n, sizeof seg - n, JOURNAL_REC_ACTION, 9, 1, pl, pn);
    pn = mk_payload(pl, 2, 0, 2);
    n += journal_record_encode(seg + n, sizeof seg - n, JOURNAL_REC_CREATED, 2, 0, pl, pn);
    const uint8_t *bufs[] = {seg};
    size_t lens[] = {n};
    const char *names[] = {"mem"};
    journal_set *set;
    journal_error err;
    warn_log w = {0};
    journal_load_opts strict = {.warn = warn_rec, .warn_ctx = &w};
    assert_int_equal(journal_load_buffers(bufs, lens, names, NULL, 1, &strict, &set, &err), -1);
    assert_int_equal(err.code, JOURNAL_E_DAMAGED);
    assert_int_equal(err.offset, gap_at);
    assert_int_equal(err.battle_id, 1);
    journal_load_opts skip = {.skip_damaged = true, .warn = warn_rec, .warn_ctx = &w};
    assert_int_equal(journal_load_buffers(bufs, lens, names, NULL, 1, &skip, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 1);
    assert_true(battle_matches(journal_set_find(set, 2), 2, 0));
    assert_int_equal(journal_set_stats(set).skipped_battles, 2); /* 1 (gap) and 9 (unknown) */
    journal_set_free(set);
}

/* A snapshot is written whole and renamed, so even a bad last record there is
 * damage, not a torn tail. */
static void test_snapshot_tail_is_damage(void **state)
{
    (void)state;
    uint8_t seg[256], pl[64];
    size_t pn = mk_payload(pl, 1, 0, 1);
    size_t n = journal_record_encode(seg, sizeof seg, JOURNAL_REC_CREATED, 1, 0, pl, pn);
    const uint8_t *bufs[] = {seg};
    size_t lens[] = {n - 1};
    bool is_log[] = {false};
    journal_set *set;
    journal_error err;
    warn_log w = {0};
    journal_load_opts lo = {.warn = warn_rec, .warn_ctx = &w};
    assert_int_equal(journal_load_buffers(bufs, lens, NULL, is_log, 1, &lo, &set, &err), -1);
    assert_int_equal(err.code, JOURNAL_E_DAMAGED);
    is_log[0] = true;
    assert_int_equal(journal_load_buffers(bufs, lens, NULL, is_log, 1, &lo, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 0);
    assert_int_equal(w.torn, 1);
    journal_set_free(set);
}

/* Battles of several shard files load together; a restart with another shard
 * count writes each into its new shard's snapshot and retires the old files;
 * a crash before the retire loads the same battles once each. */
static void test_several_shards_and_reshard(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    enum { OLD = 3, NEW = 2, NB = 12 };
    journal *js[OLD];
    journal_error err;
    for (unsigned k = 0; k < OLD; k++) {
        journal_opts o = {.dir = dir, .shard = k, .first_gen = 1, .policy = JOURNAL_SYNC_NO};
        assert_int_equal(journal_open(&o, NULL, 0, &js[k], &err), 0);
    }
    for (uint64_t b = 1; b <= NB; b++) {
        journal *j = js[b % OLD];
        assert_int_equal(append_created(j, b), 0);
        for (uint64_t s = 1; s <= b % 5; s++)
            assert_int_equal(append_action(j, b, s), 0);
        if (b % 4 == 0)
            assert_int_equal(append_ended(j, b), 0);
    }
    for (unsigned k = 0; k < OLD; k++)
        assert_int_equal(journal_close(js[k]), 0);
    assert_int_equal(count_files(dir, ".log"), OLD);

    journal_set *set;
    assert_int_equal(journal_load(dir, NULL, &set, &err), 0);
    assert_int_equal(journal_set_count(set), NB - NB / 4);
    for (uint64_t b = 1; b <= NB; b++) {
        if (b % 4 == 0)
            assert_null(journal_set_find(set, b));
        else
            assert_true(battle_matches(journal_set_find(set, b), b, b % 5));
    }
    /* Restart with NEW shards: shard 0 writes its share, then a crash. */
    const journal_battle *share[NEW][NB];
    size_t nshare[NEW] = {0};
    for (size_t i = 0; i < journal_set_count(set); i++) {
        const journal_battle *b = journal_set_battle(set, i);
        share[b->id % NEW][nshare[b->id % NEW]++] = b;
    }
    uint64_t gen = journal_set_next_gen(set);
    journal *nj[NEW];
    journal_opts o0 = {.dir = dir, .shard = 0, .first_gen = gen, .policy = JOURNAL_SYNC_NO};
    assert_int_equal(journal_open(&o0, share[0], nshare[0], &nj[0], &err), 0);
    assert_int_equal(journal_close(nj[0]), 0);
    journal_set *again;
    assert_int_equal(journal_load(dir, NULL, &again, &err), 0);
    assert_int_equal(journal_set_count(again), NB - NB / 4);
    assert_true(journal_set_stats(again).replaced > 0);
    for (uint64_t b = 1; b <= NB; b++)
        if (b % 4)
            assert_true(battle_matches(journal_set_find(again, b), b, b % 5));
    journal_set_free(again);

    /* The real restart: every new shard writes its share, then retire. */
    gen = journal_set_next_gen(set);
    assert_int_equal(journal_load(dir, NULL, &again, &err), 0);
    journal_set_free(set);
    set = again;
    nshare[0] = nshare[1] = 0;
    for (size_t i = 0; i < journal_set_count(set); i++) {
        const journal_battle *b = journal_set_battle(set, i);
        share[b->id % NEW][nshare[b->id % NEW]++] = b;
    }
    gen = journal_set_next_gen(set);
    for (unsigned k = 0; k < NEW; k++) {
        journal_opts o = {.dir = dir, .shard = k, .first_gen = gen, .policy = JOURNAL_SYNC_NO};
        assert_int_equal(journal_open(&o, share[k], nshare[k], &nj[k], &err), 0);
    }
    assert_int_equal(journal_set_retire(set, &err), 0);
    journal_set_free(set);
    /* Battles go on in the new layout. */
    assert_int_equal(append_action(nj[1], 1, 2), 0);
    assert_int_equal(append_ended(nj[1], 3), 0);
    for (unsigned k = 0; k < NEW; k++)
        assert_int_equal(journal_close(nj[k]), 0);
    assert_int_equal(count_files(dir, ".snap"), NEW);
    assert_int_equal(count_files(dir, ".log"), NEW);
    assert_int_equal(journal_load(dir, NULL, &set, &err), 0);
    assert_int_equal(journal_set_count(set), NB - NB / 4 - 1);
    assert_true(battle_matches(journal_set_find(set, 1), 1, 2));
    assert_null(journal_set_find(set, 3));
    assert_int_equal(journal_set_stats(set).replaced, 0);
    journal_set_free(set);
    rm_rf(dir);
}

/* Bad arguments are refused with nothing queued. */
static void test_append_validation(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    journal_opts o = {.dir = dir, .policy = JOURNAL_SYNC_NO};
    journal *j;
    journal_error err;
    assert_int_equal(journal_open(&o, NULL, 0, &j, &err), 0);
    static const uint8_t bad[] = {0x92, 0x01};
    assert_int_equal(journal_append(j, JOURNAL_REC_ACTION, 1, 1, bad, sizeof bad), -EINVAL);
    assert_int_equal(journal_append(j, JOURNAL_REC_ACTION, 1, 1, NULL, 0), -EINVAL);
    assert_int_equal(journal_append(j, (journal_rec_type)9, 1, 1, "\xc0", 1), -EINVAL);
    uint8_t *big = calloc(1, JOURNAL_PAYLOAD_MAX + 8);
    big[0] = 0xc6; /* bin32 of PAYLOAD_MAX + 3 bytes: one object, too big */
    big[1] = 0;
    big[2] = 1;
    big[3] = 0;
    big[4] = 0;
    assert_int_equal(journal_append(j, JOURNAL_REC_CREATED, 1, 0, big, JOURNAL_PAYLOAD_MAX + 5),
                     -EMSGSIZE);
    /* The largest payload goes through and comes back. */
    big[0] = 0xc6;
    uint32_t bl = JOURNAL_PAYLOAD_MAX - 5;
    big[1] = (uint8_t)(bl >> 24);
    big[2] = (uint8_t)(bl >> 16);
    big[3] = (uint8_t)(bl >> 8);
    big[4] = (uint8_t)bl;
    assert_int_equal(journal_append(j, JOURNAL_REC_CREATED, 1, 0, big, JOURNAL_PAYLOAD_MAX), 0);
    assert_int_equal(journal_get_stats(j).records, 1);
    assert_int_equal(journal_close(j), 0);
    journal_set *set;
    assert_int_equal(journal_load(dir, NULL, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 1);
    assert_int_equal(journal_set_battle(set, 0)->created.payload_len, JOURNAL_PAYLOAD_MAX);
    journal_set_free(set);
    free(big);
    assert_int_equal(journal_sync_policy_parse("everysec", &o.policy), 0);
    assert_int_equal(o.policy, JOURNAL_SYNC_EVERYSEC);
    assert_int_equal(journal_sync_policy_parse("sometimes", &o.policy), -1);
    assert_string_equal(journal_sync_policy_name(JOURNAL_SYNC_ALWAYS), "always");
    rm_rf(dir);
}

/* Two processes never share a journal directory. */
static void test_dir_lock(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof dir);
    const store_backend *be = store_backend_find("file");
    assert_ptr_equal(be, &store_file_backend);
    assert_null(store_backend_find("nope"));
    store_lock *l, *l2;
    assert_int_equal(be->lock(dir, &l), 0);
    assert_int_equal(be->lock(dir, &l2), -EWOULDBLOCK);
    be->unlock(l);
    assert_int_equal(be->lock(dir, &l2), 0);
    be->unlock(l2);
    /* The LOCK file is no journal file: loading ignores it. */
    journal_set *set;
    journal_error err;
    assert_int_equal(journal_load(dir, NULL, &set, &err), 0);
    assert_int_equal(journal_set_count(set), 0);
    journal_set_free(set);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_values),
        cmocka_unit_test(test_msgpack_validation),
        cmocka_unit_test(test_record_layout),
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_empty_and_missing_dir),
        cmocka_unit_test(test_torn_tail_every_offset),
        cmocka_unit_test(test_corrupt_middle),
        cmocka_unit_test(test_sequence_rules),
        cmocka_unit_test(test_snapshot_tail_is_damage),
        cmocka_unit_test(test_several_shards_and_reshard),
        cmocka_unit_test(test_append_validation),
        cmocka_unit_test(test_dir_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
