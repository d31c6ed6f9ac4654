/* log: the logfmt line format, quoting, level filtering, truncation, and
 * that lines from many threads never interleave. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

/* Runs fn with logging sent into a pipe and returns what it wrote
 * (small outputs only: the pipe must not fill). */
static char *capture(void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
    fn();
    log_set_fd(2);
    close(fds[1]);
    static char out[65536];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    out[n] = '\0';
    return out;
}

/* Everything after "time=... " (the timestamp varies). */
static const char *after_time(const char *line)
{
    assert_memory_equal(line, "time=", 5);
    /* time=YYYY-MM-DDTHH:MM:SS.mmmZ is 29 bytes plus a space. */
    assert_int_equal(line[28], 'Z');
    assert_int_equal(line[9], '-');
    assert_int_equal(line[15], 'T');
    assert_int_equal(line[24], '.');
    return line + 30;
}

static void emit_basic(void)
{
    log_init(LOG_LEVEL_INFO);
    log_info("battle started", "battle", LOG_U64(123), "delta", LOG_I64(-5));
}

static void test_format(void **state)
{
    char *out = capture(emit_basic);
    assert_string_equal(after_time(out),
                        "level=info thread=main msg=\"battle started\" battle=123 delta=-5\n");
}

static void emit_quoting(void)
{
    log_set_level(LOG_LEVEL_DEBUG);
    log_set_thread_name("shard-12345678901234567890");
    log_warn("x", "plain", "abc", "space", "a b", "quote", "say \"hi\"", "eq", "a=b",
             "nl", "l1\nl2\ttab\\", "ctl", "\x01", "empty", "", "null", (const char *)NULL,
             "utf8", "caf\xc3\xa9");
    log_set_thread_name("main");
}

static void test_quoting(void **state)
{
    char *out = capture(emit_quoting);
    assert_string_equal(after_time(out),
                        "level=warn thread=shard-123456789 msg=x plain=abc space=\"a b\" "
                        "quote=\"say \\\"hi\\\"\" eq=\"a=b\" nl=\"l1\\nl2\\ttab\\\\\" "
                        "ctl=\"\\x01\" empty=\"\" null=\"\" utf8=caf\xc3\xa9\n");
}

static void emit_levels(void)
{
    log_set_level(LOG_LEVEL_WARN);
    log_debug("no");
    log_info("no");
    log_warn("yes1");
    log_error("yes2");
    log_set_level(LOG_LEVEL_INFO);
}

static void test_levels(void **state)
{
    char *out = capture(emit_levels);
    assert_null(strstr(out, "msg=no"));
    assert_non_null(strstr(out, "level=warn thread=main msg=yes1\n"));
    assert_non_null(strstr(out, "level=error thread=main msg=yes2\n"));
    log_level l = LOG_LEVEL_ERROR;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_LEVEL_DEBUG);
    assert_int_equal(log_level_parse("loud", &l), -1);
    assert_int_equal(l, LOG_LEVEL_DEBUG);
    assert_string_equal(log_level_name(LOG_LEVEL_WARN), "warn");
    log_set_level(LOG_LEVEL_INFO);
    assert_true(log_enabled(LOG_LEVEL_ERROR));
    assert_false(log_enabled(LOG_LEVEL_DEBUG));
}

static char big[4000];

static void emit_long(void)
{
    log_set_level(LOG_LEVEL_INFO);
    memset(big, 'a', sizeof big - 1);
    log_info("long", "v", big, "after", "x");
    /* Escapes are never split: a value of quotes is cut between escapes. */
    memset(big, '"', sizeof big - 1);
    log_info("quotes", "v", big);
    /* Many short fields: cut at a field, still one line. */
    log_info("many", "k1", big + 3000, "k2", big + 3000, "k3", big + 3000, "k4", big + 3000);
}

static void test_truncation(void **state)
{
    char *out = capture(emit_long);
    int lines = 0;
    for (char *line = out; *line; lines++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        size_t len = (size_t)(nl - line) + 1;
        assert_true(len <= LOG_LINE_MAX);
        assert_true(len > LOG_LINE_MAX - 32); /* truncation uses the room it has */
        const char *mark = " truncated=true\n";
        assert_memory_equal(nl + 1 - strlen(mark), mark, strlen(mark));
        /* Quotes balance: count unescaped quotes. */
        int q = 0;
        for (char *p = line; p < nl; p++) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                q++;
        }
        assert_int_equal(q % 2, 0);
        assert_null(memmem(line, len, "after=", 6));
        line = nl + 1;
    }
    assert_int_equal(lines, 3);
}

#define N_THREADS 8
#define N_LINES 3000

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[16];
    snprintf(name, sizeof name, "w%d", id);
    log_set_thread_name(name);
    char pad[700];
    for (int i = 0; i < N_LINES; i++) {
        /* Varying lengths, some near the line limit. */
        size_t n = (size_t)((i * 37 + id * 101) % (int)(sizeof pad - 1));
        memset(pad, 'a' + id, n);
        pad[n] = '\0';
        log_info("tick", "seq", LOG_I64(i), "pad", pad, "end", "ok");
    }
    return NULL;
}

static void test_concurrent_lines_intact(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_set_level(LOG_LEVEL_INFO);
    log_set_fd(fds[1]);
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);

    int next[N_THREADS] = {0};
    static char buf[1 << 16];
    size_t have = 0;
    int total = 0;
    while (total < N_THREADS * N_LINES) {
        ssize_t r = read(fds[0], buf + have, sizeof buf - have);
        assert_true(r > 0);
        have += (size_t)r;
        char *start = buf;
        char *nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - buf))) != NULL) {
            *nl = '\0';
            int id = -1, seq = -1, off = 0;
            const char *body = strstr(start, " thread=w");
            assert_non_null(body);
            assert_int_equal(sscanf(body, " thread=w%d msg=tick seq=%d pad=%n", &id, &seq, &off),
                             2);
            assert_true(id >= 0 && id < N_THREADS);
            assert_int_equal(seq, next[id]);
            next[id]++;
            const char *p = body + off;
            size_t n = (size_t)((seq * 37 + id * 101) % 699);
            if (n == 0) {
                assert_memory_equal(p, "\"\"", 2);
                p += 2;
            } else {
                for (size_t k = 0; k < n; k++)
                    assert_int_equal(p[k], 'a' + id);
                p += n;
            }
            assert_string_equal(p, " end=ok");
            total++;
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    log_set_fd(2);
    close(fds[1]);
    close(fds[0]);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(next[i], N_LINES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_concurrent_lines_intact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
