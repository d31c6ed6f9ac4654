/* tls: server-side TLS 1.2 over memory buffers (mbedTLS 2.28), for the network thread.
 *
 * No sockets here. The caller moves bytes: ciphertext it read from the socket goes in
 * with tls_conn_feed(); plaintext comes out of tls_conn_read(); plaintext to send goes in
 * with tls_conn_write(); ciphertext to send comes out of tls_conn_pending() and is
 * released with tls_conn_consume() once the socket took it.
 *
 * Policy: TLS 1.2 only, ECDHE key exchange with AEAD suites only (AES-GCM and
 * ChaCha20-Poly1305), no renegotiation, no client certificates, no session tickets.
 *
 * Threads: one tls_ctx and all of its connections belong to one thread (the network
 * thread); nothing here locks. The shared DRBG is not safe to use from two threads.
 *
 * Flow for one socket read of `len` bytes at `buf`:
 *     while (len > 0) {
 *         long k = tls_conn_feed(c, buf, len);       // < 0: fatal, flush pending, close
 *         buf += k; len -= k;
 *         while ((n = tls_conn_read(c, out, sizeof out)) > 0) handle(out, n);
 *         if (n < 0) { flush pending; close; }       // n == 0: needs more ciphertext
 *         if (k == 0) { keep buf/len; pause reading; break; }  // see tls_conn_feed()
 *     }
 *     flush tls_conn_pending() to the socket after every call that may produce output
 *     (feed, read, write, close_notify, consume): handshake replies and alerts appear there.
 */
/* Layer: net/ internal: the network thread's files (through net_int.h) and their unit tests. */
#ifndef BATTLED_NET_TLS_H
#define BATTLED_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* Ciphertext that tls_conn_feed() holds before mbedTLS takes it. A smaller buffer only
 * means more feed/read rounds; mbedTLS copies each record into its own 16 KiB buffer. */
#define TLS_CONN_IN_CAP 4096
/* Ciphertext staged for the socket. mbedTLS keeps each whole record in its own 16 KiB
 * buffer, so this only needs to hold a typical handshake flight and a few small records;
 * a bigger write makes tls_conn_write() return 0 and the caller drains and retries. */
#define TLS_CONN_OUT_CAP 8192
/* Longest error text tls_ctx_new*() writes (the caller's buffer may be smaller). */
#define TLS_ERR_MAX 256

/* Negative results of the tls_conn_* calls. Every one of them is final: the connection
 * is marked failed and the caller flushes tls_conn_pending() (an alert may be there)
 * and closes the socket. */
enum tls_err {
    TLS_ERR_CLOSED = -1,    /* the peer sent close_notify: an orderly end */
    TLS_ERR_HANDSHAKE = -2, /* handshake refused: garbage, old version, no shared suite */
    TLS_ERR_PROTOCOL = -3,  /* bad record, bad MAC or a fatal alert after the handshake */
    TLS_ERR_INTERNAL = -4,  /* out of memory, RNG failure or an unexpected mbedTLS code */
    TLS_ERR_STATE = -5,     /* called on a connection that had already failed or closed */
};

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

/* Builds the shared context from a PEM certificate chain file and a PEM private key file
 * (unencrypted). Returns NULL on failure with a one-line reason in err (which may be
 * NULL): unreadable file, bad PEM, key not matching the certificate, RNG seeding. The
 * caller owns the result and frees it with tls_ctx_free() after every tls_conn. */
tls_ctx *tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen);

/* Same as tls_ctx_new() from PEM text in memory (lengths exclude any terminating NUL;
 * the text need not be NUL-terminated). The buffers are not kept. */
tls_ctx *tls_ctx_new_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                         size_t key_len, char *err, size_t errlen);

/* Releases the context. NULL is allowed. Connections made from it keep it alive: it is freed
 * when the last of them is freed (so a reload may replace the context under live connections). */
void tls_ctx_free(tls_ctx *ctx);

/* A new server-side connection waiting for a ClientHello, or NULL when out of memory.
 * The caller owns it and frees it with tls_conn_free(). */
tls_conn *tls_conn_new(tls_ctx *ctx);

/* Frees the connection (no alert is sent; call tls_conn_close_notify() first for an
 * orderly close). NULL is allowed. */
void tls_conn_free(tls_conn *c);

/* Takes up to len bytes of ciphertext read from the socket and, while the handshake is
 * in progress, advances it. Returns how many bytes it took (less than len when its
 * buffer of TLS_CONN_IN_CAP is full: call tls_conn_read() until it returns 0, then feed
 * the rest), or a negative enum tls_err. Taking 0 of len > 0 even after reading means
 * the connection waits for its pending output to be sent (a handshake flight larger than
 * TLS_CONN_OUT_CAP): keep the bytes, stop reading the socket, and resume after
 * tls_conn_consume(). */
long tls_conn_feed(tls_conn *c, const void *buf, size_t len);

/* Decrypts into out (at most cap bytes). Returns the number of plaintext bytes (> 0),
 * 0 when more ciphertext is needed (or the handshake is still in progress), or a
 * negative enum tls_err. Several records may be buffered: call again until 0. */
long tls_conn_read(tls_conn *c, void *out, size_t cap);

/* Encrypts plaintext into the pending output. Returns how many bytes of data it took
 * (> 0; may be less than len, at most one record), 0 when the pending output is full or
 * the handshake is not finished yet (drain tls_conn_pending() and call again with the
 * SAME data and len: mbedTLS may have consumed part of it internally), or a negative
 * enum tls_err. */
long tls_conn_write(tls_conn *c, const void *data, size_t len);

/* Queues a close_notify alert (an orderly end) into the pending output. Returns 0, or 0
 * as well when the pending output is full (the alert is then skipped: closing is what
 * matters), or TLS_ERR_STATE on a failed connection. */
int tls_conn_close_notify(tls_conn *c);

/* Points *ptr at the ciphertext waiting to be sent and returns its length (0: nothing).
 * The bytes stay valid and in place until the next tls_conn_consume() or tls_conn_free();
 * other calls only append after them. ptr may be NULL to ask only for the length. */
size_t tls_conn_pending(const tls_conn *c, const void **ptr);

/* Releases the first n bytes of the pending output (the socket took them). n larger than
 * what is pending releases everything. A handshake that stopped on a full output buffer
 * goes on here, so check tls_conn_pending() (and tls_conn_failed()) again afterwards. */
void tls_conn_consume(tls_conn *c, size_t n);

/* True once the handshake has completed (and stays true until the connection fails). */
bool tls_conn_handshake_done(const tls_conn *c);

/* True after any negative result (including an orderly close_notify from the peer). */
bool tls_conn_failed(const tls_conn *c);

/* The mbedTLS error code (negative) behind the last failure, 0 when there was none, and
 * a human-readable text for it (a static buffer: copy it before the next call). */
int tls_conn_mbedtls_error(const tls_conn *c);
const char *tls_conn_error_text(const tls_conn *c);

/* The negotiated ciphersuite name (e.g. "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256") after
 * the handshake, or NULL before. Points into mbedTLS's static tables. */
const char *tls_conn_ciphersuite(const tls_conn *c);

/* Static name of an enum tls_err value ("closed", "handshake", ...). */
const char *tls_err_name(long err);

#endif
