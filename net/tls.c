/* tls: mbedTLS 2.28 server side over in-memory ciphertext buffers (see tls.h). */
#include "net/tls.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "util/tls_util.h"

/* A certificate chain or key file larger than this is refused rather than read. */
#define TLS_PEM_FILE_MAX (1u << 20)

/* ECDHE for forward secrecy, AEAD only: CBC suites (Lucky13-style padding oracles) and
 * static-RSA key exchange are never offered. Both signature families are listed so an
 * RSA or an ECDSA certificate works; mbedTLS keeps only the ones the key can sign. */
static const int tls_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

/* The default list holds every curve compiled in, small and exotic ones included. */
static const mbedtls_ecp_group_id tls_curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

struct tls_ctx {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    /* A reload (SIGHUP) swaps in a new context while connections still use the old one, whose
     * ssl contexts point into conf: it is freed when the last of them goes. */
    unsigned long refs; /* live tls_conn on this context */
    bool released;      /* tls_ctx_free was called */
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    tls_ctx *ctx;      /* holds a reference */
    int mbed_err;      /* mbedTLS code behind the failure, 0 if none */
    bool hs_done;      /* handshake completed */
    bool hs_blocked;   /* handshake stopped on a full output buffer */
    bool failed;       /* a negative result was returned: nothing more will work */
    size_t in_head;    /* first byte of in[] mbedTLS has not taken */
    size_t in_len;     /* end of buffered ciphertext in in[] */
    size_t out_head;   /* first byte of out[] the socket has not taken */
    size_t out_len;    /* end of pending ciphertext in out[] */
    unsigned char in[TLS_CONN_IN_CAP];
    unsigned char out[TLS_CONN_OUT_CAP];
};

/* mbedTLS's PEM parsers want the NUL terminator inside the length they are given. */
static unsigned char *nul_copy(const char *text, size_t len)
{
    unsigned char *p = malloc(len + 1);
    if (p) {
        memcpy(p, text, len);
        p[len] = '\0';
    }
    return p;
}

static void ctx_destroy(tls_ctx *ctx)
{
    mbedtls_ssl_config_free(&ctx->conf);
    mbedtls_x509_crt_free(&ctx->cert);
    mbedtls_pk_free(&ctx->key);
    mbedtls_ctr_drbg_free(&ctx->drbg);
    mbedtls_entropy_free(&ctx->entropy);
    free(ctx);
}

void tls_ctx_free(tls_ctx *ctx)
{
    if (!ctx)
        return;
    ctx->released = true;
    if (ctx->refs == 0)
        ctx_destroy(ctx);
}

tls_ctx *tls_ctx_new_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                         size_t key_len, char *err, size_t errlen)
{
    static const char pers[] = "battled-tls";
    tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        tls_util_err(err, errlen, "out of memory");
        return NULL;
    }
    mbedtls_ssl_config_init(&ctx->conf);
    mbedtls_x509_crt_init(&ctx->cert);
    mbedtls_pk_init(&ctx->key);
    mbedtls_entropy_init(&ctx->entropy);
    mbedtls_ctr_drbg_init(&ctx->drbg);

    unsigned char *cert = nul_copy(cert_pem, cert_len);
    unsigned char *key = nul_copy(key_pem, key_len);
    int r;
    if (!cert || !key) {
        tls_util_err(err, errlen, "out of memory");
        goto fail;
    }
    if ((r = mbedtls_x509_crt_parse(&ctx->cert, cert, cert_len + 1)) != 0) {
        tls_util_mbed_err(err, errlen, "certificate", r);
        goto fail;
    }
    if ((r = mbedtls_pk_parse_key(&ctx->key, key, key_len + 1, NULL, 0)) != 0) {
        tls_util_mbed_err(err, errlen, "private key", r);
        goto fail;
    }
    if ((r = mbedtls_pk_check_pair(&ctx->cert.pk, &ctx->key)) != 0) {
        tls_util_mbed_err(err, errlen, "private key does not match the certificate", r);
        goto fail;
    }
    if (tls_util_conf_base(&ctx->conf, MBEDTLS_SSL_IS_SERVER, &ctx->drbg, &ctx->entropy, pers, err,
                           errlen) != 0)
        goto fail;
    mbedtls_ssl_conf_max_version(&ctx->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&ctx->conf, tls_suites);
    mbedtls_ssl_conf_curves(&ctx->conf, tls_curves);
    mbedtls_ssl_conf_authmode(&ctx->conf, MBEDTLS_SSL_VERIFY_NONE);
    if ((r = mbedtls_ssl_conf_own_cert(&ctx->conf, &ctx->cert, &ctx->key)) != 0) {
        tls_util_mbed_err(err, errlen, "installing the certificate", r);
        goto fail;
    }
    /* The parsers copied what they need; the key text is wiped before it is freed. */
    mbedtls_platform_zeroize(key, key_len + 1);
    free(cert);
    free(key);
    return ctx;
fail:
    if (key)
        mbedtls_platform_zeroize(key, key_len + 1);
    free(cert);
    free(key);
    tls_ctx_free(ctx);
    return NULL;
}

/* Reads a whole PEM file of at most TLS_PEM_FILE_MAX bytes; the caller frees *out. */
static int read_pem_file(const char *path, const char *what, char **out, size_t *len,
                         char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tls_util_err(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    char *buf = malloc(TLS_PEM_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, TLS_PEM_FILE_MAX + 1, f) : 0;
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        tls_util_err(err, errlen, "%s %s: cannot read", what, path);
        free(buf);
        return -1;
    }
    if (n > TLS_PEM_FILE_MAX) {
        tls_util_err(err, errlen, "%s %s: larger than %u bytes", what, path, TLS_PEM_FILE_MAX);
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

tls_ctx *tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    char *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    tls_ctx *ctx = NULL;
    if (read_pem_file(cert_path, "certificate", &cert, &cert_len, err, errlen) == 0 &&
        read_pem_file(key_path, "private key", &key, &key_len, err, errlen) == 0) {
        char inner[TLS_ERR_MAX];
        ctx = tls_ctx_new_pem(cert, cert_len, key, key_len, inner, sizeof inner);
        if (!ctx)
            tls_util_err(err, errlen, "%s (certificate %s, key %s)", inner, cert_path, key_path);
    }
    if (key)
        mbedtls_platform_zeroize(key, key_len);
    free(cert);
    free(key);
    return ctx;
}

/* mbedTLS's send callback: stage ciphertext in out[]; a full buffer is WANT_WRITE and
 * mbedTLS keeps the unsent rest of the record in its own buffer until it is retried. */
static int bio_send(void *arg, const unsigned char *buf, size_t len)
{
    tls_conn *c = arg;
    size_t room = TLS_CONN_OUT_CAP - c->out_len;
    if (room == 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    size_t n = len < room ? len : room;
    memcpy(c->out + c->out_len, buf, n);
    c->out_len += n;
    return (int)n;
}

/* mbedTLS's receive callback: hand out what feed() buffered; empty is WANT_READ. It never
 * returns 0, which mbedTLS would take for a transport EOF. */
static int bio_recv(void *arg, unsigned char *buf, size_t len)
{
    tls_conn *c = arg;
    size_t avail = c->in_len - c->in_head;
    if (avail == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < avail ? len : avail;
    memcpy(buf, c->in + c->in_head, n);
    c->in_head += n;
    if (c->in_head == c->in_len)
        c->in_head = c->in_len = 0;
    return (int)n;
}

tls_conn *tls_conn_new(tls_ctx *ctx)
{
    tls_conn *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, offsetof(tls_conn, in));
    mbedtls_ssl_init(&c->ssl);
    if (mbedtls_ssl_setup(&c->ssl, &ctx->conf) != 0) {
        mbedtls_ssl_free(&c->ssl);
        free(c);
        return NULL;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    c->ctx = ctx;
    ctx->refs++;
    return c;
}

void tls_conn_free(tls_conn *c)
{
    if (!c)
        return;
    tls_ctx *ctx = c->ctx;
    mbedtls_ssl_free(&c->ssl);
    free(c);
    if (ctx && --ctx->refs == 0 && ctx->released)
        ctx_destroy(ctx);
}

static long conn_fail(tls_conn *c, long code, int mbed_err)
{
    c->failed = true;
    c->mbed_err = mbed_err;
    return code;
}

/* Runs the handshake until it completes or waits for the network. Returns 0 or a
 * negative enum tls_err. */
static long handshake_step(tls_conn *c)
{
    while (!c->hs_done) {
        int r = mbedtls_ssl_handshake(&c->ssl);
        c->hs_blocked = false;
        if (r == 0) {
            c->hs_done = true;
        } else if (r == MBEDTLS_ERR_SSL_WANT_READ) {
            return 0;
        } else if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->hs_blocked = true; /* resumed by tls_conn_consume() */
            return 0;
        } else if (r == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
            return conn_fail(c, TLS_ERR_INTERNAL, r);
        } else {
            return conn_fail(c, TLS_ERR_HANDSHAKE, r);
        }
    }
    return 0;
}

long tls_conn_feed(tls_conn *c, const void *buf, size_t len)
{
    if (c->failed)
        return TLS_ERR_STATE;
    if (c->in_head > 0) {
        memmove(c->in, c->in + c->in_head, c->in_len - c->in_head);
        c->in_len -= c->in_head;
        c->in_head = 0;
    }
    size_t room = TLS_CONN_IN_CAP - c->in_len;
    size_t n = len < room ? len : room;
    memcpy(c->in + c->in_len, buf, n);
    c->in_len += n;
    if (!c->hs_done) {
        long r = handshake_step(c);
        if (r < 0)
            return r;
    }
    return (long)n;
}

long tls_conn_read(tls_conn *c, void *out, size_t cap)
{
    if (c->failed)
        return TLS_ERR_STATE;
    if (!c->hs_done) {
        long r = handshake_step(c);
        if (r < 0 || !c->hs_done)
            return r;
    }
    if (cap == 0)
        return 0;
    int r = mbedtls_ssl_read(&c->ssl, out, cap);
    if (r > 0)
        return r;
    /* 0 would mean a transport EOF, which bio_recv never reports: treat it as "wait". */
    if (r == 0 || r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
        return 0;
    if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
        return conn_fail(c, TLS_ERR_CLOSED, r);
    if (r == MBEDTLS_ERR_SSL_ALLOC_FAILED)
        return conn_fail(c, TLS_ERR_INTERNAL, r);
    return conn_fail(c, TLS_ERR_PROTOCOL, r);
}

long tls_conn_write(tls_conn *c, const void *data, size_t len)
{
    if (c->failed)
        return TLS_ERR_STATE;
    if (!c->hs_done || len == 0)
        return 0;
    int r = mbedtls_ssl_write(&c->ssl, data, len);
    if (r > 0)
        return r;
    if (r == 0 || r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ)
        return 0;
    if (r == MBEDTLS_ERR_SSL_ALLOC_FAILED)
        return conn_fail(c, TLS_ERR_INTERNAL, r);
    return conn_fail(c, TLS_ERR_PROTOCOL, r);
}

int tls_conn_close_notify(tls_conn *c)
{
    if (c->failed)
        return TLS_ERR_STATE;
    if (c->hs_done)
        (void)mbedtls_ssl_close_notify(&c->ssl);
    return 0;
}

size_t tls_conn_pending(const tls_conn *c, const void **ptr)
{
    if (ptr)
        *ptr = c->out + c->out_head;
    return c->out_len - c->out_head;
}

void tls_conn_consume(tls_conn *c, size_t n)
{
    size_t have = c->out_len - c->out_head;
    if (n >= have) {
        c->out_head = c->out_len = 0;
    } else {
        c->out_head += n;
        /* Pointers from tls_conn_pending() die here, so the rest may move to the front. */
        if (c->out_head > TLS_CONN_OUT_CAP / 2) {
            memmove(c->out, c->out + c->out_head, have - n);
            c->out_len = have - n;
            c->out_head = 0;
        }
    }
    /* The handshake cannot wait for the peer when it is our turn to send. */
    if (c->hs_blocked && !c->failed)
        (void)handshake_step(c);
}

bool tls_conn_handshake_done(const tls_conn *c)
{
    return c->hs_done && !c->failed;
}

bool tls_conn_failed(const tls_conn *c)
{
    return c->failed;
}

int tls_conn_mbedtls_error(const tls_conn *c)
{
    return c->mbed_err;
}

const char *tls_conn_error_text(const tls_conn *c)
{
    static char text[160];
    if (c->mbed_err == 0)
        return "no error";
    mbedtls_strerror(c->mbed_err, text, sizeof text);
    return text;
}

const char *tls_conn_ciphersuite(const tls_conn *c)
{
    return c->hs_done ? mbedtls_ssl_get_ciphersuite(&c->ssl) : NULL;
}

const char *tls_err_name(long err)
{
    switch (err) {
    case TLS_ERR_CLOSED: return "closed";
    case TLS_ERR_HANDSHAKE: return "handshake";
    case TLS_ERR_PROTOCOL: return "protocol";
    case TLS_ERR_INTERNAL: return "internal";
    case TLS_ERR_STATE: return "state";
    default: return "unknown";
    }
}
