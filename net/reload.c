/* reload: what SIGHUP changes in the network thread: the TLS certificate and key are read again
 * from tls.cert and tls.key (server_reload, server.h). A pair that does not load (unreadable, bad
 * PEM, key not matching the certificate) leaves the running one in place; connections made before
 * a reload finish on the certificate they started with (tls.h: a context lives until its last
 * connection is freed). */
#include "net/net_int.h"
#include "util/log.h"

void reload_on_async(uv_async_t *h)
{
    server *s = h->data;
    if (atomic_exchange(&s->reload_requests, 0) == 0)
        return;
    if (!s->opts.tls.listen[0]) {
        log_info("reload: TLS is off (tls.listen is empty), no certificate to reload");
        return;
    }
    char err[TLS_ERR_MAX];
    tls_ctx *fresh = tls_ctx_new(s->opts.tls.cert, s->opts.tls.key, err, sizeof err);
    if (!fresh) {
        NET_STAT_ADD(&s->stats, tls_reload_failures, 1);
        log_error("reload: new TLS certificate refused, the old one stays in use", "cert",
                  s->opts.tls.cert, "key", s->opts.tls.key, "error", err);
        return;
    }
    tls_ctx_free(s->tls); /* freed once its last connection is */
    s->tls = fresh;
    NET_STAT_ADD(&s->stats, tls_reloads, 1);
    log_info("reload: TLS certificate reloaded; new connections use it", "cert", s->opts.tls.cert,
             "key", s->opts.tls.key);
}

void server_reload(server *s)
{
    atomic_fetch_add(&s->reload_requests, 1);
    uv_async_send(&s->reload_async);
}
