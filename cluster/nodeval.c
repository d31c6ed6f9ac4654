/* nodeval: see nodeval.h. */
#include "cluster/nodeval.h"

#include <string.h>

#include "cluster/increc.h"

bool nodeval_token_ok(const char *s, size_t n)
{
    if (n == 0 || n > CLUSTER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == ':' || ch == '-' || ch == '_' || ch == '[' || ch == ']';
        if (!ok)
            return false;
    }
    return true;
}

/* An optional address field: "-" is none. */
static bool take_addr(const char *f, size_t fl, char *out)
{
    if (!nodeval_token_ok(f, fl))
        return false;
    bool none = fl == 1 && f[0] == '-';
    memcpy(out, f, none ? 0 : fl);
    out[none ? 0 : fl] = '\0';
    return true;
}

bool nodeval_parse(const char *v, size_t len, node_entry *e)
{
    const char *f[10];
    size_t fl[10];
    const char *p = v, *end = v + len;
    for (int i = 0; i < 10; i++) {
        const char *bar = i < 9 ? memchr(p, '|', (size_t)(end - p)) : end;
        if (!bar)
            return false;
        f[i] = p;
        fl[i] = (size_t)(bar - p);
        p = bar + 1;
    }
    uint64_t t, b, inc;
    if (!nodeval_token_ok(f[0], fl[0]) || !nodeval_token_ok(f[1], fl[1]) || !nodeval_token_ok(f[2], fl[2]) ||
        !inc_rec_dec(f[3], fl[3], &t) || !inc_rec_dec(f[4], fl[4], &b) ||
        !nodeval_token_ok(f[5], fl[5]) || fl[5] >= sizeof e->state || !inc_rec_dec(f[6], fl[6], &inc) ||
        inc == 0 || inc > CLUSTER_INC_MAX || !take_addr(f[7], fl[7], e->ws) ||
        !take_addr(f[8], fl[8], e->tls) || !take_addr(f[9], fl[9], e->wss))
        return false;
    e->inc = (unsigned)inc;
    e->battles = b;
    memcpy(e->state, f[5], fl[5]);
    e->state[fl[5]] = '\0';
    memcpy(e->name, f[0], fl[0]);
    e->name[fl[0]] = '\0';
    memcpy(e->player, f[1], fl[1]);
    e->player[fl[1]] = '\0';
    memcpy(e->admin, f[2], fl[2]);
    e->admin[fl[2]] = '\0';
    e->started_ms = t;
    return true;
}
