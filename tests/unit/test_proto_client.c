/* proto client library: the blocking and the libuv APIs against a tiny in-process fake server that
 * answers with our own encoder (no battled server needed). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/client/pc.h"
#include "proto/client/pcuv.h"
#include "proto/codec.h"
#include "proto/frame.h"
#include "proto/tools/samples.h"

#define MAXC 128

static int lfd;
static uint16_t lport;
static int stop_pipe[2];
static pthread_t srv;

static void reply(int fd, const proto_event *e)
{
    static uint8_t buf[PROTO_FRAME_DEFAULT_MAX];
    size_t len;
    assert_int_equal(proto_encode_event(buf, sizeof buf, e, &len), PROTO_E_OK);
    (void)!send(fd, buf, len, MSG_NOSIGNAL);
}

/* Cluster: the first join of MOVED_BID is answered with `moved` to this same server (a new
 * connection), later ones with `created`; every join's request is kept for the test to compare. */
#define MOVED_BID 77
static int joins_seen;
static proto_request joins[4];
static pthread_mutex_t joins_mu = PTHREAD_MUTEX_INITIALIZER; /* the server thread writes them */

static int joins_count(void)
{
    pthread_mutex_lock(&joins_mu);
    int n = joins_seen;
    pthread_mutex_unlock(&joins_mu);
    return n;
}

/* Answers one request the way a server would, echoing the request id. */
static void answer(int fd, const proto_request *r)
{
    static proto_event e;
    switch (r->type) {
    case PROTO_T_JOIN:
        if (r->bid != MOVED_BID)
            goto refuse;
        pthread_mutex_lock(&joins_mu);
        if (joins_seen < 4)
            joins[joins_seen] = *r;
        int first = joins_seen++ == 0;
        pthread_mutex_unlock(&joins_mu);
        if (first) {
            sample_event(PROTO_T_MOVED, &e);
            snprintf(e.u.moved.addr, sizeof e.u.moved.addr, "127.0.0.1:%u", (unsigned)lport);
        } else {
            sample_event(PROTO_T_CREATED, &e);
        }
        e.bid = r->bid;
        break;
    case PROTO_T_HELLO: sample_event(PROTO_T_WELCOME, &e); break;
    case PROTO_T_PING: sample_event(PROTO_T_PONG, &e); e.u.pong.ts = r->u.ping.ts; break;
    case PROTO_T_FIRE:
        sample_event(PROTO_T_ATTACK, &e);
        e.bid = r->bid;
        e.u.attack.weapon = r->u.fire.weapon;
        break;
    case PROTO_T_LEAVE: {
        /* an event type from the future, then the real reply */
        static const uint8_t future[] = {0, 0, 0, 10, 0x81, 0xa1, 't', 0xa6, 'f', 'u', 't', 'u', 'r', 'e'};
        (void)!send(fd, future, sizeof future, MSG_NOSIGNAL);
        sample_event(PROTO_T_LEFT, &e);
        e.bid = r->bid;
        break;
    }
    default:
    refuse: {
        static uint8_t buf[512];
        size_t len;
        proto_encode_error(buf, sizeof buf, PROTO_E_NOT_IN_BATTLE, "fake server", r->has_rid, r->rid, r->bid, &len);
        (void)!send(fd, buf, len, MSG_NOSIGNAL);
        return;
    }
    }
    e.has_rid = r->has_rid;
    e.rid = r->rid;
    reply(fd, &e);
}

static void *serve(void *arg)
{
    (void)arg;
    struct pollfd p[MAXC + 2];
    static frame_reader fr[MAXC + 2];
    int n = 2;
    p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    p[1] = (struct pollfd){.fd = stop_pipe[0], .events = POLLIN};
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0)
            continue;
        if (p[1].revents)
            break;
        if (p[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0 && n < MAXC + 2) {
                frame_reader_init(&fr[n], PROTO_FRAME_DEFAULT_MAX);
                p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
            } else if (fd >= 0) {
                close(fd);
            }
        }
        for (int i = 2; i < n; i++) {
            if (!p[i].revents)
                continue;
            uint8_t buf[4096];
            ssize_t got = recv(p[i].fd, buf, sizeof buf, 0);
            if (got <= 0) {
                close(p[i].fd);
                frame_reader_free(&fr[i]);
                p[i] = p[n - 1];
                fr[i] = fr[n - 1];
                n--;
                i--;
                continue;
            }
            const uint8_t *q = buf;
            size_t left = (size_t)got;
            while (left > 0) {
                size_t used;
                const uint8_t *body;
                uint32_t blen;
                proto_error err;
                frame_status st = frame_reader_feed(&fr[i], q, left, &used, &body, &blen, &err);
                q += used;
                left -= used;
                if (st != FRAME_READY)
                    break;
                proto_request r;
                if (proto_decode_request(body, blen, &r, NULL) == PROTO_E_OK)
                    answer(p[i].fd, &r);
            }
        }
    }
    for (int i = 2; i < n; i++) {
        close(p[i].fd);
        frame_reader_free(&fr[i]);
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 256) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    lport = ntohs(a.sin_port);
    if (pipe(stop_pipe) != 0)
        return -1;
    return pthread_create(&srv, NULL, serve, NULL);
}

static int teardown(void **state)
{
    (void)state;
    (void)!write(stop_pipe[1], "x", 1);
    pthread_join(srv, NULL);
    close(lfd);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return 0;
}

static void test_blocking(void **state)
{
    (void)state;
    pc_conn *c = pc_connect("127.0.0.1", lport, 2000, 0);
    assert_non_null(c);
    static proto_event e;
    assert_int_equal(pc_recv(c, &e, 30), 0); /* nothing yet: timeout */
    int64_t rid = pc_hello(c, "test");
    assert_true(rid >= 1);
    assert_int_equal(pc_recv(c, &e, 2000), 1);
    assert_int_equal(e.type, PROTO_T_WELCOME);
    assert_true(e.has_rid);
    assert_int_equal(e.rid, rid);
    assert_int_equal(e.u.welcome.version, PROTO_VERSION);
    rid = pc_ping(c, 123456789);
    assert_int_equal(pc_recv_type(c, PROTO_T_PONG, &e, 2000), 1);
    assert_int_equal(e.rid, rid);
    assert_int_equal(e.u.pong.ts, 123456789);
    rid = pc_fire(c, 42, 1);
    assert_int_equal(pc_recv(c, &e, 2000), 1);
    assert_int_equal(e.type, PROTO_T_ATTACK);
    assert_int_equal(e.bid, 42);
    assert_int_equal(e.rid, rid);
    assert_int_equal(e.u.attack.weapon, 1);
    /* an unknown event type is skipped; the next real event arrives */
    rid = pc_leave(c, 42);
    assert_int_equal(pc_recv(c, &e, 2000), 1);
    assert_int_equal(e.type, PROTO_T_LEFT);
    assert_int_equal(e.rid, rid);
    rid = pc_watch(c, 42);
    assert_int_equal(pc_recv_type(c, PROTO_T_STATE, &e, 2000), 1);
    assert_int_equal(e.type, PROTO_T_ERROR);
    assert_int_equal(e.u.error.code, PROTO_E_NOT_IN_BATTLE);
    assert_int_equal(e.rid, rid);
    /* refused locally: a ship key the protocol does not allow, a bid of 0 */
    assert_int_equal(pc_queue(c, "Not A Key", PROTO_BAND_SHORT), -1);
    assert_int_equal(pc_last_error(c), PROTO_E_BAD_FIELD);
    assert_int_equal(pc_fire(c, 0, 0), -1);
    pc_close(c);
}

static void test_split_addr(void **state)
{
    (void)state;
    char h[PROTO_ADDR_MAX + 1];
    uint16_t port = 0;
    assert_int_equal(pc_split_addr("10.0.0.2:7400", h, &port), 0);
    assert_string_equal(h, "10.0.0.2");
    assert_int_equal(port, 7400);
    assert_int_equal(pc_split_addr("node-b.example:1", h, &port), 0);
    assert_string_equal(h, "node-b.example");
    assert_int_equal(port, 1);
    assert_int_equal(pc_split_addr("[::1]:65535", h, &port), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 65535);
    static const char *const bad[] = {"", "host", "host:", ":80", "host:0", "host:65536", "host:7x",
                                      "host:123456", "::1:80", "[::1]80", "[::1]", "[]:80", "a:b:c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_int_equal(pc_split_addr(bad[i], h, &port), -1);
        assert_int_equal(errno, EINVAL);
    }
    char big[PROTO_ADDR_MAX + 2];
    memset(big, 'h', sizeof big);
    memcpy(big + PROTO_ADDR_MAX - 5, ":7400", 6); /* 64 bytes: fits */
    assert_int_equal(pc_split_addr(big, h, &port), 0);
    memset(big, 'h', sizeof big);
    memcpy(big + PROTO_ADDR_MAX - 4, ":7400", 6); /* 65 bytes */
    assert_int_equal(pc_split_addr(big, h, &port), -1);
}

/* pc_follow: a join answered with `moved` is sent again, unchanged, on a new connection to the
 * named address, after its hello; the reply comes there. */
static void test_follow_moved(void **state)
{
    (void)state;
    pc_conn *c = pc_connect("127.0.0.1", lport, 2000, 0);
    assert_non_null(c);
    static proto_event e, moved;
    assert_true(pc_hello(c, "follower") >= 1);
    assert_int_equal(pc_recv_type(c, PROTO_T_WELCOME, &e, 2000), 1);
    uint8_t key[PROTO_TOKEN_LEN];
    assert_int_equal(pc_new_key(key), 0);
    pthread_mutex_lock(&joins_mu);
    joins_seen = 0;
    pthread_mutex_unlock(&joins_mu);
    int64_t rid = pc_join_key(c, MOVED_BID, "scout", key);
    assert_int_equal(pc_recv(c, &moved, 2000), 1);
    assert_int_equal(moved.type, PROTO_T_MOVED);
    assert_int_equal(moved.rid, rid);
    assert_int_equal(moved.bid, MOVED_BID);
    /* not ours to follow: another rid, another bid, not a moved */
    proto_event other = moved;
    other.rid = (uint32_t)rid + 100;
    assert_null(pc_follow(c, &other, 2000, NULL));
    assert_int_equal(errno, ENOENT);
    other = moved;
    other.bid = MOVED_BID + 1;
    assert_null(pc_follow(c, &other, 2000, NULL));
    assert_int_equal(errno, ENOENT);
    other = moved;
    snprintf(other.u.moved.addr, sizeof other.u.moved.addr, "no-port");
    assert_null(pc_follow(c, &other, 2000, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(pc_follow(c, &e, 2000, NULL)); /* a welcome */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(joins_count(), 1);

    e.type = PROTO_T_NONE;
    pc_conn *n = pc_follow(c, &moved, 2000, &e);
    assert_non_null(n);
    assert_int_equal(e.type, PROTO_T_WELCOME); /* the holder's welcome, for its limits */
    assert_int_equal(pc_recv(n, &e, 2000), 1);
    assert_int_equal(e.type, PROTO_T_CREATED);
    assert_int_equal(e.rid, rid);
    assert_int_equal(e.bid, MOVED_BID);
    assert_int_equal(joins_count(), 2);
    pthread_mutex_lock(&joins_mu);
    assert_memory_equal(&joins[0], &joins[1], sizeof joins[0]); /* the same request, key included */
    pthread_mutex_unlock(&joins_mu);
    /* the old connection still works; the new one's ids go on from it */
    int64_t r2 = pc_ping(n, 5);
    assert_true(r2 > rid);
    assert_int_equal(pc_recv_type(n, PROTO_T_PONG, &e, 2000), 1);
    assert_int_equal(pc_ping(c, 6) > 0, 1);
    assert_int_equal(pc_recv_type(c, PROTO_T_PONG, &e, 2000), 1);
    pc_close(n);
    pc_close(c);
}

static void test_bad_server_frames(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pc_conn *c = pc_from_fd(sv[0], 64);
    static proto_event e;
    static const uint8_t big[] = {0, 0, 1, 0};
    assert_int_equal(write(sv[1], big, sizeof big), 4);
    assert_int_equal(pc_recv(c, &e, 1000), -1);
    assert_int_equal(errno, EPROTO);
    assert_int_equal(pc_last_error(c), PROTO_E_FRAME_TOO_LARGE);
    pc_close(c);
    close(sv[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    c = pc_from_fd(sv[0], 0);
    static const uint8_t notmap[] = {0, 0, 0, 1, 0x90};
    assert_int_equal(write(sv[1], notmap, sizeof notmap), 5);
    assert_int_equal(pc_recv(c, &e, 1000), -1);
    assert_int_equal(pc_last_error(c), PROTO_E_NOT_A_MAP);
    pc_close(c);
    close(sv[1]);
    /* orderly close */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    c = pc_from_fd(sv[0], 0);
    close(sv[1]);
    assert_int_equal(pc_recv(c, &e, 1000), -1);
    assert_int_equal(errno, 0);
    pc_close(c);
}

/* ---- libuv API: many connections on one loop ---- */
#define NCONN 50
static int uv_connected, uv_events, uv_closed, uv_bad;

static void u_on_connect(pcuv_conn *c, int status)
{
    (void)c;
    if (status == 0)
        uv_connected++;
}

static void u_on_event(pcuv_conn *c, const proto_event *ev)
{
    uv_events++;
    if (ev->type == PROTO_T_WELCOME) {
        proto_request r = {.type = PROTO_T_PING};
        r.u.ping.ts = (uint64_t)(uintptr_t)pcuv_user(c);
        if (pcuv_send(c, &r) != 2)
            uv_bad++;
    } else if (ev->type == PROTO_T_PONG) {
        if (ev->rid != 2 || ev->u.pong.ts != (uint64_t)(uintptr_t)pcuv_user(c))
            uv_bad++;
        pcuv_close(c);
    } else {
        uv_bad++;
    }
}

static void u_on_close(pcuv_conn *c, int why)
{
    if (why != 0 || pcuv_get_stats(c)->frames_in != 2 || pcuv_get_stats(c)->frames_out != 2)
        uv_bad++;
    uv_closed++;
}

static void test_libuv_many(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", lport, &a);
    pcuv_callbacks cb = {u_on_connect, u_on_event, u_on_close};
    for (int i = 0; i < NCONN; i++) {
        int err = 0;
        pcuv_conn *c = pcuv_connect(&loop, (struct sockaddr *)&a, &cb, (void *)(uintptr_t)(i + 1000), NULL, &err);
        assert_non_null(c);
        /* queued before the connection is up */
        proto_request r = {.type = PROTO_T_HELLO};
        r.u.hello.version = PROTO_VERSION;
        strcpy(r.u.hello.name, "uv");
        assert_int_equal(pcuv_send(c, &r), 1);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_connected, NCONN);
    assert_int_equal(uv_events, 2 * NCONN);
    assert_int_equal(uv_closed, NCONN);
    assert_int_equal(uv_bad, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A connection refused: on_connect with the error, then on_close with it. */
static int refused_connect, refused_close;
static void r_on_connect(pcuv_conn *c, int status) { (void)c; refused_connect = status; }
static void r_on_close(pcuv_conn *c, int why) { (void)c; refused_close = why; }

static void test_libuv_refused(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s); /* nothing listens on that port now */
    uv_loop_t loop;
    uv_loop_init(&loop);
    pcuv_callbacks cb = {r_on_connect, NULL, r_on_close};
    assert_non_null(pcuv_connect(&loop, (struct sockaddr *)&a, &cb, NULL, NULL, NULL));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(refused_connect, UV_ECONNREFUSED);
    assert_int_equal(refused_close, UV_ECONNREFUSED);
    uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking),
        cmocka_unit_test(test_split_addr),
        cmocka_unit_test(test_follow_moved),
        cmocka_unit_test(test_bad_server_frames),
        cmocka_unit_test(test_libuv_many),
        cmocka_unit_test(test_libuv_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
