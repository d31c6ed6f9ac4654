/* http: a bounded, strict HTTP/1.1 request-head parser and response writer for the admin
 * listener (health, readiness, /metrics, the admin views) and the WebSocket listeners (the upgrade
 * request and the web page's files, net/ws_conn.c). Pure: no I/O, no allocation,
 * no global state, so it is safe from any thread and easy to fuzz.
 *
 * Only request heads are accepted: a request that announces a body (Content-Length > 0
 * or any Transfer-Encoding) is refused. Only GET and HEAD are served; any other
 * well-formed method gets 405. Only origin-form targets ("/path?query") are accepted.
 *
 * Incremental use: the caller appends bytes read from the socket to one buffer and calls
 * http_parse() with the whole buffer each time (the same leading bytes every time). The
 * parser remembers how far it has looked, so byte-at-a-time delivery costs O(n) in all.
 * After HTTP_COMPLETE the caller answers, drops req.head_len bytes from the front of its
 * buffer (pipelined requests may follow), calls http_parser_init() and goes on.
 * After HTTP_ERROR the caller sends http_write_error(req.status) and closes.
 */
/* Layer: net/ internal: the admin listener's and the WebSocket listener's files, their tests and
 * fuzzers. */
#ifndef BATTLED_NET_HTTP_H
#define BATTLED_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* Request line plus headers plus the blank line; more is 431 (or 414, see below). The
 * caller's read buffer therefore never needs to be larger than this. */
#define HTTP_MAX_HEAD 8192
/* Header fields per request; more is 431. */
#define HTTP_MAX_HEADERS 64
/* Length of the request-target; longer is 414. */
#define HTTP_MAX_TARGET 2048
/* Longest method token accepted as "a method" (then answered 405); longer is 400. */
#define HTTP_MAX_METHOD 16

enum http_result {
    HTTP_ERROR = -1,   /* malformed or refused: send req.status, then close */
    HTTP_NEED_MORE = 0,
    HTTP_COMPLETE = 1, /* req describes a whole request head of req.head_len bytes */
};

enum http_method { HTTP_GET, HTTP_HEAD };

/* Pointers into the caller's buffer, not NUL-terminated, valid while it is unchanged. */
struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* without surrounding whitespace */
    size_t value_len;
};

struct http_request {
    enum http_method method;
    const char *path; /* starts with '/', percent-escapes left as sent */
    size_t path_len;
    const char *query; /* after '?', NULL when there is no '?' */
    size_t query_len;
    int version_minor; /* 0 or 1 (HTTP/1.x with x > 1 is treated as 1.1) */
    bool keep_alive;   /* the connection stays open after the response */
    size_t head_len;   /* bytes of the buffer this request used, blank line included */
    size_t nheaders;
    struct http_header headers[HTTP_MAX_HEADERS];
    int status;         /* on HTTP_ERROR: 400, 405, 413, 414, 431 or 505 */
    const char *reason; /* on HTTP_ERROR: a short static text for logs and the body */
};

/* Parser progress between calls; zeroed by http_parser_init(). */
typedef struct http_parser {
    size_t scan;     /* bytes already searched for the end of the current line */
    size_t line_end; /* 0 until the request line is complete, then its length + CRLF */
    size_t at;       /* start of the first header line not yet complete */
    size_t nheaders; /* header lines validated so far */
} http_parser;

/* Prepares p for a new request. */
void http_parser_init(http_parser *p);

/* Parses the request head at the start of buf[0..len). Returns HTTP_COMPLETE (req is
 * filled), HTTP_NEED_MORE (call again when more bytes arrived), or HTTP_ERROR (req->status
 * and req->reason say why). An error is reported as soon as the bytes seen prove it. */
int http_parse(http_parser *p, const char *buf, size_t len, struct http_request *req);

/* The request's first header called name (ASCII case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_request *req, const char *name);

/* The standard reason phrase of a status code ("Not Found"), or "Unknown". */
const char *http_status_text(int status);

/* Writes a response head into out: status line, Content-Type (if not NULL),
 * Content-Length, Cache-Control: no-store, Connection: close when !keep_alive, and
 * "Allow: GET, HEAD" on 405. Returns its length, or -1 when cap is too small (a head
 * never needs more than HTTP_MAX_RESPONSE_HEAD bytes with a content type under 100). */
#define HTTP_MAX_RESPONSE_HEAD 256
long http_write_head(char *out, size_t cap, int status, const char *content_type,
                     size_t body_len, bool keep_alive);

/* Writes a whole response (head, then body unless head_only, for HEAD requests: the
 * Content-Length is still that of the body). Returns its length or -1 if cap is short. */
long http_write_response(char *out, size_t cap, int status, const char *content_type,
                         const void *body, size_t body_len, bool keep_alive, bool head_only);

/* Writes a complete error response with a one-line text/plain body ("400 Bad Request:
 * reason\n", reason may be NULL) and Connection: close. Returns its length or -1. */
long http_write_error(char *out, size_t cap, int status, const char *reason);

#endif
