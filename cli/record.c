/* cli/record: the seat's resume record kept current and the hint to take the seat back (see
 * app.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/app.h"

void rec_save(app *a)
{
    cli_view *v = &a->v;
    if (!a->resume_path || !v->dirty)
        return;
    v->dirty = false;
    if (v->role != CLI_ROLE_SEAT || !v->b.bid)
        return;
    if (v->phase == CLI_PH_ENDED) {
        if (cli_resume_remove(a->resume_path) != 0)
            fprintf(stdout, "warning: cannot remove %s: %s\n", a->resume_path, strerror(errno));
        return;
    }
    cli_resume r;
    memset(&r, 0, sizeof r);
    snprintf(r.host, sizeof r.host, "%s", a->host);
    r.port = a->port;
    r.bid = v->b.bid;
    r.seat = v->b.seat;
    memcpy(r.token, v->b.token, PROTO_TOKEN_LEN);
    /* While a quiet replay runs, what the person saw is quiet_upto, not what was applied. */
    r.last = v->b.last_seq > v->quiet_upto ? v->b.last_seq : v->quiet_upto;
    if (cli_resume_save(a->resume_path, &r) != 0)
        fprintf(stdout, "warning: cannot write %s: %s\n", a->resume_path, strerror(errno));
}

void rec_hint(const app *a)
{
    const cli_view *v = &a->v;
    if (!cli_view_seated(v))
        return;
    char hex[2 * PROTO_TOKEN_LEN + 1];
    cli_token_hex(v->b.token, hex);
    fprintf(stdout, "Battle %llu goes on without you for %u s. To take your seat back: ",
            (unsigned long long)v->b.bid, (unsigned)(v->resume_ms / 1000));
    if (a->resume_path)
        fprintf(stdout, "battle-cli --resume-file %s\n", a->resume_path);
    else
        fprintf(stdout, "battle-cli --host %s --port %u, then: resume %llu %u %s %lu\n", a->host,
                (unsigned)a->port, (unsigned long long)v->b.bid, v->b.seat, hex, (unsigned long)v->b.last_seq);
}
