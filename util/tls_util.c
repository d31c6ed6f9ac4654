/* tls_util: mbedTLS helpers shared by the server and the client library; see tls_util.h. */
#include "util/tls_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/error.h>

void tls_util_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void tls_util_mbed_err(char *err, size_t errlen, const char *what, int code)
{
    char text[128];
    mbedtls_strerror(code, text, sizeof text);
    tls_util_err(err, errlen, "%s: %s (-0x%04x)", what, text, (unsigned)-code);
}

int tls_util_conf_base(mbedtls_ssl_config *conf, int endpoint, mbedtls_ctr_drbg_context *drbg,
                       mbedtls_entropy_context *entropy, const char *pers, char *err, size_t errlen)
{
    int r;
    if ((r = mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, entropy, (const unsigned char *)pers,
                                   strlen(pers))) != 0) {
        tls_util_mbed_err(err, errlen, "seeding the RNG", r);
        return -1;
    }
    if ((r = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        tls_util_mbed_err(err, errlen, "TLS defaults", r);
        return -1;
    }
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, drbg);
    /* TLS 1.2 is the oldest version either side speaks; older ones are never worth offering. */
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    return 0;
}
