/* pctls_int: what pc.c and pcuv.c share about a TLS session (private to proto/client). */
#ifndef BATTLED_PROTO_CLIENT_PCTLS_INT_H
#define BATTLED_PROTO_CLIENT_PCTLS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "proto/client/pctls.h"

struct pc_tls_config {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    bool insecure;
    char server_name[PC_TLS_NAME_MAX + 1]; /* "" when insecure and none was given */
};

/* Prepares ssl (already mbedtls_ssl_init'ed) for a handshake under cfg. Returns 0 or an mbedTLS
 * error code; the caller still frees ssl either way. */
int pctls_session_setup(const pc_tls_config *cfg, mbedtls_ssl_context *ssl);

/* True when a failed handshake (code from mbedtls_ssl_handshake) was a certificate the config does
 * not trust, as opposed to a protocol or transport failure. */
bool pctls_untrusted(int code);

/* Writes a one-line description of a TLS failure: the mbedTLS code and, for a certificate that did
 * not verify, why (the verification flags of ssl). */
void pctls_describe(const mbedtls_ssl_context *ssl, int code, char *buf, size_t len);

#endif
