/* conn_tls: TLS on a connection of the TLS listener, over net/tls.h's memory buffers.
 *
 * Ciphertext read from the socket is fed to mbedTLS; every plaintext byte that comes out goes to the
 * same frame reader as a clear-text connection's input, and every frame sent is encrypted and the
 * ciphertext appended to the same pooled output queue, so the output cap counts bytes on the wire.
 * Pending ciphertext is moved into the output queue after each mbedTLS call, so mbedTLS's own staging
 * never stays full and a write always makes progress once the handshake is done.
 *
 * Handshakes are the network thread's heaviest work (public-key operations), so at most
 * tls.max_handshakes_per_pass connections advance their handshake per loop pass; input for the rest
 * waits in the connection (reads stopped) for the next pass, counted in tls_handshakes_deferred. A
 * handshake must finish within tls.handshake_timeout_ms (the TLS timeout list), then hello follows
 * within server.hello_timeout_ms as on the clear-text port. */
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"
#include "util/log.h"

static void move_pending(conn *c)
{
    const void *p = NULL;
    size_t n;
    while (c->tls && (n = tls_conn_pending(c->tls, &p)) > 0) {
        conn_out_append(c, p, n);
        if (c->state >= CONN_CLOSED || !c->tls)
            return;
        tls_conn_consume(c->tls, n);
    }
}

static void tls_failed(conn *c, long err)
{
    log_debug("tls: closing", "conn", LOG_U64(c->id), "reason", tls_err_name(err), "detail",
              tls_conn_error_text(c->tls));
    move_pending(c); /* an alert may be waiting */
    conn_close(c, err == TLS_ERR_CLOSED ? NET_CLOSE_PEER : NET_CLOSE_TLS, true);
}

static void defer(conn *c, const uint8_t *data, size_t len)
{
    server *s = c->srv;
    c->cstash = malloc(len);
    if (!c->cstash) {
        conn_close(c, NET_CLOSE_ERROR, false);
        return;
    }
    memcpy(c->cstash, data, len);
    c->cstash_len = (uint32_t)len;
    c->hs_deferred = true;
    c->hnext = NULL;
    if (s->hs_tail)
        s->hs_tail->hnext = c;
    else
        s->hs_head = c;
    s->hs_tail = c;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    NET_STAT_ADD(&s->stats, tls_handshakes_deferred, 1);
    log_debug("tls: handshake deferred to the next pass", "conn", LOG_U64(c->id));
}

void conn_tls_input(conn *c, const uint8_t *data, size_t len)
{
    server *s = c->srv;
    if (!tls_conn_handshake_done(c->tls)) {
        if (s->hs_pass >= (unsigned)s->opts.tls.max_handshakes_per_pass) {
            defer(c, data, len);
            return;
        }
        s->hs_pass++;
    }
    int stuck = 0;
    while (len > 0) {
        long k = tls_conn_feed(c->tls, data, len);
        if (k < 0) {
            tls_failed(c, k);
            return;
        }
        data += k;
        len -= (size_t)k;
        long m;
        while ((m = tls_conn_read(c->tls, s->pbuf, sizeof s->pbuf)) > 0) {
            conn_deliver(c, s->pbuf, (size_t)m);
            if (c->state != CONN_HELLO && c->state != CONN_OPEN)
                return; /* closing: the rest of the input no longer matters */
        }
        if (m < 0) {
            tls_failed(c, m);
            return;
        }
        if (c->list == LIST_TLS && tls_conn_handshake_done(c->tls)) {
            NET_STAT_ADD(&s->stats, tls_handshakes, 1);
            c->last_ms = uv_now(&s->loop);
            conn_set_list(c, ws_conn_after_tls(c));
        }
        move_pending(c);
        if (c->state >= CONN_CLOSED)
            return;
        /* Taking nothing means "send my pending output first"; it was just moved out, so a second
         * refusal in a row would be a loop. */
        if (k == 0 && ++stuck > 1) {
            tls_failed(c, TLS_ERR_INTERNAL);
            return;
        }
        if (k > 0)
            stuck = 0;
    }
}

void conn_tls_send(conn *c, const void *frame, size_t len)
{
    const uint8_t *p = frame;
    int stuck = 0;
    while (len > 0) {
        long k = tls_conn_write(c->tls, p, len);
        if (k < 0) {
            tls_failed(c, k);
            return;
        }
        move_pending(c);
        if (c->state >= CONN_CLOSED)
            return;
        if (k == 0) {
            /* Before the handshake nothing can be sent (only notices could be due then). */
            if (!tls_conn_handshake_done(c->tls) || ++stuck > 2)
                return;
            continue; /* same data and length again, as mbedTLS requires */
        }
        stuck = 0;
        p += k;
        len -= (size_t)k;
    }
}

void conn_tls_close_notify(conn *c)
{
    if (!c->tls || !tls_conn_handshake_done(c->tls) || tls_conn_failed(c->tls))
        return;
    tls_conn_close_notify(c->tls);
    move_pending(c);
}

void conn_tls_pass(server *s)
{
    s->hs_pass = 0;
    conn *c = s->hs_head;
    s->hs_head = s->hs_tail = NULL;
    while (c) {
        conn *next = c->hnext;
        c->hnext = NULL;
        c->hs_deferred = false;
        if (c->state == CONN_FREED) {
            conn_free_struct(c);
        } else if (c->state <= CONN_OPEN) {
            uint8_t *data = c->cstash;
            uint32_t len = c->cstash_len;
            c->cstash = NULL;
            c->cstash_len = 0;
            conn_tls_input(c, data, len); /* may defer it again, to the new list */
            free(data);
            conn_read_start(c);
        }
        c = next;
    }
}
