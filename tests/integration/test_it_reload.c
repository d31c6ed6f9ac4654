/* Integration: SIGHUP reloads what can be reloaded without a restart (issue 12).
 *
 * log.file: after the file is moved away (as logrotate does), SIGHUP makes the server write to a new
 * file of that name and says so there. TLS: SIGHUP reads tls.cert/tls.key again; a connection made
 * before the reload keeps working on the context it started with, new connections use the new one;
 * a bad new pair (garbage PEM) is refused with a log line and the running one stays, so clients
 * can still connect. Always in TLS mode (itest's certificate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/itest.h"

#define RELOAD_WAIT_MS 5000

/* Polls up to RELOAD_WAIT_MS for needle in path. */
static bool wait_file_has(const char *path, const char *needle)
{
    uint64_t end = itest_now_ms() + RELOAD_WAIT_MS;
    while (itest_now_ms() < end) {
        if (itest_file_has(path, needle))
            return true;
        usleep(10000);
    }
    return false;
}

static void ping_ok(pc_conn *c)
{
    proto_event ev;
    assert_true(pc_ping(c, 7) > 0);
    itest_expect(c, PROTO_T_PONG, &ev);
}

static void test_sighup_reopens_log_and_reloads_tls(void **state)
{
    (void)state;
    char dir[64], logf[128], moved[140], set_log[160];
    snprintf(dir, sizeof dir, "/tmp/battled-reload-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(logf, sizeof logf, "%s/battled.log", dir);
    snprintf(moved, sizeof moved, "%s/battled.log.1", dir);
    snprintf(set_log, sizeof set_log, "log.file=%s", logf);
    const char *sets[] = {set_log, "log.level=info", NULL};
    itest_server s;
    assert_true(itest_start(&s, sets));
    assert_true(wait_file_has(logf, "msg=listening"));

    /* logrotate: move the file, then SIGHUP */
    assert_int_equal(rename(logf, moved), 0);
    pc_conn *before = itest_client(&s, "before"); /* made on the first TLS context */
    kill(s.pid, SIGHUP);
    assert_true(wait_file_has(logf, "reload: log file reopened"));
    assert_true(wait_file_has(logf, "reload: TLS certificate reloaded"));
    assert_true(itest_file_has(moved, "SIGHUP: reloading"));
    ping_ok(before);
    pc_conn *after = itest_client(&s, "after");
    ping_ok(after);

    /* a bad new pair: refused, logged, the old one stays */
    char cert[200], saved[220];
    snprintf(cert, sizeof cert, "%s/cert.pem", s.dir);
    snprintf(saved, sizeof saved, "%s/cert.pem.good", s.dir);
    assert_int_equal(rename(cert, saved), 0);
    FILE *f = fopen(cert, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    kill(s.pid, SIGHUP);
    assert_true(wait_file_has(logf, "new TLS certificate refused, the old one stays in use"));
    pc_conn *still = itest_client(&s, "still"); /* handshake on the old certificate */
    ping_ok(still);
    ping_ok(before);
    assert_int_equal(rename(saved, cert), 0);

    pc_close(before);
    pc_close(after);
    pc_close(still);
    assert_false(s.exited);
    assert_int_equal(itest_finish(&s, 10000), 0);
    unlink(logf);
    unlink(moved);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    char *rest[16];
    int n = 0;
    for (int i = 0; i < argc && n < 14; i++)
        rest[n++] = argv[i];
    rest[n++] = (char *)"--tls";
    rest[n] = NULL;
    itest_init(n, rest);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sighup_reopens_log_and_reloads_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
