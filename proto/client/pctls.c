/* pctls: client-side TLS settings (see pctls.h) and the pieces pc.c and pcuv.c share. */
#include "proto/client/pctls_int.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/x509.h>

#include "util/tls_util.h"

void pc_tls_config_free(pc_tls_config *cfg)
{
    if (!cfg)
        return;
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_x509_crt_free(&cfg->ca);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    free(cfg);
}

/* Loads the trusted certificates. A bundle in which mbedTLS cannot parse some entries (it returns
 * how many) is still usable when at least one certificate loaded. */
static int load_ca(pc_tls_config *cfg, const pc_tls_opts *o, char *err, size_t errlen)
{
    int r;
    if (o->ca_file)
        r = mbedtls_x509_crt_parse_file(&cfg->ca, o->ca_file);
    else
        r = mbedtls_x509_crt_parse(&cfg->ca, (const unsigned char *)o->ca_pem, strlen(o->ca_pem) + 1);
    if (r < 0) {
        tls_util_mbed_err(err, errlen, o->ca_file ? o->ca_file : "CA PEM", r);
        return -1;
    }
    if (cfg->ca.version == 0) {
        tls_util_err(err, errlen, "%s: no certificate could be parsed", o->ca_file ? o->ca_file : "CA PEM");
        return -1;
    }
    return 0;
}

pc_tls_config *pc_tls_config_new(const pc_tls_opts *o, char *err, size_t errlen)
{
    static const char pers[] = "battled-client";
    if (!o) {
        tls_util_err(err, errlen, "no TLS options");
        return NULL;
    }
    bool have_ca = (o->ca_file && o->ca_file[0]) || (!o->ca_file && o->ca_pem && o->ca_pem[0]);
    if (!o->insecure && !have_ca) {
        tls_util_err(err, errlen, "TLS needs a CA to verify the server (ca_file or ca_pem), or insecure");
        return NULL;
    }
    if (!o->insecure && (!o->server_name || !o->server_name[0])) {
        tls_util_err(err, errlen, "TLS needs server_name to verify the server's certificate, or insecure");
        return NULL;
    }
    if (o->server_name && strlen(o->server_name) > PC_TLS_NAME_MAX) {
        tls_util_err(err, errlen, "server_name longer than %d bytes", PC_TLS_NAME_MAX);
        return NULL;
    }
    pc_tls_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        tls_util_err(err, errlen, "out of memory");
        return NULL;
    }
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_x509_crt_init(&cfg->ca);
    mbedtls_entropy_init(&cfg->entropy);
    mbedtls_ctr_drbg_init(&cfg->drbg);
    cfg->insecure = o->insecure;
    if (o->server_name)
        strcpy(cfg->server_name, o->server_name);

    if (!o->insecure && load_ca(cfg, o, err, errlen) != 0)
        goto fail;
    /* The server speaks TLS 1.2 only; tls_util_conf_base offers nothing older. */
    if (tls_util_conf_base(&cfg->conf, MBEDTLS_SSL_IS_CLIENT, &cfg->drbg, &cfg->entropy, pers, err,
                           errlen) != 0)
        goto fail;
    if (o->insecure) {
        mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
    }
    return cfg;
fail:
    pc_tls_config_free(cfg);
    return NULL;
}

int pctls_session_setup(const pc_tls_config *cfg, mbedtls_ssl_context *ssl)
{
    int r = mbedtls_ssl_setup(ssl, &cfg->conf);
    if (r == 0 && cfg->server_name[0])
        r = mbedtls_ssl_set_hostname(ssl, cfg->server_name);
    return r;
}

bool pctls_untrusted(int code)
{
    return code == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
}

void pctls_describe(const mbedtls_ssl_context *ssl, int code, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    if (pctls_untrusted(code)) {
        char info[200];
        uint32_t flags = mbedtls_ssl_get_verify_result(ssl);
        int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        /* One line: the flags' texts are newline-separated. */
        for (int i = 0; i < n && info[i]; i++)
            if (info[i] == '\n')
                info[i] = (i == n - 1) ? '\0' : ';';
        tls_util_err(buf, len, "server certificate not trusted: %s", n > 0 ? info : "unknown reason");
        return;
    }
    tls_util_mbed_err(buf, len, "TLS", code);
}
