/* itest: integration-test helpers; see itest.h. */
#include "tests/integration/itest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "proto/codec.h"

static const char *g_bin = "battled";
static unsigned g_nofile; /* itest_set_nofile */

void itest_set_nofile(unsigned n)
{
    g_nofile = n;
}
static int g_shards = 1;
static bool g_tls;
static bool g_ws;
/* TLS mode: one self-signed certificate for "localhost" per test run, written into each server's
 * directory; clients trust exactly it. */
static char g_cert_pem[4096];
static char g_key_pem[2048];

/* Makes the run's certificate (ECDSA P-256: a key in a few milliseconds) with mbedTLS. */
static void make_cert(void)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    int r = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0);
    if (r == 0)
        r = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (r == 0)
        r = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    if (r == 0)
        r = mbedtls_mpi_lset(&serial, 1);
    if (r == 0)
        r = mbedtls_x509write_crt_set_subject_name(&crt, "CN=localhost");
    if (r == 0)
        r = mbedtls_x509write_crt_set_issuer_name(&crt, "CN=localhost");
    if (r == 0)
        r = mbedtls_x509write_crt_set_serial(&crt, &serial);
    if (r == 0)
        r = mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20991231235959");
    if (r == 0)
        r = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0);
    if (r == 0)
        r = mbedtls_x509write_crt_pem(&crt, (unsigned char *)g_cert_pem, sizeof g_cert_pem,
                                      mbedtls_ctr_drbg_random, &drbg);
    if (r == 0)
        r = mbedtls_pk_write_key_pem(&key, (unsigned char *)g_key_pem, sizeof g_key_pem);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    if (r != 0) {
        fprintf(stderr, "itest: cannot make the TLS certificate (mbedTLS -0x%04x)\n", (unsigned)-r);
        exit(1);
    }
}

const char *itest_take_option(int *argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < *argc; i++)
        if (strcmp(argv[i], name) == 0) {
            const char *v = argv[i + 1];
            for (int j = i; j + 2 <= *argc; j++)
                argv[j] = argv[j + 2];
            *argc -= 2;
            return v;
        }
    return NULL;
}

void itest_init(int argc, char **argv)
{
    const char *skip = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--shards") == 0 && i + 1 < argc)
            g_shards = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tls") == 0)
            g_tls = true;
        else if (strcmp(argv[i], "--ws") == 0)
            g_ws = true;
        else if (strcmp(argv[i], "--skip") == 0 && i + 1 < argc)
            skip = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else
            g_bin = argv[i];
    }
    if (g_shards < 1)
        g_shards = 1;
    if (skip)
        cmocka_set_skip_filter(skip);
    if (only)
        cmocka_set_test_filter(only);
    if (g_tls)
        make_cert();
    /* A server that dies mid-write must not kill the test with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
}

int itest_shards(void)
{
    return g_shards;
}

bool itest_tls(void)
{
    return g_tls;
}

bool itest_ws(void)
{
    return g_ws;
}

const char *itest_tls_ca_pem(void)
{
    return g_cert_pem;
}

static bool write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return false;
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len;
    return close(fd) == 0 && ok;
}

uint64_t itest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void itest_child_dies_with(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(124);
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void itest_dump_log(const itest_server *s)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return;
    fprintf(stderr, "---- battled log (%s) ----\n", s->log);
    char line[1200];
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fprintf(stderr, "---- end of log ----\n");
    fclose(f);
}

static bool reap(itest_server *s, int wait_ms)
{
    uint64_t end = itest_now_ms() + (uint64_t)wait_ms;
    for (;;) {
        if (s->exited)
            return true;
        pid_t r = waitpid(s->pid, &s->status, WNOHANG);
        if (r == s->pid) {
            s->exited = 1;
            return true;
        }
        if (itest_now_ms() >= end)
            return false;
        nap_ms(5);
    }
}

bool itest_start(itest_server *s, const char *const *sets)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/battled-it-XXXXXX");
    if (!mkdtemp(s->dir)) {
        perror("mkdtemp");
        return false;
    }
    snprintf(s->log, sizeof s->log, "%s/battled.log", s->dir);
    char set_pdir[240];
    snprintf(set_pdir, sizeof set_pdir, "persistence.dir=%s/journal", s->dir);
    char port_file[200], set_port[240], set_shards[64], cert[200], key[200], set_cert[240], set_key[240];
    snprintf(port_file, sizeof port_file, "%s/port", s->dir);
    snprintf(set_port, sizeof set_port, "server.port_file=%s", port_file);
    snprintf(set_shards, sizeof set_shards, "server.shards=%d", g_shards);
    snprintf(cert, sizeof cert, "%s/cert.pem", s->dir);
    snprintf(key, sizeof key, "%s/key.pem", s->dir);
    snprintf(set_cert, sizeof set_cert, "tls.cert=%s", cert);
    snprintf(set_key, sizeof set_key, "tls.key=%s", key);
    if (g_tls && (!write_file(cert, g_cert_pem, 0644) || !write_file(key, g_key_pem, 0600))) {
        perror("itest: writing the TLS certificate");
        return false;
    }

    char ws_port_file[200], set_ws_port[240];
    snprintf(ws_port_file, sizeof ws_port_file, "%s/wsport", s->dir);
    snprintf(set_ws_port, sizeof set_ws_port, "ws.port_file=%s", ws_port_file);
    const char *argv[8 + 2 * (ITEST_MAX_SETS + 24)];
    int n = 0;
    argv[n++] = g_bin;
    argv[n++] = "-c";
    argv[n++] = "config.toml";
    const char *std_sets[] = {
        "server.listen=127.0.0.1:0", set_port, set_shards, "admin.listen=", "ws.listen=",
        "ratelimit.actions_per_sec=0", "log.level=debug", "server.drain_timeout_ms=500",
        /* Every test client comes from 127.0.0.1; the per-address caps have their own tests. */
        "server.max_conns_per_addr=0", "server.max_handshakes_per_addr=0", set_pdir, NULL,
    };
    for (int i = 0; std_sets[i]; i++) {
        argv[n++] = "--set";
        argv[n++] = std_sets[i];
    }
    const char *tls_sets[] = {"tls.listen=127.0.0.1:0", set_cert, set_key, NULL};
    for (int i = 0; g_tls && tls_sets[i]; i++) {
        argv[n++] = "--set";
        argv[n++] = tls_sets[i];
    }
    const char *ws_sets[] = {g_tls ? "ws.tls_listen=127.0.0.1:0" : "ws.listen=127.0.0.1:0",
                             set_ws_port, NULL};
    for (int i = 0; g_ws && ws_sets[i]; i++) {
        argv[n++] = "--set";
        argv[n++] = ws_sets[i];
    }
    for (int i = 0; sets && sets[i] && i < ITEST_MAX_SETS; i++) {
        argv[n++] = "--set";
        argv[n++] = sets[i];
    }
    argv[n] = NULL;

    pid_t parent = getpid();
    s->pid = fork();
    if (s->pid < 0) {
        perror("fork");
        return false;
    }
    if (s->pid == 0) {
        itest_child_dies_with(parent);
        const char *src = getenv("BATTLED_SOURCE_DIR");
        if (src && chdir(src) != 0)
            _exit(126);
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (g_nofile) {
            struct rlimit rl = {g_nofile, g_nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(125);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }

    uint64_t end = itest_now_ms() + ITEST_START_MS;
    while (itest_now_ms() < end) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            unsigned port = 0, tls_port = 0;
            int ok = fscanf(f, "%u %u", &port, &tls_port);
            fclose(f);
            /* The file appears whole (renamed into place); the TLS port is its second line. */
            if (ok >= 1 && port > 0 && port < 65536) {
                s->plain_port = (uint16_t)port;
                s->tls_port = ok == 2 && tls_port < 65536 ? (uint16_t)tls_port : 0;
                if (g_tls && !s->tls_port) {
                    fprintf(stderr, "battled's port file has no TLS port\n");
                    itest_dump_log(s);
                    return false;
                }
                s->port = g_tls ? s->tls_port : s->plain_port;
                if (g_ws) {
                    /* Written before the game port file, so it is there now. */
                    unsigned wp = 0, wsp = 0;
                    FILE *wf = fopen(ws_port_file, "r");
                    int wok = wf ? fscanf(wf, "%u %u", &wp, &wsp) : 0;
                    if (wf)
                        fclose(wf);
                    s->ws_port = wok >= 1 ? (uint16_t)wp : 0;
                    s->wss_port = wok == 2 ? (uint16_t)wsp : 0;
                    s->port = g_tls ? s->wss_port : s->ws_port;
                    if (!s->port) {
                        fprintf(stderr, "battled's ws port file has no port\n");
                        itest_dump_log(s);
                        return false;
                    }
                }
                return true;
            }
        }
        if (reap(s, 0)) {
            fprintf(stderr, "battled exited early (status %d)\n", s->status);
            itest_dump_log(s);
            return false;
        }
        nap_ms(5);
    }
    fprintf(stderr, "battled did not write its port file in time\n");
    itest_dump_log(s);
    return false;
}

int itest_stop(itest_server *s, int sig, int wait_ms)
{
    if (!s->exited)
        kill(s->pid, sig);
    if (!reap(s, wait_ms)) {
        kill(s->pid, SIGKILL);
        reap(s, 5000);
        return -1;
    }
    if (WIFEXITED(s->status))
        return WEXITSTATUS(s->status);
    return -2;
}

int itest_finish(itest_server *s, int wait_ms)
{
    int rc = itest_stop(s, SIGTERM, wait_ms);
    if (rc != 0)
        itest_dump_log(s);
    itest_cleanup(s);
    return rc;
}

bool itest_file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

void itest_rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

void itest_cleanup(itest_server *s)
{
    if (s->pid > 0 && !s->exited) {
        kill(s->pid, SIGKILL);
        reap(s, 5000);
    }
    if (getenv("ITEST_KEEP")) { /* debugging: keep the directory and the server's log */
        fprintf(stderr, "itest: kept %s\n", s->dir);
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/port", s->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/port.tmp", s->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/cert.pem", s->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/key.pem", s->dir);
    unlink(path);
    unlink(s->log);
    snprintf(path, sizeof path, "%s/journal", s->dir);
    itest_rm_dir(path);
    rmdir(s->dir);
}

pc_conn *itest_connect(const itest_server *s)
{
    pc_conn *c;
    if (g_tls) {
        pc_tls_opts o = {.ca_pem = g_cert_pem, .server_name = "localhost"};
        c = pc_connect_tls("127.0.0.1", s->port, ITEST_WAIT_MS, 0, &o);
        if (!c)
            fail_msg("cannot connect with TLS to 127.0.0.1:%u: %s (%s)", s->port, strerror(errno),
                     pc_tls_error());
    } else {
        c = pc_connect("127.0.0.1", s->port, ITEST_WAIT_MS, 0);
        if (!c)
            fail_msg("cannot connect to 127.0.0.1:%u: %s", s->port, strerror(errno));
    }
    if (g_ws) {
        char host[32];
        snprintf(host, sizeof host, "127.0.0.1:%u", s->port);
        int st = pc_ws_upgrade(c, host, "/ws", NULL, ITEST_WAIT_MS);
        if (st != 101)
            fail_msg("WebSocket upgrade on 127.0.0.1:%u: %d (%s)", s->port, st, strerror(errno));
    }
    return c;
}

pc_conn *itest_client(const itest_server *s, const char *name)
{
    pc_conn *c = itest_connect(s);
    assert_true(pc_hello(c, name) > 0);
    proto_event ev;
    itest_expect(c, PROTO_T_WELCOME, &ev);
    assert_int_equal(ev.u.welcome.version, PROTO_VERSION);
    return c;
}

void itest_send_frame(pc_conn *c, const void *body, uint32_t len)
{
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    assert_int_equal(pc_send_raw(c, hdr, 4), 0);
    if (len)
        assert_int_equal(pc_send_raw(c, body, len), 0);
}

void itest_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void itest_expect_at(pc_conn *c, int type, proto_event *ev, const char *file, int line)
{
    int r = pc_recv_type(c, type, ev, ITEST_WAIT_MS);
    if (r != 1)
        fail_msg("%s:%d: waiting for \"%s\": %s", file, line, proto_type_name(type),
                 r == 0 ? "timed out" : "connection closed");
    if (ev->type == PROTO_T_ERROR && type != PROTO_T_ERROR)
        fail_msg("%s:%d: waiting for \"%s\": got error %s (%s)", file, line, proto_type_name(type),
                 proto_error_name(ev->u.error.code), ev->u.error.msg);
}

void itest_next_at(pc_conn *c, proto_event *ev, const char *file, int line)
{
    int r = pc_recv(c, ev, ITEST_WAIT_MS);
    if (r != 1)
        fail_msg("%s:%d: waiting for any event: %s", file, line,
                 r == 0 ? "timed out" : "connection closed");
}

void itest_expect_error_at(pc_conn *c, proto_error code, proto_event *ev, const char *file, int line)
{
    itest_expect_at(c, PROTO_T_ERROR, ev, file, line);
    if (ev->u.error.code != code)
        fail_msg("%s:%d: expected error %s, got %s (%s)", file, line, proto_error_name(code),
                 proto_error_name(ev->u.error.code), ev->u.error.msg);
}

void itest_expect_silence(pc_conn *c, int ms)
{
    proto_event ev;
    int r = pc_recv(c, &ev, ms);
    if (r == 1)
        fail_msg("expected silence, got \"%s\"", proto_type_name(ev.type));
    if (r < 0)
        fail_msg("expected silence, but the connection closed");
}

bool itest_wait_closed(pc_conn *c, int ms)
{
    uint64_t end = itest_now_ms() + (uint64_t)ms;
    while (itest_now_ms() < end) {
        proto_event ev;
        int r = pc_recv(c, &ev, (int)(end - itest_now_ms()) + 1);
        if (r < 0)
            return true;
    }
    return false;
}

void itest_player_init(itest_player *p, pc_conn *c)
{
    memset(p, 0, sizeof *p);
    p->c = c;
    pct_init(&p->t);
}

void itest_take_started(itest_player *p, const proto_event *ev)
{
    assert_int_equal(ev->type, PROTO_T_STARTED);
    p->t.bid = ev->bid; /* the tracker takes the rest (seat, token, ships) from the event */
    assert_true(itest_track(p, ev));
}

void itest_private_pair(const itest_server *s, itest_player *a, itest_player *b, proto_band band)
{
    proto_event ev;
    itest_player_init(a, itest_client(s, "host"));
    itest_player_init(b, itest_client(s, "guest"));
    assert_true(pc_create(a->c, "scout", band, PROTO_VS_PLAYER, "") > 0);
    itest_expect(a->c, PROTO_T_CREATED, &ev);
    assert_true(pc_join(b->c, ev.bid, "free_trader") > 0);
    itest_expect(b->c, PROTO_T_STARTED, &ev);
    itest_take_started(b, &ev);
    itest_expect(a->c, PROTO_T_STARTED, &ev);
    itest_take_started(a, &ev);
}

bool itest_track(itest_player *p, const proto_event *ev)
{
    if (ev->type == PROTO_T_ERROR) {
        if (ev->bid == p->t.bid || ev->bid == 0)
            fail_msg("seat %d of battle %llu: error %s (%s)", p->t.seat, (unsigned long long)p->t.bid,
                     proto_error_name(ev->u.error.code), ev->u.error.msg);
        return false;
    }
    if (!proto_type_battle_scoped(ev->type) || ev->bid != p->t.bid)
        return false;
    if (ev->seq) {
        if (p->nseq >= ITEST_MAX_EVENTS)
            fail_msg("too many events");
        p->seqs[p->nseq] = ev->seq;
        p->types[p->nseq] = ev->type;
        p->nseq++;
    }
    pct_apply(&p->t, ev);
    /* A turn action this round already taken shows in a state's `acted`. */
    if (ev->type == PROTO_T_STATE && p->t.seat >= 0 && (ev->u.state.acted >> p->t.seat) & 1)
        p->fired_round = p->t.round;
    return true;
}

void itest_until_at(itest_player *p, int type, proto_event *ev, const char *file, int line)
{
    for (;;) {
        itest_next_at(p->c, ev, file, line);
        if (itest_track(p, ev) && ev->type == type)
            return;
    }
}

void itest_act(itest_player *p)
{
    if (!p || p->t.ended || p->t.seat < 0 || p->t.active != p->t.seat || p->t.round == 0 ||
        p->fired_round == p->t.round)
        return;
    p->fired_round = p->t.round;
    p->actions++;
    assert_true(pc_fire(p->c, p->t.bid, 0) > 0);
}

void itest_play(itest_player *a, itest_player *b, int deadline_ms)
{
    uint64_t end = itest_now_ms() + (uint64_t)deadline_ms;
    itest_player *ps[2] = {a, b};
    itest_act(a);
    itest_act(b);
    while ((a && !a->t.ended) || (b && !b->t.ended)) {
        if (itest_now_ms() >= end)
            fail_msg("battle %llu did not end within %d ms",
                     (unsigned long long)(a ? a->t.bid : b->t.bid), deadline_ms);
        for (int i = 0; i < 2; i++) {
            itest_player *p = ps[i];
            if (!p || p->t.ended)
                continue;
            proto_event ev;
            int r = pc_recv(p->c, &ev, 2);
            if (r < 0)
                fail_msg("seat %d: connection closed mid-battle", p->t.seat);
            if (r == 1) {
                itest_track(p, &ev);
                itest_act(p);
            }
        }
    }
}

/* Encodes n fire requests for battle bid with request ids 1..n into one malloc'd buffer. */
uint8_t *itest_encode_fires(uint32_t n, uint64_t bid, size_t *total)
{
    uint8_t *buf = malloc((size_t)n * 32);
    assert_non_null(buf);
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        proto_request r;
        memset(&r, 0, sizeof r);
        r.type = PROTO_T_FIRE;
        r.has_rid = true;
        r.rid = i + 1;
        r.bid = bid;
        size_t len = 0;
        assert_int_equal(proto_encode_request(buf + off, 32, &r, &len), PROTO_E_OK);
        off += len;
    }
    *total = off;
    return buf;
}

/* ---- the admin listener -------------------------------------------------------------------- */

uint16_t itest_admin_port(const char *port_file)
{
    unsigned p = 0;
    FILE *f = fopen(port_file, "r");
    if (f) {
        if (fscanf(f, "%u", &p) != 1 || p >= 65536)
            p = 0;
        fclose(f);
    }
    return (uint16_t)p;
}

int itest_http_get(uint16_t port, const char *path, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || cap < 16)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = ITEST_WAIT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[300];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = recv(fd, out + len, cap - 1 - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || (len += (size_t)r) == cap - 1)
            break;
    }
    close(fd);
    out[len] = 0;
    int status = -1;
    return sscanf(out, "HTTP/1.%*d %d", &status) == 1 ? status : -1;
}

double itest_metric(const char *page, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = page; (p = strstr(p, name)); p += n)
        if ((p == page || p[-1] == '\n') && (p[n] == ' ' || p[n] == '{')) {
            const char *v = strchr(p + n, ' ');
            return v ? strtod(v + 1, NULL) : -1;
        }
    return -1;
}

int itest_listen_loopback(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

bool itest_read_frames(int fd, frame_reader *fr, itest_frame_fn fn, void *arg)
{
    uint8_t buf[16384];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got <= 0)
        return false;
    const uint8_t *q = buf;
    size_t left = (size_t)got;
    while (left > 0) {
        size_t used;
        const uint8_t *body;
        uint32_t blen;
        proto_error err;
        frame_status st = frame_reader_feed(fr, q, left, &used, &body, &blen, &err);
        q += used;
        left -= used;
        if (st == FRAME_ERROR)
            return false;
        if (st != FRAME_READY)
            break;
        fn(arg, body, blen);
    }
    return true;
}
