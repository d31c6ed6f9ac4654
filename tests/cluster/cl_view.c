/* cl_view: see cl_view.h. */
#include "tests/cluster/cl_view.h"

#include <string.h>
#include <unistd.h>

#include "tests/integration/itest.h"

bool cl_wait_formed(const uint16_t *ports, int n, int want, int timeout_ms)
{
    uint64_t end = itest_now_ms() + (uint64_t)timeout_ms;
    for (int i = 0; i < n; i++) {
        if (!ports[i])
            continue;
        for (;;) {
            char page[8192];
            if (itest_now_ms() > end)
                return false;
            int got = 0;
            if (itest_http_get(ports[i], "/cluster", page, sizeof page) == 200) {
                for (char *p = page; (p = strstr(p, "\"incarnation\":")); p++)
                    got++;
                got--; /* the page's own "incarnation" before the list */
            }
            if (got == want && !strstr(page, "\"player\":\"127.0.0.1:0\""))
                break;
            usleep(50 * 1000);
        }
    }
    return true;
}
