/* hostport: see hostport.h. */
#include "util/hostport.h"

#include <string.h>

int hostport_split(const char *s, char *host, size_t hostcap, int *port)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || colon == s || (size_t)(colon - s) >= hostcap)
        return -1;
    const char *p = colon + 1;
    size_t n = strlen(p);
    if (n == 0 || n > 5)
        return -1;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (int)v;
    return 0;
}
