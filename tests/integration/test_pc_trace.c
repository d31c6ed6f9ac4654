/* pc_set_trace (proto/client/pc.h), which proto_capture relies on to show the wire: over a
 * socketpair, every request pc_send writes and every frame pc_recv reads is reported once, whole
 * and byte-exact, in order, including frames pc_recv skips (unknown types) or refuses; pc_send_raw
 * is not traced; clearing the hook stops the reports; tracing changes nothing pc_recv returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/client/pc.h"
#include "proto/codec.h"

#define MAX_SEEN 8

typedef struct {
    int n;
    pc_trace_dir dir[MAX_SEEN];
    size_t len[MAX_SEEN];
    uint8_t bytes[MAX_SEEN][512];
} seen_t;

static void record(void *ud, pc_trace_dir dir, const uint8_t *body, size_t len)
{
    seen_t *s = ud;
    assert_true(s->n < MAX_SEEN);
    assert_true(len <= sizeof s->bytes[0]);
    s->dir[s->n] = dir;
    s->len[s->n] = len;
    memcpy(s->bytes[s->n], body, len);
    s->n++;
}

/* Reads exactly n bytes from fd (the fake server's end). */
static void read_n(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

static void test_trace_both_ways(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pc_conn *c = pc_from_fd(sv[0], 0);
    assert_non_null(c);
    seen_t s = {0};
    pc_set_trace(c, record, &s);

    /* A request: traced as its body, exactly the bytes after the length prefix on the wire. */
    assert_int_equal(pc_ping(c, 42), 1);
    uint8_t wire[256];
    read_n(sv[1], wire, 4);
    size_t blen = (size_t)wire[0] << 24 | (size_t)wire[1] << 16 | (size_t)wire[2] << 8 | wire[3];
    read_n(sv[1], wire + 4, blen);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.dir[0], PC_TRACE_SENT);
    assert_int_equal(s.len[0], blen);
    assert_memory_equal(s.bytes[0], wire + 4, blen);

    /* Raw bytes are not frames: not traced. */
    static const uint8_t raw[] = {0, 0, 0, 1, 0xc0};
    assert_int_equal(pc_send_raw(c, raw, sizeof raw), 0);
    read_n(sv[1], wire, sizeof raw);
    assert_int_equal(s.n, 1);

    /* From the server: an unknown event type (skipped by pc_recv, still traced), then a pong. */
    static const uint8_t future[] = {0, 0, 0, 10, 0x81, 0xa1, 't', 0xa6, 'f', 'u', 't', 'u', 'r', 'e'};
    proto_event e = {.type = PROTO_T_PONG, .has_rid = true, .rid = 1};
    e.u.pong.ts = 42;
    uint8_t out[256];
    size_t olen;
    assert_int_equal(proto_encode_event(out, sizeof out, &e, &olen), PROTO_E_OK);
    assert_int_equal(write(sv[1], future, sizeof future), (ssize_t)sizeof future);
    assert_int_equal(write(sv[1], out, olen), (ssize_t)olen);
    proto_event ev;
    assert_int_equal(pc_recv(c, &ev, 2000), 1);
    assert_int_equal(ev.type, PROTO_T_PONG); /* tracing changes nothing pc_recv returns */
    assert_int_equal(ev.u.pong.ts, 42);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.dir[1], PC_TRACE_RECV);
    assert_int_equal(s.len[1], sizeof future - 4);
    assert_memory_equal(s.bytes[1], future + 4, sizeof future - 4);
    assert_int_equal(s.dir[2], PC_TRACE_RECV);
    assert_int_equal(s.len[2], olen - 4);
    assert_memory_equal(s.bytes[2], out + 4, olen - 4);

    /* A frame that is not a valid event is traced before pc_recv refuses it. */
    static const uint8_t bad[] = {0, 0, 0, 1, 0xc0}; /* nil, not a map */
    assert_int_equal(write(sv[1], bad, sizeof bad), (ssize_t)sizeof bad);
    assert_int_equal(pc_recv(c, &ev, 2000), -1);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.dir[3], PC_TRACE_RECV);
    assert_int_equal(s.len[3], 1);
    assert_int_equal(s.bytes[3][0], 0xc0);

    pc_close(c);
    close(sv[1]);
}

static void test_trace_cleared(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pc_conn *c = pc_from_fd(sv[0], 0);
    assert_non_null(c);
    seen_t s = {0};
    pc_set_trace(c, record, &s);
    pc_set_trace(c, NULL, NULL);
    assert_int_equal(pc_ping(c, 7), 1);
    proto_event e = {.type = PROTO_T_PONG};
    uint8_t out[256];
    size_t olen;
    assert_int_equal(proto_encode_event(out, sizeof out, &e, &olen), PROTO_E_OK);
    assert_int_equal(write(sv[1], out, olen), (ssize_t)olen);
    proto_event ev;
    assert_int_equal(pc_recv(c, &ev, 2000), 1);
    assert_int_equal(s.n, 0);
    pc_close(c);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_both_ways),
        cmocka_unit_test(test_trace_cleared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
