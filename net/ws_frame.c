/* ws_frame: a server-side WebSocket session over wslay's frame layer (wslay_frame_recv/send).
 *
 * wslay parses frame headers, unmasks payloads and checks the length encodings and the control
 * frame rules (over 125 bytes or fragmented is WSLAY_ERR_PROTO); this file applies everything the
 * RFC leaves to the endpoint: client frames must be masked, no reserved bits or opcodes, binary
 * messages only, a bounded message size checked on the first frame's declared length (before any
 * payload is buffered), a bounded number of fragments, continuation rules, and the close handshake.
 *
 * wslay's event layer is not used: it allocates per message and queues its own output. Here a
 * message that arrives in one piece is handed to the caller straight from wslay's input buffer;
 * only a message split across frames or reads is copied, into a buffer that is kept for the next
 * one up to WS_BUF_KEEP bytes and freed after use when larger (as proto/frame.c does). */
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "net/ws.h"

struct ws_sess {
    wslay_frame_context_ptr ctx;
    ws_message_fn on_message;
    ws_write_fn write;
    void *user;
    uint32_t max;
    /* input being fed */
    const uint8_t *in;
    size_t in_len, in_off;
    /* the frame being received */
    bool in_frame;        /* its first chunk was seen */
    uint8_t opcode;
    uint64_t frame_len, frame_got;
    /* the message being assembled (data frames) */
    bool in_msg;          /* a non-final data frame was seen: continuations follow */
    uint32_t fragments;
    uint8_t *buf;
    uint32_t have, cap;
    /* control frame payload (at most 125 bytes, possibly in several chunks) */
    uint8_t ctl[WS_CONTROL_MAX];
    uint32_t ctl_have;
    /* output of one wslay_frame_send call */
    uint8_t ohdr[14];
    size_t ohlen;
    const uint8_t *opay;
    size_t oplen;
    bool ohdr_done;
    /* end */
    uint8_t end;
    uint16_t close_code;
    bool close_sent;
};

static const char *const end_names[WS_END_REASONS] = {
    "none", "peer_close", "unmasked", "text", "rsv", "opcode", "control", "too_big",
    "continuation", "fragments", "bad_close", "internal",
};

const char *ws_end_name(int end)
{
    return end >= 0 && end < WS_END_REASONS ? end_names[end] : "?";
}

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *user)
{
    ws_sess *w = user;
    (void)flags;
    size_t n = w->in_len - w->in_off;
    if (n > len)
        n = len;
    if (n == 0)
        return 0; /* wslay turns this into WSLAY_ERR_WANT_READ */
    memcpy(buf, w->in + w->in_off, n);
    w->in_off += n;
    return (ssize_t)n;
}

static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *user)
{
    ws_sess *w = user;
    (void)flags;
    /* An unmasked frame reaches us as exactly two calls: the whole header, then the payload
     * pointer as given. Both are gathered and written together after wslay_frame_send. */
    if (!w->ohdr_done) {
        if (len > sizeof w->ohdr)
            return -1;
        memcpy(w->ohdr, data, len);
        w->ohlen = len;
        w->ohdr_done = true;
    } else {
        w->opay = data;
        w->oplen = len;
    }
    return (ssize_t)len;
}

static int genmask_cb(uint8_t *buf, size_t len, void *user)
{
    (void)user;
    memset(buf, 0, len); /* never called: a server does not mask */
    return 0;
}

ws_sess *ws_sess_new(uint32_t max_message, ws_message_fn on_message, ws_write_fn write, void *user)
{
    ws_sess *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    static const struct wslay_frame_callbacks cbs = {send_cb, recv_cb, genmask_cb};
    if (wslay_frame_context_init(&w->ctx, &cbs, w) != 0) {
        free(w);
        return NULL;
    }
    w->max = max_message;
    w->on_message = on_message;
    w->write = write;
    w->user = user;
    return w;
}

void ws_sess_free(ws_sess *w)
{
    if (!w)
        return;
    wslay_frame_context_free(w->ctx);
    free(w->buf);
    free(w);
}

static void send_frame(ws_sess *w, uint8_t opcode, const uint8_t *data, size_t len)
{
    struct wslay_frame_iocb io = {.fin = 1, .opcode = opcode, .payload_length = len,
                                  .data = data, .data_length = len};
    w->ohdr_done = false;
    w->ohlen = 0;
    w->opay = NULL;
    w->oplen = 0;
    /* The callback takes everything, so one call sends the whole frame. */
    ssize_t r = wslay_frame_send(w->ctx, &io);
    if (r < 0 || (size_t)r != len || !w->ohdr_done)
        return;
    w->write(w->user, w->ohdr, w->ohlen, w->opay, w->oplen);
}

void ws_send_binary(ws_sess *w, const uint8_t *msg, size_t len)
{
    if (w->close_sent)
        return; /* nothing may follow a close frame */
    send_frame(w, WSLAY_BINARY_FRAME, msg, len);
}

bool ws_send_close(ws_sess *w, uint16_t code, const char *reason)
{
    if (w->close_sent)
        return false;
    uint8_t p[WS_CONTROL_MAX] = {0};
    size_t n = 0;
    if (code) {
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        n = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > WS_CONTROL_MAX - 2)
            rl = WS_CONTROL_MAX - 2;
        if (rl)
            memcpy(p + 2, reason, rl);
        n += rl;
    }
    send_frame(w, WSLAY_CONNECTION_CLOSE, p, n);
    w->close_sent = true;
    w->close_code = code ? code : WS_CLOSE_NORMAL;
    return true;
}

ws_end ws_sess_end(const ws_sess *w)
{
    return (ws_end)w->end;
}

uint16_t ws_sess_close_code(const ws_sess *w)
{
    return w->close_code;
}

size_t ws_sess_footprint(const ws_sess *w)
{
    return sizeof *w + w->cap;
}

/* Ends the session with a close frame. Always returns WS_FEED_CLOSED. */
static ws_feed_status fail(ws_sess *w, ws_end why, uint16_t code, const char *reason)
{
    if (!w->end)
        w->end = (uint8_t)why;
    ws_send_close(w, code, reason);
    return WS_FEED_CLOSED;
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF), for close reasons. */
static bool utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k >= n)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Close codes a peer may send (RFC 6455 7.4.1 and 7.4.2). */
static bool close_code_ok(uint16_t c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}

static ws_feed_status on_control(ws_sess *w)
{
    switch (w->opcode) {
    case WSLAY_PING:
        if (!w->close_sent)
            send_frame(w, WSLAY_PONG, w->ctl, w->ctl_have);
        return WS_FEED_DONE;
    case WSLAY_PONG:
        return WS_FEED_DONE; /* unsolicited pongs are allowed and ignored */
    default: { /* close */
        if (w->ctl_have == 1)
            return fail(w, WS_END_BAD_CLOSE, WS_CLOSE_PROTOCOL, "bad close frame");
        uint16_t code = 0;
        if (w->ctl_have >= 2) {
            code = (uint16_t)(w->ctl[0] << 8 | w->ctl[1]);
            if (!close_code_ok(code))
                return fail(w, WS_END_BAD_CLOSE, WS_CLOSE_PROTOCOL, "bad close code");
            if (!utf8_ok(w->ctl + 2, w->ctl_have - 2))
                return fail(w, WS_END_BAD_CLOSE, WS_CLOSE_BAD_DATA, "close reason not UTF-8");
        }
        /* Echo the code (1000 when there was none), as the RFC's close handshake asks. */
        w->end = WS_END_PEER_CLOSE;
        ws_send_close(w, code ? code : WS_CLOSE_NORMAL, NULL);
        return WS_FEED_CLOSED;
    }
    }
}

/* The first chunk of a frame: everything decided from its header. */
static ws_feed_status on_header(ws_sess *w, const struct wslay_frame_iocb *io)
{
    if (!io->mask)
        return fail(w, WS_END_UNMASKED, WS_CLOSE_PROTOCOL, "client frames must be masked");
    if (io->rsv)
        return fail(w, WS_END_RSV, WS_CLOSE_PROTOCOL, "reserved bits set");
    switch (io->opcode) {
    case WSLAY_TEXT_FRAME:
        if (w->in_msg)
            return fail(w, WS_END_CONTINUATION, WS_CLOSE_PROTOCOL, "new message inside a message");
        return fail(w, WS_END_TEXT, WS_CLOSE_UNSUPPORTED, "binary messages only");
    case WSLAY_BINARY_FRAME:
        if (w->in_msg)
            return fail(w, WS_END_CONTINUATION, WS_CLOSE_PROTOCOL, "new message inside a message");
        w->have = 0;
        w->fragments = 0;
        break;
    case WSLAY_CONTINUATION_FRAME:
        if (!w->in_msg)
            return fail(w, WS_END_CONTINUATION, WS_CLOSE_PROTOCOL, "continuation without a message");
        break;
    case WSLAY_CONNECTION_CLOSE:
    case WSLAY_PING:
    case WSLAY_PONG:
        w->ctl_have = 0; /* wslay already refused control frames over 125 bytes or fragmented */
        return WS_FEED_DONE;
    default:
        return fail(w, WS_END_OPCODE, WS_CLOSE_PROTOCOL, "reserved opcode");
    }
    if (++w->fragments > WS_MAX_FRAGMENTS)
        return fail(w, WS_END_FRAGMENTS, WS_CLOSE_POLICY, "too many fragments");
    if (io->payload_length > (uint64_t)w->max - w->have)
        return fail(w, WS_END_TOO_BIG, WS_CLOSE_TOO_BIG, "message longer than max_frame");
    w->in_msg = !io->fin;
    return WS_FEED_DONE;
}

static bool grow(ws_sess *w, uint32_t need)
{
    if (need <= w->cap)
        return true;
    uint32_t ncap = w->cap ? w->cap : 256;
    while (ncap < need)
        ncap = ncap > w->max / 2 ? w->max : ncap * 2;
    uint8_t *n = realloc(w->buf, ncap);
    if (!n)
        return false;
    w->buf = n;
    w->cap = ncap;
    return true;
}

/* One chunk of a data frame's payload. */
static ws_feed_status on_data(ws_sess *w, const struct wslay_frame_iocb *io, bool first, bool last)
{
    bool msg_done = last && io->fin;
    if (first && msg_done && w->have == 0 && io->data_length == io->payload_length) {
        /* The common case: a whole unfragmented message in one chunk, handed over in place. */
        return w->on_message(w->user, io->data, io->data_length) ? WS_FEED_DONE : WS_FEED_STOPPED;
    }
    if (io->data_length) {
        if (!grow(w, w->have + (uint32_t)io->data_length))
            return fail(w, WS_END_INTERNAL, WS_CLOSE_INTERNAL, "out of memory");
        memcpy(w->buf + w->have, io->data, io->data_length);
        w->have += (uint32_t)io->data_length;
    }
    if (!msg_done)
        return WS_FEED_DONE;
    uint32_t n = w->have;
    w->have = 0;
    bool go_on = w->on_message(w->user, w->buf, n);
    if (w->cap > WS_BUF_KEEP) {
        /* As proto/frame's reader does: an idle connection holds no large buffer. */
        free(w->buf);
        w->buf = NULL;
        w->cap = 0;
    }
    return go_on ? WS_FEED_DONE : WS_FEED_STOPPED;
}

ws_feed_status ws_feed(ws_sess *w, const uint8_t *data, size_t len, size_t *used)
{
    *used = 0;
    if (w->end)
        return WS_FEED_CLOSED;
    w->in = data;
    w->in_len = data ? len : 0;
    w->in_off = 0;
    ws_feed_status st = WS_FEED_DONE;
    for (;;) {
        struct wslay_frame_iocb io;
        memset(&io, 0, sizeof io);
        ssize_t r = wslay_frame_recv(w->ctx, &io);
        if (r == WSLAY_ERR_WANT_READ)
            break;
        if (r < 0) {
            /* WSLAY_ERR_PROTO: a control frame over 125 bytes or fragmented, or a length not in
             * its shortest form or with the top bit set. */
            st = fail(w, WS_END_CONTROL, WS_CLOSE_PROTOCOL, "malformed frame");
            break;
        }
        bool first = !w->in_frame;
        if (first) {
            w->in_frame = true;
            w->opcode = io.opcode;
            w->frame_len = io.payload_length;
            w->frame_got = 0;
            st = on_header(w, &io);
            if (st != WS_FEED_DONE)
                break;
        }
        w->frame_got += io.data_length;
        bool last = w->frame_got == w->frame_len;
        if (last)
            w->in_frame = false;
        if (w->opcode >= WSLAY_CONNECTION_CLOSE) {
            if (io.data_length) /* frame_len <= 125, checked by wslay */
                memcpy(w->ctl + w->ctl_have, io.data, io.data_length);
            w->ctl_have += (uint32_t)io.data_length;
            st = last ? on_control(w) : WS_FEED_DONE;
        } else {
            st = on_data(w, &io, first, last);
        }
        if (st != WS_FEED_DONE)
            break;
    }
    *used = w->in_off;
    w->in = NULL;
    w->in_len = w->in_off = 0;
    return st;
}
