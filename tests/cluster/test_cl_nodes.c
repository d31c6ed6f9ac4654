/* The node layer (cluster/node.c) with the real battled: two nodes sharing a redis-server (started
 * by the test on a free loopback port) register themselves with an expiring heartbeat; each one's
 * admin /cluster lists both with their names, addresses, live battles and state; a node killed with SIGKILL leaves every
 * view within its ttl; a node stopped cleanly deletes its key at once; without cluster.enabled,
 * /cluster is 404. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/cluster/redis_harness.h"
#include "tests/integration/itest.h"

#define WAIT_MS 10000 /* for a view to change */

static rh_server g_redis;

typedef struct node {
    itest_server s;
    uint16_t admin;
    char portfile[96];
} node;

static int redis_up(void **state)
{
    (void)state;
    return rh_start(&g_redis) ? 0 : -1;
}

static int redis_down(void **state)
{
    (void)state;
    rh_stop(&g_redis);
    return 0;
}

/* Starts battled as cluster node `name` (NULL: cluster off) with its admin port on 0. */
static void node_start(node *n, const char *name)
{
    static int seq;
    static char set_file[160], set_node[96], set_redis[96];
    snprintf(n->portfile, sizeof n->portfile, "/tmp/battled-cl-admin-%d-%d.port", (int)getpid(),
             ++seq);
    unlink(n->portfile);
    snprintf(set_file, sizeof set_file, "admin.port_file=%s", n->portfile);
    snprintf(set_node, sizeof set_node, "cluster.node=%s", name ? name : "-");
    snprintf(set_redis, sizeof set_redis, "persistence.redis_address=%s", g_redis.address);
    const char *sets[] = {"admin.listen=127.0.0.1:0", set_file, set_redis,
                          name ? "cluster.enabled=true" : "cluster.enabled=false", set_node,
                          "cluster.heartbeat_ms=200", "cluster.ttl_ms=1000",
                          "cluster.advertise=127.0.0.1:7070", NULL};
    assert_true(itest_start(&n->s, sets));
    FILE *f = fopen(n->portfile, "r");
    unsigned p = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%u", &p), 1);
    fclose(f);
    unlink(n->portfile);
    n->admin = (uint16_t)p;
}

/* GET path on port; returns the status, the body in buf (cap bytes). */
static int http_get(uint16_t port, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     path);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t len = 0;
    ssize_t r;
    while (len < cap - 1 && (r = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fd);
    int status = strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : -1;
    char *body = strstr(buf, "\r\n\r\n");
    if (body)
        memmove(buf, body + 4, strlen(body + 4) + 1);
    return status;
}

/* Polls n's /cluster until node `who` is listed (want) or not (!want). */
static void wait_listed(const node *n, const char *who, bool want)
{
    char needle[96], page[8192];
    snprintf(needle, sizeof needle, "\"name\":\"%s\"", who);
    uint64_t end = itest_now_ms() + WAIT_MS;
    for (;;) {
        assert_int_equal(http_get(n->admin, "/cluster", page, sizeof page), 200);
        if ((strstr(page, needle) != NULL) == want)
            return;
        if (itest_now_ms() > end)
            fail_msg("node %s %s in: %s", who, want ? "never listed" : "still listed", page);
        struct timespec ts = {.tv_nsec = 50 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void test_nodes_register_expire_and_leave(void **state)
{
    (void)state;
    node a, b;
    node_start(&a, "alpha");
    node_start(&b, "beta");
    wait_listed(&a, "alpha", true);
    wait_listed(&a, "beta", true);
    wait_listed(&b, "alpha", true);
    char page[8192];
    assert_int_equal(http_get(a.admin, "/cluster", page, sizeof page), 200);
    assert_non_null(strstr(page, "\"self\":\"alpha\""));
    assert_non_null(strstr(page, "\"redis\":\"up\""));
    assert_non_null(strstr(page, "\"player\":\"127.0.0.1:7070\""));

    /* each node reports its live battles and state: a battle on alpha shows on beta's view */
    pc_conn *pl = itest_client(&a.s, "p");
    assert_true(pc_create(pl, "scout", PROTO_BAND_SHORT, PROTO_VS_PLAYER, "") > 0);
    proto_event ev;
    itest_expect(pl, PROTO_T_CREATED, &ev);
    uint64_t end = itest_now_ms() + WAIT_MS;
    for (;;) {
        assert_int_equal(http_get(b.admin, "/cluster", page, sizeof page), 200);
        const char *al = strstr(page, "\"name\":\"alpha\"");
        if (al && strstr(al, "\"battles\":1,\"state\":\"ok\""))
            break;
        if (itest_now_ms() > end)
            fail_msg("alpha's battle never shown: %s", page);
        struct timespec ts = {.tv_nsec = 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    pc_close(pl);

    /* killed: gone from the survivor's view once its key expired (ttl 1 s) */
    assert_int_equal(itest_stop(&b.s, SIGKILL, 5000), -2);
    itest_cleanup(&b.s);
    wait_listed(&a, "beta", false);

    /* a clean stop deletes the node's key at once */
    assert_int_equal(itest_finish(&a.s, 10000), 0);
    redisContext *c = rh_connect(&g_redis);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "EXISTS battled:cluster:node:alpha");
    assert_non_null(r);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
}

static void test_cluster_off_is_404(void **state)
{
    (void)state;
    node n;
    node_start(&n, NULL);
    char page[1024];
    assert_int_equal(http_get(n.admin, "/cluster", page, sizeof page), 404);
    assert_int_equal(itest_finish(&n.s, 10000), 0);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nodes_register_expire_and_leave, redis_up,
                                        redis_down),
        cmocka_unit_test_setup_teardown(test_cluster_off_is_404, redis_up, redis_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
