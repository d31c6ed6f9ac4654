/* Unit tests of the network thread's pure pieces: the rate-limit bucket, the lobby queues, the
 * connection table, the pooled output queue, and cluster routing's battle-id tags. None of them needs a socket or a clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/conntab.h"
#include "util/log.h"
#include "net/fdlimit.h"
#include "net/idtag.h"
#include "net/lobby.h"
#include "net/outq.h"
#include "net/ratelimit.h"

/* ---- rate limit ---------------------------------------------------------------------------- */

static void test_ratelimit_burst_then_sustained(void **state)
{
    (void)state;
    ratelimit_cfg cfg = {.per_sec = 2, .burst = 4, .abuse_refusals = 0};
    ratelimit_bucket b;
    ratelimit_init(&b, &cfg, 1000);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ratelimit_take(&b, &cfg, 1000), RATELIMIT_OK);
    assert_int_equal(ratelimit_take(&b, &cfg, 1000), RATELIMIT_REFUSED);
    /* 2 per second: one token after 500 ms, not before. */
    assert_int_equal(ratelimit_take(&b, &cfg, 1499), RATELIMIT_REFUSED);
    assert_int_equal(ratelimit_take(&b, &cfg, 1500), RATELIMIT_OK);
    assert_int_equal(ratelimit_take(&b, &cfg, 1500), RATELIMIT_REFUSED);
    /* A long pause refills only up to the burst. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(ratelimit_take(&b, &cfg, 100000), RATELIMIT_OK);
    assert_int_equal(ratelimit_take(&b, &cfg, 100000), RATELIMIT_REFUSED);
}

static void test_ratelimit_off(void **state)
{
    (void)state;
    ratelimit_cfg cfg = {.per_sec = 0, .burst = 4, .abuse_refusals = 1};
    ratelimit_bucket b;
    ratelimit_init(&b, &cfg, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(ratelimit_take(&b, &cfg, 0), RATELIMIT_OK);
}

static void test_ratelimit_abuse_window(void **state)
{
    (void)state;
    ratelimit_cfg cfg = {.per_sec = 1, .burst = 1, .abuse_refusals = 3};
    ratelimit_bucket b;
    ratelimit_init(&b, &cfg, 0);
    assert_int_equal(ratelimit_take(&b, &cfg, 0), RATELIMIT_OK);
    assert_int_equal(ratelimit_take(&b, &cfg, 10), RATELIMIT_REFUSED);
    assert_int_equal(ratelimit_take(&b, &cfg, 20), RATELIMIT_REFUSED);
    /* Refusals in an old window are forgotten. */
    assert_int_equal(ratelimit_take(&b, &cfg, 20000), RATELIMIT_OK);
    assert_int_equal(ratelimit_take(&b, &cfg, 20001), RATELIMIT_REFUSED);
    assert_int_equal(ratelimit_take(&b, &cfg, 20002), RATELIMIT_REFUSED);
    assert_int_equal(ratelimit_take(&b, &cfg, 20003), RATELIMIT_DISCONNECT);
}

/* ---- lobby -------------------------------------------------------------------------------- */

static void test_lobby_fifo_by_band(void **state)
{
    (void)state;
    lobby l;
    lobby_init(&l);
    lobby_entry *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL;
    lobby_player a, b;
    assert_int_equal(lobby_queue(&l, 1, &c1, 2, "scout", true, 11, 100, &a, &b), LOBBY_QUEUED);
    assert_int_equal(lobby_queue(&l, 2, &c2, 3, "scout", true, 12, 110, &a, &b), LOBBY_QUEUED);
    assert_int_equal(lobby_queue(&l, 3, &c3, 2, "free_trader", true, 13, 120, &a, &b), LOBBY_MATCHED);
    /* conn 3 met conn 1 (same band, first come), not conn 2 (other band). */
    assert_int_equal(a.conn, 1);
    assert_int_equal(a.rid, 11);
    assert_string_equal(a.ship, "scout");
    assert_int_equal(a.waited_ms, 20);
    assert_int_equal(b.conn, 3);
    assert_string_equal(b.ship, "free_trader");
    assert_null(c1);
    assert_null(c3);
    assert_int_equal(lobby_waiting(&l, 2), 0);
    assert_int_equal(lobby_waiting(&l, 3), 1);
    assert_int_equal(lobby_queue(&l, 4, &c4, 3, "seeker", true, 14, 130, &a, &b), LOBBY_MATCHED);
    assert_int_equal(a.conn, 2);
    assert_int_equal(b.conn, 4);
    assert_int_equal(l.matches, 2);
    lobby_destroy(&l);
}

/* Tickets (cluster matchmaking): every entry gets a new one; an entry is found by band and ticket
 * while it waits, and the one who waited carries its ticket into the match. */
static void test_lobby_tickets(void **state)
{
    (void)state;
    lobby l;
    lobby_init(&l);
    lobby_entry *c1 = NULL, *c2 = NULL;
    lobby_player a, b;
    assert_int_equal(lobby_queue(&l, 1, &c1, 3, "scout", false, 0, 100, &a, &b), LOBBY_QUEUED);
    uint64_t t1 = c1->ticket;
    assert_int_equal(lobby_queue(&l, 1, &c1, 3, "scout", false, 0, 101, &a, &b), LOBBY_QUEUED);
    uint64_t t2 = c1->ticket;
    assert_true(t1 != 0 && t2 != t1);
    assert_ptr_equal(lobby_find_ticket(&l, 3, t2), c1);
    assert_non_null(lobby_find_ticket(&l, 3, t1));
    assert_null(lobby_find_ticket(&l, 2, t1)); /* another band */
    assert_null(lobby_find_ticket(&l, LOBBY_BANDS, t1));
    assert_int_equal(lobby_queue(&l, 2, &c2, 3, "scout", false, 0, 110, &a, &b), LOBBY_MATCHED);
    assert_true(a.ticket == t1 && b.ticket == 0); /* the oldest waited */
    assert_null(lobby_find_ticket(&l, 3, t1));
    lobby_remove(&l, lobby_find_ticket(&l, 3, t2));
    assert_null(lobby_find_ticket(&l, 3, t2));
    assert_int_equal(lobby_waiting(&l, 3), 0);
    lobby_destroy(&l);
}

/* Idempotency keys: the entry and both players carry theirs; a connection finds its own keyed
 * entry; a match is found by either key until LOBBY_KEY_KEEP_MS has passed. */
static void test_lobby_keys(void **state)
{
    (void)state;
    lobby l;
    lobby_init(&l);
    lobby_entry *c1 = NULL, *c2 = NULL;
    lobby_player a, b;
    uint8_t k1[LOBBY_KEY_LEN], k2[LOBBY_KEY_LEN], none[LOBBY_KEY_LEN] = {0};
    memset(k1, 0x11, sizeof k1);
    memset(k2, 0x22, sizeof k2);
    assert_int_equal(lobby_queue_keyed(&l, 1, &c1, 2, "scout", false, 0, k1, 100, &a, &b),
                     LOBBY_QUEUED);
    assert_ptr_equal(lobby_find_queued(c1, k1), c1);
    assert_null(lobby_find_queued(c1, k2));
    assert_null(lobby_find_queued(c1, none));
    assert_null(lobby_find_queued(c2, k1)); /* another connection's entry is not found */
    assert_int_equal(lobby_queue_keyed(&l, 2, &c2, 2, "scout", false, 0, k2, 110, &a, &b),
                     LOBBY_MATCHED);
    assert_true(a.has_key && b.has_key);
    assert_memory_equal(a.key, k1, LOBBY_KEY_LEN);
    assert_memory_equal(b.key, k2, LOBBY_KEY_LEN);
    uint64_t bid;
    uint8_t seat;
    assert_false(lobby_key_find(&l, k1, 110, &bid, &seat)); /* nothing remembered yet */
    lobby_key_remember(&l, a.key, 77, 0, 110);
    lobby_key_remember(&l, b.key, 77, 1, 110);
    lobby_key_remember(&l, none, 78, 0, 110); /* no key: nothing */
    assert_true(lobby_key_find(&l, k2, 110 + LOBBY_KEY_KEEP_MS, &bid, &seat));
    assert_int_equal(bid, 77);
    assert_int_equal(seat, 1);
    assert_true(lobby_key_find(&l, k1, 200, &bid, &seat));
    assert_int_equal(seat, 0);
    assert_false(lobby_key_find(&l, none, 200, &bid, &seat));
    assert_false(lobby_key_find(&l, k1, 111 + LOBBY_KEY_KEEP_MS, &bid, &seat)); /* expired */
    /* an unkeyed queue carries no key */
    assert_int_equal(lobby_queue(&l, 3, &c1, 4, "scout", false, 0, 300, &a, &b), LOBBY_QUEUED);
    assert_false(c1->has_key);
    lobby_destroy(&l);
}

static void test_lobby_arrival_order_not_conn_order(void **state)
{
    (void)state;
    lobby l;
    lobby_init(&l);
    lobby_entry *lists[4] = {0};
    lobby_player a, b;
    /* Connection 9 (newest) queues first; connection 1 second; 5 third: 5 meets 9. */
    assert_int_equal(lobby_queue(&l, 9, &lists[0], 0, "scout", true, 0, 0, &a, &b), LOBBY_QUEUED);
    assert_int_equal(lobby_queue(&l, 1, &lists[1], 0, "scout", true, 0, 1, &a, &b), LOBBY_MATCHED);
    assert_int_equal(a.conn, 9);
    assert_int_equal(lobby_queue(&l, 5, &lists[2], 0, "scout", true, 0, 2, &a, &b), LOBBY_QUEUED);
    assert_int_equal(lobby_waiting(&l, 0), 1);
    lobby_destroy(&l);
}

static void test_lobby_never_self_and_cancel(void **state)
{
    (void)state;
    lobby l;
    lobby_init(&l);
    lobby_entry *c1 = NULL, *c2 = NULL;
    lobby_player a, b;
    assert_int_equal(lobby_queue(&l, 1, &c1, 4, "scout", true, 1, 0, &a, &b), LOBBY_QUEUED);
    assert_int_equal(lobby_queue(&l, 1, &c1, 4, "scout", true, 2, 0, &a, &b), LOBBY_QUEUED);
    assert_int_equal(lobby_waiting(&l, 4), 2);
    assert_int_equal(lobby_queue(&l, 2, &c2, 4, "scout", true, 3, 0, &a, &b), LOBBY_MATCHED);
    assert_int_equal(a.conn, 1);
    assert_int_equal(a.rid, 1);
    assert_non_null(c1);
    assert_int_equal(lobby_cancel(&l, &c1), 1);
    assert_null(c1);
    assert_int_equal(lobby_waiting(&l, 4), 0);
    assert_int_equal(lobby_cancel(&l, &c1), 0);
    /* Bad inputs change nothing. */
    assert_int_equal(lobby_queue(&l, 3, &c2, LOBBY_BANDS, "scout", true, 0, 0, &a, &b), LOBBY_EBAND);
    assert_int_equal(lobby_queue(&l, 3, &c2, 0, "a_ship_key_that_is_far_too_long_xx", true, 0, 0, &a, &b),
                     LOBBY_ESHIP);
    assert_null(c2);
    lobby_destroy(&l);
}

static void test_lobby_many_entries_reuse_pool(void **state)
{
    (void)state;
    lobby l;
    lobby_init(&l);
    lobby_entry *mine = NULL, *other = NULL;
    lobby_player a, b;
    /* One connection with many waiting seats (a gateway): they span several pool blocks, never pair
     * with each other, and another connection takes them oldest first. */
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < 3 * LOBBY_BLOCK; i++)
            assert_int_equal(lobby_queue(&l, 7, &mine, 1, "scout", true, i, i, &a, &b), LOBBY_QUEUED);
        assert_int_equal(lobby_waiting(&l, 1), 3 * LOBBY_BLOCK);
        for (uint32_t i = 0; i < 10; i++) {
            assert_int_equal(lobby_queue(&l, 8, &other, 1, "seeker", true, 0, 5000, &a, &b), LOBBY_MATCHED);
            assert_int_equal(a.conn, 7);
            assert_int_equal(a.rid, i);
        }
        assert_int_equal(lobby_cancel(&l, &mine), 3 * LOBBY_BLOCK - 10);
        assert_int_equal(lobby_waiting(&l, 1), 0);
    }
    lobby_destroy(&l);
}

/* ---- conntab ------------------------------------------------------------------------------ */

static void test_conntab_generations(void **state)
{
    (void)state;
    conntab t;
    assert_int_equal(conntab_init(&t, 3), 0);
    int x, y, z, w;
    conn_id a = conntab_add(&t, &x), b = conntab_add(&t, &y), c = conntab_add(&t, &z);
    assert_true(a && b && c);
    assert_int_equal(conntab_add(&t, &w), 0); /* full */
    assert_ptr_equal(conntab_get(&t, b), &y);
    conntab_remove(&t, b);
    assert_null(conntab_get(&t, b));
    conn_id d = conntab_add(&t, &w);
    assert_int_equal(conntab_slot(d), conntab_slot(b)); /* slot reused ... */
    assert_int_not_equal(d, b);                         /* ... under a new generation */
    assert_null(conntab_get(&t, b));
    assert_ptr_equal(conntab_get(&t, d), &w);
    assert_null(conntab_get(&t, 0));
    assert_null(conntab_get(&t, (conn_id)1000 | (conn_id)1 << 32));
    conntab_remove(&t, b); /* a stale id removes nothing */
    assert_ptr_equal(conntab_get(&t, d), &w);
    conntab_destroy(&t);
}

static void test_conntab_grows(void **state)
{
    (void)state;
    conntab t;
    assert_int_equal(conntab_init(&t, 5000), 0);
    static int objs[5000];
    static conn_id ids[5000];
    for (int i = 0; i < 5000; i++) {
        ids[i] = conntab_add(&t, &objs[i]);
        assert_int_not_equal(ids[i], 0);
    }
    assert_int_equal(conntab_add(&t, &objs[0]), 0);
    for (int i = 0; i < 5000; i++)
        assert_ptr_equal(conntab_get(&t, ids[i]), &objs[i]);
    conntab_destroy(&t);
}

/* ---- outq --------------------------------------------------------------------------------- */

static void drain_check(outq *q, outq_pool *p, const unsigned char *expect, size_t len, size_t step)
{
    size_t off = 0;
    while (q->bytes) {
        uv_buf_t bufs[8];
        unsigned n = outq_bufs(q, bufs, 8);
        assert_true(n > 0);
        size_t take = bufs[0].len < step ? bufs[0].len : step;
        assert_memory_equal(bufs[0].base, expect + off, take);
        outq_consume(q, p, take);
        off += take;
    }
    assert_int_equal(off, len);
}

static void test_outq_order_and_pool(void **state)
{
    (void)state;
    outq_pool p;
    outq_pool_init(&p, 4);
    outq q;
    outq_init(&q);
    static unsigned char data[20000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    /* Appends of odd sizes across chunk edges, read back in odd steps. */
    size_t off = 0, sizes[] = {1, 300, 4000, 4093, 17, 9000, 2589};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_int_equal(outq_append(&q, &p, data + off, sizes[i]), 0);
        off += sizes[i];
    }
    assert_int_equal(off, sizeof data);
    assert_int_equal(q.bytes, sizeof data);
    drain_check(&q, &p, data, sizeof data, 777);
    assert_null(q.head);
    /* Emptied chunks went back to the pool, capped at keep_max. */
    assert_int_equal(p.nspare, 4);
    assert_int_equal(p.allocated, 4);
    /* Reuse: a small append takes a spare chunk, no new allocation. */
    assert_int_equal(outq_append(&q, &p, "abc", 3), 0);
    assert_int_equal(p.allocated, 4);
    outq_clear(&q, &p);
    assert_int_equal(q.bytes, 0);
    outq_pool_destroy(&p);
    assert_int_equal(p.allocated, 0);
}

static void test_outq_append_behind_inflight(void **state)
{
    (void)state;
    outq_pool p;
    outq_pool_init(&p, 8);
    outq q;
    outq_init(&q);
    assert_int_equal(outq_append(&q, &p, "hello ", 6), 0);
    uv_buf_t bufs[4];
    assert_int_equal(outq_bufs(&q, bufs, 4), 1);
    char *inflight = bufs[0].base;
    assert_int_equal(outq_append(&q, &p, "world", 5), 0);
    assert_memory_equal(inflight, "hello ", 6); /* bytes under a pending write stay put */
    outq_consume(&q, &p, 6);
    assert_int_equal(outq_bufs(&q, bufs, 4), 1);
    assert_int_equal(bufs[0].len, 5);
    assert_memory_equal(bufs[0].base, "world", 5);
    outq_clear(&q, &p);
    outq_pool_destroy(&p);
}

/* ---- fdlimit ---- */

static void test_fdlimit_cap_for(void **state)
{
    (void)state;
    assert_int_equal(fdlimit_cap_for(1048576, 300, 100000), 100000);   /* fits: kept */
    assert_int_equal(fdlimit_cap_for(20000, 300, 100000), 19700);      /* lowered to the room */
    assert_int_equal(fdlimit_cap_for(UINT64_MAX, 300, 100000), 100000); /* unlimited */
    assert_int_equal(fdlimit_cap_for(300 + FDLIMIT_MIN_CONNS, 300, 100000), FDLIMIT_MIN_CONNS);
    assert_int_equal(fdlimit_cap_for(300 + FDLIMIT_MIN_CONNS - 1, 300, 100000), -1); /* too low */
    assert_int_equal(fdlimit_cap_for(100, 300, 10), -1);
    assert_true(FDLIMIT_RESERVE(4) > FDLIMIT_RESERVE(1));
}

/* Every accept failure is counted by errno; the log gets the first at once and then at most one
 * line per FDLIMIT_LOG_MS, saying how many it left out. */
static void test_fdlimit_accept_failures(void **state)
{
    (void)state;
    static fdlimit f;
    memset(&f, 0, sizeof f);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    log_set_fd(fileno(tmp));
    for (int i = 0; i < 1000; i++)
        fdlimit_accept_failed(&f, FDLIMIT_L_GAME, UV_EMFILE, 5000 + (uint64_t)i);
    fdlimit_accept_failed(&f, FDLIMIT_L_GAME, UV_ENFILE, 6000);
    fdlimit_accept_failed(&f, FDLIMIT_L_ADMIN, UV_ENOMEM, 6000);   /* its own rate: logged */
    fdlimit_accept_failed(&f, FDLIMIT_L_GAME, UV_EINVAL, 5000 + FDLIMIT_LOG_MS); /* next period */
    log_set_fd(2);
    assert_int_equal(f.accept_failures[FDLIMIT_L_GAME][FDLIMIT_E_EMFILE], 1000);
    assert_int_equal(f.accept_failures[FDLIMIT_L_GAME][FDLIMIT_E_ENFILE], 1);
    assert_int_equal(f.accept_failures[FDLIMIT_L_GAME][FDLIMIT_E_OTHER], 1);
    assert_int_equal(f.accept_failures[FDLIMIT_L_ADMIN][FDLIMIT_E_ENOBUFS], 1);
    char buf[4096];
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    int lines = 0;
    for (const char *p = buf; (p = strstr(p, "accept failed")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 3);
    assert_non_null(strstr(buf, "suppressed_since_last=1000")); /* 999 EMFILE + 1 ENFILE */
    /* and on /metrics, one sample per listener and errno */
    prom_out o;
    prom_out_init(&o, 0);
    fdlimit_metrics(&f, &o);
    assert_true(prom_out_ok(&o));
    assert_non_null(strstr(o.buf, "battled_accept_failures_total{listener=\"game\",errno=\"EMFILE\"} 1000\n"));
    assert_non_null(strstr(o.buf, "battled_accept_failures_total{listener=\"admin\",errno=\"ENOBUFS\"} 1\n"));
    prom_out_free(&o);
}

/* ---- cluster: battle-id tags and the moved decision (net/idtag) ---------------------------- */

static void test_idtag_ids(void **state)
{
    (void)state;
    /* single node: 63 random bits, unchanged */
    assert_int_equal(idtag_apply(UINT64_MAX, 0), (uint64_t)INT64_MAX);
    assert_int_equal(idtag_apply(0x1234, 0), 0x1234);
    assert_int_equal(idtag_apply(UINT64_C(1) << 63, 0), 0); /* the caller draws again */
    /* cluster: bits 0..46 random, 47..62 the incarnation, never 0, always within 1..2^63-1 */
    for (unsigned inc = 1; inc <= 65535; inc += 4369) {
        uint64_t tag = (uint64_t)inc << IDTAG_SHIFT;
        uint64_t raws[] = {0, UINT64_MAX, 0x5555555555555555ull, UINT64_C(1) << 47, 1};
        for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
            uint64_t id = idtag_apply(raws[i], tag);
            assert_true(id >= 1 && id <= (uint64_t)INT64_MAX);
            assert_int_equal(idtag_of(id), inc);
            assert_int_equal(id & IDTAG_RANDOM_MASK, raws[i] & IDTAG_RANDOM_MASK);
        }
    }
    assert_int_equal(idtag_of((uint64_t)INT64_MAX), 65535);
}

/* A fake cluster layer: battles of incarnation 7 are held by node "b"; 9 by one without a
 * WebSocket port; 3 answers with an address `moved` cannot carry; 5 is served here (adopted). */
static int locate_calls;
static bool fake_locate(void *arg, uint64_t bid, bool tls, char addr[65], char ws[65])
{
    (void)arg;
    locate_calls++;
    switch (idtag_of(bid)) {
    case 7: /* a holder with both transports: the asker's kind is named */
        strcpy(addr, tls ? "10.0.0.2:7443" : "10.0.0.2:7400");
        strcpy(ws, tls ? "10.0.0.2:7444" : "10.0.0.2:7480");
        return false;
    case 9:
        strcpy(addr, "node-9.example:7400");
        ws[0] = '\0';
        return false;
    case 3: /* the holder died; a takeover is under way */
        addr[0] = '\0';
        return false;
    case 6: /* an address moved cannot carry */
        strcpy(addr, "bad\001" "addr:1");
        ws[0] = '\0';
        return false;
    case 4: /* a hook that fills all 65 bytes: the bound is kept */
        memset(addr, 'a', 65);
        memset(ws, 'w', 65);
        return false;
    default:
        return true;
    }
}

static void test_idtag_route(void **state)
{
    (void)state;
    const uint64_t tag = (uint64_t)2 << IDTAG_SHIFT;
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_JOIN;
    r.has_rid = true;
    r.rid = 41;
    proto_event ev;
    /* no hook (single node): everything routed here, whatever incarnation the id carries */
    r.bid = ((uint64_t)7 << IDTAG_SHIFT) | 99;
    locate_calls = 0;
    assert_true(idtag_route_here(NULL, NULL, false, &r, &ev));
    /* our own tag: the hook is asked too (a node that cannot confirm it still holds its battles
     * serves none of them) and here says "served here" */
    r.bid = tag | 99;
    assert_true(idtag_route_here(fake_locate, NULL, false, &r, &ev));
    assert_int_equal(locate_calls, 1);
    locate_calls = 0;
    /* held elsewhere: moved with rid, bid and both addresses */
    r.bid = ((uint64_t)7 << IDTAG_SHIFT) | 99;
    memset(&ev, 0xee, sizeof ev);
    assert_false(idtag_route_here(fake_locate, NULL, false, &r, &ev));
    assert_int_equal(locate_calls, 1);
    assert_int_equal(ev.type, PROTO_T_MOVED);
    assert_true(ev.has_rid);
    assert_int_equal(ev.rid, 41);
    assert_int_equal(ev.bid, r.bid);
    assert_string_equal(ev.u.moved.addr, "10.0.0.2:7400");
    assert_string_equal(ev.u.moved.ws, "10.0.0.2:7480");
    /* asked over TLS: the holder's TLS addresses */
    assert_false(idtag_route_here(fake_locate, NULL, true, &r, &ev));
    assert_string_equal(ev.u.moved.addr, "10.0.0.2:7443");
    assert_string_equal(ev.u.moved.ws, "10.0.0.2:7444");
    /* no rid on the request: none on the reply */
    r.has_rid = false;
    r.rid = 0;
    r.bid = ((uint64_t)9 << IDTAG_SHIFT) | 1;
    assert_false(idtag_route_here(fake_locate, NULL, false, &r, &ev));
    assert_false(ev.has_rid);
    assert_string_equal(ev.u.moved.ws, "");
    /* no address (the holder died, being taken over): server_busy, worth a retry */
    r.bid = ((uint64_t)3 << IDTAG_SHIFT) | 1;
    assert_false(idtag_route_here(fake_locate, NULL, false, &r, &ev));
    assert_int_equal(ev.type, PROTO_T_ERROR);
    assert_int_equal(ev.u.error.code, PROTO_E_SERVER_BUSY);
    assert_int_equal(ev.bid, r.bid);
    /* an answer moved cannot carry is taken as "served here" */
    r.bid = ((uint64_t)6 << IDTAG_SHIFT) | 1;
    assert_true(idtag_route_here(fake_locate, NULL, false, &r, &ev));
    /* an over-long answer is cut at the bound and still sent */
    r.bid = ((uint64_t)4 << IDTAG_SHIFT) | 1;
    assert_false(idtag_route_here(fake_locate, NULL, false, &r, &ev));
    assert_int_equal(strlen(ev.u.moved.addr), 64);
    assert_int_equal(strlen(ev.u.moved.ws), 64);
    /* served here (e.g. adopted from a dead node) */
    r.bid = ((uint64_t)5 << IDTAG_SHIFT) | 1;
    assert_true(idtag_route_here(fake_locate, NULL, false, &r, &ev));
    /* a single-node id (tag 0 bits, e.g. from before the cluster) on a cluster node asks the hook */
    r.bid = 12345;
    locate_calls = 0;
    assert_true(idtag_route_here(fake_locate, NULL, false, &r, &ev));
    assert_int_equal(locate_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fdlimit_cap_for),
        cmocka_unit_test(test_fdlimit_accept_failures),
        cmocka_unit_test(test_ratelimit_burst_then_sustained),
        cmocka_unit_test(test_ratelimit_off),
        cmocka_unit_test(test_ratelimit_abuse_window),
        cmocka_unit_test(test_lobby_fifo_by_band),
        cmocka_unit_test(test_lobby_keys),
        cmocka_unit_test(test_lobby_tickets),
        cmocka_unit_test(test_lobby_arrival_order_not_conn_order),
        cmocka_unit_test(test_lobby_never_self_and_cancel),
        cmocka_unit_test(test_lobby_many_entries_reuse_pool),
        cmocka_unit_test(test_conntab_generations),
        cmocka_unit_test(test_conntab_grows),
        cmocka_unit_test(test_outq_order_and_pool),
        cmocka_unit_test(test_outq_append_behind_inflight),
        cmocka_unit_test(test_idtag_ids),
        cmocka_unit_test(test_idtag_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
