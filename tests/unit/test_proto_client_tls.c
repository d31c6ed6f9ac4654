/* proto client library over TLS: the blocking (pc_connect_tls) and libuv (pcuv_opts.tls) APIs
 * against a tiny in-process mbedTLS server thread that answers with our own encoder. Certificates
 * are made at test time: the server's (self-signed, "localhost") and a stranger's, which must not be
 * trusted in its place. Covers verification (right CA, wrong CA, wrong name, insecure), option
 * errors, the handshake deadline, many events in one TLS record (pc_recv with timeout 0 drains them
 * all, so polling the socket afterwards is correct), the server's close_notify, pcuv requests
 * queued before the handshake, and a server hanging up during the handshake. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "proto/client/pc.h"
#include "proto/client/pcuv.h"
#include "proto/codec.h"
#include "proto/frame.h"
#include "proto/tools/samples.h"

#define BURST 60         /* pongs the server sends in one TLS record for a ping with ts BURST_TS */
#define BURST_TS 424242
#define CLOSE_TS 777     /* a ping with this ts makes the server send close_notify */
#define UV_PINGS 300

static char g_cert[4096], g_key[2048], g_other_cert[4096], g_other_key[2048];
static char g_dir[64], g_cert_file[128];
static int g_lfd = -1, g_silent_fd = -1;
static uint16_t g_port, g_silent_port;
static atomic_int g_stop;
static pthread_t g_srv;

static void make_cert(const char *cn, char *cert, size_t clen, char *keyp, size_t klen)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    char subject[64];
    snprintf(subject, sizeof subject, "CN=%s", cn);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0), 0);
    assert_int_equal(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                         mbedtls_ctr_drbg_random, &drbg), 0);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    assert_int_equal(mbedtls_mpi_lset(&serial, 1), 0);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&crt, subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&crt, subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&crt, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20991231235959"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0), 0);
    assert_int_equal(mbedtls_x509write_crt_pem(&crt, (unsigned char *)cert, clen, mbedtls_ctr_drbg_random,
                                               &drbg), 0);
    assert_int_equal(mbedtls_pk_write_key_pem(&key, (unsigned char *)keyp, klen), 0);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
}

/* ---- the fake TLS server: one connection at a time, on its own thread ------------------------ */

typedef struct {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
} srv_tls;

static int tls_write_all(mbedtls_ssl_context *ssl, const uint8_t *p, size_t len)
{
    while (len > 0) {
        int n = mbedtls_ssl_write(ssl, p, len);
        if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static _Atomic int g_joins; /* the first join is answered with moved to this server (by name) */

/* Answers one request; returns -1 to end the connection. */
static int answer(mbedtls_ssl_context *ssl, const proto_request *r)
{
    static uint8_t out[BURST * 64];
    proto_event e;
    size_t len = 0, n;
    switch (r->type) {
    case PROTO_T_JOIN:
        if (atomic_fetch_add(&g_joins, 1) == 0) {
            sample_event(PROTO_T_MOVED, &e);
            snprintf(e.u.moved.addr, sizeof e.u.moved.addr, "localhost:%u", (unsigned)g_port);
        } else {
            sample_event(PROTO_T_LEFT, &e);
        }
        e.bid = r->bid;
        break;
    case PROTO_T_HELLO: sample_event(PROTO_T_WELCOME, &e); break;
    case PROTO_T_PING:
        if (r->u.ping.ts == CLOSE_TS) {
            mbedtls_ssl_close_notify(ssl);
            return -1;
        }
        sample_event(PROTO_T_PONG, &e);
        e.u.pong.ts = r->u.ping.ts;
        break;
    default: sample_event(PROTO_T_LEFT, &e); break;
    }
    e.has_rid = r->has_rid;
    e.rid = r->rid;
    int copies = r->type == PROTO_T_PING && r->u.ping.ts == BURST_TS ? BURST : 1;
    for (int i = 0; i < copies; i++) {
        if (copies > 1)
            e.u.pong.ts = (uint64_t)i;
        if (proto_encode_event(out + len, sizeof out - len, &e, &n) != PROTO_E_OK)
            return -1;
        len += n;
    }
    if (e.type == PROTO_T_MOVED) { /* this server is serial: free it for the follow */
        tls_write_all(ssl, out, len);
        mbedtls_ssl_close_notify(ssl);
        return -1;
    }
    return tls_write_all(ssl, out, len); /* one write: one record for the whole burst */
}

static void serve_one(srv_tls *t, int fd)
{
    mbedtls_net_context net = {.fd = fd};
    mbedtls_ssl_context ssl;
    frame_reader fr;
    mbedtls_ssl_init(&ssl);
    frame_reader_init(&fr, PROTO_FRAME_DEFAULT_MAX);
    if (mbedtls_ssl_setup(&ssl, &t->conf) != 0)
        goto done;
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
    int r;
    while ((r = mbedtls_ssl_handshake(&ssl)) != 0)
        if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
            goto done; /* the client refused us (untrusted) or went away */
    for (;;) {
        uint8_t buf[4096];
        int got = mbedtls_ssl_read(&ssl, buf, sizeof buf);
        if (got == MBEDTLS_ERR_SSL_WANT_READ)
            continue;
        if (got <= 0)
            break;
        const uint8_t *q = buf;
        size_t left = (size_t)got;
        while (left > 0) {
            size_t used;
            const uint8_t *body;
            uint32_t blen;
            proto_error err;
            frame_status st = frame_reader_feed(&fr, q, left, &used, &body, &blen, &err);
            q += used;
            left -= used;
            if (st == FRAME_ERROR)
                goto done;
            if (st != FRAME_READY)
                break;
            proto_request req;
            if (proto_decode_request(body, blen, &req, NULL) == PROTO_E_OK && answer(&ssl, &req) != 0)
                goto done;
        }
    }
done:
    mbedtls_ssl_free(&ssl);
    frame_reader_free(&fr);
    close(fd);
}

static void *serve(void *arg)
{
    (void)arg;
    srv_tls t;
    mbedtls_entropy_init(&t.entropy);
    mbedtls_ctr_drbg_init(&t.drbg);
    mbedtls_ssl_config_init(&t.conf);
    mbedtls_x509_crt_init(&t.crt);
    mbedtls_pk_init(&t.key);
    if (mbedtls_ctr_drbg_seed(&t.drbg, mbedtls_entropy_func, &t.entropy, NULL, 0) != 0 ||
        mbedtls_x509_crt_parse(&t.crt, (const unsigned char *)g_cert, strlen(g_cert) + 1) != 0 ||
        mbedtls_pk_parse_key(&t.key, (const unsigned char *)g_key, strlen(g_key) + 1, NULL, 0) != 0 ||
        mbedtls_ssl_config_defaults(&t.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0 ||
        mbedtls_ssl_conf_own_cert(&t.conf, &t.crt, &t.key) != 0)
        return (void *)1;
    mbedtls_ssl_conf_rng(&t.conf, mbedtls_ctr_drbg_random, &t.drbg);
    while (!atomic_load(&g_stop)) {
        struct pollfd p = {.fd = g_lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(g_lfd, NULL, NULL);
        if (fd >= 0)
            serve_one(&t, fd);
    }
    mbedtls_ssl_config_free(&t.conf);
    mbedtls_x509_crt_free(&t.crt);
    mbedtls_pk_free(&t.key);
    mbedtls_ctr_drbg_free(&t.drbg);
    mbedtls_entropy_free(&t.entropy);
    return NULL;
}

static int listen_any(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int setup(void **state)
{
    (void)state;
    make_cert("localhost", g_cert, sizeof g_cert, g_key, sizeof g_key);
    make_cert("localhost", g_other_cert, sizeof g_other_cert, g_other_key, sizeof g_other_key);
    snprintf(g_dir, sizeof g_dir, "/tmp/battled-pctls-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_cert_file, sizeof g_cert_file, "%s/cert.pem", g_dir);
    FILE *f = fopen(g_cert_file, "w");
    if (!f)
        return -1;
    fputs(g_cert, f);
    fclose(f);
    g_lfd = listen_any(&g_port);
    g_silent_fd = listen_any(&g_silent_port); /* accepts (backlog) but never says a word */
    if (g_lfd < 0 || g_silent_fd < 0)
        return -1;
    return pthread_create(&g_srv, NULL, serve, NULL);
}

static int teardown(void **state)
{
    (void)state;
    atomic_store(&g_stop, 1);
    void *rv = NULL;
    pthread_join(g_srv, &rv);
    close(g_lfd);
    close(g_silent_fd);
    unlink(g_cert_file);
    rmdir(g_dir);
    return rv == NULL ? 0 : -1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- blocking API ---------------------------------------------------------------------------- */

static void hello_welcome(pc_conn *c)
{
    proto_event ev;
    int64_t rid = pc_hello(c, "tls");
    assert_true(rid > 0);
    assert_int_equal(pc_recv(c, &ev, 5000), 1);
    assert_int_equal(ev.type, PROTO_T_WELCOME);
    assert_int_equal(ev.rid, (uint32_t)rid);
}

static void test_verified_session(void **state)
{
    (void)state;
    pc_tls_opts o = {.ca_file = g_cert_file, .server_name = "localhost"};
    pc_conn *c = pc_connect_tls("127.0.0.1", g_port, 5000, 0, &o);
    if (!c)
        fail_msg("pc_connect_tls: %s (%s)", strerror(errno), pc_tls_error());
    assert_true(pc_is_tls(c));
    assert_string_equal(pc_tls_error(), "");
    hello_welcome(c);
    /* A burst of events in one record: after the first arrives, the rest are already decrypted or
     * buffered, and pc_recv with timeout 0 must hand them all out before the socket is polled. */
    assert_true(pc_ping(c, BURST_TS) > 0);
    proto_event ev;
    assert_int_equal(pc_recv(c, &ev, 5000), 1);
    assert_int_equal(ev.u.pong.ts, 0);
    for (uint64_t i = 1; i < BURST; i++) {
        assert_int_equal(pc_recv(c, &ev, 0), 1);
        assert_int_equal(ev.type, PROTO_T_PONG);
        assert_int_equal(ev.u.pong.ts, i);
    }
    assert_int_equal(pc_recv(c, &ev, 0), 0);
    /* A request written in pieces reaches the server as one frame (pc_send_raw is plaintext). */
    uint8_t buf[128];
    size_t len;
    proto_request r = {.type = PROTO_T_PING, .has_rid = true, .rid = 99};
    r.u.ping.ts = 5;
    assert_int_equal(proto_encode_request(buf, sizeof buf, &r, &len), PROTO_E_OK);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(pc_send_raw(c, buf + i, 1), 0);
    assert_int_equal(pc_recv_type(c, PROTO_T_PONG, &ev, 5000), 1);
    assert_int_equal(ev.rid, 99);
    /* The server's close_notify is an orderly close. */
    assert_true(pc_ping(c, CLOSE_TS) > 0);
    errno = 12345;
    assert_int_equal(pc_recv(c, &ev, 5000), -1);
    assert_int_equal(errno, 0);
    assert_int_equal(pc_recv(c, &ev, 0), -1); /* and stays closed */
    pc_close(c);
}

/* A session to "localhost" trusting the CA given in memory, past its welcome. server_name is NULL:
 * the host argument is the name checked. */
static pc_conn *connect_by_name(void)
{
    pc_tls_opts o = {.ca_pem = g_cert};
    pc_conn *c = pc_connect_tls("localhost", g_port, 5000, 0, &o);
    if (!c)
        fail_msg("pc_connect_tls: %s (%s)", strerror(errno), pc_tls_error());
    hello_welcome(c);
    return c;
}

static void test_ca_in_memory_and_host_as_name(void **state)
{
    (void)state;
    pc_close(connect_by_name());
}

/* pc_follow over TLS: the new connection is TLS too, trusting the same CA, and checks the name of
 * the node moved names (server_name was the host). */
static void test_follow_moved_keeps_tls(void **state)
{
    (void)state;
    pc_conn *c = connect_by_name();
    atomic_store(&g_joins, 0);
    int64_t rid = pc_join(c, 42, "scout");
    proto_event moved, ev;
    assert_int_equal(pc_recv(c, &moved, 5000), 1);
    assert_int_equal(moved.type, PROTO_T_MOVED);
    pc_conn *n = pc_follow(c, &moved, 5000, &ev);
    if (!n)
        fail_msg("pc_follow: %s (%s)", strerror(errno), pc_tls_error());
    assert_true(pc_is_tls(n));
    assert_int_equal(ev.type, PROTO_T_WELCOME);
    assert_int_equal(pc_recv(n, &ev, 5000), 1);
    assert_int_equal(ev.type, PROTO_T_LEFT); /* this fake's answer to the second join */
    assert_int_equal(ev.rid, rid);
    assert_int_equal(ev.bid, 42);
    pc_close(n);
    pc_close(c);
}

static void test_untrusted_certificate_is_refused(void **state)
{
    (void)state;
    /* The right name on a certificate signed by someone else. */
    pc_tls_opts o = {.ca_pem = g_other_cert, .server_name = "localhost"};
    errno = 0;
    assert_null(pc_connect_tls("127.0.0.1", g_port, 5000, 0, &o));
    assert_int_equal(errno, EACCES);
    assert_non_null(strstr(pc_tls_error(), "not trusted"));
    /* The right certificate for another name. */
    o = (pc_tls_opts){.ca_pem = g_cert, .server_name = "battled.example"};
    errno = 0;
    assert_null(pc_connect_tls("127.0.0.1", g_port, 5000, 0, &o));
    assert_int_equal(errno, EACCES);
    assert_non_null(strstr(pc_tls_error(), "not trusted"));
    /* An IP address as the name: mbedTLS matches DNS names only (see pctls.h). */
    o = (pc_tls_opts){.ca_pem = g_cert};
    assert_null(pc_connect_tls("127.0.0.1", g_port, 5000, 0, &o));
    assert_int_equal(errno, EACCES);
    /* insecure accepts anything, without a CA. */
    o = (pc_tls_opts){.insecure = true};
    pc_conn *c = pc_connect_tls("127.0.0.1", g_port, 5000, 0, &o);
    assert_non_null(c);
    hello_welcome(c);
    pc_close(c);
}

static void test_bad_options(void **state)
{
    (void)state;
    assert_null(pc_connect_tls("127.0.0.1", g_port, 5000, 0, NULL));
    assert_int_equal(errno, EINVAL);
    pc_tls_opts o = {.server_name = "localhost"}; /* verifying without a CA */
    assert_null(pc_connect_tls("127.0.0.1", g_port, 5000, 0, &o));
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(pc_tls_error(), "CA"));
    o = (pc_tls_opts){.ca_file = "/nonexistent/ca.pem", .server_name = "localhost"};
    assert_null(pc_connect_tls("127.0.0.1", g_port, 5000, 0, &o));
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(pc_tls_error(), "/nonexistent/ca.pem"));
    o = (pc_tls_opts){.ca_pem = "not a certificate", .server_name = "localhost"};
    assert_null(pc_connect_tls("127.0.0.1", g_port, 5000, 0, &o));
    assert_int_equal(errno, EINVAL);
    /* A shared config needs a name to verify (pcuv has no host to fall back on). */
    char why[PC_TLS_ERR_MAX];
    o = (pc_tls_opts){.ca_pem = g_cert};
    assert_null(pc_tls_config_new(&o, why, sizeof why));
    assert_non_null(strstr(why, "server_name"));
    o.server_name = "localhost";
    pc_tls_config *cfg = pc_tls_config_new(&o, why, sizeof why);
    assert_non_null(cfg);
    pc_tls_config_free(cfg);
    pc_tls_config_free(NULL);
}

static void test_handshake_deadline(void **state)
{
    (void)state;
    /* The TCP connect succeeds (the kernel's backlog) but no ServerHello ever comes. */
    pc_tls_opts o = {.insecure = true};
    uint64_t t0 = now_ms();
    assert_null(pc_connect_tls("127.0.0.1", g_silent_port, 300, 0, &o));
    assert_int_equal(errno, ETIMEDOUT);
    uint64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 3000);
}

/* ---- libuv API ------------------------------------------------------------------------------- */

static int u_connected, u_status, u_pongs, u_bad, u_closed, u_why;
static uint32_t u_next_ts;
static char u_text[PC_TLS_ERR_MAX];

static void u_on_connect(pcuv_conn *c, int status)
{
    u_connected++;
    u_status = status;
    snprintf(u_text, sizeof u_text, "%s", pcuv_tls_error(c));
    if (status == 0 && !pcuv_is_tls(c))
        u_bad++;
}

static void u_on_event(pcuv_conn *c, const proto_event *ev)
{
    if (ev->type == PROTO_T_WELCOME) {
        /* A burst of pings, encrypted together into few records. */
        for (uint32_t i = 0; i < UV_PINGS; i++) {
            proto_request r = {.type = PROTO_T_PING};
            r.u.ping.ts = i + 1;
            if (pcuv_send(c, &r) < 0)
                u_bad++;
        }
        return;
    }
    if (ev->type != PROTO_T_PONG || ev->u.pong.ts != ++u_next_ts)
        u_bad++;
    if (++u_pongs == UV_PINGS)
        pcuv_close(c);
}

static void u_on_close(pcuv_conn *c, int why)
{
    (void)c;
    u_closed++;
    u_why = why;
}

static void run_uv(const pc_tls_config *cfg, uint16_t port)
{
    u_connected = u_pongs = u_bad = u_closed = 0;
    u_status = u_why = 1;
    u_next_ts = 0;
    u_text[0] = '\0';
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    pcuv_callbacks cb = {u_on_connect, u_on_event, u_on_close};
    pcuv_opts o = {.tls = cfg};
    int err = 0;
    pcuv_conn *c = pcuv_connect(&loop, (struct sockaddr *)&a, &cb, NULL, &o, &err);
    assert_non_null(c);
    /* Queued before the TCP connect and the handshake. */
    proto_request r = {.type = PROTO_T_HELLO};
    r.u.hello.version = PROTO_VERSION;
    strcpy(r.u.hello.name, "uv-tls");
    assert_int_equal(pcuv_send(c, &r), 1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_libuv_tls(void **state)
{
    (void)state;
    char why[PC_TLS_ERR_MAX];
    pc_tls_opts to = {.ca_file = g_cert_file, .server_name = "localhost"};
    pc_tls_config *cfg = pc_tls_config_new(&to, why, sizeof why);
    if (!cfg)
        fail_msg("%s", why);
    run_uv(cfg, g_port);
    assert_int_equal(u_connected, 1);
    assert_int_equal(u_status, 0);
    assert_string_equal(u_text, "");
    assert_int_equal(u_pongs, UV_PINGS);
    assert_int_equal(u_bad, 0);
    assert_int_equal(u_closed, 1);
    assert_int_equal(u_why, 0);
    pc_tls_config_free(cfg);
}

static void test_libuv_untrusted(void **state)
{
    (void)state;
    char why[PC_TLS_ERR_MAX];
    pc_tls_opts to = {.ca_pem = g_other_cert, .server_name = "localhost"};
    pc_tls_config *cfg = pc_tls_config_new(&to, why, sizeof why);
    assert_non_null(cfg);
    run_uv(cfg, g_port);
    assert_int_equal(u_connected, 1);
    assert_int_equal(u_status, UV_EACCES);
    assert_non_null(strstr(u_text, "not trusted"));
    assert_int_equal(u_pongs, 0);
    assert_int_equal(u_closed, 1);
    assert_int_equal(u_why, UV_EACCES);
    pc_tls_config_free(cfg);
}

/* A server that hangs up during the handshake (as battled does over its connection cap): the
 * client hears it in on_connect, then on_close. */
static void hangup_closed(uv_handle_t *h)
{
    free(h);
}

static void hangup_on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *t = malloc(sizeof *t);
    assert_non_null(t);
    uv_tcp_init(server->loop, t);
    (void)uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, hangup_closed);
    uv_close((uv_handle_t *)server, NULL);
}

static void test_libuv_hangup_during_handshake(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_tcp_t server;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_init(&loop, &server), 0);
    assert_int_equal(uv_tcp_bind(&server, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 4, hangup_on_connection), 0);
    int alen = sizeof a;
    assert_int_equal(uv_tcp_getsockname(&server, (struct sockaddr *)&a, &alen), 0);
    char why[PC_TLS_ERR_MAX];
    pc_tls_opts to = {.insecure = true};
    pc_tls_config *cfg = pc_tls_config_new(&to, why, sizeof why);
    assert_non_null(cfg);
    u_connected = u_closed = 0;
    u_status = u_why = 1;
    pcuv_callbacks cb = {u_on_connect, u_on_event, u_on_close};
    pcuv_opts o = {.tls = cfg};
    assert_non_null(pcuv_connect(&loop, (struct sockaddr *)&a, &cb, NULL, &o, NULL));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(u_connected, 1);
    assert_true(u_status == UV_EOF || u_status == UV_ECONNRESET);
    assert_int_equal(u_closed, 1);
    assert_int_equal(u_why, u_status);
    assert_int_equal(uv_loop_close(&loop), 0);
    pc_tls_config_free(cfg);
}

int main(void)
{
    /* The fake server writes with mbedtls_net_send (plain write()) to clients that hang up. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verified_session),
        cmocka_unit_test(test_ca_in_memory_and_host_as_name),
        cmocka_unit_test(test_follow_moved_keeps_tls),
        cmocka_unit_test(test_untrusted_certificate_is_refused),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_handshake_deadline),
        cmocka_unit_test(test_libuv_tls),
        cmocka_unit_test(test_libuv_untrusted),
        cmocka_unit_test(test_libuv_hangup_during_handshake),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
