/* conn: connection lifecycle on the network thread: accept, read, the output queue, the timeout
 * lists, overload pauses and close.
 *
 * Timeouts without a timer per connection: a connection sits on exactly one of three lists (waiting
 * for hello, open, closing), each ordered by its last activity because every list has one fixed
 * timeout and a touched connection moves to the tail. A periodic sweep pops expired heads, so each
 * frame costs O(1) and the sweep costs O(expired). */
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"
#include "proto/codec.h"
#include "util/log.h"

static void on_close(uv_handle_t *h);

/* ---- timeout lists -------------------------------------------------------------------------- */

static void list_unlink(conn *c)
{
    server *s = c->srv;
    if (c->list == LIST_NONE)
        return;
    if (c->lprev)
        c->lprev->lnext = c->lnext;
    else
        s->lhead[c->list] = c->lnext;
    if (c->lnext)
        c->lnext->lprev = c->lprev;
    else
        s->ltail[c->list] = c->lprev;
    c->lprev = c->lnext = NULL;
    c->list = LIST_NONE;
}

void conn_set_list(conn *c, enum conn_list_id list)
{
    server *s = c->srv;
    list_unlink(c);
    if (list == LIST_NONE)
        return;
    c->list = (uint8_t)list;
    c->lprev = s->ltail[list];
    c->lnext = NULL;
    if (c->lprev)
        c->lprev->lnext = c;
    else
        s->lhead[list] = c;
    s->ltail[list] = c;
}

/* A frame arrived: c's idle deadline starts again. */
void conn_touch(conn *c)
{
    c->last_ms = uv_now(&c->srv->loop);
    if (c->list == LIST_HELLO || c->list == LIST_IDLE)
        conn_set_list(c, (enum conn_list_id)c->list);
}

void conn_sweep(server *s)
{
    uint64_t now = uv_now(&s->loop);
    static const net_close_reason why[LIST_COUNT] = {
        [LIST_TLS] = NET_CLOSE_TLS, [LIST_HELLO] = NET_CLOSE_HELLO, [LIST_IDLE] = NET_CLOSE_IDLE,
        [LIST_CLOSING] = NET_CLOSE_ERROR, [LIST_WS] = NET_CLOSE_WS};
    for (int l = LIST_TLS; l < LIST_COUNT; l++) {
        while (s->lhead[l] && now - s->lhead[l]->last_ms >= s->timeout_ms[l]) {
            conn *c = s->lhead[l];
            if (l == LIST_CLOSING) {
                /* Linger over: drop what the peer did not read. */
                list_unlink(c);
                c->state = CONN_CLOSED;
                uv_close((uv_handle_t *)&c->tcp, on_close);
                continue;
            }
            if (c->paused) {
                /* Waiting on a full inbox is the server's doing, not idleness. */
                c->last_ms = now;
                conn_set_list(c, (enum conn_list_id)l);
                continue;
            }
            if (l == LIST_WS) {
                ws_conn_timeout(c); /* 408, then closing */
                if (c->list == (uint8_t)l)
                    list_unlink(c);
                continue;
            }
            if (l == LIST_HELLO)
                route_error(c, PROTO_E_NOT_HELLO_FIRST, "no hello in time", false, 0, 0);
            /* No handshake, no way to tell a TLS client why: just close. */
            conn_close(c, why[l], l == LIST_HELLO);
            if (c->list == (uint8_t)l) /* conn_close always moves it; guard against a loop anyway */
                list_unlink(c);
        }
    }
}

/* ---- output --------------------------------------------------------------------------------- */

static void mark_dirty(conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->dnext = c->srv->dirty;
    c->srv->dirty = c;
}

void conn_out_append(conn *c, const void *bytes, size_t len)
{
    server *s = c->srv;
    if (c->state >= CONN_CLOSED)
        return;
    if (c->out.bytes + len > (uint64_t)s->opts.output_cap) {
        /* A client that does not read loses its connection, not the server's memory. Its seats go
         * away through SHARD_IN_CONN_GONE and it can resume with its token. */
        NET_STAT_ADD(&s->stats, output_cap_cuts, 1);
        log_debug("output cap: cutting off", "conn", LOG_U64(c->id), "queued",
                  LOG_U64(c->out.bytes));
        conn_close(c, NET_CLOSE_OUTPUT_CAP, false);
        return;
    }
    if (outq_append(&c->out, &s->pool, bytes, len) != 0) {
        conn_close(c, NET_CLOSE_ERROR, false);
        return;
    }
    mark_dirty(c);
}

void conn_send(conn *c, const void *frame, size_t len)
{
    if (c->state >= CONN_CLOSED)
        return;
    NET_STAT_ADD(&c->srv->stats, frames_out, 1);
    if (c->ws)
        ws_conn_send(c, frame, len);
    else if (c->tls)
        conn_tls_send(c, frame, len);
    else
        conn_out_append(c, frame, len);
}

static void conn_flush(conn *c);

static void on_write(uv_write_t *req, int status)
{
    conn *c = req->data;
    server *s = c->srv;
    c->writing = false;
    if (status < 0) {
        if (c->state < CONN_CLOSED)
            conn_close(c, NET_CLOSE_ERROR, false);
        return;
    }
    NET_STAT_ADD(&s->stats, bytes_out, c->wbytes);
    outq_consume(&c->out, &s->pool, c->wbytes);
    c->wbytes = 0;
    if (c->state >= CONN_CLOSED)
        return;
    conn_flush(c);
}

static void conn_flush(conn *c)
{
    server *s = c->srv;
    if (c->writing || c->state >= CONN_CLOSED)
        return;
    uv_buf_t bufs[NET_WRITE_BUFS];
    while (c->out.bytes) {
        unsigned n = outq_bufs(&c->out, bufs, NET_WRITE_BUFS);
        int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
        if (r == UV_EAGAIN)
            r = 0;
        if (r < 0) {
            conn_close(c, NET_CLOSE_ERROR, false);
            return;
        }
        size_t want = 0;
        for (unsigned i = 0; i < n; i++)
            want += bufs[i].len;
        NET_STAT_ADD(&s->stats, bytes_out, (uint64_t)r);
        outq_consume(&c->out, &s->pool, (size_t)r);
        if ((size_t)r == want)
            continue;
        /* The socket is full: hand the rest to libuv and continue in on_write. */
        n = outq_bufs(&c->out, bufs, NET_WRITE_BUFS);
        c->wbytes = 0;
        for (unsigned i = 0; i < n; i++)
            c->wbytes += bufs[i].len;
        c->wreq.data = c;
        if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, n, on_write) != 0) {
            c->wbytes = 0;
            conn_close(c, NET_CLOSE_ERROR, false);
            return;
        }
        c->writing = true;
        return;
    }
    if (c->state == CONN_CLOSING) {
        /* Everything left: now close for real. */
        list_unlink(c);
        c->state = CONN_CLOSED;
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

void conn_flush_dirty(server *s)
{
    while (s->dirty) {
        conn *c = s->dirty;
        s->dirty = c->dnext;
        c->dnext = NULL;
        c->dirty = false;
        if (c->state == CONN_FREED) {
            conn_free_struct(c);
            continue;
        }
        conn_flush(c);
    }
    NET_STAT_SET(&s->stats, out_chunks, s->pool.allocated);
}

/* ---- input ---------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)suggested;
    /* One buffer for every connection: read_cb consumes it (or stashes the rest) before returning. */
    *buf = uv_buf_init((char *)c->srv->rbuf, NET_READ_BUF);
}

void conn_stash_rest(conn *c, const uint8_t *data, size_t len)
{
    /* Only when an inbox is full: keep the bytes read past the parked frame until reads resume. */
    if (data >= c->stash && data < c->stash + c->stash_len) {
        c->stash_off = (uint32_t)(data - c->stash);
        return;
    }
    free(c->stash);
    c->stash = NULL;
    c->stash_len = c->stash_off = 0;
    if (!len)
        return;
    c->stash = malloc(len);
    if (!c->stash) {
        conn_close(c, NET_CLOSE_ERROR, false);
        return;
    }
    memcpy(c->stash, data, len);
    c->stash_len = (uint32_t)len;
}

static void stash_append(conn *c, const uint8_t *data, size_t len)
{
    /* TLS only: plaintext decrypted after the connection paused joins the stash. */
    uint32_t keep = c->stash_len - c->stash_off;
    uint8_t *n = malloc((size_t)keep + len);
    if (!n) {
        conn_close(c, NET_CLOSE_ERROR, false);
        return;
    }
    if (keep)
        memcpy(n, c->stash + c->stash_off, keep);
    memcpy(n + keep, data, len);
    free(c->stash);
    c->stash = n;
    c->stash_off = 0;
    c->stash_len = keep + (uint32_t)len;
}

/* Feeds plaintext to c's frame reader and routes every whole frame (see conn_deliver). */
static void conn_input(conn *c, const uint8_t *data, size_t len);

void conn_deliver(conn *c, const uint8_t *data, size_t len)
{
    if (c->paused)
        stash_append(c, data, len);
    else
        conn_input(c, data, len);
}

static void conn_input(conn *c, const uint8_t *data, size_t len)
{
    server *s = c->srv;
    if (c->ws) {
        ws_conn_input(c, data, len);
        return;
    }
    size_t off = 0;
    for (;;) {
        if (c->state != CONN_HELLO && c->state != CONN_OPEN)
            return;
        size_t used = 0;
        const uint8_t *body = NULL;
        uint32_t blen = 0;
        proto_error err = PROTO_E_OK;
        frame_status st = frame_reader_feed(&c->fr, data + off, len - off, &used, &body, &blen, &err);
        off += used;
        if (st == FRAME_MORE)
            return;
        if (st == FRAME_ERROR) {
            /* A bad length prefix: the stream cannot be trusted past this point. */
            route_error(c, err, err == PROTO_E_FRAME_TOO_LARGE ? "frame longer than max_frame"
                                                               : "bad frame length",
                        false, 0, 0);
            conn_close(c, NET_CLOSE_BAD_STREAM, true);
            return;
        }
        NET_STAT_ADD(&s->stats, frames_in, 1);
        conn_touch(c);
        if (!route_frame(c, body, blen)) {
            if (c->paused)
                conn_stash_rest(c, data + off, len - off);
            return;
        }
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = st->data;
    server *s = c->srv;
    (void)buf;
    if (nread < 0) {
        /* EOF may be a half-close by a client that still reads: let queued replies leave. */
        conn_close(c, nread == UV_EOF ? NET_CLOSE_PEER : NET_CLOSE_ERROR, nread == UV_EOF);
        return;
    }
    if (nread == 0)
        return;
    NET_STAT_ADD(&s->stats, bytes_in, (uint64_t)nread);
    if (c->tls)
        conn_tls_input(c, s->rbuf, (size_t)nread);
    else
        conn_input(c, s->rbuf, (size_t)nread);
}

static void paused_unlink(conn *c)
{
    server *s = c->srv;
    if (!c->paused)
        return;
    if (c->pprev)
        c->pprev->pnext = c->pnext;
    else
        s->paused[c->pending_shard] = c->pnext;
    if (c->pnext)
        c->pnext->pprev = c->pprev;
    c->pprev = c->pnext = NULL;
    c->paused = false;
    s->npaused--;
}

void conn_read_start(conn *c)
{
    if (c->paused || c->hs_deferred || c->reading || c->state > CONN_OPEN)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
    else
        conn_close(c, NET_CLOSE_ERROR, false);
}

void conn_resume_paused(server *s)
{
    for (unsigned k = 0; k < s->nshards && s->npaused; k++) {
        while (s->paused[k] && shards_inbox_ready(s->shards, k)) {
            conn *c = s->paused[k];
            if (c->pending && !shards_push(s->shards, k, c->pending))
                break;
            server_mark_pushed(s, k);
            NET_STAT_ADD(&s->stats, reads_resumed, 1);
            log_debug("reads resumed", "conn", LOG_U64(c->id), "shard", LOG_U64(k));
            if (c->pending && c->pending->kind == SHARD_IN_REQUEST)
                NET_STAT_ADD(&s->stats, requests_routed, 1);
            free(c->pending);
            c->pending = NULL;
            paused_unlink(c);
            conn_touch(c);
            /* Input read before the pause comes first; it may pause the connection again. */
            if (c->stash) {
                uint8_t *st = c->stash;
                uint32_t off = c->stash_off, len = c->stash_len;
                conn_input(c, st + off, len - off);
                if (c->stash == st && !c->paused) {
                    free(c->stash);
                    c->stash = NULL;
                    c->stash_len = c->stash_off = 0;
                }
            } else if (c->ws) {
                conn_input(c, NULL, 0); /* messages the WebSocket layer buffered before the pause */
            }
            conn_read_start(c);
        }
    }
}

void conn_pause(conn *c, unsigned k, const struct shard_in *msg)
{
    server *s = c->srv;
    c->pending = malloc(sizeof *c->pending);
    if (!c->pending) {
        conn_close(c, NET_CLOSE_ERROR, false);
        return;
    }
    memcpy(c->pending, msg, sizeof *msg);
    c->pending_shard = k;
    c->paused = true;
    c->pprev = NULL;
    c->pnext = s->paused[k];
    if (c->pnext)
        c->pnext->pprev = c;
    s->paused[k] = c;
    s->npaused++;
    NET_STAT_ADD(&s->stats, reads_paused, 1);
    log_debug("inbox full: reads paused", "conn", LOG_U64(c->id), "shard", LOG_U64(k));
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* ---- seats ---------------------------------------------------------------------------------- */

void conn_seat_change(conn *c, uint64_t bid, int delta)
{
    for (uint32_t i = 0; i < c->nseats; i++) {
        if (c->seats[i].bid != bid)
            continue;
        if (delta > 0) {
            c->seats[i].count++;
            c->nplaces++;
        } else if (c->seats[i].count) {
            c->seats[i].count--;
            c->nplaces--;
            if (!c->seats[i].count)
                c->seats[i] = c->seats[--c->nseats];
        }
        return;
    }
    if (delta <= 0)
        return;
    if (c->nseats == c->seats_cap) {
        uint32_t ncap = c->seats_cap ? c->seats_cap * 2 : 4;
        conn_seat *n = realloc(c->seats, ncap * sizeof *n);
        if (!n) {
            conn_close(c, NET_CLOSE_ERROR, false);
            return;
        }
        c->seats = n;
        c->seats_cap = ncap;
    }
    c->seats[c->nseats++] = (conn_seat){.bid = bid, .count = 1};
    c->nplaces++;
}

/* ---- accept and close ----------------------------------------------------------------------- */

void conn_free_struct(conn *c)
{
    /* Still linked on a singly linked list (flush, deferred handshakes): its walk frees it. */
    if (c->dirty || c->hs_deferred)
        return;
    free(c);
}

static void on_close(uv_handle_t *h)
{
    conn *c = h->data;
    server *s = c->srv;
    tls_conn_free(c->tls);
    c->tls = NULL;
    ws_conn_free(c);
    if (c->addr_state != CONN_ADDR_NONE) {
        addrcap_release(&s->addrs, &c->addr, c->addr_state == CONN_ADDR_HANDSHAKE);
        c->addr_state = CONN_ADDR_NONE;
        NET_STAT_SET(&s->stats, addr_tracked, addrcap_addresses(&s->addrs));
    }
    free(c->cstash);
    c->cstash = NULL;
    outq_clear(&c->out, &s->pool);
    frame_reader_free(&c->fr);
    free(c->seats);
    free(c->pending);
    free(c->stash);
    if (c->id)
        NET_STAT_ADD(&s->stats, conns_current, (uint64_t)-1);
    s->conn_objs--;
    c->state = CONN_FREED;
    conn_free_struct(c);
}

void conn_close(conn *c, net_close_reason why, bool flush)
{
    server *s = c->srv;
    if (c->state >= CONN_CLOSING) {
        if (c->state == CONN_CLOSING && !flush) {
            /* A closing connection hit an error: stop waiting for its output. */
            list_unlink(c);
            c->state = CONN_CLOSED;
            uv_close((uv_handle_t *)&c->tcp, on_close);
        }
        return;
    }
    c->state = CONN_CLOSING;
    c->close_reason = (uint8_t)why;
    if (c->id) {
        NET_STAT_ADD(&s->stats, conns_closed[why], 1);
        log_debug("connection closing", "conn", LOG_U64(c->id), "reason", net_close_reason_name(why),
                  "seats", LOG_U64(c->nplaces), "unsent", LOG_U64(c->out.bytes));
        /* From here on, shard output for this id is dropped and counted. */
        conntab_remove(&s->conns, c->id);
        lobby_remote_gone_all(s, c->lobby);
        size_t n = lobby_cancel(&s->lobby, &c->lobby);
        if (n)
            NET_STAT_ADD(&s->stats, lobby_waiting, (uint64_t)-(int64_t)n);
        c->nqueued = 0;
        for (uint32_t i = 0; i < c->nseats; i++) {
            struct shard_in m = {.kind = SHARD_IN_CONN_GONE, .conn = c->id,
                                 .battle_id = c->seats[i].bid};
            server_push_ctl(s, shard_of(m.battle_id, s->nshards), &m);
        }
        c->nseats = 0;
        c->nplaces = 0;
    }
    paused_unlink(c);
    free(c->pending);
    c->pending = NULL;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (flush && c->ws) {
        ws_conn_closing(c, why);
        if (c->state >= CONN_CLOSED)
            return; /* the close frame met the output cap */
    }
    if (flush && c->tls)
        conn_tls_close_notify(c);
    if (flush && c->out.bytes) {
        c->last_ms = uv_now(&s->loop);
        conn_set_list(c, LIST_CLOSING);
        mark_dirty(c);
        return;
    }
    list_unlink(c);
    c->state = CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static conn *conn_new(server *s)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->srv = s;
    if (uv_tcp_init(&s->loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    c->tcp.data = c;
    s->conn_objs++;
    frame_reader_init(&c->fr, (uint32_t)s->opts.max_frame);
    outq_init(&c->out);
    return c;
}

void conn_established(conn *c)
{
    if (c->addr_state != CONN_ADDR_HANDSHAKE)
        return;
    addrcap_handshake_done(&c->srv->addrs, &c->addr);
    c->addr_state = CONN_ADDR_OPEN;
}

/* Refuses a connection that has no id: a short reason where the transport allows one without a
 * handshake (a native clear-text frame, or an HTTP 503 on a ws:// listener), then closes. Each
 * refused connection holds a descriptor until its answer leaves; the open-file reserve has
 * FDLIMIT_REFUSING of them, so past that a flood is closed without the answer. */
static void refuse(conn *c, bool tls, const char *why)
{
    server *s = c->srv;
    c->state = CONN_OPEN;
    bool answer = !tls && s->conn_objs <= (uint64_t)s->opts.max_connections + FDLIMIT_REFUSING;
    if (answer && c->ws)
        ws_conn_refuse(c, why);
    else if (answer)
        route_error(c, PROTO_E_SERVER_BUSY, why, false, 0, 0);
    conn_close(c, NET_CLOSE_ERROR, true);
}

void conn_accept(server *s, bool tls)
{
    conn_accept_on(s, (uv_stream_t *)(tls ? &s->tls_listener : &s->listener), tls, false);
}

conn *conn_accept_on(server *s, uv_stream_t *l, bool tls, bool ws)
{
    conn *c = conn_new(s);
    if (!c) {
        /* Out of memory: accept into nothing is impossible with libuv, so leave it in the backlog. */
        log_warn("accept: out of memory");
        return NULL;
    }
    int r = uv_accept(l, (uv_stream_t *)&c->tcp);
    if (r != 0) {
        fdlimit_accept_failed(&s->fdl, FDLIMIT_L_GAME, r, uv_now(&s->loop));
        c->state = CONN_CLOSED;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return NULL;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->last_ms = uv_now(&s->loop);
    if (ws && !ws_conn_new(c)) {
        c->state = CONN_CLOSED;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return NULL;
    }
    /* Per source address first: a flood from one address is refused before it can take one of
     * the server.max_connections slots. */
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    memset(&peer, 0, sizeof peer);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0) {
        c->addr = addrcap_key_of((const struct sockaddr *)&peer);
        addrcap_result ar = addrcap_acquire(&s->addrs, &c->addr,
                                            (uint32_t)s->opts.max_conns_per_addr,
                                            (uint32_t)s->opts.max_handshakes_per_addr);
        if (ar != ADDRCAP_OK) {
            if (ar == ADDRCAP_CONNS)
                NET_STAT_ADD(&s->stats, addr_conns_refused, 1);
            else if (ar == ADDRCAP_HANDSHAKES)
                NET_STAT_ADD(&s->stats, addr_handshakes_refused, 1);
            NET_STAT_ADD(&s->stats, conns_closed[NET_CLOSE_ADDR], 1);
            log_debug("refused by the per-address caps", "result", LOG_U64(ar));
            refuse(c, tls, ar == ADDRCAP_CONNS ? "too many connections from your address"
                                               : "too many handshakes from your address");
            return NULL;
        }
        c->addr_state = CONN_ADDR_HANDSHAKE;
        NET_STAT_SET(&s->stats, addr_tracked, addrcap_addresses(&s->addrs));
    }
    c->id = conntab_add(&s->conns, c);
    if (!c->id) {
        /* Over server.max_connections: say so (in clear text only: a TLS client would need a
         * handshake first, which is the cost the cap avoids), then close. */
        NET_STAT_ADD(&s->stats, conns_refused, 1);
        refuse(c, tls, "too many connections");
        return NULL;
    }
    if (tls) {
        c->tls = tls_conn_new(s->tls);
        if (!c->tls) {
            conn_close(c, NET_CLOSE_ERROR, false);
            return NULL;
        }
    }
    NET_STAT_ADD(&s->stats, conns_total, 1);
    NET_STAT_ADD(&s->stats, conns_current, 1);
    ratelimit_init(&c->rl, &s->rl, c->last_ms);
    c->state = CONN_HELLO;
    conn_set_list(c, tls ? LIST_TLS : ws ? LIST_WS : LIST_HELLO);
    conn_read_start(c);
    return c;
}
