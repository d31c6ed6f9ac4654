/* fdlimit: see fdlimit.h. */
#include "net/fdlimit.h"

#include <errno.h>
#include <sys/resource.h>
#include <uv.h>

#include "net/admin.h"
#include "util/log.h"

_Static_assert(FDLIMIT_ADMIN_CONNS >= 2 * ADMIN_MAX_CONNS,
               "the reserve must hold every admin connection the admin listener keeps open");

static const char *const listener_names[FDLIMIT_LISTENER_COUNT] = {"game", "admin"};
static const char *const errno_names[FDLIMIT_E_COUNT] = {"EMFILE", "ENFILE", "ENOBUFS",
                                                        "ECONNABORTED", "other"};

int64_t fdlimit_cap_for(uint64_t nofile, uint64_t reserve, int64_t wanted)
{
    if (nofile == UINT64_MAX)
        return wanted;
    if (nofile <= reserve || nofile - reserve < FDLIMIT_MIN_CONNS)
        return -1;
    uint64_t room = nofile - reserve;
    return wanted > 0 && (uint64_t)wanted <= room ? wanted : (int64_t)room;
}

int64_t fdlimit_apply(fdlimit *f, int64_t wanted, unsigned nshards)
{
    f->wanted = wanted;
    f->reserve = FDLIMIT_RESERVE(nshards);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        /* Nothing to compare with: keep the setting (accept failures are still counted). */
        log_warn("cannot read the open-file limit: server.max_connections kept", "error",
                 uv_strerror(uv_translate_sys_error(errno)));
        f->nofile = UINT64_MAX;
        f->cap = wanted;
        return wanted;
    }
    uint64_t before = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        /* The soft limit is only a default: a server that holds many sockets takes all it may. */
        struct rlimit raised = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
        else
            log_warn("cannot raise the open-file soft limit to the hard one", "soft", LOG_U64(before),
                     "hard", LOG_U64(rl.rlim_max), "error", uv_strerror(uv_translate_sys_error(errno)));
    }
    f->nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    f->cap = fdlimit_cap_for(f->nofile, f->reserve, wanted);
    if (f->cap < 0) {
        log_error("the open-file limit is too low to run: raise it (ulimit -n, or LimitNOFILE= in "
                  "the systemd unit)",
                  "open_file_limit", LOG_U64(f->nofile), "reserved", LOG_U64(f->reserve), "needed",
                  LOG_U64(f->reserve + FDLIMIT_MIN_CONNS));
        return -1;
    }
    if (f->cap < wanted)
        log_warn("server.max_connections lowered to fit the open-file limit; raise the limit "
                 "(ulimit -n, LimitNOFILE= in the systemd unit, nofile in "
                 "/etc/security/limits.conf) to allow more",
                 "max_connections", LOG_I64(wanted), "lowered_to", LOG_I64(f->cap), "open_file_limit",
                 LOG_U64(f->nofile), "reserved", LOG_U64(f->reserve));
    return f->cap;
}

static fdlimit_errno classify(int status)
{
    switch (status) {
    case UV_EMFILE: return FDLIMIT_E_EMFILE;
    case UV_ENFILE: return FDLIMIT_E_ENFILE;
    case UV_ENOBUFS: case UV_ENOMEM: return FDLIMIT_E_ENOBUFS;
    case UV_ECONNABORTED: return FDLIMIT_E_ECONNABORTED;
    default: return FDLIMIT_E_OTHER;
    }
}

void fdlimit_accept_failed(fdlimit *f, fdlimit_listener l, int status, uint64_t now_ms)
{
    atomic_fetch_add_explicit(&f->accept_failures[l][classify(status)], 1, memory_order_relaxed);
    /* A flood of failures must not become a flood of log lines: one line per period, saying how
     * many were not logged. */
    if (f->logged_once[l] && now_ms - f->log_last_ms[l] < FDLIMIT_LOG_MS) {
        f->log_suppressed[l]++;
        return;
    }
    log_warn("accept failed", "listener", listener_names[l], "error", uv_strerror(status),
             "suppressed_since_last", LOG_U64(f->log_suppressed[l]), "open_file_limit",
             LOG_U64(f->nofile), "max_connections", LOG_I64(f->cap));
    f->logged_once[l] = true;
    f->log_last_ms[l] = now_ms;
    f->log_suppressed[l] = 0;
}

void fdlimit_metrics(const fdlimit *f, prom_out *o)
{
    prom_gauge(o, "battled_open_files_limit",
               "The open-file limit (RLIMIT_NOFILE) after raising the soft limit; -1 = unlimited.",
               f->nofile == UINT64_MAX ? -1.0 : (double)f->nofile);
    prom_gauge(o, "battled_open_files_reserved",
               "Descriptors kept for the admin listener, journals, listeners and refusals.",
               (double)f->reserve);
    prom_gauge(o, "battled_connections_max",
               "The game connection cap in force (server.max_connections, lowered to fit the limit).",
               (double)f->cap);
    prom_family(o, "battled_accept_failures_total", "accept() failures, by listener and errno.",
                "counter");
    for (int l = 0; l < FDLIMIT_LISTENER_COUNT; l++)
        for (int e = 0; e < FDLIMIT_E_COUNT; e++) {
            prom_label lab[2] = {{"listener", listener_names[l]}, {"errno", errno_names[e]}};
            prom_sample_u64(o, "battled_accept_failures_total", lab, 2,
                            atomic_load_explicit(&f->accept_failures[l][e], memory_order_relaxed));
        }
}
