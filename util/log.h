/* log: one logfmt line per event, safe from any thread.
 *
 *   time=2026-11-28T04:10:10.123Z level=info thread=shard-0 msg="battle started" battle=123
 *
 * Each line is formatted into a stack buffer of LOG_LINE_MAX bytes and emitted
 * with a single write(2), so concurrent lines never interleave (for a pipe this
 * holds because LOG_LINE_MAX <= PIPE_BUF). A line that would be longer is cut at
 * a field boundary or inside a value and ends with "truncated=true". Values
 * containing spaces, '=', quotes, control characters or nothing at all are
 * quoted and escaped (\" \\ \n \r \t, \xHH for other control bytes).
 *
 * Call style: log_info(msg, key1, value1, key2, value2, ...); values are
 * strings; wrap numbers with LOG_I64(x) / LOG_U64(x), which format into a
 * temporary that lives until the end of the statement:
 *
 *   log_info("battle started", "battle", LOG_U64(id), "ships", LOG_I64(n));
 *
 * The level and output fd are process-wide (atomics); the thread name is
 * thread-local. Nothing allocates. */
/* Layer: util/ API. */
#ifndef BATTLED_UTIL_LOG_H
#define BATTLED_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#define LOG_LINE_MAX 1024       /* bytes per line, newline included */
#define LOG_THREAD_NAME_MAX 16  /* thread name bytes kept, NUL included */

typedef enum {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
} log_level;

/* Sets the threshold: lines less severe than level are dropped. Output goes
 * to stderr unless log_set_fd chose another fd. */
void log_init(log_level level);
void log_set_level(log_level level);
/* True when a line at this level would be written (to skip costly formatting). */
bool log_enabled(log_level level);
/* Sends lines to fd instead of stderr (the caller keeps ownership of fd). */
void log_set_fd(int fd);
/* Names the calling thread in its lines ("net", "shard-3"); copied, cut to
 * LOG_THREAD_NAME_MAX-1 bytes. Threads that never call this log as "main". */
void log_set_thread_name(const char *name);

/* "error" | "warn" | "info" | "debug". */
const char *log_level_name(log_level level);
/* Parses a level name; returns 0, or -1 (and leaves *out alone) if unknown. */
int log_level_parse(const char *s, log_level *out);

/* Writes one line: msg, then (key, value) string pairs up to a NULL key.
 * A NULL value is written as an empty quoted string. Use the macros below,
 * which append the terminating NULL. */
void log_emit(log_level level, const char *msg, ...);

/* Formats into a caller buffer; for numeric values. Returns buf. */
const char *log_fmt_i64(char *buf, int64_t v);
const char *log_fmt_u64(char *buf, uint64_t v);
#define LOG_I64(v) log_fmt_i64((char[24]){0}, (int64_t)(v))
#define LOG_U64(v) log_fmt_u64((char[24]){0}, (uint64_t)(v))

#define log_error(...) log_emit(LOG_LEVEL_ERROR, __VA_ARGS__, (const char *)0)
#define log_warn(...) log_emit(LOG_LEVEL_WARN, __VA_ARGS__, (const char *)0)
#define log_info(...) log_emit(LOG_LEVEL_INFO, __VA_ARGS__, (const char *)0)
#define log_debug(...) log_emit(LOG_LEVEL_DEBUG, __VA_ARGS__, (const char *)0)

#endif
