/* Unit tests for net/tls: a real mbedTLS client talks to our server side through
 * in-memory pipes, so handshakes, fragmentation and refusals run with no sockets. The
 * certificate is made at test time with mbedTLS's own key and x509 writers. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "net/tls.h"

#define PIPE_CAP (256 * 1024)
#define PEM_CAP 4096

struct pipe {
    unsigned char buf[PIPE_CAP];
    size_t head, len;
};

/* One client (mbedTLS) and one server (tls_conn) joined by two byte pipes. */
struct duo {
    tls_conn *srv;
    mbedtls_ssl_context cli;
    mbedtls_ssl_config cli_conf;
    struct pipe c2s, s2c;
    unsigned char srv_rx[PIPE_CAP];
    size_t srv_rx_len;
    long srv_err;   /* first negative result from the server side */
    int cli_err;    /* first fatal mbedTLS code on the client side */
    bool cli_hs_done;
};

static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;
static char g_cert[PEM_CAP], g_key[PEM_CAP], g_other_key[PEM_CAP];
static mbedtls_x509_crt g_ca;
static tls_ctx *g_ctx;
/* What duo_new() connects to and trusts; normally g_ctx and g_ca. */
static tls_ctx *g_srv_ctx;
static mbedtls_x509_crt *g_trust;

static int make_key(mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
        return -1;
    return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                               mbedtls_ctr_drbg_random, &g_drbg);
}

static char g_big_cert[4 * PEM_CAP + 16384];

/* A self-signed ECDSA P-256 certificate for CN=localhost and its key, as PEM; also the same
 * key in a certificate padded with a 10 KB private extension, whose Certificate message
 * cannot fit in TLS_CONN_OUT_CAP. */
static int make_cert(void)
{
    mbedtls_pk_context key, other;
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    int r = -1;
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    if (make_key(&key) != 0 || make_key(&other) != 0)
        goto out;
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_mpi_lset(&serial, 1);
    if (mbedtls_x509write_crt_set_subject_name(&crt, "CN=localhost") != 0 ||
        mbedtls_x509write_crt_set_issuer_name(&crt, "CN=localhost") != 0 ||
        mbedtls_x509write_crt_set_serial(&crt, &serial) != 0 ||
        mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20991231235959") != 0 ||
        mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0) != 0)
        goto out;
    if (mbedtls_x509write_crt_pem(&crt, (unsigned char *)g_cert, sizeof g_cert,
                                  mbedtls_ctr_drbg_random, &g_drbg) != 0 ||
        mbedtls_pk_write_key_pem(&key, (unsigned char *)g_key, sizeof g_key) != 0 ||
        mbedtls_pk_write_key_pem(&other, (unsigned char *)g_other_key, sizeof g_other_key) != 0)
        goto out;
    static const unsigned char oid[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8D, 0x1F, 0x01};
    static unsigned char pad[10000];
    memset(pad, 'p', sizeof pad);
    if (mbedtls_x509write_crt_set_extension(&crt, (const char *)oid, sizeof oid, 0, pad,
                                            sizeof pad) != 0 ||
        mbedtls_x509write_crt_pem(&crt, (unsigned char *)g_big_cert, sizeof g_big_cert,
                                  mbedtls_ctr_drbg_random, &g_drbg) != 0)
        goto out;
    r = 0;
out:
    mbedtls_pk_free(&key);
    mbedtls_pk_free(&other);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_mpi_free(&serial);
    return r;
}

static int group_setup(void **state)
{
    mbedtls_entropy_init(&g_entropy);
    mbedtls_ctr_drbg_init(&g_drbg);
    mbedtls_x509_crt_init(&g_ca);
    if (mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy, NULL, 0) != 0)
        return -1;
    if (make_cert() != 0)
        return -1;
    if (mbedtls_x509_crt_parse(&g_ca, (const unsigned char *)g_cert, strlen(g_cert) + 1) != 0)
        return -1;
    char err[TLS_ERR_MAX];
    g_ctx = tls_ctx_new_pem(g_cert, strlen(g_cert), g_key, strlen(g_key), err, sizeof err);
    if (!g_ctx) {
        fprintf(stderr, "tls_ctx_new_pem: %s\n", err);
        return -1;
    }
    g_srv_ctx = g_ctx;
    g_trust = &g_ca;
    return 0;
}

static int group_teardown(void **state)
{
    tls_ctx_free(g_ctx);
    mbedtls_x509_crt_free(&g_ca);
    mbedtls_ctr_drbg_free(&g_drbg);
    mbedtls_entropy_free(&g_entropy);
    return 0;
}

static int pipe_put(struct pipe *p, const unsigned char *buf, size_t len)
{
    if (p->head > 0) {
        memmove(p->buf, p->buf + p->head, p->len - p->head);
        p->len -= p->head;
        p->head = 0;
    }
    size_t room = PIPE_CAP - p->len;
    size_t n = len < room ? len : room;
    memcpy(p->buf + p->len, buf, n);
    p->len += n;
    return (int)n;
}

static int cli_send(void *arg, const unsigned char *buf, size_t len)
{
    struct duo *d = arg;
    int n = pipe_put(&d->c2s, buf, len);
    return n > 0 ? n : MBEDTLS_ERR_SSL_WANT_WRITE;
}

static int cli_recv(void *arg, unsigned char *buf, size_t len)
{
    struct duo *d = arg;
    size_t avail = d->s2c.len - d->s2c.head;
    if (avail == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < avail ? len : avail;
    memcpy(buf, d->s2c.buf + d->s2c.head, n);
    d->s2c.head += n;
    return (int)n;
}

/* Client options: max_minor caps the protocol version, suites restricts the offer. */
static struct duo *duo_new(int max_minor, const int *suites)
{
    struct duo *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->srv = tls_conn_new(g_srv_ctx);
    assert_non_null(d->srv);
    mbedtls_ssl_init(&d->cli);
    mbedtls_ssl_config_init(&d->cli_conf);
    assert_int_equal(mbedtls_ssl_config_defaults(&d->cli_conf, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT), 0);
    mbedtls_ssl_conf_rng(&d->cli_conf, mbedtls_ctr_drbg_random, &g_drbg);
    mbedtls_ssl_conf_authmode(&d->cli_conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&d->cli_conf, g_trust, NULL);
    mbedtls_ssl_conf_min_version(&d->cli_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_1);
    mbedtls_ssl_conf_max_version(&d->cli_conf, MBEDTLS_SSL_MAJOR_VERSION_3, max_minor);
    if (suites)
        mbedtls_ssl_conf_ciphersuites(&d->cli_conf, suites);
    assert_int_equal(mbedtls_ssl_setup(&d->cli, &d->cli_conf), 0);
    assert_int_equal(mbedtls_ssl_set_hostname(&d->cli, "localhost"), 0);
    mbedtls_ssl_set_bio(&d->cli, d, cli_send, cli_recv, NULL);
    return d;
}

static void duo_free(struct duo *d)
{
    tls_conn_free(d->srv);
    mbedtls_ssl_free(&d->cli);
    mbedtls_ssl_config_free(&d->cli_conf);
    free(d);
}

static void srv_note(struct duo *d, long r)
{
    if (r < 0 && d->srv_err == 0)
        d->srv_err = r;
}

/* Drains decrypted bytes out of the server into srv_rx. */
static bool srv_read_all(struct duo *d)
{
    bool moved = false;
    for (;;) {
        long n = tls_conn_read(d->srv, d->srv_rx + d->srv_rx_len, sizeof d->srv_rx - d->srv_rx_len);
        if (n <= 0) {
            srv_note(d, n);
            return moved;
        }
        d->srv_rx_len += (size_t)n;
        moved = true;
    }
}

/* Moves bytes both ways, at most `chunk` per hop, until nothing moves any more. The
 * server side is driven only through the tls.h API, as the network thread would. */
static void pump(struct duo *d, size_t chunk)
{
    for (int rounds = 0; rounds < 1000000; rounds++) {
        bool moved = false;
        if (!d->cli_hs_done && d->cli_err == 0) {
            int r = mbedtls_ssl_handshake(&d->cli);
            if (r == 0)
                d->cli_hs_done = true;
            else if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
                d->cli_err = r;
        }
        size_t avail = d->c2s.len - d->c2s.head;
        if (avail > 0 && !tls_conn_failed(d->srv)) {
            long k = tls_conn_feed(d->srv, d->c2s.buf + d->c2s.head, avail < chunk ? avail : chunk);
            srv_note(d, k);
            if (k > 0) {
                d->c2s.head += (size_t)k;
                moved = true;
            }
            if (srv_read_all(d))
                moved = true;
        }
        const void *p;
        size_t n = tls_conn_pending(d->srv, &p);
        if (n > 0) {
            size_t take = n < chunk ? n : chunk;
            size_t put = (size_t)pipe_put(&d->s2c, p, take);
            tls_conn_consume(d->srv, put);
            moved = moved || put > 0;
        }
        if (!moved)
            return;
    }
    fail_msg("pump did not settle");
}

/* Reads everything the client can decrypt into out; returns the byte count. */
static size_t cli_read_all(struct duo *d, unsigned char *out, size_t cap)
{
    size_t got = 0;
    for (;;) {
        int r = mbedtls_ssl_read(&d->cli, out + got, cap - got);
        if (r <= 0) {
            if (r != MBEDTLS_ERR_SSL_WANT_READ && r != 0 && d->cli_err == 0)
                d->cli_err = r;
            return got;
        }
        got += (size_t)r;
    }
}

/* Writes all of data from the server side, draining when the pending output is full. */
static void srv_write_all(struct duo *d, const unsigned char *data, size_t len, size_t chunk,
                          unsigned char *cli_rx, size_t *cli_rx_len, size_t cli_cap)
{
    size_t off = 0;
    int stalls = 0;
    while (off < len) {
        long n = tls_conn_write(d->srv, data + off, len - off);
        assert_true(n >= 0);
        if (n > 0) {
            off += (size_t)n;
            stalls = 0;
        } else {
            assert_true(tls_conn_pending(d->srv, NULL) > 0); /* 0 means "drain first" */
            assert_true(++stalls < 3);
        }
        pump(d, chunk);
        *cli_rx_len += cli_read_all(d, cli_rx + *cli_rx_len, cli_cap - *cli_rx_len);
    }
}

static void handshake(struct duo *d, size_t chunk)
{
    pump(d, chunk);
    assert_int_equal(d->cli_err, 0);
    assert_int_equal(d->srv_err, 0);
    assert_true(d->cli_hs_done);
    assert_true(tls_conn_handshake_done(d->srv));
    assert_false(tls_conn_failed(d->srv));
    assert_int_equal(mbedtls_ssl_get_verify_result(&d->cli), 0);
}

static void exchange_both_ways(size_t chunk)
{
    struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
    assert_null(tls_conn_ciphersuite(d->srv));
    handshake(d, chunk);
    const char *suite = tls_conn_ciphersuite(d->srv);
    assert_non_null(suite);
    assert_true(strstr(suite, "ECDHE") && (strstr(suite, "GCM") || strstr(suite, "CHACHA20")));
    assert_string_equal(mbedtls_ssl_get_version(&d->cli), "TLSv1.2");

    static const char up[] = "{\"t\":\"join\",\"battle\":42}";
    assert_int_equal(mbedtls_ssl_write(&d->cli, (const unsigned char *)up, sizeof up - 1),
                     (int)(sizeof up - 1));
    pump(d, chunk);
    assert_int_equal(d->srv_rx_len, sizeof up - 1);
    assert_memory_equal(d->srv_rx, up, sizeof up - 1);

    static const char down[] = "{\"t\":\"joined\",\"seat\":1}";
    unsigned char rx[256];
    size_t rx_len = 0;
    srv_write_all(d, (const unsigned char *)down, sizeof down - 1, chunk, rx, &rx_len, sizeof rx);
    assert_int_equal(rx_len, sizeof down - 1);
    assert_memory_equal(rx, down, sizeof down - 1);
    assert_int_equal(d->cli_err, 0);
    duo_free(d);
}

static void test_handshake_and_exchange(void **state)
{
    exchange_both_ways(PIPE_CAP);
}

/* Every TCP segment boundary must be survivable: one byte per hop, both directions. */
static void test_one_byte_at_a_time(void **state)
{
    exchange_both_ways(1);
}

/* One socket read can carry many records; they must all come out of one feed. */
static void test_many_records_in_one_feed(void **state)
{
    struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
    handshake(d, PIPE_CAP);
    for (int i = 0; i < 5; i++)
        assert_int_equal(mbedtls_ssl_write(&d->cli, (const unsigned char *)"abcdefgh", 8), 8);
    size_t avail = d->c2s.len - d->c2s.head;
    assert_true(avail < TLS_CONN_IN_CAP);
    assert_int_equal(tls_conn_feed(d->srv, d->c2s.buf + d->c2s.head, avail), (long)avail);
    d->c2s.head += avail;
    srv_read_all(d);
    assert_int_equal(d->srv_rx_len, 40);
    assert_memory_equal(d->srv_rx, "abcdefghabcdefghabcdefghabcdefghabcdefgh", 40);
    duo_free(d);
}

/* Writes larger than a record and than both staging buffers, in both directions. */
static void test_large_transfers(void **state)
{
    enum { BIG = 50000 };
    static unsigned char big[BIG], rx[BIG];
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 7 + 3);
    struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
    handshake(d, PIPE_CAP);

    size_t rx_len = 0;
    srv_write_all(d, big, BIG, PIPE_CAP, rx, &rx_len, sizeof rx);
    assert_int_equal(rx_len, BIG);
    assert_memory_equal(rx, big, BIG);

    /* Client to server: the ciphertext exceeds TLS_CONN_IN_CAP, so feed takes it in parts. */
    size_t off = 0;
    while (off < BIG) {
        int r = mbedtls_ssl_write(&d->cli, big + off, BIG - off);
        assert_true(r > 0);
        off += (size_t)r;
    }
    size_t avail = d->c2s.len - d->c2s.head;
    long k = tls_conn_feed(d->srv, d->c2s.buf + d->c2s.head, avail);
    assert_int_equal(k, TLS_CONN_IN_CAP);
    d->c2s.head += (size_t)k;
    srv_read_all(d);
    pump(d, PIPE_CAP);
    assert_int_equal(d->srv_err, 0);
    assert_int_equal(d->srv_rx_len, BIG);
    assert_memory_equal(d->srv_rx, big, BIG);
    duo_free(d);
}

static void expect_garbage_refused(const unsigned char *bytes, size_t len)
{
    tls_conn *c = tls_conn_new(g_ctx);
    assert_non_null(c);
    long r = tls_conn_feed(c, bytes, len);
    if (r >= 0) {
        unsigned char out[64];
        r = tls_conn_read(c, out, sizeof out);
    }
    assert_int_equal(r, TLS_ERR_HANDSHAKE);
    assert_true(tls_conn_failed(c));
    assert_false(tls_conn_handshake_done(c));
    assert_true(tls_conn_mbedtls_error(c) < 0);
    assert_true(strlen(tls_conn_error_text(c)) > 0);
    /* Failure is final: nothing more is processed. */
    assert_int_equal(tls_conn_feed(c, bytes, len), TLS_ERR_STATE);
    unsigned char out[16];
    assert_int_equal(tls_conn_read(c, out, sizeof out), TLS_ERR_STATE);
    assert_int_equal(tls_conn_write(c, "x", 1), TLS_ERR_STATE);
    tls_conn_free(c);
}

static void test_garbage_client_hello(void **state)
{
    static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    expect_garbage_refused((const unsigned char *)http, sizeof http - 1);

    /* A handshake record header with a ClientHello body of junk. */
    unsigned char junk[5 + 64] = {0x16, 0x03, 0x01, 0x00, 64};
    junk[5] = 0x01; /* ClientHello */
    junk[6] = 0x00; junk[7] = 0x00; junk[8] = 60;
    for (size_t i = 9; i < sizeof junk; i++)
        junk[i] = (unsigned char)(0xA5 ^ i);
    expect_garbage_refused(junk, sizeof junk);

    /* A record header announcing more than a TLS record may carry. */
    static const unsigned char huge[] = {0x16, 0x03, 0x01, 0xff, 0xff, 0x01};
    expect_garbage_refused(huge, sizeof huge);
}

static void expect_client_refused(struct duo *d)
{
    pump(d, PIPE_CAP);
    assert_int_equal(d->srv_err, TLS_ERR_HANDSHAKE);
    assert_true(tls_conn_failed(d->srv));
    assert_false(tls_conn_handshake_done(d->srv));
    assert_false(d->cli_hs_done);
    assert_true(d->cli_err != 0); /* the client saw an alert, not silence */
}

static void test_tls11_client_refused(void **state)
{
    struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_2, NULL);
    expect_client_refused(d);
    /* Refused for its version, not merely because TLS 1.1 has no AEAD suite. */
    assert_int_equal(tls_conn_mbedtls_error(d->srv), MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION);
    duo_free(d);
}

static void test_non_aead_client_refused(void **state)
{
    static const int cbc_only[] = {
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        0,
    };
    struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, cbc_only);
    expect_client_refused(d);
    assert_int_equal(tls_conn_mbedtls_error(d->srv), MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN);
    duo_free(d);
}

static void test_close_notify_both_ways(void **state)
{
    struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
    handshake(d, PIPE_CAP);
    assert_int_equal(tls_conn_close_notify(d->srv), 0);
    pump(d, PIPE_CAP);
    unsigned char rx[16];
    assert_int_equal(mbedtls_ssl_read(&d->cli, rx, sizeof rx), MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
    duo_free(d);

    d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
    handshake(d, PIPE_CAP);
    assert_int_equal(mbedtls_ssl_close_notify(&d->cli), 0);
    pump(d, PIPE_CAP);
    assert_int_equal(d->srv_err, TLS_ERR_CLOSED);
    assert_true(tls_conn_failed(d->srv));
    assert_string_equal(tls_err_name(TLS_ERR_CLOSED), "closed");
    duo_free(d);
}

/* A flipped ciphertext bit after the handshake is a protocol failure, not a crash. */
static void test_tampered_record(void **state)
{
    struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
    handshake(d, PIPE_CAP);
    assert_int_equal(mbedtls_ssl_write(&d->cli, (const unsigned char *)"secret", 6), 6);
    d->c2s.buf[d->c2s.len - 3] ^= 0x40;
    pump(d, PIPE_CAP);
    assert_int_equal(d->srv_err, TLS_ERR_PROTOCOL);
    assert_int_equal(d->srv_rx_len, 0);
    assert_true(tls_conn_failed(d->srv));
    duo_free(d);
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/battled-test-tls-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_ctx_from_files_and_errors(void **state)
{
    char err[TLS_ERR_MAX];
    char *cert = write_temp(g_cert), *key = write_temp(g_key), *other = write_temp(g_other_key);
    char *junk = write_temp("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                            "-----END CERTIFICATE-----\n");

    tls_ctx *ctx = tls_ctx_new(cert, key, err, sizeof err);
    assert_non_null(ctx);
    tls_ctx_free(ctx);

    assert_null(tls_ctx_new("/nonexistent/cert.pem", key, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));

    assert_null(tls_ctx_new(cert, other, err, sizeof err));
    assert_non_null(strstr(err, "does not match"));

    assert_null(tls_ctx_new(junk, key, err, sizeof err));
    assert_non_null(strstr(err, "certificate"));

    assert_null(tls_ctx_new(cert, cert, err, sizeof err)); /* a certificate is not a key */
    assert_non_null(strstr(err, "private key"));

    assert_null(tls_ctx_new(cert, "/nonexistent/key.pem", NULL, 0)); /* err is optional */

    unlink(cert); unlink(key); unlink(other); unlink(junk);
    free(cert); free(key); free(other); free(junk);
}

/* A handshake flight larger than the pending-output buffer: the handshake stops on a full
 * buffer and must go on when tls_conn_consume() makes room, since the client is waiting for
 * us and will send nothing that could drive it through feed or read. */
static void test_flight_larger_than_output_buffer(void **state)
{
    char err[TLS_ERR_MAX];
    tls_ctx *ctx = tls_ctx_new_pem(g_big_cert, strlen(g_big_cert), g_key, strlen(g_key), err,
                                   sizeof err);
    if (!ctx)
        fail_msg("big certificate: %s", err);
    mbedtls_x509_crt trust;
    mbedtls_x509_crt_init(&trust);
    assert_int_equal(mbedtls_x509_crt_parse(&trust, (const unsigned char *)g_big_cert,
                                            strlen(g_big_cert) + 1), 0);
    assert_true(trust.raw.len > TLS_CONN_OUT_CAP);
    g_srv_ctx = ctx;
    g_trust = &trust;
    for (int round = 0; round < 2; round++) {
        /* Whole chunks, then a socket that takes 100 bytes per write. */
        struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
        handshake(d, round == 0 ? PIPE_CAP : 100);
        assert_int_equal(mbedtls_ssl_write(&d->cli, (const unsigned char *)"ping", 4), 4);
        pump(d, PIPE_CAP);
        assert_int_equal(d->srv_rx_len, 4);
        duo_free(d);
    }
    g_srv_ctx = g_ctx;
    g_trust = &g_ca;
    mbedtls_x509_crt_free(&trust);
    tls_ctx_free(ctx);
}

/* scripts/gen-dev-cert's pair loads and verifies for a client that trusts it (skipped
 * without openssl or outside ctest, which sets BATTLED_SOURCE_DIR). */
static void test_dev_cert_script(void **state)
{
    const char *src = getenv("BATTLED_SOURCE_DIR");
    if (!src || system("command -v openssl > /dev/null 2>&1") != 0) {
        print_message("needs openssl and BATTLED_SOURCE_DIR (run through ctest)\n");
        skip();
    }
    char dir[] = "/tmp/battled-test-devcert-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], cert[600], key[600];
    snprintf(cmd, sizeof cmd, "'%s/scripts/gen-dev-cert' '%s/tls' > /dev/null", src, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cert, sizeof cert, "%s/tls/cert.pem", dir);
    snprintf(key, sizeof key, "%s/tls/key.pem", dir);
    char err[TLS_ERR_MAX];
    tls_ctx *ctx = tls_ctx_new(cert, key, err, sizeof err);
    if (!ctx)
        fail_msg("tls_ctx_new on gen-dev-cert output: %s", err);
    mbedtls_x509_crt trust;
    mbedtls_x509_crt_init(&trust);
    assert_int_equal(mbedtls_x509_crt_parse_file(&trust, cert), 0);
    g_srv_ctx = ctx;
    g_trust = &trust;
    struct duo *d = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
    handshake(d, PIPE_CAP); /* includes: the client verified the certificate for localhost */
    assert_non_null(strstr(tls_conn_ciphersuite(d->srv), "ECDSA"));
    duo_free(d);
    g_srv_ctx = g_ctx;
    g_trust = &g_ca;
    mbedtls_x509_crt_free(&trust);
    tls_ctx_free(ctx);
    /* A second run without --force must refuse to overwrite the key. */
    snprintf(cmd, sizeof cmd, "'%s/scripts/gen-dev-cert' '%s/tls' > /dev/null 2>&1", src, dir);
    assert_int_not_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Per-connection memory, measured through malloc's own accounting (glibc only: the
 * sanitizer allocators do not feed mallinfo2, so there it is skipped). */
static void test_memory_per_connection(void **state)
{
#if defined(BATTLED_ASAN) || defined(BATTLED_TSAN)
    skip();
#else
    enum { N = 32 };
    struct duo *d[N];
    struct mallinfo2 m0 = mallinfo2();
    tls_conn *idle[N];
    for (int i = 0; i < N; i++)
        idle[i] = tls_conn_new(g_ctx);
    struct mallinfo2 m1 = mallinfo2();
    size_t fresh = (m1.uordblks - m0.uordblks) / N;
    for (int i = 0; i < N; i++)
        tls_conn_free(idle[i]);

    /* Established connections: count only the server side by subtracting the client's
     * share, measured the same way with the server conns freed. */
    for (int i = 0; i < N; i++) {
        d[i] = duo_new(MBEDTLS_SSL_MINOR_VERSION_3, NULL);
        handshake(d[i], PIPE_CAP);
    }
    struct mallinfo2 m2 = mallinfo2();
    for (int i = 0; i < N; i++) {
        tls_conn_free(d[i]->srv);
        d[i]->srv = NULL;
    }
    struct mallinfo2 m3 = mallinfo2();
    size_t established = (m2.uordblks - m3.uordblks) / N;
    for (int i = 0; i < N; i++)
        duo_free(d[i]);
    printf("tls memory per connection: new %zu bytes, after handshake %zu bytes "
           "(staging buffers %u + %u bytes included)\n",
           fresh, established, TLS_CONN_IN_CAP, TLS_CONN_OUT_CAP);
    /* mbedTLS holds two 16 KiB record buffers; anything near 100 KiB means a leak of
     * handshake state into the established connection. */
    assert_true(fresh < 64 * 1024);
    assert_true(established < 80 * 1024);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_exchange),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_many_records_in_one_feed),
        cmocka_unit_test(test_large_transfers),
        cmocka_unit_test(test_garbage_client_hello),
        cmocka_unit_test(test_tls11_client_refused),
        cmocka_unit_test(test_non_aead_client_refused),
        cmocka_unit_test(test_close_notify_both_ways),
        cmocka_unit_test(test_tampered_record),
        cmocka_unit_test(test_ctx_from_files_and_errors),
        cmocka_unit_test(test_flight_larger_than_output_buffer),
        cmocka_unit_test(test_dev_cert_script),
        cmocka_unit_test(test_memory_per_connection),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
