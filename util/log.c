/* log: logfmt lines built on the stack and written with one write(2). */
#include "util/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Room kept at the end of every line for the truncation marker and newline,
 * so a cut line is still well-formed logfmt. */
#define TRUNC_MARK " truncated=true\n"
#define TRUNC_RESERVE (sizeof(TRUNC_MARK) - 1 + 1 /* closing quote */)

static atomic_int g_level = LOG_LEVEL_INFO;
static atomic_int g_fd = 2;
static _Thread_local char t_name[LOG_THREAD_NAME_MAX] = "main";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(log_level level)
{
    log_set_level(level);
}

void log_set_level(log_level level)
{
    if ((int)level < LOG_LEVEL_ERROR)
        level = LOG_LEVEL_ERROR;
    if (level > LOG_LEVEL_DEBUG)
        level = LOG_LEVEL_DEBUG;
    atomic_store(&g_level, (int)level);
}

bool log_enabled(log_level level)
{
    return (int)level <= atomic_load_explicit(&g_level, memory_order_relaxed);
}

void log_set_fd(int fd)
{
    atomic_store(&g_fd, fd);
}

void log_set_thread_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n >= sizeof t_name)
        n = sizeof t_name - 1;
    memcpy(t_name, name ? name : "", n);
    t_name[n] = '\0';
}

const char *log_level_name(log_level level)
{
    if ((int)level < 0 || level > LOG_LEVEL_DEBUG)
        return "unknown";
    return level_names[level];
}

int log_level_parse(const char *s, log_level *out)
{
    for (int i = 0; i <= LOG_LEVEL_DEBUG; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_fmt_i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}

const char *log_fmt_u64(char *buf, uint64_t v)
{
    snprintf(buf, 24, "%llu", (unsigned long long)v);
    return buf;
}

/* A line under construction. lim is where content must stop so the
 * truncation marker always fits. */
typedef struct {
    char buf[LOG_LINE_MAX];
    size_t len;
    size_t lim;
    bool truncated;
} line;

static bool put_raw(line *l, const char *s, size_t n)
{
    if (l->truncated)
        return false;
    if (n > l->lim - l->len) {
        n = l->lim - l->len;
        /* Don't leave half a UTF-8 sequence behind. */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        memcpy(l->buf + l->len, s, n);
        l->len += n;
        l->truncated = true;
        return false;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

/* All-or-nothing append, for escape sequences that must not be split. */
static bool put_whole(line *l, const char *s, size_t n)
{
    if (l->truncated || n > l->lim - l->len) {
        l->truncated = true;
        return false;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

static bool needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7F)
            return true;
    return false;
}

static void put_value(line *l, const char *v)
{
    if (!v)
        v = "";
    if (!needs_quotes(v)) {
        put_raw(l, v, strlen(v));
        return;
    }
    if (!put_raw(l, "\"", 1))
        return;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[5];
        const char *out = (const char *)p;
        size_t n = 1;
        switch (*p) {
        case '"': out = "\\\""; n = 2; break;
        case '\\': out = "\\\\"; n = 2; break;
        case '\n': out = "\\n"; n = 2; break;
        case '\r': out = "\\r"; n = 2; break;
        case '\t': out = "\\t"; n = 2; break;
        default:
            if (*p < 0x20 || *p == 0x7F) {
                snprintf(esc, sizeof esc, "\\x%02x", *p);
                out = esc;
                n = 4;
            } else {
                /* Copy a run of plain bytes at once. */
                const unsigned char *q = p;
                while (q[1] && q[1] >= 0x20 && q[1] != 0x7F && q[1] != '"' && q[1] != '\\')
                    q++;
                n = (size_t)(q - p) + 1;
                if (!put_raw(l, (const char *)p, n))
                    goto closed;
                p = q;
                continue;
            }
        }
        if (!put_whole(l, out, n))
            goto closed;
    }
closed:
    /* The closing quote fits even when truncated: TRUNC_RESERVE keeps a byte. */
    l->buf[l->len++] = '"';
}

static void put_field(line *l, const char *key, const char *value)
{
    if (!put_raw(l, " ", 1) || !put_raw(l, key, strlen(key)) || !put_raw(l, "=", 1))
        return;
    put_value(l, value);
}

static void log_emitv(log_level level, const char *msg, va_list ap)
{
    if (!log_enabled(level))
        return;
    line l;
    l.len = 0;
    l.lim = sizeof l.buf - TRUNC_RESERVE;
    l.truncated = false;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char head[64];
    int n = snprintf(head, sizeof head, "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000L, log_level_name(level));
    put_raw(&l, head, (size_t)n);
    put_field(&l, "thread", t_name);
    put_field(&l, "msg", msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        put_field(&l, k, v);
        if (l.truncated)
            break;
    }
    if (l.truncated) {
        memcpy(l.buf + l.len, TRUNC_MARK, sizeof(TRUNC_MARK) - 1);
        l.len += sizeof(TRUNC_MARK) - 1;
    } else {
        l.buf[l.len++] = '\n';
    }

    int fd = atomic_load_explicit(&g_fd, memory_order_relaxed);
    const char *p = l.buf;
    size_t left = l.len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* Nowhere to report a logging failure; drop the line. */
        p += w;
        left -= (size_t)w;
    }
}

void log_emit(log_level level, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    log_emitv(level, msg, ap);
    va_end(ap);
}
