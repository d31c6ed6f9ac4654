/* hostport: splitting "host:port" for the clients battled makes (Redis today); listeners parse
 * their own into socket addresses (net/). */
/* Layer: util/ API. */
#ifndef BATTLED_UTIL_HOSTPORT_H
#define BATTLED_UTIL_HOSTPORT_H

#include <stddef.h>

/* Splits s at its last ':' into host (a NUL-terminated copy in hostcap bytes; not empty) and port
 * (1..65535, decimal digits only). Returns 0, or -1 when s is NULL, has no ':', an empty or too
 * long host, or a bad port. */
int hostport_split(const char *s, char *host, size_t hostcap, int *port);

#endif
