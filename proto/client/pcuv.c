/* libuv client: see pcuv.h. */
#include "proto/client/pcuv.h"

#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <wslay/wslay.h>

#include "proto/client/pctls_int.h"
#include "proto/codec.h"
#include "proto/frame.h"

#define PCUV_READ_BUF 65536
#define PCUV_OUT_CAP_DEFAULT 65536
#define PCUV_REQ_MAX 512 /* room reserved per encoded request: the largest is under 200 bytes */

typedef struct outbuf {
    uint8_t *p;
    size_t len, cap;
} outbuf;

/* TLS state of one connection. Ciphertext moves through memory: bio_recv hands mbedTLS the bytes
 * of the current read, bio_send appends to the output buffer being filled. Requests wait as
 * plaintext in pt and are encrypted together just before a write starts, so a burst becomes a few
 * large records rather than one record per request. */
typedef struct tls_link {
    mbedtls_ssl_context ssl;
    const uint8_t *in;  /* ciphertext of the current read not yet taken by mbedTLS */
    size_t in_len;
    outbuf pt;          /* plaintext requests not yet encrypted */
    int hs_done;
    int code;           /* mbedTLS code behind a failure, 0 if none */
} tls_link;

/* WebSocket state (pcuv_opts.ws_host): the upgrade, then wslay's frame layer both ways. Each binary
 * message from the server becomes a length-prefixed frame for the usual reader. */
#define PCUV_WS_HEAD_MAX 1024
typedef struct ws_link {
    wslay_frame_context_ptr ctx;
    int open;                 /* the 101 arrived */
    char accept[32];          /* the Sec-WebSocket-Accept value expected */
    char head[PCUV_WS_HEAD_MAX];
    size_t hlen;
    const uint8_t *in;        /* bytes of the current read not yet taken by wslay */
    size_t in_len;
    outbuf *to;               /* where frames being sent go */
    uint64_t rng;             /* masking keys (xorshift seeded from getrandom) */
    int in_frame;
    uint8_t opcode;
    uint64_t flen, fgot;
    uint8_t ctl[125];
    size_t ctl_have;
    char host[256];
} ws_link;

struct pcuv_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    pcuv_callbacks cb;
    void *user;
    frame_reader fr;
    outbuf out[2];      /* out[fill] collects requests; out[!fill] is being written */
    int fill;
    int writing;
    int connected;
    int closing;
    int why;            /* reason passed to on_close */
    size_t out_cap;
    uint32_t next_rid;
    pcuv_stats stats;
    tls_link *tls;      /* NULL: clear text */
    ws_link *ws;        /* NULL: length-prefixed frames */
};

static _Thread_local uint8_t read_buf[PCUV_READ_BUF];
/* Decrypted bytes of one record at most (TLS records carry up to 16 KiB). */
static _Thread_local uint8_t plain_buf[16384];
static _Thread_local char tls_text[PC_TLS_ERR_MAX];

/* Makes room for at least `need` more bytes in o (doubling, so bursts settle to a steady size). */
static int outbuf_reserve(outbuf *o, size_t need)
{
    if (o->cap - o->len >= need)
        return 0;
    size_t cap = o->cap ? o->cap * 2 : 1024;
    while (cap - o->len < need)
        cap *= 2;
    uint8_t *np = realloc(o->p, cap);
    if (!np)
        return -1;
    o->p = np;
    o->cap = cap;
    return 0;
}

/* Frees c and all it owns; its handle is closed or was never initialised. */
static void conn_free(pcuv_conn *c)
{
    if (c->tls) {
        mbedtls_ssl_free(&c->tls->ssl);
        free(c->tls->pt.p);
        free(c->tls);
    }
    if (c->ws && c->ws->ctx)
        wslay_frame_context_free(c->ws->ctx);
    free(c->ws);
    frame_reader_free(&c->fr);
    free(c->out[0].p);
    free(c->out[1].p);
    free(c);
}

static void on_closed(uv_handle_t *h)
{
    pcuv_conn *c = h->data;
    if (c->cb.on_close)
        c->cb.on_close(c, c->why);
    conn_free(c);
}

static void shut(pcuv_conn *c, int why)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->why = why;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void flush(pcuv_conn *c);

static void on_written(uv_write_t *req, int status)
{
    pcuv_conn *c = req->data;
    c->writing = 0;
    c->stats.bytes_out += c->out[!c->fill].len;
    c->out[!c->fill].len = 0;
    if (status < 0) {
        shut(c, status);
        return;
    }
    flush(c);
}

/* Encrypts every queued request into the output buffer being filled. */
static int tls_encrypt(pcuv_conn *c)
{
    tls_link *t = c->tls;
    size_t off = 0;
    while (off < t->pt.len) {
        int n = mbedtls_ssl_write(&t->ssl, t->pt.p + off, t->pt.len - off);
        if (n <= 0) { /* bio_send never asks to wait: only out of memory or a failed session */
            t->code = n ? n : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
            return -1;
        }
        off += (size_t)n;
    }
    t->pt.len = 0;
    return 0;
}

static void flush(pcuv_conn *c)
{
    if (c->writing || !c->connected || c->closing)
        return;
    if (c->tls && c->tls->hs_done && c->tls->pt.len > 0 && tls_encrypt(c) != 0) {
        shut(c, UV_EPROTO);
        return;
    }
    if (c->out[c->fill].len == 0)
        return;
    outbuf *o = &c->out[c->fill];
    c->fill = !c->fill;
    uv_buf_t b = uv_buf_init((char *)o->p, (unsigned)o->len);
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0) {
        shut(c, rc);
        return;
    }
    c->writing = 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    *b = uv_buf_init((char *)read_buf, sizeof read_buf);
}

/* Frames the plaintext stream and hands each event to on_event. */
static void deliver(pcuv_conn *c, const uint8_t *p, size_t left)
{
    while (left > 0 && !c->closing) {
        size_t used;
        const uint8_t *body;
        uint32_t blen;
        proto_error err = PROTO_E_OK;
        frame_status st = frame_reader_feed(&c->fr, p, left, &used, &body, &blen, &err);
        p += used;
        left -= used;
        if (st == FRAME_ERROR) {
            shut(c, err);
            return;
        }
        if (st == FRAME_MORE)
            break;
        proto_event ev;
        proto_error e = proto_decode_event(body, blen, &ev, NULL);
        c->stats.frames_in++;
        if (e == PROTO_E_UNKNOWN_TYPE) {
            c->stats.skipped_unknown++;
            continue;
        }
        if (e != PROTO_E_OK) {
            shut(c, e);
            return;
        }
        if (c->cb.on_event)
            c->cb.on_event(c, &ev);
    }
}

/* ---- WebSocket ------------------------------------------------------------------------------ */

static ssize_t ws_send_cb(const uint8_t *data, size_t len, int flags, void *user)
{
    ws_link *w = ((pcuv_conn *)user)->ws;
    (void)flags;
    if (outbuf_reserve(w->to, len) != 0)
        return -1;
    memcpy(w->to->p + w->to->len, data, len);
    w->to->len += len;
    return (ssize_t)len;
}

static ssize_t ws_recv_cb(uint8_t *buf, size_t len, int flags, void *user)
{
    ws_link *w = ((pcuv_conn *)user)->ws;
    (void)flags;
    if (len > w->in_len)
        len = w->in_len;
    if (len)
        memcpy(buf, w->in, len);
    w->in += len;
    w->in_len -= len;
    return (ssize_t)len; /* 0: WSLAY_ERR_WANT_READ */
}

static int ws_genmask_cb(uint8_t *buf, size_t len, void *user)
{
    ws_link *w = ((pcuv_conn *)user)->ws;
    for (size_t i = 0; i < len; i++) {
        w->rng ^= w->rng << 13;
        w->rng ^= w->rng >> 7;
        w->rng ^= w->rng << 17;
        buf[i] = (uint8_t)(w->rng >> 24);
    }
    return 0;
}

/* Where plaintext for the server goes: TLS waits as plaintext in pt, clear text goes straight out. */
static outbuf *plain_out(pcuv_conn *c)
{
    return c->tls ? &c->tls->pt : &c->out[c->fill];
}

/* One whole masked frame into the output. 0 or -1 (no memory). */
static int ws_frame_out(pcuv_conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    ws_link *w = c->ws;
    w->to = plain_out(c);
    struct wslay_frame_iocb io = {.fin = 1, .opcode = opcode, .mask = 1, .payload_length = len,
                                  .data = data, .data_length = len};
    size_t sent = 0;
    do {
        io.data = data + sent;
        io.data_length = len - sent;
        ssize_t r = wslay_frame_send(w->ctx, &io);
        if (r < 0)
            return -1;
        sent += (size_t)r;
    } while (sent < len);
    return 0;
}

/* The connection (and TLS) is up: sends the upgrade request; on_connect waits for the 101. */
static void ws_start(pcuv_conn *c)
{
    ws_link *w = c->ws;
    uint8_t nonce[16];
    for (int i = 0; i < 16; i++) {
        uint8_t b;
        ws_genmask_cb(&b, 1, c);
        nonce[i] = b;
    }
    unsigned char key[32], dig[20];
    size_t klen = 0, alen = 0;
    mbedtls_base64_encode(key, sizeof key, &klen, nonce, sizeof nonce);
    key[klen] = 0;
    char kg[96];
    snprintf(kg, sizeof kg, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (const char *)key);
    mbedtls_sha1_ret((const unsigned char *)kg, strlen(kg), dig);
    mbedtls_base64_encode((unsigned char *)w->accept, sizeof w->accept, &alen, dig, sizeof dig);
    w->accept[alen] = 0;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     w->host, (const char *)key);
    outbuf *o = plain_out(c);
    if (n <= 0 || (size_t)n >= sizeof req || outbuf_reserve(o, (size_t)n) != 0) {
        shut(c, UV_ENOMEM);
        return;
    }
    memcpy(o->p + o->len, req, (size_t)n);
    o->len += (size_t)n;
    flush(c);
}

/* The response head: 101 with the expected accept value, or the connection fails. Returns the
 * bytes of p it used, or -1 when it failed (closed). */
static long ws_head(pcuv_conn *c, const uint8_t *p, size_t n)
{
    ws_link *w = c->ws;
    size_t take = n < sizeof w->head - 1 - w->hlen ? n : sizeof w->head - 1 - w->hlen;
    memcpy(w->head + w->hlen, p, take);
    size_t before = w->hlen;
    w->hlen += take;
    w->head[w->hlen] = 0;
    char *end = strstr(w->head, "\r\n\r\n");
    if (!end) {
        if (w->hlen == sizeof w->head - 1)
            goto fail;
        return (long)take;
    }
    const char *acc = strcasestr(w->head, "\r\nSec-WebSocket-Accept:");
    if (strncmp(w->head, "HTTP/1.1 101", 12) != 0 || !acc || !strstr(acc, w->accept))
        goto fail;
    w->open = 1;
    if (c->cb.on_connect)
        c->cb.on_connect(c, 0);
    flush(c);
    return (long)((size_t)(end + 4 - w->head) - before);
fail:
    if (c->cb.on_connect)
        c->cb.on_connect(c, UV_EPROTO);
    shut(c, UV_EPROTO);
    return -1;
}

/* WebSocket input: the 101, then frames; binary messages go on to deliver() as prefixed frames. */
static void ws_input(pcuv_conn *c, const uint8_t *p, size_t n)
{
    ws_link *w = c->ws;
    if (!w->open) {
        long used = ws_head(c, p, n);
        if (used < 0)
            return;
        p += used;
        n -= (size_t)used;
    }
    w->in = p;
    w->in_len = n;
    while (!c->closing) {
        struct wslay_frame_iocb io;
        memset(&io, 0, sizeof io);
        ssize_t r = wslay_frame_recv(w->ctx, &io);
        if (r == WSLAY_ERR_WANT_READ)
            break;
        if (r < 0) {
            shut(c, PROTO_E_BAD_FRAME);
            return;
        }
        if (!w->in_frame) {
            w->in_frame = 1;
            w->opcode = io.opcode;
            w->flen = io.payload_length;
            w->fgot = 0;
            w->ctl_have = 0;
            if (io.mask || io.rsv || (io.opcode < 8 && (io.opcode != WSLAY_BINARY_FRAME || !io.fin)) ||
                io.payload_length > UINT32_MAX) {
                shut(c, PROTO_E_BAD_FRAME);
                return;
            }
            if (io.opcode == WSLAY_BINARY_FRAME) {
                uint8_t pre[4] = {(uint8_t)(io.payload_length >> 24), (uint8_t)(io.payload_length >> 16),
                                  (uint8_t)(io.payload_length >> 8), (uint8_t)io.payload_length};
                deliver(c, pre, 4);
            }
        }
        w->fgot += io.data_length;
        int last = w->fgot == w->flen;
        if (last)
            w->in_frame = 0;
        if (w->opcode == WSLAY_BINARY_FRAME) {
            if (io.data_length)
                deliver(c, io.data, io.data_length);
            continue;
        }
        if (io.data_length) {
            memcpy(w->ctl + w->ctl_have, io.data, io.data_length);
            w->ctl_have += io.data_length;
        }
        if (!last)
            continue;
        if (w->opcode == WSLAY_CONNECTION_CLOSE) {
            shut(c, UV_EOF);
            return;
        }
        if (w->opcode == WSLAY_PING) {
            if (ws_frame_out(c, WSLAY_PONG, w->ctl, w->ctl_have) != 0) {
                shut(c, UV_ENOMEM);
                return;
            }
            flush(c);
        }
    }
    w->in = NULL;
    w->in_len = 0;
}

/* ---- TLS ------------------------------------------------------------------------------------ */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    pcuv_conn *c = ctx;
    outbuf *o = &c->out[c->fill]; /* never the buffer being written */
    if (outbuf_reserve(o, len) != 0)
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    memcpy(o->p + o->len, buf, len);
    o->len += len;
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    tls_link *t = ((pcuv_conn *)ctx)->tls;
    if (t->in_len == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (len > t->in_len)
        len = t->in_len;
    memcpy(buf, t->in, len);
    t->in += len;
    t->in_len -= len;
    return (int)len;
}

/* The handshake failed or the stream ended before it finished: on_connect hears it, then close. */
static void tls_connect_failed(pcuv_conn *c, int status)
{
    if (c->cb.on_connect)
        c->cb.on_connect(c, status);
    shut(c, status);
}

static void tls_handshake(pcuv_conn *c)
{
    tls_link *t = c->tls;
    int r = mbedtls_ssl_handshake(&t->ssl);
    if (r == 0) {
        t->hs_done = 1;
        if (c->ws)
            ws_start(c); /* on_connect comes with the 101 */
        else if (c->cb.on_connect)
            c->cb.on_connect(c, 0);
    } else if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
        t->code = r;
        tls_connect_failed(c, pctls_untrusted(r) ? UV_EACCES : UV_EPROTO);
        return;
    }
    flush(c); /* the next handshake flight, or the requests queued while it ran */
}

static void tls_input(pcuv_conn *c, const uint8_t *p, size_t n)
{
    tls_link *t = c->tls;
    t->in = p;
    t->in_len = n;
    if (!t->hs_done) {
        tls_handshake(c);
        if (!t->hs_done || c->closing)
            return;
    }
    while (!c->closing) {
        int m = mbedtls_ssl_read(&t->ssl, plain_buf, sizeof plain_buf);
        if (m > 0) {
            if (c->ws)
                ws_input(c, plain_buf, (size_t)m);
            else
                deliver(c, plain_buf, (size_t)m);
            continue;
        }
        if (m == MBEDTLS_ERR_SSL_WANT_READ)
            break;
        if (m == 0 || m == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            shut(c, UV_EOF);
            return;
        }
        t->code = m;
        shut(c, UV_EPROTO);
        return;
    }
    t->in = NULL;
    t->in_len = 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    pcuv_conn *c = s->data;
    if (n < 0) {
        if (c->tls && !c->tls->hs_done)
            tls_connect_failed(c, (int)n);
        else
            shut(c, (int)n);
        return;
    }
    c->stats.bytes_in += (uint64_t)n;
    if (c->tls)
        tls_input(c, (const uint8_t *)b->base, (size_t)n);
    else if (c->ws)
        ws_input(c, (const uint8_t *)b->base, (size_t)n);
    else
        deliver(c, (const uint8_t *)b->base, (size_t)n);
}

static void on_connected(uv_connect_t *req, int status)
{
    pcuv_conn *c = req->data;
    if (c->closing)
        return;
    if (status == 0) {
        c->connected = 1;
        uv_tcp_nodelay(&c->tcp, 1);
        status = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    if (c->tls && status == 0) {
        tls_handshake(c); /* on_connect comes when it completes */
        return;
    }
    if (c->ws && status == 0) {
        ws_start(c); /* on_connect comes with the 101 */
        return;
    }
    if (c->cb.on_connect)
        c->cb.on_connect(c, status);
    if (status < 0) {
        shut(c, status);
        return;
    }
    flush(c);
}

/* Binds c's socket (created by uv_tcp_init_ex) to local before the connect. With port 0 and
 * IP_BIND_ADDRESS_NO_PORT the port is chosen at connect time, unique for the 4-tuple; a plain
 * bind(port 0) would take a port unique for the local address alone and run out sooner. */
static int bind_local(pcuv_conn *c, const struct sockaddr *local)
{
#ifdef IP_BIND_ADDRESS_NO_PORT
    uv_os_fd_t fd;
    int one = 1;
    /* best effort: without it (an older kernel) the bind below picks the port */
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) == 0)
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    return uv_tcp_bind(&c->tcp, local, 0);
}

pcuv_conn *pcuv_connect(uv_loop_t *loop, const struct sockaddr *addr, const pcuv_callbacks *cb,
                        void *user, const pcuv_opts *opts, int *err)
{
    pcuv_conn *c = calloc(1, sizeof *c);
    if (!c) {
        if (err)
            *err = UV_ENOMEM;
        return NULL;
    }
    c->cb = *cb;
    c->user = user;
    c->next_rid = 1;
    c->out_cap = opts && opts->out_cap ? opts->out_cap : PCUV_OUT_CAP_DEFAULT;
    frame_reader_init(&c->fr, opts && opts->max_frame ? opts->max_frame : PROTO_FRAME_HARD_MAX);
    if (opts && opts->tls) {
        c->tls = calloc(1, sizeof *c->tls);
        int r = MBEDTLS_ERR_SSL_ALLOC_FAILED;
        if (c->tls) {
            mbedtls_ssl_init(&c->tls->ssl);
            r = pctls_session_setup(opts->tls, &c->tls->ssl);
        }
        if (r != 0) {
            conn_free(c);
            if (err)
                *err = r == MBEDTLS_ERR_SSL_ALLOC_FAILED ? UV_ENOMEM : UV_EINVAL;
            return NULL;
        }
        mbedtls_ssl_set_bio(&c->tls->ssl, c, bio_send, bio_recv, NULL);
    }
    if (opts && opts->ws_host) {
        static const struct wslay_frame_callbacks wcb = {ws_send_cb, ws_recv_cb, ws_genmask_cb};
        c->ws = calloc(1, sizeof *c->ws);
        if (!c->ws || getrandom(&c->ws->rng, sizeof c->ws->rng, 0) != (ssize_t)sizeof c->ws->rng ||
            wslay_frame_context_init(&c->ws->ctx, &wcb, c) != 0) {
            if (c->ws)
                c->ws->ctx = NULL;
            conn_free(c);
            if (err)
                *err = UV_ENOMEM;
            return NULL;
        }
        c->ws->rng |= 1; /* xorshift needs a non-zero state */
        snprintf(c->ws->host, sizeof c->ws->host, "%s", opts->ws_host);
    }
    const struct sockaddr *local = opts ? opts->local : NULL;
    int rc = local ? uv_tcp_init_ex(loop, &c->tcp, local->sa_family) : uv_tcp_init(loop, &c->tcp);
    if (rc < 0) {
        conn_free(c);
        if (err)
            *err = rc;
        return NULL;
    }
    c->tcp.data = c;
    c->creq.data = c;
    rc = local ? bind_local(c, local) : 0;
    if (rc == 0)
        rc = uv_tcp_connect(&c->creq, &c->tcp, addr, on_connected);
    if (rc < 0) {
        /* the handle is initialised: it must be closed through the loop; report without on_close */
        c->cb.on_close = NULL;
        shut(c, rc);
        if (err)
            *err = rc;
        return NULL;
    }
    return c;
}

int64_t pcuv_send(pcuv_conn *c, const proto_request *r)
{
    if (c->closing || (c->ws && !c->ws->open))
        return UV_ENOTCONN;
    /* With TLS requests wait as plaintext; the cap counts them and the ciphertext not yet sent. */
    outbuf *o = c->tls ? &c->tls->pt : &c->out[c->fill];
    size_t pending = c->out[c->fill].len + (c->writing ? c->out[!c->fill].len : 0) +
                     (c->tls ? c->tls->pt.len : 0);
    if (pending + PCUV_REQ_MAX > c->out_cap)
        return UV_ENOBUFS;
    if (outbuf_reserve(o, PCUV_REQ_MAX) != 0)
        return UV_ENOMEM;
    proto_request tmp;
    if (!r->has_rid) {
        tmp = *r;
        tmp.has_rid = true;
        tmp.rid = c->next_rid++;
        if (c->next_rid == 0)
            c->next_rid = 1;
        r = &tmp;
    }
    size_t len;
    if (c->ws) {
        /* One masked binary message holding the frame's body (its prefix left out). */
        uint8_t fb[PCUV_REQ_MAX];
        if (proto_encode_request(fb, sizeof fb, r, &len) != PROTO_E_OK)
            return UV_EINVAL;
        if (ws_frame_out(c, WSLAY_BINARY_FRAME, fb + 4, len - 4) != 0)
            return UV_ENOMEM;
    } else {
        if (proto_encode_request(o->p + o->len, o->cap - o->len, r, &len) != PROTO_E_OK)
            return UV_EINVAL;
        o->len += len;
    }
    c->stats.frames_out++;
    flush(c);
    return r->rid;
}

void pcuv_close(pcuv_conn *c)
{
    shut(c, 0);
}

void *pcuv_user(const pcuv_conn *c)
{
    return c->user;
}

const pcuv_stats *pcuv_get_stats(const pcuv_conn *c)
{
    return &c->stats;
}

bool pcuv_is_tls(const pcuv_conn *c)
{
    return c->tls != NULL;
}

const char *pcuv_tls_error(const pcuv_conn *c)
{
    if (!c->tls || c->tls->code == 0)
        return "";
    pctls_describe(&c->tls->ssl, c->tls->code, tls_text, sizeof tls_text);
    return tls_text;
}
