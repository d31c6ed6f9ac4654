/* Failover with the real battled: three cluster nodes on one redis-server (started by the test on
 * a free loopback port), the journal in Redis under fsync=always.
 *   - battles spread: each node creates battles whose ids carry its incarnation; a player connected
 *     to another node is answered `moved` naming the holder, follows it and joins;
 *   - kill -9 of a node amid battles: another node takes them over; every player, reconnecting to
 *     a survivor, is redirected (moved, or server_busy while the takeover runs), resumes by token
 *     and last seq, finds nothing it was told lost, and plays to the end;
 *   - a node leaving on SIGTERM hands its battles over at once (no ttl to wait for);
 *   - a node paused (SIGSTOP) past its lease is taken over; woken (SIGCONT) it stops with exit
 *     status 75 instead of serving the battles it lost, and they play on at their new holder;
 *   - Redis restarted mid-run (with its data): battles go on where they are, nothing taken over;
 *   - the whole cluster stopped and started again: every battle resumes and plays to the end;
 *   - a node joining while battles are played: seen by the others, battles through it work;
 *   - a rolling restart of every node in turn: every battle plays on where its players left it. */
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

#define NODES 3
#define TAKEOVER_MS 30000 /* for a player to be served again after its node died */
#define PLAY_MS 60000
#define PAIRS 8           /* battles on the node that dies */
#define SHARDS 4          /* per node: a dead node's battles are taken over shard by shard */

static rh_server g_redis;

typedef struct node {
    itest_server s;
    uint16_t admin;
    char name[16];
    char portfile[96];
    bool paused; /* SIGSTOPped: a connection would hang, as a real client's would until its timeout */
} node;

static node g_n[NODES + 1];

static int redis_up(void **state)
{
    (void)state;
    g_redis.aof = false;
    return rh_start(&g_redis) ? 0 : -1;
}

/* Redis with its own persistence (appendonly, appendfsync always), so a restart keeps its data. */
static int redis_aof_up(void **state)
{
    (void)state;
    g_redis.aof = true;
    return rh_start(&g_redis) ? 0 : -1;
}

static int redis_down(void **state)
{
    (void)state;
    for (int i = 0; i <= NODES; i++) {
        if (g_n[i].s.pid && !g_n[i].s.exited) {
            kill(g_n[i].s.pid, SIGCONT);
            itest_stop(&g_n[i].s, SIGKILL, 5000);
        }
        if (g_n[i].s.pid)
            itest_cleanup(&g_n[i].s);
        memset(&g_n[i], 0, sizeof g_n[i]);
    }
    rh_stop(&g_redis);
    return 0;
}

/* Starts node i as cluster node "n<i>". */
static void node_start(int i)
{
    node *n = &g_n[i];
    static char set_file[NODES + 1][160], set_node[NODES + 1][64], set_redis[NODES + 1][96];
    snprintf(n->name, sizeof n->name, "n%d", i);
    snprintf(n->portfile, sizeof n->portfile, "/tmp/battled-clf-admin-%d-%d.port", (int)getpid(), i);
    unlink(n->portfile);
    snprintf(set_file[i], sizeof set_file[i], "admin.port_file=%s", n->portfile);
    snprintf(set_node[i], sizeof set_node[i], "cluster.node=%s", n->name);
    snprintf(set_redis[i], sizeof set_redis[i], "persistence.redis_address=%s", g_redis.address);
    const char *sets[] = {"admin.listen=127.0.0.1:0", set_file[i], set_redis[i],
                          "persistence.enabled=true", "persistence.backend=redis",
                          "persistence.fsync=always", "persistence.redis_lease_ms=1500",
                          "cluster.enabled=true", set_node[i], "cluster.heartbeat_ms=200",
                          "cluster.ttl_ms=1000", "server.on_sigterm=restart",
                          "game.resume_window_ms=60000", "game.turn_timer_ms=60000",
                          "game.ai_think_ms=0", "server.max_conns_per_addr=0",
                          "server.max_handshakes_per_addr=0", "server.shards=4", NULL};
    assert_true(itest_start(&n->s, sets));
    n->admin = itest_admin_port(n->portfile);
    unlink(n->portfile);
}

/* Polls every live node's /cluster until it lists `want` nodes, each with its bound game port. */
static void wait_formed(int want)
{
    uint16_t ports[NODES + 1] = {0};
    for (int i = 0; i <= NODES; i++)
        if (g_n[i].s.pid && !g_n[i].s.exited)
            ports[i] = g_n[i].admin;
    assert_true(cl_wait_formed(ports, NODES + 1, want, 10000));
}

/* Waits for node i to exit on its own (after a SIGTERM sent by the caller) and checks it exited
 * with `want`; prints its log when not. */
static void expect_exit(int i, int want)
{
    int rc = itest_stop(&g_n[i].s, 0, 15000);
    if (rc != want) {
        itest_dump_log(&g_n[i].s);
        fail_msg("node %d: exit %d (-2: killed by a signal, status %d), wanted %d", i, rc,
                 g_n[i].s.status, want);
    }
}

/* Starts nodes 1..NODES and waits until every one lists them all. */
static void start_cluster(void)
{
    for (int i = 1; i <= NODES; i++)
        node_start(i);
    wait_formed(NODES);
}

/* The incarnation a battle id carries (docs/CLUSTER.md). */
static unsigned inc_of(uint64_t bid)
{
    return (unsigned)(bid >> 47) & 0xffffu;
}

/* The node whose game port is port, or NULL. */
static const node *node_at(uint16_t port)
{
    for (int i = 0; i <= NODES; i++)
        if (g_n[i].s.pid && !g_n[i].s.exited && !g_n[i].paused && g_n[i].s.port == port)
            return &g_n[i];
    return NULL;
}

/* A client of node n (hello done). */
static pc_conn *client_of(const node *n, const char *name)
{
    return itest_client(&n->s, name);
}

/* Follows a moved reply: a new connection to the named node. */
static pc_conn *follow(pc_conn *c, const proto_event *ev, const char *name)
{
    assert_int_equal(ev->type, PROTO_T_MOVED);
    const char *colon = strrchr(ev->u.moved.addr, ':');
    assert_non_null(colon);
    const node *to = node_at((uint16_t)atoi(colon + 1));
    if (!to)
        fail_msg("moved to %s, which is not a live node", ev->u.moved.addr);
    pc_close(c);
    return client_of(to, name);
}

/* Resumes p on any live node, following moved replies and waiting out server_busy (a takeover
 * under way), until the battle answers: the missed events or a state. */
static void resume_anywhere(itest_player *p, const node *first)
{
    uint64_t end = itest_now_ms() + TAKEOVER_MS;
    const node *at = first;
    for (;;) {
        if (itest_now_ms() > end)
            fail_msg("battle %llu: not served again within %d ms", (unsigned long long)p->t.bid,
                     TAKEOVER_MS);
        if (p->c)
            pc_close(p->c);
        p->c = client_of(at, "back");
        assert_true(pc_resume(p->c, p->t.bid, (uint8_t)p->t.seat, p->t.token, p->t.last_seq) > 0);
        proto_event ev;
        int r = pc_recv(p->c, &ev, ITEST_WAIT_MS);
        assert_int_equal(r, 1);
        if (ev.type == PROTO_T_MOVED) {
            const char *colon = strrchr(ev.u.moved.addr, ':');
            const node *to = colon ? node_at((uint16_t)atoi(colon + 1)) : NULL;
            if (to)
                at = to; /* else the holder is the node that died: ask again shortly */
            usleep(100 * 1000);
            continue;
        }
        if (ev.type == PROTO_T_ERROR) {
            assert_int_equal(ev.u.error.code, PROTO_E_SERVER_BUSY); /* taking over: retry */
            usleep(100 * 1000);
            continue;
        }
        assert_true(itest_track(p, &ev));
        /* the rest of the answer, if any */
        while (pc_recv(p->c, &ev, 200) == 1)
            itest_track(p, &ev);
        p->fired_round = 0;
        return;
    }
}

/* A private battle created on node `on` whose guest starts on node `via` (following moved). */
static void pair_across(const node *on, const node *via, itest_player *a, itest_player *b)
{
    proto_event ev;
    itest_player_init(a, client_of(on, "host"));
    assert_true(pc_create(a->c, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "") > 0);
    itest_expect(a->c, PROTO_T_CREATED, &ev);
    uint64_t bid = ev.bid;
    pc_conn *g = client_of(via, "guest");
    assert_true(pc_join(g, bid, "free_trader") > 0);
    assert_int_equal(pc_recv(g, &ev, ITEST_WAIT_MS), 1);
    if (via != on) {
        /* another node's battle: never executed there, the holder named */
        assert_int_equal(ev.type, PROTO_T_MOVED);
        assert_true(ev.bid == bid);
        char want[32];
        snprintf(want, sizeof want, "127.0.0.1:%u", on->s.port);
        assert_string_equal(ev.u.moved.addr, want);
        g = follow(g, &ev, "guest");
        assert_true(pc_join(g, bid, "free_trader") > 0);
        itest_expect(g, PROTO_T_STARTED, &ev);
    }
    assert_int_equal(ev.type, PROTO_T_STARTED);
    itest_player_init(b, g);
    itest_take_started(b, &ev);
    itest_expect(a->c, PROTO_T_STARTED, &ev);
    itest_take_started(a, &ev);
}

/* What a player saw of a battle: resumed elsewhere, the battle must be exactly there (under
 * fsync=always every action whose events a player got was journaled before they left). */
typedef struct seen {
    uint16_t round;
    uint8_t active;
    uint16_t hull[2];
} seen;

static seen seen_of(const itest_player *p)
{
    seen s = {.round = p->t.round, .active = p->t.active,
              .hull = {p->t.ships[0].hull, p->t.ships[1].hull}};
    return s;
}

static void assert_same(const itest_player *p, const seen *s)
{
    assert_int_equal(p->t.round, s->round);
    assert_int_equal(p->t.active, s->active);
    assert_int_equal(p->t.ships[0].hull, s->hull[0]);
    assert_int_equal(p->t.ships[1].hull, s->hull[1]);
    assert_false(p->t.ended);
}

/* Plays n turn actions of the battle (whoever's turn), reading both sides. */
static void play_some(itest_player *a, itest_player *b, int n)
{
    for (int i = 0; i < n && !a->t.ended; i++) {
        itest_player *p = a->t.active == a->t.seat ? a : b;
        assert_true(pc_end(p->c, p->t.bid) > 0);
        proto_event ev;
        int type;
        do {
            itest_next(p->c, &ev);
            itest_track(p, &ev);
            type = ev.type;
        } while (!(proto_type_battle_scoped(type) && ev.seq &&
                   (type == PROTO_T_TURN || type == PROTO_T_ROUND || type == PROTO_T_ENDED)));
        itest_player *o = p == a ? b : a;
        while (pc_recv(o->c, &ev, 50) == 1)
            itest_track(o, &ev);
    }
}

/* Plays n battles to their end and closes their players' connections. */
static void finish_all(itest_player *a, itest_player *b, int n)
{
    for (int k = 0; k < n; k++) {
        itest_play(&a[k], &b[k], PLAY_MS);
        assert_true(a[k].t.ended);
        pc_close(a[k].c);
        pc_close(b[k].c);
    }
}

static void test_battles_spread_and_moved(void **state)
{
    (void)state;
    start_cluster();
    itest_player a[NODES + 1], b[NODES + 1];
    unsigned incs[NODES + 1];
    for (int i = 1; i <= NODES; i++) {
        /* created on node i, joined through the next node */
        pair_across(&g_n[i], &g_n[i % NODES + 1], &a[i], &b[i]);
        incs[i] = inc_of(a[i].t.bid);
        assert_true(incs[i] != 0);
        for (int j = 1; j < i; j++)
            assert_true(incs[j] != incs[i]); /* one incarnation per node */
        play_some(&a[i], &b[i], 3);
    }
    /* a spectator on any node is sent to the holder too */
    pc_conn *w = client_of(&g_n[2], "watcher");
    assert_true(pc_watch(w, a[1].t.bid) > 0);
    proto_event ev;
    assert_int_equal(pc_recv(w, &ev, ITEST_WAIT_MS), 1);
    assert_int_equal(ev.type, PROTO_T_MOVED);
    w = follow(w, &ev, "watcher");
    assert_true(pc_watch(w, a[1].t.bid) > 0);
    itest_expect(w, PROTO_T_STATE, &ev);
    pc_close(w);
    /* each node's page has the cluster's families: 3 live nodes, its own incarnation, and the
     * redirections it answered */
    static char page[65536];
    assert_int_equal(itest_http_get(g_n[2].admin, "/metrics", page, sizeof page), 200);
    assert_true(itest_metric(page, "battled_cluster_nodes") == NODES);
    assert_true(itest_metric(page, "battled_cluster_incarnation") == incs[2]);
    assert_true(itest_metric(page, "battled_moved_replies_total") >= 2); /* a guest, the watcher */
    assert_true(itest_metric(page, "battled_cluster_fenced") == 0);
    assert_true(itest_metric(page, "battled_cluster_serving") == 1);
    for (int i = 1; i <= NODES; i++) {
        pc_close(a[i].c);
        pc_close(b[i].c);
    }
}

/* Battles on node 1 are played a little, node 1 is stopped with `sig`; every battle is served
 * again by a survivor with nothing lost and played to the end. */
static void lose_node_one(int sig)
{
    start_cluster();
    itest_player a[PAIRS], b[PAIRS];
    seen before[PAIRS];
    for (int k = 0; k < PAIRS; k++) {
        pair_across(&g_n[1], &g_n[1], &a[k], &b[k]);
        play_some(&a[k], &b[k], 3 + k);
        before[k] = seen_of(&a[k]);
    }
    uint64_t t0 = itest_now_ms();
    if (sig == SIGKILL) {
        assert_int_equal(kill(g_n[1].s.pid, SIGKILL), 0);
    } else {
        assert_int_equal(kill(g_n[1].s.pid, sig), 0);
        /* a planned departure: the players are told to come back */
        proto_event ev;
        assert_int_equal(pc_recv_type(a[0].c, PROTO_T_RESTARTING, &ev, ITEST_WAIT_MS), 1);
    }
    int st = itest_stop(&g_n[1].s, 0, 10000); /* gone (SIGKILL), or leaving by itself (SIGTERM) */
    if (sig != SIGKILL)
        assert_int_equal(st, 0);
    for (int k = 0; k < PAIRS; k++) {
        pc_close(a[k].c);
        pc_close(b[k].c);
        a[k].c = b[k].c = NULL;
    }
    /* every player comes back through node 2 and is sent to whichever node took over */
    for (int k = 0; k < PAIRS; k++) {
        resume_anywhere(&a[k], &g_n[2]);
        resume_anywhere(&b[k], &g_n[2]);
        /* nothing a player was told is lost: the battle is where they left it */
        assert_same(&a[k], &before[k]);
        assert_same(&b[k], &before[k]);
    }
    uint64_t took = itest_now_ms() - t0;
    /* the survivors' pages say who took them: every battle, spread over both survivors, each
     * taking half of the dead node's shards in one takeover of its own */
    double battles = 0, per[NODES + 1] = {0};
    for (int i = 2; i <= NODES; i++) {
        static char page[65536];
        assert_int_equal(itest_http_get(g_n[i].admin, "/metrics", page, sizeof page), 200);
        per[i] = itest_metric(page, "battled_cluster_takeover_battles_total");
        battles += per[i];
        if (itest_metric(page, "battled_cluster_takeover_shards_total") != SHARDS / (NODES - 1) ||
            itest_metric(page, "battled_cluster_takeovers_total") != 1)
            fail_msg("node %d took %.0f shards in %.0f takeovers, wanted %d in 1", i,
                     itest_metric(page, "battled_cluster_takeover_shards_total"),
                     itest_metric(page, "battled_cluster_takeovers_total"), SHARDS / (NODES - 1));
    }
    assert_true(battles == PAIRS);
    printf("%s: %d battles served again by the survivors (%.0f and %.0f) %llu ms after the stop\n",
           sig == SIGKILL ? "SIGKILL" : "SIGTERM", PAIRS, per[2], per[3], (unsigned long long)took);
    finish_all(a, b, PAIRS);
}

static void test_kill9_failover(void **state)
{
    (void)state;
    lose_node_one(SIGKILL);
}

static void test_sigterm_handover(void **state)
{
    (void)state;
    lose_node_one(SIGTERM);
}

/* Two failures in a row: node 1's battles are spread over nodes 2 and 3; then node 2 dies too and
 * node 3 takes its shards, among them the ones holding node 1's battles. A player of a node-1
 * battle asking node 3 is served there: routing follows node 1's shard to node 2, node 2's shard
 * to node 3. */
static void test_second_failure_follows_holders(void **state)
{
    (void)state;
    start_cluster();
    itest_player a[PAIRS], b[PAIRS];
    seen before[PAIRS];
    for (int k = 0; k < PAIRS; k++) {
        pair_across(&g_n[1], &g_n[1], &a[k], &b[k]);
        play_some(&a[k], &b[k], 2 + k % 3);
        before[k] = seen_of(&a[k]);
    }
    for (int round = 1; round <= 2; round++) {
        assert_int_equal(kill(g_n[round].s.pid, SIGKILL), 0);
        itest_stop(&g_n[round].s, 0, 10000);
        for (int k = 0; k < PAIRS; k++) {
            pc_close(a[k].c);
            pc_close(b[k].c);
            a[k].c = b[k].c = NULL;
            resume_anywhere(&a[k], &g_n[3]);
            resume_anywhere(&b[k], &g_n[3]);
            assert_same(&a[k], &before[k]);
            assert_same(&b[k], &before[k]); /* after round 2 only node 3 could have served it */
        }
    }
    finish_all(a, b, PAIRS);
}

/* A node paused past its lease is taken over; woken, it stops (75) rather than serve. */
static void test_paused_node_is_fenced(void **state)
{
    (void)state;
    start_cluster();
    itest_player a, b;
    pair_across(&g_n[1], &g_n[1], &a, &b);
    play_some(&a, &b, 3);
    seen before = seen_of(&a);
    assert_int_equal(kill(g_n[1].s.pid, SIGSTOP), 0);
    g_n[1].paused = true;
    /* taken over: through node 2 the battle is served again (moved to its new holder) */
    itest_player a2 = a, b2 = b;
    a2.c = b2.c = NULL;
    resume_anywhere(&a2, &g_n[2]);
    resume_anywhere(&b2, &g_n[2]);
    assert_same(&a2, &before);
    assert_same(&b2, &before);
    /* the old connection's player acts on the paused node: it must not be served there */
    itest_player *stale = a.t.active == a.t.seat ? &a : &b;
    assert_true(pc_end(stale->c, stale->t.bid) > 0);
    assert_int_equal(kill(g_n[1].s.pid, SIGCONT), 0);
    g_n[1].paused = false;
    /* woken, node 1 serves nothing before its heartbeat has confirmed it still holds its
     * battles (its lease ran out while it was paused): the action is answered server_busy, or not
     * at all, never with an event of the battle. Then it finds it lost its battles: its players
     * are told to reconnect and it exits with 75. */
    bool told = false;
    uint64_t end = itest_now_ms() + 15000;
    while (itest_now_ms() < end) {
        proto_event ev;
        int r = pc_recv(stale->c, &ev, 200);
        if (r < 0)
            break;
        if (r == 1 && proto_type_battle_scoped(ev.type) && ev.seq != 0)
            fail_msg("the paused node served its battle after waking: event %d, seq %u", ev.type,
                     (unsigned)ev.seq);
        if (r == 1 && ev.type == PROTO_T_ERROR)
            assert_int_equal(ev.u.error.code, PROTO_E_SERVER_BUSY);
        if (r == 1 && ev.type == PROTO_T_RESTARTING)
            told = true;
    }
    assert_true(told);
    assert_int_equal(itest_stop(&g_n[1].s, 0, 15000), 75);
    /* that action never reached the battle: at its new holder nothing happened, and it is still
     * exactly where the players left it */
    proto_event ev;
    while (pc_recv(a2.c, &ev, 300) == 1) /* the notices of the resumes, if still unread */
        itest_track(&a2, &ev);
    while (pc_recv(b2.c, &ev, 300) == 1)
        itest_track(&b2, &ev);
    assert_same(&a2, &before);
    assert_same(&b2, &before);
    pc_close(a.c);
    pc_close(b.c);
    itest_play(&a2, &b2, PLAY_MS);
    assert_true(a2.t.ended);
    pc_close(a2.c);
    pc_close(b2.c);
}

/* Resumes every player of n battles through node `via` and plays them to the end. */
static void resume_and_finish(itest_player *a, itest_player *b, int n, const node *via,
                              const seen *before)
{
    for (int k = 0; k < n; k++) {
        resume_anywhere(&a[k], via);
        resume_anywhere(&b[k], via);
        assert_same(&a[k], &before[k]);
        assert_same(&b[k], &before[k]);
    }
    finish_all(a, b, n);
}

/* Redis restarted mid-run (with its data): the battles go on where they are, no node is taken
 * over (a node that could not heartbeat through the outage is not treated as dead), none fenced. */
static void test_redis_restart_mid_run(void **state)
{
    (void)state;
    start_cluster();
    itest_player a[NODES], b[NODES];
    for (int k = 0; k < NODES; k++) {
        pair_across(&g_n[k + 1], &g_n[k + 1], &a[k], &b[k]);
        play_some(&a[k], &b[k], 2);
    }
    assert_true(rh_restart(&g_redis));
    for (int k = 0; k < NODES; k++) {
        itest_play(&a[k], &b[k], PLAY_MS); /* on the same connections, the same nodes */
        assert_true(a[k].t.ended);
        pc_close(a[k].c);
        pc_close(b[k].c);
    }
    for (int i = 1; i <= NODES; i++) {
        static char page[65536];
        assert_int_equal(itest_http_get(g_n[i].admin, "/metrics", page, sizeof page), 200);
        assert_true(itest_metric(page, "battled_battles_adopted_total") == 0);
        assert_true(itest_metric(page, "battled_cluster_takeovers_total") == 0);
        assert_false(g_n[i].s.exited);
    }
    wait_formed(NODES);
}

/* The whole cluster stopped (SIGTERM) and started again: every battle comes back and plays on. */
static void test_whole_cluster_restart(void **state)
{
    (void)state;
    start_cluster();
    itest_player a[NODES], b[NODES];
    seen before[NODES];
    for (int k = 0; k < NODES; k++) {
        pair_across(&g_n[k + 1], &g_n[k % NODES + 1], &a[k], &b[k]);
        play_some(&a[k], &b[k], 2 + k);
        before[k] = seen_of(&a[k]);
    }
    for (int i = 1; i <= NODES; i++)
        assert_int_equal(kill(g_n[i].s.pid, SIGTERM), 0);
    for (int i = 1; i <= NODES; i++) {
        expect_exit(i, 0);
        itest_cleanup(&g_n[i].s);
        memset(&g_n[i].s, 0, sizeof g_n[i].s);
    }
    for (int k = 0; k < NODES; k++) {
        pc_close(a[k].c);
        pc_close(b[k].c);
        a[k].c = b[k].c = NULL;
    }
    for (int i = 1; i <= NODES; i++)
        node_start(i);
    resume_and_finish(a, b, NODES, &g_n[3], before);
}

/* A node joining while battles are played: it is seen by the others, new battles go through it,
 * the running ones are not disturbed. */
static void test_node_joins_under_load(void **state)
{
    (void)state;
    for (int i = 1; i <= 2; i++)
        node_start(i);
    wait_formed(2);
    itest_player a[2], b[2];
    for (int k = 0; k < 2; k++) {
        pair_across(&g_n[k + 1], &g_n[2 - k], &a[k], &b[k]);
        play_some(&a[k], &b[k], 2);
    }
    node_start(3);
    for (int k = 0; k < 2; k++)
        play_some(&a[k], &b[k], 4);
    wait_formed(3);
    itest_player c, d;
    pair_across(&g_n[3], &g_n[1], &c, &d); /* created on the new node, joined through another */
    assert_true(inc_of(c.t.bid) != inc_of(a[0].t.bid) && inc_of(c.t.bid) != inc_of(a[1].t.bid));
    finish_all(a, b, 2);
    itest_play(&c, &d, PLAY_MS);
    assert_true(c.t.ended);
    pc_close(c.c);
    pc_close(d.c);
}

/* A rolling upgrade: each node in turn stopped with SIGTERM and started again while battles are
 * played; every battle goes on, wherever it moved, exactly where its players left it. */
static void test_rolling_restart(void **state)
{
    (void)state;
    start_cluster();
    itest_player a[NODES], b[NODES];
    seen before[NODES];
    for (int k = 0; k < NODES; k++) {
        pair_across(&g_n[k + 1], &g_n[k + 1], &a[k], &b[k]);
        play_some(&a[k], &b[k], 2);
    }
    for (int i = 1; i <= NODES; i++) {
        for (int k = 0; k < NODES; k++)
            before[k] = seen_of(&a[k]);
        assert_int_equal(kill(g_n[i].s.pid, SIGTERM), 0);
        expect_exit(i, 0);
        itest_cleanup(&g_n[i].s);
        memset(&g_n[i].s, 0, sizeof g_n[i].s);
        node_start(i); /* the upgraded binary: a new incarnation */
        wait_formed(NODES);
        for (int k = 0; k < NODES; k++) {
            resume_anywhere(&a[k], &g_n[i % NODES + 1]);
            resume_anywhere(&b[k], &g_n[i % NODES + 1]);
            assert_same(&a[k], &before[k]);
            assert_same(&b[k], &before[k]);
            play_some(&a[k], &b[k], 1);
        }
    }
    finish_all(a, b, NODES);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_battles_spread_and_moved, redis_up, redis_down),
        cmocka_unit_test_setup_teardown(test_kill9_failover, redis_up, redis_down),
        cmocka_unit_test_setup_teardown(test_sigterm_handover, redis_up, redis_down),
        cmocka_unit_test_setup_teardown(test_second_failure_follows_holders, redis_up, redis_down),
        cmocka_unit_test_setup_teardown(test_paused_node_is_fenced, redis_up, redis_down),
        cmocka_unit_test_setup_teardown(test_redis_restart_mid_run, redis_aof_up, redis_down),
        cmocka_unit_test_setup_teardown(test_whole_cluster_restart, redis_up, redis_down),
        cmocka_unit_test_setup_teardown(test_node_joins_under_load, redis_up, redis_down),
        cmocka_unit_test_setup_teardown(test_rolling_restart, redis_up, redis_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
