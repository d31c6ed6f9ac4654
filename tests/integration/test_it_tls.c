/* Integration: the TLS game port (tls.listen) of the real battled binary, spoken to by an mbedTLS
 * client that verifies the server's certificate. The certificate is made at test time with mbedTLS
 * (a self-signed ECDSA P-256 pair for "localhost"). Covers: hello and a whole solo battle over TLS,
 * many handshakes at once with tls.max_handshakes_per_pass = 1 (deferred to later loop passes), a
 * clear-text client on the TLS port, and the handshake timeout; `openssl s_client` (another TLS
 * stack) verifying the certificate and exchanging a piped hello for a welcome (issue 7); a TLS
 * connection over server.max_connections closed before its handshake. Run with --shards 1 and
 * --shards 4. */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "proto/frame.h"
#include "tests/integration/itest.h"

static char g_dir[64];
static char g_cert_path[128], g_key_path[128];
static unsigned char g_cert_pem[4096];

static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;

static void make_cert(void)
{
    mbedtls_pk_context key;
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    assert_int_equal(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                         mbedtls_ctr_drbg_random, &g_drbg), 0);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    assert_int_equal(mbedtls_mpi_lset(&serial, 1), 0);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&crt, "CN=localhost"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&crt, "CN=localhost"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&crt, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20991231235959"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0), 0);
    assert_int_equal(mbedtls_x509write_crt_pem(&crt, g_cert_pem, sizeof g_cert_pem,
                                               mbedtls_ctr_drbg_random, &g_drbg), 0);
    unsigned char key_pem[2048];
    assert_int_equal(mbedtls_pk_write_key_pem(&key, key_pem, sizeof key_pem), 0);
    FILE *f = fopen(g_cert_path, "w");
    assert_non_null(f);
    fputs((const char *)g_cert_pem, f);
    fclose(f);
    f = fopen(g_key_path, "w");
    assert_non_null(f);
    fputs((const char *)key_pem, f);
    fclose(f);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
}

/* ---- a small blocking TLS client --------------------------------------------------------- */

typedef struct {
    mbedtls_entropy_context entropy; /* per client: ctr_drbg is not thread-safe */
    mbedtls_ctr_drbg_context drbg;
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    frame_reader fr;
    uint8_t buf[8192];
    size_t have, off;
} tcli;

static uint16_t tls_port(const itest_server *s)
{
    char path[200];
    snprintf(path, sizeof path, "%s/port", s->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned p1 = 0, p2 = 0;
    assert_int_equal(fscanf(f, "%u %u", &p1, &p2), 2);
    fclose(f);
    return (uint16_t)p2;
}

static void tcli_close(tcli *c);

/* Connects and completes the handshake (verifying the certificate); NULL when it fails. */
static tcli *tcli_connect(uint16_t port)
{
    tcli *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    mbedtls_net_init(&c->net);
    mbedtls_ssl_init(&c->ssl);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->ca);
    frame_reader_init(&c->fr, PROTO_FRAME_HARD_MAX);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
    if (mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, NULL, 0) != 0)
        goto fail;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    if (mbedtls_x509_crt_parse(&c->ca, g_cert_pem, strlen((char *)g_cert_pem) + 1) != 0 ||
        mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        goto fail;
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_read_timeout(&c->conf, ITEST_WAIT_MS);
    if (mbedtls_ssl_setup(&c->ssl, &c->conf) != 0 ||
        mbedtls_ssl_set_hostname(&c->ssl, "localhost") != 0)
        goto fail;
    if (mbedtls_net_connect(&c->net, "127.0.0.1", ps, MBEDTLS_NET_PROTO_TCP) != 0)
        goto fail;
    mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
    int r;
    while ((r = mbedtls_ssl_handshake(&c->ssl)) != 0)
        if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
            goto fail;
    if (mbedtls_ssl_get_verify_result(&c->ssl) != 0)
        goto fail;
    return c;
fail:
    tcli_close(c); /* no close_notify before a finished handshake */
    return NULL;
}

static void tcli_close(tcli *c)
{
    if (!c)
        return;
    mbedtls_ssl_close_notify(&c->ssl);
    mbedtls_net_free(&c->net);
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    frame_reader_free(&c->fr);
    free(c);
}

static void tcli_send(tcli *c, const proto_request *r)
{
    uint8_t buf[512];
    size_t len = 0;
    assert_int_equal(proto_encode_request(buf, sizeof buf, r, &len), PROTO_E_OK);
    size_t off = 0;
    while (off < len) {
        int n = mbedtls_ssl_write(&c->ssl, buf + off, len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
}

/* Next event: 1, or -1 when the connection ended (close_notify, reset or timeout). */
static int tcli_recv(tcli *c, proto_event *ev)
{
    for (;;) {
        if (c->off < c->have) {
            size_t used = 0;
            const uint8_t *body = NULL;
            uint32_t blen = 0;
            proto_error err = PROTO_E_OK;
            frame_status st = frame_reader_feed(&c->fr, c->buf + c->off, c->have - c->off, &used,
                                                &body, &blen, &err);
            c->off += used;
            if (st == FRAME_ERROR)
                return -1;
            if (st == FRAME_READY) {
                return proto_decode_event(body, blen, ev, NULL) == PROTO_E_OK ? 1 : -1;
            }
        }
        int n = mbedtls_ssl_read(&c->ssl, c->buf, sizeof c->buf);
        if (n == MBEDTLS_ERR_SSL_WANT_READ)
            continue;
        if (n <= 0)
            return -1;
        c->have = (size_t)n;
        c->off = 0;
    }
}

static void tcli_expect(tcli *c, int type, proto_event *ev)
{
    for (;;) {
        if (tcli_recv(c, ev) != 1)
            fail_msg("tls: waiting for %s: connection ended", proto_type_name(type));
        if (ev->type == PROTO_T_ERROR && type != PROTO_T_ERROR)
            fail_msg("tls: waiting for %s: error %s", proto_type_name(type),
                     proto_error_name(ev->u.error.code));
        if (ev->type == type)
            return;
    }
}

static void tcli_hello(tcli *c)
{
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_HELLO;
    r.u.hello.version = PROTO_VERSION;
    strcpy(r.u.hello.name, "tls");
    tcli_send(c, &r);
    proto_event ev;
    tcli_expect(c, PROTO_T_WELCOME, &ev);
}

/* ---- tests ------------------------------------------------------------------------------- */

static itest_server g_srv;

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/battled-tls-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_cert_path, sizeof g_cert_path, "%s/cert.pem", g_dir);
    snprintf(g_key_path, sizeof g_key_path, "%s/key.pem", g_dir);
    mbedtls_entropy_init(&g_entropy);
    mbedtls_ctr_drbg_init(&g_drbg);
    if (mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy, NULL, 0) != 0)
        return -1;
    make_cert();
    static char set_cert[200], set_key[200];
    snprintf(set_cert, sizeof set_cert, "tls.cert=%s", g_cert_path);
    snprintf(set_key, sizeof set_key, "tls.key=%s", g_key_path);
    const char *sets[] = {"tls.listen=127.0.0.1:0", set_cert, set_key, "game.ai_think_ms=0",
                          "tls.handshake_timeout_ms=2000", "tls.max_handshakes_per_pass=1", NULL};
    return itest_start(&g_srv, sets) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_finish(&g_srv, 10000);
    unlink(g_cert_path);
    unlink(g_key_path);
    rmdir(g_dir);
    mbedtls_ctr_drbg_free(&g_drbg);
    mbedtls_entropy_free(&g_entropy);
    return rc == 0 ? 0 : -1;
}

static void test_solo_battle_over_tls(void **state)
{
    (void)state;
    tcli *c = tcli_connect(tls_port(&g_srv));
    assert_non_null(c);
    tcli_hello(c);
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_CREATE;
    strcpy(r.u.create.ship, "free_trader");
    r.u.create.band = PROTO_BAND_ADJACENT;
    r.u.create.vs = PROTO_VS_AI;
    strcpy(r.u.create.oship, "scout");
    tcli_send(c, &r);
    proto_event ev;
    tcli_expect(c, PROTO_T_STARTED, &ev);
    itest_player p;
    itest_player_init(&p, NULL); /* this test reads and writes through its own TLS client */
    itest_take_started(&p, &ev);
    uint64_t end = itest_now_ms() + 20000;
    while (!p.t.ended) {
        assert_true(itest_now_ms() < end);
        if (p.t.active == p.t.seat && p.fired_round != p.t.round) {
            p.fired_round = p.t.round;
            memset(&r, 0, sizeof r);
            r.type = PROTO_T_FIRE;
            r.bid = p.t.bid;
            tcli_send(c, &r);
        }
        assert_int_equal(tcli_recv(c, &ev), 1);
        itest_track(&p, &ev);
    }
    assert_true(p.t.end.reason == PROTO_END_DESTROYED || p.t.end.reason == PROTO_END_DRAW);
    for (uint32_t i = 1; i < p.nseq; i++)
        assert_int_equal(p.seqs[i], p.seqs[i - 1] + 1);
    tcli_close(c);
}

static void *handshake_thread(void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    tcli *c = tcli_connect(port);
    if (!c)
        return (void *)1;
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_HELLO;
    r.u.hello.version = PROTO_VERSION;
    strcpy(r.u.hello.name, "many");
    uint8_t buf[128];
    size_t len = 0;
    if (proto_encode_request(buf, sizeof buf, &r, &len) != PROTO_E_OK ||
        mbedtls_ssl_write(&c->ssl, buf, len) != (int)len)
        return (void *)2;
    proto_event ev;
    int ok = tcli_recv(c, &ev) == 1 && ev.type == PROTO_T_WELCOME;
    tcli_close(c);
    return ok ? NULL : (void *)3;
}

static void test_many_handshakes_at_once(void **state)
{
    (void)state;
    /* With one handshake step per loop pass, the rest wait for later passes; all must finish. */
    enum { N = 8 };
    uint16_t port = tls_port(&g_srv);
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, handshake_thread, &port), 0);
    for (int i = 0; i < N; i++) {
        void *rv = (void *)1;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
}

static void test_clear_text_on_tls_port_is_closed(void **state)
{
    (void)state;
    pc_conn *c = pc_connect("127.0.0.1", tls_port(&g_srv), ITEST_WAIT_MS, 0);
    assert_non_null(c);
    assert_true(pc_hello(c, "plain") > 0);
    assert_true(itest_wait_closed(c, ITEST_WAIT_MS));
    pc_close(c);
    /* Silence on the TLS port: closed after tls.handshake_timeout_ms. */
    uint64_t t0 = itest_now_ms();
    c = pc_connect("127.0.0.1", tls_port(&g_srv), ITEST_WAIT_MS, 0);
    assert_non_null(c);
    assert_true(itest_wait_closed(c, ITEST_WAIT_MS));
    assert_true(itest_now_ms() - t0 >= 1900);
    pc_close(c);
    /* The clear-text port is unaffected. */
    pc_conn *d = itest_client(&g_srv, "plain");
    pc_close(d);
}

static bool have_openssl(void)
{
    return system("openssl version >/dev/null 2>&1") == 0;
}

/* Runs `openssl s_client` against the TLS port with our certificate as its only trust anchor and
 * the hostname checked; pipes one framed hello into it and reads a frame back from its stdout.
 * Returns the decoded event's type, or -1 (s_client failed, e.g. verification, or no frame). */
static int s_client_hello(uint16_t port, const char *ca_path, char *err, size_t errlen)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%u", port);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        itest_child_dies_with(parent);
        dup2(in[0], 0);
        dup2(out[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        close(in[1]);
        close(out[0]);
        signal(SIGPIPE, SIG_DFL);
        /* -quiet: only application data on stdout; -nocommands: a byte like 'Q' or 'R' at the start
         * of a read is data, not a command; -verify_return_error: an untrusted server ends it. */
        execlp("openssl", "openssl", "s_client", "-connect", connect, "-CAfile", ca_path,
               "-verify_return_error", "-verify_hostname", "localhost", "-servername", "localhost",
               "-quiet", "-nocommands", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_HELLO;
    r.has_rid = true;
    r.rid = 7;
    r.u.hello.version = PROTO_VERSION;
    strcpy(r.u.hello.name, "s_client");
    uint8_t buf[4096];
    size_t len = 0;
    assert_int_equal(proto_encode_request(buf, sizeof buf, &r, &len), PROTO_E_OK);
    assert_int_equal(write(in[1], buf, len), (ssize_t)len);
    /* stdin stays open until the reply is read: s_client sends after its handshake. */
    frame_reader fr;
    frame_reader_init(&fr, PROTO_FRAME_HARD_MAX);
    int type = -1;
    uint64_t end = itest_now_ms() + ITEST_WAIT_MS;
    snprintf(err, errlen, "no reply within %d ms", ITEST_WAIT_MS);
    while (type < 0 && itest_now_ms() < end) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = read(out[0], buf, sizeof buf);
        if (n <= 0) {
            snprintf(err, errlen, "s_client ended without a reply (handshake or verification failed)");
            break;
        }
        size_t off = 0;
        while (off < (size_t)n && type < 0) {
            size_t used = 0;
            const uint8_t *body = NULL;
            uint32_t blen = 0;
            proto_error e = PROTO_E_OK;
            frame_status st = frame_reader_feed(&fr, buf + off, (size_t)n - off, &used, &body, &blen, &e);
            off += used;
            if (st == FRAME_ERROR) {
                snprintf(err, errlen, "bad frame from s_client's output: %s", proto_error_name(e));
                off = (size_t)n;
                end = 0;
                break;
            }
            if (st == FRAME_MORE)
                break;
            proto_event ev;
            if (proto_decode_event(body, blen, &ev, NULL) == PROTO_E_OK && ev.rid == 7)
                type = ev.type;
        }
    }
    frame_reader_free(&fr);
    close(in[1]);
    close(out[0]);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    return type;
}

static void test_openssl_s_client_hello(void **state)
{
    (void)state;
    if (!have_openssl()) {
        print_message("openssl is not installed: s_client test skipped\n");
        skip();
    }
    char err[200];
    int type = s_client_hello(tls_port(&g_srv), g_cert_path, err, sizeof err);
    if (type != PROTO_T_WELCOME)
        fail_msg("s_client: %s", type < 0 ? err : proto_type_name(type));
    /* Trusting another certificate, s_client refuses the server: no reply. */
    char other_dir[64], other_path[128];
    snprintf(other_dir, sizeof other_dir, "/tmp/battled-tls-other-XXXXXX");
    assert_non_null(mkdtemp(other_dir));
    snprintf(other_path, sizeof other_path, "%s/cert.pem", other_dir);
    char cmd[400];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=localhost -keyout %s/key.pem -out %s >/dev/null 2>&1",
             other_dir, other_path);
    assert_int_equal(system(cmd), 0);
    type = s_client_hello(tls_port(&g_srv), other_path, err, sizeof err);
    unlink(other_path);
    snprintf(cmd, sizeof cmd, "%s/key.pem", other_dir);
    unlink(cmd);
    rmdir(other_dir);
    assert_int_equal(type, -1);
}

/* Over server.max_connections a TLS connection is closed before its handshake (a refusal frame
 * would need the handshake the cap saves); the connections inside the cap carry on. */
static void test_connection_cap_over_tls(void **state)
{
    (void)state;
    itest_server srv;
    char set_cert[200], set_key[200];
    snprintf(set_cert, sizeof set_cert, "tls.cert=%s", g_cert_path);
    snprintf(set_key, sizeof set_key, "tls.key=%s", g_key_path);
    const char *sets[] = {"tls.listen=127.0.0.1:0", set_cert, set_key, "server.max_connections=2", NULL};
    assert_true(itest_start(&srv, sets));
    uint16_t port = tls_port(&srv);
    tcli *a = tcli_connect(port), *b = tcli_connect(port);
    assert_non_null(a);
    assert_non_null(b);
    tcli_hello(a);
    tcli_hello(b);
    uint64_t t0 = itest_now_ms();
    tcli *x = tcli_connect(port);
    assert_null(x);
    assert_true(itest_now_ms() - t0 < ITEST_WAIT_MS / 2); /* closed by the server, not timed out */
    tcli_close(x);
    proto_request r;
    memset(&r, 0, sizeof r);
    r.type = PROTO_T_PING;
    r.u.ping.ts = 31;
    tcli_send(a, &r);
    proto_event ev;
    tcli_expect(a, PROTO_T_PONG, &ev);
    assert_int_equal(ev.u.pong.ts, 31);
    tcli_close(a);
    tcli_close(b);
    assert_int_equal(itest_finish(&srv, 10000), 0);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solo_battle_over_tls),
        cmocka_unit_test(test_many_handshakes_at_once),
        cmocka_unit_test(test_clear_text_on_tls_port_is_closed),
        cmocka_unit_test(test_openssl_s_client_hello),
        cmocka_unit_test(test_connection_cap_over_tls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
