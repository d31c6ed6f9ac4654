/* Integration: the connection cap against the open-file limit (net/fdlimit.h), on the real battled
 * binary started with a low RLIMIT_NOFILE (as `prlimit --nofile=N battled` would). The server must
 * lower server.max_connections to fit, say so once in its log with both numbers, refuse idle
 * connections past the cap visibly (server_busy, counted on /metrics) and keep /healthz and
 * /metrics answering while the game listener is full. Run with --shards 1 and --shards 4. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/fdlimit.h"
#include "tests/integration/itest.h"

#define CAP 40          /* game connections the lowered limit leaves room for */
#define OVER 50         /* connections past the whole open-file limit */
#define RESP_MAX 65536

static int tcp_open(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* GET path over a fresh connection; returns the status (-1 when no answer) and the whole reply. */
static int http_get(uint16_t port, const char *path, char *out, size_t cap)
{
    int fd = tcp_open(port);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = recv(fd, out + len, cap - 1 - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || len + (size_t)r >= cap - 1)
            break;
        len += (size_t)r;
    }
    out[len] = '\0';
    close(fd);
    return strncmp(out, "HTTP/1.1 ", 9) == 0 ? atoi(out + 9) : -1;
}

/* The value of the sample line that starts with `series` (name and labels), or -1. */
static double sample(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = page; (p = strstr(p, series)) != NULL; p += n)
        if ((p == page || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static bool log_has(const itest_server *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void test_cap_fits_the_open_file_limit(void **state)
{
    (void)state;
    unsigned nofile = (unsigned)FDLIMIT_RESERVE(itest_shards()) + CAP;
    char admin_file[128], set_file[160];
    snprintf(admin_file, sizeof admin_file, "/tmp/battled-it-fdlimit-%d.port", (int)getpid());
    unlink(admin_file);
    snprintf(set_file, sizeof set_file, "admin.port_file=%s", admin_file);
    const char *sets[] = {"admin.listen=127.0.0.1:0", set_file, "server.max_connections=100000", NULL};
    itest_server srv;
    itest_set_nofile(nofile);
    bool up = itest_start(&srv, sets);
    itest_set_nofile(0);
    if (!up)
        fail_msg("battled did not start with RLIMIT_NOFILE=%u", nofile);
    unsigned admin = 0;
    FILE *f = fopen(admin_file, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%u", &admin), 1);
    fclose(f);
    unlink(admin_file);

    /* One warning, naming the configured cap, the lowered one and the limit. */
    char want[64];
    assert_true(log_has(&srv, "server.max_connections lowered to fit the open-file limit"));
    snprintf(want, sizeof want, "lowered_to=%d", CAP);
    assert_true(log_has(&srv, want));
    snprintf(want, sizeof want, "open_file_limit=%u", nofile);
    assert_true(log_has(&srv, want));
    assert_true(log_has(&srv, "max_connections=100000"));

    /* Idle connections (no hello) up to the cap, then past the open-file limit itself: without the
     * lowered cap the kernel would refuse them (EMFILE) and the admin listener with them. */
    const int N = (int)nofile + OVER;
    int *fds = calloc((size_t)N, sizeof *fds);
    assert_non_null(fds);
    for (int i = 0; i < N; i++)
        fds[i] = tcp_open(srv.plain_port);
    static char page[RESP_MAX];
    double current = -1, refused = -1;
    uint64_t until = itest_now_ms() + 10000;
    while (itest_now_ms() < until) {
        assert_int_equal(http_get((uint16_t)admin, "/metrics", page, sizeof page), 200);
        current = sample(page, "battled_connections_current");
        refused = sample(page, "battled_connections_refused_total");
        if (current == CAP && refused >= N - CAP)
            break;
        usleep(20000);
    }
    if (!(current == CAP && refused == N - CAP)) {
        itest_dump_log(&srv);
        fail_msg("at the cap: %g connections open (want %d), %g refused (want %d)", current, CAP,
                 refused, N - CAP);
    }
    /* The admin listener answers while the game listener is full. */
    assert_int_equal(http_get((uint16_t)admin, "/healthz", page, sizeof page), 200);
    assert_int_equal(http_get((uint16_t)admin, "/metrics", page, sizeof page), 200);
    assert_true(sample(page, "battled_connections_max") == CAP);
    assert_true(sample(page, "battled_open_files_limit") == nofile);
    assert_true(sample(page, "battled_accept_failures_total{listener=\"game\",errno=\"EMFILE\"}") == 0);
    assert_true(sample(page, "battled_accept_failures_total{listener=\"admin\",errno=\"EMFILE\"}") == 0);
    /* A connection past the cap learns why (server_busy) before the close, unless it came in a
     * flood past the refusal headroom: the last one opened is closed either way. */
    uint8_t b[256];
    ssize_t r;
    while ((r = recv(fds[N - 1], b, sizeof b, 0)) > 0)
        ;
    assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
    /* A game client still gets in once a place frees up. */
    for (int i = 0; i < N; i++)
        close(fds[i]);
    free(fds);
    until = itest_now_ms() + 10000;
    while (itest_now_ms() < until) {
        assert_int_equal(http_get((uint16_t)admin, "/metrics", page, sizeof page), 200);
        if (sample(page, "battled_connections_current") == 0)
            break;
        usleep(20000);
    }
    pc_conn *c = itest_client(&srv, "after");
    pc_close(c);
    assert_int_equal(itest_finish(&srv, 10000), 0);
}

int main(int argc, char **argv)
{
    itest_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_fits_the_open_file_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
