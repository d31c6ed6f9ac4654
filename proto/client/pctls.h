/* proto/client/pctls: TLS settings for the client library (blocking pc.h and libuv pcuv.h).
 *
 * battled serves TLS 1.2 on its TLS port (`tls.listen`; the port file's second line). The client
 * side uses mbedTLS 2.28 and verifies the server's certificate against the certificates the caller
 * trusts: a CA, or (development) the server's own self-signed certificate, e.g. the cert.pem that
 * scripts/gen-dev-cert writes. Verification also checks that the certificate names server_name.
 * `insecure` switches every check off, for tests and development only: anyone on the path can then
 * read and change the traffic.
 *
 * mbedTLS 2.28 matches server_name against the certificate's DNS names (subjectAltName dNSName, or
 * the CN when there is none), never against IP addresses: when connecting to 127.0.0.1 give the
 * name the certificate carries ("localhost" for gen-dev-cert's). */
#ifndef BATTLED_PROTO_CLIENT_PCTLS_H
#define BATTLED_PROTO_CLIENT_PCTLS_H

#include <stdbool.h>
#include <stddef.h>

/* Longest server_name accepted (a DNS name is at most 253 characters). */
#define PC_TLS_NAME_MAX 255
/* Longest error text the pc_tls_* calls write (a caller's buffer may be smaller). */
#define PC_TLS_ERR_MAX 256

typedef struct pc_tls_opts {
    /* PEM file of the certificates to trust. */
    const char *ca_file;
    /* Or the same as PEM text in memory, NUL-terminated (used when ca_file is NULL). */
    const char *ca_pem;
    /* The DNS name the server's certificate must carry; also sent as SNI. pc_connect_tls uses its
     * host argument when this is NULL; pcuv has no host, so a verifying pcuv config needs it. */
    const char *server_name;
    /* true: no verification (no CA needed, any certificate accepted). Tests and development only. */
    bool insecure;
} pc_tls_opts;

/* Parsed TLS settings shared by many connections: the trusted certificates, the mbedTLS
 * configuration and a random generator. Not thread-safe (the generator is not): one config per
 * thread, e.g. one per libuv loop. It must outlive every connection made with it. */
typedef struct pc_tls_config pc_tls_config;

/* Builds a config from o. Returns NULL with a one-line reason in err (may be NULL) when o is NULL,
 * when verifying without a CA or without server_name, when the CA cannot be read or parsed, or when
 * out of memory. The caller frees it with pc_tls_config_free. */
pc_tls_config *pc_tls_config_new(const pc_tls_opts *o, char *err, size_t errlen);

/* Frees a config (NULL is allowed), after every connection that used it is gone. */
void pc_tls_config_free(pc_tls_config *cfg);

#endif
