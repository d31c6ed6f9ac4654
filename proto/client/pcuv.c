/* libuv client: see pcuv.h. */
#include "proto/client/pcuv.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/frame.h"

#define PCUV_READ_BUF 65536
#define PCUV_OUT_CAP_DEFAULT 65536
#define PCUV_REQ_MAX 512 /* room reserved per encoded request: the largest is under 200 bytes */

typedef struct outbuf {
    uint8_t *p;
    size_t len, cap;
} outbuf;

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
};

static _Thread_local uint8_t read_buf[PCUV_READ_BUF];

static void on_closed(uv_handle_t *h)
{
    pcuv_conn *c = h->data;
    if (c->cb.on_close)
        c->cb.on_close(c, c->why);
    frame_reader_free(&c->fr);
    free(c->out[0].p);
    free(c->out[1].p);
    free(c);
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

static void flush(pcuv_conn *c)
{
    if (c->writing || !c->connected || c->closing || c->out[c->fill].len == 0)
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

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    pcuv_conn *c = s->data;
    if (n < 0) {
        shut(c, (int)n);
        return;
    }
    c->stats.bytes_in += (uint64_t)n;
    const uint8_t *p = (const uint8_t *)b->base;
    size_t left = (size_t)n;
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
    if (c->cb.on_connect)
        c->cb.on_connect(c, status);
    if (status < 0) {
        shut(c, status);
        return;
    }
    flush(c);
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
    int rc = uv_tcp_init(loop, &c->tcp);
    if (rc < 0) {
        free(c);
        if (err)
            *err = rc;
        return NULL;
    }
    c->tcp.data = c;
    c->creq.data = c;
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
    if (c->closing)
        return UV_ENOTCONN;
    outbuf *o = &c->out[c->fill];
    size_t pending = o->len + (c->writing ? c->out[!c->fill].len : 0);
    if (pending + PCUV_REQ_MAX > c->out_cap)
        return UV_ENOBUFS;
    if (o->cap - o->len < PCUV_REQ_MAX) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        while (cap - o->len < PCUV_REQ_MAX)
            cap *= 2;
        uint8_t *np = realloc(o->p, cap);
        if (!np)
            return UV_ENOMEM;
        o->p = np;
        o->cap = cap;
    }
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
    if (proto_encode_request(o->p + o->len, o->cap - o->len, r, &len) != PROTO_E_OK)
        return UV_EINVAL;
    o->len += len;
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

void pcuv_set_user(pcuv_conn *c, void *user)
{
    c->user = user;
}

const pcuv_stats *pcuv_get_stats(const pcuv_conn *c)
{
    return &c->stats;
}
