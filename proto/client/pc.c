/* Blocking client: see pc.h. */
#include "proto/client/pc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/sha1.h>
#include <sys/random.h>
#include <wslay/wslay.h>

#include "proto/client/pctls_int.h"
#include "proto/codec.h"
#include "proto/frame.h"

#define PC_RBUF 16384 /* socket read chunk; frames larger than this are reassembled by the reader */
#define PC_WBUF 512   /* every request fits: the largest is well under 200 bytes */
#define PC_SENT_KEPT 8 /* battle-scoped requests kept for pc_follow, per connection */
#define PC_WS_PATH_MAX 127 /* a WebSocket path or Origin kept for pc_follow (longer: not followed) */

/* What pc_follow needs to open another connection like this one: the TLS trust settings (copies;
 * the caller's pc_tls_opts is not kept). */
typedef struct pc_tls_copy {
    char *ca_file, *ca_pem, *server_name; /* NULL when not given */
    bool insecure;
} pc_tls_copy;

/* TLS on a blocking connection. Each connection owns its config (and so its random generator),
 * so connections may live on different threads. The socket stays blocking for sends; receives go
 * through MSG_DONTWAIT so a deadline is kept by poll() between mbedTLS calls. */
typedef struct pc_tls_link {
    pc_tls_config *cfg;
    mbedtls_ssl_context ssl;
    int fd;
    int sys_errno;     /* errno of the socket call that failed inside mbedTLS */
    bool dontwait;     /* sends must not block (the close_notify of pc_close) */
    bool dead;         /* a TLS read failed or the peer closed: nothing more will come */
    int dead_errno;    /* errno to report again after dead */
} pc_tls_link;

struct pc_conn {
    int fd;
    pc_tls_link *tls;  /* NULL: clear text */
    uint32_t next_rid;
    proto_error last;
    frame_reader fr;
    size_t rpos, rlen;
    uint8_t rbuf[PC_RBUF];
    uint8_t wbuf[PC_WBUF];
    pc_trace_fn trace; /* NULL: off */
    void *trace_ud;
    struct pc_ws *ws;  /* NULL: length-prefixed frames; else WebSocket after pc_ws_upgrade */
    /* For pc_follow: how this connection was made, the last hello's name, and the last
     * PC_SENT_KEPT battle-scoped and queue requests sent (a ring; type 0 = empty slot). */
    uint32_t max_frame;
    pc_tls_copy *tls_copy; /* NULL: clear text */
    char name[PROTO_NAME_MAX + 1];
    proto_request sent[PC_SENT_KEPT];
    unsigned sent_next;
};

/* WebSocket state (pc_ws_upgrade): wslay's frame layer both ways, with the frame being received. */
typedef struct pc_ws {
    wslay_frame_context_ptr ctx;
    pc_conn *c;
    int send_failed;
    bool in_frame;
    uint8_t opcode;
    uint64_t flen, fgot;
    uint8_t ctl[125];
    size_t ctl_have;
    int close_code;    /* the server's close code, -1 before a close frame, 1005 when it had none */
    char path[PC_WS_PATH_MAX + 1];   /* the upgrade's path and Origin ("" = none), for pc_follow */
    char origin[PC_WS_PATH_MAX + 1];
    bool followable;   /* path and Origin fitted above */
} pc_ws;

pc_conn *pc_from_fd(int fd, uint32_t max_frame)
{
    pc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->next_rid = 1;
    c->max_frame = max_frame;
    frame_reader_init(&c->fr, max_frame ? max_frame : PROTO_FRAME_HARD_MAX);
    return c;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* connect() with a deadline: non-blocking connect, poll for writability, then back to blocking. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = connect(fd, sa, len);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        rc = poll(&p, 1, timeout_ms);
        if (rc == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (rc < 0)
            return -1;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            errno = soerr;
            return -1;
        }
        rc = 0;
    }
    fcntl(fd, F_SETFL, flags);
    return rc;
}

pc_conn *pc_connect(const char *host, uint16_t port, int timeout_ms, uint32_t max_frame)
{
    char ports[8];
    snprintf(ports, sizeof ports, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, ports, &hints, &res);
    if (gai != 0) {
        errno = gai == EAI_SYSTEM ? errno : EHOSTUNREACH;
        return NULL;
    }
    int fd = -1, saved = ECONNREFUSED;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect_timeout(fd, a->ai_addr, a->ai_addrlen, timeout_ms) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        errno = saved;
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* requests are small and interactive */
    pc_conn *c = pc_from_fd(fd, max_frame);
    if (!c)
        close(fd);
    return c;
}

void pc_close(pc_conn *c)
{
    if (!c)
        return;
    if (c->tls) {
        /* An orderly end for the server, if the socket takes it at once. */
        c->tls->dontwait = true;
        if (!c->tls->dead)
            (void)mbedtls_ssl_close_notify(&c->tls->ssl);
        mbedtls_ssl_free(&c->tls->ssl);
        pc_tls_config_free(c->tls->cfg);
        free(c->tls);
    }
    if (c->tls_copy) {
        free(c->tls_copy->ca_file);
        free(c->tls_copy->ca_pem);
        free(c->tls_copy->server_name);
        free(c->tls_copy);
    }
    close(c->fd);
    frame_reader_free(&c->fr);
    if (c->ws)
        wslay_frame_context_free(c->ws->ctx);
    free(c->ws);
    free(c);
}

int pc_fd(const pc_conn *c)
{
    return c->fd;
}

proto_error pc_last_error(const pc_conn *c)
{
    return c->last;
}

/* ---- TLS transport ------------------------------------------------------------------------ */

static _Thread_local char tls_fail_text[PC_TLS_ERR_MAX];

const char *pc_tls_error(void)
{
    return tls_fail_text;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    pc_tls_link *t = ctx;
    for (;;) {
        ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL | (t->dontwait ? MSG_DONTWAIT : 0));
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_WRITE;
        t->sys_errno = errno;
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    pc_tls_link *t = ctx;
    ssize_t n = recv(t->fd, buf, len, MSG_DONTWAIT);
    if (n >= 0)
        return (int)n; /* 0: end of stream, which mbedTLS reports as MBEDTLS_ERR_SSL_CONN_EOF */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    t->sys_errno = errno;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Waits for fd to become readable or writable until deadline (-1: none). Returns 1 ready, 0 time
 * out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, wait);
        if (rc < 0 && errno == EINTR)
            continue;
        return rc > 0 ? 1 : rc;
    }
}

/* errno for a failed mbedTLS call: the socket's own error, or EPROTO for TLS itself. */
static int tls_errno(const pc_tls_link *t, int code)
{
    if (code == MBEDTLS_ERR_NET_SEND_FAILED || code == MBEDTLS_ERR_NET_RECV_FAILED)
        return t->sys_errno ? t->sys_errno : ECONNRESET;
    return EPROTO;
}

static int tls_handshake(pc_conn *c, int64_t deadline)
{
    pc_tls_link *t = c->tls;
    for (;;) {
        int r = mbedtls_ssl_handshake(&t->ssl);
        if (r == 0)
            return 0;
        short ev = r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : r == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT : 0;
        if (!ev) {
            pctls_describe(&t->ssl, r, tls_fail_text, sizeof tls_fail_text);
            if (r == MBEDTLS_ERR_SSL_CONN_EOF) {
                snprintf(tls_fail_text, sizeof tls_fail_text, "TLS: the server closed during the handshake");
                errno = ECONNRESET;
            } else {
                errno = pctls_untrusted(r) ? EACCES : tls_errno(t, r);
            }
            return -1;
        }
        int w = wait_fd(c->fd, ev, deadline);
        if (w <= 0) {
            if (w == 0) {
                snprintf(tls_fail_text, sizeof tls_fail_text, "TLS: handshake timed out");
                errno = ETIMEDOUT;
            }
            return -1;
        }
    }
}

pc_conn *pc_connect_tls(const char *host, uint16_t port, int timeout_ms, uint32_t max_frame,
                        const pc_tls_opts *opts)
{
    tls_fail_text[0] = '\0';
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    if (!opts || !host) {
        snprintf(tls_fail_text, sizeof tls_fail_text, "no TLS options or no host");
        errno = EINVAL;
        return NULL;
    }
    pc_tls_opts o = *opts;
    if (!o.server_name && !o.insecure)
        o.server_name = host;
    pc_tls_link *t = calloc(1, sizeof *t);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    mbedtls_ssl_init(&t->ssl);
    t->cfg = pc_tls_config_new(&o, tls_fail_text, sizeof tls_fail_text);
    int r = 0;
    if (!t->cfg || (r = pctls_session_setup(t->cfg, &t->ssl)) != 0) {
        if (t->cfg)
            pctls_describe(&t->ssl, r, tls_fail_text, sizeof tls_fail_text);
        mbedtls_ssl_free(&t->ssl);
        pc_tls_config_free(t->cfg);
        free(t);
        errno = EINVAL;
        return NULL;
    }
    pc_conn *c = pc_connect(host, port, timeout_ms, max_frame);
    if (!c) {
        int e = errno;
        snprintf(tls_fail_text, sizeof tls_fail_text, "connect: %s", strerror(e));
        mbedtls_ssl_free(&t->ssl);
        pc_tls_config_free(t->cfg);
        free(t);
        errno = e;
        return NULL;
    }
    t->fd = c->fd;
    c->tls = t;
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    if (tls_handshake(c, deadline) != 0) {
        int e = errno;
        t->dead = true; /* no close_notify for a session that never started */
        pc_close(c);
        errno = e;
        return NULL;
    }
    /* Kept for pc_follow, which connects elsewhere with the same trust settings. */
    pc_tls_copy *k = calloc(1, sizeof *k);
    if (!k || (opts->ca_file && !(k->ca_file = strdup(opts->ca_file))) ||
        (opts->ca_pem && !(k->ca_pem = strdup(opts->ca_pem))) ||
        (opts->server_name && !(k->server_name = strdup(opts->server_name)))) {
        if (k) {
            free(k->ca_file);
            free(k->ca_pem);
        }
        free(k);
        pc_close(c);
        errno = ENOMEM;
        return NULL;
    }
    k->insecure = opts->insecure;
    c->tls_copy = k;
    return c;
}

bool pc_is_tls(const pc_conn *c)
{
    return c->tls != NULL;
}

/* Encrypts and writes all of data. */
static int tls_send_all(pc_conn *c, const uint8_t *p, size_t len)
{
    pc_tls_link *t = c->tls;
    while (len > 0) {
        int n = mbedtls_ssl_write(&t->ssl, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ) {
            /* Retried with the same data and length, as mbedTLS requires. */
            if (wait_fd(c->fd, n == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, -1) < 0)
                return -1;
            continue;
        }
        errno = tls_errno(t, n);
        return -1;
    }
    return 0;
}

/* Reads decrypted bytes into rbuf, waiting until deadline. Returns 1 (rlen set), 0 on time out,
 * -1 when the stream ended (errno 0 for close_notify or end of stream) or failed. */
static int tls_fill(pc_conn *c, int64_t deadline)
{
    pc_tls_link *t = c->tls;
    if (t->dead) {
        errno = t->dead_errno;
        return -1;
    }
    for (;;) {
        int n = mbedtls_ssl_read(&t->ssl, c->rbuf, sizeof c->rbuf);
        if (n > 0) {
            c->rpos = 0;
            c->rlen = (size_t)n;
            return 1;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) {
            int w = wait_fd(c->fd, n == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (w <= 0)
                return w;
            continue;
        }
        t->dead = true;
        if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == MBEDTLS_ERR_SSL_CONN_EOF)
            t->dead_errno = 0;
        else
            t->dead_errno = tls_errno(t, n);
        errno = t->dead_errno;
        return -1;
    }
}

int pc_send_raw(pc_conn *c, const void *data, size_t len)
{
    if (c->tls)
        return tls_send_all(c, data, len);
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int ws_send_frame(pc_conn *c, uint8_t opcode, const uint8_t *data, size_t len);
static int ws_pump(pc_conn *c, proto_event *ev);

int pc_send(pc_conn *c, const proto_request *r)
{
    size_t len;
    proto_error e = proto_encode_request(c->wbuf, sizeof c->wbuf, r, &len);
    if (e != PROTO_E_OK) {
        c->last = e;
        errno = EINVAL;
        return -1;
    }
    if (c->ws ? ws_send_frame(c, WSLAY_BINARY_FRAME, c->wbuf + 4, len - 4) != 0
              : pc_send_raw(c, c->wbuf, len) != 0)
        return -1;
    if (c->trace && len > 4)
        c->trace(c->trace_ud, PC_TRACE_SENT, c->wbuf + 4, len - 4);
    if (r->type == PROTO_T_HELLO)
        memcpy(c->name, r->u.hello.name, sizeof c->name);
    else if ((proto_type_battle_scoped(r->type) || r->type == PROTO_T_QUEUE) && r->has_rid)
        c->sent[c->sent_next++ % PC_SENT_KEPT] = *r; /* a queue too: a cluster may move it */
    return 0;
}

void pc_set_trace(pc_conn *c, pc_trace_fn fn, void *ud)
{
    c->trace = fn;
    c->trace_ud = ud;
}

static int fail_proto(pc_conn *c, proto_error e)
{
    c->last = e;
    errno = EPROTO;
    return -1;
}

int pc_recv(pc_conn *c, proto_event *ev, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        if (c->ws) {
            int r = ws_pump(c, ev);
            if (r != 0)
                return r;
        }
        while (!c->ws && c->rpos < c->rlen) {
            size_t used;
            const uint8_t *body;
            uint32_t blen;
            proto_error err = PROTO_E_OK;
            frame_status st = frame_reader_feed(&c->fr, c->rbuf + c->rpos, c->rlen - c->rpos, &used, &body,
                                                &blen, &err);
            c->rpos += used;
            if (st == FRAME_ERROR)
                return fail_proto(c, err);
            if (st == FRAME_READY) {
                if (c->trace)
                    c->trace(c->trace_ud, PC_TRACE_RECV, body, blen);
                proto_error e = proto_decode_event(body, blen, ev, NULL);
                if (e == PROTO_E_UNKNOWN_TYPE)
                    continue; /* a newer server's event: skip it */
                if (e != PROTO_E_OK)
                    return fail_proto(c, e);
                return 1;
            }
        }
        c->rpos = c->rlen = 0;
        if (c->tls) {
            int rc = tls_fill(c, deadline);
            if (rc <= 0)
                return rc;
            continue;
        }
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int rc = poll(&p, 1, wait);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        ssize_t n = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = 0;
            return -1;
        }
        c->rlen = (size_t)n;
    }
}

int pc_recv_type(pc_conn *c, int type, proto_event *ev, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        int rc = pc_recv(c, ev, wait);
        if (rc != 1 || ev->type == type || ev->type == PROTO_T_ERROR)
            return rc;
    }
}

/* Fills the common part of a request and sends it; returns the rid used. */
static int64_t send_req(pc_conn *c, proto_request *r, int type, uint64_t bid)
{
    r->type = (uint8_t)type;
    r->has_rid = true;
    r->rid = c->next_rid++;
    if (c->next_rid == 0)
        c->next_rid = 1;
    r->bid = bid;
    return pc_send(c, r) == 0 ? (int64_t)r->rid : -1;
}

/* Copies a string into a fixed field; longer strings are refused, not truncated. */
static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        errno = EINVAL;
        return -1;
    }
    memcpy(dst, src ? src : "", n + 1);
    return 0;
}

int64_t pc_hello(pc_conn *c, const char *name)
{
    proto_request r = {0};
    r.u.hello.version = PROTO_VERSION;
    if (copy_str(r.u.hello.name, sizeof r.u.hello.name, name) != 0)
        return -1;
    return send_req(c, &r, PROTO_T_HELLO, 0);
}

int64_t pc_ping(pc_conn *c, uint64_t ts)
{
    proto_request r = {0};
    r.u.ping.ts = ts;
    return send_req(c, &r, PROTO_T_PING, 0);
}

int64_t pc_queue(pc_conn *c, const char *ship, proto_band band)
{
    return pc_queue_key(c, ship, band, NULL);
}

int64_t pc_cancel(pc_conn *c)
{
    proto_request r = {0};
    return send_req(c, &r, PROTO_T_CANCEL, 0);
}

int pc_new_key(uint8_t key[PROTO_TOKEN_LEN])
{
    size_t got = 0;
    while (got < PROTO_TOKEN_LEN) {
        ssize_t n = getrandom(key + got, PROTO_TOKEN_LEN - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    if (!proto_key_present(key)) /* all zero means "no key": astronomically rare, but never sent */
        key[0] = 1;
    return 0;
}

/* Puts key (or, for NULL, a fresh one) into r. */
static int put_key(proto_request *r, const uint8_t *key)
{
    if (key) {
        memcpy(r->key, key, PROTO_TOKEN_LEN);
        return 0;
    }
    return pc_new_key(r->key);
}

int64_t pc_queue_key(pc_conn *c, const char *ship, proto_band band,
                     const uint8_t key[PROTO_TOKEN_LEN])
{
    proto_request r = {0};
    if (copy_str(r.u.queue.ship, sizeof r.u.queue.ship, ship) != 0 || put_key(&r, key) != 0)
        return -1;
    r.u.queue.band = (uint8_t)band;
    return send_req(c, &r, PROTO_T_QUEUE, 0);
}

int64_t pc_create_key(pc_conn *c, const char *ship, proto_band band, proto_vs vs, const char *oship,
                      const uint8_t key[PROTO_TOKEN_LEN])
{
    proto_request r = {0};
    if (copy_str(r.u.create.ship, sizeof r.u.create.ship, ship) != 0 ||
        copy_str(r.u.create.oship, sizeof r.u.create.oship, oship) != 0 || put_key(&r, key) != 0)
        return -1;
    r.u.create.band = (uint8_t)band;
    r.u.create.vs = (uint8_t)vs;
    return send_req(c, &r, PROTO_T_CREATE, 0);
}

int64_t pc_create(pc_conn *c, const char *ship, proto_band band, proto_vs vs, const char *oship)
{
    return pc_create_key(c, ship, band, vs, oship, NULL);
}

int64_t pc_join_key(pc_conn *c, uint64_t bid, const char *ship, const uint8_t key[PROTO_TOKEN_LEN])
{
    proto_request r = {0};
    if (copy_str(r.u.join.ship, sizeof r.u.join.ship, ship) != 0 || put_key(&r, key) != 0)
        return -1;
    return send_req(c, &r, PROTO_T_JOIN, bid);
}

int64_t pc_join(pc_conn *c, uint64_t bid, const char *ship)
{
    return pc_join_key(c, bid, ship, NULL);
}

int64_t pc_watch(pc_conn *c, uint64_t bid)
{
    proto_request r = {0};
    return send_req(c, &r, PROTO_T_WATCH, bid);
}

int64_t pc_resume(pc_conn *c, uint64_t bid, uint8_t seat, const uint8_t token[PROTO_TOKEN_LEN], uint32_t last)
{
    proto_request r = {0};
    r.u.resume.seat = seat;
    memcpy(r.u.resume.token, token, PROTO_TOKEN_LEN);
    r.u.resume.last = last;
    return send_req(c, &r, PROTO_T_RESUME, bid);
}

int64_t pc_fire(pc_conn *c, uint64_t bid, uint8_t weapon)
{
    proto_request r = {0};
    r.u.fire.weapon = weapon;
    return send_req(c, &r, PROTO_T_FIRE, bid);
}

int64_t pc_pd(pc_conn *c, uint64_t bid, uint32_t missile)
{
    proto_request r = {0};
    r.u.pd.missile = missile;
    return send_req(c, &r, PROTO_T_PD, bid);
}

#define PC_BID_ONLY(fn, type)                                                                      \
    int64_t fn(pc_conn *c, uint64_t bid)                                                           \
    {                                                                                              \
        proto_request r = {0};                                                                     \
        return send_req(c, &r, type, bid);                                                         \
    }
PC_BID_ONLY(pc_missile, PROTO_T_MISSILE)
PC_BID_ONLY(pc_sand, PROTO_T_SAND)
PC_BID_ONLY(pc_end, PROTO_T_END)
PC_BID_ONLY(pc_forfeit, PROTO_T_FORFEIT)
PC_BID_ONLY(pc_leave, PROTO_T_LEAVE)

/* ---- WebSocket ---------------------------------------------------------------------------- */

static ssize_t ws_send_cb(const uint8_t *data, size_t len, int flags, void *user)
{
    pc_ws *w = user;
    (void)flags;
    if (pc_send_raw(w->c, data, len) != 0) {
        w->send_failed = errno ? errno : EIO;
        return -1;
    }
    return (ssize_t)len;
}

static ssize_t ws_recv_cb(uint8_t *buf, size_t len, int flags, void *user)
{
    pc_conn *c = ((pc_ws *)user)->c;
    (void)flags;
    size_t n = c->rlen - c->rpos;
    if (n > len)
        n = len;
    memcpy(buf, c->rbuf + c->rpos, n);
    c->rpos += n;
    return (ssize_t)n; /* 0: wslay reports WSLAY_ERR_WANT_READ */
}

static int ws_genmask_cb(uint8_t *buf, size_t len, void *user)
{
    (void)user;
    return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

/* Sends one whole masked frame. 0 or -1 with errno. */
static int ws_send_frame(pc_conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    struct wslay_frame_iocb io = {.fin = 1, .opcode = opcode, .mask = 1, .payload_length = len,
                                  .data = data, .data_length = len};
    c->ws->send_failed = 0;
    size_t sent = 0;
    do {
        io.data = data + sent;
        io.data_length = len - sent;
        ssize_t r = wslay_frame_send(c->ws->ctx, &io);
        if (r < 0) {
            errno = c->ws->send_failed ? c->ws->send_failed : EIO;
            return -1;
        }
        sent += (size_t)r;
    } while (sent < len);
    return 0;
}

int pc_ws_close_code(const pc_conn *c)
{
    return c->ws ? c->ws->close_code : -1;
}

int pc_ws_send_close(pc_conn *c, uint16_t code)
{
    if (!c->ws) {
        errno = EINVAL;
        return -1;
    }
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return ws_send_frame(c, WSLAY_CONNECTION_CLOSE, p, code ? 2 : 0);
}

/* Takes the buffered bytes through wslay: 1 with *ev for a whole event message, 0 when more bytes
 * are needed, -1 on a close frame (errno 0), a violation or an undecodable event (errno EPROTO). */
static int ws_pump(pc_conn *c, proto_event *ev)
{
    pc_ws *w = c->ws;
    if (w->close_code >= 0) {
        errno = 0;
        return -1;
    }
    for (;;) {
        struct wslay_frame_iocb io;
        memset(&io, 0, sizeof io);
        ssize_t r = wslay_frame_recv(w->ctx, &io);
        if (r == WSLAY_ERR_WANT_READ)
            return 0;
        if (r < 0)
            return fail_proto(c, PROTO_E_BAD_FRAME);
        if (!w->in_frame) {
            w->in_frame = true;
            w->opcode = io.opcode;
            w->flen = io.payload_length;
            w->fgot = 0;
            w->ctl_have = 0;
            /* The server sends each event as one unmasked binary frame. */
            if (io.mask || io.rsv || (io.opcode < 8 && (io.opcode != WSLAY_BINARY_FRAME || !io.fin)))
                return fail_proto(c, PROTO_E_BAD_FRAME);
            if (io.opcode == WSLAY_BINARY_FRAME) {
                if (io.payload_length > UINT32_MAX)
                    return fail_proto(c, PROTO_E_FRAME_TOO_LARGE);
                uint8_t pre[4] = {(uint8_t)(io.payload_length >> 24), (uint8_t)(io.payload_length >> 16),
                                  (uint8_t)(io.payload_length >> 8), (uint8_t)io.payload_length};
                size_t used;
                const uint8_t *body;
                uint32_t blen;
                proto_error err = PROTO_E_OK;
                /* The frame's payload becomes a length-prefixed frame for the usual reader, which
                 * bounds it by max_frame and reassembles it across reads. */
                if (frame_reader_feed(&c->fr, pre, 4, &used, &body, &blen, &err) == FRAME_ERROR)
                    return fail_proto(c, err);
            }
        }
        w->fgot += io.data_length;
        bool last = w->fgot == w->flen;
        if (last)
            w->in_frame = false;
        if (w->opcode >= 8) {
            if (io.data_length)
                memcpy(w->ctl + w->ctl_have, io.data, io.data_length);
            w->ctl_have += io.data_length;
            if (!last)
                continue;
            if (w->opcode == WSLAY_PING) {
                if (ws_send_frame(c, WSLAY_PONG, w->ctl, w->ctl_have) != 0)
                    return -1;
            } else if (w->opcode == WSLAY_CONNECTION_CLOSE) {
                w->close_code = w->ctl_have >= 2 ? (w->ctl[0] << 8 | w->ctl[1]) : 1005;
                (void)ws_send_frame(c, WSLAY_CONNECTION_CLOSE, w->ctl, w->ctl_have >= 2 ? 2 : 0);
                errno = 0;
                return -1;
            }
            continue;
        }
        size_t used;
        const uint8_t *body;
        uint32_t blen;
        proto_error err = PROTO_E_OK;
        frame_status st = frame_reader_feed(&c->fr, io.data, io.data_length, &used, &body, &blen, &err);
        if (st == FRAME_ERROR)
            return fail_proto(c, err);
        if (st != FRAME_READY)
            continue;
        if (c->trace)
            c->trace(c->trace_ud, PC_TRACE_RECV, body, blen);
        proto_error e = proto_decode_event(body, blen, ev, NULL);
        if (e == PROTO_E_UNKNOWN_TYPE)
            continue;
        if (e != PROTO_E_OK)
            return fail_proto(c, e);
        return 1;
    }
}

/* Reads more bytes into rbuf (after what is there, or from its start when all was used) until
 * deadline. 1, 0 on time out, -1 at the end of the stream or on an error. */
static int fill_more(pc_conn *c, int64_t deadline)
{
    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
    if (c->tls) {
        /* tls_fill replaces the buffer: only called when it was used up. */
        if (c->rlen)
            return -1;
        return tls_fill(c, deadline);
    }
    if (wait_fd(c->fd, POLLIN, deadline) <= 0)
        return 0;
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
    if (n <= 0) {
        errno = n == 0 ? 0 : errno;
        return -1;
    }
    c->rlen += (size_t)n;
    return 1;
}

int pc_ws_upgrade(pc_conn *c, const char *host, const char *path, const char *origin,
                  int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    uint8_t nonce[16];
    if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
        return -1;
    unsigned char key[32];
    size_t klen = 0;
    mbedtls_base64_encode(key, sizeof key, &klen, nonce, sizeof nonce);
    key[klen] = 0;
    char req[768];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, host, key, origin ? "Origin: " : "", origin ? origin : "",
                     origin ? "\r\n" : "");
    if (n <= 0 || (size_t)n >= sizeof req || pc_send_raw(c, req, (size_t)n) != 0)
        return -1;
    /* The response head, which the server ends with an empty line. */
    char head[2048];
    size_t hl = 0;
    char *end = NULL;
    while (!end) {
        if (c->rpos == c->rlen) {
            int r = fill_more(c, deadline);
            if (r <= 0) {
                if (r == 0)
                    errno = ETIMEDOUT;
                return -1;
            }
        }
        size_t k = c->rlen - c->rpos;
        if (k > sizeof head - 1 - hl)
            k = sizeof head - 1 - hl;
        if (k == 0) {
            errno = EPROTO;
            return -1;
        }
        memcpy(head + hl, c->rbuf + c->rpos, k);
        hl += k;
        head[hl] = 0;
        end = strstr(head, "\r\n\r\n");
        size_t take = end ? (size_t)(end + 4 - head) - (hl - k) : k;
        c->rpos += take; /* bytes after the head stay for the frame layer */
    }
    int status = 0;
    if (sscanf(head, "HTTP/1.1 %d", &status) != 1) {
        errno = EPROTO;
        return -1;
    }
    if (status != 101)
        return status;
    /* The accept value must be base64(SHA-1(key + GUID)). */
    char buf[128];
    snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (const char *)key);
    unsigned char dig[20], want[32];
    size_t wl = 0;
    mbedtls_sha1_ret((const unsigned char *)buf, strlen(buf), dig);
    mbedtls_base64_encode(want, sizeof want, &wl, dig, sizeof dig);
    want[wl] = 0;
    const char *acc = strcasestr(head, "\r\nSec-WebSocket-Accept:");
    if (!acc || !strstr(acc, (const char *)want)) {
        errno = EPROTO;
        return -1;
    }
    pc_ws *w = calloc(1, sizeof *w);
    static const struct wslay_frame_callbacks cbs = {ws_send_cb, ws_recv_cb, ws_genmask_cb};
    if (!w || wslay_frame_context_init(&w->ctx, &cbs, w) != 0) {
        free(w);
        errno = ENOMEM;
        return -1;
    }
    w->c = c;
    w->close_code = -1;
    w->followable = strlen(path) <= PC_WS_PATH_MAX && (!origin || strlen(origin) <= PC_WS_PATH_MAX);
    if (w->followable) {
        snprintf(w->path, sizeof w->path, "%s", path);
        snprintf(w->origin, sizeof w->origin, "%s", origin ? origin : "");
    }
    c->ws = w;
    return 101;
}

/* ---- cluster: following `moved` ------------------------------------------------------------ */

int pc_split_addr(const char *addr, char host[PROTO_ADDR_MAX + 1], uint16_t *port)
{
    size_t n = addr ? strnlen(addr, PROTO_ADDR_MAX + 1) : 0;
    if (n == 0 || n > PROTO_ADDR_MAX)
        goto bad;
    const char *colon, *h = addr;
    size_t hl;
    if (addr[0] == '[') { /* [IPv6]:port */
        const char *close = memchr(addr, ']', n);
        if (!close || close[1] != ':')
            goto bad;
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = memchr(addr, ':', n);
        if (!colon || memchr(colon + 1, ':', n - (size_t)(colon + 1 - addr)))
            goto bad; /* no port, or a bare IPv6 address (it needs brackets) */
        hl = (size_t)(colon - addr);
    }
    if (hl == 0)
        goto bad;
    const char *p = colon + 1;
    unsigned long v = 0;
    size_t digits = 0;
    for (; *p; p++, digits++) {
        if (*p < '0' || *p > '9' || digits >= 5)
            goto bad;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (digits == 0 || v == 0 || v > 65535)
        goto bad;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)v;
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

static int64_t left_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - now_ms();
    return left > 0 ? left : 0;
}

pc_conn *pc_follow(pc_conn *c, const proto_event *moved, int timeout_ms, proto_event *welcome)
{
    if (!c || !moved || moved->type != PROTO_T_MOVED || !moved->has_rid ||
        (c->ws && !c->ws->followable)) {
        errno = EINVAL;
        return NULL;
    }
    const proto_request *req = NULL;
    for (unsigned i = 0; i < PC_SENT_KEPT; i++)
        if (c->sent[i].type && c->sent[i].rid == moved->rid && c->sent[i].bid == moved->bid)
            req = &c->sent[i];
    if (!req) {
        errno = ENOENT;
        return NULL;
    }
    proto_request again = *req;
    /* A WebSocket client goes to the holder's WebSocket port, everyone else to its game port. */
    const char *target = c->ws ? moved->u.moved.ws : moved->u.moved.addr;
    char host[PROTO_ADDR_MAX + 1];
    uint16_t port;
    if (pc_split_addr(target, host, &port) != 0)
        return NULL;
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    pc_conn *n;
    if (c->tls_copy) {
        pc_tls_opts o = {.ca_file = c->tls_copy->ca_file, .ca_pem = c->tls_copy->ca_pem,
                         .server_name = c->tls_copy->server_name, .insecure = c->tls_copy->insecure};
        n = pc_connect_tls(host, port, (int)left_ms(deadline), c->max_frame, &o);
    } else {
        n = pc_connect(host, port, (int)left_ms(deadline), c->max_frame);
    }
    if (!n)
        return NULL;
    n->trace = c->trace;
    n->trace_ud = c->trace_ud;
    n->next_rid = c->next_rid; /* request ids go on from c's: replies stay unambiguous to the caller */
    proto_event ev;
    if (c->ws) {
        int st = pc_ws_upgrade(n, target, c->ws->path, c->ws->origin[0] ? c->ws->origin : NULL,
                               (int)left_ms(deadline));
        if (st != 101) {
            int e = st < 0 ? errno : EPROTO;
            pc_close(n);
            errno = e;
            return NULL;
        }
    }
    if (pc_hello(n, c->name) < 0)
        goto fail;
    int rc = pc_recv_type(n, PROTO_T_WELCOME, &ev, (int)left_ms(deadline));
    if (rc == 0)
        errno = ETIMEDOUT;
    if (rc != 1)
        goto fail;
    if (ev.type != PROTO_T_WELCOME) {
        errno = EPROTO; /* the holder refused hello */
        goto fail;
    }
    if (pc_send(n, &again) != 0)
        goto fail;
    if (welcome)
        *welcome = ev;
    return n;
fail:;
    int e = errno;
    pc_close(n);
    errno = e;
    return NULL;
}
