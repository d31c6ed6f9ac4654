/* Matchmaking across nodes with the real battled: three cluster nodes on one redis-server (started
 * by the test on a free loopback port), cluster.match_delay_ms = 200, and a fourth that does not
 * match across nodes.
 *   - two players queueing in one band on different nodes are matched: the later one is answered
 *     `moved` (no bid, its queue's rid) naming the node where the other waits, follows it with
 *     pc_follow (the same queue again there) and both get `started` in one battle of that node;
 *   - three players queueing one after another on three nodes: the first two are matched, the
 *     third keeps waiting; once it cancels, its offer is withdrawn (the next player waits too);
 *   - a player sent to a node whose player left meanwhile waits there, and is matched from there;
 *   - two players of one node are matched there at once, and nothing is offered in Redis;
 *   - entries of nodes that are not alive are removed from a band's list by the next offer;
 *   - a node with cluster.match = false matches its own players only. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/cluster/cl_view.h"
#include "tests/cluster/redis_harness.h"
#include "tests/integration/itest.h"

#define NODES 4 /* m0..m2 match across nodes; m3 has cluster.match = false */
#define OFFER_MS 10000 /* for an entry to be offered in Redis (match_delay_ms is 200) */

static rh_server g_redis;

typedef struct node {
    itest_server s;
    uint16_t admin;
    char name[16];
    char portfile[96];
} node;

static node g_n[NODES];

/* Starts node i as cluster node "m<i>" (no journal: matchmaking needs none). */
static void node_start(int i)
{
    node *n = &g_n[i];
    static char set_file[NODES][160], set_node[NODES][64], set_redis[NODES][96];
    snprintf(n->name, sizeof n->name, "m%d", i);
    snprintf(n->portfile, sizeof n->portfile, "/tmp/battled-clm-admin-%d-%d.port", (int)getpid(), i);
    unlink(n->portfile);
    snprintf(set_file[i], sizeof set_file[i], "admin.port_file=%s", n->portfile);
    snprintf(set_node[i], sizeof set_node[i], "cluster.node=%s", n->name);
    snprintf(set_redis[i], sizeof set_redis[i], "persistence.redis_address=%s", g_redis.address);
    const char *sets[] = {"admin.listen=127.0.0.1:0", set_file[i], set_redis[i],
                          "persistence.enabled=false", "cluster.enabled=true", set_node[i],
                          "cluster.heartbeat_ms=200", "cluster.ttl_ms=1000",
                          "cluster.match_delay_ms=200", "game.turn_timer_ms=60000",
                          "server.max_conns_per_addr=0", "server.max_handshakes_per_addr=0",
                          i == 3 ? "cluster.match=false" : NULL, NULL};
    assert_true(itest_start(&n->s, sets));
    n->admin = itest_admin_port(n->portfile);
    unlink(n->portfile);
}

static int cluster_up(void **state)
{
    (void)state;
    g_redis.aof = false;
    if (!rh_start(&g_redis))
        return -1;
    for (int i = 0; i < NODES; i++)
        node_start(i);
    uint16_t ports[NODES];
    for (int i = 0; i < NODES; i++)
        ports[i] = g_n[i].admin;
    return cl_wait_formed(ports, NODES, NODES, 10000) ? 0 : -1;
}

static int cluster_down(void **state)
{
    (void)state;
    for (int i = 0; i < NODES; i++) {
        if (g_n[i].s.pid && !g_n[i].s.exited)
            itest_stop(&g_n[i].s, SIGKILL, 5000);
        if (g_n[i].s.pid)
            itest_cleanup(&g_n[i].s);
        memset(&g_n[i], 0, sizeof g_n[i]);
    }
    rh_stop(&g_redis);
    return 0;
}

/* One counter of node i's /metrics (-1: absent). */
static double metric_or_absent(int i, const char *name)
{
    static char page[256 * 1024];
    assert_int_equal(itest_http_get(g_n[i].admin, "/metrics", page, sizeof page), 200);
    return itest_metric(page, name);
}

/* One counter of node i's /metrics, which must be there. */
static double metric(int i, const char *name)
{
    double v = metric_or_absent(i, name);
    assert_true(v >= 0);
    return v;
}

/* Waits until node i's counter reaches want. */
static void wait_metric(int i, const char *name, double want)
{
    uint64_t end = itest_now_ms() + OFFER_MS;
    while (metric(i, name) < want) {
        if (itest_now_ms() > end)
            fail_msg("node %d: %s stayed below %g", i, name, want);
        usleep(20 * 1000);
    }
}

/* Queues on c (band, ship) and expects `queued`; returns the rid. */
static int queue_on(pc_conn *c, proto_band band)
{
    int rid = pc_queue(c, "scout", band);
    assert_true(rid > 0);
    proto_event ev;
    itest_expect(c, PROTO_T_QUEUED, &ev);
    assert_int_equal(ev.rid, rid);
    return rid;
}

/* Expects `moved` for the queue rid on c naming node `to`, follows it (the same queue there) and
 * returns the new connection, whose `started` is read into *started. */
static pc_conn *follow_queue(pc_conn *c, int rid, const node *to, proto_event *started)
{
    proto_event ev;
    itest_expect(c, PROTO_T_MOVED, &ev);
    assert_true(ev.has_rid);
    assert_int_equal(ev.rid, rid);
    assert_true(ev.bid == 0); /* a queue's moved carries no battle */
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%u", to->s.port);
    assert_string_equal(ev.u.moved.addr, want);
    pc_conn *n = pc_follow(c, &ev, ITEST_WAIT_MS, NULL);
    assert_non_null(n);
    itest_expect(n, PROTO_T_STARTED, started);
    assert_int_equal(started->rid, rid);
    return n;
}

/* Player x queues on node 0, y on node 1: y is sent to node 0 and both start one battle there. */
static void test_two_nodes_matched(void **state)
{
    (void)state;
    pc_conn *x = itest_client(&g_n[0].s, "x");
    pc_conn *y = itest_client(&g_n[1].s, "y");
    queue_on(x, PROTO_BAND_SHORT);
    wait_metric(0, "battled_cluster_queue_published_total", 1);
    int ry = queue_on(y, PROTO_BAND_SHORT);
    proto_event sy, sx;
    pc_conn *y2 = follow_queue(y, ry, &g_n[0], &sy);
    itest_expect(x, PROTO_T_STARTED, &sx);
    assert_true(sx.bid == sy.bid);
    assert_int_not_equal(sx.u.started.seat, sy.u.started.seat);
    assert_int_equal(metric(1, "battled_cluster_queue_matched_total"), 1);
    assert_int_equal(metric(1, "battled_queue_moved_total"), 1);
    assert_int_equal(metric(1, "battled_cluster_queue_published_total"), 0);
    assert_int_equal(metric(0, "battled_lobby_waiting"), 0);
    assert_int_equal(metric(1, "battled_lobby_waiting"), 0);
    /* the battle is node 0's and plays there */
    itest_player a, b;
    itest_player_init(&a, x);
    itest_take_started(&a, &sx);
    itest_player_init(&b, y2);
    itest_take_started(&b, &sy);
    itest_play(&a, &b, 60000);
    assert_true(a.t.ended && b.t.ended);
    pc_close(x);
    pc_close(y);
    pc_close(y2);
}

/* x on node 0, y on node 1, z on node 2, in that order: x and y are matched, z waits; z cancels,
 * which withdraws its offer: w, queueing on node 0 next, is offered rather than sent to node 2. */
static void test_first_come_first_served(void **state)
{
    (void)state;
    pc_conn *x = itest_client(&g_n[0].s, "x");
    pc_conn *y = itest_client(&g_n[1].s, "y");
    pc_conn *z = itest_client(&g_n[2].s, "z");
    queue_on(x, PROTO_BAND_MEDIUM);
    wait_metric(0, "battled_cluster_queue_published_total", 1);
    int ry = queue_on(y, PROTO_BAND_MEDIUM);
    wait_metric(1, "battled_cluster_queue_matched_total", 1); /* y took x's offer */
    queue_on(z, PROTO_BAND_MEDIUM);
    wait_metric(2, "battled_cluster_queue_published_total", 1); /* nobody else waits: z is offered */
    proto_event sy, sx;
    pc_conn *y2 = follow_queue(y, ry, &g_n[0], &sy);
    itest_expect(x, PROTO_T_STARTED, &sx);
    assert_true(sx.bid == sy.bid);
    itest_expect_silence(z, 300); /* z still waits */
    assert_int_equal(metric(2, "battled_lobby_waiting"), 1);
    assert_int_equal(metric(2, "battled_cluster_queue_matched_total"), 0);
    /* z cancels: its offer leaves Redis, so w (node 0) finds nobody and is offered itself */
    assert_true(pc_cancel(z) > 0);
    proto_event ev;
    itest_expect(z, PROTO_T_UNQUEUED, &ev);
    double before = metric(0, "battled_cluster_queue_published_total");
    pc_conn *w = itest_client(&g_n[0].s, "w");
    usleep(300 * 1000); /* the withdrawal is asynchronous (one round trip of node 2's thread) */
    queue_on(w, PROTO_BAND_MEDIUM);
    wait_metric(0, "battled_cluster_queue_published_total", before + 1);
    itest_expect_silence(w, 300);
    assert_int_equal(metric(0, "battled_cluster_queue_matched_total"), 0);
    assert_true(pc_cancel(w) > 0);
    itest_expect(w, PROTO_T_UNQUEUED, &ev);
    pc_close(w);
    pc_close(x);
    pc_close(y);
    pc_close(y2);
    pc_close(z);
}

/* y (node 1) is sent to x's node 0, but x leaves before y gets there: y then waits at node 0,
 * offered from there like any entry, and a newcomer on node 2 is sent to node 0 and matched. */
static void test_moved_player_waits_when_gone(void **state)
{
    (void)state;
    pc_conn *x = itest_client(&g_n[0].s, "x");
    pc_conn *y = itest_client(&g_n[1].s, "y");
    double pub0 = metric(0, "battled_cluster_queue_published_total");
    queue_on(x, PROTO_BAND_CLOSE);
    wait_metric(0, "battled_cluster_queue_published_total", pub0 + 1);
    int ry = queue_on(y, PROTO_BAND_CLOSE);
    proto_event ev;
    itest_expect(y, PROTO_T_MOVED, &ev);
    assert_int_equal(ev.rid, ry);
    pc_close(x); /* gone before y arrives */
    uint64_t end = itest_now_ms() + OFFER_MS;
    while (metric(0, "battled_lobby_waiting") != 0) {
        assert_true(itest_now_ms() < end);
        usleep(20 * 1000);
    }
    pc_conn *y2 = pc_follow(y, &ev, ITEST_WAIT_MS, NULL);
    assert_non_null(y2);
    itest_expect(y2, PROTO_T_QUEUED, &ev); /* nobody there: y waits at node 0 */
    assert_int_equal(ev.rid, ry);
    wait_metric(0, "battled_cluster_queue_published_total", pub0 + 2);
    pc_conn *z = itest_client(&g_n[2].s, "z");
    int rz = queue_on(z, PROTO_BAND_CLOSE);
    proto_event sz, sy;
    pc_conn *z2 = follow_queue(z, rz, &g_n[0], &sz);
    itest_expect(y2, PROTO_T_STARTED, &sy);
    assert_true(sy.bid == sz.bid);
    assert_int_equal(sy.u.started.seat, 0); /* y waited */
    pc_close(y);
    pc_close(y2);
    pc_close(z);
    pc_close(z2);
}

/* Two players of node 2 are matched there at once; nothing of theirs reaches Redis. */
static void test_lone_node_matches_locally(void **state)
{
    (void)state;
    double published = metric(2, "battled_cluster_queue_published_total");
    double matched = metric(2, "battled_cluster_queue_matched_total");
    pc_conn *p = itest_client(&g_n[2].s, "p");
    pc_conn *q = itest_client(&g_n[2].s, "q");
    queue_on(p, PROTO_BAND_LONG);
    int rq = pc_queue(q, "scout", PROTO_BAND_LONG);
    assert_true(rq > 0);
    proto_event sp, sq;
    itest_expect(q, PROTO_T_STARTED, &sq);
    assert_int_equal(sq.rid, rq);
    itest_expect(p, PROTO_T_STARTED, &sp);
    assert_true(sp.bid == sq.bid);
    usleep(500 * 1000); /* past match_delay_ms: had anything been left waiting, it would be offered */
    assert_int_equal(metric(2, "battled_cluster_queue_published_total"), published);
    assert_int_equal(metric(2, "battled_cluster_queue_matched_total"), matched);
    assert_int_equal(metric(2, "battled_cluster_queue_errors_total"), 0);
    pc_close(p);
    pc_close(q);
}

/* cluster.match = false (node 3): its players are matched on it only, never offered or moved, and
 * a player elsewhere is not sent to it. */
static void test_match_off(void **state)
{
    (void)state;
    pc_conn *p = itest_client(&g_n[3].s, "p");
    pc_conn *q = itest_client(&g_n[0].s, "q");
    double pub0 = metric(0, "battled_cluster_queue_published_total");
    queue_on(p, PROTO_BAND_ADJACENT);
    queue_on(q, PROTO_BAND_ADJACENT);
    wait_metric(0, "battled_cluster_queue_published_total", pub0 + 1); /* q is offered */
    itest_expect_silence(p, 500); /* nobody takes q's offer for p, p is not offered */
    itest_expect_silence(q, 10);
    assert_true(metric_or_absent(3, "battled_cluster_queue_published_total") < 0);
    assert_int_equal(metric(3, "battled_queue_moved_total"), 0);
    /* a second player of node 3 is matched there, at once */
    pc_conn *r = itest_client(&g_n[3].s, "r");
    assert_true(pc_queue(r, "scout", PROTO_BAND_ADJACENT) > 0);
    proto_event sr, sp;
    itest_expect(r, PROTO_T_STARTED, &sr);
    itest_expect(p, PROTO_T_STARTED, &sp);
    assert_true(sr.bid == sp.bid);
    assert_true(pc_cancel(q) > 0);
    itest_expect(q, PROTO_T_UNQUEUED, &sr);
    pc_close(p);
    pc_close(q);
    pc_close(r);
}

/* The length of a band's list in Redis, and its first entry into first (cap bytes). */
static long long band_list(redisContext *rc, int band, char *first, size_t cap)
{
    redisReply *r = redisCommand(rc, "LRANGE battled:cluster:queue:%d 0 -1", band);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long n = (long long)r->elements;
    snprintf(first, cap, "%s", n ? r->element[0]->str : "");
    freeReplyObject(r);
    return n;
}

/* Entries of a node that is not alive (and one that is not an entry at all) are removed when a
 * live node offers its own; its cancel withdraws it. */
static void test_stale_entries_removed(void **state)
{
    (void)state;
    redisContext *rc = rh_connect(&g_redis);
    assert_non_null(rc);
    redisReply *r = redisCommand(rc, "RPUSH battled:cluster:queue:%d 65000|7|1 junk",
                                 (int)PROTO_BAND_VERY_LONG);
    assert_non_null(r);
    freeReplyObject(r);
    double stale = metric(1, "battled_cluster_queue_stale_total");
    pc_conn *p = itest_client(&g_n[1].s, "p");
    queue_on(p, PROTO_BAND_VERY_LONG);
    wait_metric(1, "battled_cluster_queue_stale_total", stale + 2);
    char first[64];
    assert_int_equal(band_list(rc, PROTO_BAND_VERY_LONG, first, sizeof first), 1);
    assert_null(strstr(first, "65000|")); /* node 1's own entry */
    itest_expect_silence(p, 200); /* and nobody to be matched with */
    assert_true(pc_cancel(p) > 0);
    proto_event ev;
    itest_expect(p, PROTO_T_UNQUEUED, &ev);
    uint64_t end = itest_now_ms() + OFFER_MS;
    while (band_list(rc, PROTO_BAND_VERY_LONG, first, sizeof first) != 0) {
        assert_true(itest_now_ms() < end);
        usleep(20 * 1000);
    }
    redisFree(rc);
    pc_close(p);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_nodes_matched),
        cmocka_unit_test(test_first_come_first_served),
        cmocka_unit_test(test_moved_player_waits_when_gone),
        cmocka_unit_test(test_lone_node_matches_locally),
        cmocka_unit_test(test_stale_entries_removed),
        cmocka_unit_test(test_match_off),
    };
    return cmocka_run_group_tests(tests, cluster_up, cluster_down);
}
