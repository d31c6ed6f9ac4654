/* promtool: runs the Prometheus project's own parser over text a test produced, for the metrics
 * tests (unit test_metrics on util/metrics' writer, integration test_it_admin on a live /metrics).
 * Include after <cmocka.h>. */
#ifndef BATTLED_TESTS_TEST_PROMTOOL_H
#define BATTLED_TESTS_TEST_PROMTOOL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Finds promtool on PATH into path; returns false when it is not installed. */
static inline bool find_promtool(char *path, size_t cap)
{
    const char *env = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", env ? env : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, cap, "%s/promtool", d);
        if (access(path, X_OK) == 0)
            return true;
    }
    return false;
}

/* "promtool check metrics" (parse and lint) on len bytes of text; returns its exit status (-1 if it
 * did not exit), its output in err (cap bytes, NUL-terminated). */
static inline int promtool_check(const char *promtool, const char *text, size_t len, char *err,
                                 size_t cap)
{
    char tmpl[] = "/tmp/battled-test-metrics-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[1024]; /* a promtool path (callers hold 512 bytes) and the temporary file name */
    snprintf(cmd, sizeof cmd, "'%s' check metrics < '%s' 2>&1", promtool, tmpl);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(err, 1, cap - 1, p);
    err[n] = 0;
    int st = pclose(p);
    unlink(tmpl);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
