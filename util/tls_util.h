/* tls_util: what the server's TLS (net/tls) and the client library's (proto/client/pctls) share
 * about mbedTLS 2.28: error messages into a caller's buffer, and the base of an ssl config (a
 * seeded RNG, TLS 1.2 or later, no renegotiation). Depends on mbedTLS only, so both sides use it
 * without the server linking the client library.
 */
/* Layer: util/ API. */
#ifndef BATTLED_UTIL_TLS_UTIL_H
#define BATTLED_UTIL_TLS_UTIL_H

#include <stddef.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>

/* Formats a message into err (errlen bytes, always terminated); err NULL or errlen 0: nothing. */
void tls_util_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats "what: mbedTLS's text for code (-0xNNNN)" into err, as tls_util_err. */
void tls_util_mbed_err(char *err, size_t errlen, const char *what, int code);

/* Seeds drbg from entropy (both already initialised; pers personalises the seed) and sets conf
 * (already initialised) to mbedTLS's defaults for endpoint (MBEDTLS_SSL_IS_SERVER or _CLIENT) over
 * a stream, with that RNG, TLS 1.2 as the lowest version and renegotiation off. Returns 0, or -1
 * with the reason in err. The caller still frees everything either way. */
int tls_util_conf_base(mbedtls_ssl_config *conf, int endpoint, mbedtls_ctr_drbg_context *drbg,
                       mbedtls_entropy_context *entropy, const char *pers, char *err, size_t errlen);

#endif
